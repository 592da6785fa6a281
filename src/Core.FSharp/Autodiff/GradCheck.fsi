namespace Functional.Core

/// What a gradient check found.
type GradCheckReport =
    {
      Passed: bool
      MaxAbsoluteError: float
      MaxRelativeError: float

      /// The input and flat element index with the largest violation of atol + rtol·|numeric| (the first element
      /// checked when every element agrees exactly; −1 when none was checked).
      WorstInput: int
      WorstIndex: int
      Analytic: float
      Numeric: float
      Checked: int
    }

    override ToString: unit -> string

/// Accumulates element-by-element comparisons of a gradient against a reference into a report;
/// shared by the finite-difference checker and the TorchSharp comparison.
type internal GradCheckBuilder =

    new: atol: float * rtol: float -> GradCheckBuilder

    /// Element e of input k: ours against the reference.
    member Add: k: int * e: int * ours: float * reference: float -> unit

    /// Element e of input k against a finite difference: one that is not finite (f overflows, or meets a pole,
    /// within a step) proves nothing about the rule, and fails.
    member AddNumeric: k: int * e: int * ours: float * numeric: float -> unit

    member Report: unit -> GradCheckReport

    /// Folds in a check that is not element-wise (such as the values agreeing).
    member Require: passed: bool * absoluteError: float -> unit

/// <summary>
/// Central-difference gradient checking, as torch's gradcheck, for use in any test framework.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let report = GradCheck.run (fun xs -&gt; Reduction.sum (Activation.gelu xs.[0])) [| Tensor.random 3 [| 5; 4 |] |]
/// printfn "%O" report                                    // passed: max |Δ| … over 20 elements
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module GradCheck =

    /// The check differentiates ⟨f(x), w⟩ with this fixed projection w: weights of magnitude 0.5 to 1.5 and random
    /// sign, or −½ for a one-element result (a rule that ignores its output gradient would pass with 1).
    val internal projection: y: Value -> Tensor

    /// What reported values are multiplied by so that they are f's own derivatives: 1/w for a one-element result.
    val internal unprojection: w: Tensor -> float

    /// The scalar that is differentiated: ⟨f(x), w⟩.
    val internal projected: w: Tensor -> y: Value -> Value

    /// Checks the gradients of f at xs against central differences: element x moved by ±h with h = step·max(1, |x|)
    /// (an absolute step is below x's own spacing once |x| passes about 1e10), divided by the distance between the
    /// two points as represented. Passes when every |analytic − numeric| ≤ atol + rtol·|numeric|; a numeric value
    /// that is not finite fails.
    val runWith:
      step: float ->
        atol: float ->
        rtol: float ->
        f: (Value array -> Value) -> xs: Tensor array -> GradCheckReport

    /// torch.autograd.gradcheck's tolerances in float64, atol 1e-5 and rtol 1e-3, and a step of 1e-6 relative to each
    /// element (1e-6·max(1, |x|); torch's eps is absolute).
    val run:
      f: (Value array -> Value) -> xs: Tensor array -> GradCheckReport
