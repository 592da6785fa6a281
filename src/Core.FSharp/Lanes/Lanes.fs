namespace Functional.Core

#nowarn "9" // a pinned pointer for the non-temporal stores, inside `fill` only

open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop

/// Elementwise loops over whole tensors, four lanes at a time where vectors run and over the cores for large
/// arrays: the one-pass kernels of the elementwise ops and of their VJPs.
[<RequireQualifiedAccess>]
module internal Lanes =

    /// dst[lo..hi) from `lane i` (elements i..i+3) and `one i`: through the cache, or when `streaming` with
    /// non-temporal stores of 32-byte-aligned lanes, the elements before the first aligned one through `one` (the
    /// same bits: `lane` must be `one` on four elements).
    let inline internal fill (dst: double[]) (streaming: bool) (lo: int) (hi: int) ([<InlineIfLambda>] lane: int -> Vector256<double>) ([<InlineIfLambda>] one: int -> double) =
        let mutable i = lo
        if streaming && Sse.IsSupported then
            use pd = fixed dst
            while i < hi && NativePtr.toNativeInt (NativePtr.add pd i) % 32n <> 0n do
                dst.[i] <- one i
                i <- i + 1
            while i <= hi - 4 do
                Vector256.StoreAlignedNonTemporal(lane i, NativePtr.add pd i)
                i <- i + 4
            Sse.StoreFence()
        else
            while i <= hi - 4 do
                (lane i).CopyTo(dst, i)
                i <- i + 4
        while i < hi do
            dst.[i] <- one i
            i <- i + 1

    /// f(a) elementwise, four lanes at a time where vectors run (`fv` must be `f` on lanes, the same operations
    /// in the same order, so the same bits), over the cores for large arrays.
    let inline map ([<InlineIfLambda>] fv: Vector256<double> -> Vector256<double>) ([<InlineIfLambda>] f: double -> double) (a: Tensor) =
        if not Cpu.v256 then Tensor.mapInline f a
        else
            let x = a.Data
            let dst = Strided.fresh x.Length
            let streaming = Strided.streams x.Length
            Strided.chunkedStreaming streaming x.Length (fun lo hi -> fill dst streaming lo hi (fun i -> fv (Vector256.Create(x, i))) (fun i -> f x.[i]))
            a.CheckLive()
            Tensor.wrap a.ShapeArray dst

    /// f(a, b) elementwise for same-shape tensors, four lanes at a time where vectors run (`fv` must be `f` on
    /// lanes, the same operations in the same order, so the same bits), over the cores for large arrays.
    let inline zip ([<InlineIfLambda>] fv: Vector256<double> -> Vector256<double> -> Vector256<double>) ([<InlineIfLambda>] f: double -> double -> double) (a: Tensor) (b: Tensor) =
        if not (Cpu.v256 && Shape.same a.ShapeArray b.ShapeArray) then Tensor.map2Inline f a b
        else
            let x = a.Data
            let dst = Strided.fresh x.Length
            let streaming = Strided.streams x.Length
            if b.IsUniform then
                // A sum's adjoint: one value, never made into an array.
                let c = b.Fill
                let cv = Vector256.Create(c)
                Strided.chunkedStreaming streaming x.Length (fun lo hi -> fill dst streaming lo hi (fun i -> fv (Vector256.Create(x, i)) cv) (fun i -> f x.[i] c))
            else
                let y = b.Data
                Strided.chunkedStreaming streaming x.Length (fun lo hi -> fill dst streaming lo hi (fun i -> fv (Vector256.Create(x, i)) (Vector256.Create(y, i))) (fun i -> f x.[i] y.[i]))
            a.CheckLive()
            b.CheckLive()
            Tensor.wrap a.ShapeArray dst
