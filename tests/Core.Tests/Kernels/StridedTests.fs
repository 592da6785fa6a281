namespace Functional.Tests

open Xunit
open FsCheck
open FsCheck.FSharp
open Functional.Core

/// Reductions.sumRuns (vector partial sums in Functional.Kernels.Reduce) against a compensated sum; strided
/// copies (Functional.Kernels.Permute: register-transposed 8×8 blocks, tiles, rows) against an odometer.
module KernelsStridedTests =

    [<Fact>]
    let ``sums of runs match a compensated sum, for every remainder length`` () =
        for inner in [ 0; 1; 7; 31; 32; 33; 63; 64; 100; 1024; 4099 ] do
            for outer in [ 1; 3; 4; 9 ] do
                let src = (Tensor.random (inner + outer) [| outer * inner + 5 |]).ToArray()
                let sums = Reductions.sumRuns src outer inner
                Assert.Equal(outer, sums.Length)
                for i in 0 .. outer - 1 do
                    let run = Array.sub src (i * inner) inner
                    let expected = HighPrecision.compensatedSum run
                    let scale = run |> Array.sumBy abs
                    // The worst-case error of this order: about (inner/32 + 8) roundings of at most Σ|x|.
                    let bound = float (inner / 32 + 8) * 2.3e-16 * scale
                    Assert.True(abs (sums.[i] - expected) <= bound, sprintf "inner %d run %d: %.17g vs %.17g" inner i sums.[i] expected)

    [<Fact>]
    let ``large inputs split over the cores give each run's own sum bit for bit`` () =
        for outer, inner in [ (2, 1 <<< 17); (4096, 64); (3, 100003); (70000, 5) ] do
            let src = (Tensor.random (outer + inner) [| outer * inner |]).ToArray()
            let sums = Reductions.sumRuns src outer inner
            for i in [ 0; outer / 2; outer - 1 ] do
                let alone = (Reductions.sumRuns (Array.sub src (i * inner) inner) 1 inner).[0]
                Assert.Equal(System.BitConverter.DoubleToInt64Bits alone, System.BitConverter.DoubleToInt64Bits sums.[i])

    [<Fact>]
    let ``short runs summed eight at a time give each run's own sum bit for bit, on every remainder`` () =
        for inner in [ 32; 33; 45; 64; 95; 100; 511; 512; 513 ] do
            for outer in [ 4; 5; 7; 8; 11; 16; 17 ] do
                let src = (Tensor.random (outer * 1000 + inner) [| outer * inner |]).ToArray() |> Array.mapi (fun i x -> x * 10.0 ** float (i % 13 - 6))
                let sums = Reductions.sumRuns src outer inner
                for i in 0 .. outer - 1 do
                    let alone = (Reductions.sumRuns (Array.sub src (i * inner) inner) 1 inner).[0]
                    if System.BitConverter.DoubleToInt64Bits alone <> System.BitConverter.DoubleToInt64Bits sums.[i] then
                        Check.failf "%d runs of %d, run %d: %.17g vs %.17g alone" outer inner i sums.[i] alone

    [<Fact>]
    let ``the summation order is fixed: a known arrangement of lanes`` () =
        // 2^53 then 63 ones: lane 0 of the first accumulator adds its one to 2^53 and loses it (2^53 + 1 rounds
        // to 2^53); the 31 other partial sums hold 2 each and survive: 2^53 + 62. A running sum would give 2^53.
        // This pins the order the kernels promise, on every vector width.
        let src = Array.create 64 1.0
        src.[0] <- 9007199254740992.0
        let s = (Reductions.sumRuns src 1 64).[0]
        Assert.Equal(9007199254740992.0 + 62.0, s)
        Assert.Equal(s, Tensor.sum (Tensor.create [| 64 |] src) |> fun t -> t.[[||]])

    [<Fact>]
    let ``runs that do not fit the arrays are refused`` () =
        Assert.Throws<System.ArgumentException>(fun () -> Functional.Kernels.Reduce.SumRuns(Array.zeroCreate 10, 2, 6, Array.zeroCreate 2)) |> ignore

    /// The element-by-element odometer the tiled copy replaced: the reference.
    let private naiveCopy (src: double[]) (srcOff: int) (ss: int[]) (dst: double[]) (dstOff: int) (ds: int[]) (shape: int[]) =
        let total = Array.fold (*) 1 shape
        let idx = Array.zeroCreate shape.Length
        for flat in 0 .. total - 1 do
            let mutable r = flat
            for a in shape.Length - 1 .. -1 .. 0 do
                idx.[a] <- r % shape.[a]
                r <- r / shape.[a]
            let mutable si = srcOff
            let mutable di = dstOff
            for a in 0 .. shape.Length - 1 do
                si <- si + idx.[a] * ss.[a]
                di <- di + idx.[a] * ds.[a]
            dst.[di] <- src.[si]

    [<Fact>]
    let ``large copies split over the cores equal the odometer, runs kept whole and planes in tiles`` () =
        // 2^18 elements and more go over the cores in pieces of one axis: here a last axis read as one run by both
        // sides (split elsewhere), a transposing plane, and a run with a broadcast axis.
        for shape, srcShape, perm in [ [| 8; 32; 16; 64 |], [| 8; 16; 32; 64 |], [| 0; 2; 1; 3 |]
                                       [| 96; 64; 128 |], [| 64; 128; 96 |], [| 2; 0; 1 |]
                                       [| 3; 300; 300 |], [| 300; 3; 300 |], [| 1; 0; 2 |] ] do
            let st = Shape.strides srcShape
            let ss = perm |> Array.map (fun a -> st.[a])
            let src = (Tensor.random 7 [| Array.fold (*) 1 srcShape |]).ToArray()
            let n = Array.fold (*) 1 shape
            let fast = Array.create n nan
            let slow = Array.create n nan
            Functional.Kernels.Permute.Copy(src, 0, ss, fast, 0, Shape.strides shape, shape)
            naiveCopy src 0 ss slow 0 (Shape.strides shape) shape
            Assert.True((fast = slow), sprintf "shape %A, source strides %A" shape ss)

    type PermuteCase = { Shape: int[]; Perm: int[]; Offset: int; Broadcast: int option; Seed: int }

    [<Fact>]
    let ``permuted copies equal the element-by-element odometer bit for bit`` () =
        let extent = Gen.frequency [ 3, Gen.choose (1, 12); 2, Gen.choose (13, 40); 1, Gen.choose (60, 70) ]
        let arb =
            Arb.fromGen (gen {
                let! rank = Gen.choose (1, 4)
                let! shape = Gen.arrayOfLength rank extent
                let! keys = Gen.arrayOfLength rank (Gen.choose (0, 1000))
                let perm = Array.init rank id |> Array.sortBy (fun i -> keys.[i], i)
                let! offset = Gen.choose (0, 5)
                let! bc = Gen.choose (-rank, rank - 1)
                let! seed = Gen.choose (0, 100000)
                return { Shape = shape; Perm = perm; Offset = offset; Broadcast = (if bc >= 0 then Some bc else None); Seed = seed } })
        let mutable transposing = 0
        Check.forAll "strided copy vs odometer" 41UL 400 arb (fun c ->
            // The source holds the permuted layout: axis a of the copy reads source axis Perm[a]; one axis may
            // be a broadcast (stride 0). The destination is contiguous, with an offset.
            let srcShape = c.Perm |> Array.map (fun a -> c.Shape.[a])
            let srcStrides0 = Shape.strides srcShape
            let ss = Array.init c.Shape.Length (fun a -> srcStrides0.[Array.findIndex ((=) a) c.Perm])
            let ss = match c.Broadcast with Some b -> Array.updateAt b 0 ss | None -> ss
            let src = (Tensor.random c.Seed [| c.Offset + Array.fold (*) 1 srcShape |]).ToArray()
            let ds = Shape.strides c.Shape
            let n = Array.fold (*) 1 c.Shape
            let fast = Array.create (n + c.Offset + 3) nan
            let slow = Array.create (n + c.Offset + 3) nan
            Functional.Kernels.Permute.Copy(src, c.Offset, ss, fast, c.Offset, ds, c.Shape)
            naiveCopy src c.Offset ss slow c.Offset ds c.Shape
            if ss.[ss.Length - 1] <> 1 && ss |> Array.exists ((=) 1) then transposing <- transposing + 1
            for i in 0 .. fast.Length - 1 do
                if System.BitConverter.DoubleToInt64Bits fast.[i] <> System.BitConverter.DoubleToInt64Bits slow.[i] then
                    Check.failf "%A: element %d is %g, the odometer gives %g" c i fast.[i] slow.[i])
        |> ignore
        Assert.True(transposing >= 100, sprintf "only %d cases took the transposing path" transposing)

    [<Fact>]
    let ``large copies split over the cores equal the odometer bit for bit`` () =
        // (shape, source axis order, broadcast axis): pieces of the longest axis, whichever axis that is.
        for shape, perm, bc in [ [| 700; 413 |], [| 1; 0 |], None
                                 [| 413; 700 |], [| 1; 0 |], None
                                 [| 3; 300; 301 |], [| 2; 0; 1 |], None
                                 [| 64; 70; 65 |], [| 1; 2; 0 |], Some 1
                                 [| 2; 2; 100000 |], [| 2; 1; 0 |], None
                                 [| 600; 500 |], [| 0; 1 |], Some 0 ] do
            let srcShape = perm |> Array.map (fun a -> shape.[a])
            let st = Shape.strides srcShape
            let ss = Array.init shape.Length (fun a -> st.[Array.findIndex ((=) a) perm])
            let ss = match bc with Some b -> Array.updateAt b 0 ss | None -> ss
            let src = (Tensor.random 3 [| 2 + Array.fold (*) 1 srcShape |]).ToArray()
            let n = Array.fold (*) 1 shape
            let fast = Array.create (n + 3) nan
            let slow = Array.create (n + 3) nan
            Functional.Kernels.Permute.Copy(src, 2, ss, fast, 1, Shape.strides shape, shape)
            naiveCopy src 2 ss slow 1 (Shape.strides shape) shape
            let bits (xs: double[]) = xs |> Array.map System.BitConverter.DoubleToInt64Bits
            Assert.True((bits fast = bits slow), sprintf "%A from axes %A" shape perm)

    [<Fact>]
    let ``copies that do not fit their arrays are refused`` () =
        let a = Array.zeroCreate 16
        Assert.Throws<System.ArgumentException>(fun () -> Functional.Kernels.Permute.Copy(a, 0, [| 1; 4 |], Array.zeroCreate 16, 0, [| 4; 1 |], [| 4; 5 |])) |> ignore
        Assert.Throws<System.ArgumentException>(fun () -> Functional.Kernels.Permute.Copy(a, 0, [| -1 |], Array.zeroCreate 16, 0, [| 1 |], [| 4 |])) |> ignore
