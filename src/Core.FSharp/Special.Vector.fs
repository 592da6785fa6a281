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
/// very end so that nothing underflows early. Vectors holding a non-finite value or |x| > 38 go through the
/// scalar functions.
module internal SpecialVector =

    let supported = Avx512F.IsSupported && Avx512DQ.IsSupported

    let private central = Special.centralCoefficients

    let private c = Vector512.Create(Special.invSqrt2Pi)
    let private half = Vector512.Create(0.5)
    let private one = Vector512.Create(1.0)
    let private ln2Hi = Vector512.Create(6.93147180369123816490e-01)
    let private ln2Lo = Vector512.Create(1.90821492927058770002e-10)
    let private invLn2 = Vector512.Create(1.44269504088896338700e+00)
    /// 1/k!, k = 0..13, for the exp polynomial.
    let private inverseFactorials = Array.init 14 (fun k -> 1.0 / (Seq.fold (fun a i -> a * float i) 1.0 [ 1 .. k ]))

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
    let private expSplit (y: Vector512<double>) =
        let n = Vector512.Round(y * invLn2)
        let r = Vector512.FusedMultiplyAdd(n, -ln2Lo, Vector512.FusedMultiplyAdd(n, -ln2Hi, y))
        let mutable p = Vector512.Create(inverseFactorials.[13])
        for k in 12 .. -1 .. 0 do
            p <- Vector512.FusedMultiplyAdd(p, r, Vector512.Create(inverseFactorials.[k]))
        struct (p, n)

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

    /// e^x for eight lanes: the vector formula where the result is normal (e^−708 > 2^−1022, e^709 < 2^1024),
    /// Math.Exp for the other lanes (subnormal or infinite results, NaN). Each element's result depends only on
    /// the element, not on its position or its neighbours.
    let inline private expLanes (x: Vector512<double>) (store: int -> double -> unit) (whole: Vector512<double> -> unit) =
        let struct (p, n) = expSplit x
        let v = Avx512F.Scale(p, n)
        let inRange = Vector512.GreaterThanOrEqual(x, Vector512.Create(-708.0)) &&& Vector512.LessThanOrEqual(x, Vector512.Create(709.0))
        let bad = ~~~(Vector512.ExtractMostSignificantBits(inRange)) &&& 0xFFUL
        if bad = 0UL then whole v
        else
            for l in 0 .. 7 do
                store l (if (bad >>> l) &&& 1UL = 0UL then v.GetElement l else Math.Exp(x.GetElement l))

    /// e^x of src[lo..hi) into dst[off + (i − lo)].
    let private expInto (src: double[]) (lo: int) (hi: int) (dst: double[]) (off: int) =
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

    /// e^x of every element (over the cores for large arrays): within 1 ulp of the correctly rounded value where
    /// the result is normal (tested against a 2,200-bit reference); subnormal and infinite results and NaN
    /// through Math.Exp.
    let exp (src: double[]) =
        let dst = Strided.fresh src.Length
        Strided.chunked src.Length (fun lo hi -> expInto src lo hi dst lo)
        dst

    /// Rows of n in chunks of about 16,384 elements, over the cores when there are several; `body` takes a row
    /// range and runs in one thread, so its scratch arrays are its own.
    let private byRows (rows: int) (n: int) (body: int -> int -> unit) =
        let per = max 1 (16384 / max 1 n)
        let chunks = (rows + per - 1) / per
        if chunks <= 1 then body 0 rows
        else Parallel.For(0, chunks, fun c -> body (c * per) (min rows ((c + 1) * per))) |> ignore

    /// The shift of Softmax's unfused passes for the row at p: its maximum taken as `v > max` takes it (NaN
    /// skipped), 0 when that is infinite (so the shift never makes NaN itself); eight lanes at a time, which
    /// finds the same maximum (only the sign of a zero maximum may differ, and e^(x − ±0) is the same).
    let private rowShift (p: nativeptr<float>) (n: int) =
        let mutable acc = Vector512.Create(Double.NegativeInfinity)
        let mutable j = 0
        while j <= n - 8 do
            let v = Vector512.Load(NativePtr.add p j)
            acc <- Vector512.ConditionalSelect(Vector512.GreaterThan(v, acc), v, acc)
            j <- j + 8
        let mutable mx = Double.NegativeInfinity
        for l in 0 .. 7 do
            let v = acc.GetElement l
            if v > mx then mx <- v
        while j < n do
            let v = NativePtr.get p j
            if v > mx then mx <- v
            j <- j + 1
        if Double.IsInfinity mx then 0.0 else mx

    /// dst[j] = src[j] − m for j < n.
    let private subtractInto (src: nativeptr<float>) (m: float) (dst: nativeptr<float>) (n: int) =
        let vm = Vector512.Create(m)
        let mutable j = 0
        while j <= n - 8 do
            Vector512.Store(Vector512.Load(NativePtr.add src j) - vm, NativePtr.add dst j)
            j <- j + 8
        while j < n do
            NativePtr.set dst j (NativePtr.get src j - m)
            j <- j + 1

    /// e = e^(x − m) of the row at `off` into e, m its shift; returns m and Σe (in SumRuns' order).
    let private shiftedExp (ps: nativeptr<float>) (off: int) (n: int) (shifted: double[]) (pshifted: nativeptr<float>) (e: double[]) (sum: double[]) =
        let m = rowShift (NativePtr.add ps off) n
        subtractInto (NativePtr.add ps off) m pshifted n
        expInto shifted 0 n e 0
        Functional.Kernels.Reduce.SumRuns(e, 1, n, sum)
        struct (m, sum.[0])

    /// Rows of n of src into a fresh array, one row at a time while it is in cache: each row's shift m, e =
    /// e^(x − m) and Σe as `shiftedExp` makes them, then `finish x e y m Σe` writes the row y of the result.
    let private shiftedRows (src: double[]) (n: int) (finish: nativeptr<float> -> nativeptr<float> -> nativeptr<float> -> float -> float -> unit) =
        let dst = Strided.fresh src.Length
        let rows = if n = 0 then 0 else src.Length / n
        byRows rows n (fun r0 r1 ->
            let shifted = Array.zeroCreate<double> n
            let e = Array.zeroCreate<double> n
            let sum = Array.zeroCreate<double> 1
            use ps = fixed src
            use psh = fixed shifted
            use pe = fixed e
            use pd = fixed dst
            for r in r0 .. r1 - 1 do
                let off = r * n
                let struct (m, total) = shiftedExp ps off n shifted psh e sum
                finish (NativePtr.add ps off) pe (NativePtr.add pd off) m total)
        dst

    /// Softmax along contiguous rows of n: y = e / Σe with e = e^(x − m), m the row's maximum (0 when infinite),
    /// the sum in SumRuns' order: the very operations of Softmax's unfused passes (so the same bits), one row
    /// at a time instead of five passes over the whole tensor.
    let softmaxRows (src: double[]) (n: int) =
        shiftedRows src n (fun _ e y _ total ->
            let vs = Vector512.Create(total)
            let mutable j = 0
            while j <= n - 8 do
                Vector512.Store(Vector512.Load(NativePtr.add e j) / vs, NativePtr.add y j)
                j <- j + 8
            while j < n do
                NativePtr.set y j (NativePtr.get e j / total)
                j <- j + 1)

    /// Log-softmax along contiguous rows of n: y = x − (m + ln Σe) with e = e^(x − m) as in `softmaxRows`: the
    /// operations of Softmax.logSoftmax's unfused passes (so the same bits), one row at a time.
    let logSoftmaxRows (src: double[]) (n: int) =
        shiftedRows src n (fun x _ y m total -> subtractInto x (m + Math.Log total) y n)

    /// Log-softmax's VJP along contiguous rows of n, z = g − e^y·Σg from its output y and an adjoint g: the
    /// operations of its unfused passes (e^y, the row sums in SumRuns' order, the product, the difference), so
    /// the same bits, one row at a time.
    let logSoftmaxVjpRows (y: double[]) (g: double[]) (n: int) =
        let z = Strided.fresh y.Length
        let rows = if n = 0 then 0 else y.Length / n
        byRows rows n (fun r0 r1 ->
            let e = Array.zeroCreate<double> n
            use pe = fixed e
            use pg = fixed g
            use pz = fixed z
            for r in r0 .. r1 - 1 do
                let off = r * n
                let s = Functional.Kernels.Reduce.Sum(g, off, n)
                expInto y off (off + n) e 0
                let vs = Vector512.Create(s)
                let mutable j = 0
                while j <= n - 8 do
                    Vector512.Store(Vector512.Load(NativePtr.add pg (off + j)) - Vector512.Load(NativePtr.add pe j) * vs, NativePtr.add pz (off + j))
                    j <- j + 8
                while j < n do
                    z.[off + j] <- g.[off + j] - e.[j] * s
                    j <- j + 1)
        z
