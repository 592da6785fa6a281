namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.Intrinsics
open Microsoft.FSharp.NativeInterop

/// ln(1 + x) over arrays, eight lanes at a time with AVX-512, four with AVX2 and FMA (the same operations, so the
/// same bits on every vector machine: tested): u = 1 + x rounded, d its rounding (TwoSum, exact), then
/// ln(1 + x) = ln u + ln(1 + d/u) = ln u + d/u, with d/u (below an ulp of u) joining the vector logarithm's low part
/// before its one final rounding. Lanes where u is not positive, normal and finite (x ≤ −1, ∞, NaN) take
/// Math.Log(1 + x), lane by lane, so an element's result never depends on its neighbours. Tested against a
/// 2,200-bit reference.
module internal Log1pVector =

    /// Below 2⁻⁵⁴, ln(1 + x) rounds to x itself (which also keeps the sign of −0).
    [<Literal>]
    let private Tiny = 5.551115123125783e-17

    /// ln(1 + x) on the lanes of x, either width, and the mask of lanes the formula holds for.
    let inline private lanesOf (x: ^v) ([<InlineIfLambda>] split: ^v -> struct (^v * ^v)) ([<InlineIfLambda>] k: float -> ^v)
                               ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] gt: ^v -> ^v -> ^v)
                               ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] abs: ^v -> ^v)
                               ([<InlineIfLambda>] okOf: ^v -> uint32) =
        let u = k 1.0 + x
        let back = u - k 1.0
        let d = (k 1.0 - (u - back)) + (x - back)
        let struct (exponent, mantissa) = split u
        let v = ElementaryVector.logFrom exponent mantissa (d / u) k fma gt select
        struct (select (gt (k Tiny) (abs x)) x v, okOf u)

    let inline private lanes4 (x: Vector256<double>) =
        lanesOf x ElementaryVector.exponentMantissa4 (fun (v: float) -> Vector256.Create v) (fun a b c -> Vector256.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector256.GreaterThan(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b)) (fun a -> Vector256.Abs a)
            (fun u ->
                Vector256.ExtractMostSignificantBits(
                    Vector256.GreaterThanOrEqual(u, Vector256.Create(2.2250738585072014e-308)) &&& Vector256.LessThanOrEqual(u, Vector256.Create(Double.MaxValue))))

    let inline private lanes8 (x: Vector512<double>) =
        lanesOf x ElementaryVector.exponentMantissa8 (fun (v: float) -> Vector512.Create v) (fun a b c -> Vector512.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector512.GreaterThan(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b)) (fun a -> Vector512.Abs a)
            (fun u ->
                uint32 (Vector512.ExtractMostSignificantBits(
                            Vector512.GreaterThanOrEqual(u, Vector512.Create(2.2250738585072014e-308)) &&& Vector512.LessThanOrEqual(u, Vector512.Create(Double.MaxValue)))))

    /// The lanes l < count of v into dst[i..] where `ok` has their bit, Math.Log(1 + x) elsewhere (x ≤ −1, ∞ or
    /// NaN: −∞, NaN, ∞, NaN): the cold path, out of line.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let private lanesEach (src: double[]) (dst: double[]) (i: int) (count: int) (v: double[]) (ok: uint32) =
        for l in 0 .. count - 1 do
            dst.[i + l] <- if (ok >>> l) &&& 1u <> 0u then v.[l] else Math.Log(1.0 + src.[i + l])

    let private raw8 (v: Vector512<double>) = let a = Array.zeroCreate<double> 8 in v.CopyTo a; a
    let private raw4 (v: Vector256<double>) = let a = Array.zeroCreate<double> 4 in v.CopyTo a; a

    /// dst[i] = ln(1 + src[i]) for i in [lo, hi): eight lanes at a time where AVX-512 is, then four (the same
    /// operations, so the same bits), the tail through four lanes padded with zeros.
    let private range (src: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        if Cpu.wide () then
            while i <= hi - 8 do
                let struct (v, ok) = lanes8 (Vector512.Load(NativePtr.add ps i))
                if ok = 0xFFu then Vector512.Store(v, NativePtr.add pd i)
                else lanesEach src dst i 8 (raw8 v) ok
                i <- i + 8
        while i <= hi - 4 do
            let struct (v, ok) = lanes4 (Vector256.Load(NativePtr.add ps i))
            if ok = 0xFu then Vector256.Store(v, NativePtr.add pd i)
            else lanesEach src dst i 4 (raw4 v) ok
            i <- i + 4
        if i < hi then
            let count = hi - i
            let inline at j = if j < count then src.[i + j] else 0.0
            let struct (v, ok) = lanes4 (Vector256.Create(at 0, at 1, at 2, at 3))
            lanesEach src dst i count (raw4 v) ok

    /// ln(1 + x) of every element (over the cores for large arrays). Needs `Cpu.fourLanes`.
    let log1p (src: double[]) =
        let dst = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (range src dst)
        dst
