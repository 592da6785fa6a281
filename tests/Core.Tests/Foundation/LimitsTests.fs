namespace Functional.Tests

open System
open Xunit
open Functional
open Functional.Core

/// Sizes refused before anything is allocated: element counts against the real array limit, results against the
/// memory limit, and operand shapes a plan is asked for.
[<Collection("process-wide state")>]
module LimitsTests =

    [<Fact>]
    let ``element counts are checked against the largest array of doubles, not 2^31 − 1`` () =
        Assert.Equal(2147483591, Shape.maxElements)
        Assert.Throws<ShapeException>(fun () -> Tensor.zeros [| 2147483592 |] |> ignore) |> ignore
        Assert.Throws<ShapeException>(fun () -> Tensor.random 1 [| Int32.MaxValue |] |> ignore) |> ignore
        Assert.Throws<ShapeException>(fun () -> Tensor.zeros [| 65536; 32768 |] |> ignore) |> ignore

    [<Fact>]
    let ``a lazy tensor too large for the memory limit is refused when it is first read, not allocated`` () =
        let big = Tensor.zeros [| 2147483591 |]
        let e = Assert.Throws<MemoryLimitException>(fun () -> Tensor.sum big |> ignore)
        Assert.Contains("2147483591 elements", e.Message)
        Assert.Throws<MemoryLimitException>(fun () -> Tensor.random 1 [| 2147483591 |] |> ignore) |> ignore

    [<Fact>]
    let ``a broadcast result above the memory limit is refused before allocation`` () =
        // [40000, 1] + [1, 40000] is 1.6e9 elements, 12.8 GB.
        let a = Tensor.ones [| 40000; 1 |]
        let b = Tensor.ones [| 1; 40000 |]
        let e = Assert.Throws<MemoryLimitException>(fun () -> Tensor.add a b |> ignore)
        Assert.Contains("1600000000 elements", e.Message)
        Assert.Throws<MemoryLimitException>(fun () -> Arithmetic.add (Value.constant a) (Value.constant b) |> ignore) |> ignore
        Assert.Throws<MemoryLimitException>(fun () -> Arithmetic.mul (Value.constant a) (Value.constant (Tensor.random 2 [| 1; 40000 |])) |> ignore) |> ignore

    [<Fact>]
    let ``a Jacobian or Hessian above the memory limit is refused before the first pullback`` () =
        let x = Value.constant (Tensor.random 3 [| 50000 |])
        let mutable calls = 0
        let f (v: Value) = calls <- calls + 1; Reduction.sum (Arithmetic.mul v v)
        let e = Assert.Throws<MemoryLimitException>(fun () -> Autodiff.hessian f x |> ignore)
        Assert.Contains("Hessian", e.Message)
        Assert.Equal(0, calls)
        let g (v: Value) = calls <- calls + 1; Elementwise.exp v
        Assert.Throws<MemoryLimitException>(fun () -> Autodiff.jacobian g x |> ignore) |> ignore
        // Only the forward pass that finds the result's shape ran.
        Assert.Equal(1, calls)

    [<Fact>]
    let ``the memory limit is one setting, honoured by every check`` () =
        let before = Limits.memoryLimitBytes
        try
            Limits.memoryLimitBytes <- 1L <<< 20
            // 2^17 + 8 doubles: just over 1 MiB.
            let e = Assert.Throws<MemoryLimitException>(fun () -> Tensor.add (Tensor.ones [| 131080 |]) (Tensor.ones [| 131080 |]) |> ignore)
            Assert.Equal(1L <<< 20, e.LimitBytes)
            Assert.Throws<MemoryLimitException>(fun () -> Einsum.contract "i,j->ij" [| Tensor.ones [| 400 |]; Tensor.ones [| 400 |] |] |> ignore) |> ignore
            Tensor.add (Tensor.ones [| 1000 |]) (Tensor.ones [| 1000 |]) |> ignore
        finally Limits.memoryLimitBytes <- before

    [<Fact>]
    let ``a plan's operand shapes are checked: null and negative sizes are typed errors`` () =
        Assert.Throws<EinsumException>(fun () -> Einsum.plan "ij,jk->ik" [| [| 3; 4 |]; null |] |> ignore) |> ignore
        let e = Assert.Throws<EinsumException>(fun () -> Einsum.plan "ij,jk->ik" [| [| 3; -4 |]; [| -4; 5 |] |] |> ignore)
        Assert.Contains("negative size -4", e.Message)
        Assert.Equal(Nullable 0, e.Operand)
        Assert.Throws<ArgumentNullException>(fun () -> Einsum.plan "ij,jk->ik" null |> ignore) |> ignore

    /// Among the orders of a contraction, one whose intermediates fit the memory limit is chosen over a cheaper one
    /// the engine would refuse: bad,aed,dc->bce pairs A with B first for the fewest flops, through a [d, b, e]
    /// intermediate of 400 MB, where pairing C first costs 0.1 % more and needs no more than the 16 MB output.
    [<Fact>]
    let ``the planner prefers an order whose intermediates fit the memory limit`` () =
        let before = Limits.memoryLimitBytes
        try
            Limits.memoryLimitBytes <- 100L <<< 20
            let a, b, c = Tensor.random 1 [| 1000; 2; 50 |], Tensor.random 2 [| 2; 1000; 50 |], Tensor.random 3 [| 50; 2 |]
            let p = Einsum.plan "bad,aed,dc->bce" [| a.ShapeArray; b.ShapeArray; c.ShapeArray |]
            Assert.True(p.LargestIntermediate * 8.0 <= float Limits.memoryLimitBytes, sprintf "largest intermediate %g elements" p.LargestIntermediate)
            let r = Einsum.contract "bad,aed,dc->bce" [| a; b; c |]
            let expected = Einsum.contract "badc,aed->bce" [| Einsum.contract "bad,dc->badc" [| a; c |]; b |]
            Assert.True(Tensor.allClose 1e-12 1e-12 r expected, sprintf "differs by %g" (Tensor.maxAbsDiff r expected))
        finally Limits.memoryLimitBytes <- before

    /// A contraction run under one memory limit is planned again under another: its cached order (A with B first,
    /// through a 36 MB intermediate, under the default limit) would be refused under 16 MB, where another order fits.
    [<Fact>]
    let ``a contraction planned under one memory limit is planned again under another`` () =
        let a, b, c = Tensor.random 4 [| 300; 2; 50 |], Tensor.random 5 [| 2; 300; 50 |], Tensor.random 6 [| 50; 2 |]
        let first = Einsum.contract "bad,aed,dc->bce" [| a; b; c |]
        let stepwise = Autodiff.grad (fun v -> Reduction.sum (Linear.einsum "bad,aed,dc->bce" [| v; Value.constant b; Value.constant c |])) (Value.constant a)
        let before = Limits.memoryLimitBytes
        try
            Limits.memoryLimitBytes <- 16L <<< 20
            let again = Einsum.contract "bad,aed,dc->bce" [| a; b; c |]
            Assert.True(Tensor.allClose 1e-12 1e-12 first again, sprintf "differs by %g" (Tensor.maxAbsDiff first again))
            let stepwiseAgain = Autodiff.grad (fun v -> Reduction.sum (Linear.einsum "bad,aed,dc->bce" [| v; Value.constant b; Value.constant c |])) (Value.constant a)
            Assert.True(Tensor.allClose 1e-12 1e-12 stepwise.Tensor stepwiseAgain.Tensor)
        finally Limits.memoryLimitBytes <- before
