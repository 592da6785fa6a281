namespace Functional.Core

open System
open System.Runtime.Intrinsics

/// x^p for a constant p over arrays, eight lanes at a time with AVX-512, four with AVX2 and FMA (the same
/// operations, so the same bits on every vector machine: tested): e^(p·ln |x|) with ln |x| carried in two parts, so
/// that p·ln |x| is known to far below an ulp of the result, and the exponential taking that second part into its
/// reduced argument; a negative x takes p's parity when p is an integer and gives NaN otherwise, as Math.Pow does.
/// Lanes outside what the formula holds for (|x| not normal and finite; |p·ln |x|| > 708, where the result would be
/// subnormal or infinite) take Math.Pow, lane by lane, so an element's result never depends on its neighbours.
/// Within 1 ulp of the correctly rounded value (tested against a 2,200-bit reference; about 6 % of results one ulp
/// away, Math.Pow's 0.1 %). Math.Pow costs about 11 ns per element here: x^1.5 forward and backward over 10⁶ took
/// 12.7–13.8 ms through it, 3.7–4.8 ms through eight lanes (TorchSharp 7.1–8.7), 7.2–8.4 ms through four (AVX-512
/// off: one long chain per lane, so lanes in flight set the speed).
module internal PowVector =

    /// Whether p goes through the lanes: AVX2 and FMA, and |p| ≤ 1024. What p multiplies is ln |x|'s error (about
    /// 4·10⁻¹⁹ in the plain form, 4·10⁻²⁰ in the precise one: `lanesOf`). Measured over 3,000 points each against
    /// the 2,200-bit reference, for p = 1.5, 7.9, 8 (plain) and 8.5, 33, 64, 255.5, 1024 (precise) alike: the worst
    /// error 0.74–0.82 ulp, 5.8–6.6 % of results one ulp away.
    let supports (p: double) = Cpu.fourLanes && abs p <= 1024.0

    /// Up to this |p| the plain form of ln |x| is accurate enough (`lanesOf`).
    [<Literal>]
    let private PlainUpTo = 8.0

    /// 2/(2n + 3), n = 0…10: R(z)/z for ln's atanh series.
    let private atanhSeries = Array.init 11 (fun n -> 2.0 / float (2 * n + 3))

    /// 2/(2n + 5), n = 0…10: ln's atanh series from its s⁵ term on, divided by s⁵ (`precise`).
    let private atanhSeries5 = Array.init 11 (fun n -> 2.0 / float (2 * n + 5))

    /// 2/3 in two parts: the double nearest, and the rest (2⁻⁵³/3).
    [<Literal>]
    let private TwoThirdsHi = 0.66666666666666663
    [<Literal>]
    let private TwoThirdsLo = 3.700743415417188e-17

    /// 1/(j + 3)!, j = 0…10: the exponential's Taylor terms from r³ on, divided by r³.
    let private expSeries = Array.sub ElementaryVector.inverseFactorials 3 11

    /// Σ c[j]·xʲ, j = 0…10, by Estrin's scheme (pairs, then x² and x⁴): a chain of five FMAs instead of ten.
    let inline private estrin10 (c: float[]) (x: ^v) ([<InlineIfLambda>] k: float -> ^v) ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) =
        let x2 = x * x
        let x4 = x2 * x2
        let a0 = fma (k c.[1]) x (k c.[0])
        let a1 = fma (k c.[3]) x (k c.[2])
        let a2 = fma (k c.[5]) x (k c.[4])
        let a3 = fma (k c.[7]) x (k c.[6])
        let a4 = fma (k c.[9]) x (k c.[8])
        let b0 = fma a1 x2 a0
        let b1 = fma a3 x2 a2
        let b2 = fma (k c.[10]) x2 a4
        fma (fma b2 x4 b1) x4 b0

    /// x^p on the lanes of x (either width) and the mask of lanes the formula holds for.
    ///
    /// |x|^p first, then the sign: for an integer p, (−|x|)^p = ±|x|^p exactly, so a negative x takes p's parity
    /// (`odd`); for any other p it is NaN, as in Math.Pow (`nonInteger`).
    ///
    /// ln x = k·ln 2 + ln m with x = 2ᵏ·m, m in [√½, √2): f = m − 1 is exact, s = f/(2 + f) in two parts (2 + f
    /// by Fast2Sum, the division's remainder exact by FMA), ln m = 2·atanh s = 2s + s·R(s²), R = Σ 2zⁿ/(2n + 1),
    /// n = 1…11 (|s| ≤ 0.1716: the rest is below 2⁻⁶⁰ relative). 2s is exact, so ln m = 2s_hi + (2s_lo + s·R) and
    /// the pair's second part carries s·R's rounding (|s·R| ≤ 0.0034). k·ln 2's first part is exact, and the sum
    /// with 2s_hi is Fast2Sum (|k·ln 2| ≥ 0.69 > |2s| unless k = 0). The part of ln x's error that p multiplies is
    /// then about 4·10⁻¹⁹ (s·R's roundings), which |p| ≤ 8 keeps below 0.12 ulp of the result.
    ///
    /// `precise` (for larger |p|) carries s³ in two parts (FMA), times 2/3 in two parts, with s's second part to
    /// first order, and sums the series from s⁵ on (below 6·10⁻⁵) on its own, so that the only roundings left in
    /// ln x are those of that last term and of the second parts; the pair is renormalised by Fast2Sums, so its
    /// second part is about an ulp of the first and p times it rounds to nothing that matters. What p multiplies
    /// is then about 4·10⁻²⁰. It costs a longer chain: the exponential's reduction waits for ln's polynomial,
    /// which the plain form's first part does not include.
    ///
    /// y = p·ln x by an exact product (FMA) plus p times the second part. e^y: n = round(y/ln 2), r = (y_hi − n·ln 2's
    /// first part, exact) + (y_lo − n·ln 2's second part) in one rounding, then Σ rᵏ/k!, k ≤ 13, whose last three
    /// steps are Horner's (they set the error: the first three terms); the rest of both polynomials by Estrin's
    /// scheme, which shortens the one long chain per lane that sets this loop's speed. (Estrin's scheme for all of
    /// e^r was 1.6 ulp off at r = −0.2157.) `split x` gives x's exponent and its mantissa in [1, 2) (both exact),
    /// `k` a constant vector, `fma a b c` a·b + c, `gt` a lane mask, `select`, `round` to nearest, `scale p n`
    /// p·2ⁿ, `okOf x y` the mask of lanes with x normal and finite and |y| ≤ 708.
    let inline private lanesOf (p: ^v) (precise: bool) (odd: bool) (nonInteger: bool) (x: ^v) ([<InlineIfLambda>] abs: ^v -> ^v)
                               ([<InlineIfLambda>] split: ^v -> struct (^v * ^v)) ([<InlineIfLambda>] k: float -> ^v)
                               ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] gt: ^v -> ^v -> ^v)
                               ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] round: ^v -> ^v)
                               ([<InlineIfLambda>] scale: ^v -> ^v -> ^v) ([<InlineIfLambda>] okOf: ^v -> ^v -> uint32) =
        let ax = abs x
        let struct (exponent, mantissa) = split ax
        let halve = gt mantissa (k 1.4142135623730951)
        let m = select halve (mantissa * k 0.5) mantissa
        let kk = exponent + select halve (k 1.0) (k 0.0)
        let f = m - k 1.0
        let t = k 2.0 + f
        let tLo = f - (t - k 2.0)
        let s = f / t
        let sLo = (fma -s t f - s * tLo) / t
        let z = s * s
        let a = kk * k LogVector.LogLn2Hi
        let hi = k 2.0 * s
        let s1 = a + hi
        let e1 = hi - (s1 - a)
        let struct (lHi, lLo) =
            if precise then
                let zLo = fma s s -z
                let c = s * z
                let cLo = fma s z -c + s * zLo
                // (2/3)·(s + sLo)³ in two parts, sLo to first order.
                let c3 = k TwoThirdsHi * c
                let c3Lo = fma (k TwoThirdsHi) c -c3 + fma (k TwoThirdsHi) (fma (k 3.0) (z * sLo) cLo) (k TwoThirdsLo * c)
                let last = c * z * estrin10 atanhSeries5 z k fma
                let u = c3 + last
                let ue = last - (u - c3)
                let lHi = s1 + u
                let e2 = u - (lHi - s1)
                struct (lHi, ((e1 + e2) + (ue + c3Lo)) + fma (k 2.0) (fma (z * z) sLo sLo) (kk * k LogVector.LogLn2Lo))
            else
                let tail = fma (k 2.0) sLo (s * (estrin10 atanhSeries z k fma * z))
                struct (s1, e1 + fma kk (k LogVector.LogLn2Lo) tail)
        let yHi = p * lHi
        let yLo = fma p lHi -yHi + p * lLo
        let n = round (yHi * k ElementaryVector.InvLn2)
        let r = fma n (k -ElementaryVector.Ln2Hi) yHi + fma n (k -ElementaryVector.Ln2Lo) yLo
        let rest = estrin10 expSeries r k fma
        let e = scale (fma (fma (fma rest r (k 0.5)) r (k 1.0)) r (k 1.0)) n
        // x's sign bit onto the result for an odd p; NaN for a negative x and a p that is not an integer.
        let signed = if odd then e ^^^ (x &&& k -0.0) else e
        let result = if nonInteger then select (gt (k 0.0) x) (k nan) signed else signed
        struct (result, okOf ax yHi)

    let inline private lanes4 (p: Vector256<double>) (precise: bool) (odd: bool) (nonInteger: bool) (x: Vector256<double>) =
        lanesOf p precise odd nonInteger x (fun v -> Vector256.Abs v)
            LogVector.exponentMantissa4
            (fun (v: float) -> Vector256.Create v) (fun a b c -> Vector256.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector256.GreaterThan(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b)) (fun a -> Vector256.Round a)
            ElementaryVector.scale4
            (fun x y ->
                Vector256.ExtractMostSignificantBits(
                    Vector256.GreaterThanOrEqual(x, Vector256.Create(2.2250738585072014e-308)) &&& Vector256.LessThanOrEqual(x, Vector256.Create(Double.MaxValue))
                    &&& Vector256.LessThanOrEqual(Vector256.Abs y, Vector256.Create(708.0))))

    let inline private lanes8 (p: Vector512<double>) (precise: bool) (odd: bool) (nonInteger: bool) (x: Vector512<double>) =
        lanesOf p precise odd nonInteger x (fun v -> Vector512.Abs v)
            LogVector.exponentMantissa8
            (fun (v: float) -> Vector512.Create v) (fun a b c -> Vector512.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector512.GreaterThan(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b)) (fun a -> Vector512.Round a)
            (fun e n -> X86.Avx512F.Scale(e, n))
            (fun x y ->
                uint32 (Vector512.ExtractMostSignificantBits(
                            Vector512.GreaterThanOrEqual(x, Vector512.Create(2.2250738585072014e-308)) &&& Vector512.LessThanOrEqual(x, Vector512.Create(Double.MaxValue))
                            &&& Vector512.LessThanOrEqual(Vector512.Abs y, Vector512.Create(708.0)))))

    /// dst[i] = combine i (x^p) for i in [lo, hi) by `LaneRange.runWith`: Math.Pow lane by lane where the formula
    /// does not hold. `combine8`/`combine4 i v` do the lanes from i, `combine1 i v` one.
    let inline private range (p: double) (src: double[]) (dst: double[]) (lo: int) (hi: int)
                             ([<InlineIfLambda>] combine8: int -> Vector512<double> -> Vector512<double>)
                             ([<InlineIfLambda>] combine4: int -> Vector256<double> -> Vector256<double>)
                             ([<InlineIfLambda>] combine1: int -> double -> double) =
        let nonInteger = Math.Floor p <> p
        let odd = not nonInteger && Math.Abs(Math.IEEERemainder(p, 2.0)) = 1.0
        let pv8, pv4 = Vector512.Create p, Vector256.Create p
        let scalar (x: double) = Math.Pow(x, p)
        // The plain form of ln |x| for |p| ≤ 8, the precise one beyond (`lanesOf`), each loop compiled for its own.
        if abs p > PlainUpTo then
            LaneRange.runWith src dst lo hi (fun x -> lanes8 pv8 true odd nonInteger x) (fun x -> lanes4 pv4 true odd nonInteger x)
                scalar combine8 combine4 combine1
        else
            LaneRange.runWith src dst lo hi (fun x -> lanes8 pv8 false odd nonInteger x) (fun x -> lanes4 pv4 false odd nonInteger x)
                scalar combine8 combine4 combine1

    /// x^p of every element (over the cores for large arrays). Needs `supports p`.
    let pow (p: double) (src: double[]) =
        let dst = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (fun lo hi -> range p src dst lo hi (fun _ v -> v) (fun _ v -> v) (fun _ v -> v))
        dst

    /// g·(k·x^q) of every element, x^q as `pow q` gives it (one pass: x^p's VJP with k = p, q = p − 1); g either
    /// an array or, where `g` is empty, the one value `fill` (a uniform adjoint). Needs `supports q`.
    let scaled (k: double) (q: double) (src: double[]) (g: double[]) (fill: double) =
        let kv, kv8 = Vector256.Create k, Vector512.Create k
        LaneRange.scaledOver (range q) (fun v -> kv8 * v) (fun v -> kv * v) (fun v -> k * v) src g fill
