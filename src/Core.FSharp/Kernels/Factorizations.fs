namespace Functional.Core

open System

/// Dense factorizations of row-major n×n blocks: LU with partial pivoting and Cholesky. Batches are consecutive
/// blocks. Plain loops: the linear-algebra ops are for the sizes models differentiate through, not for GEMM speed.
module internal Factorizations =

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
                for i in k + 1 .. n - 1 do
                    let f = m.[i * n + k] / pivot
                    m.[i * n + k] <- f
                    if f <> 0.0 then
                        for j in k + 1 .. n - 1 do
                            m.[i * n + j] <- m.[i * n + j] - f * m.[k * n + j]
        m, perm, sign, singular

    /// Solves LU·X = P·B for B n×k (row-major, at `offset` of `b`) into `x` at `xOffset`.
    let luSolve (m: double[]) (perm: int[]) (n: int) (b: double[]) (offset: int) (k: int) (x: double[]) (xOffset: int) =
        for c in 0 .. k - 1 do
            // Forward substitution with the unit lower factor, on the permuted column.
            for i in 0 .. n - 1 do
                let mutable s = b.[offset + perm.[i] * k + c]
                for j in 0 .. i - 1 do s <- s - m.[i * n + j] * x.[xOffset + j * k + c]
                x.[xOffset + i * k + c] <- s
            for i in n - 1 .. -1 .. 0 do
                let mutable s = x.[xOffset + i * k + c]
                for j in i + 1 .. n - 1 do s <- s - m.[i * n + j] * x.[xOffset + j * k + c]
                x.[xOffset + i * k + c] <- s / m.[i * n + i]

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
    /// the first column whose pivot is not positive (−1 when the block is positive definite).
    let cholesky (a: double[]) (offset: int) (n: int) (l: double[]) =
        let mutable failed = -1
        for j in 0 .. n - 1 do
            if failed < 0 then
                let mutable d = a.[offset + j * n + j]
                for k in 0 .. j - 1 do d <- d - l.[offset + j * n + k] * l.[offset + j * n + k]
                if not (d > 0.0) then failed <- j
                else
                    let ljj = Math.Sqrt d
                    l.[offset + j * n + j] <- ljj
                    for i in j + 1 .. n - 1 do
                        let mutable s = a.[offset + i * n + j]
                        for k in 0 .. j - 1 do s <- s - l.[offset + i * n + k] * l.[offset + j * n + k]
                        l.[offset + i * n + j] <- s / ljj
        failed
