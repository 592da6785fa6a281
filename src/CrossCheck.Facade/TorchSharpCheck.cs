using System;
using System.Globalization;
using System.Linq;
using Microsoft.FSharp.Core;
using Core = Functional.Core;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Functional.CrossCheck;

/// <summary>What <see cref="TorchSharpCheck.Compare(Func{Tensor[], Tensor}, Func{TorchTensor[], TorchTensor}, Tensor[])"/>
/// found: Functional's value and gradients against TorchSharp's.</summary>
/// <param name="Passed">Every element of the value and of every gradient is within tolerance.</param>
/// <param name="WorstOutput">Where the largest excess over tolerance is: "value" or "gradient of input k".</param>
/// <param name="WorstIndex">The element there (row-major).</param>
/// <param name="Functional">Functional's element there.</param>
/// <param name="TorchSharp">TorchSharp's element there.</param>
/// <param name="MaxAbsoluteError">The largest |Functional − TorchSharp| over all elements compared; NaN where one
/// engine gave NaN and the other a number (two NaNs, or two equal infinities, agree).</param>
/// <param name="Checked">How many elements were compared (the value's and every gradient's).</param>
public sealed record TorchSharpComparison(bool Passed, string WorstOutput, int WorstIndex, double Functional, double TorchSharp, double MaxAbsoluteError, int Checked)
{
    /// <summary>One line, culture-invariant: the verdict, the count, and the worst element with both engines' values.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(Passed ? "passed" : "FAILED")}: {Checked} elements of the value and gradients compared, max |Δ| {MaxAbsoluteError:G3}; worst: {WorstOutput}, element {WorstIndex}: Functional {Functional:R}, TorchSharp {TorchSharp:R}");
}

/// <summary>
/// The TorchSharp mode of <see cref="GradientCheck"/>: the same function written with Functional and with
/// TorchSharp, value and gradients compared element by element under TorchSharp's float64 autograd
/// (<see cref="Compare(Func{Tensor[], Tensor}, Func{TorchTensor[], TorchTensor}, Tensor[])"/>), or a function written
/// once and replayed op by op (<c>Verify</c>).
/// </summary>
public static partial class TorchSharpCheck
{
    /// <summary>Compares with |Functional − TorchSharp| ≤ 1e-12 + 1e-10·|TorchSharp|. A non-scalar result's gradients
    /// are those of ⟨f(x), w⟩ for a fixed pseudo-random w.</summary>
    /// <param name="ours">The function written with Functional.</param>
    /// <param name="theirs">The same function written with TorchSharp (inputs are float64 leaves).</param>
    /// <param name="inputs">Where to evaluate.</param>
    /// <returns>The comparison, naming the worst output and element.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="ours"/>, <paramref name="theirs"/>,
    /// <paramref name="inputs"/> or an element of <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="ours"/> or <paramref name="theirs"/> returns null.</exception>
    /// <exception cref="ShapeException">The two functions' results differ in shape.</exception>
    public static TorchSharpComparison Compare(Func<Tensor[], Tensor> ours, Func<TorchTensor[], TorchTensor> theirs, params Tensor[] inputs) =>
        Compare(ours, theirs, 1e-10, 1e-12, inputs);

    /// <summary>Compares with |Functional − TorchSharp| ≤ absoluteTolerance + relativeTolerance·|TorchSharp|; equal
    /// values (infinities among them) and NaN against NaN agree. A non-scalar result is compared through a fixed
    /// projection (weights of magnitude 0.5 to 1.5); a one-element result's gradients are taken times −½ (divided out in
    /// the report), so a rule that ignores its output gradient differs.</summary>
    /// <param name="ours">The function written with Functional.</param>
    /// <param name="theirs">The same function written with TorchSharp.</param>
    /// <param name="relativeTolerance">rtol ≥ 0.</param>
    /// <param name="absoluteTolerance">atol ≥ 0.</param>
    /// <param name="inputs">Where to evaluate.</param>
    /// <returns>The comparison, naming the worst output and element.</returns>
    /// <exception cref="ShapeException">The two functions' results differ in shape.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="ours"/>, <paramref name="theirs"/>,
    /// <paramref name="inputs"/> or an element of <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="relativeTolerance"/> or
    /// <paramref name="absoluteTolerance"/> is negative or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="ours"/> or <paramref name="theirs"/> returns null.</exception>
    public static TorchSharpComparison Compare(Func<Tensor[], Tensor> ours, Func<TorchTensor[], TorchTensor> theirs, double relativeTolerance, double absoluteTolerance, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(ours);
        ArgumentNullException.ThrowIfNull(theirs);
        if (!(relativeTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(relativeTolerance), relativeTolerance.ToString("R", CultureInfo.InvariantCulture), "A tolerance must be ≥ 0.");
        if (!(absoluteTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(absoluteTolerance), absoluteTolerance.ToString("R", CultureInfo.InvariantCulture), "A tolerance must be ≥ 0.");
        var xs = Interop.Values(inputs, nameof(inputs));
        var y = ours(Interop.Tensors(xs)) ?? throw new ArgumentException("The Functional function returned null.", nameof(ours));
        // GradCheck's projection: weights of magnitude 0.5 to 1.5 and random sign, or −½ for one element (so that a
        // rule ignoring its output gradient differs), divided out again in the report.
        var w = new Tensor(Core.ValueModule.constant(Core.GradCheck.projection(y.Value)));
        double unprojection = Core.GradCheck.unprojection(w.Value.Tensor);
        var grads = Autodiff.Grad(ts => (ours(ts) * w).Sum(), Interop.Tensors(xs));
        // Their result's shape is checked before TorchSharp differentiates it against ours.
        TorchTensor Theirs(TorchTensor[] ts)
        {
            var t = theirs(ts) ?? throw new ArgumentException("The TorchSharp function returned null.", nameof(theirs));
            if (!t.shape.AsSpan().SequenceEqual(Array.ConvertAll(y.Shape.ToArray(), d => (long)d)))
                throw new ShapeException($"Compare: Functional's result has shape {y.Shape}; TorchSharp's has shape [{string.Join(", ", t.shape)}].", nameof(theirs));
            return t;
        }
        var r = Torch.valueAndGrad(FuncConvert.FromFunc<TorchTensor[], TorchTensor>(Theirs), Array.ConvertAll(xs, v => v.Tensor),
            FSharpOption<Core.Tensor>.Some(w.Value.Tensor));
        var theirValue = r.Output.ToArray();
        bool passed = true;
        string worstOutput = "value";
        int worstIndex = 0, count = 0;
        double worstExcess = double.NegativeInfinity, worstOurs = double.NaN, worstTheirs = double.NaN, maxAbs = 0;
        void Take(string output, double[] a, double[] b)
        {
            for (int e = 0; e < a.Length; e++, count++)
            {
                double d = Math.Abs(a[e] - b[e]);
                // An infinity agrees only with itself: the bound atol + rtol·∞ would admit any value.
                bool ok = (double.IsNaN(a[e]) && double.IsNaN(b[e])) || a[e] == b[e]
                          || (double.IsFinite(a[e]) && double.IsFinite(b[e]) && d <= absoluteTolerance + relativeTolerance * Math.Abs(b[e]));
                // Agreeing NaNs have no excess: a NaN there would never be beaten, and the report would name it.
                double excess = ok ? (double.IsNaN(d) ? double.NegativeInfinity : d - (absoluteTolerance + relativeTolerance * Math.Abs(b[e])))
                                   : double.IsNaN(d) || !double.IsFinite(b[e]) ? double.PositiveInfinity : d;
                if (!ok) passed = false;
                // A NaN against a number makes the maximum NaN (Math.Max keeps a NaN); equal elements add nothing (∞ − ∞ is NaN).
                if (!(double.IsNaN(a[e]) && double.IsNaN(b[e])) && a[e] != b[e]) maxAbs = Math.Max(maxAbs, d);
                if (excess > worstExcess || double.IsNaN(worstOurs) && count == 0)
                    (worstExcess, worstOutput, worstIndex, worstOurs, worstTheirs) = (excess, output, e, a[e], b[e]);
            }
        }
        Take("value", y.ToArray(), theirValue);
        double[] Reported(double[] g) => Array.ConvertAll(g, v => unprojection * v);
        for (int k = 0; k < grads.Length; k++) Take($"gradient of input {k}", Reported(grads[k].ToArray()), Reported(r.Gradients[k].ToArray()));
        return new TorchSharpComparison(passed, worstOutput, worstIndex, worstOurs, worstTheirs, maxAbs, count);
    }
}
