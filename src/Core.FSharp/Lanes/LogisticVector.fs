namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop

/// SiLU x·σ(x) and softplus ln(1 + eˣ) over arrays, with their derivatives, each in one pass: both come from
/// e = e^(−|x|) by the vector exponential, σ as `SigmoidTanhVector.sigmoid` takes it from e (the same operations, so
/// the same bits). Eight lanes at a time with AVX-512, four with AVX2 and FMA (the same bits: tested); elements
/// whose e^(−|x|) is subnormal, or NaN, are redone by the same steps with Math.Exp.
module internal LogisticVector =

    let inline private sigmoid4 (x: Vector256<double>) =
        let struct (e, bad) = SigmoidTanhVector.expNeg4 (-Vector256.Abs(x))
        struct (e, SigmoidTanhVector.sigmoidFrom x e (Vector256.Create(1.0)) Vector256<double>.Zero (fun a b -> Vector256.GreaterThanOrEqual(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b)), bad)

    let inline private sigmoid8 (x: Vector512<double>) =
        let struct (e, bad) = SigmoidTanhVector.expNeg8 (-Vector512.Abs(x))
        struct (e, SigmoidTanhVector.sigmoidFrom x e (Vector512.Create(1.0)) Vector512<double>.Zero (fun a b -> Vector512.GreaterThanOrEqual(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b)), bad)

    /// Whether an element's e^(−|x|) is left to Math.Exp.
    let inline private outside (x: double) = not (-(abs x) >= -708.0)

    /// SiLU's value x·s and derivative s·(1 + x·(1 − s)) from s = σ(x), either width.
    let inline private siluOf (x: ^v) (s: ^v) (one: ^v) = struct (x * s, s * (one + x * (one - s)))

    let inline private silu4 (x: Vector256<double>) =
        let struct (_, s, bad) = sigmoid4 x
        let struct (v, d) = siluOf x s (Vector256.Create(1.0))
        struct (v, d, bad)

    let inline private silu8 (x: Vector512<double>) =
        let struct (_, s, bad) = sigmoid8 x
        let struct (v, d) = siluOf x s (Vector512.Create(1.0))
        struct (v, d, bad)

    /// The scalar steps for the elements the lanes leave; at ±∞ the limits, where x·σ(x) and its slope are ∞·0: −0
    /// with slope 0 at −∞, ∞ with slope 1 at +∞ (as GELU's).
    let private siluScalar (x: double) =
        if Double.IsNegativeInfinity x then struct (-0.0, 0.0)
        elif Double.IsPositiveInfinity x then struct (x, 1.0)
        else let s = SigmoidTanhVector.sigmoidScalar x in siluOf x s 1.0

    /// SiLU and its derivative of every element (over the cores for large arrays).
    let siluWithDerivative (src: double[]) = FusedLanes.both silu8 silu4 outside siluScalar src

    /// SiLU of every element.
    let silu (src: double[]) = FusedLanes.value silu8 silu4 outside siluScalar src

    /// g·SiLU'(x) elementwise for same-length arrays.
    let siluScaled (src: double[]) (g: double[]) = FusedLanes.scaled silu8 silu4 outside siluScalar src g

    /// softplus from e = e^(−|x|) in its two parts, max(x, 0) and ln(1 + e) (softplus is their sum), ln(1 + e) from
    /// the rounded u = 1 + e corrected by e/(u − 1) (Goldberg), e itself where u rounds to 1; either width (`log` on
    /// lanes in [1, 2]).
    let inline private softplusOf (x: ^v) (e: ^v) (one: ^v) (zero: ^v) ([<InlineIfLambda>] log: ^v -> ^v)
                                  ([<InlineIfLambda>] eq: ^v -> ^v -> ^v) ([<InlineIfLambda>] lt: ^v -> ^v -> ^v)
                                  ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) =
        let u = one + e
        struct (select (lt x zero) zero x, select (eq u one) e (log u * (e / (u - one))))

    /// max(x, 0), ln(1 + e^(−|x|)) and σ(x) on four lanes.
    let inline private softplusParts4 (x: Vector256<double>) =
        let struct (e, s, bad) = sigmoid4 x
        let parts =
            softplusOf x e (Vector256.Create(1.0)) Vector256<double>.Zero LogVector.logLanes (fun a b -> Vector256.Equals(a, b))
                (fun a b -> Vector256.LessThan(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b))
        struct (parts, s, bad)

    /// max(x, 0), ln(1 + e^(−|x|)) and σ(x) on eight lanes.
    let inline private softplusParts8 (x: Vector512<double>) =
        let struct (e, s, bad) = sigmoid8 x
        let parts =
            softplusOf x e (Vector512.Create(1.0)) Vector512<double>.Zero LogVector.logLanes8 (fun a b -> Vector512.Equals(a, b))
                (fun a b -> Vector512.LessThan(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b))
        struct (parts, s, bad)

    let inline private softplus4 (x: Vector256<double>) =
        let struct (struct (m, l), s, bad) = softplusParts4 x
        struct (m + l, s, bad)

    let inline private softplus8 (x: Vector512<double>) =
        let struct (struct (m, l), s, bad) = softplusParts8 x
        struct (m + l, s, bad)

    /// The lanes' two parts with Math.Exp (and the lanes' ln), for the elements the lanes leave.
    let private softplusPartsScalar (x: double) =
        let e = Math.Exp(-(abs x))
        let u = 1.0 + e
        struct ((if x < 0.0 then 0.0 else x), (if u = 1.0 then e else LogVector.logOne u * (e / (u - 1.0))))

    let private softplusScalar (x: double) =
        let struct (m, l) = softplusPartsScalar x
        struct (m + l, SigmoidTanhVector.sigmoidScalar x)

    /// softplus and its derivative σ of every element (over the cores for large arrays).
    let softplusWithDerivative (src: double[]) = FusedLanes.both softplus8 softplus4 outside softplusScalar src

    /// softplus of every element.
    let softplus (src: double[]) = FusedLanes.value softplus8 softplus4 outside softplusScalar src

    /// g·σ(x) elementwise for same-length arrays: softplus's VJP and JVP.
    let softplusScaled (src: double[]) (g: double[]) =
        FusedLanes.scaled (fun x -> let struct (_, s, bad) = sigmoid8 x in struct (s, s, bad)) (fun x -> let struct (_, s, bad) = sigmoid4 x in struct (s, s, bad))
            outside (fun x -> let s = SigmoidTanhVector.sigmoidScalar x in struct (s, s)) src g

    /// The first `count` lanes of a[i ..], zeros after (the padded tail of a second operand).
    let inline private lanesAt (a: nativeptr<float>) (i: int) (count: int) =
        if count = 4 then Vector256.Load(NativePtr.add a i)
        else
            let inline at j = if j < count then NativePtr.get a (i + j) else 0.0
            Vector256.Create(at 0, at 1, at 2, at 3)

    /// softplus(x) − x·t for same-length arrays (binary cross-entropy from logits x and targets t), in one pass, as
    /// (max(x, 0) − x·t) + ln(1 + e^(−|x|)): the logarithm is added last, so that where the first part cancels (t = 1,
    /// x ≫ 0; t = 0, x ≪ 0) it is kept whole (softplus(40) − 40 rounds to 0; the loss is 4.2e-18). The bits of
    /// `(relu x − x·t) + softplus(−|x|)` composed. Needs `Cpu.fourLanes`.
    let softplusMinusProduct (src: double[]) (t: double[]) =
        let values = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (fun lo hi ->
            use px = fixed src
            use pt = fixed t
            use pv = fixed values
            let bad =
                FusedLanes.lanePass px lo hi
                    (fun i x ->
                        let struct (struct (m, l), _, bad) = softplusParts8 x
                        Vector512.Store((m - x * Vector512.Load(NativePtr.add pt i)) + l, NativePtr.add pv i)
                        bad)
                    (fun i count x ->
                        let struct (struct (m, l), _, bad) = softplusParts4 x
                        FusedLanes.storeLanes ((m - x * lanesAt pt i count) + l) pv i count
                        bad)
            if bad then
                for i in lo .. hi - 1 do
                    let x = src.[i]
                    if outside x then
                        let struct (m, l) = softplusPartsScalar x
                        values.[i] <- (m - x * t.[i]) + l)
        values

    /// g·(σ(x) − t) for same-length arrays, g the array `gs` or, when it is null, the one value `g`: binary
    /// cross-entropy's derivative in the logits times an adjoint or tangent, in one pass. Needs `Cpu.fourLanes`.
    let sigmoidMinusScaled (src: double[]) (t: double[]) (gs: double[]) (g: double) =
        let result = Strided.fresh src.Length
        let uniform = isNull gs
        // A uniform g reads no array; t stands in for it to be pinned.
        let ga = if uniform then t else gs
        Strided.chunkedCostly src.Length (fun lo hi ->
            use px = fixed src
            use pt = fixed t
            use pg = fixed ga
            use pr = fixed result
            let bad =
                FusedLanes.lanePass px lo hi
                    (fun i x ->
                        let struct (_, s, bad) = sigmoid8 x
                        let gv = if uniform then Vector512.Create(g) else Vector512.Load(NativePtr.add pg i)
                        Vector512.Store(gv * (s - Vector512.Load(NativePtr.add pt i)), NativePtr.add pr i)
                        bad)
                    (fun i count x ->
                        let struct (_, s, bad) = sigmoid4 x
                        let gv = if uniform then Vector256.Create(g) else lanesAt pg i count
                        FusedLanes.storeLanes (gv * (s - lanesAt pt i count)) pr i count
                        bad)
            if bad then
                for i in lo .. hi - 1 do
                    let x = src.[i]
                    if outside x then
                        result.[i] <- (if uniform then g else gs.[i]) * (SigmoidTanhVector.sigmoidScalar x - t.[i]))
        result
