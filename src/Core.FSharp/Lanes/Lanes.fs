namespace Functional.Core

open System.Runtime.Intrinsics

/// Elementwise loops over whole tensors, four lanes at a time where vectors run and over the cores for large
/// arrays: the one-pass kernels of the elementwise ops and of their VJPs.
[<RequireQualifiedAccess>]
module internal Lanes =

    /// f(a) elementwise, four lanes at a time where vectors run (`fv` must be `f` on lanes, the same operations
    /// in the same order, so the same bits), over the cores for large arrays.
    let inline map ([<InlineIfLambda>] fv: Vector256<double> -> Vector256<double>) ([<InlineIfLambda>] f: double -> double) (a: Tensor) =
        if not Cpu.v256 then Tensor.mapInline f a
        else
            let x = a.Data
            let dst = Strided.fresh x.Length
            Strided.chunked x.Length (fun lo hi ->
                let mutable i = lo
                while i <= hi - 4 do
                    (fv (Vector256.Create(x, i))).CopyTo(dst, i)
                    i <- i + 4
                while i < hi do
                    dst.[i] <- f x.[i]
                    i <- i + 1)
            Tensor.wrap a.ShapeArray dst

    /// f(a, b) elementwise for same-shape tensors, four lanes at a time where vectors run (`fv` must be `f` on
    /// lanes, the same operations in the same order, so the same bits), over the cores for large arrays.
    let inline zip ([<InlineIfLambda>] fv: Vector256<double> -> Vector256<double> -> Vector256<double>) ([<InlineIfLambda>] f: double -> double -> double) (a: Tensor) (b: Tensor) =
        if not (Cpu.v256 && Shape.same a.ShapeArray b.ShapeArray) then Tensor.map2Inline f a b
        else
            let x = a.Data
            let dst = Strided.fresh x.Length
            if b.IsUniform then
                // A sum's adjoint: one value, never made into an array.
                let c = b.Fill
                let cv = Vector256.Create(c)
                Strided.chunked x.Length (fun lo hi ->
                    let mutable i = lo
                    while i <= hi - 4 do
                        (fv (Vector256.Create(x, i)) cv).CopyTo(dst, i)
                        i <- i + 4
                    while i < hi do
                        dst.[i] <- f x.[i] c
                        i <- i + 1)
            else
                let y = b.Data
                Strided.chunked x.Length (fun lo hi ->
                    let mutable i = lo
                    while i <= hi - 4 do
                        (fv (Vector256.Create(x, i)) (Vector256.Create(y, i))).CopyTo(dst, i)
                        i <- i + 4
                    while i < hi do
                        dst.[i] <- f x.[i] y.[i]
                        i <- i + 1)
            Tensor.wrap a.ShapeArray dst
