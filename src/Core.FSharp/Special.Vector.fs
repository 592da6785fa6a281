namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open System.Threading.Tasks
open Microsoft.FSharp.NativeInterop

/// GELU and g·GELU' over arrays, eight lanes at a time with AVX-512: the same formulas as Special
/// (Mills-ratio Taylor table, continued fraction beyond 8, central series), with the table looked up by
/// two-register permutes and exp(−x²/2) as p(r)·2ⁿ, scaled only at the very end so that nothing
/// underflows early. Vectors holding a non-finite value or |x| > 38 go through the scalar functions.
module internal SpecialVector =

    let supported = Avx512F.IsSupported

    /// Coefficient k of the Taylor table for anchors 0..31 (anchor 31 repeats 30), as four vectors.
    let private table : Vector512<double>[][] =
        Array.init 13 (fun k ->
            Array.init 4 (fun q ->
                Vector512.Create<double>(Array.init 8 (fun i -> let j = min 30 (q * 8 + i) in Special.coefficients.[j * 13 + k]))))

    let private central = Special.centralCoefficients

    let private c = Vector512.Create(Special.invSqrt2Pi)
    let private half = Vector512.Create(0.5)
    let private one = Vector512.Create(1.0)
    let private ln2Hi = Vector512.Create(6.93147180369123816490e-01)
    let private ln2Lo = Vector512.Create(1.90821492927058770002e-10)
    let private invLn2 = Vector512.Create(1.44269504088896338700e+00)
    /// 1/k!, k = 0..13, for the exp polynomial.
    let private inverseFactorials = Array.init 14 (fun k -> 1.0 / (Seq.fold (fun a i -> a * float i) 1.0 [ 1 .. k ]))

    /// The tail t + 3/(t + 4/(t + … + 18/t)) of Laplace's fraction is A/B with A = t·P(t²), B = Q(t²): the
    /// convergent recurrence X_m = t·X_{m−1} + (m+2)·X_{m−2} (P from 1, t; Q from 0, 1) in exact integers,
    /// all below 2³¹, so exact doubles. Returned ascending in z = t², the leading 1 left out.
    let private fractionP, fractionQ =
        let step (prev: int64[]) (cur: int64[]) (a: int) =
            Array.init (cur.Length + 1) (fun i -> (if i > 0 then cur.[i - 1] else 0L) + (if i < prev.Length then int64 a * prev.[i] else 0L))
        let mutable pPrev, p = [| 1L |], [| 0L; 1L |]
        let mutable qPrev, q = [| 0L |], [| 1L |]
        for a in 3 .. 18 do
            let p' = step pPrev p a
            let q' = step qPrev q a
            pPrev <- p
            p <- p'
            qPrev <- q
            q <- q'
        // p: odd powers of t up to 17, q: even powers up to 16.
        Array.init 8 (fun k -> float p.[2 * k + 1]), Array.init 8 (fun k -> float q.[2 * k])

    /// The coefficient vector for anchor indices j (0..31).
    let inline private lookup (k: int) (j: Vector512<int64>) (upper: Vector512<double>) =
        let t = table.[k]
        let lo = Avx512F.PermuteVar8x64x2(t.[0], j, t.[1])
        let hi = Avx512F.PermuteVar8x64x2(t.[2], j, t.[3])
        Vector512.ConditionalSelect(upper, hi, lo)

    /// R(t) for t in [0.5, 38]: the table up to 8, Laplace's continued fraction (18 terms) beyond.
    let private mills (t: Vector512<double>) =
        let tt = Vector512.Min(t, Vector512.Create(8.0))
        let jf = Vector512.Floor((tt - half) * Vector512.Create(4.0) + half)
        let j = Vector512.ConvertToInt64(jf)
        let upper = Vector512.GreaterThanOrEqual(jf, Vector512.Create(16.0))
        let h = tt - (half + Vector512.Create(0.25) * jf)
        let mutable acc = lookup 12 j upper
        for k in 11 .. -1 .. 0 do
            acc <- Vector512.FusedMultiplyAdd(acc, h, lookup k j upper)
        if not (Vector512.GreaterThanAny(t, Vector512.Create(8.0))) then acc
        else
            // Beyond 8: Laplace's fraction to 18 terms with one division. The tail A/B from two degree-8
            // polynomials in z = t²; then R = 1/(t + 1/(t + 2B/A)) = C/(t·C + A) with C = t·A + 2B. The same
            // rounded C is in both places, so the errors of A, B and C reach R damped by about 1/t².
            let z = t * t
            let mutable p = one
            let mutable q = one
            for k in 7 .. -1 .. 0 do
                p <- Vector512.FusedMultiplyAdd(p, z, Vector512.Create(fractionP.[k]))
                q <- Vector512.FusedMultiplyAdd(q, z, Vector512.Create(fractionQ.[k]))
            let a = t * p
            let cc = Vector512.FusedMultiplyAdd(t, a, q + q)
            Vector512.ConditionalSelect(Vector512.GreaterThan(t, Vector512.Create(8.0)), cc / Vector512.FusedMultiplyAdd(t, cc, a), acc)

    /// exp(−x²/2) as m·2ⁿ: m from a degree-13 polynomial (|r| ≤ ln2/2) times the 1 − lo/2 correction for
    /// the rounding of x², n returned separately for one final scaling.
    let private expHalfSquare (x: Vector512<double>) =
        let hi = x * x
        let lo = Vector512.FusedMultiplyAdd(x, x, -hi)
        let y = hi * Vector512.Create(-0.5)
        let n = Vector512.Round(y * invLn2)
        let r = Vector512.FusedMultiplyAdd(n, -ln2Lo, Vector512.FusedMultiplyAdd(n, -ln2Hi, y))
        let mutable p = Vector512.Create(inverseFactorials.[13])
        for k in 12 .. -1 .. 0 do
            p <- Vector512.FusedMultiplyAdd(p, r, Vector512.Create(inverseFactorials.[k]))
        struct (p * (one - half * lo), n)

    /// Φ(x) − 1/2 by the central series, for the lanes with |x| ≤ 1/2.
    let inline private centralPart (x: Vector512<double>) =
        let z = x * x
        let mutable s = Vector512.Create(central.[11])
        for k in 10 .. -1 .. 0 do
            s <- Vector512.FusedMultiplyAdd(s, z, Vector512.Create(central.[k]))
        c * x * s

    /// GELU for eight finite lanes with |x| ≤ 38. Parts no lane needs are skipped.
    let private value (x: Vector512<double>) =
        let t = Vector512.Abs(x)
        let isCentral = Vector512.LessThanOrEqual(t, half)
        let central = if Vector512.ExtractMostSignificantBits(isCentral) <> 0UL then x * (half + centralPart x) else Vector512<double>.Zero
        if Vector512.ExtractMostSignificantBits(isCentral) = 0xFFUL then central
        else
            let struct (m, n) = expHalfSquare x
            let r = mills (Vector512.Max(t, half))
            // Lower tail −(t·R·c)·e and upper x·(1 − R·c·e), the scaling last.
            let lower = Avx512F.Scale(-(t * r * c) * m, n)
            let upper = x * (one - Avx512F.Scale(r * c * m, n))
            Vector512.ConditionalSelect(isCentral, central, Vector512.ConditionalSelect(Vector512.LessThan(x, -half), lower, upper))

    /// GELU' for eight finite lanes with |x| ≤ 38.
    let private derivative (x: Vector512<double>) =
        let t = Vector512.Abs(x)
        let isCentral = Vector512.LessThanOrEqual(t, half)
        let struct (m, n) = expHalfSquare x
        let phi = Avx512F.Scale(c * m, n)
        let central = if Vector512.ExtractMostSignificantBits(isCentral) <> 0UL then half + centralPart x + x * phi else Vector512<double>.Zero
        if Vector512.ExtractMostSignificantBits(isCentral) = 0xFFUL then central
        else
            let r = mills (Vector512.Max(t, half))
            let lower = Avx512F.Scale((r - t) * c * m, n)
            let upper = (one - Avx512F.Scale(r * c * m, n)) + x * phi
            Vector512.ConditionalSelect(isCentral, central, Vector512.ConditionalSelect(Vector512.LessThan(x, -half), lower, upper))

    /// GELU and GELU' together for eight finite lanes with |x| ≤ 38: the very expressions of value and
    /// derivative (so bit-identical results), computing exp(−x²/2) and the Mills ratio once.
    let private both (x: Vector512<double>) =
        let t = Vector512.Abs(x)
        let isCentral = Vector512.LessThanOrEqual(t, half)
        let struct (m, n) = expHalfSquare x
        let phi = Avx512F.Scale(c * m, n)
        let anyCentral = Vector512.ExtractMostSignificantBits(isCentral) <> 0UL
        let cp = if anyCentral then centralPart x else Vector512<double>.Zero
        let centralV = if anyCentral then x * (half + cp) else Vector512<double>.Zero
        let centralD = if anyCentral then half + cp + x * phi else Vector512<double>.Zero
        if Vector512.ExtractMostSignificantBits(isCentral) = 0xFFUL then struct (centralV, centralD)
        else
            let r = mills (Vector512.Max(t, half))
            let tail = Avx512F.Scale(r * c * m, n)
            let lowerV = Avx512F.Scale(-(t * r * c) * m, n)
            let upperV = x * (one - tail)
            let lowerD = Avx512F.Scale((r - t) * c * m, n)
            let upperD = (one - tail) + x * phi
            let below = Vector512.LessThan(x, -half)
            struct (Vector512.ConditionalSelect(isCentral, centralV, Vector512.ConditionalSelect(below, lowerV, upperV)),
                    Vector512.ConditionalSelect(isCentral, centralD, Vector512.ConditionalSelect(below, lowerD, upperD)))

    let inline private plain (x: Vector512<double>) =
        // Finite and within the range where the vector formulas hold.
        Vector512.LessThanOrEqualAll(Vector512.Abs(x), Vector512.Create(38.0))

    let private geluRange (src: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 8 do
            let x = Vector512.Load(NativePtr.add ps i)
            if plain x then Vector512.Store(value x, NativePtr.add pd i)
            else for l in i .. i + 7 do dst.[l] <- Special.gelu src.[l]
            i <- i + 8
        while i < hi do
            dst.[i] <- Special.gelu src.[i]
            i <- i + 1

    let private scaledRange (src: double[]) (g: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pg = fixed g
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 8 do
            let x = Vector512.Load(NativePtr.add ps i)
            let gv = Vector512.Load(NativePtr.add pg i)
            if plain x then Vector512.Store(gv * derivative x, NativePtr.add pd i)
            else for l in i .. i + 7 do dst.[l] <- g.[l] * Special.geluDerivative src.[l]
            i <- i + 8
        while i < hi do
            dst.[i] <- g.[i] * Special.geluDerivative src.[i]
            i <- i + 1

    let private bothRange (src: double[]) (values: double[]) (derivs: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pv = fixed values
        use pd = fixed derivs
        let mutable i = lo
        while i <= hi - 8 do
            let x = Vector512.Load(NativePtr.add ps i)
            if plain x then
                let struct (v, d) = both x
                Vector512.Store(v, NativePtr.add pv i)
                Vector512.Store(d, NativePtr.add pd i)
            else
                for l in i .. i + 7 do
                    values.[l] <- Special.gelu src.[l]
                    derivs.[l] <- Special.geluDerivative src.[l]
            i <- i + 8
        while i < hi do
            values.[i] <- Special.gelu src.[i]
            derivs.[i] <- Special.geluDerivative src.[i]
            i <- i + 1

    /// GELU and GELU' of every element in one pass (for a forward pass whose backward will follow).
    let geluWithDerivative (src: double[]) =
        let values = Strided.fresh src.Length
        let derivs = Strided.fresh src.Length
        Strided.chunked src.Length (bothRange src values derivs)
        struct (values, derivs)

    /// GELU of every element (over the cores for large arrays).
    let gelu (src: double[]) =
        let dst = Strided.fresh src.Length
        Strided.chunked src.Length (geluRange src dst)
        dst

    /// g·GELU'(x) elementwise for same-length arrays.
    let scaledDerivative (x: double[]) (g: double[]) =
        let dst = Strided.fresh x.Length
        Strided.chunked x.Length (scaledRange x g dst)
        dst
