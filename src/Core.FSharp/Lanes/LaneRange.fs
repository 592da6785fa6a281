namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System.Runtime.Intrinsics
open Microsoft.FSharp.NativeInterop

/// The loop the elementwise functions with a scalar fallback share (x^p, sin, cos, tan, eˣ − 1, sinh, cosh, ln(1 + x)):
/// a formula on eight lanes where AVX-512 is, then four (the same operations, so the same bits), the scalar
/// function lane by lane where the formula's mask says it does not hold, and the tail through four lanes padded
/// with zeros, so an element's result never depends on its neighbours or its position.
module internal LaneRange =

    let internal raw8 (v: Vector512<double>) = let a = Array.zeroCreate<double> 8 in v.CopyTo a; a
    let internal raw4 (v: Vector256<double>) = let a = Array.zeroCreate<double> 4 in v.CopyTo a; a

    /// The lanes l < count of v into dst[i..] where `ok` has their bit, `scalar` of src's elsewhere: the cold path,
    /// out of line (a call inside the loop would keep the loop's vectors on the stack).
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let internal each (scalar: double -> double) (src: double[]) (dst: double[]) (i: int) (count: int) (v: double[]) (ok: uint32) =
        for l in 0 .. count - 1 do
            dst.[i + l] <- if (ok >>> l) &&& 1u <> 0u then v.[l] else scalar src.[i + l]

    /// dst[i] = combine i (f(src[i])) for i in [lo, hi): `lanes8` and `lanes4` give f on their lanes and the mask of
    /// lanes it holds for; `scalar` is f where it does not; `combine8 i`/`combine4 i` take the vector of results from
    /// i, `combine1 i` one result (a pullback's g·k·f(x)).
    let inline runWith (src: double[]) (dst: double[]) (lo: int) (hi: int)
                       ([<InlineIfLambda>] lanes8: Vector512<double> -> struct (Vector512<double> * uint32))
                       ([<InlineIfLambda>] lanes4: Vector256<double> -> struct (Vector256<double> * uint32))
                       (scalar: double -> double)
                       ([<InlineIfLambda>] combine8: int -> Vector512<double> -> Vector512<double>)
                       ([<InlineIfLambda>] combine4: int -> Vector256<double> -> Vector256<double>)
                       ([<InlineIfLambda>] combine1: int -> double -> double) =
        use ps = fixed src
        use pd = fixed dst
        let cold (i: int) (count: int) (raw: double[]) (ok: uint32) =
            each scalar src dst i count raw ok
            for j in i .. i + count - 1 do dst.[j] <- combine1 j dst.[j]
        let mutable i = lo
        if Cpu.wide () then
            while i <= hi - 8 do
                let struct (v, ok) = lanes8 (Vector512.Load(NativePtr.add ps i))
                if ok = 0xFFu then Vector512.Store(combine8 i v, NativePtr.add pd i)
                else cold i 8 (raw8 v) ok
                i <- i + 8
        while i <= hi - 4 do
            let struct (v, ok) = lanes4 (Vector256.Load(NativePtr.add ps i))
            if ok = 0xFu then Vector256.Store(combine4 i v, NativePtr.add pd i)
            else cold i 4 (raw4 v) ok
            i <- i + 4
        if i < hi then
            let count = hi - i
            let inline at j = if j < count then src.[i + j] else 0.0
            let struct (v, ok) = lanes4 (Vector256.Create(at 0, at 1, at 2, at 3))
            cold i count (raw4 v) ok

    /// dst[i] = f(src[i]) for i in [lo, hi) (`runWith` without a combine).
    let inline run (src: double[]) (dst: double[]) (lo: int) (hi: int)
                   ([<InlineIfLambda>] lanes8: Vector512<double> -> struct (Vector512<double> * uint32))
                   ([<InlineIfLambda>] lanes4: Vector256<double> -> struct (Vector256<double> * uint32))
                   (scalar: double -> double) =
        runWith src dst lo hi lanes8 lanes4 scalar (fun _ v -> v) (fun _ v -> v) (fun _ v -> v)

    /// f of every element of src into a fresh array, over the cores for large arrays (`body src dst lo hi`).
    let over (body: double[] -> double[] -> int -> int -> unit) (src: double[]) =
        let dst = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (body src dst)
        dst

    /// g·k(f(x)) of every element into a fresh array, over the cores: a pullback in one pass. `range src dst lo hi
    /// combine8 combine4 combine1` is f's `runWith`; `k8`/`k4`/`k1` a factor applied to f's lanes before the product
    /// with g. `g` empty: every g is `fill` (a uniform adjoint).
    let inline scaledOver ([<InlineIfLambda>] range: double[] -> double[] -> int -> int -> (int -> Vector512<double> -> Vector512<double>) -> (int -> Vector256<double> -> Vector256<double>) -> (int -> double -> double) -> unit)
                          ([<InlineIfLambda>] k8: Vector512<double> -> Vector512<double>) ([<InlineIfLambda>] k4: Vector256<double> -> Vector256<double>)
                          ([<InlineIfLambda>] k1: double -> double) (src: double[]) (g: double[]) (fill: double) =
        let dst = Strided.fresh src.Length
        if g.Length = 0 then
            let f4, f8 = Vector256.Create fill, Vector512.Create fill
            Strided.chunkedCostly src.Length (fun lo hi -> range src dst lo hi (fun _ v -> f8 * k8 v) (fun _ v -> f4 * k4 v) (fun _ v -> fill * k1 v))
        else
            Strided.chunkedCostly src.Length (fun lo hi ->
                range src dst lo hi (fun i v -> Vector512.Create(g, i) * k8 v) (fun i v -> Vector256.Create(g, i) * k4 v) (fun i v -> g.[i] * k1 v))
        dst
