namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open System.Threading.Tasks
open Microsoft.FSharp.NativeInterop

/// GELU and g·GELU' over arrays, eight lanes at a time with AVX-512: Φ from x itself as in Special (central
/// series for |x| ≤ 1/2, Φ(−t) = φ(t)·R(t) beyond), but with the Mills ratio R from one rational per octave of
/// t (coefficients picked by one permute each, one division), and exp(−x²/2) as p(r)·2ⁿ, scaled only at the
/// very end so that nothing underflows early; the same formulas on four lanes with AVX2 and FMA (bit-identical).
/// Elements that are not finite or have |x| > 38 go through the scalar functions, decided element by element.
/// Also e^x (eight lanes or four), ln x, σ(x) and tanh x (four lanes, on the exponential) over arrays.
module internal SpecialVector =

    let supported = Avx512F.IsSupported && Avx512DQ.IsSupported

    let private central = Special.centralCoefficients

    let private c = Vector512.Create(Special.invSqrt2Pi)
    let private half = Vector512.Create(0.5)
    let private one = Vector512.Create(1.0)
    /// ln 2 in two parts (the high part's last bits zero, so n·Ln2Hi is exact) and 1/ln 2, for exp's reduction.
    [<Literal>]
    let internal Ln2Hi = 6.93147180369123816490e-01
    [<Literal>]
    let internal Ln2Lo = 1.90821492927058770002e-10
    [<Literal>]
    let internal InvLn2 = 1.44269504088896338700e+00
    let internal ln2Hi = Vector512.Create(Ln2Hi)
    let internal ln2Lo = Vector512.Create(Ln2Lo)
    let internal invLn2 = Vector512.Create(InvLn2)
    /// 1/k!, k = 0..13, for the exp polynomial.
    let internal inverseFactorials = Array.init 14 (fun k -> 1.0 / (Seq.fold (fun a i -> a * float i) 1.0 [ 1 .. k ]))

    /// Σ r^k/k!, k = 0..13, by Horner's rule from 1/13! down, as expSplit's loop computes it (the same operations,
    /// so the same bits: tested) but written out with the coefficients as literals, for exp's own loops: exp
    /// over 4,096 values in cache 1.02–1.13 → 0.89–0.98 ns per element. GELU keeps the loop: written out there,
    /// its tier-1 code ran at 3.0 or 5.5 ns per element from one process to the next (the loop's at 2.5–3.0 in
    /// every run). `k` makes a constant vector, `fma a b` is a·r + b.
    let inline internal taylor13 ([<InlineIfLambda>] k: float -> 'v) ([<InlineIfLambda>] fma: 'v -> 'v -> 'v) =
        let p = fma (k 1.6059043836821613e-10) (k 2.08767569878681e-09)
        let p = fma p (k 2.505210838544172e-08)
        let p = fma p (k 2.755731922398589e-07)
        let p = fma p (k 2.7557319223985893e-06)
        let p = fma p (k 2.48015873015873e-05)
        let p = fma p (k 0.0001984126984126984)
        let p = fma p (k 0.001388888888888889)
        let p = fma p (k 0.008333333333333333)
        let p = fma p (k 0.041666666666666664)
        let p = fma p (k 0.16666666666666666)
        let p = fma p (k 0.5)
        let p = fma p (k 1.0)
        fma p (k 1.0)

    /// The Mills ratio R(t) on octaves [2ᵉ, 2ᵉ⁺¹), e = −1 … 5 (t in [0.5, 64)), from a degree-5/5 rational
    /// g = P/Q in v = 2·mantissa(t) − 3 ∈ [−1, 1) (exact) per octave, fitted in 40-digit arithmetic by
    /// weighted least squares (tools/fit-mills.py); below 3e-17 relative in R with the coefficients rounded.
    /// Below 2, R = A + g with A ≈ R at the octave's centre: R − t = (A − t) + g then has no cancellation
    /// beyond its own (A − t is exact there), which keeps GELU' accurate close to its root. From 2 on,
    /// R = 1/(t + g) = Q/(t·Q + P): the errors of P and of the one rounded Q reach R damped by g/(t + g),
    /// about 1/t².
    let private millsP, millsQ, millsA =
        let p =
          [|
            [| -3.9634231189258584e-17; -0.108892903925611; -0.020429156805482095; -0.0016522971188593697; -6.475203124272734e-05; -1.0343746297828952e-06 |]
            [| -3.267826793952941e-17; -0.11313827133652749; -0.04075528813936059; -0.006073504331004714; -0.0004319085202996313; -1.2317993316108419e-05 |]
            [| 0.28309865493043657; 0.1505895457825591; 0.03331550748877526; 0.0035101629973816766; 0.00014792883863891094; -2.6666342561260554e-09 |]
            [| 0.15848260454459895; 0.14027415388303763; 0.048364387910404046; 0.007661235151288612; 0.00046949651174561183; -2.687863782299624e-10 |]
            [| 0.08221417525428433; 0.09513602829488493; 0.041779533938518965; 0.008249085771979631; 0.0006177006767217268; -2.287031214909776e-12 |]
            [| 0.04152323073574571; 0.05317048801681138; 0.025616569171404438; 0.0055032081780566145; 0.00044479636494153214; -3.3916328552681738e-15 |]
            [| 0.020815287962918528; 0.027463071285761153; 0.013599388820712327; 0.0029955647682844986; 0.0002476511373413441; -2.3112855761547497e-18 |]
          |]
        let q =
          [|
            [| 1.0; 0.30983007332815293; 0.039847296945231814; 0.0026680666448886184; 9.338725356790924e-05; 1.3739070626319343e-06 |]
            [| 1.0; 0.5551206538996402; 0.12726293454686705; 0.015099648886202884; 0.0009300423844199959; 2.3877798873051063e-05 |]
            [| 1.0; 0.7811719650245899; 0.2567975099804216; 0.04412834101551022; 0.0039551012857894285; 0.00014784746212407525 |]
            [| 1.0; 1.1878239129291703; 0.5769938622633363; 0.14316476525025523; 0.01813955856275891; 0.000938981430273263 |]
            [| 1.0; 1.4817266397368647; 0.8850965641633834; 0.2664160067980249; 0.04040875242380348; 0.0024708025438591164 |]
            [| 1.0; 1.6115498732172895; 1.0412037691334866; 0.3371207487158197; 0.054700778186090794; 0.0035583709190837942 |]
            [| 1.0; 1.6521268606962702; 1.0924613803860455; 0.36140828640119543; 0.05981629088494043; 0.003962418197460908 |]
          |]
        let a = [| 0.7525711790634081; 0.5158156382179634 |]
        // Vector k holds coefficient k of every octave (lane e + 1; lane 7 repeats octave 6).
        let column (rows: double[][]) k = Vector512.Create<double>(Array.init 8 (fun lane -> rows.[min lane 6].[k]))
        Array.init 6 (column p), Array.init 6 (column q), Vector512.Create<double>(Array.init 8 (fun lane -> if lane < 2 then a.[lane] else 0.0))

    /// R(t) and R(t) − t for t in [0.5, 38] (any t in [0.5, 64)).
    let private mills (t: Vector512<double>) =
        // A raw conversion here and Avx512F.Max for the argument, not Vector512's: those add NaN and saturation
        // handling (four instructions each) that finite lanes in range do not need.
        let octave = Avx512DQ.ConvertToVector512Int64WithTruncation(Avx512F.GetExponent(t) + one)
        let v = Vector512.FusedMultiplyAdd(Vector512.Create(2.0), Avx512F.GetMantissa(t, 0uy), Vector512.Create(-3.0))
        let inline coefficient (table: Vector512<double>[]) k = Avx512F.PermuteVar8x64(table.[k], octave)
        let mutable p = coefficient millsP 5
        let mutable q = coefficient millsQ 5
        for k in 4 .. -1 .. 1 do
            p <- Vector512.FusedMultiplyAdd(p, v, coefficient millsP k)
            q <- Vector512.FusedMultiplyAdd(q, v, coefficient millsQ k)
        p <- Vector512.FusedMultiplyAdd(p, v, coefficient millsP 0)
        q <- Vector512.FusedMultiplyAdd(q, v, one)
        // One division for both forms: w = g = P/Q below 2, w = R = Q/(t·Q + P) from 2 on, where A is 0, so
        // that R = A + w and R − t = (A − t) + w hold for every lane (exactly w and w − t from 2 on).
        let below2 = Vector512.LessThan(t, Vector512.Create(2.0))
        let w = Vector512.ConditionalSelect(below2, p, q) / Vector512.ConditionalSelect(below2, q, Vector512.FusedMultiplyAdd(t, q, p))
        let a = Avx512F.PermuteVar8x64(millsA, octave)
        struct (a + w, (a - t) + w)

    /// e^y as p·2ⁿ: n = round(y/ln2), r = y − n·ln2 in two parts (|r| ≤ ln2/2), p from the degree-13 Taylor
    /// polynomial of e^r (truncation below 5e-18 relative).
    let internal expSplit (y: Vector512<double>) =
        let n = Vector512.Round(y * invLn2)
        let r = Vector512.FusedMultiplyAdd(n, -ln2Lo, Vector512.FusedMultiplyAdd(n, -ln2Hi, y))
        let mutable p = Vector512.Create(inverseFactorials.[13])
        for k in 12 .. -1 .. 0 do
            p <- Vector512.FusedMultiplyAdd(p, r, Vector512.Create(inverseFactorials.[k]))
        struct (p, n)

    /// expSplit with the polynomial written out (taylor13), for exp's loops.
    let inline internal expSplitFlat (y: Vector512<double>) =
        let n = Vector512.Round(y * invLn2)
        let r = Vector512.FusedMultiplyAdd(n, -ln2Lo, Vector512.FusedMultiplyAdd(n, -ln2Hi, y))
        struct (taylor13 (fun (v: float) -> Vector512.Create v) (fun a b -> Vector512.FusedMultiplyAdd(a, r, b)), n)

    /// exp(−x²/2) as m·2ⁿ: m from a degree-13 polynomial (|r| ≤ ln2/2) times the 1 − lo/2 correction for
    /// the rounding of x², n returned separately for one final scaling.
    let private expHalfSquare (x: Vector512<double>) =
        let hi = x * x
        let lo = Vector512.FusedMultiplyAdd(x, x, -hi)
        let struct (p, n) = expSplit (hi * Vector512.Create(-0.5))
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
            let struct (r, _) = mills (Avx512F.Max(t, half))
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
            let struct (r, rt) = mills (Avx512F.Max(t, half))
            let lower = Avx512F.Scale(rt * c * m, n)
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
            let struct (r, rt) = mills (Avx512F.Max(t, half))
            let tail = Avx512F.Scale(r * c * m, n)
            let lowerV = Avx512F.Scale(-(t * r * c) * m, n)
            let upperV = x * (one - tail)
            let lowerD = Avx512F.Scale(rt * c * m, n)
            let upperD = (one - tail) + x * phi
            let below = Vector512.LessThan(x, -half)
            struct (Vector512.ConditionalSelect(isCentral, centralV, Vector512.ConditionalSelect(below, lowerV, upperV)),
                    Vector512.ConditionalSelect(isCentral, centralD, Vector512.ConditionalSelect(below, lowerD, upperD)))

    let inline private plain (x: Vector512<double>) =
        // Finite and within the range where the vector formulas hold.
        Vector512.LessThanOrEqualAll(Vector512.Abs(x), Vector512.Create(38.0))

    /// A lane the vector formulas hold for. In a vector with other lanes, each of those takes the scalar
    /// function and the rest keep the vector result: an element's result never depends on its neighbours.
    let inline private inRange (x: double) = abs x <= 38.0

    // ---- The same lane formulas on four lanes, for AVX2 with FMA and no AVX-512 ----
    // Lane for lane the operations of the eight-lane formulas above (so the same bits: SpecialTests hold both to
    // the 2,200-bit reference, CI runs them with AVX-512 off), with AVX-512's helpers built from AVX2: the
    // exponent and mantissa from the bits, each octave's coefficient by two permutes and a blend, x·2ⁿ in two
    // exact steps.

    /// Whether the four-lane formulas can run here (AVX2 and FMA).
    let internal narrow = Avx2.IsSupported && Fma.IsSupported

    /// Whether GELU and exp have a vector path here (eight lanes or four).
    let lanes = supported || narrow

    /// Eight lanes where AVX-512 runs and `Tuning.EightLanes` is on (tests switch it off to hold the four-lane
    /// formulas to the eight-lane ones, bit for bit, on the same machine).
    let internal wide () = supported && Functional.Kernels.Tuning.EightLanes

    /// Elementwise steps around the exponential (softmax's row and block steps, σ's and tanh's) run four lanes
    /// at a time on every vector machine: they are bound by memory and L1, not by arithmetic, and elementwise, so
    /// the same bits at any width.
    let internal v256 = Vector256.IsHardwareAccelerated

    let private lower (v: Vector512<double>) = v.GetLower()
    let internal half4, one4, c4 = lower half, lower one, lower c
    let internal ln2Hi4, ln2Lo4, invLn24 = lower ln2Hi, lower ln2Lo, lower invLn2
    /// Each eight-lane octave table as its lanes 0–3 and 4–7.
    let private millsP4 = Array.map lower millsP, millsP |> Array.map (fun v -> v.GetUpper())
    let private millsQ4 = Array.map lower millsQ, millsQ |> Array.map (fun v -> v.GetUpper())
    let private millsA4 = lower millsA, millsA.GetUpper()

    /// 2ᵏ for integral k in [−1022, 1023]: 2⁵² + 1023 + k holds k + 1023 in its low bits, which shifted into the
    /// exponent field make 2ᵏ.
    let inline internal pow2 (k: Vector256<double>) =
        Avx2.ShiftLeftLogical((k + Vector256.Create(4503599627371519.0)).AsInt64(), 52uy).AsDouble()

    /// x·2ⁿ for integral n in [−1074, 1023] and x with x·2^⌊n/2⌋ normal: that first (exact), then the rest, so
    /// one rounding, as Avx512F.Scale's.
    let inline internal scale4 (x: Vector256<double>) (n: Vector256<double>) =
        let h = Vector256.Floor(n * half4)
        x * pow2 h * pow2 (n - h)

    let internal expSplit4 (y: Vector256<double>) =
        let n = Vector256.Round(y * invLn24)
        let r = Vector256.FusedMultiplyAdd(n, -ln2Lo4, Vector256.FusedMultiplyAdd(n, -ln2Hi4, y))
        let mutable p = Vector256.Create(inverseFactorials.[13])
        for k in 12 .. -1 .. 0 do
            p <- Vector256.FusedMultiplyAdd(p, r, Vector256.Create(inverseFactorials.[k]))
        struct (p, n)

    /// expSplit4 with the polynomial written out, for exp's loops.
    let inline internal expSplitFlat4 (y: Vector256<double>) =
        let n = Vector256.Round(y * invLn24)
        let r = Vector256.FusedMultiplyAdd(n, -ln2Lo4, Vector256.FusedMultiplyAdd(n, -ln2Hi4, y))
        struct (taylor13 (fun (v: float) -> Vector256.Create v) (fun a b -> Vector256.FusedMultiplyAdd(a, r, b)), n)

    let private expHalfSquare4 (x: Vector256<double>) =
        let hi = x * x
        let lo = Vector256.FusedMultiplyAdd(x, x, -hi)
        let struct (p, n) = expSplit4 (hi * Vector256.Create(-0.5))
        struct (p * (one4 - half4 * lo), n)

    let private mills4 (t: Vector256<double>) =
        let bits = t.AsInt64()
        // t in [0.5, 64) is positive and normal: its octave is its biased exponent − 1022, its mantissa in [1, 2)
        // the fraction bits under the exponent of 1.
        let octave = Avx2.ShiftRightLogical(bits, 52uy) - Vector256.Create(1022L)
        let mantissa = ((bits &&& Vector256.Create(0x000FFFFFFFFFFFFFL)) ||| Vector256.Create(0x3FF0000000000000L)).AsDouble()
        let v = Vector256.FusedMultiplyAdd(Vector256.Create(2.0), mantissa, Vector256.Create(-3.0))
        // Octave o's coefficient: lane o & 3 of the lower or upper half of the table, as the two 32-bit halves
        // 2(o & 3) and 2(o & 3) + 1 for the permute.
        let j = Avx2.ShiftLeftLogical(octave &&& Vector256.Create(3L), 1uy)
        let pair = (j ||| Avx2.ShiftLeftLogical(j + Vector256.Create(1L), 32uy)).AsInt32()
        let upper = Vector256.GreaterThan(octave, Vector256.Create(3L)).AsDouble()
        // Below 8 (most of any data) every lane's octave is in the lower half: one permute per coefficient, not
        // two and a blend (the blend would pick that permute: the same bits).
        let lowerOnly = Vector256.ExtractMostSignificantBits(upper) = 0u
        let inline pick (struct (lo: Vector256<double>, hi: Vector256<double>)) =
            let l = Avx2.PermuteVar8x32(lo.AsInt32(), pair).AsDouble()
            if lowerOnly then l else Vector256.ConditionalSelect(upper, Avx2.PermuteVar8x32(hi.AsInt32(), pair).AsDouble(), l)
        let inline coefficient (lo: Vector256<double>[], hi: Vector256<double>[]) k = pick (struct (lo.[k], hi.[k]))
        let mutable p = coefficient millsP4 5
        let mutable q = coefficient millsQ4 5
        for k in 4 .. -1 .. 1 do
            p <- Vector256.FusedMultiplyAdd(p, v, coefficient millsP4 k)
            q <- Vector256.FusedMultiplyAdd(q, v, coefficient millsQ4 k)
        p <- Vector256.FusedMultiplyAdd(p, v, coefficient millsP4 0)
        q <- Vector256.FusedMultiplyAdd(q, v, one4)
        let below2 = Vector256.LessThan(t, Vector256.Create(2.0))
        let w = Vector256.ConditionalSelect(below2, p, q) / Vector256.ConditionalSelect(below2, q, Vector256.FusedMultiplyAdd(t, q, p))
        let a = pick (struct (fst millsA4, snd millsA4))
        struct (a + w, (a - t) + w)

    let inline private centralPart4 (x: Vector256<double>) =
        let z = x * x
        let mutable s = Vector256.Create(central.[11])
        for k in 10 .. -1 .. 0 do
            s <- Vector256.FusedMultiplyAdd(s, z, Vector256.Create(central.[k]))
        c4 * x * s

    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    let private value4 (x: Vector256<double>) =
        let t = Vector256.Abs(x)
        let isCentral = Vector256.LessThanOrEqual(t, half4)
        let central = if Vector256.ExtractMostSignificantBits(isCentral) <> 0u then x * (half4 + centralPart4 x) else Vector256<double>.Zero
        if Vector256.ExtractMostSignificantBits(isCentral) = 0xFu then central
        else
            let struct (m, n) = expHalfSquare4 x
            let struct (r, _) = mills4 (Avx.Max(t, half4))
            let lower = scale4 (-(t * r * c4) * m) n
            let upper = x * (one4 - scale4 (r * c4 * m) n)
            Vector256.ConditionalSelect(isCentral, central, Vector256.ConditionalSelect(Vector256.LessThan(x, -half4), lower, upper))

    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    let private derivative4 (x: Vector256<double>) =
        let t = Vector256.Abs(x)
        let isCentral = Vector256.LessThanOrEqual(t, half4)
        let struct (m, n) = expHalfSquare4 x
        let phi = scale4 (c4 * m) n
        let central = if Vector256.ExtractMostSignificantBits(isCentral) <> 0u then half4 + centralPart4 x + x * phi else Vector256<double>.Zero
        if Vector256.ExtractMostSignificantBits(isCentral) = 0xFu then central
        else
            let struct (r, rt) = mills4 (Avx.Max(t, half4))
            let lower = scale4 (rt * c4 * m) n
            let upper = (one4 - scale4 (r * c4 * m) n) + x * phi
            Vector256.ConditionalSelect(isCentral, central, Vector256.ConditionalSelect(Vector256.LessThan(x, -half4), lower, upper))

    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    let private both4 (x: Vector256<double>) =
        let t = Vector256.Abs(x)
        let isCentral = Vector256.LessThanOrEqual(t, half4)
        let struct (m, n) = expHalfSquare4 x
        let phi = scale4 (c4 * m) n
        let anyCentral = Vector256.ExtractMostSignificantBits(isCentral) <> 0u
        let cp = if anyCentral then centralPart4 x else Vector256<double>.Zero
        let centralV = if anyCentral then x * (half4 + cp) else Vector256<double>.Zero
        let centralD = if anyCentral then half4 + cp + x * phi else Vector256<double>.Zero
        if Vector256.ExtractMostSignificantBits(isCentral) = 0xFu then struct (centralV, centralD)
        else
            let struct (r, rt) = mills4 (Avx.Max(t, half4))
            let tail = scale4 (r * c4 * m) n
            let lowerV = scale4 (-(t * r * c4) * m) n
            let upperV = x * (one4 - tail)
            let lowerD = scale4 (rt * c4 * m) n
            let upperD = (one4 - tail) + x * phi
            let below = Vector256.LessThan(x, -half4)
            struct (Vector256.ConditionalSelect(isCentral, centralV, Vector256.ConditionalSelect(below, lowerV, upperV)),
                    Vector256.ConditionalSelect(isCentral, centralD, Vector256.ConditionalSelect(below, lowerD, upperD)))

    let inline private plain4 (x: Vector256<double>) = Vector256.LessThanOrEqualAll(Vector256.Abs(x), Vector256.Create(38.0))

    // The range passes: whole vectors in range stored as they are (the hot loops, one per width, kept small);
    // a vector with a lane out of range and the tail (padded with zeros through the same lanes) go lane by
    // lane, the lanes out of range to the scalar functions. An element's result never depends on its
    // neighbours or its position.

    let private pad8 (p: nativeptr<float>) (i: int) (count: int) =
        let inline at k = if k < count then NativePtr.get p (i + k) else 0.0
        Vector512.Create(at 0, at 1, at 2, at 3, at 4, at 5, at 6, at 7)

    let private pad4 (p: nativeptr<float>) (i: int) (count: int) =
        let inline at k = if k < count then NativePtr.get p (i + k) else 0.0
        Vector256.Create(at 0, at 1, at 2, at 3)

    // Lane by lane into [i, i + count): the vector result where the formulas hold, the scalar function
    // elsewhere. Not inlined: each hot loop keeps its one call of the vector formula, which the JIT then inlines.

    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let private geluLanes8 (src: double[]) (dst: double[]) (i: int) (count: int) (x: Vector512<double>) =
        let v = value x
        for l in 0 .. count - 1 do dst.[i + l] <- if inRange src.[i + l] then v.GetElement l else Special.gelu src.[i + l]

    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let private geluLanes4 (src: double[]) (dst: double[]) (i: int) (count: int) (x: Vector256<double>) =
        let v = value4 x
        for l in 0 .. count - 1 do dst.[i + l] <- if inRange src.[i + l] then v.GetElement l else Special.gelu src.[i + l]

    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let private scaledLanes8 (src: double[]) (g: double[]) (dst: double[]) (i: int) (count: int) (x: Vector512<double>) (gv: Vector512<double>) =
        let d = gv * derivative x
        for l in 0 .. count - 1 do dst.[i + l] <- if inRange src.[i + l] then d.GetElement l else g.[i + l] * Special.geluDerivative src.[i + l]

    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let private scaledLanes4 (src: double[]) (g: double[]) (dst: double[]) (i: int) (count: int) (x: Vector256<double>) (gv: Vector256<double>) =
        let d = gv * derivative4 x
        for l in 0 .. count - 1 do dst.[i + l] <- if inRange src.[i + l] then d.GetElement l else g.[i + l] * Special.geluDerivative src.[i + l]

    let private bothLanes (src: double[]) (values: double[]) (derivs: double[]) (i: int) (count: int) (v: int -> double) (d: int -> double) =
        for l in 0 .. count - 1 do
            let ok = inRange src.[i + l]
            values.[i + l] <- if ok then v l else Special.gelu src.[i + l]
            derivs.[i + l] <- if ok then d l else Special.geluDerivative src.[i + l]

    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let private bothLanes8 (src: double[]) (values: double[]) (derivs: double[]) (i: int) (count: int) (x: Vector512<double>) =
        let struct (v, d) = both x
        bothLanes src values derivs i count v.GetElement d.GetElement

    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let private bothLanes4 (src: double[]) (values: double[]) (derivs: double[]) (i: int) (count: int) (x: Vector256<double>) =
        let struct (v, d) = both4 x
        bothLanes src values derivs i count v.GetElement d.GetElement

    let private geluRange8 (src: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 8 do
            let x = Vector512.Load(NativePtr.add ps i)
            if plain x then Vector512.Store(value x, NativePtr.add pd i)
            else geluLanes8 src dst i 8 x
            i <- i + 8
        if i < hi then geluLanes8 src dst i (hi - i) (pad8 ps i (hi - i))

    let private geluRange4 (src: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 4 do
            let x = Vector256.Load(NativePtr.add ps i)
            if plain4 x then Vector256.Store(value4 x, NativePtr.add pd i)
            else geluLanes4 src dst i 4 x
            i <- i + 4
        if i < hi then geluLanes4 src dst i (hi - i) (pad4 ps i (hi - i))

    let private geluRange (src: double[]) (dst: double[]) (lo: int) (hi: int) =
        if wide () then geluRange8 src dst lo hi
        elif narrow then geluRange4 src dst lo hi
        else for j in lo .. hi - 1 do dst.[j] <- Special.gelu src.[j]

    let private scaledRange8 (src: double[]) (g: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pg = fixed g
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 8 do
            let x = Vector512.Load(NativePtr.add ps i)
            let gv = Vector512.Load(NativePtr.add pg i)
            if plain x then Vector512.Store(gv * derivative x, NativePtr.add pd i)
            else scaledLanes8 src g dst i 8 x gv
            i <- i + 8
        if i < hi then scaledLanes8 src g dst i (hi - i) (pad8 ps i (hi - i)) (pad8 pg i (hi - i))

    let private scaledRange4 (src: double[]) (g: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pg = fixed g
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 4 do
            let x = Vector256.Load(NativePtr.add ps i)
            let gv = Vector256.Load(NativePtr.add pg i)
            if plain4 x then Vector256.Store(gv * derivative4 x, NativePtr.add pd i)
            else scaledLanes4 src g dst i 4 x gv
            i <- i + 4
        if i < hi then scaledLanes4 src g dst i (hi - i) (pad4 ps i (hi - i)) (pad4 pg i (hi - i))

    let private scaledRange (src: double[]) (g: double[]) (dst: double[]) (lo: int) (hi: int) =
        if wide () then scaledRange8 src g dst lo hi
        elif narrow then scaledRange4 src g dst lo hi
        else for j in lo .. hi - 1 do dst.[j] <- g.[j] * Special.geluDerivative src.[j]

    let private bothRange8 (src: double[]) (values: double[]) (derivs: double[]) (lo: int) (hi: int) =
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
            else bothLanes8 src values derivs i 8 x
            i <- i + 8
        if i < hi then bothLanes8 src values derivs i (hi - i) (pad8 ps i (hi - i))

    let private bothRange4 (src: double[]) (values: double[]) (derivs: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pv = fixed values
        use pd = fixed derivs
        let mutable i = lo
        while i <= hi - 4 do
            let x = Vector256.Load(NativePtr.add ps i)
            if plain4 x then
                let struct (v, d) = both4 x
                Vector256.Store(v, NativePtr.add pv i)
                Vector256.Store(d, NativePtr.add pd i)
            else bothLanes4 src values derivs i 4 x
            i <- i + 4
        if i < hi then bothLanes4 src values derivs i (hi - i) (pad4 ps i (hi - i))

    let private bothRange (src: double[]) (values: double[]) (derivs: double[]) (lo: int) (hi: int) =
        if wide () then bothRange8 src values derivs lo hi
        elif narrow then bothRange4 src values derivs lo hi
        else
            for j in lo .. hi - 1 do
                values.[j] <- Special.gelu src.[j]
                derivs.[j] <- Special.geluDerivative src.[j]

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

    let internal geluInto (src: double[]) (dst: double[]) = Strided.chunked src.Length (geluRange src dst)
    let internal bothInto (src: double[]) (values: double[]) (derivs: double[]) = Strided.chunked src.Length (bothRange src values derivs)
    let internal scaledInto (x: double[]) (g: double[]) (dst: double[]) = Strided.chunked x.Length (scaledRange x g dst)

    /// g·GELU'(x) elementwise for same-length arrays.
    let scaledDerivative (x: double[]) (g: double[]) =
        let dst = Strided.fresh x.Length
        Strided.chunked x.Length (scaledRange x g dst)
        dst

    /// e^x for eight lanes: the vector formula where the result is normal (e^−708 > 2^−1022, e^709 < 2^1024),
    /// Math.Exp for the other lanes (subnormal or infinite results, NaN). Each element's result depends only on
    /// the element, not on its position or its neighbours.
    let inline private expLanes (x: Vector512<double>) (store: int -> double -> unit) (whole: Vector512<double> -> unit) =
        let struct (p, n) = expSplitFlat x
        let v = Avx512F.Scale(p, n)
        let inRange = Vector512.GreaterThanOrEqual(x, Vector512.Create(-708.0)) &&& Vector512.LessThanOrEqual(x, Vector512.Create(709.0))
        let bad = ~~~(Vector512.ExtractMostSignificantBits(inRange)) &&& 0xFFUL
        if bad = 0UL then whole v
        else
            for l in 0 .. 7 do
                store l (if (bad >>> l) &&& 1UL = 0UL then v.GetElement l else Math.Exp(x.GetElement l))

    /// e^x for four lanes, as `expLanes` for eight.
    let inline private expLanes4 (x: Vector256<double>) (store: int -> double -> unit) (whole: Vector256<double> -> unit) =
        let struct (p, n) = expSplitFlat4 x
        let v = scale4 p n
        let inRange = Vector256.GreaterThanOrEqual(x, Vector256.Create(-708.0)) &&& Vector256.LessThanOrEqual(x, Vector256.Create(709.0))
        let bad = ~~~(Vector256.ExtractMostSignificantBits(inRange)) &&& 0xFu
        if bad = 0u then whole v
        else
            for l in 0 .. 3 do
                store l (if (bad >>> l) &&& 1u = 0u then v.GetElement l else Math.Exp(x.GetElement l))

    /// e^x of src[lo..hi) into dst[off + (i − lo)] with four lanes, the tail padded through the same lanes.
    let private expInto4 (src: double[]) (lo: int) (hi: int) (dst: double[]) (off: int) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 4 do
            let o = off + (i - lo)
            expLanes4 (Vector256.Load(NativePtr.add ps i)) (fun l v -> dst.[o + l] <- v) (fun v -> Vector256.Store(v, NativePtr.add pd o))
            i <- i + 4
        if i < hi then
            let o = off + (i - lo)
            let count = hi - i
            let inline at k = if k < count then src.[i + k] else 0.0
            expLanes4 (Vector256.Create(at 0, at 1, at 2, at 3)) (fun l v -> if l < count then dst.[o + l] <- v) (fun v -> for l in 0 .. count - 1 do dst.[o + l] <- v.GetElement l)

    /// e^x of src[lo..hi) into dst[off + (i − lo)] with eight lanes.
    let private expInto8 (src: double[]) (lo: int) (hi: int) (dst: double[]) (off: int) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 8 do
            let o = off + (i - lo)
            expLanes (Vector512.Load(NativePtr.add ps i)) (fun l v -> dst.[o + l] <- v) (fun v -> Vector512.Store(v, NativePtr.add pd o))
            i <- i + 8
        if i < hi then
            // The tail through the same lanes (padded with zeros, no allocation: softmax calls this per row), so
            // that it gets the same formula.
            let o = off + (i - lo)
            let count = hi - i
            let inline at k = if k < count then src.[i + k] else 0.0
            let x = Vector512.Create(at 0, at 1, at 2, at 3, at 4, at 5, at 6, at 7)
            expLanes x (fun l v -> if l < count then dst.[o + l] <- v) (fun v -> for l in 0 .. count - 1 do dst.[o + l] <- v.GetElement l)

    /// e^x of src[lo..hi) into dst[off + (i − lo)], eight lanes at a time or four.
    let internal expInto (src: double[]) (lo: int) (hi: int) (dst: double[]) (off: int) =
        if wide () then expInto8 src lo hi dst off else expInto4 src lo hi dst off

    /// e^x of every element (over the cores for large arrays): within 1 ulp of the correctly rounded value where
    /// the result is normal (tested against a 2,200-bit reference); subnormal and infinite results and NaN
    /// through Math.Exp.
    let exp (src: double[]) =
        let dst = Strided.fresh src.Length
        Strided.chunked src.Length (fun lo hi -> expInto src lo hi dst lo)
        dst

    /// ln 2 in two parts for the logarithms (ln here, x^p in PowVector), the first with 42 bits so that k times it
    /// is exact for every exponent k.
    [<Literal>]
    let internal LogLn2Hi = 0.6931471805598903
    [<Literal>]
    let internal LogLn2Lo = 5.497923018708371e-14

    /// Four lanes of positive, normal, finite x as their exponent and their mantissa in [1, 2), both exact: the
    /// bits under the exponent of 1, and the biased exponent's bits under 2⁵²'s exponent minus 2⁵² + 1023.
    let inline internal exponentMantissa4 (x: Vector256<double>) =
        let bits = x.AsInt64()
        let mantissa = ((bits &&& Vector256.Create(0x000FFFFFFFFFFFFFL)) ||| Vector256.Create(0x3FF0000000000000L)).AsDouble()
        let biased = (Avx2.ShiftRightLogical(bits, 52uy) ||| Vector256.Create(0x4330000000000000L)).AsDouble()
        struct (biased - Vector256.Create(4503599627371519.0), mantissa)

    /// ln x for four lanes with x positive, normal and finite: x = 2ᵏ·m with m in [√½, √2], f = m − 1 (exact),
    /// s = f/(2 + f), ln(1 + f) = 2·atanh s = f − (f²/2 − s·(f²/2 + R)) with R = Σ 2zⁿ/(2n + 1), z = s², n = 1…11
    /// (|s| ≤ 0.1716, so the rest is below 2e-20 relative), plus k·ln2 in two parts, the first with 42 bits so
    /// that k times it is exact. Four lanes on every vector machine: one formula, the same bits everywhere.
    let inline private logLanes (x: Vector256<double>) =
        let c (v: float) = Vector256.Create v
        let fma (a: Vector256<double>) (b: Vector256<double>) (d: Vector256<double>) = Vector256.FusedMultiplyAdd(a, b, d)
        let struct (exponent, mantissa) = exponentMantissa4 x
        let halve = Vector256.GreaterThan(mantissa, c 1.4142135623730951)
        let m = Vector256.ConditionalSelect(halve, mantissa * c 0.5, mantissa)
        let k = exponent + (halve.AsDouble() &&& c 1.0)
        let f = m - c 1.0
        let s = f / (c 2.0 + f)
        let z = s * s
        let p = fma (c 0.08695652173913043) z (c 0.09523809523809523)
        let p = fma p z (c 0.10526315789473684)
        let p = fma p z (c 0.11764705882352941)
        let p = fma p z (c 0.13333333333333333)
        let p = fma p z (c 0.15384615384615385)
        let p = fma p z (c 0.18181818181818182)
        let p = fma p z (c 0.2222222222222222)
        let p = fma p z (c 0.2857142857142857)
        let p = fma p z (c 0.4)
        let p = fma p z (c 0.6666666666666666)
        let r = p * z
        let hfsq = c 0.5 * f * f
        let correction = hfsq - fma s (hfsq + r) (k * c LogLn2Lo)
        fma k (c LogLn2Hi) (f - correction)

    let inline private logInRange (x: Vector256<double>) =
        Vector256.GreaterThanOrEqual(x, Vector256.Create(2.2250738585072014e-308)) &&& Vector256.LessThanOrEqual(x, Vector256.Create(Double.MaxValue))

    /// The lanes l < count of x at src[i..] into dst[i..]: the vector formula where it holds, Math.Log elsewhere
    /// (the cold path: a vector with such a lane, and the tail).
    [<MethodImpl(MethodImplOptions.NoInlining)>]
    let private logLanesEach (src: double[]) (dst: double[]) (i: int) (count: int) (x: Vector256<double>) =
        let ok = logInRange x
        let v = logLanes x
        for l in 0 .. count - 1 do
            dst.[i + l] <- if ok.AsInt64().GetElement l <> 0L then v.GetElement l else Math.Log(src.[i + l])

    /// ln x of src[lo..hi) into dst[lo..hi): the vector formula for positive normal finite x, Math.Log for the
    /// rest (0, subnormals, negatives, ∞, NaN), decided element by element; the tail through padded lanes.
    let private logRange (src: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        while i <= hi - 4 do
            let x = Vector256.Load(NativePtr.add ps i)
            if Vector256.ExtractMostSignificantBits(logInRange x) = 0xFu then Vector256.Store(logLanes x, NativePtr.add pd i)
            else logLanesEach src dst i 4 x
            i <- i + 4
        if i < hi then
            let count = hi - i
            let inline at k = if k < count then src.[i + k] else 1.0
            logLanesEach src dst i count (Vector256.Create(at 0, at 1, at 2, at 3))

    /// Whether the four-lane formulas (ln, GELU's tanh form) run here: AVX2 and FMA.
    let fourLanes = narrow

    /// ln x of src[lo..hi) into dst[lo..hi) (dst may be src): the vector path where there is one, Math.Log
    /// otherwise. Every ln in the library goes through here or `logOne`, so fused and separate passes agree.
    let internal logInto (src: double[]) (dst: double[]) (lo: int) (hi: int) =
        if fourLanes then logRange src dst lo hi
        else for i in lo .. hi - 1 do dst.[i] <- Math.Log src.[i]

    /// ln x of one value, with the bits `log` gives it in an array.
    let logOne (x: double) =
        if fourLanes && x >= 2.2250738585072014e-308 && x <= Double.MaxValue then (logLanes (Vector256.Create(x, 1.0, 1.0, 1.0))).ToScalar()
        else Math.Log x

    /// ln x of every element (over the cores for large arrays): within 1 ulp (tested against a high-precision
    /// reference), Math.Log for non-positive, subnormal and non-finite elements and on machines without AVX2
    /// and FMA; four to five times faster than Math.Log one element at a time.
    let log (src: double[]) =
        let dst = Strided.fresh src.Length
        Strided.chunked src.Length (logInto src dst)
        dst

    /// A chunk's scratch row of at least n (its contents undefined) from the shared pool, given back by `release`:
    /// long rows (a vocabulary's logits) run one row a chunk, and fresh scratch of 128 KB per row landed on the
    /// large-object heap (softmax over rows of 16,384 took 6.7 ms instead of 1).
    let internal rent (n: int) = System.Buffers.ArrayPool<double>.Shared.Rent(max 1 n)

    let internal release (a: double[]) = System.Buffers.ArrayPool<double>.Shared.Return a

    /// A fresh array of f over src in one pass (over the cores for large arrays): eight lanes at a time where
    /// AVX-512 is (`step8`), four for the rest and elsewhere (`step4`, the same operations: the same bits), the
    /// tail padded through the same lanes. Each step also returns a mask of lanes its exponential could not do
    /// (e^y with y below −708, or NaN); if any, the elements `outside` picks are redone by `scalar`, which gives
    /// them the bits the lanes would with Math.Exp in them. (A Math.Exp call inside the loop would keep its
    /// vectors on the stack on every iteration.) These steps are one chain per lane: one pass on four lanes was
    /// slower than two passes with an eight-lane exponential.
    let inline private onePass (src: double[]) ([<InlineIfLambda>] step8: Vector512<double> -> struct (Vector512<double> * uint32))
                               ([<InlineIfLambda>] step4: Vector256<double> -> struct (Vector256<double> * uint32))
                               ([<InlineIfLambda>] outside: double -> bool) ([<InlineIfLambda>] scalar: double -> double) =
        let dst = Strided.fresh src.Length
        Strided.chunked src.Length (fun lo hi ->
            use px = fixed src
            use pd = fixed dst
            let mutable i = lo
            let mutable bad = 0u
            if wide () then
                while i <= hi - 8 do
                    let struct (v, b) = step8 (Vector512.Load(NativePtr.add px i))
                    Vector512.Store(v, NativePtr.add pd i)
                    bad <- bad ||| b
                    i <- i + 8
            while i <= hi - 4 do
                let struct (v, b) = step4 (Vector256.Load(NativePtr.add px i))
                Vector256.Store(v, NativePtr.add pd i)
                bad <- bad ||| b
                i <- i + 4
            if i < hi then
                let count = hi - i
                let inline at k = if k < count then NativePtr.get px (i + k) else 0.0
                let struct (v, b) = step4 (Vector256.Create(at 0, at 1, at 2, at 3))
                for l in 0 .. count - 1 do NativePtr.set pd (i + l) (v.GetElement l)
                bad <- bad ||| b
            if bad <> 0u then
                for j in lo .. hi - 1 do
                    if outside src.[j] then dst.[j] <- scalar src.[j])
        dst

    /// e^y on lanes (y ≤ 0) and the mask of lanes below −708 or NaN, for `onePass`.
    let inline private expNeg4 (y: Vector256<double>) =
        let struct (p, n) = expSplitFlat4 y
        struct (scale4 p n, ~~~(Vector256.ExtractMostSignificantBits(Vector256.GreaterThanOrEqual(y, Vector256.Create(-708.0)))) &&& 0xFu)

    let inline private expNeg8 (y: Vector512<double>) =
        let struct (p, n) = expSplitFlat y
        struct (Avx512F.Scale(p, n), uint32 (~~~(Vector512.ExtractMostSignificantBits(Vector512.GreaterThanOrEqual(y, Vector512.Create(-708.0)))) &&& 0xFFUL))

    /// σ from e = e^(−|z|): 1 − q for z ≥ 0, q below, q = e/(1 + e) (either width; `ge` a lane mask, `select`).
    let inline private sigmoidFrom (z: ^v) (e: ^v) (one: ^v) (zero: ^v) ([<InlineIfLambda>] ge: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) =
        let q = e / (one + e)
        select (ge z zero) (one - q) q

    /// σ(z) of every element from e = e^(−|z|) by the vector exponential (so nothing overflows): q = e/(1 + e),
    /// which is σ(z) for z < 0, and 1 − q for z ≥ 0 (q ≤ 1/2 there, so the difference loses nothing): one
    /// division per element, in one pass (session 10; two passes through scratch before, the same bits). Within
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
            (fun z ->
                let e = Math.Exp(-(abs z))
                let q = e / (1.0 + e)
                if z >= 0.0 then 1.0 - q else q)

    /// tanh t for lanes with 0 ≤ t < 0.55 by its Taylor series to t³⁹ (the rest below 5e-19 relative); `c` makes
    /// a constant vector, `fma a b d` is a·b + d (either width: the same operations).
    let inline private tanhSeries (t: ^v) ([<InlineIfLambda>] c: float -> ^v) ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) =
        let z = t * t
        let p = fma (c -2.859136662305254e-08) z (c 7.054636946400968e-08)
        let p = fma p z (c -1.7406618963571648e-07)
        let p = fma p z (c 4.294911078273806e-07)
        let p = fma p z (c -1.0597268320104654e-06)
        let p = fma p z (c 2.6147711512907546e-06)
        let p = fma p z (c -6.451689215655431e-06)
        let p = fma p z (c 1.5918905069328964e-05)
        let p = fma p z (c -3.927832388331683e-05)
        let p = fma p z (c 9.691537956929451e-05)
        let p = fma p z (c -0.00023912911424355248)
        let p = fma p z (c 0.000590027440945586)
        let p = fma p z (c -0.0014558343870513183)
        let p = fma p z (c 0.003592128036572481)
        let p = fma p z (c -0.008863235529902197)
        let p = fma p z (c 0.021869488536155203)
        let p = fma p z (c -0.05396825396825397)
        let p = fma p z (c 0.13333333333333333)
        let p = fma p z (c -0.3333333333333333)
        let p = fma p z (c 1.0)
        t * p

    /// tanh from a = |x| and e = e^(−2a): the series below 0.55, (1 − e)/(1 + e) above, x's sign put back last
    /// (either width).
    let inline private tanhFrom (x: ^v) (a: ^v) (e: ^v) (one: ^v) (sign: ^v) (small: ^v) ([<InlineIfLambda>] c: float -> ^v) ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v)
                                ([<InlineIfLambda>] lt: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) =
        let r = select (lt a small) (tanhSeries a c fma) ((one - e) / (one + e))
        r ||| (x &&& sign)

    /// tanh x of every element: for |x| < 0.55 its Taylor series, beyond it (1 − e)/(1 + e) with e = e^(−2|x|)
    /// by the vector exponential (e ≤ 1/3 there, so neither side cancels), the sign put back last (tanh(−0) =
    /// −0, ±∞ → ±1, NaN stays), in one pass (session 10; two through scratch before, the same bits). Within 2
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
                // Only |x| > 354 or NaN come here: never the series.
                let e = Math.Exp(-2.0 * abs x)
                let r = (1.0 - e) / (1.0 + e)
                BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits r ||| (BitConverter.DoubleToInt64Bits x &&& Int64.MinValue)))
