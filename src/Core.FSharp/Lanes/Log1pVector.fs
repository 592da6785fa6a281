namespace Functional.Core

open System
open System.Runtime.Intrinsics

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
        let v = LogVector.logFrom exponent mantissa (d / u) k fma gt select
        struct (select (gt (k Tiny) (abs x)) x v, okOf u)

    let inline private lanes4 (x: Vector256<double>) =
        lanesOf x LogVector.exponentMantissa4 (fun (v: float) -> Vector256.Create v) (fun a b c -> Vector256.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector256.GreaterThan(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b)) (fun a -> Vector256.Abs a)
            (fun u ->
                Vector256.ExtractMostSignificantBits(
                    Vector256.GreaterThanOrEqual(u, Vector256.Create(2.2250738585072014e-308)) &&& Vector256.LessThanOrEqual(u, Vector256.Create(Double.MaxValue))))

    let inline private lanes8 (x: Vector512<double>) =
        lanesOf x LogVector.exponentMantissa8 (fun (v: float) -> Vector512.Create v) (fun a b c -> Vector512.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector512.GreaterThan(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b)) (fun a -> Vector512.Abs a)
            (fun u ->
                uint32 (Vector512.ExtractMostSignificantBits(
                            Vector512.GreaterThanOrEqual(u, Vector512.Create(2.2250738585072014e-308)) &&& Vector512.LessThanOrEqual(u, Vector512.Create(Double.MaxValue)))))

    /// Math.Log(1 + x) for the lanes the formula does not take (x ≤ −1, ∞ or NaN: −∞, NaN, ∞, NaN).
    let private scalar (x: double) = Math.Log(1.0 + x)

    let private range (src: double[]) (dst: double[]) (lo: int) (hi: int) = LaneRange.run src dst lo hi lanes8 lanes4 scalar

    /// ln(1 + x) of every element (over the cores for large arrays). Needs `Cpu.fourLanes`.
    let log1p (src: double[]) = LaneRange.over range src
