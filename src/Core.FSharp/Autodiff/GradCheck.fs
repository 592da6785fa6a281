namespace Functional.Core

open System

/// What a gradient check found.
type GradCheckReport =
    { Passed: bool
      MaxAbsoluteError: float
      MaxRelativeError: float
      /// The input and flat element index with the largest violation of atol + rtol·|numeric|.
      WorstInput: int
      WorstIndex: int
      Analytic: float
      Numeric: float
      Checked: int }
    override r.ToString() =
        if r.Checked = 0 then sprintf "%s: no elements to check" (if r.Passed then "passed" else "FAILED") else
        sprintf "%s: max |Δ| %.3g, max rel %.3g over %d elements; worst at input %d element %d (analytic %.17g, numeric %.17g)"
            (if r.Passed then "passed" else "FAILED") r.MaxAbsoluteError r.MaxRelativeError r.Checked r.WorstInput r.WorstIndex r.Analytic r.Numeric

/// Accumulates element-by-element comparisons of a gradient against a reference into a report;
/// shared by the finite-difference checker and the TorchSharp comparison.
type internal GradCheckBuilder(atol: float, rtol: float) =
    let mutable maxAbs = 0.0
    let mutable maxRel = 0.0
    let mutable ok = true
    let mutable worst = (-1, -1, nan, nan)
    let mutable worstExcess = Double.NegativeInfinity
    let mutable count = 0
    /// Element e of input k: ours against the reference.
    member _.Add(k: int, e: int, ours: float, reference: float) =
        // Equal values agree (equal infinities too, whose difference is NaN); an infinity against anything else
        // fails, as the bound atol + rtol·∞ would admit any value.
        let err = if ours = reference then 0.0 else abs (ours - reference)
        let rel = if reference = 0.0 || err = 0.0 then (if err = 0.0 then 0.0 else infinity) else err / abs reference
        let excess =
            if err = 0.0 then Double.NegativeInfinity
            elif not (Double.IsFinite ours && Double.IsFinite reference) then infinity
            else err - (atol + rtol * abs reference)
        if Double.IsNaN err || excess > 0.0 then ok <- false
        if err > maxAbs || Double.IsNaN err then maxAbs <- err
        if rel > maxRel || Double.IsNaN rel then maxRel <- rel
        // The first element is the worst so far even when it agrees exactly, so a report names a real element.
        if count = 0 || excess > worstExcess || Double.IsNaN excess then
            worstExcess <- excess
            worst <- (k, e, ours, reference)
        count <- count + 1
    /// Element e of input k against a finite difference; a difference that is not finite fails.
    member this.AddNumeric(k: int, e: int, ours: float, numeric: float) =
        this.Add(k, e, ours, numeric)
        if not (Double.IsFinite numeric) then
            ok <- false
            if worstExcess < infinity then
                worstExcess <- infinity
                worst <- (k, e, ours, numeric)
    /// Folds in a check that is not element-wise (such as the values agreeing).
    member _.Require(passed: bool, absoluteError: float) =
        if not passed then ok <- false
        if absoluteError > maxAbs || Double.IsNaN absoluteError then maxAbs <- absoluteError
    member _.Report() =
        let wk, we, wa, wn = worst
        { Passed = ok; MaxAbsoluteError = maxAbs; MaxRelativeError = maxRel; WorstInput = wk; WorstIndex = we; Analytic = wa; Numeric = wn; Checked = count }

/// Central-difference gradient checking, as torch's gradcheck, for use in any test framework.
[<RequireQualifiedAccess>]
module GradCheck =

    /// The check differentiates ⟨f(x), w⟩ with this fixed projection w. For a result of several elements: weights
    /// of magnitude 0.5 to 1.5 and random sign (normal draws come near 0, 0.007 at one of 40 elements for this seed,
    /// which would shrink an error in that output element's pullback by as much in every check). For one element:
    /// −½, so that a rule that ignores its output gradient fails (with 1 it would give the same), dividing by it
    /// again (`unprojection`) is exact, and nothing overflows that did not (−2 would past 9e307).
    let internal projection (y: Value) =
        if y.Tensor.Numel = 1 then Tensor.init y.Shape (fun _ -> -0.5)
        else
            let rng = Random(12345)
            Tensor.init y.Shape (fun _ -> let m = 0.5 + rng.NextDouble() in if rng.Next 2 = 0 then -m else m)

    /// What reported values are multiplied by: for a one-element result 1/w, so that they are f's own derivatives.
    let internal unprojection (w: Tensor) = if w.Numel = 1 then -2.0 else 1.0

    /// The scalar that is differentiated: ⟨f(x), w⟩.
    let internal projected (w: Tensor) (y: Value) = Reduction.sum (Arithmetic.mul y (Value.constant w))

    /// Checks the gradients of f at xs against central differences (x ± step per element).
    /// Passes when every |analytic − numeric| ≤ atol + rtol·|numeric|.
    let runWith (step: float) (atol: float) (rtol: float) (f: Value[] -> Value) (xs: Tensor[]) : GradCheckReport =
        if not (step > 0.0 && Double.IsFinite step) then invalidArg "step" "The step must be positive and finite."
        // A NaN tolerance would pass every comparison (NaN > 0 is false); a negative one fails correct rules.
        if not (atol >= 0.0) then invalidArg "atol" "The absolute tolerance must be zero or positive."
        if not (rtol >= 0.0) then invalidArg "rtol" "The relative tolerance must be zero or positive."
        if isNull xs then nullArg "xs"
        Functional.Arguments.noNullElements "xs" xs
        let w = projection (f (xs |> Array.map Value.constant))
        // ⟨w, f(up) − f(down)⟩, the difference taken element by element first: an output the step leaves alone
        // cancels exactly (equal infinities too) instead of adding a large ⟨w, f⟩'s rounding to every element's check.
        let differenceOf (up: Value) (down: Value) = Tensor.dot (Tensor.difference up.Tensor down.Tensor) w
        let u = unprojection w
        let analytic = Autodiff.gradMany (f >> projected w) (xs |> Array.map Value.constant) |> Array.map (fun g -> g.Tensor.ToArray())
        let report = GradCheckBuilder(atol, rtol)
        for k in 0 .. xs.Length - 1 do
            let data = xs.[k].ToArray()
            for e in 0 .. data.Length - 1 do
                let at (moved: float) =
                    let d = Array.copy data
                    d.[e] <- moved
                    f (xs |> Array.mapi (fun j x -> Value.constant (if j = k then Tensor.create x.Shape d else x)))
                let h = step * max 1.0 (abs data.[e])
                let up, down = data.[e] + h, data.[e] - h
                report.AddNumeric(k, e, u * analytic.[k].[e], u * (differenceOf (at up) (at down) / (up - down)))
        report.Report()

    /// torch.autograd.gradcheck's tolerances in float64, atol 1e-5 and rtol 1e-3, and a step of 1e-6 relative to each
    /// element (1e-6·max(1, |x|); torch's eps is absolute).
    let run (f: Value[] -> Value) (xs: Tensor[]) = runWith 1e-6 1e-5 1e-3 f xs
