namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop
open Cpu

/// ln x over arrays (eight lanes or four), and the reduction to a mantissa near 1 that ln(1 + x), x^p and the
/// log-softmax build on. Elements outside the formula's range (0, subnormals, negatives, ∞, NaN) go through
/// Math.Log, decided element by element.
module internal LogVector =

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

    /// Eight lanes of positive, normal, finite x as their exponent and their mantissa in [1, 2), as
    /// `exponentMantissa4` gives them, by AVX-512's own instructions (`vgetexppd`, `vgetmantpd`).
    let inline internal exponentMantissa8 (x: Vector512<double>) = struct (Avx512F.GetExponent x, Avx512F.GetMantissa(x, 0uy))

    /// ln x from x = 2^exponent·mantissa (mantissa in [1, 2)), either width: m in [√½, √2], f = m − 1 (exact),
    /// s = f/(2 + f), ln(1 + f) = 2·atanh s = f − (f²/2 − s·(f²/2 + R)) with R = Σ 2zⁿ/(2n + 1), z = s², n = 1…11
    /// (|s| ≤ 0.1716, so the rest is below 2e-20 relative), plus k·ln2 in two parts, the first with 42 bits so
    /// that k times it is exact. The same operations on four lanes and eight, so the same bits (tested). `extra`, a
    /// term far below the result's last bit, joins the low part before the one final rounding (ln(1 + x) adds the
    /// rounding of 1 + x that way; ln itself adds zero, which leaves its bits as they were).
    let inline internal logFrom (exponent: ^v) (mantissa: ^v) (extra: ^v) ([<InlineIfLambda>] c: float -> ^v) ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v)
                               ([<InlineIfLambda>] gt: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) =
        let halve = gt mantissa (c 1.4142135623730951)
        let m = select halve (mantissa * c 0.5) mantissa
        let k = exponent + (halve &&& c 1.0)
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
        let correction = hfsq - fma s (hfsq + r) (fma k (c LogLn2Lo) extra)
        fma k (c LogLn2Hi) (f - correction)

    /// ln x for four lanes with x positive, normal and finite (`logFrom`).
    let inline internal logLanes (x: Vector256<double>) =
        let struct (exponent, mantissa) = exponentMantissa4 x
        logFrom exponent mantissa Vector256<double>.Zero (fun v -> Vector256.Create v) (fun a b d -> Vector256.FusedMultiplyAdd(a, b, d))
            (fun a b -> Vector256.GreaterThan(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b))

    /// ln x for eight lanes with x positive, normal and finite (`logFrom`).
    let inline internal logLanes8 (x: Vector512<double>) =
        let struct (exponent, mantissa) = exponentMantissa8 x
        logFrom exponent mantissa Vector512<double>.Zero (fun v -> Vector512.Create v) (fun a b d -> Vector512.FusedMultiplyAdd(a, b, d))
            (fun a b -> Vector512.GreaterThan(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b))

    let inline private logInRange (x: Vector256<double>) =
        Vector256.GreaterThanOrEqual(x, Vector256.Create(2.2250738585072014e-308)) &&& Vector256.LessThanOrEqual(x, Vector256.Create(Double.MaxValue))

    /// The lanes l < count of x at src[i..] into dst[i..]: the vector formula where it holds, Math.Log elsewhere
    /// (the cold path: a vector with such a lane, and the tail).
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let private logLanesEach (src: double[]) (dst: double[]) (i: int) (count: int) (x: Vector256<double>) =
        let ok = logInRange x
        let v = logLanes x
        for l in 0 .. count - 1 do
            dst.[i + l] <- if ok.AsInt64().GetElement l <> 0L then v.GetElement l else Math.Log(src.[i + l])

    /// ln x of src[lo..hi) into dst[lo..hi): the vector formula for positive normal finite x, Math.Log for the
    /// rest (0, subnormals, negatives, ∞, NaN), decided element by element; eight lanes at a time where AVX-512
    /// runs (`wide`; ln over 4,096 values in cache 7.3–7.6 → 5.0–5.1 µs on Zen 4, whose AVX-512 is two 256-bit
    /// halves), then four, the tail through padded lanes.
    let private logRange (src: double[]) (dst: double[]) (lo: int) (hi: int) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        if wide () then
            let least = Vector512.Create(2.2250738585072014e-308)
            let most = Vector512.Create(Double.MaxValue)
            let inline inRange (v: Vector512<double>) = Vector512.GreaterThanOrEqual(v, least) &&& Vector512.LessThanOrEqual(v, most)
            // Two vectors a step: each is one long chain of dependent operations, and an Intel Xeon (family 6
            // model 207) overlapped too little of one step with the next (ln over 4,096 values in cache, one core:
            // 4.2 ns an element one vector a step, 1.6–2.0 two). The same operations per lane, so the same bits.
            while i <= hi - 16 do
                let x = Vector512.Load(NativePtr.add ps i)
                let y = Vector512.Load(NativePtr.add ps (i + 8))
                if Vector512.ExtractMostSignificantBits(inRange x &&& inRange y) = 0xFFUL then
                    let lx = logLanes8 x
                    let ly = logLanes8 y
                    Vector512.Store(lx, NativePtr.add pd i)
                    Vector512.Store(ly, NativePtr.add pd (i + 8))
                else
                    logLanesEach src dst i 4 (x.GetLower())
                    logLanesEach src dst (i + 4) 4 (x.GetUpper())
                    logLanesEach src dst (i + 8) 4 (y.GetLower())
                    logLanesEach src dst (i + 12) 4 (y.GetUpper())
                i <- i + 16
            while i <= hi - 8 do
                let x = Vector512.Load(NativePtr.add ps i)
                if Vector512.ExtractMostSignificantBits(inRange x) = 0xFFUL then
                    Vector512.Store(logLanes8 x, NativePtr.add pd i)
                else
                    logLanesEach src dst i 4 (x.GetLower())
                    logLanesEach src dst (i + 4) 4 (x.GetUpper())
                i <- i + 8
        while i <= hi - 4 do
            let x = Vector256.Load(NativePtr.add ps i)
            if Vector256.ExtractMostSignificantBits(logInRange x) = 0xFu then Vector256.Store(logLanes x, NativePtr.add pd i)
            else logLanesEach src dst i 4 x
            i <- i + 4
        if i < hi then
            let count = hi - i
            let inline at k = if k < count then src.[i + k] else 1.0
            logLanesEach src dst i count (Vector256.Create(at 0, at 1, at 2, at 3))

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
        Strided.chunkedCostly src.Length (logInto src dst)
        dst
