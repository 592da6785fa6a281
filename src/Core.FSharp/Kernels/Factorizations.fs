namespace Functional.Core

open System
open System.Runtime.Intrinsics

/// Dense factorizations of row-major n×n blocks: LU with partial pivoting and Cholesky. Batches are consecutive
/// blocks. Each element goes through the textbook sequence of operations (a product, then a subtraction, in order of
/// the summation index, no FMA), so the results are those of the plain loops bit for bit; the loops run along rows,
/// four lanes at a time, and over the cores where the work is large.
module internal Factorizations =

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

    /// Rows or columns [0, count) in chunks over the cores when `work` (elements touched) is large.
    let private over (count: int) (work: int64) (body: int -> int -> unit) =
        if count < 2 || work < 65536L then body 0 count
        else Strided.chunkedUnits count (int (min 1000000L (work / int64 count))) body

    /// LU of block b of `a` (copied): the packed factors, the row permutation and its sign, and the first zero
    /// pivot (−1 when there is none).
    let lu (a: double[]) (offset: int) (n: int) =
        let m = Array.sub a offset (n * n)
        let perm = Array.init n id
        let mutable sign = 1.0
        let mutable singular = -1
        for k in 0 .. n - 1 do
            // The largest pivot in column k at or below the diagonal.
            let mutable p = k
            for i in k + 1 .. n - 1 do
                if abs m.[i * n + k] > abs m.[p * n + k] then p <- i
            if p <> k then
                for j in 0 .. n - 1 do
                    let t = m.[k * n + j]
                    m.[k * n + j] <- m.[p * n + j]
                    m.[p * n + j] <- t
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
                        if f <> 0.0 then subtractScaled m (i * n + k + 1) f m (k * n + k + 1) rest)
        m, perm, sign, singular

    /// Solves LU·X = P·B for B n×k (row-major, at `offset` of `b`) into `x` at `xOffset`: whole rows of X at a
    /// time (each element the same sequence as a column's substitution), column blocks over the cores.
    let luSolve (m: double[]) (perm: int[]) (n: int) (b: double[]) (offset: int) (k: int) (x: double[]) (xOffset: int) =
        let block = 64
        let blocks = (k + block - 1) / block
        over blocks (int64 n * int64 n * int64 k) (fun b0 b1 ->
            let c0 = b0 * block
            let width = min k (b1 * block) - c0
            // Forward substitution with the unit lower factor, on the permuted rows.
            for i in 0 .. n - 1 do
                Array.Copy(b, offset + perm.[i] * k + c0, x, xOffset + i * k + c0, width)
                for j in 0 .. i - 1 do
                    subtractScaled x (xOffset + i * k + c0) m.[i * n + j] x (xOffset + j * k + c0) width
            for i in n - 1 .. -1 .. 0 do
                for j in i + 1 .. n - 1 do
                    subtractScaled x (xOffset + i * k + c0) m.[i * n + j] x (xOffset + j * k + c0) width
                let d = m.[i * n + i]
                for c in xOffset + i * k + c0 .. xOffset + i * k + c0 + width - 1 do x.[c] <- x.[c] / d)

    /// det of block b from its LU: the pivots' product times the permutation's sign.
    let determinant (m: double[]) (n: int) (sign: double) =
        let mutable d = sign
        for i in 0 .. n - 1 do d <- d * m.[i * n + i]
        d

    /// (sign of det, ln |det|) of block b from its LU, without overflow.
    let signLogAbs (m: double[]) (n: int) (sign: double) =
        let mutable s = sign
        let mutable l = 0.0
        for i in 0 .. n - 1 do
            let p = m.[i * n + i]
            if p < 0.0 then s <- -s
            elif p = 0.0 then s <- 0.0
            l <- l + Math.Log(abs p)
        s, l

    /// The lower Cholesky factor of the block at `offset` (its lower triangle read), into `l` at the same offset;
    /// the first column whose pivot is not positive (−1 when the block is positive definite). Right-looking: after
    /// column j is final, its products are subtracted from the rows below (each element's subtractions in the
    /// order of the summation index, as the left-looking dot products take them), four lanes along each row.
    let cholesky (a: double[]) (offset: int) (n: int) (l: double[]) =
        // The lower triangle, worked on in place in l; the column being subtracted copied out contiguous.
        for i in 0 .. n - 1 do Array.Copy(a, offset + i * n, l, offset + i * n, i + 1)
        let column = Array.zeroCreate<double> n
        let mutable failed = -1
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
        // The upper triangle is zero (the caller's array may be recycled).
        for i in 0 .. n - 1 do Array.Clear(l, offset + i * n + i + 1, n - i - 1)
        failed
