using System;
using System.Globalization;
using static System.FormattableString;
using System.Linq;
using Microsoft.FSharp.Core;
using Core = Functional.Core;

namespace Functional.Testing;

/// <summary>What a rule check found.</summary>
/// <param name="Passed">Every check held.</param>
/// <param name="FailedCheck">The first check that failed: "JVP", "VJP", "adjoint identity", "second order", "Hessian
/// symmetry" or "JVP second order" (from <see cref="RuleCheck"/>), or one of <see cref="EinsumCheck"/>'s;
/// null when all passed.</param>
/// <param name="Details">Which input and element, actual against expected, and the tolerance; or, on success, what
/// was checked.</param>
public sealed record RuleCheckReport(bool Passed, string? FailedCheck, string Details)
{
    /// <summary>One line: the verdict and the details.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Passed ? "passed: " + Details : $"FAILED {FailedCheck}: {Details}";
}

/// <summary>How <see cref="RuleCheck"/> compares. The defaults follow torch.autograd.gradcheck in float64.</summary>
public sealed record RuleCheckOptions
{
    /// <summary>Central-difference step relative to each element's own scale (max(1, |x|)); default 1e-6.</summary>
    public double RelativeStep { get; init; } = 1e-6;

    /// <summary>Absolute tolerance of the finite-difference checks; default 1e-5. A rule that returns 0 passes them
    /// wherever the true derivatives are below it (as in torch's gradcheck): for a function whose derivatives are that
    /// small, lower it or scale the function up.</summary>
    public double AbsoluteTolerance { get; init; } = 1e-5;

    /// <summary>Relative tolerance of the finite-difference checks; default 1e-3.</summary>
    public double RelativeTolerance { get; init; } = 1e-3;

    /// <summary>Inputs up to this many elements are checked element by element (the full Jacobian against finite
    /// differences); larger ones at their first and last element, 16 random ones and along 3 random directions (uᵀJv),
    /// whose cost does not grow with the input. Default 64. The sampled elements follow <see cref="Seed"/> and the
    /// shapes: an error at one element outside them can hide under the random directions' tolerance, which grows
    /// with the input, so vary the seed across a property's cases (or raise this limit) to reach every element.</summary>
    public int FullJacobianLimit { get; init; } = 64;

    /// <summary>The seed of the random adjoints and directions; default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Every option, culture-invariant (the compiler's record printing uses the current culture).</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        Invariant($"RuleCheckOptions {{ RelativeStep = {RelativeStep:R}, AbsoluteTolerance = {AbsoluteTolerance:R}, RelativeTolerance = {RelativeTolerance:R}, FullJacobianLimit = {FullJacobianLimit}, Seed = {Seed} }}");
}

/// <summary>
/// Checks a differentiable op's rules, as ChainRulesTestUtils' test_rrule and test_frule do in Julia: its JVP
/// against central differences along a random direction; its VJP against central differences of a random
/// projection (element by element for small inputs; for large ones at sampled elements and along random directions, as
/// gradcheck(fast_mode=True) and JAX's check_grads do); JVP against VJP (⟨J·u, w⟩ = ⟨u, Jᵀ·w⟩); and second order:
/// the gradient of ⟨w, f⟩ + ½s⟨f, f⟩ (s = 1/max(1, |f|∞)) differentiated forward (its VJP's output gradient moves
/// with x, so a VJP rule that reads it as numbers fails), the Hessian's symmetry, and the JVP differentiated in reverse
/// (a JVP rule built from its inputs' numbers fails), each against central differences of first-order results. Works
/// for built-in ops and for <see cref="CustomOp"/>s alike.
/// </summary>
/// <example><code>
/// var op = CustomOp.Create("cube", xs => xs[0] * xs[0] * xs[0],
///     (xs, y, g, i) => g * 3 * xs[0] * xs[0], (xs, y, i, t) => t * 3 * xs[0] * xs[0]);
/// RuleCheckReport report = RuleCheck.Run(op, Tensor.Random(1, 3, 4));
/// Assert.True(report.Passed, report.ToString());
/// </code></example>
public static class RuleCheck
{
    /// <summary>Checks <paramref name="op"/> at <paramref name="inputs"/> with the default options.</summary>
    /// <param name="op">The op, as a function of its inputs.</param>
    /// <param name="inputs">Where to check it.</param>
    /// <returns>The first failed check with its details, or a pass.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="op"/>, <paramref name="inputs"/> or an element of
    /// <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="op"/> returns null.</exception>
    /// <remarks>A rule that throws is a failed check, reported, not thrown.</remarks>
    public static RuleCheckReport Run(Func<Tensor[], Tensor> op, params Tensor[] inputs) => Run(op, new RuleCheckOptions(), inputs);

    /// <summary>Checks <paramref name="op"/> at <paramref name="inputs"/>.</summary>
    /// <param name="op">The op, as a function of its inputs.</param>
    /// <param name="options">Steps, tolerances, the full-Jacobian limit and the seed.</param>
    /// <param name="inputs">Where to check it.</param>
    /// <returns>The first failed check with its details, or a pass.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="op"/>, <paramref name="options"/>,
    /// <paramref name="inputs"/> or an element of <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="op"/> returns null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range: a step that is not positive and
    /// finite, or a negative or NaN tolerance (a bad option would fail a correct rule).</exception>
    /// <remarks>A rule that throws (a result of the wrong shape, null, or an error of its own) is a failed check,
    /// reported with the exception's type and message, not thrown; out of memory, the memory limit
    /// (<see cref="MemoryLimitException"/>), cancellation and interruption are thrown as they are.</remarks>
    public static RuleCheckReport Run(Func<Tensor[], Tensor> op, RuleCheckOptions options, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.RelativeStep > 0 && double.IsFinite(options.RelativeStep)))
            throw new ArgumentOutOfRangeException(nameof(options), options.RelativeStep.ToString("R", CultureInfo.InvariantCulture), "RuleCheckOptions.RelativeStep must be positive and finite.");
        if (!(options.AbsoluteTolerance >= 0) || !(options.RelativeTolerance >= 0))
            throw new ArgumentOutOfRangeException(nameof(options), "RuleCheckOptions' tolerances must be zero or positive.");
        var xs = Interop.Values(inputs, nameof(inputs)).Select(v => v.Tensor).ToArray();
        try { return Check(op, options, xs); }
        catch (RuleThrew failed) { return failed.Report; }
    }

    /// <summary>A rule that threw, as the report of the check that called it.</summary>
    private sealed class RuleThrew(RuleCheckReport report) : Exception(report.Details)
    {
        public RuleCheckReport Report { get; } = report;
    }

    /// <summary>body's value; an exception from the rules it runs (a wrong shape, null, the rule's own error) becomes
    /// a failed <paramref name="check"/>.</summary>
    private static T Rules<T>(string check, Func<T> body)
    {
        try { return body(); }
        // Not the rules' fault, and not to be turned into a report: the machine's or the process's limits, and a
        // cancellation or interruption meant for the caller.
        catch (Exception e) when (e is not (OutOfMemoryException or MemoryLimitException or OperationCanceledException
                                              or System.Threading.ThreadInterruptedException or RuleThrew))
        {
            throw new RuleThrew(new RuleCheckReport(false, check, Invariant($"the rules threw {e.GetType().Name}: {e.Message}")));
        }
    }

    private static RuleCheckReport Check(Func<Tensor[], Tensor> op, RuleCheckOptions options, Core.Tensor[] xs)
    {
        var f = Interop.LiftMany(op);
        var rng = new Random(options.Seed);
        Core.Tensor RandomLike(Core.Tensor t) => Core.TensorModule.create(t.Shape, Enumerable.Range(0, t.Numel).Select(_ => 2 * rng.NextDouble() - 1).ToArray());
        Core.Value[] Consts(Core.Tensor[] ts) => Array.ConvertAll(ts, Core.ValueModule.constant);
        Core.Tensor Eval(Core.Tensor[] at) => f.Invoke(Consts(at)).Tensor;

        var y = Eval(xs);
        var w = RandomLike(y);
        var us = xs.Select(RandomLike).ToArray();
        // Each element's step is RelativeStep·max(1, |x|), its own scale: an element of 1e5 beside one of 5e-4 must
        // not move the small one across a domain's edge (log of −5e-4) or by 0.1 (truncation error), nor a step below
        // an element's own spacing round to nothing. Directions are scaled element by element, the step is h.
        double h = options.RelativeStep;
        var scales = xs.Select(x => Core.TensorModule.map(FuncConvert.FromFunc<double, double>(v => Math.Max(1, Math.Abs(v))), x)).ToArray();
        Core.Tensor Scaled(int i, Core.Tensor dir) => Core.TensorModule.mul(dir, scales[i]);
        // Equal values (infinities among them) agree, a NaN difference fails; `slack` widens the absolute tolerance.
        bool Close(double actual, double expected, double slack = 0) => Core.TensorModule.closeTo(options.RelativeTolerance, options.AbsoluteTolerance + slack, actual, expected);
        var absFn = FuncConvert.FromFunc<double, double>(Math.Abs);
        Core.Tensor Abs(Core.Tensor t) => Core.TensorModule.map(absFn, t);
        string Tol(double expected) => Invariant($"{options.AbsoluteTolerance + options.RelativeTolerance * Math.Abs(expected):G3} (atol {options.AbsoluteTolerance:G3} + rtol {options.RelativeTolerance:G3}·|expected|)");
        Core.Tensor[] Moved(int i, Core.Tensor dir, double by)
        {
            var moved = (Core.Tensor[])xs.Clone();
            moved[i] = Core.TensorModule.add(xs[i], Core.TensorModule.scale(by, dir));
            return moved;
        }
        // ⟨w, f(plus) − f(minus)⟩: the difference taken element by element first, so that an output the step leaves
        // alone cancels exactly instead of adding the rounding of a large ⟨w, f⟩ to every element's check.
        double ProjectedDifference(Core.Tensor[] plus, Core.Tensor[] minus) =>
            Core.TensorModule.dot(w, Core.TensorModule.difference(Eval(plus), Eval(minus)));

        // The adjoint of every input for the adjoint w, once.
        var pullback = Core.Autodiff.vjpMany(f, Consts(xs)).Item2;
        var grads = Rules("VJP", () => pullback.Invoke(Core.ValueModule.constant(w)).Select(v => v.Tensor).ToArray());

        for (int i = 0; i < xs.Length; i++)
        {
            // JVP along u_i (the other inputs still; scaled to each element's step) against the central difference of f.
            var ui = Scaled(i, us[i]);
            var tangents = xs.Select((x, k) => k == i ? ui : Core.TensorModule.zeros(x.Shape)).Select(Core.ValueModule.constant).ToArray();
            var jvp = Rules("JVP", () => Core.Autodiff.jvpMany(f, Consts(xs), tangents).Item2.Tensor);
            var fd = Core.TensorModule.scale(1 / (2 * h), Core.TensorModule.sub(Eval(Moved(i, ui, h)), Eval(Moved(i, ui, -h))));
            var (ja, jf) = (jvp.ToArray(), fd.ToArray());
            for (int e = 0; e < ja.Length; e++)
                if (!Close(ja[e], jf[e]))
                    return new RuleCheckReport(false, "JVP",
                        Invariant($"input {i}, output element {e}: the JVP along a random direction gives {ja[e]:R}, the central difference {jf[e]:R}; |Δ| {Math.Abs(ja[e] - jf[e]):G3} > {Tol(jf[e])}"));

            // VJP against central differences of ⟨w, f⟩: element by element, or along random directions.
            var g = grads[i].ToArray();
            var xi = xs[i].ToArray();
            RuleCheckReport? Coordinate(int e)
            {
                var basis = new double[g.Length];
                basis[e] = 1;
                var dir = Core.TensorModule.create(xs[i].Shape, basis);
                double he = h * Math.Max(1, Math.Abs(xi[e]));
                double expected = ProjectedDifference(Moved(i, dir, he), Moved(i, dir, -he)) / (2 * he);
                return Close(g[e], expected) ? null : new RuleCheckReport(false, "VJP",
                    Invariant($"input {i}, element {e} (value {xi[e]:R}): the VJP gives {g[e]:R}, the central difference {expected:R}; |Δ| {Math.Abs(g[e] - expected):G3} > {Tol(expected)}"));
            }
            if (xs[i].Numel <= options.FullJacobianLimit)
            {
                for (int e = 0; e < g.Length; e++)
                    if (Coordinate(e) is { } failed) return failed;
            }
            else
            {
                // Single coordinates too (the first, the last and a random sample): along a random direction an error
                // at a few elements hides under a tolerance that grows with the whole inner product.
                if (g.Length > 0)
                    foreach (int e in new[] { 0, g.Length - 1 }.Concat(Enumerable.Range(0, 16).Select(_ => rng.Next(g.Length))).Distinct())
                        if (Coordinate(e) is { } failed) return failed;
                for (int r = 0; r < 3; r++)
                {
                    var dir = Scaled(i, RandomLike(xs[i]));
                    double actual = Core.TensorModule.dot(grads[i], dir);
                    double expected = ProjectedDifference(Moved(i, dir, h), Moved(i, dir, -h)) / (2 * h);
                    if (!Close(actual, expected))
                        return new RuleCheckReport(false, "VJP",
                            Invariant($"input {i} along random direction {r}: ⟨VJP, u⟩ = {actual:R}, the central difference {expected:R}; |Δ| {Math.Abs(actual - expected):G3} > {Tol(expected)}"));
                }
            }

            // ⟨J·u, w⟩ = ⟨u, Jᵀ·w⟩: the two rules against each other, to rounding.
            double left = Core.TensorModule.dot(jvp, w), right = Core.TensorModule.dot(ui, grads[i]);
            double magnitude = Math.Abs(left) + Math.Abs(right) + Core.TensorModule.dot(Abs(jvp), Abs(w));
            // Negated: a NaN difference (∞ − ∞) fails, where NaN > tolerance is false.
            if (!(Math.Abs(left - right) <= 1e-10 * magnitude + 1e-300))
                return new RuleCheckReport(false, "adjoint identity",
                    Invariant($"input {i}: ⟨J·u, w⟩ = {left:R} but ⟨u, Jᵀ·w⟩ = {right:R} (|Δ| {Math.Abs(left - right):G3}); the JVP and the VJP disagree"));
        }

        // Second order: the gradient of ⟨w, f⟩ + ½s⟨f, f⟩ along all u at once (forward over reverse) against central
        // differences of the gradient. Its VJP's output gradient, w + s·f, moves with x, so a VJP rule that reads its
        // output gradient as numbers (a constant to every transform around it) loses s·JᵀJ·u and fails, as it does in
        // a Hessian; with ⟨w, f⟩ alone that gradient would be a constant. s = 1/max(1, |f|∞) keeps w + s·f within
        // [−2, 2], so the gradient is no larger than ⟨w, f⟩'s (e^x at 400: Jᵀf would overflow).
        double yMax = y.ToArray().Select(Math.Abs).DefaultIfEmpty(0).Max();
        double s = double.IsFinite(yMax) ? 1 / Math.Max(1, yMax) : 0;
        var gradient = FuncConvert.FromFunc<Core.Value[], Core.Value[]>(vs => Core.Autodiff.gradMany(FuncConvert.FromFunc<Core.Value[], Core.Value>(zs =>
        {
            var fz = f.Invoke(zs);
            return Core.Reduction.sum(Core.Arithmetic.mul(Core.Arithmetic.add(Core.ValueModule.constant(w), Core.Arithmetic.scale(0.5 * s, fz)), fz));
        }), vs));
        // H·d for the gradient of input i, along directions d over all inputs (forward over reverse).
        Core.Tensor HessianAlong(int input, Core.Tensor[] d) => Rules("second order", () =>
            Core.Autodiff.jvpMany(FuncConvert.FromFunc<Core.Value[], Core.Value>(vs => gradient.Invoke(vs)[input]), Consts(xs), Consts(d)).Item2.Tensor);
        // The directions scaled element by element: moved by h along ds, each element moves by at most its own step.
        var ds = us.Select((u, k) => Scaled(k, u)).ToArray();
        var hus = new Core.Tensor[xs.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            int input = i;
            var gi = FuncConvert.FromFunc<Core.Value[], Core.Value>(vs => gradient.Invoke(vs)[input]);
            hus[i] = HessianAlong(i, ds);
            var hv = hus[i].ToArray();
            Core.Tensor[] All(double by) => xs.Select((x, k) => Core.TensorModule.add(x, Core.TensorModule.scale(by, ds[k]))).ToArray();
            var plus = Rules("second order", () => gi.Invoke(Consts(All(h))).Tensor.ToArray());
            var minus = Rules("second order", () => gi.Invoke(Consts(All(-h))).Tensor.ToArray());
            for (int e = 0; e < hv.Length; e++)
            {
                double expected = (plus[e] - minus[e]) / (2 * h);
                if (!Close(hv[e], expected))
                    return new RuleCheckReport(false, "second order",
                        Invariant($"input {i}, element {e}: the gradient's JVP gives {hv[e]:R}, the central difference of the gradient {expected:R}; |Δ| {Math.Abs(hv[e] - expected):G3} > {Tol(expected)}"));
            }
        }
        // The Hessian of ⟨w, f⟩ is symmetric: ⟨v, H·u⟩ = ⟨u, H·v⟩ for random directions u and v over all inputs.
        var vs = xs.Select(RandomLike).ToArray();
        double vHu = Enumerable.Range(0, xs.Length).Sum(i => Core.TensorModule.dot(vs[i], hus[i]));
        double uHv = Enumerable.Range(0, xs.Length).Sum(i => Core.TensorModule.dot(ds[i], HessianAlong(i, vs)));
        if (!(Math.Abs(vHu - uHv) <= 1e-8 * (Math.Abs(vHu) + Math.Abs(uHv)) + 1e-12))
            return new RuleCheckReport(false, "Hessian symmetry",
                Invariant($"⟨v, H·u⟩ = {vHu:R} but ⟨u, H·v⟩ = {uHv:R} for the Hessian of ⟨w, f⟩ + ½s⟨f, f⟩ (|Δ| {Math.Abs(vHu - uHv):G3}): the second-order rules are not consistent"));

        // The JVP rule's own derivative (reverse over forward): the gradient of k(x) = ⟨w, J(x)·d⟩ along random
        // directions against central differences of k, whose JVPs were checked above. A JVP rule built from its
        // inputs' numbers passes every check above and fails here, as it would under a Hessian or a nested JVP.
        var jvpAlong = FuncConvert.FromFunc<Core.Value[], Core.Value>(zs => Core.Autodiff.jvpMany(f, zs, Consts(ds)).Item2);
        var along = FuncConvert.FromFunc<Core.Value[], Core.Value>(zs => Core.Reduction.sum(Core.Arithmetic.mul(Core.ValueModule.constant(w), jvpAlong.Invoke(zs))));
        var alongGradient = Rules("JVP second order", () => Core.Autodiff.gradMany(along, Consts(xs)).Select(v => v.Tensor).ToArray());
        // The central difference's rounding: each JVP element is computed to a few ulps of its own size, and the
        // difference over 2h magnifies that by 1/h. A JVP much larger than its own derivative (1e8·x + x³) would fail a
        // correct rule without this allowance, 8 ulps of ⟨|w|, |J·d|⟩ over h.
        var jvpHere = Rules("JVP second order", () => jvpAlong.Invoke(Consts(xs)).Tensor);
        double rounding = 8 * Math.ScaleB(1, -53) * Core.TensorModule.dot(Abs(w), Abs(jvpHere)) / h;
        for (int r = 0; r < 2; r++)
        {
            var es = xs.Select((x, k) => Scaled(k, RandomLike(x))).ToArray();
            double actual = Enumerable.Range(0, xs.Length).Sum(i => Core.TensorModule.dot(alongGradient[i], es[i]));
            Core.Tensor At(double by) => Rules("JVP second order", () =>
                jvpAlong.Invoke(Consts(xs.Select((x, k) => Core.TensorModule.add(x, Core.TensorModule.scale(by, es[k]))).ToArray())).Tensor);
            // ⟨w, J(x + he)·d − J(x − he)·d⟩: the difference element by element first, so that a large part of the JVP
            // that does not move with x cancels exactly instead of adding its rounding to the check.
            double expected = Core.TensorModule.dot(w, Core.TensorModule.difference(At(h), At(-h))) / (2 * h);
            if (!Close(actual, expected, rounding))
                return new RuleCheckReport(false, "JVP second order",
                    Invariant($"along random direction {r}: the gradient of ⟨w, J·d⟩ (reverse over forward) gives {actual:R}, the central difference of the JVPs {expected:R}; |Δ| {Math.Abs(actual - expected):G3} > {Tol(expected)} + {rounding:G3} for the difference's rounding"));
        }
        string mode = xs.All(x => x.Numel <= options.FullJacobianLimit) ? "element by element" : "at up to 18 sampled elements and along 3 random directions where an input is large";
        return new RuleCheckReport(true, null,
            Invariant($"JVP, VJP ({mode}), adjoint identity, second order, Hessian symmetry and the JVP's own derivative hold for {xs.Length} input{(xs.Length == 1 ? "" : "s")} (step {h:G3}·max(1, |x|) per element, atol {options.AbsoluteTolerance:G3}, rtol {options.RelativeTolerance:G3})"));
    }
}
