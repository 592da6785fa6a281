namespace Functional.Tests

open Xunit
open Functional.Core

/// Strided.sumRuns (vector partial sums in Functional.Kernels.Reduce) against a compensated sum.
module KernelsStridedTests =

    /// Neumaier's compensated sum: a reference far more accurate than any summation order.
    let private exactish (xs: double seq) =
        let mutable s = 0.0
        let mutable c = 0.0
        for x in xs do
            let t = s + x
            c <- c + (if abs s >= abs x then (s - t) + x else (x - t) + s)
            s <- t
        s + c

    [<Fact>]
    let ``sums of runs match a compensated sum, for every remainder length`` () =
        for inner in [ 0; 1; 7; 31; 32; 33; 63; 64; 100; 1024; 4099 ] do
            for outer in [ 1; 3 ] do
                let src = (Tensor.random (inner + outer) [| outer * inner + 5 |]).ToArray()
                let sums = Strided.sumRuns src outer inner
                Assert.Equal(outer, sums.Length)
                for i in 0 .. outer - 1 do
                    let run = Array.sub src (i * inner) inner
                    let expected = exactish run
                    let scale = run |> Array.sumBy abs
                    // The worst-case error of this order: about (inner/32 + 8) roundings of at most Σ|x|.
                    let bound = float (inner / 32 + 8) * 2.3e-16 * scale
                    Assert.True(abs (sums.[i] - expected) <= bound, sprintf "inner %d run %d: %.17g vs %.17g" inner i sums.[i] expected)

    [<Fact>]
    let ``the summation order is fixed: a known arrangement of lanes`` () =
        // 2^53 then 63 ones: lane 0 of the first accumulator adds its one to 2^53 and loses it (2^53 + 1 rounds
        // to 2^53); the 31 other partial sums hold 2 each and survive: 2^53 + 62. A running sum would give 2^53.
        // This pins the order the kernels promise, on every vector width.
        let src = Array.create 64 1.0
        src.[0] <- 9007199254740992.0
        let s = (Strided.sumRuns src 1 64).[0]
        Assert.Equal(9007199254740992.0 + 62.0, s)
        Assert.Equal(s, Tensor.sum (Tensor.create [| 64 |] src) |> fun t -> t.[[||]])

    [<Fact>]
    let ``runs that do not fit the arrays are refused`` () =
        Assert.Throws<System.ArgumentException>(fun () -> Functional.Kernels.Reduce.SumRuns(Array.zeroCreate 10, 2, 6, Array.zeroCreate 2)) |> ignore
