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
            let mutable cf = t
            for n in 18 .. -1 .. 1 do
                cf <- t + Vector512.Create(float n) / cf
            Vector512.ConditionalSelect(Vector512.GreaterThan(t, Vector512.Create(8.0)), one / cf, acc)

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

    let inline private plain (x: Vector512<double>) =
        // Finite and within the range where the vector formulas hold.
        Vector512.LessThanOrEqualAll(Vector512.Abs(x), Vector512.Create(38.0))

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
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

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
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

    /// GELU of every element (over the cores for large arrays).
    let gelu (src: double[]) =
        let dst = Array.zeroCreate src.Length
        Strided.chunked src.Length (geluRange src dst)
        dst

    /// g·GELU'(x) elementwise for same-length arrays.
    let scaledDerivative (x: double[]) (g: double[]) =
        let dst = Array.zeroCreate x.Length
        Strided.chunked x.Length (scaledRange x g dst)
        dst
