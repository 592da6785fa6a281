namespace Functional.Tests

open System
open System.Numerics
open Xunit
open Functional.Core

/// The guarantee across hardware paths (AVX-512, AVX2, no SIMD; CI runs this file on each): every element of a
/// product or contraction, c = Σ_k a_k·b_k over k terms, is within k·u·Σ_k |a_k·b_k| of the exact sum
/// (u = 2^−53), whatever order and fused multiply-adds the path uses. Two paths may therefore differ by up to
/// twice that: far below an ulp of c where the terms do not cancel, and many ulps of c where they do.
module KernelsGemmBoundTests =

    let private u = Math.ScaleB(1.0, -53)

    /// Exact Σ a_k·b_k as a fixed-point BigInteger (each product exact), and Σ |a_k·b_k|.
    let private exactDot (a: double[]) (b: double[]) =
        let mutable s = BigInteger.Zero
        let mutable abs' = 0.0
        for k in 0 .. a.Length - 1 do
            s <- s + HighPrecision.ofDouble a.[k] * HighPrecision.ofDouble b.[k]
            abs' <- abs' + abs (a.[k] * b.[k])
        HighPrecision.toDouble (s >>> HighPrecision.bits), abs'

    /// A and B with rows of B built so that many dot products nearly cancel (small results from large terms).
    let private operands (seed: int) (m: int) (k: int) (n: int) =
        let a = (Tensor.random seed [| m; k |]).ToArray()
        let b = (Tensor.random (seed + 1) [| k; n |]).ToArray()
        // Column j of B, for even j, is made orthogonal to row j % m of A up to rounding: the dot cancels.
        for j in 0 .. 2 .. n - 1 do
            let r = j % m
            let mutable dot = 0.0
            let mutable norm = 0.0
            for p in 0 .. k - 1 do
                dot <- dot + a.[r * k + p] * b.[p * n + j]
                norm <- norm + a.[r * k + p] * a.[r * k + p]
            for p in 0 .. k - 1 do b.[p * n + j] <- b.[p * n + j] - dot / norm * a.[r * k + p]
        a, b

    let private check (what: string) (a: double[]) (b: double[]) (m: int) (k: int) (n: int) (c: double[]) =
        for i in 0 .. m - 1 do
            for j in 0 .. n - 1 do
                let exact, scale = exactDot a.[i * k .. i * k + k - 1] (Array.init k (fun p -> b.[p * n + j]))
                let bound = float k * u * scale
                let err = abs (c.[i * n + j] - exact)
                if err > bound then
                    Check.failf "%s (%d×%d×%d), element (%d, %d): %.17g, exact %.17g: error %.3g over the bound k·u·Σ|ab| = %.3g" what m k n i j c.[i * n + j] exact err bound

    [<Fact>]
    let ``every product element is within k·u·Σ|a·b| of the exact sum, through every kernel`` () =
        // Small (the simple kernel), tile-sized (read in place), packed, long k (blocked), matrix-vector.
        for m, k, n in [ 3, 5, 4; 8, 16, 16; 17, 33, 40; 64, 96, 80; 16, 1100, 24; 40, 64, 1; 1, 300, 70 ] do
            let a, b = operands (m * 7 + k + n) m k n
            let c = (Linear.matmul (Value.constant (Tensor.create [| m; k |] a)) (Value.constant (Tensor.create [| k; n |] b))).Tensor.ToArray()
            check "matmul" a b m k n c

    [<Fact>]
    let ``contractions through the engine keep the same bound (batched, permuted operands)`` () =
        let m, k, n, batch = 12, 70, 9, 3
        let pairs = Array.init batch (fun s -> operands (100 + s) m k n)
        let a = pairs |> Array.collect fst
        let b = pairs |> Array.collect snd
        let c = (Einsum.contract "bij,bjk->bik" [| Tensor.create [| batch; m; k |] a; Tensor.create [| batch; k; n |] b |]).ToArray()
        for s in 0 .. batch - 1 do
            check (sprintf "bij,bjk->bik batch %d" s) (fst pairs.[s]) (snd pairs.[s]) m k n c.[s * m * n .. (s + 1) * m * n - 1]
        // B given transposed in memory (jk stored as kj).
        let a1, b1 = operands 7 m k n
        let bt = Tensor.transpose (Tensor.create [| k; n |] b1)
        let c1 = (Einsum.contract "ij,kj->ik" [| Tensor.create [| m; k |] a1; bt |]).ToArray()
        check "ij,kj->ik" a1 b1 m k n c1
