using System;
using System.Globalization;
using Core = Functional.Core;

namespace Functional;

/// <summary>What a gradient check found.</summary>
/// <param name="Passed">Every element within atol + rtol·|numeric|.</param>
/// <param name="MaxAbsoluteError">Largest |analytic − numeric|.</param>
/// <param name="MaxRelativeError">Largest |analytic − numeric| / |numeric|.</param>
/// <param name="WorstInput">The input holding the worst element (the first element checked when every element agrees
/// exactly; −1 when no element was checked).</param>
/// <param name="WorstIndex">The worst element's row-major index in that input.</param>
/// <param name="Analytic">The derived gradient there.</param>
/// <param name="Numeric">The central difference there.</param>
/// <param name="Checked">Elements checked.</param>
public sealed record GradientCheckReport(bool Passed, double MaxAbsoluteError, double MaxRelativeError, int WorstInput, int WorstIndex, double Analytic, double Numeric, int Checked)
{
    /// <summary>One line: verdict, errors and the worst element.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Checked == 0 ? $"{(Passed ? "passed" : "FAILED")}: no elements to check" : string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{(Passed ? "passed" : "FAILED")}: max |Δ| {MaxAbsoluteError:G3}, max rel {MaxRelativeError:G3} over {Checked} elements; worst at input {WorstInput} element {WorstIndex} (analytic {Analytic:R}, numeric {Numeric:R})");
}

/// <summary>
/// Central-difference gradient checks (as torch's gradcheck) for use in any test framework:
/// xunit, NUnit, FsCheck, Hedgehog. A function with a non-scalar result is checked through a fixed projection (weights
/// of magnitude 0.5 to 1.5); one with a single element is differentiated times −½ (divided out in the report), so a
/// custom rule that ignores its output gradient fails. A finite difference that is not finite fails, and so does a NaN gradient, even against a
/// NaN difference: check such points with <c>TorchSharpCheck.Compare</c>, where NaN agrees with NaN.
/// </summary>
public static class GradientCheck
{
    /// <summary>Checks with torch's float64 tolerances, atol 1e-5 and rtol 1e-3, and a step of 1e-6 relative to each
    /// element (1e-6·max(1, |x|); torch's eps of 1e-6 is absolute, so at |x| = 1000 the steps differ). The absolute
    /// tolerance cannot tell gradients much smaller than 1e-5 apart: for such a function pass a smaller atol, or
    /// scale it up. Pass a non-scalar function whole (not its sum): it is checked through a pseudo-random
    /// projection, so every element's adjoint differs.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="inputs">Where to evaluate, one tensor per input.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an element of
    /// <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    /// <exception cref="ShapeException">An operation in <paramref name="f"/> does not fit the shapes of
    /// <paramref name="inputs"/>.</exception>
    public static GradientCheckReport Run(Func<Tensor[], Tensor> f, params Tensor[] inputs) => Run(f, 1e-6, 1e-5, 1e-3, inputs);

    /// <summary>Checks with the given step and tolerances.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="step">The central-difference step, relative: each element x is moved by ±step·max(1, |x|).</param>
    /// <param name="absoluteTolerance">atol ≥ 0.</param>
    /// <param name="relativeTolerance">rtol ≥ 0.</param>
    /// <param name="inputs">Where to evaluate, one tensor per input.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The step is not positive and finite, or a tolerance is negative or NaN.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an element of
    /// <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    /// <exception cref="ShapeException">An operation in <paramref name="f"/> does not fit the shapes of
    /// <paramref name="inputs"/>.</exception>
    public static GradientCheckReport Run(Func<Tensor[], Tensor> f, double step, double absoluteTolerance, double relativeTolerance, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (!(step > 0 && double.IsFinite(step))) throw new ArgumentOutOfRangeException(nameof(step), step.ToString("R", CultureInfo.InvariantCulture), "The step must be positive and finite.");
        if (!(absoluteTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(absoluteTolerance), absoluteTolerance.ToString("R", CultureInfo.InvariantCulture), "The tolerance must be zero or positive.");
        if (!(relativeTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(relativeTolerance), relativeTolerance.ToString("R", CultureInfo.InvariantCulture), "The tolerance must be zero or positive.");
        var xs = Array.ConvertAll(Interop.Values(inputs, nameof(inputs)), v => v.Tensor);
        var r = Core.GradCheck.runWith(step, absoluteTolerance, relativeTolerance, Interop.LiftMany(f), xs);
        return new GradientCheckReport(r.Passed, r.MaxAbsoluteError, r.MaxRelativeError, r.WorstInput, r.WorstIndex, r.Analytic, r.Numeric, r.Checked);
    }
}
