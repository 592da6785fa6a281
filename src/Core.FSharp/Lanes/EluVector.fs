namespace Functional.Core

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86

/// ELU over arrays: x above 0, α·(eˣ − 1) below; its derivative 1 above, α·eˣ below, the kink's value at ±0. Eight
/// lanes at a time with AVX-512, four with AVX2 and FMA (the same operations, so the same bits: tested). eˣ − 1 comes
/// from the exponential's own reduction x = n·ln2 + r with e^r ≈ 1 + r·q: 2ⁿ·(r·q) + (2ⁿ − 1) in one multiply-add,
/// so nothing cancels near 0, and eˣ is the exponential's bits. Elements below −708 (eˣ subnormal) or NaN are redone
/// by `scalar`. Every element, the tail too, goes through the same lanes: its result does not depend on its position.
module internal EluVector =

    /// Value, derivative and the mask of lanes below −708 or NaN, for either width: `k` a constant vector, `fma a b c`
    /// a·b + c fused, `eq`/`gt` lane masks, `select mask a b`, `pow2 n` 2ⁿ for integral n in [−1022, 0], `bad z` the
    /// mask of lanes with z below −708 or NaN.
    let inline private bothOf (x: ^v) (alpha: ^v) (kink: ^v) ([<InlineIfLambda>] k: float -> ^v)
                              ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] eq: ^v -> ^v -> ^v)
                              ([<InlineIfLambda>] gt: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v)
                              ([<InlineIfLambda>] round: ^v -> ^v) ([<InlineIfLambda>] pow2: ^v -> ^v) ([<InlineIfLambda>] bad: ^v -> uint32) =
        let zero = k 0.0
        let one = k 1.0
        let positive = gt x zero
        let isZero = eq x zero
        // The exponential of min(x, 0), NaN kept: above 0 only the select below reads it.
        let z = select positive zero x
        let n = round (z * k ElementaryVector.InvLn2)
        let r = fma n (k -ElementaryVector.Ln2Lo) (fma n (k -ElementaryVector.Ln2Hi) z)
        let q = ElementaryVector.expQuotient k (fun a b -> fma a r b)
        let s = pow2 n
        let expm1 = fma s (r * q) (s - one)
        let e = fma q r one * s
        // ±0 keeps its sign through α·x.
        let value = select positive x (alpha * select isZero x expm1)
        let derivative = select positive one (select isZero kink (alpha * e))
        struct (value, derivative, bad z)

    let inline private both4 (alpha: Vector256<double>) (kink: Vector256<double>) (x: Vector256<double>) =
        bothOf x alpha kink (fun (v: float) -> Vector256.Create v) (fun a b c -> Vector256.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector256.Equals(a, b)) (fun a b -> Vector256.GreaterThan(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b))
            (fun a -> Vector256.Round a) ElementaryVector.pow2
            (fun z -> ~~~(Vector256.ExtractMostSignificantBits(Vector256.GreaterThanOrEqual(z, Vector256.Create(-708.0)))) &&& 0xFu)

    let inline private both8 (alpha: Vector512<double>) (kink: Vector512<double>) (x: Vector512<double>) =
        bothOf x alpha kink (fun (v: float) -> Vector512.Create v) (fun a b c -> Vector512.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector512.Equals(a, b)) (fun a b -> Vector512.GreaterThan(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b))
            (fun a -> Vector512.Round a) (fun n -> Avx512F.Scale(Vector512.Create(1.0), n))
            (fun z -> uint32 (~~~(Vector512.ExtractMostSignificantBits(Vector512.GreaterThanOrEqual(z, Vector512.Create(-708.0)))) &&& 0xFFUL))

    /// Value and derivative of an element the lanes leave (below −708 or NaN) by Math.Exp: what the lanes would give
    /// with its eˣ in them (eˣ − 1 is −1 there).
    let private scalar (alpha: double) (x: double) =
        let e = Math.Exp x
        struct (alpha * (e - 1.0), alpha * e)

    /// Whether the lanes leave x to `scalar`.
    let inline private outside (x: double) = not (x >= -708.0)

    /// ELU and its derivative of every element (over the cores for large arrays); `kink` is the derivative at ±0.
    let withDerivative (alpha: double) (kink: double) (src: double[]) =
        let a4, k4, a8, k8 = Vector256.Create(alpha), Vector256.Create(kink), Vector512.Create(alpha), Vector512.Create(kink)
        FusedLanes.both (both8 a8 k8) (both4 a4 k4) outside (scalar alpha) src

    /// ELU of every element.
    let value (alpha: double) (src: double[]) =
        let a4, a8 = Vector256.Create(alpha), Vector512.Create(alpha)
        FusedLanes.value (both8 a8 Vector512<double>.Zero) (both4 a4 Vector256<double>.Zero) outside (scalar alpha) src

    /// g·ELU'(x) elementwise for same-length arrays: its VJP and JVP.
    let scaled (alpha: double) (kink: double) (src: double[]) (g: double[]) =
        let a4, k4, a8, k8 = Vector256.Create(alpha), Vector256.Create(kink), Vector512.Create(alpha), Vector512.Create(kink)
        FusedLanes.scaled (both8 a8 k8) (both4 a4 k4) outside (scalar alpha) src g
