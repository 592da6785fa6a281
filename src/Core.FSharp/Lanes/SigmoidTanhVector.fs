namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop
open Cpu

/// σ(x) and tanh x over arrays, on the vector exponential of −|x| (so nothing overflows), in one pass each
/// (`ElementaryVector.onePass`).
module internal SigmoidTanhVector =

    open ElementaryVector

    let private one = Vector512.Create(1.0)

    /// e^y on lanes (y ≤ 0) and the mask of lanes below −708 or NaN, for `onePass`.
    let inline internal expNeg4 (y: Vector256<double>) =
        let struct (p, n) = expSplitFlat4 y
        // Kept lanes (y ≥ −708) have n in [−1021, 0]: one exact product, as in expLanes4.
        struct (p * pow2 n, ~~~(Vector256.ExtractMostSignificantBits(Vector256.GreaterThanOrEqual(y, Vector256.Create(-708.0)))) &&& 0xFu)

    let inline internal expNeg8 (y: Vector512<double>) =
        let struct (p, n) = expSplitFlat y
        struct (Avx512F.Scale(p, n), uint32 (~~~(Vector512.ExtractMostSignificantBits(Vector512.GreaterThanOrEqual(y, Vector512.Create(-708.0)))) &&& 0xFFUL))

    /// σ from e = e^(−|z|): 1 − q for z ≥ 0, q below, q = e/(1 + e) (either width; `ge` a lane mask, `select`).
    let inline internal sigmoidFrom (z: ^v) (e: ^v) (one: ^v) (zero: ^v) ([<InlineIfLambda>] ge: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) =
        let q = e / (one + e)
        select (ge z zero) (one - q) q

    /// σ(z) by the lanes' steps with Math.Exp, for the elements whose e^(−|z|) the lanes cannot do (subnormal, NaN).
    let internal sigmoidScalar (z: double) =
        let e = Math.Exp(-(abs z))
        let q = e / (1.0 + e)
        if z >= 0.0 then 1.0 - q else q

    /// σ(z) of every element from e = e^(−|z|) by the vector exponential (so nothing overflows): q = e/(1 + e),
    /// which is σ(z) for z < 0, and 1 − q for z ≥ 0 (q ≤ 1/2 there, so the difference loses nothing): one
    /// division per element, in one pass. Within
    /// 3 ulp (2.0 measured against a high-precision reference). Every element gets the same formula (the tail
    /// too); where e^(−|z|) is subnormal, Math.Exp's. Needs AVX2 and FMA (`fourLanes`).
    let sigmoid (src: double[]) =
        onePass src
            (fun z ->
                let struct (e, bad) = expNeg8 (-Vector512.Abs(z))
                struct (sigmoidFrom z e one Vector512<double>.Zero (fun a b -> Vector512.GreaterThanOrEqual(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b)), bad))
            (fun z ->
                let struct (e, bad) = expNeg4 (-Vector256.Abs(z))
                struct (sigmoidFrom z e one4 Vector256<double>.Zero (fun a b -> Vector256.GreaterThanOrEqual(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b)), bad))
            (fun z -> not (-(abs z) >= -708.0))
            sigmoidScalar

    /// tanh t for lanes with 0 ≤ t < 0.55 as t·(1 + z·q(z)), z = t², q of degree 11: tanh(t)/t's Chebyshev
    /// interpolant on z in [0, 0.3025] (7.5e-19 from (tanh(t)/t − 1)/z relative, before its coefficients were rounded
    /// to double), where the Taylor series needed terms to t³⁹: eight multiply-adds fewer a lane, and the same worst
    /// error, 1.08 ulp over 20,000 points in [0, 0.55) for both (the lanes' operations replayed in 60-digit arithmetic,
    /// each rounded to double). `c` makes a constant vector, `fma a b d` is a·b + d (either width: the same operations).
    let inline private tanhPoly (t: ^v) ([<InlineIfLambda>] c: float -> ^v) ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) =
        let z = t * t
        let p = fma (c 7.874274345344419e-06) z (c -3.372080112046316e-05)
        let p = fma p z (c 9.455133052924858e-05)
        let p = fma p z (c -0.0002384727248015252)
        let p = fma p z (c 0.0005899052969492733)
        let p = fma p z (c -0.001455819097151351)
        let p = fma p z (c 0.0035921267699626346)
        let p = fma p z (c -0.0088632354631468)
        let p = fma p z (c 0.021869488534073906)
        let p = fma p z (c -0.05396825396822037)
        let p = fma p z (c 0.1333333333333331)
        let p = fma p z (c -0.3333333333333333)
        let p = fma p z (c 1.0)
        t * p

    /// tanh from a = |x| and e = e^(−2a): the polynomial below 0.55, (1 − e)/(1 + e) above, x's sign put back last
    /// (either width).
    let inline private tanhFrom (x: ^v) (a: ^v) (e: ^v) (one: ^v) (sign: ^v) (small: ^v) ([<InlineIfLambda>] c: float -> ^v) ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v)
                                ([<InlineIfLambda>] lt: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) =
        let r = select (lt a small) (tanhPoly a c fma) ((one - e) / (one + e))
        r ||| (x &&& sign)

    /// tanh x of every element: for |x| < 0.55 a polynomial (`tanhPoly`), beyond it (1 − e)/(1 + e) with e = e^(−2|x|)
    /// by the vector exponential (e ≤ 1/3 there, so neither side cancels), the sign put back last (tanh(−0) =
    /// −0, ±∞ → ±1, NaN stays), in one pass. Within 2
    /// ulp (1.0 measured against a high-precision reference); Math.Tanh one element at a time took about three
    /// times as long. Every element gets the same formulas (the tail too). Needs AVX2 and FMA (`fourLanes`).
    let tanh (src: double[]) =
        onePass src
            (fun x ->
                let a = Vector512.Abs(x)
                let struct (e, bad) = expNeg8 (Vector512.Create(-2.0) * a)
                struct (tanhFrom x a e one (Vector512.Create(-0.0)) (Vector512.Create(0.55)) (fun (v: float) -> Vector512.Create v) (fun p q r -> Vector512.FusedMultiplyAdd(p, q, r))
                            (fun p q -> Vector512.LessThan(p, q)) (fun m p q -> Vector512.ConditionalSelect(m, p, q)), bad))
            (fun x ->
                let a = Vector256.Abs(x)
                let struct (e, bad) = expNeg4 (Vector256.Create(-2.0) * a)
                struct (tanhFrom x a e one4 (Vector256.Create(-0.0)) (Vector256.Create(0.55)) (fun (v: float) -> Vector256.Create v) (fun p q r -> Vector256.FusedMultiplyAdd(p, q, r))
                            (fun p q -> Vector256.LessThan(p, q)) (fun m p q -> Vector256.ConditionalSelect(m, p, q)), bad))
            (fun x -> not (-2.0 * abs x >= -708.0))
            (fun x ->
                // Only |x| > 354 or NaN come here: never the polynomial.
                let e = Math.Exp(-2.0 * abs x)
                let r = (1.0 - e) / (1.0 + e)
                BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits r ||| (BitConverter.DoubleToInt64Bits x &&& Int64.MinValue)))
