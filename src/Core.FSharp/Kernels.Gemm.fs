namespace Functional.Core

open System
open System.Numerics
open System.Threading.Tasks

/// Batched matrix products on contiguous row-major blocks.
module internal Gemm =

    /// Work (multiply-adds) above which rows are spread over the cores.
    let parallelThreshold = 1L <<< 16

    /// Rows r0..r1-1 of batch b: C[b,i,:] = Σ_k A[b,i,k]·B[b,k,:], i-k-j order so the inner loop streams rows.
    let private rows (a: double[]) (b: double[]) (c: double[]) (m: int) (k: int) (n: int) (bi: int) (r0: int) (r1: int) =
        let aOff = bi * m * k
        let bOff = bi * k * n
        let cOff = bi * m * n
        let w = Vector<double>.Count
        for i in r0 .. r1 - 1 do
            let cRow = Span<double>(c, cOff + i * n, n)
            for p in 0 .. k - 1 do
                let av = a.[aOff + i * k + p]
                let bRow = ReadOnlySpan<double>(b, bOff + p * n, n)
                let mutable j = 0
                let va = Vector<double>(av)
                while j <= n - w do
                    let vc = Vector<double>(cRow.Slice(j))
                    let vb = Vector<double>(bRow.Slice(j))
                    (vc + va * vb).CopyTo(cRow.Slice(j))
                    j <- j + w
                while j < n do
                    cRow.[j] <- cRow.[j] + av * bRow.[j]
                    j <- j + 1

    /// C[b] = A[b]·B[b] for A: batch×m×k, B: batch×k×n, both contiguous.
    let batched (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let c = Array.zeroCreate (Shape.numel [| batch; m; n |])
        let work = int64 batch * int64 m * int64 k * int64 n
        if work < parallelThreshold || batch * m < 2 then
            for bi in 0 .. batch - 1 do rows a b c m k n bi 0 m
        else
            // Each task owns whole output rows, so the sum order never depends on the thread count.
            let block = max 1 (int (parallelThreshold / (int64 (max 1 k) * int64 (max 1 n))))
            let blocksPerBatch = (m + block - 1) / block
            Parallel.For(0, batch * blocksPerBatch, fun t ->
                let bi = t / blocksPerBatch
                let r0 = (t % blocksPerBatch) * block
                rows a b c m k n bi r0 (min m (r0 + block))) |> ignore
        c
