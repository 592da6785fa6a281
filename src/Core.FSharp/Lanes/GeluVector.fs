namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop
open Cpu
open ElementaryVector

/// GELU and g·GELU' over arrays, eight lanes at a time with AVX-512: Φ from x itself as in Special (central
/// series for |x| ≤ 1/2, Φ(−t) = φ(t)·R(t) beyond), but with the Mills ratio R from one rational per octave of
/// t (coefficients picked by one permute each, one division), and exp(−x²/2) as p(r)·2ⁿ, scaled only at the
/// very end so that nothing underflows early; the same formulas on four lanes with AVX2 and FMA (bit-identical).
/// Elements that are not finite or have |x| > 38 go through the scalar functions, decided element by element.
module internal GeluVector =

    let private central = Special.centralCoefficients

    let private c = Vector512.Create(Special.invSqrt2Pi)
    let private half = Vector512.Create(0.5)
    let private one = Vector512.Create(1.0)
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
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    let internal mills (t: Vector512<double>) =
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

    /// exp(−x²/2) as m·2ⁿ: m from the exponential's degree-11 polynomial (|r| ≤ ln2/2) times the 1 − lo/2 correction for
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

    let internal c4 = lower c
    /// Each eight-lane octave table as its lanes 0–3 and 4–7.
    let private millsP4 = Array.map lower millsP, millsP |> Array.map (fun v -> v.GetUpper())
    let private millsQ4 = Array.map lower millsQ, millsQ |> Array.map (fun v -> v.GetUpper())
    let private millsA4 = lower millsA, millsA.GetUpper()

    let private expHalfSquare4 (x: Vector256<double>) =
        let hi = x * x
        let lo = Vector256.FusedMultiplyAdd(x, x, -hi)
        let struct (p, n) = expSplit4 (hi * Vector256.Create(-0.5))
        struct (p * (one4 - half4 * lo), n)

    [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
    let internal mills4 (t: Vector256<double>) =
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
        Strided.chunkedCostly src.Length (bothRange src values derivs)
        struct (values, derivs)

    /// GELU of every element (over the cores for large arrays).
    let gelu (src: double[]) =
        let dst = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (geluRange src dst)
        dst

    let internal geluInto (src: double[]) (dst: double[]) = Strided.chunkedCostly src.Length (geluRange src dst)
    let internal bothInto (src: double[]) (values: double[]) (derivs: double[]) = Strided.chunkedCostly src.Length (bothRange src values derivs)
    let internal scaledInto (x: double[]) (g: double[]) (dst: double[]) = Strided.chunkedCostly x.Length (scaledRange x g dst)

    /// g·GELU'(x) elementwise for same-length arrays.
    let scaledDerivative (x: double[]) (g: double[]) =
        let dst = Strided.fresh x.Length
        Strided.chunkedCostly x.Length (scaledRange x g dst)
        dst
