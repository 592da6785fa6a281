namespace Functional.Core

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86

/// atan, asin and acos over arrays, with their derivatives, eight lanes at a time with AVX-512 and four with AVX2 and
/// FMA (the same operations, so the same bits). atan: |x| reduced to r = (|x| − c)/(1 + c|x|) around c = 0, 1/2, 1,
/// 3/2 (numerator exact, the denominator's rounding carried) or to −1/|x| beyond 39/16, so |r| ≤ 0.44, then atan c
/// (two parts) + r + r³·P(r²) with P atan's Taylor series to r⁴³, summed so that only the last addition rounds at
/// full size. NaN lanes and |x| > 2⁵⁰⁰ (where 1 + x² overflows) go to the scalar functions. asin and acos: asin w =
/// w + w³·P(w²) (P asin's Taylor series to w⁵⁰) at w = |x| up to 1/2, beyond at w = √((1 − |x|)/2) (the argument
/// exact, the square root's rounding carried) through asin |x| = π/2 − 2·asin w, acos x = 2·asin w or π − 2·asin w;
/// NaN lanes and |x| > 1 go to the scalar functions.
module internal ArcVector =

    /// (−1)ⁿ/(2n + 1), n = 1 … 21: atan r = r + r³·Σ qₙ·r²⁽ⁿ⁻¹⁾; for |r| ≤ 0.44 the first term left out is below
    /// 4e-18 of r.
    let private atanSeries = Array.init 21 (fun i -> let n = i + 1 in (if n % 2 = 0 then 1.0 else -1.0) / float (2 * n + 1))

    let private atanHalf, atanHalfLo = 0.4636476090008061, 2.2698777452961687e-17
    let private quarterPi, quarterPiLo = 0.7853981633974483, 3.061616997868383e-17
    let private atanThreeHalves, atanThreeHalvesLo = 0.982793723247329, 1.3903311031230998e-17
    let private halfPi, halfPiLo = 1.5707963267948966, 6.123233995736766e-17
    let private largest = Math.Pow(2.0, 500.0)

    /// atan x and its derivative 1/(1 + x²), and the mask of lanes the formulas hold for (not NaN, |x| ≤ 2⁵⁰⁰);
    /// `value`/`slope` skip the part not asked for.
    let inline private atanOf (value: bool) (slope: bool) (x: ^v) ([<InlineIfLambda>] k: float -> ^v)
                              ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] abs: ^v -> ^v)
                              ([<InlineIfLambda>] gt: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v)
                              ([<InlineIfLambda>] okOf: ^v -> uint32) =
        let d = if slope then k 1.0 / fma x x (k 1.0) else k 0.0
        let v =
            if not value then k 0.0 else
            let a = abs x
            let m1, m2, m3, m4 = gt a (k 0.4375), gt a (k 0.6875), gt a (k 1.1875), gt a (k 2.4375)
            let inline pick v0 v1 v2 v3 v4 = select m4 (k v4) (select m3 (k v3) (select m2 (k v2) (select m1 (k v1) (k v0))))
            // r = (s·a − c)/(c·a + s): (1, 0) gives a itself, (0, 1) gives −1/a.
            let s = select m4 (k 0.0) (k 1.0)
            let c = pick 0.0 0.5 1.0 1.5 1.0
            let num = fma a s (-c)
            let p = c * a
            let pLo = fma c a (-p)
            let den = p + s
            let back = den - s
            let denLo = ((p - back) + (s - (den - back))) + pLo
            let r = num / den
            let rLo = (fma (-r) den num - r * denLo) / den
            let z = r * r
            let mutable q = k atanSeries.[20]
            for i in 19 .. -1 .. 0 do q <- fma q z (k atanSeries.[i])
            let baseHi = pick 0.0 atanHalf quarterPi atanThreeHalves halfPi
            let baseLo = pick 0.0 atanHalfLo quarterPiLo atanThreeHalvesLo halfPiLo
            let tiny = fma (r * z) q (baseLo + rLo)
            // baseHi + r exactly as sum + e (baseHi is 0 or above |r|).
            let sum = baseHi + r
            let e = r - (sum - baseHi)
            (sum + (e + tiny)) ^^^ (x &&& k -0.0)
        struct (v, d, okOf (abs x))

    let inline private atan4 (value: bool) (slope: bool) (x: Vector256<double>) =
        atanOf value slope x (fun (v: float) -> Vector256.Create v) (fun a b c -> Vector256.FusedMultiplyAdd(a, b, c))
            (fun a -> Vector256.Abs a) (fun a b -> Vector256.GreaterThan(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b))
            (fun a -> Vector256.ExtractMostSignificantBits(Vector256.LessThanOrEqual(a, Vector256.Create(largest))) ^^^ 0xFu)

    let inline private atan8 (value: bool) (slope: bool) (x: Vector512<double>) =
        atanOf value slope x (fun (v: float) -> Vector512.Create v) (fun a b c -> Vector512.FusedMultiplyAdd(a, b, c))
            (fun a -> Vector512.Abs a) (fun a b -> Vector512.GreaterThan(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b))
            (fun a -> uint32 (Vector512.ExtractMostSignificantBits(Vector512.LessThanOrEqual(a, Vector512.Create(largest)))) ^^^ 0xFFu)

    let private outside (x: double) = not (abs x <= largest)

    /// (2n)!/(4ⁿ·(n!)²·(2n + 1)), n = 1 … 24, each correctly rounded: asin w = w + w³·Σ cₙ·w²⁽ⁿ⁻¹⁾; for |w| ≤ 1/2
    /// the first term left out is below 3e-18 of w.
    let private asinSeries =
        let factorial (n: int) = Seq.fold (fun (a: Numerics.BigInteger) k -> a * Numerics.BigInteger(k: int)) Numerics.BigInteger.One [ 1 .. n ]
        Array.init 24 (fun i ->
            let n = i + 1
            let num = factorial (2 * n) <<< 200
            let den = Numerics.BigInteger.Pow(Numerics.BigInteger(4), n) * factorial n * factorial n * Numerics.BigInteger(2 * n + 1)
            Math.ScaleB(float (Numerics.BigInteger.Divide(num, den)), -200))

    let private pi, piLo = 3.141592653589793, 1.2246467991473532e-16

    /// kind 0: asin, 1: acos. The value, the derivative ±1/√(1 − x²) and the mask of lanes the formulas hold for
    /// (|x| ≤ 1); `value`/`slope` skip the part not asked for.
    let inline private arcSineOf (kind: int) (value: bool) (slope: bool) (x: ^v) ([<InlineIfLambda>] k: float -> ^v)
                                 ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] abs: ^v -> ^v)
                                 ([<InlineIfLambda>] gt: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v)
                                 ([<InlineIfLambda>] sqrt: ^v -> ^v) ([<InlineIfLambda>] okOf: ^v -> uint32) =
        let d = if slope then k (if kind = 0 then 1.0 else -1.0) / sqrt (fma (-x) x (k 1.0)) else k 0.0
        let v =
            if not value then k 0.0 else
            let a = abs x
            let big = gt a (k 0.5)
            // w and z = w², exactly for the half-angle argument; the square root's rounding as wLo (0 where w is 0).
            let half = (k 1.0 - a) * k 0.5
            let root = sqrt half
            let w = select big root a
            let z = select big half (a * a)
            let rootLo = select (gt root (k 0.0)) (fma (-root) root half / (root + root)) (k 0.0)
            let wLo = select big (fma (rootLo * k 0.5) z rootLo) (k 0.0)
            let mutable q = k asinSeries.[23]
            for i in 22 .. -1 .. 0 do q <- fma q z (k asinSeries.[i])
            let inner = fma (w * z) q wLo
            // base + f·(w + inner), base + f·w summed exactly (base is 0 or above |f·w|).
            let negative = gt (k 0.0) x
            let f, baseHi, baseLo =
                if kind = 0 then select big (k -2.0) (k 1.0), select big (k halfPi) (k 0.0), select big (k halfPiLo) (k 0.0)
                else
                    let outer = select negative (k -2.0) (k 2.0)
                    let middle = select negative (k 1.0) (k -1.0)
                    select big outer middle, select big (select negative (k pi) (k 0.0)) (k halfPi),
                    select big (select negative (k piLo) (k 0.0)) (k halfPiLo)
            let fw = f * w
            let sum = baseHi + fw
            let e = fw - (sum - baseHi)
            let result = sum + (e + fma f inner baseLo)
            if kind = 0 then result ^^^ (x &&& k -0.0) else result
        struct (v, d, okOf (abs x))

    let inline private arcSine4 (kind: int) (value: bool) (slope: bool) (x: Vector256<double>) =
        arcSineOf kind value slope x (fun (v: float) -> Vector256.Create v) (fun a b c -> Vector256.FusedMultiplyAdd(a, b, c))
            (fun a -> Vector256.Abs a) (fun a b -> Vector256.GreaterThan(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b))
            (fun a -> Vector256.Sqrt a)
            (fun a -> Vector256.ExtractMostSignificantBits(Vector256.LessThanOrEqual(a, Vector256.Create(1.0))) ^^^ 0xFu)

    let inline private arcSine8 (kind: int) (value: bool) (slope: bool) (x: Vector512<double>) =
        arcSineOf kind value slope x (fun (v: float) -> Vector512.Create v) (fun a b c -> Vector512.FusedMultiplyAdd(a, b, c))
            (fun a -> Vector512.Abs a) (fun a b -> Vector512.GreaterThan(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b))
            (fun a -> Vector512.Sqrt a)
            (fun a -> uint32 (Vector512.ExtractMostSignificantBits(Vector512.LessThanOrEqual(a, Vector512.Create(1.0)))) ^^^ 0xFFu)

    let private arcOutside (x: double) = not (abs x <= 1.0)

    /// 1/√(1 − x²) with 1 − x² rounded once.
    let internal arcSineSlopeScalar (x: double) = 1.0 / Math.Sqrt(Math.FusedMultiplyAdd(-x, x, 1.0))

    let private asinScalar (x: double) = struct (Math.Asin x, arcSineSlopeScalar x)
    let private acosScalar (x: double) = struct (Math.Acos x, -(arcSineSlopeScalar x))

    /// 1/(1 + x²), as 1/x·1/x where x² would overflow.
    let internal atanSlopeScalar (x: double) =
        if abs x <= largest then 1.0 / Math.FusedMultiplyAdd(x, x, 1.0) else let q = 1.0 / x in q * q

    let private atanScalar (x: double) = struct (Math.Atan x, atanSlopeScalar x)

    /// atan of every element (over the cores for large arrays). Needs `Cpu.fourLanes`.
    let atan (src: double[]) = FusedLanes.value (atan8 true false) (atan4 true false) outside atanScalar src

    /// g·atan'(x) elementwise for same-length arrays. Needs `Cpu.fourLanes`.
    let atanScaled (src: double[]) (g: double[]) = FusedLanes.scaled (atan8 false true) (atan4 false true) outside atanScalar src g

    /// asin of every element. Needs `Cpu.fourLanes`.
    let asin (src: double[]) = FusedLanes.value (arcSine8 0 true false) (arcSine4 0 true false) arcOutside asinScalar src

    /// acos of every element. Needs `Cpu.fourLanes`.
    let acos (src: double[]) = FusedLanes.value (arcSine8 1 true false) (arcSine4 1 true false) arcOutside acosScalar src

    /// g·asin'(x) elementwise for same-length arrays. Needs `Cpu.fourLanes`.
    let asinScaled (src: double[]) (g: double[]) = FusedLanes.scaled (arcSine8 0 false true) (arcSine4 0 false true) arcOutside asinScalar src g

    /// g·acos'(x) elementwise for same-length arrays. Needs `Cpu.fourLanes`.
    let acosScaled (src: double[]) (g: double[]) = FusedLanes.scaled (arcSine8 1 false true) (arcSine4 1 false true) arcOutside acosScalar src g
