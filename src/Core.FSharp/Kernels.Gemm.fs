namespace Functional.Core

#nowarn "9" // pointers inside the micro-kernel only: arrays are pinned for its duration

open System
open System.Numerics
open Microsoft.FSharp.NativeInterop
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics
open System.Buffers
open System.Threading.Tasks

/// Batched matrix products on contiguous row-major blocks. Large products use a packed, cache-blocked
/// Vector512 FMA micro-kernel (8×16 register tile) spread over the cores; small ones, and machines
/// without AVX-512, use a vectorised i-k-j loop (Vector<double>: 256-bit or scalar, chosen by the runtime).
/// Every output element is summed in the same order whatever the thread count.
module internal Gemm =

    /// Micro-tile: MR rows × NR columns (two Vector512 per row).
    [<Literal>]
    let MR = 8
    [<Literal>]
    let NR = 16
    /// Cache blocks: KC×NR panels of B stay in L1, MC×KC of A in L2, KC×NC of B in L3.
    let KC = 256
    let MC = 128
    let NC = 2048

    /// Multiply-adds below which packing does not pay.
    let packedThreshold = 16L * 16L * 16L

    let useVector512 = Vector512.IsHardwareAccelerated

    // ---- the simple path ----

    /// Rows r0..r1-1 of batch bi: C[i,:] += A[i,p]·B[p,:] in i-k-j order (streams rows of B).
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    let private rows (a: double[]) (b: double[]) (c: double[]) (m: int) (k: int) (n: int) (bi: int) (r0: int) (r1: int) =
        let aOff = bi * m * k
        let bOff = bi * k * n
        let cOff = bi * m * n
        let wide = Vector512.IsHardwareAccelerated
        let w = Vector<double>.Count
        for i in r0 .. r1 - 1 do
            let cRow = Span<double>(c, cOff + i * n, n)
            for p in 0 .. k - 1 do
                let av = a.[aOff + i * k + p]
                let bRow = ReadOnlySpan<double>(b, bOff + p * n, n)
                let mutable j = 0
                if wide then
                    let va = Vector512.Create(av)
                    while j <= n - 8 do
                        Vector512.FusedMultiplyAdd(va, Vector512.Create<double>(bRow.Slice(j, 8)), Vector512.Create<double>(cRow.Slice(j, 8))).CopyTo(cRow.Slice(j, 8))
                        j <- j + 8
                else
                    let va = Vector<double>(av)
                    while j <= n - w do
                        (Vector<double>(cRow.Slice(j)) + va * Vector<double>(bRow.Slice(j))).CopyTo(cRow.Slice(j))
                        j <- j + w
                while j < n do
                    cRow.[j] <- cRow.[j] + av * bRow.[j]
                    j <- j + 1

    let private simple (a: double[]) (b: double[]) (c: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let work = int64 batch * int64 m * int64 k * int64 n
        if work < (1L <<< 16) || batch * m < 2 then
            for bi in 0 .. batch - 1 do rows a b c m k n bi 0 m
        else
            let block = max 1 (int ((1L <<< 16) / (int64 (max 1 k) * int64 (max 1 n))))
            let blocksPerBatch = (m + block - 1) / block
            Parallel.For(0, batch * blocksPerBatch, fun t ->
                let bi = t / blocksPerBatch
                let r0 = (t % blocksPerBatch) * block
                rows a b c m k n bi r0 (min m (r0 + block))) |> ignore

    // ---- the packed path ----

    /// Packs B[p0..p0+kc, j0..j0+nc] into NR-column panels, zero-padded: panel-major, then p, then column.
    /// B is k×n row-major, or n×k when transposed (so a permuted operand needs no copy).
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    let private packB (b: double[]) (bOff: int) (n: int) (k: int) (transposed: bool) (p0: int) (kc: int) (j0: int) (nc: int) (dst: double[]) =
        let panels = (nc + NR - 1) / NR
        for jp in 0 .. panels - 1 do
            let j = j0 + jp * NR
            let w = min NR (j0 + nc - j)
            let baseDst = jp * kc * NR
            if transposed then
                for col in 0 .. NR - 1 do
                    if col < w then
                        let src = bOff + (j + col) * k + p0
                        for p in 0 .. kc - 1 do dst.[baseDst + p * NR + col] <- b.[src + p]
                    else
                        for p in 0 .. kc - 1 do dst.[baseDst + p * NR + col] <- 0.0
            else
            for p in 0 .. kc - 1 do
                let src = bOff + (p0 + p) * n + j
                let d = baseDst + p * NR
                if w = NR then Array.Copy(b, src, dst, d, NR)
                else
                    Array.Copy(b, src, dst, d, w)
                    Array.Clear(dst, d + w, NR - w)

    /// Packs A[i0..i0+mc, p0..p0+kc] into MR-row panels, zero-padded: panel, then p, then row.
    /// A is m×k row-major, or k×m when transposed.
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    let private packA (a: double[]) (aOff: int) (m: int) (k: int) (transposed: bool) (i0: int) (mc: int) (p0: int) (kc: int) (dst: double[]) =
        let panels = (mc + MR - 1) / MR
        for ip in 0 .. panels - 1 do
            let i = i0 + ip * MR
            let h = min MR (i0 + mc - i)
            let baseDst = ip * kc * MR
            if transposed then
                for p in 0 .. kc - 1 do
                    let src = aOff + (p0 + p) * m + i
                    for r in 0 .. MR - 1 do
                        dst.[baseDst + p * MR + r] <- (if r < h then a.[src + r] else 0.0)
            else
            for r in 0 .. MR - 1 do
                if r < h then
                    let src = aOff + (i + r) * k + p0
                    for p in 0 .. kc - 1 do dst.[baseDst + p * MR + r] <- a.[src + p]
                else
                    for p in 0 .. kc - 1 do dst.[baseDst + p * MR + r] <- 0.0

    /// The 8×16 register tile: acc = Σ_p Ap[p,0..7] ⊗ Bp[p,0..15]; then C[tile] += acc (only h×w of it).
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    let private kernel (ap: double[]) (aBase: int) (bp: double[]) (bBase: int) (kc: int) (c: double[]) (cOff: int) (ldc: int) (h: int) (w: int) =
        let mutable c00 = Vector512<double>.Zero
        let mutable c01 = Vector512<double>.Zero
        let mutable c10 = Vector512<double>.Zero
        let mutable c11 = Vector512<double>.Zero
        let mutable c20 = Vector512<double>.Zero
        let mutable c21 = Vector512<double>.Zero
        let mutable c30 = Vector512<double>.Zero
        let mutable c31 = Vector512<double>.Zero
        let mutable c40 = Vector512<double>.Zero
        let mutable c41 = Vector512<double>.Zero
        let mutable c50 = Vector512<double>.Zero
        let mutable c51 = Vector512<double>.Zero
        let mutable c60 = Vector512<double>.Zero
        let mutable c61 = Vector512<double>.Zero
        let mutable c70 = Vector512<double>.Zero
        let mutable c71 = Vector512<double>.Zero
        use pa0 = fixed ap
        use pb0 = fixed bp
        let pa = NativePtr.add pa0 aBase
        let pb = NativePtr.add pb0 bBase
        for p in 0 .. kc - 1 do
            let b0 = Vector512.Load(NativePtr.add pb (p * NR))
            let b1 = Vector512.Load(NativePtr.add pb (p * NR + 8))
            let o = p * MR
            let mutable a = Vector512.Create(NativePtr.get pa o)
            c00 <- Vector512.FusedMultiplyAdd(a, b0, c00)
            c01 <- Vector512.FusedMultiplyAdd(a, b1, c01)
            a <- Vector512.Create(NativePtr.get pa (o + 1))
            c10 <- Vector512.FusedMultiplyAdd(a, b0, c10)
            c11 <- Vector512.FusedMultiplyAdd(a, b1, c11)
            a <- Vector512.Create(NativePtr.get pa (o + 2))
            c20 <- Vector512.FusedMultiplyAdd(a, b0, c20)
            c21 <- Vector512.FusedMultiplyAdd(a, b1, c21)
            a <- Vector512.Create(NativePtr.get pa (o + 3))
            c30 <- Vector512.FusedMultiplyAdd(a, b0, c30)
            c31 <- Vector512.FusedMultiplyAdd(a, b1, c31)
            a <- Vector512.Create(NativePtr.get pa (o + 4))
            c40 <- Vector512.FusedMultiplyAdd(a, b0, c40)
            c41 <- Vector512.FusedMultiplyAdd(a, b1, c41)
            a <- Vector512.Create(NativePtr.get pa (o + 5))
            c50 <- Vector512.FusedMultiplyAdd(a, b0, c50)
            c51 <- Vector512.FusedMultiplyAdd(a, b1, c51)
            a <- Vector512.Create(NativePtr.get pa (o + 6))
            c60 <- Vector512.FusedMultiplyAdd(a, b0, c60)
            c61 <- Vector512.FusedMultiplyAdd(a, b1, c61)
            a <- Vector512.Create(NativePtr.get pa (o + 7))
            c70 <- Vector512.FusedMultiplyAdd(a, b0, c70)
            c71 <- Vector512.FusedMultiplyAdd(a, b1, c71)
        if h = MR && w = NR then
            use pc0 = fixed c
            let pc = NativePtr.add pc0 cOff
            let inline store (r: int) (lo: Vector512<double>) (hi: Vector512<double>) =
                let row = NativePtr.add pc (r * ldc)
                Vector512.Store(Vector512.Load(row) + lo, row)
                Vector512.Store(Vector512.Load(NativePtr.add row 8) + hi, NativePtr.add row 8)
            store 0 c00 c01
            store 1 c10 c11
            store 2 c20 c21
            store 3 c30 c31
            store 4 c40 c41
            store 5 c50 c51
            store 6 c60 c61
            store 7 c70 c71
        else
            let tile = [| c00; c01; c10; c11; c20; c21; c30; c31; c40; c41; c50; c51; c60; c61; c70; c71 |]
            let tmp = Array.zeroCreate<double> (MR * NR)
            for r in 0 .. MR - 1 do
                tile.[2 * r].CopyTo(Span<double>(tmp, r * NR, 8))
                tile.[2 * r + 1].CopyTo(Span<double>(tmp, r * NR + 8, 8))
            for r in 0 .. h - 1 do
                for j in 0 .. w - 1 do
                    c.[cOff + r * ldc + j] <- c.[cOff + r * ldc + j] + tmp.[r * NR + j]

    /// The blocked product on the sub-rectangle rows i0..i1-1 × columns j0..j1-1 of one batch, sequentially,
    /// with this call's own packed buffers.
    let private blocked (transA: bool) (transB: bool) (a: double[]) (b: double[]) (c: double[]) (aOff: int) (bOff: int) (cOff: int) (m: int) (k: int) (n: int) (i0: int) (i1: int) (j0: int) (j1: int) =
        let bp = ArrayPool<double>.Shared.Rent(((min NC (j1 - j0) + NR - 1) / NR) * NR * KC)
        let ap = ArrayPool<double>.Shared.Rent(((MC + MR - 1) / MR) * MR * KC)
        let mutable jc = j0
        while jc < j1 do
            let nc = min NC (j1 - jc)
            let mutable pc = 0
            while pc < k do
                let kc = min KC (k - pc)
                packB b bOff n k transB pc kc jc nc bp
                let mutable ic = i0
                while ic < i1 do
                    let mc = min MC (i1 - ic)
                    packA a aOff m k transA ic mc pc kc ap
                    let nPanels = (nc + NR - 1) / NR
                    for jp in 0 .. nPanels - 1 do
                        let j = jc + jp * NR
                        let w = min NR (jc + nc - j)
                        let mutable ip = 0
                        while ip * MR < mc do
                            let i = ic + ip * MR
                            kernel ap (ip * kc * MR) bp (jp * kc * NR) kc c (cOff + i * n + j) n (min MR (ic + mc - i)) w
                            ip <- ip + 1
                    ic <- ic + mc
                pc <- pc + kc
            jc <- jc + nc
        ArrayPool<double>.Shared.Return ap
        ArrayPool<double>.Shared.Return bp

    /// Splits each product into one independent rectangle per core (columns when C is wide, rows when tall),
    /// so the cores share nothing but the inputs and never wait for each other.
    let private packed (transA: bool) (transB: bool) (cores: int) (a: double[]) (b: double[]) (c: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let work = int64 m * int64 n * int64 k
        // Many products: one task each (no split, no repacking). Few large ones: split each over the cores.
        let parts = if (work < (1L <<< 21) || batch >= cores) && cores > 1 then 1 else cores
        let byColumns = n >= m
        let span = if byColumns then n else m
        let unit = if byColumns then NR else MR
        let units = (span + unit - 1) / unit
        let parts = max 1 (min parts units)
        let bounds p = min span (p * units / parts * unit)
        let run (t: int) =
            let bi = t / parts
            let p = t % parts
            let lo, hi = bounds p, bounds (p + 1)
            if hi > lo then
                if byColumns then blocked transA transB a b c (bi * m * k) (bi * k * n) (bi * m * n) m k n 0 m lo hi
                else blocked transA transB a b c (bi * m * k) (bi * k * n) (bi * m * n) m k n lo hi 0 n
        if batch * parts = 1 then run 0
        else Parallel.For(0, batch * parts, run) |> ignore

    /// Matrix-vector products (n = 1): c[i] = A[i,:]·b, a dot product over contiguous rows, Vector512 when
    /// available; rows spread over the cores for large m·k. Each element is summed in one fixed order.
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    let private gemv (a: double[]) (b: double[]) (c: double[]) (batch: int) (m: int) (k: int) =
        let row (bi: int) (i: int) =
            let ar = ReadOnlySpan<double>(a, (bi * m + i) * k, k)
            let br = ReadOnlySpan<double>(b, bi * k, k)
            let mutable p = 0
            let mutable acc0 = Vector512<double>.Zero
            let mutable acc1 = Vector512<double>.Zero
            while p <= k - 16 do
                acc0 <- Vector512.FusedMultiplyAdd(Vector512.Create<double>(ar.Slice(p, 8)), Vector512.Create<double>(br.Slice(p, 8)), acc0)
                acc1 <- Vector512.FusedMultiplyAdd(Vector512.Create<double>(ar.Slice(p + 8, 8)), Vector512.Create<double>(br.Slice(p + 8, 8)), acc1)
                p <- p + 16
            let mutable s = Vector512.Sum(acc0 + acc1)
            while p < k do
                s <- Math.FusedMultiplyAdd(ar.[p], br.[p], s)
                p <- p + 1
            c.[bi * m + i] <- s
        let total = batch * m
        if int64 total * int64 k < (1L <<< 18) then
            for t in 0 .. total - 1 do row (t / m) (t % m)
        else
            let chunk = max 1 ((1 <<< 16) / max 1 k)
            Parallel.For(0, (total + chunk - 1) / chunk, fun ch ->
                for t in ch * chunk .. min total ((ch + 1) * chunk) - 1 do row (t / m) (t % m)) |> ignore

    /// C[b] = A[b]·B[b] for A: batch×m×k, B: batch×k×n, both contiguous.
    let batched (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let c = Array.zeroCreate (Shape.numel [| batch; m; n |])
        let work = int64 m * int64 k * int64 n
        if useVector512 && n = 1 && k >= 16 then gemv a b c batch m k
        elif useVector512 && work >= packedThreshold && k > 0 && n >= NR / 2 && m >= MR / 2 then packed false false Environment.ProcessorCount a b c batch m k n
        else simple a b c batch m k n
        c

    /// The packed path split into `parts` rectangles per product, as if there were that many cores (for tests
    /// that results do not depend on the thread count).
    let batchedWithParts (parts: int) (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let c = Array.zeroCreate (Shape.numel [| batch; m; n |])
        if useVector512 && k > 0 then packed false false parts a b c batch m k n else simple a b c batch m k n
        c

    /// Batched transposes of contiguous rows×cols blocks.
    let private transposeBlocks (x: double[]) (batch: int) (rows: int) (cols: int) =
        let shape = [| batch; cols; rows |]
        Strided.gather x 0 [| rows * cols; 1; cols |] shape

    /// C[b] = op(A[b])·op(B[b]) where A is stored k×m when transA and B n×k when transB: permuted operands
    /// are packed as they are (no transposed copy) on the packed path.
    let batchedT (transA: bool) (transB: bool) (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let work = int64 m * int64 k * int64 n
        if not transA && not transB then batched a b batch m k n
        elif useVector512 && work >= packedThreshold && k > 0 && n >= NR / 2 && m >= MR / 2 then
            let c = Array.zeroCreate (Shape.numel [| batch; m; n |])
            packed transA transB Environment.ProcessorCount a b c batch m k n
            c
        else
            let a' = if transA then transposeBlocks a batch k m else a
            let b' = if transB then transposeBlocks b batch n k else b
            batched a' b' batch m k n

    /// The simple path alone (for tests of the packed one).
    let batchedSimple (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let c = Array.zeroCreate (Shape.numel [| batch; m; n |])
        simple a b c batch m k n
        c
