namespace Functional.Tests

open Xunit
open Functional.Core

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
