namespace Functional.Core

open System
open System.Runtime.CompilerServices

/// The door to the C# strided-copy kernels (src/Kernels/Layout): one odometer serves permute, broadcast, diagonal
/// extraction and diagonal writes; and the fresh output arrays and chunked loops every kernel door uses.
module internal Strided =

    /// Whether a result of n doubles is written around the caches (`Tuning.NonTemporalBytes`).
    let streams (n: int) = int64 n * 8L >= Functional.Kernels.Tuning.NonTemporalBytes

    /// Whether a large result made now goes around the caches because its array is not in them
    /// (`Storage.plain`, `Tuning.StreamPlainResults`): written through the caches, each line would first be read
    /// from memory. In a scope the array is a recently returned one, likely still cached.
    let streamsPlain (n: int) = streams n && Functional.Kernels.Tuning.StreamPlainResults && Storage.plain ()

    /// `streamsPlain` for a result written in runs of `run` elements (rows, segments): only runs of
    /// `Tuning.StreamRunsFrom` and more, whose two partly cached lines are few among their own.
    let streamsPlainRuns (n: int) (run: int) = run >= Functional.Kernels.Tuning.StreamRunsFrom && streamsPlain n

    /// dst[dstOff + Σ idx·dstStrides] <- src[srcOff + Σ idx·srcStrides] for every index over `shape`, the
    /// destinations distinct (permutations, diagonal writes; a source stride may be 0). Transposing planes go
    /// through cache-sized tiles (Functional.Kernels.Permute). When `stream` (a new result's array outside every
    /// scope, which is in no cache), what the kernel writes in whole lines goes around the caches.
    let copyStreaming (stream: bool) (src: double[]) (srcOff: int) (srcStrides: int[]) (dst: double[]) (dstOff: int) (dstStrides: int[]) (shape: int[]) =
        Functional.Kernels.Permute.Copy(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape, stream)

    /// `copyStreaming` through the caches.
    let copy (src: double[]) (srcOff: int) (srcStrides: int[]) (dst: double[]) (dstOff: int) (dstStrides: int[]) (shape: int[]) =
        copyStreaming false src srcOff srcStrides dst dstOff dstStrides shape

    /// A contiguous copy of the strided view (src, offset, strides) over `shape`, around the caches when `stream`.
    let private gatherStreaming (stream: bool) (src: double[]) (offset: int) (strides: int[]) (shape: int[]) =
        // Every element of dst is written: it may start uninitialised.
        let dst = Storage.uninit (Shape.numel shape)
        copyStreaming (stream && streamsPlain dst.Length) src offset strides dst 0 (Shape.strides shape) shape
        dst

    /// A contiguous copy of the strided view (src, offset, strides) over `shape`: a temporary read at once (an
    /// einsum's gathered operand), through the caches.
    let gather (src: double[]) (offset: int) (strides: int[]) (shape: int[]) = gatherStreaming false src offset strides shape

    /// `gather` for an op's result: a plain one (`streamsPlain`), in no cache, goes around the caches.
    let gatherResult (src: double[]) (offset: int) (strides: int[]) (shape: int[]) = gatherStreaming true src offset strides shape

    /// The same strided loop over fewer axes: axes of size 1 dropped, and each axis merged into the one before
    /// it where both operands step through them as one (a[i, j] at i·n·s + j·s, or stride 0 in both), so that
    /// the innermost run is as long as it can be (bi,bi->bi is one run).
    let mergeAxes (shape: int[]) (sa: int[]) (sb: int[]) =
        let keep = [| for d in 0 .. shape.Length - 1 do if shape.[d] <> 1 then yield d |]
        let shp = ResizeArray<int>()
        let ra = ResizeArray<int>()
        let rb = ResizeArray<int>()
        for d in keep do
            let last = shp.Count - 1
            if last >= 0 && ra.[last] = sa.[d] * shape.[d] && rb.[last] = sb.[d] * shape.[d] then
                shp.[last] <- shp.[last] * shape.[d]
                ra.[last] <- sa.[d]
                rb.[last] <- sb.[d]
            else
                shp.Add shape.[d]
                ra.Add sa.[d]
                rb.Add sb.[d]
        shp.ToArray(), ra.ToArray(), rb.ToArray()

    /// An uninitialised array for an output that a kernel fills completely. (Touching its pages first was
    /// measured slower here: 3.3 → 5.2 ms for GELU over 2¹⁸ elements.)
    /// In an open TensorScope it comes from the scope's pool.
    let fresh (n: int) = Storage.uninit n

    /// Runs body over [0, count) in ranges of at least 16,384 elements (a unit being `unit` elements), spread over
    /// the cores when there are several. The ranges must write disjoint elements.
    let chunkedUnits (count: int) (unit: int) (body: int -> int -> unit) =
        let per = max 1 (16384 / max 1 unit)
        if count < 2 || int64 count * int64 unit <= 2L * 16384L then body 0 count
        else Functional.Kernels.Fork.ForPieces(count, per, fun lo hi -> body lo hi)

    /// dst[dstOff + Σ idx·dstStrides] += src[srcOff + Σ idx·srcStrides] for every index over `shape`, the
    /// destinations distinct (a source stride may be 0: a uniform or broadcast source). Each element is dst's plus
    /// src's, one addition: the bits of an elementwise sum. Runs that both sides read as one are vector adds.
    let addStrided (src: double[]) (srcOff: int) (srcStrides: int[]) (dst: double[]) (dstOff: int) (dstStrides: int[]) (shape: int[]) =
        let shp, ss, ds = mergeAxes shape srcStrides dstStrides
        let r = shp.Length
        if Array.contains 0 shp then ()
        elif r = 0 then dst.[dstOff] <- dst.[dstOff] + src.[srcOff]
        else
            let run = shp.[r - 1]
            let rows = Array.fold (*) 1 shp.[.. r - 2]
            let runAt (row: int) =
                // The offsets of a row of runs from its index over the leading axes.
                let mutable rest = row
                let mutable so = srcOff
                let mutable d0 = dstOff
                for a in r - 2 .. -1 .. 0 do
                    let k = rest % shp.[a]
                    rest <- rest / shp.[a]
                    so <- so + k * ss.[a]
                    d0 <- d0 + k * ds.[a]
                struct (so, d0)
            chunkedUnits rows run (fun r0 r1 ->
                for row in r0 .. r1 - 1 do
                    let struct (so, d0) = runAt row
                    let out = Span(dst, d0, (run - 1) * ds.[r - 1] + 1)
                    if ds.[r - 1] = 1 && ss.[r - 1] = 1 then
                        Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan(src, so, run), ReadOnlySpan<double>(dst, d0, run), out)
                    elif ds.[r - 1] = 1 && ss.[r - 1] = 0 then
                        Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan<double>(dst, d0, run), src.[so], out)
                    else
                        for k in 0 .. run - 1 do
                            let at = d0 + k * ds.[r - 1]
                            dst.[at] <- dst.[at] + src.[so + k * ss.[r - 1]])

    /// Runs body over [0, n) in chunks of 16,384, spread over the cores when there are several chunks.
    /// Elementwise work only: each element is written by exactly one chunk.
    let chunked (n: int) (body: int -> int -> unit) = chunkedUnits n 1 body

    /// a[offset .. offset + count) set to +0 on this thread, around the caches when `stream`.
    let clearStreaming (stream: bool) (a: double[]) (offset: int) (count: int) =
        if stream then Functional.Kernels.Streams.Clear(a, offset, count) else Array.Clear(a, offset, count)

    /// a[offset .. offset + count) set to +0, in chunks over the cores; around the caches when `stream`.
    let clearWith (stream: bool) (a: double[]) (offset: int) (count: int) =
        chunked count (fun lo hi ->
            clearStreaming stream a (offset + lo) (hi - lo)
            if stream then Functional.Kernels.Streams.Fence())

    /// a[offset .. offset + count) set to +0, in chunks over the cores.
    let clear (a: double[]) (offset: int) (count: int) = clearWith false a offset count

    /// Runs body over [0, count) units of `unit` elements (rows, say) for kernels that spend nanoseconds per
    /// element: tasks of `Fork.PerTask`, over every core from `Tuning.SplitCostlyFrom` elements on. Each unit is
    /// one task's.
    let chunkedCostlyUnits (count: int) (unit: int) (body: int -> int -> unit) =
        let per = Functional.Kernels.Fork.PerTask(count, unit)
        if Functional.Kernels.Fork.Pieces(count, per) <= 1 then body 0 count
        else Functional.Kernels.Fork.ForPieces(count, per, fun lo hi -> body lo hi)

    /// `chunkedCostlyUnits` over single elements (the exponential's family, GELU, powers).
    let chunkedCostly (n: int) (body: int -> int -> unit) = chunkedCostlyUnits n 1 body

    /// `chunked` for a kernel writing n doubles: when `streaming` (`streams n`), chunks of 65,536 (512 KB), over
    /// which TensorPrimitives writes with non-temporal stores (it does for spans above 256 KB; chunks of 16,384
    /// never reached that) and the four-lane loops write aligned lanes with them.
    let chunkedStreaming (streaming: bool) (n: int) (body: int -> int -> unit) =
        if streaming then
            Functional.Kernels.Fork.ForPieces(n, 65536, fun lo hi -> body lo hi)
        else chunked n body

    /// `chunkedStreaming` for kernels that spend nanoseconds per element (`chunkedCostly` when not streaming).
    let chunkedStreamingCostly (streaming: bool) (n: int) (body: int -> int -> unit) =
        if streaming then chunkedStreaming true n body else chunkedCostly n body
