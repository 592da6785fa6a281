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
        sprintf "%s: max |Δ| %.3g, max rel %.3g over %d elements; worst at input %d element %d (analytic %.17g, numeric %.17g)"
            (if r.Passed then "passed" else "FAILED") r.MaxAbsoluteError r.MaxRelativeError r.Checked r.WorstInput r.WorstIndex r.Analytic r.Numeric

/// Central-difference gradient checking, as torch's gradcheck, for use in any test framework.
[<RequireQualifiedAccess>]
module GradCheck =

    /// For a non-scalar result, the check differentiates ⟨f(x), w⟩ with this fixed projection w.
    let private projection (shape: int[]) = Tensor.random 12345 shape

    /// Checks the gradients of f at xs against central differences (x ± step per element).
    /// Passes when every |analytic − numeric| ≤ atol + rtol·|numeric|.
    let runWith (step: float) (atol: float) (rtol: float) (f: Value[] -> Value) (xs: Tensor[]) : GradCheckReport =
        if step <= 0.0 || Double.IsNaN step then invalidArg "step" "The step must be positive."
        let y0 = f (xs |> Array.map Value.constant)
        let w = if y0.Tensor.Numel = 1 then None else Some(projection y0.Shape)
        let scalarOf (y: Value) = match w with None -> Tensor.item y.Tensor | Some w -> Tensor.dot y.Tensor w
        let loss (vs: Value[]) =
            let y = f vs
            match w with None -> Reduction.sum y | Some w -> Reduction.sum (Arithmetic.mul y (Value.constant w))
        let analytic = Autodiff.gradMany loss (xs |> Array.map Value.constant) |> Array.map (fun g -> g.Tensor.ToArray())
        let mutable maxAbs = 0.0
        let mutable maxRel = 0.0
        let mutable worst = (0, 0, 0.0, 0.0)
        let mutable worstExcess = Double.NegativeInfinity
        let mutable ok = true
        let mutable count = 0
        for k in 0 .. xs.Length - 1 do
            let data = xs.[k].ToArray()
            for e in 0 .. data.Length - 1 do
                let at (delta: float) =
                    let d = Array.copy data
                    d.[e] <- d.[e] + delta
                    scalarOf (f (xs |> Array.mapi (fun j x -> Value.constant (if j = k then Tensor.create x.Shape d else x))))
                let numeric = (at step - at -step) / (2.0 * step)
                let a = analytic.[k].[e]
                let err = abs (a - numeric)
                let rel = if numeric = 0.0 then (if err = 0.0 then 0.0 else infinity) else err / abs numeric
                let excess = err - (atol + rtol * abs numeric)
                if Double.IsNaN err || excess > 0.0 then ok <- false
                if err > maxAbs || Double.IsNaN err then maxAbs <- err
                if rel > maxRel || Double.IsNaN rel then maxRel <- rel
                if excess > worstExcess || Double.IsNaN excess then
                    worstExcess <- excess
                    worst <- (k, e, a, numeric)
                count <- count + 1
        let wk, we, wa, wn = worst
        { Passed = ok; MaxAbsoluteError = maxAbs; MaxRelativeError = maxRel; WorstInput = wk; WorstIndex = we; Analytic = wa; Numeric = wn; Checked = count }

    /// torch.autograd.gradcheck's defaults in float64: step 1e-6, atol 1e-5, rtol 1e-3.
    let run (f: Value[] -> Value) (xs: Tensor[]) = runWith 1e-6 1e-5 1e-3 f xs
