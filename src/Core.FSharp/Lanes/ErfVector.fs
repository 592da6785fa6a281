namespace Functional.Core

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86

/// erf and erfc over arrays, with their derivative (2/√π)·e^(−x²), eight lanes at a time with AVX-512 and four with
/// AVX2 and FMA (the same operations, so the same bits). Near 0 erf's Taylor series in x² with 2/√π in two parts;
/// beyond, erfc(a) = √(2/π)·e^(−a²)·R(a√2) for a = |x|, with R the Mills ratio of GELU's lanes (one rational per
/// octave), e^(−a²) from a² split exactly (so its rounding is not amplified by a²), and R corrected for the rounding
/// of a√2 by R' = tR − 1. erf is then 1 − erfc from the side that does not cancel. |x| is held at 27.5 (beyond it
/// erf is ±1, erfc 0 or 2 and the derivative 0, all reached there already); NaN lanes go to the scalar functions.
module internal ErfVector =

    let private twoOverSqrtPi, twoOverSqrtPiLo = 1.1283791670955126, 1.533545961316588e-17
    let private sqrt2, sqrt2Lo = 1.4142135623730951, -9.667293313452913e-17
    let private sqrt2OverPi, sqrt2OverPiLo = 0.7978845608028654, -4.98465440455546e-17

    /// (2/√π)·(−1)ⁿ/(n!·(2n + 1)), n = 1 … 13: erf x = (2/√π)·x + x·x²·Q(x²); for |x| ≤ 3/4 the first term left out
    /// is below 1e-19 of the result.
    let private series =
        Array.init 13 (fun i ->
            let n = i + 1
            let factorial = Seq.fold (fun a k -> a * float k) 1.0 [ 1 .. n ]
            (if n % 2 = 0 then 1.0 else -1.0) * (twoOverSqrtPi / (factorial * float (2 * n + 1))))

    /// Where erf takes the series (its tail 1 − erfc cancels below), and erfc (its central 1 − erf loses a bit above).
    let private erfCentral, erfcCentral = 0.75, 0.375
    let private held = 27.5

    /// kind 0: erf, 1: erfc. The value, the derivative ((2/√π)·e^(−x²), −that for erfc) and the mask of lanes the
    /// formulas cannot do (NaN), as FusedLanes takes it; `value`/`slope` skip the part not asked for.
    let inline private lanesOf (kind: int) (value: bool) (slope: bool) (x: ^v) ([<InlineIfLambda>] k: float -> ^v)
                               ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] abs: ^v -> ^v)
                               ([<InlineIfLambda>] min: ^v -> ^v -> ^v) ([<InlineIfLambda>] le: ^v -> ^v -> ^v)
                               ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] expSplit: ^v -> struct (^v * ^v))
                               ([<InlineIfLambda>] mills: ^v -> ^v) ([<InlineIfLambda>] scale: ^v -> ^v -> ^v)
                               ([<InlineIfLambda>] badOf: ^v -> uint32) ([<InlineIfLambda>] all: ^v -> bool) =
        let a = min (abs x) (k held)
        // e^(−a²) = p·2ⁿ·(1 − lo) with a² = hi + lo exactly. (c + cLo)·e^(−a²) as w + (w's rounding + cLo·p − w·lo),
        // w = c·p: one rounding besides p's own and c's.
        let hi = a * a
        let lo = fma a a (-hi)
        let struct (p, n) = expSplit (-hi)
        let times (c: ^v) (cLo: ^v) =
            let w = c * p
            scale (w + fma (-w) lo (fma cLo p (fma c p (-w)))) n
        let sign = if kind = 0 then 1.0 else -1.0
        let d = if slope then times (k (sign * twoOverSqrtPi)) (k (sign * twoOverSqrtPiLo)) else k 0.0
        let v =
            if not value then k 0.0 else
            let inCentral = le a (k (if kind = 0 then erfCentral else erfcCentral))
            let central =
                let z = x * x
                let mutable q = k series.[12]
                for i in 11 .. -1 .. 0 do q <- fma q z (k series.[i])
                let e = fma x (k twoOverSqrtPi) (x * fma z q (k twoOverSqrtPiLo))
                if kind = 0 then e else k 1.0 - e
            if all inCentral then central else
            // erfc(a) = √(2/π)·e^(−a²)·R(t), t = a√2 = t + tLo; R(t + tLo) = R + R'(t)·tLo with R' = tR − 1.
            let t = a * k sqrt2
            let tLo = fma a (k sqrt2) (-t) + a * k sqrt2Lo
            let r = mills t
            let r = fma (fma t r (k -1.0)) tLo r
            let kr = k sqrt2OverPi * r
            let tail = times kr (fma (k sqrt2OverPi) r (-kr) + k sqrt2OverPiLo * r)
            let outer =
                if kind = 0 then (k 1.0 - tail) ^^^ (x &&& k -0.0)
                else select (le x (k 0.0)) (k 2.0 - tail) tail
            select inCentral central outer
        struct (v, d, badOf x)

    let inline private lanes4 (kind: int) (value: bool) (slope: bool) (x: Vector256<double>) =
        lanesOf kind value slope x (fun (v: float) -> Vector256.Create v) (fun a b c -> Vector256.FusedMultiplyAdd(a, b, c))
            (fun a -> Vector256.Abs a) (fun a b -> Avx.Min(a, b)) (fun a b -> Vector256.LessThanOrEqual(a, b))
            (fun m a b -> Vector256.ConditionalSelect(m, a, b)) ElementaryVector.expSplit4
            (fun t -> let struct (r, _) = GeluVector.mills4 (Avx.Max(t, ElementaryVector.half4)) in r) ElementaryVector.scale4
            (fun x -> Vector256.ExtractMostSignificantBits(Vector256.Equals(x, x)) ^^^ 0xFu) (fun m -> Vector256.ExtractMostSignificantBits(m) = 0xFu)

    let inline private lanes8 (kind: int) (value: bool) (slope: bool) (x: Vector512<double>) =
        lanesOf kind value slope x (fun (v: float) -> Vector512.Create v) (fun a b c -> Vector512.FusedMultiplyAdd(a, b, c))
            (fun a -> Vector512.Abs a) (fun a b -> Avx512F.Min(a, b)) (fun a b -> Vector512.LessThanOrEqual(a, b))
            (fun m a b -> Vector512.ConditionalSelect(m, a, b)) ElementaryVector.expSplit
            (fun t -> let struct (r, _) = GeluVector.mills (Avx512F.Max(t, Vector512.Create(0.5))) in r) (fun e n -> Avx512F.Scale(e, n))
            (fun x -> uint32 (Vector512.ExtractMostSignificantBits(Vector512.Equals(x, x))) ^^^ 0xFFu) (fun m -> Vector512.ExtractMostSignificantBits(m) = 0xFFUL)

    /// (2/√π)·e^(−x²) with x² split exactly.
    let internal slopeScalar (x: double) =
        let a = abs x
        if a > held then 0.0 else
        let hi = a * a
        twoOverSqrtPi * (Math.Exp(-hi) * (1.0 - Math.FusedMultiplyAdd(a, a, -hi)))

    let private erfScalar (x: double) = struct (Special.erf x, slopeScalar x)
    let private erfcScalar (x: double) = struct (Special.erfc x, -slopeScalar x)

    /// erf of every element (over the cores for large arrays). Needs `Cpu.fourLanes`.
    let erf (src: double[]) = FusedLanes.value (lanes8 0 true false) (lanes4 0 true false) Double.IsNaN erfScalar src

    /// erfc of every element. Needs `Cpu.fourLanes`.
    let erfc (src: double[]) = FusedLanes.value (lanes8 1 true false) (lanes4 1 true false) Double.IsNaN erfcScalar src

    /// g·erf'(x) elementwise for same-length arrays. Needs `Cpu.fourLanes`.
    let erfScaled (src: double[]) (g: double[]) = FusedLanes.scaled (lanes8 0 false true) (lanes4 0 false true) Double.IsNaN erfScalar src g

    /// g·erfc'(x) elementwise for same-length arrays. Needs `Cpu.fourLanes`.
    let erfcScaled (src: double[]) (g: double[]) = FusedLanes.scaled (lanes8 1 false true) (lanes4 1 false true) Double.IsNaN erfcScalar src g
