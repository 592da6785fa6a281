namespace Functional.Core

open System
open System.Runtime.Intrinsics

/// Dense factorizations of row-major n×n blocks: LU with partial pivoting and Cholesky. Batches are consecutive
/// blocks. Up to `unblockedMax` rows each element goes through the textbook sequence of operations (a product, then
/// a subtraction, in order of the summation index, no FMA), so the results are those of the plain loops bit for bit.
/// Beyond, the LU and the substitutions are recursive (halves in whole panels of `panel` columns or rows, as LAPACK's
/// getrf2 and a recursive trsm): most of the work is one matrix product per level on the GEMM kernel, over the
/// cores, and the leaves are panels (an LU panel column by column, its updates by fused multiply-adds and its pivot
/// search on `LuPanel`'s vectors). Cholesky is recursive the same way (the left half of the columns, the right
/// half's products with it, the right half), its panels right-looking down their columns. The loops run along rows,
/// four lanes at a time, and over the cores where the work is large.
module internal Factorizations =

    /// Rows up to which a block is one panel (the textbook loops alone).
    let unblockedMax = 64

    /// Columns of a panel in larger blocks.
    let panel = 32

    /// The width of a substitution's column slices (`columnSlices`) beyond two.
    let private sliceWidth = 64

    /// dst[d..d+len) −= f·src[s..s+len), each element a product then a subtraction (four lanes at a time).
    let private subtractScaled (dst: double[]) (d: int) (f: double) (src: double[]) (s: int) (len: int) =
        let mutable j = 0
        if Vector256.IsHardwareAccelerated then
            let fv = Vector256.Create(f)
            while j <= len - 4 do
                (Vector256.Create(dst, d + j) - fv * Vector256.Create(src, s + j)).CopyTo(dst, d + j)
                j <- j + 4
        while j < len do
            dst.[d + j] <- dst.[d + j] - f * src.[s + j]
            j <- j + 1

    /// dst[d + t] −= Σ_q coef[c + q]·src[s + q·ld + t] for q = 0 .. count − 1 and t < len: the products subtracted
    /// one by one in order of q, as `subtractScaled` row after row would, but each element loaded and stored once
    /// (four vectors of four lanes side by side, so that the subtractions of one element do not wait on each other's).
    let private subtractCombination (dst: double[]) (d: int) (coef: double[]) (c: int) (src: double[]) (s: int) (ld: int) (count: int) (len: int) =
        let mutable t = 0
        if Vector256.IsHardwareAccelerated then
            while t <= len - 16 do
                let mutable x0 = Vector256.Create(dst, d + t)
                let mutable x1 = Vector256.Create(dst, d + t + 4)
                let mutable x2 = Vector256.Create(dst, d + t + 8)
                let mutable x3 = Vector256.Create(dst, d + t + 12)
                for q in 0 .. count - 1 do
                    let f = Vector256.Create(coef.[c + q])
                    let o = s + q * ld + t
                    x0 <- x0 - f * Vector256.Create(src, o)
                    x1 <- x1 - f * Vector256.Create(src, o + 4)
                    x2 <- x2 - f * Vector256.Create(src, o + 8)
                    x3 <- x3 - f * Vector256.Create(src, o + 12)
                x0.CopyTo(dst, d + t)
                x1.CopyTo(dst, d + t + 4)
                x2.CopyTo(dst, d + t + 8)
                x3.CopyTo(dst, d + t + 12)
                t <- t + 16
            while t <= len - 4 do
                let mutable x = Vector256.Create(dst, d + t)
                for q in 0 .. count - 1 do x <- x - Vector256.Create(coef.[c + q]) * Vector256.Create(src, s + q * ld + t)
                x.CopyTo(dst, d + t)
                t <- t + 4
        while t < len do
            let mutable x = dst.[d + t]
            for q in 0 .. count - 1 do x <- x - coef.[c + q] * src.[s + q * ld + t]
            dst.[d + t] <- x
            t <- t + 1

    /// x[from .. from + len) /= divisor, four lanes at a time (each quotient correctly rounded, as one by one).
    let private divide (x: double[]) (from: int) (len: int) (divisor: double) =
        let mutable t = 0
        if Vector256.IsHardwareAccelerated then
            let dv = Vector256.Create(divisor)
            while t <= len - 4 do
                (Vector256.Create(x, from + t) / dv).CopyTo(x, from + t)
                t <- t + 4
        while t < len do
            x.[from + t] <- x.[from + t] / divisor
            t <- t + 1

    /// Rows or columns [0, count) in chunks over the cores when `work` (elements touched) is large.
    let private over (count: int) (work: int64) (body: int -> int -> unit) =
        if count < 2 || work < 65536L then body 0 count
        else Strided.chunkedUnits count (int (min 1000000L (work / int64 count))) body

    /// Columns [0, k) in blocks of 64 over the cores when `work` (elements touched) is large.
    let private columnBlocks (k: int) (work: int64) (body: int -> int -> unit) =
        let blocks = Functional.Kernels.Fork.Pieces(k, 64)
        over blocks work (fun b0 b1 -> body (b0 * 64) (int (min (int64 k) (int64 b1 * 64L)) - b0 * 64))

    /// Rows×cols at `offset` of `src` (leading dimension ld) as a contiguous array.
    let private copyBlock (src: double[]) (offset: int) (ld: int) (rows: int) (cols: int) =
        let c = Strided.fresh (rows * cols)
        for r in 0 .. rows - 1 do Array.Copy(src, offset + r * ld, c, r * cols, cols)
        c

    /// dst's rows×cols block at `offset` (leading dimension ld) −= t (rows×cols contiguous); with `diagonal` ≥ 0,
    /// only columns up to row r's `diagonal + r` (a lower triangle whose first row is row `diagonal` of it).
    let private subtractRows (dst: double[]) (offset: int) (ld: int) (t: double[]) (rows: int) (cols: int) (diagonal: int) =
        over rows (int64 rows * int64 cols) (fun r0 r1 ->
            for r in r0 .. r1 - 1 do
                let d = offset + r * ld
                let s = r * cols
                let len = if diagonal >= 0 then diagonal + r + 1 else cols
                let mutable j = 0
                if Vector256.IsHardwareAccelerated then
                    while j <= len - 4 do
                        (Vector256.Create(dst, d + j) - Vector256.Create(t, s + j)).CopyTo(dst, d + j)
                        j <- j + 4
                while j < len do
                    dst.[d + j] <- dst.[d + j] - t.[s + j]
                    j <- j + 1)

    /// dst's rows×cols block at dOff (leading dimension ldd) += A·B on the packed kernel (A stored transposed when
    /// transA, B when transB), in place: over the cores from 2¹⁹ multiply-adds (which the GEMM's own split would
    /// leave to one) unless `serial`. With one factor negated, the product is subtracted.
    let private addProductOn (serial: bool) (transA: bool) (a: double[]) (aOff: int) (lda: int) (b: double[]) (bOff: int) (ldb: int) (transB: bool)
                             (dst: double[]) (dOff: int) (ldd: int) (rows: int) (inner: int) (cols: int) =
        let parts = if not serial && int64 rows * int64 inner * int64 cols >= (1L <<< 19) then Functional.Kernels.Fork.Cores else 1
        Functional.Kernels.PackedGemm.MultiplyAddStrided(transA, transB, parts, a, int64 aOff, lda, b, int64 bOff, ldb, dst, int64 dOff, ldd, rows, inner, cols)

    /// dst's rows×cols block at dOff (leading dimension ldd) −= A·B for views of row-major arrays: A rows×inner at
    /// aOff (leading dimension lda; stored inner×rows when transA), B inner×cols (cols×inner when transB) at bOff
    /// (ldb). With `diagonal` ≥ 0 only the lower part (as `subtractRows`) must come out right; the rest of the block
    /// may change too. On the packed kernel the sums go into dst in place, from a negated copy of A, over the cores
    /// from 2¹⁹ multiply-adds (which the GEMM's own split would leave to one) unless `serial`; the other kernels take
    /// contiguous copies and their product is subtracted.
    let private subtractProductOn (serial: bool) (transA: bool) (a: double[]) (aOff: int) (lda: int) (b: double[]) (bOff: int) (ldb: int) (transB: bool)
                                  (dst: double[]) (dOff: int) (ldd: int) (rows: int) (inner: int) (cols: int) (diagonal: int) =
        if Gemm.packedApplies rows inner cols then
            let negated = Storage.rentScratch (rows * inner)
            if transA then
                Functional.Kernels.LuPanel.NegatedRows(a, aOff, lda, inner, rows, negated, 0, rows)
                addProductOn serial true negated 0 rows b bOff ldb transB dst dOff ldd rows inner cols
            else
                Functional.Kernels.LuPanel.NegatedRows(a, aOff, lda, rows, inner, negated, 0, inner)
                addProductOn serial false negated 0 inner b bOff ldb transB dst dOff ldd rows inner cols
            Storage.returnScratch negated
        else
            let ca =
                if transA then
                    let c = Strided.fresh (rows * inner)
                    for r in 0 .. rows - 1 do
                        for q in 0 .. inner - 1 do c.[r * inner + q] <- a.[aOff + q * lda + r]
                    c
                else copyBlock a aOff lda rows inner
            let t =
                if transB then Gemm.batchedT false true ca (copyBlock b bOff ldb cols inner) 1 rows inner cols
                else Gemm.batched ca (copyBlock b bOff ldb inner cols) 1 rows inner cols
            subtractRows dst dOff ldd t rows cols diagonal

    /// dst's rows×cols block at dOff (leading dimension ldd) −= op(A)·op(B) (B inner×cols at bOff, stored cols×inner
    /// when transB) for disjoint blocks: on the packed kernel in place, from a negated copy of the smaller factor (the other read
    /// where it is), over the cores unless `serial`; otherwise as `subtractProductOn`.
    let private subtractNegatingSmaller serial transA a aOff lda b bOff ldb transB dst dOff ldd rows inner cols =
        if Gemm.packedApplies rows inner cols && cols < rows then
            let negated = Storage.rentScratch (inner * cols)
            // B negated as it is stored (cols×inner when transB).
            if transB then Functional.Kernels.LuPanel.NegatedRows(b, bOff, ldb, cols, inner, negated, 0, inner)
            else Functional.Kernels.LuPanel.NegatedRows(b, bOff, ldb, inner, cols, negated, 0, cols)
            addProductOn serial transA a aOff lda negated 0 (if transB then inner else cols) transB dst dOff ldd rows inner cols
            Storage.returnScratch negated
        elif rows > 0 && cols > 0 then
            subtractProductOn serial transA a aOff lda b bOff ldb transB dst dOff ldd rows inner cols -1

    /// Where a block of w rows or columns splits in a recursive factorization or substitution: about half, in whole
    /// units (panels).
    let private half (unit: int) (w: int) = max unit (w / 2 / unit * unit)

    /// A substitution's rows [from, to) recursively: `leaf i0 e` on at most `width` rows; beyond, the first half (the
    /// upper one when `downward`, else the lower), then `across i0 mid e` (the product of the half just found
    /// subtracted from the other half, rows [i0, mid) and [mid, e)), then the other half.
    let private halves (width: int) (downward: bool) (leaf: int -> int -> unit) (from: int) (``to``: int) (across: int -> int -> int -> unit) =
        let rec solve (i0: int) (e: int) =
            if e - i0 <= width then leaf i0 e
            else
                let mid = i0 + half width (e - i0)
                if downward then solve i0 mid else solve mid e
                across i0 mid e
                if downward then solve mid e else solve i0 mid
        solve from ``to``

    /// `subtractProductOn` over the cores where the product is large.
    let private subtractProduct a aOff lda b bOff ldb transB dst dOff ldd rows inner cols diagonal =
        subtractProductOn false false a aOff lda b bOff ldb transB dst dOff ldd rows inner cols diagonal

    /// Elements between a panel's columns in its buffer, for r rows: whole cache lines, and one line more, so
    /// that the columns of a power-of-two height do not fall into the same cache sets.
    let private columnStride (r: int) = (r + 7) / 8 * 8 + 8

    /// The panel of columns [k0, e) of the n×n factor m, rows k0 .. n − 1, copied column by column into `p`, so
    /// that the pivot search and the eliminations run down whole columns.
    let private panelOut (m: double[]) (n: int) (k0: int) (e: int) (p: double[]) =
        // Indexed (column, row), so that the copy's last axis runs down the buffer's columns: it goes in 8×8 blocks
        // transposed in registers (indexed the other way, it wrote the buffer one element at a time).
        Strided.copy m (k0 * n + k0) [| 1; n |] p 0 [| columnStride (n - k0); 1 |] [| e - k0; n - k0 |]

    let private panelIn (m: double[]) (n: int) (k0: int) (e: int) (p: double[]) =
        Strided.copy p 0 [| 1; columnStride (n - k0) |] m (k0 * n + k0) [| n; 1 |] [| n - k0; e - k0 |]

    /// LU of block b of `a` into m (its first n² elements): the row permutation and its sign, and the first zero
    /// pivot (−1 when there is none). A block holding a NaN gets NaN factors (the identity permutation, no zero pivot).
    let private factorLu (a: double[]) (offset: int) (n: int) (m: double[]) =
        let holdsNaN = Functional.Kernels.LuPanel.CopyHoldingNaN(a, offset, m, 0, n * n)
        let perm = Array.init n id
        let mutable sign = 1.0
        let mutable singular = -1
        if holdsNaN then
            // NaN factors throughout, so that every result made from them (det, its sign and logarithm, solves, the
            // inverse) is NaN, as the determinant's expansion is: the pivot search passes NaN over, and a zero pivot's
            // step would drop the NaN of its row (0 pivots, det 0, for [[0, 1], [NaN, 1]]).
            Array.Fill(m, nan, 0, n * n)
        elif n <= unblockedMax then
            for k in 0 .. n - 1 do
                // The largest pivot in column k at or below the diagonal.
                let mutable p = k
                for i in k + 1 .. n - 1 do
                    if abs m.[i * n + k] > abs m.[p * n + k] then p <- i
                if p <> k then
                    Functional.Kernels.LuPanel.Exchange(m, k * n, p * n, n)
                    let t = perm.[k]
                    perm.[k] <- perm.[p]
                    perm.[p] <- t
                    sign <- -sign
                let pivot = m.[k * n + k]
                if pivot = 0.0 then (if singular < 0 then singular <- k)
                else
                    let rest = n - k - 1
                    over rest (int64 rest * int64 rest) (fun r0 r1 ->
                        for i in k + 1 + r0 .. k + r1 do
                            let f = m.[i * n + k] / pivot
                            m.[i * n + k] <- f
                            // Even for f = 0: 0·∞ in the pivot row is NaN, as in the blocked path and LAPACK (skipped,
                            // det [[∞, ∞], [1, 1]] came out ∞ below 65 rows and NaN above).
                            subtractScaled m (i * n + k + 1) f m (k * n + k + 1) rest)
        else
            let buffer = Storage.rentScratch (columnStride n * panel)
            // Step j's pivot row.
            let swaps = Array.zeroCreate<int> n
            // The sign and the first zero pivot, as the steps find them (cells: the functions below update them).
            let signCell, firstZero = ref sign, ref singular
            // Columns [k0, e) (one panel at most), rows k0 .. n − 1, with every earlier column's products already
            // subtracted: factored down its columns in the buffer, its rows swapped within it.
            let leaf (k0: int) (e: int) =
                let r = n - k0
                let cs = columnStride r
                panelOut m n k0 e buffer
                for kk in 0 .. e - k0 - 1 do
                    let col = kk * cs
                    // Left-looking: the column takes the products of the columns before it now, each element's in
                    // order of the column (the right-looking order), above the diagonal one row after another (U),
                    // then below it in one pass (fused multiply-adds).
                    for i in 1 .. kk - 1 do
                        let mutable x = buffer.[col + i]
                        for q in 0 .. i - 1 do x <- x - buffer.[q * cs + i] * buffer.[col + q]
                        buffer.[col + i] <- x
                    if kk > 0 then Functional.Kernels.LuPanel.SubtractCombination(buffer, col + kk, buffer, col, buffer, kk, cs, kk, r - kk)
                    // The largest pivot in the column at or below the diagonal; rows swapped within the panel.
                    let p = Functional.Kernels.LuPanel.LargestMagnitude(buffer, col + kk, r - kk) - col
                    swaps.[k0 + kk] <- k0 + p
                    if p <> kk then
                        for c in 0 .. e - k0 - 1 do
                            let t = buffer.[c * cs + kk]
                            buffer.[c * cs + kk] <- buffer.[c * cs + p]
                            buffer.[c * cs + p] <- t
                        let t = perm.[k0 + kk]
                        perm.[k0 + kk] <- perm.[k0 + p]
                        perm.[k0 + p] <- t
                        signCell.Value <- -signCell.Value
                    let pivot = buffer.[col + kk]
                    if pivot = 0.0 then
                        if firstZero.Value < 0 then firstZero.Value <- k0 + kk
                        // The loops subtract nothing of this row; the products below must see zero multipliers
                        // (the column holds zeros, or NaN, which the pivot search passes over).
                        Array.Clear(buffer, col + kk + 1, r - kk - 1)
                    else divide buffer (col + kk + 1) (r - kk - 1) pivot
                panelIn m n k0 e buffer
            // The swaps of steps [s0, s1), in the order they were found, on columns [c0, c1).
            let swapRows (s0: int) (s1: int) (c0: int) (c1: int) =
                columnBlocks (c1 - c0) (int64 (s1 - s0) * int64 (c1 - c0)) (fun b w ->
                    for j in s0 .. s1 - 1 do
                        if swaps.[j] <> j then Functional.Kernels.LuPanel.Exchange(m, j * n + c0 + b, swaps.[j] * n + c0 + b, w))
            // m[r0 .. r1, c0 .. c1) −= m[r0 .. r1, k0 .. k1)·m[k0 .. k1, c0 .. c1), over the cores.
            let subtractBlock (r0: int) (r1: int) (k0: int) (k1: int) (c0: int) (c1: int) =
                subtractNegatingSmaller false false m (r0 * n + k0) n m (k0 * n + c0) n false m (r0 * n + c0) n (r1 - r0) (k1 - k0) (c1 - c0)
            // Rows [k0, e) of columns [c0, c1) := L⁻¹ times them, for L the unit lower triangle of the factor's
            // rows and columns [k0, e), recursively (`halves`): each panel by substitution (fused multiply-adds), in
            // blocks of columns over the cores, each block in a scratch whose rows are not a power of two apart
            // (rows of m, n apart, fall into the same cache sets); the lower half losing the upper half's product.
            let lowerSolve (k0: int) (e: int) (c0: int) (c1: int) =
                let leaf (i0: int) (i1: int) =
                    let h = i1 - i0
                    columnBlocks (c1 - c0) (int64 h * int64 h * int64 (c1 - c0) / 2L) (fun b w ->
                        let ws = w + 8
                        let block = Storage.rentScratch (h * ws)
                        for i in 0 .. h - 1 do Array.Copy(m, (i0 + i) * n + c0 + b, block, i * ws, w)
                        for i in 1 .. h - 1 do
                            Functional.Kernels.LuPanel.SubtractCombination(block, i * ws, m, (i0 + i) * n + i0, block, 0, ws, i, w)
                        for i in 1 .. h - 1 do Array.Copy(block, i * ws, m, (i0 + i) * n + c0 + b, w)
                        Storage.returnScratch block)
                halves panel true leaf k0 e (fun i0 mid i1 -> subtractBlock mid i1 i0 mid c0 c1)
            // Columns [k0, e), rows k0 .. n − 1, recursively (as LAPACK's getrf2, with panels as leaves): the left
            // half; its swaps on the right half, whose rows above become U₁₂ and whose rows below lose L₂₁·U₁₂ (one
            // product, most of the work, on the GEMM kernel over the cores); the right half; its swaps on the left
            // half. The products' inner dimension doubles at each level up.
            let rec factor (k0: int) (e: int) =
                if e - k0 <= panel then leaf k0 e
                else
                    let mid = k0 + half panel (e - k0)
                    factor k0 mid
                    swapRows k0 mid mid e
                    lowerSolve k0 mid mid e
                    subtractBlock mid n k0 mid mid e
                    factor mid e
                    swapRows mid e k0 mid
            factor 0 n
            sign <- signCell.Value
            singular <- firstZero.Value
            Storage.returnScratch buffer
        perm, sign, singular

    /// f applied to the LU of block b of `a`: the packed factors (the first n² elements of a scratch array, given
    /// back afterwards: f must not keep it), the row permutation, its sign, and the first zero pivot (−1 when there
    /// is none); NaN factors for a block holding a NaN.
    let withLu (a: double[]) (offset: int) (n: int) (f: double[] -> int[] -> double -> int -> 'r) : 'r =
        let m = Storage.rentScratch (n * n)
        try
            let perm, sign, singular = factorLu a offset n m
            f m perm sign singular
        finally Storage.returnScratch m

    /// `body serial start width` over slices of a substitution's k columns of X, whole multiples of 8 columns, over
    /// the cores (`serial`: inside a slice, nothing more goes over the cores, unless there are more cores than
    /// slices), or over all k on the calling thread when
    /// the work is small: the columns of X are independent, so each core substitutes its own slices without waiting
    /// for the others (the panels' own products and loops, for few right-hand sides, are too small to share). The
    /// slices depend on k alone, never on the cores: a slice's products take the kernel their width selects, and
    /// kernels sum in different orders, so slices cut by the cores would make the bits depend on the machine.
    let private columnSlices (n: int) (k: int) (body: bool -> int -> int -> unit) =
        if k < 16 || int64 n * int64 n * int64 k < (1L <<< 20) then body false 0 k
        else
            let slices = max 2 (min 16 (k / sliceWidth))
            let per = Functional.Kernels.Fork.Pieces(Functional.Kernels.Fork.Pieces(k, slices), 8) * 8
            // With fewer slices than cores, a slice's products and row loops go over the cores too: how those split
            // never changes the bits, only which slices there are does.
            let serial = Functional.Kernels.Fork.Pieces(k, per) >= Functional.Kernels.Fork.Cores
            Functional.Kernels.Fork.ForPieces(k, per, fun lo hi -> body serial lo (hi - lo))

    /// The coefficients of a panel's rows [i0, e) in the factor T = mᵀ (at mo of m; n columns): row i's T[i, q] for q
    /// in [i0, e) at (i − i0)·width + q − i0 of `c`, so that a row's substitution reads them side by side.
    let private transposedPanel (m: double[]) (mo: int) (n: int) (i0: int) (e: int) (width: int) (c: double[]) =
        for q in i0 .. e - 1 do
            for i in i0 .. e - 1 do c.[(i - i0) * width + q - i0] <- m.[mo + q * n + i]

    /// X (n×k at xOffset) := T⁻¹·X for T the lower factor in m (at mo), or with `trans` the transpose of the upper one
    /// (T[i, j] read at m[j, i]; the same values in the same order as on a transposed copy); its diagonal taken as
    /// ones when `unit`: whole rows of X at a time (each element the same sequence as a column's substitution), up to
    /// `unblockedMax` rows in one panel. Beyond, recursively: the upper half of the rows, then the lower half loses the
    /// product of the factor's block left of it with the rows found (one product on the GEMM kernel, its inner
    /// dimension half the rows), then the lower half; the leaves are panels. With `triangular`, X is the identity
    /// (k = n), whose image stays lower triangular: only columns up to each row's own are computed (the terms left
    /// out are products with zeros, which change no sum). Otherwise the columns go over the cores in slices
    /// (`columnSlices`).
    let private forward (m: double[]) (mo: int) (trans: bool) (unit: bool) (n: int) (x: double[]) (xOffset: int) (k: int) (triangular: bool) =
        let width = if n <= unblockedMax then max 1 n else panel
        // Columns [s0, s0 + sw) of X (row stride k); `serial` inside a slice.
        let run (serial: bool) (s0: int) (sw: int) =
            let xo = xOffset + s0
            let coef = if trans then Array.zeroCreate (width * width) else null
            // Rows [i0, e), at most a panel, every earlier row's products already subtracted.
            let leaf (i0: int) (e: int) =
                if trans then transposedPanel m mo n i0 e width coef
                let cols = if triangular then e else sw
                let rows (c0: int) (w: int) =
                    for i in i0 .. e - 1 do
                        // In the triangular case row i is zero right of column i.
                        let len = if triangular then min w (i + 1 - c0) else w
                        if len > 0 then
                            if i > i0 then
                                if trans then subtractCombination x (xo + i * k + c0) coef ((i - i0) * width) x (xo + i0 * k + c0) k (i - i0) len
                                else subtractCombination x (xo + i * k + c0) m (mo + i * n + i0) x (xo + i0 * k + c0) k (i - i0) len
                            if not unit then divide x (xo + i * k + c0) len m.[mo + i * n + i]
                if serial then rows 0 cols else columnBlocks cols (int64 (e - i0) * int64 (e - i0) * int64 cols) rows
            halves width true leaf 0 n (fun i0 mid e ->
                // Rows [i0, mid) of X are zero right of column mid − 1 in the triangular case.
                let aOff = if trans then mo + i0 * n + mid else mo + mid * n + i0
                subtractNegatingSmaller serial trans m aOff n x (xo + i0 * k) k false x (xo + mid * k) k (e - mid) (mid - i0) (if triangular then mid else sw))
        if triangular then run false 0 k else columnSlices n k run

    /// X (n×k at xOffset) := T⁻¹·X for T the upper factor in m (at mo), or with `trans` the transpose of the lower one
    /// (as `forward`); its diagonal taken as ones when `unit`: recursively from the bottom (the lower half of the
    /// rows, its product subtracted from the upper half, the upper half; panels as leaves, as `forward`), the columns
    /// over the cores in slices. With `lowerOnly` (k = n) only the lower triangle of the result is computed (above
    /// the diagonal X is left holding partial sums, for the caller to overwrite): row i's columns up to i need only
    /// the rows below it at those columns, which are theirs too, so each leaf row stops at its diagonal and each
    /// product reaches only the columns before the lower half's first row, half the multiply-adds; the slices of
    /// columns are then two of equal work, not width.
    let private backwardWith (lowerOnly: bool) (m: double[]) (mo: int) (trans: bool) (unit: bool) (n: int) (x: double[]) (xOffset: int) (k: int) =
        let width = if n <= unblockedMax then max 1 n else panel
        let run (serial: bool) (s0: int) (sw: int) =
            let xo = xOffset + s0
            let coef = if trans then Array.zeroCreate (width * width) else null
            // Rows [i0, e), at most a panel, every later row's products already subtracted.
            let leaf (i0: int) (e: int) =
                // With lowerOnly, row i's columns of the slice stop at i.
                let cols = if lowerOnly then min sw (e - s0) else sw
                if cols > 0 then
                    if trans then transposedPanel m mo n i0 e width coef
                    let rows (c0: int) (w: int) =
                        for i in e - 1 .. -1 .. i0 do
                            let len = if lowerOnly then min w (i + 1 - s0 - c0) else w
                            if len > 0 then
                                if trans then subtractCombination x (xo + i * k + c0) coef ((i - i0) * width + i + 1 - i0) x (xo + (i + 1) * k + c0) k (e - 1 - i) len
                                else subtractCombination x (xo + i * k + c0) m (mo + i * n + i + 1) x (xo + (i + 1) * k + c0) k (e - 1 - i) len
                                if not unit then divide x (xo + i * k + c0) len m.[mo + i * n + i]
                    if serial then rows 0 cols else columnBlocks cols (int64 (e - i0) * int64 (e - i0) * int64 cols) rows
            halves width false leaf 0 n (fun i0 mid e ->
                let aOff = if trans then mo + mid * n + i0 else mo + i0 * n + mid
                let cols = if lowerOnly then min sw (mid - s0) else sw
                if cols > 0 then
                    subtractNegatingSmaller serial trans m aOff n x (xo + mid * k) k false x (xo + i0 * k) k (mid - i0) (e - mid) cols)
        if not lowerOnly then columnSlices n k run
        elif n <= unblockedMax then run false 0 k
        else
            // Column j's work grows as (n − j)², so the second slice starts where (n − c)³ = n³/2: equal work. Two
            // slices on any machine, so that the products' shapes, and the bits, do not depend on the cores.
            let c = int (float n * (1.0 - Math.Pow(0.5, 1.0 / 3.0))) / 8 * 8
            Functional.Kernels.Fork.For(2, fun s -> if s = 0 then run true 0 c else run true c (k - c))

    let private backward m mo trans unit n x xOffset k = backwardWith false m mo trans unit n x xOffset k

    /// Solves LU·X = P·B for B n×k (row-major, at `offset` of `b`) into `x` at `xOffset`.
    let luSolve (m: double[]) (perm: int[]) (n: int) (b: double[]) (offset: int) (k: int) (x: double[]) (xOffset: int) =
        for i in 0 .. n - 1 do Array.Copy(b, offset + perm.[i] * k, x, xOffset + i * k, k)
        forward m 0 false true n x xOffset k false
        backward m 0 false false n x xOffset k

    /// Solves Aᵀ·X = B for B n×k from A's LU factors (P·A = L·U, at mo of m), into `x` at `xOffset`: Aᵀ = Uᵀ·Lᵀ·P,
    /// so Uᵀ·W = B (forward substitution), Lᵀ·Z = W (back substitution, unit diagonal), X = Pᵀ·Z, reading the
    /// factors' columns as the rows of their transposes (the products take them as A stored transposed).
    let luSolveTransposed (m: double[]) (mo: int) (perm: int[]) (n: int) (b: double[]) (offset: int) (k: int) (x: double[]) (xOffset: int) =
        let z = Storage.rentScratch (n * k)
        try
            Array.Copy(b, offset, z, 0, n * k)
            forward m mo true false n z 0 k false
            backward m mo true true n z 0 k
            // Row perm(i) of X is row i of Z.
            for i in 0 .. n - 1 do Array.Copy(z, i * k, x, xOffset + perm.[i] * k, k)
        finally Storage.returnScratch z

    /// A⁻¹ = U⁻¹·L⁻¹·P from the LU factors (at mo of m), into y at yOffset: L⁻¹ (lower triangular: a third of the work of the
    /// forward substitution against the identity), U⁻¹ times it, then the columns put where P sends them. Each column
    /// is the one `luSolve` finds against the permuted identity, bit for bit.
    let luInverse (m: double[]) (mo: int) (perm: int[]) (n: int) (y: double[]) (yOffset: int) =
        let z = Storage.rentScratch (n * n)
        try
            Array.Clear(z, 0, n * n)
            for i in 0 .. n - 1 do z.[i * n + i] <- 1.0
            forward m mo false true n z 0 n true
            backward m mo false false n z 0 n
            // Column j of (U⁻¹L⁻¹)·P is column perm⁻¹(j) of U⁻¹L⁻¹.
            over n (int64 n * int64 n) (fun r0 r1 ->
                for i in r0 .. r1 - 1 do
                    for j in 0 .. n - 1 do y.[yOffset + i * n + perm.[j]] <- z.[i * n + j])
        finally Storage.returnScratch z

    /// The first zero on the diagonal of block b (n×n at `offset`), −1 when there is none.
    let firstZeroOnDiagonal (a: double[]) (offset: int) (n: int) =
        let mutable zero = -1
        let mutable i = 0
        while zero < 0 && i < n do
            if a.[offset + i * n + i] = 0.0 then zero <- i
            i <- i + 1
        zero

    /// X (n×k at xOffset) := T⁻¹·X, or T⁻ᵀ·X when `transpose`, for T the lower (upper = false) or upper triangle of
    /// block b of `a` (n×n at `offset`; the other part never read), its diagonal nonzero: forward or back
    /// substitution (Tᵀ read where T is stored, without a transposed copy).
    let triangularSolve (upper: bool) (transpose: bool) (a: double[]) (offset: int) (n: int) (x: double[]) (xOffset: int) (k: int) =
        // The transpose of a lower triangle is an upper one, and the other way round.
        if upper <> transpose then backward a offset transpose false n x xOffset k
        else forward a offset transpose false n x xOffset k false

    /// f i j for every j ≤ i < n, in 32×32 tiles: a mirror's writes down a column then stay within a few cache lines
    /// per row.
    let inline private lowerInTiles (n: int) ([<InlineIfLambda>] f: int -> int -> unit) =
        let tile = 32
        for i0 in 0 .. tile .. n - 1 do
            for j0 in 0 .. tile .. i0 do
                for i in i0 .. min n (i0 + tile) - 1 do
                    for j in j0 .. min (i + 1) (j0 + tile) - 1 do f i j

    /// X (n×n at xOffset) := S(L⁻ᵀ·X) for L the lower triangle of block b of `a` (n×n at `offset`; its upper part
    /// never read), S taking the lower triangle and mirroring it above the diagonal: the last step of Cholesky's
    /// pullback, whose result is symmetric, by back substitution of the lower triangle only (`backwardWith`), half
    /// the multiply-adds of the whole L⁻ᵀ·X. What X holds above its diagonal does not reach the result.
    let lowerOfTransposedSolve (a: double[]) (offset: int) (n: int) (x: double[]) (xOffset: int) =
        backwardWith true a offset true false n x xOffset n
        lowerInTiles n (fun i j -> if j < i then x.[xOffset + j * n + i] <- x.[xOffset + i * n + j])

    /// M = ½(Φ(X) + Φ(X)ᵀ) for X = tril(L)ᵀ·G (L and G n×n at lOff and gOff; neither's part above the diagonal is
    /// read), into m at mOff, Φ taking the lower triangle with its diagonal halved: M[i, j] = M[j, i] = ½X[i, j] for
    /// j ≤ i, where X[i, j] = Σ_{k ≥ i} L[k, i]·G[k, j]. Of X only the lower triangle is needed, and of each column
    /// of L only its lower part: beyond `unblockedMax` rows, each block of X's rows (32 to 64) up to its own last
    /// column, in two products on the packed kernel (the diagonal blocks of L and of G's rows copied with zeros above
    /// the diagonal, then the rows of L and G below them), about n³/6 + 32n² multiply-adds against the full
    /// product's n³ (a quarter at n = 512); otherwise row by row.
    let choleskyMiddle (l: double[]) (lOff: int) (g: double[]) (gOff: int) (n: int) (m: double[]) (mOff: int) =
        Array.Clear(m, mOff, n * n)
        if n > unblockedMax && Gemm.packedApplies 32 32 32 then
            let blocks = (n + unblockedMax - 1) / unblockedMax
            let diagonal = Storage.rentScratch (unblockedMax * unblockedMax)
            // G's rows of the block, columns up to the block's last, with zeros above the diagonal: the zeros of L's
            // diagonal block meet G's elements there, and 0·NaN would make a NaN.
            let rows = Storage.rentScratch (unblockedMax * n)
            for b in 0 .. blocks - 1 do
                let i0, i1 = b * n / blocks, (b + 1) * n / blocks
                let w = i1 - i0
                Array.Clear(diagonal, 0, w * w)
                Array.Clear(rows, 0, w * i1)
                for r in 0 .. w - 1 do
                    Array.Copy(l, lOff + (i0 + r) * n + i0, diagonal, r * w, r + 1)
                    Array.Copy(g, gOff + (i0 + r) * n, rows, r * i1, i0 + r + 1)
                addProductOn false true diagonal 0 w rows 0 i1 false m (mOff + i0 * n) n w w i1
                if i1 < n then addProductOn false true l (lOff + i1 * n + i0) n g (gOff + i1 * n) n false m (mOff + i0 * n) n w (n - i1) i1
            Storage.returnScratch rows
            Storage.returnScratch diagonal
        else
            for i in 0 .. n - 1 do
                for k in i .. n - 1 do subtractScaled m (mOff + i * n) (-l.[lOff + k * n + i]) g (gOff + k * n) (i + 1)
        lowerInTiles n (fun i j ->
            let v = 0.5 * m.[mOff + i * n + j]
            m.[mOff + i * n + j] <- v
            if j < i then m.[mOff + j * n + i] <- v)

    /// The first zero on the diagonal of block b (n×n at `offset`) if it is lower triangular (everything right of
    /// the diagonal ±0); −1 when it is lower triangular without one; None when it is not lower triangular.
    let lowerTriangular (a: double[]) (offset: int) (n: int) =
        let mutable lower = true
        let mutable i = 0
        while lower && i < n do
            let row = offset + i * n
            let mutable j = i + 1
            while lower && j < n do
                if a.[row + j] <> 0.0 then lower <- false
                j <- j + 1
            i <- i + 1
        if lower then Some (firstZeroOnDiagonal a offset n) else None

    /// L⁻¹ of a lower triangular block b (n×n at `offset`, no zero on its diagonal) into y at yOffset: forward
    /// substitution on the identity, each row of L⁻¹ left of its diagonal (a sixth of the multiply-adds of an
    /// inverse through LU), without pivoting.
    let lowerInverse (a: double[]) (offset: int) (n: int) (y: double[]) (yOffset: int) =
        Array.Clear(y, yOffset, n * n)
        for i in 0 .. n - 1 do y.[yOffset + i * n + i] <- 1.0
        forward a offset false false n y yOffset n true

    /// The lower Cholesky factor of the block at `offset` (its lower triangle read), into `l` at the same offset;
    /// the first column whose pivot is not positive (−1 when the block is positive definite). Up to `unblockedMax`
    /// rows right-looking, four lanes along each row: after column j is final, its products are subtracted from the
    /// rows below (each element's subtractions in the order of the summation index, as the left-looking dot products
    /// take them). Beyond, recursively over halves of the columns with panels as leaves (each right-looking down its
    /// columns), the right half losing its products with the left by products of row blocks.
    let cholesky (a: double[]) (offset: int) (n: int) (l: double[]) =
        // The lower triangle, worked on in place in l.
        for i in 0 .. n - 1 do Array.Copy(a, offset + i * n, l, offset + i * n, i + 1)
        let mutable failed = -1
        if n <= unblockedMax then
            // The column being subtracted copied out contiguous.
            let column = Array.zeroCreate<double> n
            let mutable j = 0
            while failed < 0 && j < n do
                let d = l.[offset + j * n + j]
                if not (d > 0.0) then failed <- j
                else
                    let ljj = Math.Sqrt d
                    l.[offset + j * n + j] <- ljj
                    for i in j + 1 .. n - 1 do
                        let v = l.[offset + i * n + j] / ljj
                        l.[offset + i * n + j] <- v
                        column.[i] <- v
                    // Row i (below j) loses l[i, j]·l[c, j] at columns c = j + 1 .. i.
                    let rest = n - j - 1
                    over rest (int64 rest * int64 rest / 2L) (fun r0 r1 ->
                        for i in j + 1 + r0 .. j + r1 do
                            subtractScaled l (offset + i * n + j + 1) column.[i] column (j + 1) (i - j))
                j <- j + 1
        else
            let buffer = Storage.rentScratch (columnStride n * panel)
            // The first column whose pivot is not positive, as the leaves find it.
            let firstFailed = ref -1
            // Columns [j0, e) (one panel at most), rows j0 .. n − 1, every earlier column's products already
            // subtracted: copied out contiguous (above the diagonal unused), factored right-looking down its
            // columns, copied back.
            let leaf (j0: int) (e: int) =
                let r = n - j0
                let cs = columnStride r
                let w = e - j0
                for i in 0 .. r - 1 do
                    let row = offset + (j0 + i) * n + j0
                    for c in 0 .. min i (w - 1) do buffer.[c * cs + i] <- l.[row + c]
                let mutable jj = 0
                while firstFailed.Value < 0 && jj < w do
                    let col = jj * cs
                    let d = buffer.[col + jj]
                    if not (d > 0.0) then firstFailed.Value <- j0 + jj
                    else
                        let ljj = Math.Sqrt d
                        buffer.[col + jj] <- ljj
                        divide buffer (col + jj + 1) (r - jj - 1) ljj
                        // Column c of the panel loses l[i, j]·l[c, j] at rows i = c .. n − 1.
                        for c in jj + 1 .. w - 1 do
                            subtractScaled buffer (c * cs + c) buffer.[col + c] buffer (col + c) (r - c)
                    jj <- jj + 1
                if firstFailed.Value < 0 then
                    for i in 0 .. r - 1 do
                        let row = offset + (j0 + i) * n + j0
                        for c in 0 .. min i (w - 1) do l.[row + c] <- buffer.[c * cs + i]
            // Columns [c0, c1), rows c0 .. n − 1, lose their products with the factor's columns [k0, k1): where the
            // rows meet the columns only the lower triangle, each block of rows up to its own last column (the part
            // right of the diagonal is never computed); the rows below in one product.
            let update (k0: int) (k1: int) (c0: int) (c1: int) =
                let w = k1 - k0
                let rest = c1 - c0
                let rowsPer = max panel ((rest + 3) / 4)
                let mutable r0 = 0
                while r0 < rest do
                    let r1 = min rest (r0 + rowsPer)
                    subtractProduct l (offset + (c0 + r0) * n + k0) n l (offset + c0 * n + k0) n true l (offset + (c0 + r0) * n + c0) n (r1 - r0) w r1 r0
                    r0 <- r1
                if c1 < n then
                    subtractNegatingSmaller false false l (offset + c1 * n + k0) n l (offset + c0 * n + k0) n true l (offset + c1 * n + c0) n (n - c1) w rest
            // Columns [j0, e), rows j0 .. n − 1, recursively: the left half, the right half's products with it (of
            // inner dimension half the width), the right half; panels as leaves.
            let rec factor (j0: int) (e: int) =
                if firstFailed.Value < 0 then
                    if e - j0 <= panel then leaf j0 e
                    else
                        let mid = j0 + half panel (e - j0)
                        factor j0 mid
                        if firstFailed.Value < 0 then
                            update j0 mid mid e
                            factor mid e
            factor 0 n
            failed <- firstFailed.Value
            Storage.returnScratch buffer
        // The upper triangle is zero (the caller's array may be recycled).
        for i in 0 .. n - 1 do Array.Clear(l, offset + i * n + i + 1, n - i - 1)
        failed
