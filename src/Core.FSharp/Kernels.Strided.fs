namespace Functional.Core

open System
open System.Runtime.CompilerServices

/// Strided copies: one odometer serves permute, broadcast, diagonal extraction and diagonal writes.
module internal Strided =

    /// dst[dstOff + Σ idx·dstStrides] <- src[srcOff + Σ idx·srcStrides] for every index over `shape`.
    let copy (src: double[]) (srcOff: int) (srcStrides: int[]) (dst: double[]) (dstOff: int) (dstStrides: int[]) (shape: int[]) =
        let r = shape.Length
        if r = 0 then dst.[dstOff] <- src.[srcOff]
        elif Array.exists ((=) 0) shape then ()
        else
            let n = shape.[r - 1]
            let ss = srcStrides.[r - 1]
            let ds = dstStrides.[r - 1]
            let idx = Array.zeroCreate r
            let mutable si = srcOff
            let mutable di = dstOff
            let mutable fin = false
            while not fin do
                if ss = 1 && ds = 1 then
                    Array.Copy(src, si, dst, di, n)
                else
                    let mutable s = si
                    let mutable d = di
                    for _ in 1 .. n do
                        dst.[d] <- src.[s]
                        s <- s + ss
                        d <- d + ds
                // advance the outer odometer
                let mutable ax = r - 2
                let mutable carry = true
                while carry && ax >= 0 do
                    idx.[ax] <- idx.[ax] + 1
                    si <- si + srcStrides.[ax]
                    di <- di + dstStrides.[ax]
                    if idx.[ax] < shape.[ax] then carry <- false
                    else
                        si <- si - srcStrides.[ax] * shape.[ax]
                        di <- di - dstStrides.[ax] * shape.[ax]
                        idx.[ax] <- 0
                        ax <- ax - 1
                if carry then fin <- true

    /// A contiguous copy of the strided view (src, offset, strides) over `shape`.
    let gather (src: double[]) (offset: int) (strides: int[]) (shape: int[]) =
        let dst = Array.zeroCreate (Shape.numel shape)
        copy src offset strides dst 0 (Shape.strides shape) shape
        dst

    /// Sums contiguous runs of `inner` elements: out[i] = Σ_r src[i·inner + r].
    let sumRuns (src: double[]) (outer: int) (inner: int) =
        let out = Array.zeroCreate outer
        Functional.Kernels.Reduce.SumRuns(src, outer, inner, out)
        out

    /// An uninitialised array for an output that a kernel fills completely. (Touching its pages first was
    /// measured slower here: 3.3 → 5.2 ms for GELU over 2¹⁸ elements.)
    let fresh (n: int) = GC.AllocateUninitializedArray<double> n

    /// Runs body over [0, n) in chunks of 16,384, spread over the cores when there are several chunks.
    /// Elementwise work only: each element is written by exactly one chunk.
    let chunked (n: int) (body: int -> int -> unit) =
        let chunk = 16384
        if n <= 2 * chunk then body 0 n
        else Threading.Tasks.Parallel.For(0, (n + chunk - 1) / chunk, fun k -> body (k * chunk) (min n ((k + 1) * chunk))) |> ignore
