namespace Functional.Tests

open System
open Xunit
open Functional.Kernels

/// The blocked LU panel's column steps (Functional.Kernels.LuPanel) against their scalar loops, bit for bit and index
/// for index: every length class (the 8- and 4-lane loops and their tails), and the values a pivot search must pass
/// over or tell apart (NaN, ties of either sign, signed zeros, infinities).
module KernelsLuPanelTests =

    let private lengths = [ 1; 2; 3; 4; 5; 8; 9; 15; 16; 17; 31; 32; 33; 47; 64; 65; 100; 1000 ]

    /// The textbook search: the first of the largest magnitudes after `from`, kept when nothing is strictly larger.
    let private reference (x: double[]) (from: int) (count: int) =
        let mutable p = from
        for i in from + 1 .. from + count - 1 do
            if abs x.[i] > abs x.[p] then p <- i
        p

    [<Fact>]
    let ``the copy finds a NaN at every place of every length class, and only a NaN, and copies every element`` () =
        for n in 0 :: lengths do
            // ±∞, signed zeros and the largest doubles around: none of them is a NaN.
            let x = Array.init (n + 5) (fun i -> match i % 5 with 0 -> infinity | 1 -> -0.0 | 2 -> Double.MaxValue | 3 -> -infinity | _ -> float i)
            let copy = Array.create (n + 4) 7.0
            Assert.False(LuPanel.CopyHoldingNaN(x, 2, copy, 1, n), sprintf "no NaN in %d" n)
            Assert.Equal<double[]>(Array.concat [ [| 7.0 |]; x.[2 .. n + 1]; [| 7.0; 7.0; 7.0 |] ], copy)
            for at in 0 .. n - 1 do
                x.[2 + at] <- nan
                Assert.True(LuPanel.CopyHoldingNaN(x, 2, copy, 1, n), sprintf "NaN at %d of %d" at n)
                // Outside the range: not seen.
                Assert.False(LuPanel.CopyHoldingNaN(x, 2 + at + 1, copy, 0, n - at - 1), sprintf "NaN before %d of %d" at n)
                x.[2 + at] <- float at
        Assert.Throws<ArgumentException>(fun () -> LuPanel.CopyHoldingNaN(Array.zeroCreate 4, 2, Array.zeroCreate 4, 0, 3) |> ignore) |> ignore
        Assert.Throws<ArgumentException>(fun () -> LuPanel.CopyHoldingNaN(Array.zeroCreate 4, 0, Array.zeroCreate 4, 2, 3) |> ignore) |> ignore

    [<Fact>]
    let ``the pivot search finds the textbook loop's row, past NaN, among ties, zeros and infinities`` () =
        let rng = Random(31)
        for n in lengths do
            for case in 0 .. 7 do
                let x = Array.init (n + 3) (fun _ -> rng.NextDouble() * 4.0 - 2.0)
                let at () = 3 + rng.Next(n)
                match case with
                | 1 -> x.[at ()] <- nan
                | 2 -> x.[3] <- nan
                | 3 ->
                    // A tie of opposite signs at the largest magnitude.
                    let i, j = at (), at ()
                    x.[i] <- 5.0
                    x.[j] <- -5.0
                | 4 -> for i in 3 .. n + 2 do x.[i] <- (if i % 2 = 0 then 0.0 else -0.0)
                | 5 -> x.[at ()] <- Double.NegativeInfinity
                | 6 ->
                    x.[at ()] <- nan
                    x.[at ()] <- infinity
                | 7 -> for i in 3 .. n + 2 do x.[i] <- nan
                | _ -> ()
                let expected = reference x 3 n
                let got = LuPanel.LargestMagnitude(x, 3, n)
                Assert.True((got = expected), sprintf "n = %d, case %d: row %d, the loop's %d" n case got expected)

    [<Fact>]
    let ``a column's update takes its products by fused multiply-adds in order, the same bits on every width`` () =
        let rng = Random(32)
        for len in 0 :: lengths do
            for count in [ 0; 1; 2; 7; 31; 33 ] do
                let ld = len + 5
                let src = Array.init (2 + max 1 count * ld) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
                let coef = Array.init (count + 1) (fun _ -> (rng.NextDouble() * 2.0 - 1.0) * Math.Pow(10.0, float (rng.Next(-4, 5))))
                let dst = Array.init (len + 4) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
                let expected = Array.copy dst
                for t in 0 .. len - 1 do
                    let mutable a = expected.[3 + t]
                    for q in 0 .. count - 1 do a <- Math.FusedMultiplyAdd(src.[2 + q * ld + t], -coef.[1 + q], a)
                    expected.[3 + t] <- a
                let got = Array.copy dst
                LuPanel.SubtractCombination(got, 3, coef, 1, src, 2, ld, count, len)
                for i in 0 .. dst.Length - 1 do
                    if BitConverter.DoubleToInt64Bits got.[i] <> BitConverter.DoubleToInt64Bits expected.[i] then
                        Assert.Fail(sprintf "len %d, count %d, element %d: %.17g, the loop's %.17g" len count i got.[i] expected.[i])

    [<Fact>]
    let ``a negated block and a row exchange touch exactly their elements, on every width`` () =
        let rng = Random(33)
        let bits = Array.map BitConverter.DoubleToInt64Bits
        for cols in 0 :: lengths do
            for rows in [ 0; 1; 3 ] do
                let ld, ldd = cols + 3, cols + 5
                let src = Array.init (2 + max 1 rows * ld) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
                src.[2] <- nan
                if src.Length > 3 then src.[3] <- -0.0
                let dst = Array.init (4 + max 1 rows * ldd) (fun _ -> rng.NextDouble())
                let expected = Array.copy dst
                for r in 0 .. rows - 1 do
                    for c in 0 .. cols - 1 do expected.[4 + r * ldd + c] <- -src.[2 + r * ld + c]
                let got = Array.copy dst
                LuPanel.NegatedRows(src, 2, ld, rows, cols, got, 4, ldd)
                Assert.True((bits got = bits expected), sprintf "NegatedRows, %d rows of %d" rows cols)
            let x = Array.init (3 + 2 * (cols + 2)) (fun _ -> rng.NextDouble())
            let expected = Array.copy x
            for j in 0 .. cols - 1 do
                expected.[1 + j] <- x.[3 + cols + j]
                expected.[3 + cols + j] <- x.[1 + j]
            LuPanel.Exchange(x, 1, 3 + cols, cols)
            Assert.True((bits x = bits expected), sprintf "Exchange of %d" cols)
        let x = Array.zeroCreate<double> 20
        for bad in [ (fun () -> LuPanel.Exchange(x, 0, 4, 5))                           // overlapping ranges
                     (fun () -> LuPanel.Exchange(x, 0, 16, 5))                          // past the end
                     (fun () -> LuPanel.NegatedRows(x, 0, 4, 6, 4, Array.zeroCreate 40, 0, 4)) // source past its end
                     (fun () -> LuPanel.NegatedRows(x, 0, 4, 2, 5, Array.zeroCreate 20, 0, 5)) ] do // ld < cols
            Assert.Throws<ArgumentException>(fun () -> bad ()) |> ignore
