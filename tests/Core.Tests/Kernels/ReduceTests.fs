namespace Functional.Tests

open System
open System.Numerics
open Xunit
open Functional.Core

/// Sums in a fixed order whose rounding error grows like log n (blocks of 1,024 added pairwise), with the same bits
/// on every vector width: CI runs these with AVX-512, with AVX2 only and without SIMD.
[<Collection("process-wide state")>]
module KernelsReduceTests =

    /// The order the kernel sums a run in, written out element by element: chunks of 32, the last padded with +0;
    /// blocks of 32 chunks, lane l of accumulator q adding element 32·c + 8·q + l of its block; a block's 8 lanes as
    /// (a0 + a1) + (a2 + a3); the blocks pairwise (a binary counter); the lanes as ((0+4)+(2+6)) + ((1+5)+(3+7)).
    let private reference (x: float[]) =
        let n = x.Length
        let chunks = (n + 31) / 32
        let at i = if i < n then x.[i] else 0.0
        let block (first: int) (count: int) =
            let acc = Array2D.zeroCreate 4 8
            for c in first .. first + count - 1 do
                for q in 0 .. 3 do
                    for l in 0 .. 7 do acc.[q, l] <- acc.[q, l] + at (32 * c + 8 * q + l)
            Array.init 8 (fun l -> (acc.[0, l] + acc.[1, l]) + (acc.[2, l] + acc.[3, l]))
        let add (a: float[]) (b: float[]) = Array.map2 (+) a b
        let lanes =
            if chunks = 0 then None
            else
                let levels = Collections.Generic.Dictionary<int, float[]>()
                let mutable count = 0
                for b in 0 .. (chunks + 31) / 32 - 1 do
                    let mutable v = block (32 * b) (min 32 (chunks - 32 * b))
                    let mutable k = 0
                    while (count >>> k) &&& 1 = 1 do
                        v <- add levels.[k] v
                        k <- k + 1
                    levels.[k] <- v
                    count <- count + 1
                let mutable acc = None
                let mutable k = 0
                while (count >>> k) <> 0 do
                    if (count >>> k) &&& 1 = 1 then acc <- Some (match acc with None -> levels.[k] | Some a -> add levels.[k] a)
                    k <- k + 1
                acc
        match lanes with
        | None -> 0.0
        | Some v ->
            let s = Array.init 4 (fun j -> v.[j] + v.[j + 4])
            (s.[0] + s.[2]) + (s.[1] + s.[3])

    [<Fact>]
    let ``a run is summed in the written-out order, to the bit, at every length`` () =
        let rng = Random(11)
        for n in [ 0; 1; 2; 3; 5; 9; 31; 32; 33; 255; 1023; 1024; 1025; 1055; 1056; 1057; 2048; 2048 + 17; 3 * 1024 + 5; 10_000; 100_003 ] do
            let x = Array.init n (fun _ -> rng.NextDouble() * 2.0 - 1.0)
            let ours = Tensor.item (Tensor.sum (Tensor.create [| n |] x))
            Assert.True(BitConverter.DoubleToInt64Bits ours = BitConverter.DoubleToInt64Bits (reference x), sprintf "n = %d: %.17g, the written-out order gives %.17g" n ours (reference x))

    [<Fact>]
    let ``one long run summed over the cores has the written-out order's bits`` () =
        // From 2^18 elements a run is split into groups of 64 blocks, one task each, and the rest: groups only, a rest
        // of whole blocks, of a partial block, of a few elements past the last chunk; values over twelve decades, so
        // another order would show.
        let rng = Random(13)
        let split = Functional.Kernels.Reduce.SplitFrom
        for n in [ split; split + 1; 65536 * 5 + 1024 * 3 + 17; 65536 * 6 + 31; 65536 * 7 + 40; 1_000_000; 3 * 1048576 + 2047 ] do
            let x = Array.init (n + 3) (fun _ -> (rng.NextDouble() * 2.0 - 1.0) * Math.Pow(10.0, float (rng.Next(-6, 7))))
            let run = x.[3..]
            let expected = BitConverter.DoubleToInt64Bits (reference run)
            let whole = Tensor.item (Tensor.sum (Tensor.create [| n |] run))
            Assert.True(BitConverter.DoubleToInt64Bits whole = expected, sprintf "Tensor.sum, n = %d: %.17g, the written-out order gives %.17g" n whole (reference run))
            let fromOffset = Functional.Kernels.Reduce.Sum(x, 3, n)
            Assert.True(BitConverter.DoubleToInt64Bits fromOffset = expected, sprintf "Reduce.Sum from an offset, n = %d" n)
            Assert.Equal(expected, BitConverter.DoubleToInt64Bits (Functional.Kernels.Reduce.SumOnOneCore(x, 3, n)))

    [<Fact>]
    let ``each of many short runs is summed in the written-out order, to the bit, whatever the number of runs`` () =
        // Runs of 32 to 512 go eight at a time through one kernel (lanes reduced for the eight together), the rest
        // one by one; counts around multiples of eight, lengths with and without a remainder, and one large enough
        // to be split over the cores.
        let rng = Random(12)
        for outer, inner in [ (1, 32); (7, 33); (8, 64); (9, 100); (16, 255); (24, 127); (17, 512); (3, 513); (25, 31); (13, 7); (9, 1000); (5, 1024); (6, 1025); (4099, 64); (1000, 96) ] do
            let x = Array.init (outer * inner) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
            // Also with every input asking for its lines ahead (as inputs larger than L3 do).
            for prefetchBytes in [ Functional.Kernels.Tuning.SumPrefetchBytes; 0L ] do
                let saved = Functional.Kernels.Tuning.SumPrefetchBytes
                Functional.Kernels.Tuning.SumPrefetchBytes <- prefetchBytes
                let ours =
                    try (Tensor.sumAxes [| 1 |] false (Tensor.create [| outer; inner |] x)).ToArray()
                    finally Functional.Kernels.Tuning.SumPrefetchBytes <- saved
                for r in 0 .. outer - 1 do
                    let expected = reference x.[r * inner .. (r + 1) * inner - 1]
                    Assert.True(BitConverter.DoubleToInt64Bits ours.[r] = BitConverter.DoubleToInt64Bits expected,
                                sprintf "%d runs of %d, run %d (prefetch above %d bytes): %.17g, the written-out order gives %.17g" outer inner r prefetchBytes ours.[r] expected)

    [<Fact>]
    let ``sums over several blocks of axes go one block at a time, the largest first, where the data is`` () =
        // Each case with its stages written out: one block of axes summed per stage (the one-block sums, tested above),
        // on the result of the stage before. All but a channel axis over maps from 2×2 to 64×64, the last axis kept,
        // a size-1 axis (dropped, so its neighbours merge), a tie (the later block first), three stages, and ones large
        // enough for the cores (a middle sum by blocks of rows across several column groups among them).
        let rng = Random(17)
        let cases =
            [ [| 3; 4; 5 |], [| 0; 2 |], [ [| 2 |]; [| 0 |] ]
              [| 256; 8; 4; 4 |], [| 0; 2; 3 |], [ [| 0 |]; [| 1; 2 |] ]
              [| 6; 5; 4; 3 |], [| 0; 2 |], [ [| 0 |]; [| 1 |] ]
              [| 4; 3; 5; 2 |], [| 1; 3 |], [ [| 1 |]; [| 2 |] ]
              [| 5; 1; 6; 7; 2 |], [| 0; 1; 3 |], [ [| 3 |]; [| 0; 1 |] ]
              [| 4; 3; 4 |], [| 0; 2 |], [ [| 2 |]; [| 0 |] ]
              [| 3; 2; 4; 2; 5 |], [| 0; 2; 4 |], [ [| 4 |]; [| 2 |]; [| 0 |] ]
              [| 512; 32; 8; 2 |], [| 0; 2 |], [ [| 0 |]; [| 1 |] ]
              [| 4; 3; 64 |], [| 0; 2 |], [ [| 2 |]; [| 0 |] ]
              [| 2; 3; 4; 32 |], [| 0; 2; 3 |], [ [| 2; 3 |]; [| 0 |] ]
              [| 5; 2; 3; 64 |], [| 1; 3 |], [ [| 3 |]; [| 1 |] ]
              [| 2; 40; 2; 1024 |], [| 0; 2; 3 |], [ [| 2; 3 |]; [| 0 |] ]
              [| 37; 3; 64 |], [| 0; 2 |], [ [| 2 |]; [| 0 |] ]
              [| 70; 16; 14; 14 |], [| 0; 2; 3 |], [ [| 2; 3 |]; [| 0 |] ]
              [| 1024; 64; 2; 2 |], [| 0; 2; 3 |], [ [| 0 |]; [| 1; 2 |] ]
              [| 300; 4; 40 |], [| 0; 2 |], [ [| 0 |]; [| 1 |] ]
              [| 8; 16; 64; 64 |], [| 0; 2; 3 |], [ [| 2; 3 |]; [| 0 |] ] ]
        for shape, axes, stages in cases do
            let n = Shape.numel shape
            let x = Array.init n (fun i -> (rng.NextDouble() * 2.0 - 1.0) * 10.0 ** float (i % 11 - 5))
            if n > 100 then
                x.[7] <- infinity
                x.[n / 2] <- nan
            let t = Tensor.create shape x
            let expected = (stages |> List.fold (fun acc stage -> Tensor.sumAxes stage false acc) t).ToArray()
            let kept = [| 0 .. shape.Length - 1 |] |> Array.filter (fun a -> not (Array.contains a axes))
            let letters = "abcde"
            let equation = letters.[.. shape.Length - 1] + "->" + String(kept |> Array.map (fun a -> letters.[a]))
            for how, ours in [ "Tensor.sumAxes", (Tensor.sumAxes axes false t).ToArray(); equation, (Einsum.contract equation [| t |]).ToArray() ] do
                Assert.Equal(expected.Length, ours.Length)
                for i in 0 .. ours.Length - 1 do
                    Assert.True(BitConverter.DoubleToInt64Bits ours.[i] = BitConverter.DoubleToInt64Bits expected.[i],
                                sprintf "%s on %A summed over %A, output %d: %.17g, the stages give %.17g" how shape axes i ours.[i] expected.[i])

    /// The exactly rounded sum, from a double-double running sum (its error is about n·u², far below a double's).
    let private exact (x: float[]) =
        let mutable hi, lo = 0.0, 0.0
        for v in x do
            let s = hi + v
            let bb = s - hi
            lo <- lo + ((hi - (s - bb)) + (v - bb))
            hi <- s
        hi + lo

    /// n·fl(v) rounded once: fl(v) = m·2^e exactly, so the product is an exact integer times a power of two.
    let private exactMultiple (v: float) (n: int) =
        let bits = BitConverter.DoubleToInt64Bits v
        let m = BigInteger((bits &&& 0xFFFFFFFFFFFFFL) ||| 0x10000000000000L)
        let e = int ((bits >>> 52) &&& 0x7FFL) - 1075
        Math.ScaleB(float (m * BigInteger(n)), e)

    [<Fact>]
    let ``the sum of a million equal values is within 2e-15 relative, by Tensor.sum and by einsum`` () =
        let x = Array.create 1_000_000 0.1
        let truth = exactMultiple 0.1 1_000_000
        let t = Tensor.create [| x.Length |] x
        for name, got in [ "Tensor.sum", Tensor.item (Tensor.sum t); "einsum i->", Tensor.item (Einsum.contract "i->" [| t |]) ] do
            let rel = abs (got - truth) / truth
            Assert.True(rel <= 2e-15, sprintf "%s: %.17g against %.17g, relative error %.3g" name got truth rel)

    /// From a thousand to a hundred million values, equal ones (where one running sum per lane errs most, its error
    /// growing linearly: 10⁸ of 0.1 that way are off by about 1e-10 relative) and uniform random ones: every decade
    /// stays within 2e-15 relative. The 10⁸ case holds 1.6 GB for a moment, so it runs alone.
    [<Fact>]
    let ``the error grows like log n, from a thousand to a hundred million values`` () =
        let sizes = [ 1_000; 10_000; 100_000; 1_000_000; 10_000_000; 100_000_000 ]
        let top = List.max sizes
        let rng = Random(5)
        let random = Array.init top (fun _ -> rng.NextDouble())
        let errors =
            [ for n in sizes do
                let r = if n = top then random else Array.sub random 0 n
                yield "random", n, Tensor.item (Tensor.sum (Tensor.create [| n |] r)), exact r
                yield "0.1", n, Tensor.item (Tensor.sum (Tensor.create [| n |] (Array.create n 0.1))), exactMultiple 0.1 n ]
        for kind, n, got, truth in errors do
            let rel = abs (got - truth) / truth
            Assert.True(rel <= 2e-15, sprintf "%s values, n = %d: %.17g against %.17g, relative error %.3g" kind n got truth rel)

    /// A middle-axis sum's order for one position, described as a tree: blocks of 32 rows each summed in order from
    /// +0; then the first 2^K blocks (2^K the largest power of two that fits) as a perfect pairwise tree, plus the
    /// rest the same way.
    let private middleReference (x: int -> float) (mid: int) =
        let blocks =
            [| for m0 in 0 .. 32 .. mid - 1 ->
                let mutable a = 0.0
                for m in m0 .. min mid (m0 + 32) - 1 do a <- a + x m
                a |]
        let rec tree (b: float[]) =
            if b.Length = 1 then b.[0]
            else
                let mutable h = 1
                while 2 * h <= b.Length do h <- 2 * h
                let cut = if h = b.Length then h / 2 else h
                tree b.[.. cut - 1] + tree b.[cut ..]
        if blocks.Length = 0 then 0.0 else tree blocks

    [<Fact>]
    let ``sums over a middle axis take blocks of 32 rows in order and the blocks pairwise, to the bit, on every remainder and split`` () =
        let rng = Random(14)
        // Rows around the block (31–33), around a power of two of blocks (64, 65, 96, 97, 1000), long (4,096 and 70,001:
        // many levels), and widths that take the 32-, 4- and 1-position groups, split over the cores or not.
        let cases = [ (1, 5, 1); (2, 3, 37); (3, 0, 9); (2, 31, 37); (2, 32, 37); (2, 33, 37); (1, 64, 70); (3, 65, 33)
                      (1, 96, 5); (2, 97, 36); (1, 1000, 300); (7, 64, 1100); (64, 256, 64); (1, 3, 200000); (1, 4096, 64)
                      (2, 70_001, 3); (1, 9, 2)
                      // Few columns over many rows: split over the cores by rows (groups of whole blocks, then the
                      // rest: none, under one block, several blocks and a part).
                      (1, 61_680, 17); (1, 2 * 65_536, 1); (1, 65_536 * 3 + 20, 4); (1, 100_000, 5); (1, 40_000, 33) ]
        for outer, mid, inner in cases do
            // Magnitudes over 12 decades, so that a change of order shows in the bits.
            let src = Array.init (outer * mid * inner) (fun i -> (rng.NextDouble() * 2.0 - 1.0) * 10.0 ** float (i % 13 - 6))
            let sums = Reductions.sumMiddle src outer mid inner
            Assert.Equal(outer * inner, sums.Length)
            for o in 0 .. outer - 1 do
                for t in 0 .. inner - 1 do
                    let expected = middleReference (fun m -> src.[(o * mid + m) * inner + t]) mid
                    if BitConverter.DoubleToInt64Bits expected <> BitConverter.DoubleToInt64Bits sums.[o * inner + t] then
                        Check.failf "%d×%d×%d at (%d, %d): %.17g vs %.17g" outer mid inner o t sums.[o * inner + t] expected
        Assert.Throws<ArgumentException>(fun () -> Functional.Kernels.Reduce.SumMiddle(Array.zeroCreate 10, 2, 3, 2, Array.zeroCreate 4)) |> ignore

    /// Columns of equal values (where one running sum per column errs most: 10⁶ rows of 0.1 in order are off by
    /// 1.3e-11 relative) and of uniform random ones, summed over the rows by Tensor.sumAxes, from a thousand rows to ten
    /// million: every column stays within 2e-15 relative. 33 columns take the 32-position group and a single one;
    /// 5 columns the 4-position group and a single one.
    [<Fact>]
    let ``sums over a leading axis err like log n, from a thousand to ten million rows, in every column`` () =
        let rng = Random(15)
        for rows, cols in [ (1_000, 33); (10_000, 33); (100_000, 33); (1_000_000, 33); (10_000_000, 5) ] do
            let random = Array.init (rows * cols) (fun _ -> rng.NextDouble())
            for kind, data in [ "random", random; "0.1", Array.create (rows * cols) 0.1 ] do
                let got = (Tensor.sumAxes [| 0 |] false (Tensor.create [| rows; cols |] data)).ToArray()
                for c in 0 .. cols - 1 do
                    let truth = if kind = "0.1" then exactMultiple 0.1 rows else exact (Array.init rows (fun r -> data.[r * cols + c]))
                    let rel = abs (got.[c] - truth) / truth
                    Assert.True(rel <= 2e-15, sprintf "%s values, %d rows, column %d of %d: %.17g against %.17g, relative error %.3g" kind rows c cols got.[c] truth rel)

    [<Fact>]
    let ``dot has the bits of the sum of the products, and a million products of 0.1 by 1 are within 2e-15`` () =
        // The products are summed as they are made, in the order of a stored run of them: short runs, several
        // blocks, and runs split over the cores (groups only, a rest of whole blocks and of a partial chunk).
        let rng = Random(16)
        let split = Functional.Kernels.Reduce.SplitFrom
        for n in [ 0; 1; 31; 1_057; 100_003; split; 65536 * 5 + 1024 * 3 + 17; 1_000_003 ] do
            let x = Array.init (n + 2) (fun _ -> (rng.NextDouble() * 2.0 - 1.0) * Math.Pow(10.0, float (rng.Next(-6, 7))))
            let y = Array.init (n + 5) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
            let a = Tensor.create [| n |] x.[2..]
            let b = Tensor.create [| n |] y.[5..]
            let expected = BitConverter.DoubleToInt64Bits (Tensor.item (Tensor.sum (Tensor.mul a b)))
            let dotted = BitConverter.DoubleToInt64Bits (Tensor.dot a b)
            Assert.True((dotted = expected), sprintf "Tensor.dot, n = %d" n)
            let products = Array.init n (fun i -> x.[2 + i] * y.[5 + i])
            Assert.Equal(BitConverter.DoubleToInt64Bits (Functional.Kernels.Reduce.Sum(products, 0, n)), expected)
            let fromOffsets = BitConverter.DoubleToInt64Bits (Functional.Kernels.Reduce.Dot(x, 2, y, 5, n))
            Assert.True((fromOffsets = expected), sprintf "Reduce.Dot from offsets, n = %d" n)
        let n = 1_000_000
        let got = Tensor.dot (Tensor.create [| n |] (Array.create n 0.1)) (Tensor.create [| n |] (Array.create n 1.0))
        let truth = exactMultiple 0.1 n
        Assert.True(abs (got - truth) / truth <= 2e-15, sprintf "%.17g against %.17g" got truth)

    /// A constant row normalises to 0 (0/0 = NaN with ε = 0, as PyTorch's): the first mean, fl(Σx)/n, is off by the sum's
    /// rounding, so without the correcting pass x − μ was a few ulps and y far from 0.
    [<Fact>]
    let ``layer norm of a constant row is 0, its mean corrected by a second pass`` () =
        for c, n, epsilon in [ (0.1, 3, 1e-12); (1e6 + 0.1, 768, 1e-12); (3.3, 768, 1e-5); (123.456, 1000, 1e-12); (0.1, 3, 0.0) ] do
            let x = Array.create (2 * n) c
            let y = Array.zeroCreate (2 * n)
            Functional.Kernels.LayerNorm.Forward(x, y, 2, n, epsilon)
            for v in y do
                if epsilon = 0.0 then Assert.True(Double.IsNaN v, sprintf "%g × %d, ε = 0: %g" c n v)
                else Assert.True((v = 0.0), sprintf "%g × %d, ε = %g: %g" c n epsilon v)
        // Through the op, with its gradient: a constant row's y is 0, and so is ∂ sum(w·y)/∂x's mean along the row.
        let x = Value.constant (Tensor.create [| 1; 768 |] (Array.create 768 (1e6 + 0.1)))
        let y = Normalization.layerNorm 1e-12 x
        Assert.True(Tensor.toArray y.Tensor |> Array.forall ((=) 0.0))

    /// Rows of finite entries whose sum or sum of squares overflows normalise as smaller ones do (they were NaN, or ±0
    /// for a spread past 1e154): the moments are taken on the entries scaled down by a power of two. Rows holding NaN
    /// or ∞ stay NaN.
    [<Fact>]
    let ``layer norm of rows whose sums overflow is what the same rows scaled down give`` () =
        let norm (row: float[]) (epsilon: float) =
            let y = Array.zeroCreate row.Length
            Functional.Kernels.LayerNorm.Forward(row, y, 1, row.Length, epsilon)
            y
        let close (expected: float[]) (actual: float[]) =
            Assert.True(Array.forall2 (fun (e: float) a -> abs (e - a) <= 1e-12 * max 1.0 (abs e)) expected actual, sprintf "%A against %A" actual expected)
        close [| 0.0; 0.0 |] (norm [| 1e308; 1e308 |] 1e-5)
        close [| -1.0; 1.0 |] (norm [| -1e160; 1e160 |] 1e-5)
        close [| 1.0; -1.0 |] (norm [| 1e308; -1e308 |] 0.0)
        let row = [| 3e307; -1e307; 8e307; 5e306; 1.5e308 |]
        close (norm (row |> Array.map (fun v -> v * 1e-300)) 0.0) (norm row 0.0)
        Assert.True(norm [| 1e308; nan |] 1e-5 |> Array.forall Double.IsNaN)
        // The backward pass recomputes the same r (no saved r): finite, and 0 for a constant row's uniform adjoint.
        let x, y, g, z = [| 1e308; 1e308; 1e308 |], Array.zeroCreate 3, [| 1.0; 1.0; 1.0 |], Array.zeroCreate 3
        Functional.Kernels.LayerNorm.Forward(x, y, 1, 3, 1e-5)
        Functional.Kernels.LayerNorm.Backward(x, y, g, z, 1, 3, 1e-5)
        Assert.True(z |> Array.forall ((=) 0.0), sprintf "%A" z)

    /// Layer norm's kernel sums its centred squares and g·y as it makes them (no stored pass): the bits of its steps
    /// written out with stored arrays, on rows with a vector tail, a partial chunk, one block and several.
    [<Fact>]
    let ``layer norm's kernel has the bits of its steps written out, at every length class`` () =
        let rng = Random(21)
        let sum (a: float[]) = Functional.Kernels.Reduce.Sum(a, 0, a.Length)
        for rows, n in [ (3, 1); (2, 7); (2, 8); (3, 13); (3, 33); (2, 1000); (2, 1025); (2, 2100) ] do
            let x = Array.init (rows * n) (fun _ -> rng.NextDouble() * 4.0 - 1.0)
            let g = Array.init (rows * n) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
            let y = Array.zeroCreate (rows * n)
            let z = Array.zeroCreate (rows * n)
            Functional.Kernels.LayerNorm.Forward(x, y, rows, n, 1e-5)
            Functional.Kernels.LayerNorm.Backward(x, y, g, z, rows, n, 1e-5)
            for r in 0 .. rows - 1 do
                let xr, gr, yr = x.[r * n .. r * n + n - 1], g.[r * n .. r * n + n - 1], y.[r * n .. r * n + n - 1]
                let first = sum xr / float n
                let mean = first + sum (xr |> Array.map (fun v -> v - first)) / float n
                let rstd = 1.0 / Math.Sqrt(sum (xr |> Array.map (fun v -> let c = v - mean in c * c)) / float n + 1e-5)
                let expectedY = xr |> Array.map (fun v -> (v - mean) * rstd)
                let meanG, meanGy = sum gr / float n, sum (Array.map2 (*) gr yr) / float n
                let expectedZ = Array.init n (fun j -> rstd * ((gr.[j] - meanG) - yr.[j] * meanGy))
                let bitsOf (a: float[]) = a |> Array.map BitConverter.DoubleToInt64Bits
                Assert.True((bitsOf expectedY = bitsOf yr), sprintf "forward, %d rows of %d, row %d" rows n r)
                Assert.True((bitsOf expectedZ = bitsOf z.[r * n .. r * n + n - 1]), sprintf "backward, %d rows of %d, row %d" rows n r)
