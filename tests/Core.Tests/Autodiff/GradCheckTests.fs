namespace Functional.Tests

open System
open Xunit
open TorchSharp
open Functional.Core
open Functional.CrossCheck

module GradCheckTests =

    /// A deliberately wrong op: forward x², claimed derivative 2.1x.
    let wrong (x: Value) =
        Op.apply
            (Op.create "wrongSquare" (fun xs -> Tensor.map (fun v -> v * v) xs.[0]) (fun xs _ adj _ -> Arithmetic.mul adj (Arithmetic.scale 2.1 xs.[0])) (fun xs _ _ t -> Arithmetic.mul t (Arithmetic.scale 2.1 xs.[0])))
            [| x |]

    [<Fact>]
    let ``a right gradient passes with small errors`` () =
        let r = GradCheck.run (fun xs -> Reduction.sum (Arithmetic.mul (Activation.gelu xs.[0]) xs.[1])) [| Tensor.random 1 [| 3; 2 |]; Tensor.random 2 [| 2 |] |]
        Assert.True(r.Passed, r.ToString())
        Assert.Equal(8, r.Checked)
        Assert.True(r.MaxAbsoluteError < 1e-8)

    [<Fact>]
    let ``a wrong gradient fails and the report names the worst element`` () =
        let x = Tensor.create [| 3 |] [| 0.1; -5.0; 1.0 |]
        let r = GradCheck.run (fun xs -> Reduction.sum (wrong xs.[0])) [| x |]
        Assert.False(r.Passed)
        Assert.Equal(0, r.WorstInput)
        Assert.Equal(1, r.WorstIndex) // |0.1·x| is largest at x = −5
        Assert.Equal(-10.5, r.Analytic, 10)
        Assert.Equal(-10.0, r.Numeric, 6)

    [<Fact>]
    let ``a non-scalar function is checked through a fixed projection`` () =
        let r = GradCheck.run (fun xs -> Elementwise.tanh xs.[0]) [| Tensor.random 3 [| 4 |] |]
        Assert.True(r.Passed, r.ToString())

    /// A one-element result is differentiated times −½ and reported divided by it again: a rule that ignores its
    /// output gradient (right for g = 1) fails, a right one reports f's own derivative.
    [<Fact>]
    let ``a scalar function's rule that ignores its output gradient fails`` () =
        let ignoring =
            Op.create "sumsq" (fun xs -> Tensor.sum (Tensor.mul xs.[0] xs.[0]))
                (fun xs _ _ _ -> Arithmetic.scale 2.0 xs.[0])
                (fun xs _ _ t -> Reduction.sum (Arithmetic.mul (Arithmetic.scale 2.0 xs.[0]) t))
        let x = Tensor.vector [| 0.5; -1.5; 2.0 |]
        Assert.False((GradCheck.run (fun xs -> Op.apply ignoring xs) [| x |]).Passed)
        let r = GradCheck.run (fun xs -> Reduction.sum (Arithmetic.mul xs.[0] xs.[0])) [| x |]
        Assert.True(r.Passed, r.ToString())
        Assert.Contains(r.Analytic, [| 1.0; -3.0; 4.0 |])

    /// The projection's weights have magnitudes 0.5 to 1.5 at every element of every shape: normal draws came near 0
    /// (0.007 at element 37 of 40), which shrank an error in that output's pullback in every check.
    [<Fact>]
    let ``the projection's weights are bounded away from zero`` () =
        for shape in [ [| 40 |]; [| 7; 9 |]; [| 1000 |] ] do
            let w = (GradCheck.projection (Value.constant (Tensor.zeros shape))).ToArray()
            Assert.All(w, fun v -> Assert.InRange(abs v, 0.5, 1.5))
            // Both signs occur.
            Assert.Contains(w, fun v -> v < 0.0)
            Assert.Contains(w, fun v -> v > 0.0)

    /// The comparison both checkers share, element by element, at torch's gradcheck tolerances.
    let private compared (pairs: (float * float) list) =
        let b = GradCheckBuilder(1e-5, 1e-3)
        pairs |> List.iteri (fun e (ours, reference) -> b.Add(0, e, ours, reference))
        b.Report()

    [<Fact>]
    let ``an infinity agrees only with itself, whatever the tolerances`` () =
        // atol + rtol·∞ would admit any value against an infinite reference, and any infinity against a finite one.
        Assert.False((compared [ 1.0, infinity ]).Passed)
        Assert.False((compared [ 1.0, -infinity ]).Passed)
        Assert.False((compared [ infinity, 1.0 ]).Passed)
        Assert.False((compared [ infinity, -infinity ]).Passed)
        Assert.False((compared [ nan, 1.0 ]).Passed)
        Assert.False((compared [ 1.0, nan ]).Passed)
        Assert.True((compared [ infinity, infinity; -infinity, -infinity; 1.0, 1.0 + 1e-9 ]).Passed)

    [<Fact>]
    let ``the report names the element that exceeds its bound the most`` () =
        let r = compared [ 1.0, 1.0; 3.0, 2.0; 1.0, 1.5; 0.0, 0.0 ]
        Assert.False(r.Passed)
        Assert.Equal(1, r.WorstIndex)
        Assert.Equal(3.0, r.Analytic)
        Assert.Equal(2.0, r.Numeric)
        Assert.Equal(4, r.Checked)

    [<Fact>]
    let ``a finite difference that is not finite fails even against the same infinity`` () =
        // A difference quotient of ∞ means the step crossed a pole or overflowed: nothing was measured.
        let b = GradCheckBuilder(1e-5, 1e-3)
        b.AddNumeric(0, 0, 2.0, 2.0)
        b.AddNumeric(0, 1, infinity, infinity)
        let r = b.Report()
        Assert.False(r.Passed)
        Assert.Equal(1, r.WorstIndex)

    [<Fact>]
    let ``a NaN or negative tolerance or a bad step is refused, not taken to pass or fail everything`` () =
        let f (xs: Value[]) = Reduction.sum (Arithmetic.mul xs.[0] xs.[0])
        let x = [| Tensor.random 4 [| 3 |] |]
        for step, atol, rtol, name in [ 1e-6, 1e-5, nan, "rtol"; 1e-6, nan, 1e-3, "atol"; 1e-6, 1e-5, -1e-3, "rtol"; 1e-6, -1e-5, 1e-3, "atol"; nan, 1e-5, 1e-3, "step"; 0.0, 1e-5, 1e-3, "step" ] do
            Assert.Equal(name, (Assert.Throws<ArgumentException>(fun () -> GradCheck.runWith step atol rtol f x |> ignore)).ParamName)
        for atol, rtol, name in [ 1e-5, nan, "rtol"; nan, 1e-3, "atol" ] do
            Assert.Equal(name, (Assert.Throws<ArgumentException>(fun () -> Torch.compare rtol atol f (fun ts -> (ts.[0] * ts.[0]).sum()) x |> ignore)).ParamName)

    /// The TorchSharp mode of the check compares our value and gradients with TorchSharp's, not with our own.
    [<Fact>]
    let ``the TorchSharp comparison fails where their value or gradient differs from ours`` () =
        let x = [| Tensor.create [| 3 |] [| 0.5; -1.5; 2.0 |] |]
        let square (ts: torch.Tensor[]) = (ts.[0] * ts.[0]).sum()
        let right = Torch.compare 1e-6 1e-8 (fun xs -> Reduction.sum (Arithmetic.mul xs.[0] xs.[0])) square x
        Assert.True(right.Passed, right.ToString())
        // Our rule 5 % off (2.1·x): the gradients differ, the values agree.
        let wrongRule = Torch.compare 1e-6 1e-8 (fun xs -> Reduction.sum (wrong xs.[0])) square x
        Assert.False(wrongRule.Passed)
        // Worst where |x| is largest: 4.2 against 4 at x = 2.
        Assert.Equal(2, wrongRule.WorstIndex)
        Assert.Equal(4.2, wrongRule.Analytic, 12)
        Assert.Equal(4.0, wrongRule.Numeric, 12)
        // Their value off by 1, the gradients the same.
        let shifted (ts: torch.Tensor[]) = let s = square ts in s + torch.ones_like s
        let wrongValue = Torch.compare 1e-6 1e-8 (fun xs -> Reduction.sum (Arithmetic.mul xs.[0] xs.[0])) shifted x
        Assert.False(wrongValue.Passed)
        Assert.Equal(1.0, wrongValue.MaxAbsoluteError, 12)
