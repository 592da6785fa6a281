namespace Functional.Tests

open Xunit
open FsCheck
open FsCheck.FSharp
open Functional.Core

/// The packed Vector512 kernel against the simple loop: edges, skinny and tall shapes, k across blocks.
[<Collection("process-wide state")>]
module KernelsGemmTests =

    type GemmCase = { Batch: int; M: int; K: int; N: int; Seed: int }

    let sizes = Gen.frequency [ 3, Gen.choose (1, 40); 2, Gen.choose (41, 140); 1, Gen.choose (250, 300) ]

    [<FactNeeding(Need.PackedGemm)>]
    let ``the packed kernel equals the simple loop to 1e-12 relative`` () =
        let arb =
            Arb.fromGen (gen {
                let! b = Gen.choose (1, 3)
                let! m = sizes
                let! k = sizes
                let! n = sizes
                let! seed = Gen.choose (0, 100000)
                return { Batch = b; M = m; K = k; N = n; Seed = seed } })
        Check.forAll "gemm packed vs simple" 3UL 60 arb (fun c ->
            let a = (Tensor.random c.Seed [| c.Batch; c.M; c.K |]).ToArray()
            let b = (Tensor.random (c.Seed + 1) [| c.Batch; c.K; c.N |]).ToArray()
            let slow = GemmPaths.simple a b c.Batch c.M c.K c.N
            let shape = [| c.Batch; c.M; c.N |]
            // The packed kernel itself on every shape (one to three parts): the library sends only some shapes
            // there. Then the kernel the library chooses for the shape.
            for path, fast in [ "packed", GemmPaths.packedWithParts (1 + c.Seed % 3) a b c.Batch c.M c.K c.N
                                "chosen", Gemm.batched a b c.Batch c.M c.K c.N ] do
                if not (Tensor.allClose 1e-12 1e-12 (Tensor.create shape fast) (Tensor.create shape slow)) then
                    Check.failf "%A, %s kernel: max |Δ| %g" c path (Tensor.maxAbsDiff (Tensor.create shape fast) (Tensor.create shape slow)))
        |> ignore

    [<Fact>]
    let ``matrix-vector and vector-matrix shapes equal the simple loop`` () =
        for (batch, m, k, n) in [ (1, 2000, 300, 1); (3, 17, 33, 1); (1, 1, 500, 700); (2, 5, 1000, 3); (1, 3, 15, 1) ] do
            let a = (Tensor.random 1 [| batch; m; k |]).ToArray()
            let b = (Tensor.random 2 [| batch; k; n |]).ToArray()
            let fast = Tensor.create [| batch; m; n |] (Gemm.batched a b batch m k n)
            let slow = Tensor.create [| batch; m; n |] (GemmPaths.simple a b batch m k n)
            Assert.True(Tensor.allClose 1e-12 1e-12 fast slow, sprintf "%d×%d×%d×%d" batch m k n)

    /// Values over twenty orders of magnitude, so that another order of a sum's terms changes its bits.
    let private values (seed: int) (count: int) =
        let r = System.Random(seed)
        Array.init count (fun _ -> (r.NextDouble() - 0.5) * 10.0 ** float (r.Next(-10, 10)))

    /// The dot-product kernel's documented order (Gemv) for element j of flat row t, against Bt (B transposed), over
    /// elements p0 … p0 + kc − 1: sixteen running sums by (p − p0) mod 16, folded as
    /// w_i = (s_i + s_(i+8)) + (s_(i+4) + s_(i+12)) for i = 0…3, then (w0 + w2) + (w1 + w3), then the tail; a product
    /// split along k (Gemv.KChunks) adds its chunks' results in order.
    let private gemvReference (a: double[]) (bt: double[]) (batch: int) (m: int) (k: int) (n: int) (t: int) (j: int) =
        let range p0 kc =
            let s = Array.zeroCreate<double> 16
            let whole = kc / 16 * 16
            let x p = bt.[((t / m) * n + j) * k + p0 + p]
            for p in 0 .. whole - 1 do
                s.[p % 16] <- System.Math.FusedMultiplyAdd(a.[t * k + p0 + p], x p, s.[p % 16])
            let w i = (s.[i] + s.[i + 8]) + (s.[i + 4] + s.[i + 12])
            let mutable total = (w 0 + w 2) + (w 1 + w 3)
            for p in whole .. kc - 1 do
                total <- System.Math.FusedMultiplyAdd(a.[t * k + p0 + p], x p, total)
            total
        let struct (chunks, per) = Functional.Kernels.Gemv.KChunks(batch * m, k, n)
        Array.init chunks (fun ch -> range (ch * per) (min per (k - ch * per))) |> Array.reduce (+)

    [<Fact>]
    let ``products with a few columns follow one summation order to the bit, whatever the vector width and the split`` () =
        // Without vector FMA (the scalar fallback) the kernel never runs: the simple one takes these shapes.
        if not Functional.Kernels.Gemv.Supported then Assert.False(Gemm.gemvApplies 100 16 1) else
        for (batch, m, k, n) in [ (1, 3, 16, 1); (1, 7, 17, 2); (2, 5, 47, 3); (1, 64, 64, 1); (3, 9, 1000, 7)
                                  (1, 300, 1023, 1); (2, 200, 700, 1); (1, 400, 300, 3); (1, 1, 5000, 5)
                                  (1, 1, 100003, 3); (1, 2, 140000, 1); (3, 1, 90000, 2); (1, 1, 8191, 7)
                                  (2, 3, 15, 2); (1, 1, 33, 3); (4, 70, 200, 2); (1, 2, 60001, 3)
                                  (1, 3, 1000, 4); (2, 2, 70001, 4); (1, 1, 31, 4); (1, 3, 1000, 8); (2, 2, 70001, 8); (1, 1, 47, 8)
                                  (1, 3, 1000, 5); (2, 2, 9001, 6); (1, 1, 47, 7); (3, 2, 2049, 7) ] do
            let a = values (m + k) (batch * m * k)
            let bt = values (m - k) (batch * n * k)
            let c = Array.zeroCreate<double> (batch * m * n)
            Functional.Kernels.Gemv.MultiplyColumns(a, bt, c, batch, m, k, n)
            // Two to four columns are also read from B as stored (k×n), interleaved: the same order, so the same bits.
            let interleaved =
                if not (Functional.Kernels.Gemv.Interleaves n) then None else
                let b = Array.init (batch * k * n) (fun q -> let bi, p, j = q / (k * n), (q / n) % k, q % n in bt.[(bi * n + j) * k + p])
                let ci = Array.zeroCreate<double> (batch * m * n)
                Functional.Kernels.Gemv.MultiplyInterleaved(a, b, ci, batch, m, k, n)
                Some ci
            for t in 0 .. batch * m - 1 do
                for j in 0 .. n - 1 do
                    let expected = gemvReference a bt batch m k n t j
                    for name, (r: double[]) in List.choose id [ Some("transposed", c); interleaved |> Option.map (fun ci -> "interleaved", ci) ] do
                        Assert.True(System.BitConverter.DoubleToInt64Bits r.[t * n + j] = System.BitConverter.DoubleToInt64Bits expected,
                                    sprintf "%s %A, row %d, column %d: %.17g, expected %.17g" name (batch, m, k, n) t j r.[t * n + j] expected)
        let chunksOf total k n = let struct (chunks, _) = Functional.Kernels.Gemv.KChunks(total, k, n) in chunks
        Assert.True(chunksOf 1 100003 3 > 1 && chunksOf 3 90000 2 > 1 && chunksOf 4 100000 3 = 1 && chunksOf 1 8191 7 = 1)
        let interleaves = System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported
        Assert.Equal(interleaves, Functional.Kernels.Gemv.Interleaves 3)
        Assert.True(not (Functional.Kernels.Gemv.ReadsInterleaved(1023, 3)) && Functional.Kernels.Gemv.ReadsInterleaved(1024, 2) = interleaves
                    && Functional.Kernels.Gemv.ReadsInterleaved(5000, 4) = interleaves && not (Functional.Kernels.Gemv.ReadsInterleaved(5000, 9)))
        // Four columns and fewer rows than a register tile reach it on every vector width (without AVX-512 the packed
        // kernel took them: 3×200,000×4 at 0.75× TorchSharp); a full tile of rows with a short k does not on four lanes.
        Assert.Equal(interleaves, Gemm.gemvApplies 3 5000 4)
        // Five to eight columns too (with AVX-512 one Vector512 per row of B, masked below eight; on four lanes two
        // passes), below the packed kernel's row tile.
        for n in 5 .. 8 do Assert.Equal(interleaves, Functional.Kernels.Gemv.Interleaves n)
        // A single row and more than four columns on four lanes (two passes over B) stay with the simple kernel.
        Assert.Equal(interleaves && Functional.Kernels.PackedGemm.Nr / 2 > 4, Gemm.gemvApplies 1 5000 7)
        Assert.Equal(interleaves, Gemm.gemvApplies 2 5000 7)
        Assert.Equal(Functional.Kernels.Gemv.Interleaves 8, Gemm.gemvApplies 3 5000 8)
        Assert.Equal(Functional.Kernels.Gemv.Supported && Functional.Kernels.PackedGemm.Nr / 2 > 4, Gemm.gemvApplies Gemm.MR 100 4)
        // It takes what the packed kernel never does: fewer columns than half its panel, k from 16.
        let half = Functional.Kernels.PackedGemm.Nr / 2
        Assert.True(Gemm.gemvApplies 100 16 1 && Gemm.gemvApplies 1 16 (half - 1) && not (Gemm.gemvApplies 100 15 1)
                    && not (Gemm.gemvApplies 100 16 half))

    [<Fact>]
    let ``a vector times a matrix is split along k from its shape alone, the chunks' rows added in order`` () =
        let chunksOf k n = let struct (chunks, _) = Functional.Kernels.SimpleGemm.RowChunks(k, n) in chunks
        Assert.Equal(1, chunksOf 255 4096)
        Assert.Equal(1, chunksOf 4096 63)
        for (k, n) in [ (2048, 2048); (600, 1000); (4099, 67); (512, 512); (256, 4096) ] do
            let struct (chunks, per) = Functional.Kernels.SimpleGemm.RowChunks(k, n)
            Assert.True(chunks > 1, sprintf "k %d, n %d is not split" k n)
            let x = values k k
            let b = values n (k * n)
            let split = GemmPaths.simple x b 1 1 k n
            // Each chunk's row as the first of two rows (two rows are never split along k).
            let chunkRow t =
                let p0 = t * per
                let kc = min per (k - p0)
                let xs = Array.append (Array.sub x p0 kc) (Array.zeroCreate kc)
                Array.sub (GemmPaths.simple xs (Array.sub b (p0 * n) (kc * n)) 1 2 kc n) 0 n
            let expected = Array.init chunks chunkRow |> Array.reduce (Array.map2 (+))
            for j in 0 .. n - 1 do
                Assert.True(System.BitConverter.DoubleToInt64Bits split.[j] = System.BitConverter.DoubleToInt64Bits expected.[j],
                            sprintf "k %d, n %d, column %d: %.17g against %.17g" k n j split.[j] expected.[j])

    /// A column's result does not depend on its position in the row: the unpacked kernel's scalar tail fused its
    /// products where the eight-lane body does (a tail taken apart gave 0 where the body gave 2⁻⁶⁰, and ∞ for 5e307).
    [<Fact>]
    let ``every column of a small product takes the same operations, tail included`` () =
        for n in [ 9; 13; 17; 3 ] do
            for a, b0, b1 in [ [| -(1.0 + 2.0 ** -29.0); 1.0 + 2.0 ** -30.0 |], 1.0, 1.0 + 2.0 ** -30.0
                               [| -1.5e308; 1e308 |], 1.0, 2.0 ] do
                let bs = Tensor.create [| 2; n |] (Array.append (Array.create n b0) (Array.create n b1))
                for m in [ 1; 3 ] do
                    let am = Tensor.create [| m; 2 |] (Array.concat (List.replicate m a))
                    let c = (Einsum.contract "ij,jk->ik" [| am; bs |]).ToArray()
                    let first = System.BitConverter.DoubleToInt64Bits c.[0]
                    c |> Array.iteri (fun j v ->
                        if System.BitConverter.DoubleToInt64Bits v <> first then
                            Check.failf "n = %d, m = %d, a = %A: element %d is %g, element 0 %g" n m a j v c.[0])

    [<Fact>]
    let ``operands read transposed equal explicit transposes, across the K and M blocks too`` () =
        // The last seven have few columns: the dot-product kernel's, B transposed, read as stored, or (k ≥ 1024, two or
        // three columns) read interleaved.
        for (batch, m, k, n) in [ (1, 70, 90, 50); (3, 33, 300, 40); (2, 9, 17, 130); (1, 5, 7, 3); (1, Functional.Kernels.Tuning.GemmBlocks.MC + 19, Functional.Kernels.Tuning.GemmBlocks.KC + 37, 70)
                                  (1, 2000, 300, 2); (3, 17, 33, 3); (2, 1, 500, 3); (1, 5, 16, 2); (1, 40, 1000, 1); (2, 3, 1500, 2); (1, 1, 3001, 3) ] do
            for transA in [ false; true ] do
                for transB in [ false; true ] do
                    let a = Tensor.random 1 (if transA then [| batch; k; m |] else [| batch; m; k |])
                    let b = Tensor.random 2 (if transB then [| batch; n; k |] else [| batch; k; n |])
                    let a' = if transA then Tensor.permute [| 0; 2; 1 |] a else a
                    let b' = if transB then Tensor.permute [| 0; 2; 1 |] b else b
                    let fast = Tensor.create [| batch; m; n |] (Gemm.batchedT transA transB (a.ToArray()) (b.ToArray()) batch m k n)
                    let slow = Tensor.create [| batch; m; n |] (GemmPaths.simple (a'.ToArray()) (b'.ToArray()) batch m k n)
                    Assert.True(Tensor.allClose 1e-12 1e-12 fast slow, sprintf "%A" (batch, m, k, n, transA, transB))

    [<FactNeeding(Need.PackedGemm)>]
    let ``a long k split into chunks equals the simple loop and the unsplit kernel, with the same bits on every run`` () =
        let bits (t: Tensor) = t.ToArray() |> Array.map System.BitConverter.DoubleToInt64Bits
        for (m, k, n) in [ (8, 2 * Functional.Kernels.PackedGemm.KChunk, 8); (13, 40000, 29); (64, 20007, 70); (5, 70001, 9) ] do
            Assert.True(Functional.Kernels.PackedGemm.SplitsK(m, k, n), sprintf "%A is not split" (m, k, n))
            // Only the packed kernel splits k: the library must send these shapes there.
            Assert.True(not (Gemm.gemvApplies m k n) && Gemm.packedApplies m k n, sprintf "%A does not take the packed kernel" (m, k, n))
            for transA in [ false; true ] do
                for transB in [ false; true ] do
                    let a = Tensor.random (m + k) (if transA then [| 1; k; m |] else [| 1; m; k |])
                    let b = Tensor.random (n + k) (if transB then [| 1; n; k |] else [| 1; k; n |])
                    let a' = (if transA then Tensor.permute [| 0; 2; 1 |] a else a).ToArray()
                    let b' = (if transB then Tensor.permute [| 0; 2; 1 |] b else b).ToArray()
                    let run () = Gemm.batchedT transA transB (a.ToArray()) (b.ToArray()) 1 m k n
                    let split = run ()
                    let what = sprintf "%A" (m, k, n, transA, transB)
                    // Sums of k terms in different orders differ by roundings of their partial sums: the bound
                    // scales with Σ|a|·|b|, not with the (possibly cancelled) result.
                    let scale = GemmPaths.simple (Array.map abs a') (Array.map abs b') 1 m k n
                    let near (label: string) (other: double[]) =
                        for i in 0 .. split.Length - 1 do
                            if abs (split.[i] - other.[i]) > 1e-14 * scale.[i] then
                                Assert.Fail(sprintf "%s: %s, element %d: %.17g vs %.17g (Σ|a||b| = %g)" what label i split.[i] other.[i] scale.[i])
                    near "against the simple loop" (GemmPaths.simple a' b' 1 m k n)
                    Functional.Kernels.Tuning.GemmSplitK <- false
                    let unsplit = try run () finally Functional.Kernels.Tuning.GemmSplitK <- true
                    near "against the unsplit kernel" unsplit
                    // The chunks run on whichever core and in whichever order; their sum must not notice.
                    for _ in 1 .. 3 do Assert.True((bits (Tensor.create [| m * n |] (run ())) = bits (Tensor.create [| m * n |] split)), what + ": bits differ between runs")

    [<FactNeeding(Need.PackedGemm)>]
    let ``a wide product crosses the N block`` () =
        let m, k, n = 9, 70, Functional.Kernels.Tuning.GemmBlocks.NC + 37
        // The N block is the packed kernel's: the library must send this shape there.
        Assert.True(not (Gemm.gemvApplies m k n) && Gemm.packedApplies m k n)
        let a = (Tensor.random 1 [| m; k |]).ToArray()
        let b = (Tensor.random 2 [| k; n |]).ToArray()
        let fast = Tensor.create [| m; n |] (Gemm.batched a b 1 m k n)
        let slow = Tensor.create [| m; n |] (GemmPaths.simple a b 1 m k n)
        Assert.True(Tensor.allClose 1e-12 1e-12 fast slow)

    [<Fact>]
    let ``the packed kernel overwrites whatever the output held, zero signs included`` () =
        // The output may come uninitialised: NaN-filled C must give exactly what a cleared C gives, across
        // the K block (later blocks add) and at edge tiles. Rows of A that are −0 make every product −0; a
        // cleared C turned those sums into +0, and so must the packed kernel.
        for parts in [ 1; 2 ] do
            for (batch, m, k, n) in [ (1, 37, Functional.Kernels.Tuning.GemmBlocks.KC + 5, 45); (2, 16, 16, 16); (3, 9, 40, 21); (1, 24, 0, 20) ] do
                let a = (Tensor.random 1 [| batch; m; k |]).ToArray()
                for i in 0 .. min (k - 1) (a.Length - 1) do a.[i] <- -0.0
                let b = (Tensor.random 2 [| batch; k; n |]).ToArray() |> Array.map abs
                let cleared = Array.zeroCreate (batch * m * n)
                Functional.Kernels.PackedGemm.Multiply(false, false, parts, a, b, cleared, batch, m, k, n)
                let dirty = Array.create (batch * m * n) nan
                Functional.Kernels.PackedGemm.Multiply(false, false, parts, a, b, dirty, batch, m, k, n)
                let simple = GemmPaths.simple a b batch m k n
                let bits (xs: double[]) = xs |> Array.map System.BitConverter.DoubleToInt64Bits
                Assert.Equal<int64[]>(bits cleared, bits dirty)
                if k > 0 then Assert.True(System.Double.IsPositive simple.[0] && simple.[0] = 0.0, "simple path gives +0")
                Assert.True(Tensor.allClose 1e-12 1e-12 (Tensor.create [| batch; m; n |] dirty) (Tensor.create [| batch; m; n |] simple), sprintf "%A" (batch, m, k, n, parts))
                Assert.Equal<int64[]>(bits (Array.sub simple 0 n), bits (Array.sub dirty 0 n))

    [<Fact>]
    let ``the simple kernel overwrites whatever the output held, zero signs included`` () =
        // Its outputs come uninitialised too (p = 0 stores): a NaN-filled C must give exactly what a cleared C
        // gives, for tiny products one per row, the elementwise case (1×1×1), k = 0 and the multi-task path;
        // a product that is −0 is stored as +0, as the packed kernel and a sum from zero give.
        for (batch, m, k, n) in [ (5, 3, 4, 7); (70000, 1, 1, 1); (300000, 1, 1, 1); (3, 4, 0, 5); (4000, 2, 3, 9); (2, 300, 2, 200) ] do
            let a = (Tensor.random 3 [| batch; m; k |]).ToArray()
            // The first row of the first product all −0: each of its products is −0 (b ≥ 0).
            for p in 0 .. min k a.Length - 1 do a.[p] <- -0.0
            let b = (Tensor.random 4 [| batch; k; n |]).ToArray() |> Array.map abs
            let run (c: double[]) = Functional.Kernels.SimpleGemm.Multiply(a, b, c, batch, m, k, n); c
            let cleared = run (Array.zeroCreate (batch * m * n))
            let dirty = run (Array.create (batch * m * n) nan)
            let bits (xs: double[]) = xs |> Array.map System.BitConverter.DoubleToInt64Bits
            Assert.Equal<int64[]>(bits cleared, bits dirty)
            Assert.True(System.Double.IsPositive dirty.[0] && dirty.[0] = 0.0, sprintf "%A: first element %g" (batch, m, k, n) dirty.[0])
            // Against the plain triple loop.
            let expected = Array.init (batch * m * n) (fun idx ->
                let t, i, j = idx / (m * n), idx % (m * n) / n, idx % n
                let mutable s = 0.0
                for p in 0 .. k - 1 do s <- s + a.[(t * m + i) * k + p] * b.[(t * k + p) * n + j]
                s)
            Assert.True(Tensor.allClose 1e-12 1e-15 (Tensor.create [| batch; m; n |] dirty) (Tensor.create [| batch; m; n |] expected), sprintf "%A" (batch, m, k, n))

    [<Fact>]
    let ``the simple kernel's four-row passes equal one row at a time bit for bit`` () =
        // Every remainder of k by 4 (the first group stores, later ones add) and of n by 8 (scalar tails),
        // through strided views too.
        for (batch, m, k, n) in [ (3, 2, 1, 9); (2, 3, 4, 8); (2, 5, 7, 13); (1, 1, 512, 512); (4, 3, 9, 31); (2, 1, 6, 7); (70, 2, 5, 17) ] do
            let a = (Tensor.random (k + 1) [| batch; m; k |]).ToArray()
            let b = (Tensor.random (n + 2) [| batch; k; n |]).ToArray() |> Array.mapi (fun i x -> if i % 11 = 0 then -x * 1e-3 else x)
            let run grouped =
                let c = Array.create (batch * m * n) nan
                Functional.Kernels.Tuning.SimpleGemmGroupRows <- grouped
                try Functional.Kernels.SimpleGemm.Multiply(a, b, c, batch, m, k, n)
                finally Functional.Kernels.Tuning.SimpleGemmGroupRows <- true
                c |> Array.map System.BitConverter.DoubleToInt64Bits
            Assert.True((run true = run false), sprintf "%A" (batch, m, k, n))

    [<Fact>]
    let ``the simple kernel's column parts equal a task per row bit for bit`` () =
        // A few rows over a large B, shared out by columns with the rows taken together: every remainder of k by 4
        // and of n by 8 (parts end at multiples of 8 but the last), strided views too, an output full of NaN.
        for (m, k, n, strided) in [ (2, 1024, 512, false); (3, 515, 1021, false); (2, 1030, 777, false); (5, 600, 1000, true); (8, 601, 1450, false); (2, 511, 1030, true); (3, 259, 4099, false) ] do
            let struct (parts, _) = Functional.Kernels.SimpleGemm.ColumnParts(int64 m, k, n)
            Assert.True(parts > 1, sprintf "%A takes the column parts" (m, k, n))
            let lda, ldb = (if strided then k + 3 else k), (if strided then n + 9 else n)
            let aOff, bOff = (if strided then 7L else 0L), (if strided then 5L else 0L)
            let a = (Tensor.random (k + m) [| int aOff + m * lda |]).ToArray()
            let b = (Tensor.random (n + 1) [| int bOff + k * ldb |]).ToArray() |> Array.mapi (fun i x -> if i % 13 = 0 then -x * 1e-3 else x)
            for p in 0 .. k - 1 do a.[int aOff + p] <- -0.0
            let run columns =
                let c = Array.create (m * n) nan
                Functional.Kernels.Tuning.SimpleGemmColumns <- columns
                try
                    if strided then Functional.Kernels.SimpleGemm.MultiplyStrided(a, [| aOff |], lda, b, [| bOff |], ldb, c, 1, m, k, n)
                    else Functional.Kernels.SimpleGemm.Multiply(a, b, c, 1, m, k, n)
                finally Functional.Kernels.Tuning.SimpleGemmColumns <- true
                c |> Array.map System.BitConverter.DoubleToInt64Bits
            let together, byRow = run true, run false
            Assert.True((together = byRow), sprintf "%A" (m, k, n, strided))
            Assert.Equal(0L, together.[0])

    [<FactNeeding(Need.PackedGemm)>]
    let ``small products read in place equal the packed kernel bit for bit`` () =
        // Up to PackedGemm.InPlaceMax the kernel reads A and B where they are; it must sum exactly as the packed
        // path does (edges, transposed A, one or several parts; Vector512 and, in CI's AVX2 run, Vector256 tiles,
        // four-row ones for the rows six-row tiles leave: 10 = 6 + 4, 26 = …, 4, 4, 4 alone, with edge columns).
        for (batch, m, k, n) in [ (1, 16, 16, 16); (2, 32, 32, 32); (3, 13, 50, 37); (1, 128, 128, 128); (2, 8, 1, 16); (1, 120, 511, 100); (1, 127, 9, 128); (1, 256, 256, 256); (2, 200, 64, 250); (1, 10, 20, 24); (2, 22, 33, 17); (1, 4, 7, 9); (1, 26, 64, 40) ] do
            for transA in [ false; true ] do
              for transB in [ false; true ] do
                for parts in [ 1; 2 ] do
                    let a = (Tensor.random 3 [| batch * m * k |]).ToArray()
                    let b = (Tensor.random 4 [| batch * k * n |]).ToArray()
                    let run inPlace =
                        let c = Array.create (batch * m * n) nan
                        Functional.Kernels.Tuning.GemmInPlace <- inPlace
                        try Functional.Kernels.PackedGemm.Multiply(transA, transB, parts, a, b, c, batch, m, k, n)
                        finally Functional.Kernels.Tuning.GemmInPlace <- true
                        c |> Array.map System.BitConverter.DoubleToInt64Bits
                    Assert.True((run true = run false), sprintf "%A" (batch, m, k, n, transA, transB, parts))

    /// Each element of C as the packed kernel sums it: fused multiply-adds in order p = 0..k−1, from +0.
    let private fmaInOrder (transA: bool) (transB: bool) (a: double[]) (b: double[]) batch m k n =
        Array.init (batch * m * n) (fun idx ->
            let t, i, j = idx / (m * n), idx % (m * n) / n, idx % n
            let mutable s = 0.0
            for p in 0 .. k - 1 do
                let x = if transA then a.[(t * k + p) * m + i] else a.[(t * m + i) * k + p]
                let y = if transB then b.[(t * n + j) * k + p] else b.[(t * k + p) * n + j]
                s <- System.Math.FusedMultiplyAdd(x, y, s)
            s)

    [<FactNeeding(Need.PackedGemm)>]
    let ``any cache blocks give the same bits: one fused sum per element in order of k`` () =
        // The blocks follow the CPU (GemmBlocking); a result must not. Shapes cross every block edge of the
        // blockings tried (k across KC, rows across MC, columns across NC, edge tiles), on one and two parts.
        // (1, 500, 900, 40) crosses KC 256 and MC 128.
        let blockings =
            [ Functional.Kernels.GemmBlocking.Measured
              Functional.Kernels.GemmBlocking(128, 64, 256)
              Functional.Kernels.GemmBlocking(37, 24, 48)
              Functional.Kernels.GemmBlocking(256, 512, 2048)
              // What the rule gives an Intel Xeon with a 2 MB L2 (the test below).
              Functional.Kernels.GemmBlocking(256, 128, 1024) ]
        let saved = Functional.Kernels.Tuning.GemmBlocks
        try
            for (batch, m, k, n) in [ (1, 70, 300, 90); (2, 33, 129, 50); (1, 9, 1100, 270); (1, 300, 40, 17); (3, 8, 77, 16); (1, 500, 900, 40) ] do
                for transA in [ false; true ] do
                  for transB in [ false; true ] do
                    for parts in [ 1; 2 ] do
                        let a = (Tensor.random (m + k) [| batch * m * k |]).ToArray()
                        let b = (Tensor.random (n + k) [| batch * k * n |]).ToArray()
                        let expected = fmaInOrder transA transB a b batch m k n |> Array.map System.BitConverter.DoubleToInt64Bits
                        for blocks in blockings do
                            Functional.Kernels.Tuning.GemmBlocks <- blocks.Checked()
                            let c = Array.create (batch * m * n) nan
                            Functional.Kernels.PackedGemm.Multiply(transA, transB, parts, a, b, c, batch, m, k, n)
                            let got = c |> Array.map System.BitConverter.DoubleToInt64Bits
                            if got <> expected then
                                let i = Array.zip got expected |> Array.findIndex (fun (x, y) -> x <> y)
                                Assert.Fail(sprintf "%A with %O: element %d is %.17g, the in-order fused sum %.17g" (batch, m, k, n, transA, transB, parts) blocks i c.[i] (System.BitConverter.Int64BitsToDouble expected.[i]))
        finally Functional.Kernels.Tuning.GemmBlocks <- saved

    [<Fact>]
    let ``cache blocks the tiles cannot use are refused`` () =
        for bad in [ Functional.Kernels.GemmBlocking(0, 256, 1024); Functional.Kernels.GemmBlocking(512, 100, 1024); Functional.Kernels.GemmBlocking(512, 256, 1000); Functional.Kernels.GemmBlocking(512, 0, 1024) ] do
            Assert.Throws<System.ArgumentOutOfRangeException>(fun () -> bad.Checked() |> ignore) |> ignore
        // The rule per CPU kind: Zen 4 keeps the blocks measured there; Zen 5 (family 26 model 2: 48 KB L1d,
        // 1 MB L2) gets A's block in a quarter of L2; an Intel Xeon with full-width AVX-512 (family 6 model 207:
        // 48 KB L1d, 2 MB L2) gets KC 256 and A's block in an eighth of L2.
        let zen4 = Functional.Kernels.CpuInfo("AuthenticAMD", 25, 17, 32 * 1024, 1024 * 1024)
        let zen5 = Functional.Kernels.CpuInfo("AuthenticAMD", 26, 2, 48 * 1024, 1024 * 1024)
        let xeon = Functional.Kernels.CpuInfo("GenuineIntel", 6, 207, 48 * 1024, 2048 * 1024)
        Assert.Equal(Functional.Kernels.GemmBlocking.Measured, Functional.Kernels.GemmBlocking.For(zen4, true))
        Assert.Equal(Functional.Kernels.GemmBlocking(512, 64, 1024), Functional.Kernels.GemmBlocking.For(zen5, true))
        Assert.Equal(Functional.Kernels.GemmBlocking.Measured, Functional.Kernels.GemmBlocking.For(zen5, false))
        Assert.Equal(Functional.Kernels.GemmBlocking(256, 128, 1024), Functional.Kernels.GemmBlocking.For(xeon, true))
        Assert.Equal(Functional.Kernels.GemmBlocking.Measured, Functional.Kernels.GemmBlocking.For(xeon, false))
        // This process's choice is usable, and CPUID was read on x86.
        Functional.Kernels.Tuning.GemmBlocks.Checked() |> ignore
        if System.Runtime.Intrinsics.X86.X86Base.IsSupported then
            let cpu = Functional.Kernels.CpuInfo.Current
            Assert.True(cpu.Vendor.Length = 12 && cpu.Family > 0, string cpu)

    [<Fact>]
    let ``strided views that leave their arrays are refused by both kernels`` () =
        // Two products of 2×3 by 3×4 whose operands are views: a bad offset, too few offsets or a leading
        // dimension below the columns must be an ArgumentException before any pointer is formed.
        let a = Array.zeroCreate<double> 20
        let b = Array.zeroCreate<double> 30
        let c = Array.zeroCreate<double> 16
        let packed (ao: int64[]) lda (bo: int64[]) ldb = fun () -> Functional.Kernels.PackedGemm.MultiplyStrided(false, false, 1, a, ao, lda, b, bo, ldb, c, 2, 2, 3, 4)
        let simple (ao: int64[]) lda (bo: int64[]) ldb = fun () -> Functional.Kernels.SimpleGemm.MultiplyStrided(a, ao, lda, b, bo, ldb, c, 2, 2, 3, 4)
        for run in [ packed; simple ] do
            run [| 0L; 14L |] 3 [| 0L; 12L |] 4 ()                                  // fits: A ends at 14 + 3 + 3 = 20
            for bad in [ run [| 0L; 15L |] 3 [| 0L; 12L |] 4; run [| -1L; 0L |] 3 [| 0L; 0L |] 4
                         run [| 0L |] 3 [| 0L; 0L |] 4; run [| 0L; 0L |] 2 [| 0L; 0L |] 4
                         run [| 0L; 0L |] 3 [| 0L; 19L |] 4; run [| 0L; 0L |] 3 [| 0L; 0L |] 3 ] do
                Assert.Throws<System.ArgumentException>(fun () -> bad ()) |> ignore

    [<FactNeeding(Need.PackedGemm)>]
    let ``a multiply-add into a view sums from each element's own value in order of k and leaves the rest alone`` () =
        // The blocked factorizations' trailing updates: C (a view, leading dimension ldc, at an offset) += op(A)·op(B),
        // each element one fused sum from its own value, whatever the blocks, parts and in-place path; every element
        // outside the view keeps its bits.
        let saved = Functional.Kernels.Tuning.GemmBlocks
        try
            for (m, k, n) in [ (70, 32, 90); (9, 300, 27); (200, 64, 250); (33, 129, 50); (8, 16, 16); (300, 40, 17) ] do
              for transA in [ false; true ] do
                for transB in [ false; true ] do
                  for parts in [ 1; 2 ] do
                    for blocks in [ Functional.Kernels.GemmBlocking.Measured; Functional.Kernels.GemmBlocking(37, 24, 48) ] do
                      for inPlace in [ true; false ] do
                        let lda, ldb, ldc = (if transA then m + 3 else k + 3), (if transB then k + 5 else n + 5), n + 7
                        let aOff, bOff, cOff = 11, 13, 2 * ldc + 3
                        let a = (Tensor.random (m + k) [| aOff + (if transA then k else m) * lda |]).ToArray()
                        let b = (Tensor.random (n + k) [| bOff + (if transB then n else k) * ldb |]).ToArray()
                        let c0 = (Tensor.random (m + n) [| cOff + m * ldc + 5 |]).ToArray()
                        let expected = Array.copy c0
                        for i in 0 .. m - 1 do
                            for j in 0 .. n - 1 do
                                let mutable s = c0.[cOff + i * ldc + j]
                                for p in 0 .. k - 1 do
                                    let y = if transB then b.[bOff + j * ldb + p] else b.[bOff + p * ldb + j]
                                    let x = if transA then a.[aOff + p * lda + i] else a.[aOff + i * lda + p]
                                    s <- System.Math.FusedMultiplyAdd(x, y, s)
                                expected.[cOff + i * ldc + j] <- s
                        let c = Array.copy c0
                        Functional.Kernels.Tuning.GemmBlocks <- blocks.Checked()
                        Functional.Kernels.Tuning.GemmInPlace <- inPlace
                        try Functional.Kernels.PackedGemm.MultiplyAddStrided(transA, transB, parts, a, int64 aOff, lda, b, int64 bOff, ldb, c, int64 cOff, ldc, m, k, n)
                        finally Functional.Kernels.Tuning.GemmInPlace <- true
                        let bits = Array.map System.BitConverter.DoubleToInt64Bits
                        Assert.True((bits c = bits expected), sprintf "%A" (m, k, n, transA, transB, parts, blocks, inPlace))
        finally Functional.Kernels.Tuning.GemmBlocks <- saved
        let c = Array.zeroCreate<double> 100
        let a = Array.zeroCreate<double> 100
        for bad in [ (fun () -> Functional.Kernels.PackedGemm.MultiplyAddStrided(false, false, 1, a, 0L, 4, a, 0L, 4, c, 0L, 3, 4, 4, 4))      // ldc < n
                     (fun () -> Functional.Kernels.PackedGemm.MultiplyAddStrided(false, false, 1, a, 0L, 4, a, 0L, 4, c, 90L, 4, 4, 4, 4))     // C past its end
                     (fun () -> Functional.Kernels.PackedGemm.MultiplyAddStrided(false, false, 1, a, 95L, 4, a, 0L, 4, c, 0L, 4, 4, 4, 4)) ] do // A past its end
            Assert.Throws<System.ArgumentException>(fun () -> bad ()) |> ignore
