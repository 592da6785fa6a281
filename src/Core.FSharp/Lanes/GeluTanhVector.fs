namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop

/// GELU's tanh form x·σ(z), z = 2√(2/π)·x·(1 + 0.044715x²), and its derivative over arrays, eight lanes at a time
/// with AVX-512, four with AVX2 and FMA (the same operations, so the same bits: tested): Special's formulas (z in two parts, e = e^(−|z|) by the vector exponential with the rest
/// applied, one division); elements whose e^(−|z|) is subnormal, or NaN, are redone by the scalar path. Every
/// element, the tail too, goes through the same lanes, so its result does not depend on its position.
module internal GeluTanhVector =

    /// ElementaryVector.expCoefficients' polynomial (degree 11) by Estrin's scheme: pairs, then powers r², r⁴, r⁸,
    /// so about 20 cycles of latency instead of Horner's 44. This path is one long chain per lane and the number of
    /// lanes in flight bounds its speed, so the latency is what counts here. `k` makes a constant vector,
    /// `fma a b c` is a·b + c.
    let inline internal estrin11 (r: 'v) ([<InlineIfLambda>] k: float -> 'v) ([<InlineIfLambda>] fma: 'v -> 'v -> 'v -> 'v) ([<InlineIfLambda>] mul: 'v -> 'v -> 'v) =
        let c = ElementaryVector.expCoefficients
        let r2 = mul r r
        let r4 = mul r2 r2
        let r8 = mul r4 r4
        let q0 = fma (k c.[1]) r (k c.[0])
        let q1 = fma (k c.[3]) r (k c.[2])
        let q2 = fma (k c.[5]) r (k c.[4])
        let q3 = fma (k c.[7]) r (k c.[6])
        let q4 = fma (k c.[9]) r (k c.[8])
        let q5 = fma (k c.[11]) r (k c.[10])
        let s0 = fma q1 r2 q0
        let s1 = fma q3 r2 q2
        let s2 = fma q5 r2 q4
        let t0 = fma s1 r4 s0
        fma s2 r8 t0

    /// Value and derivative of the lanes of x (Special.geluTanhArgument's and geluTanhFinish's steps, in their
    /// order), and a mask of the lanes whose e^(−|z|) is subnormal (below −708) or NaN: those are wrong here and
    /// are redone by `fixUp` (a Math.Exp call inside the loop made the JIT keep its vectors on the stack on every
    /// iteration). One body for both widths, given each width's operations: `k` a constant vector, `fms a b c`
    /// a·b − c and `fma` a·b + c fused, `ge`/`eq` lane masks, `select mask a b`, `scale p n` p·2ⁿ, `bad y` the
    /// mask of lanes with y below −708 or NaN. The steps form one long chain per lane (11 FMAs of the
    /// exponential's polynomial among them), so lanes in flight set the speed: 3.8 ns per element on four
    /// lanes here, 2.25 on eight, with Estrin's scheme and FMS (4.0 and 2.3 without).
    let inline private bothOf (x: ^v) ([<InlineIfLambda>] k: float -> ^v) ([<InlineIfLambda>] fms: ^v -> ^v -> ^v -> ^v)
                              ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) ([<InlineIfLambda>] ge: ^v -> ^v -> ^v)
                              ([<InlineIfLambda>] eq: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v)
                              ([<InlineIfLambda>] abs: ^v -> ^v) ([<InlineIfLambda>] round: ^v -> ^v)
                              ([<InlineIfLambda>] scale: ^v -> ^v -> ^v) ([<InlineIfLambda>] bad: ^v -> uint32) =
        let one = k 1.0
        let zero = k 0.0
        let kk = k Special.geluTanhCubic
        let cHi = k Special.twoSqrt2OverPi
        // z = 2u in two parts.
        let x2 = x * x
        let x2Lo = fms x x x2
        let p = kk * x2
        let pLo = fms kk x2 p + kk * x2Lo
        let w = one + p
        let b = w - one
        let wLo = ((one - (w - b)) + (p - b)) + pLo
        let m = x * w
        let mLo = fms x w m + x * wLo
        let z = cHi * m
        let zLo = fms cHi m z + (cHi * mLo + k Special.twoSqrt2OverPiLo * m)
        // e = e^(−|z|)·(1 + rest).
        let nonNegative = ge z zero
        let y = -(abs z)
        let n = round (y * k ElementaryVector.InvLn2)
        let rr = fma n (k -ElementaryVector.Ln2Lo) (fma n (k -ElementaryVector.Ln2Hi) y)
        let e = scale (estrin11 rr k fma (fun a b -> a * b)) n
        let e = fma e (select nonNegative (-zLo) zLo) e
        // σ(z) from e, the value and the derivative.
        let r = one / (one + e)
        let er = e * r
        let s = select nonNegative r er
        let value = select (eq s zero) (k -0.0) (x * s)
        let t = x * er * r * (cHi * (one + k (3.0 * Special.geluTanhCubic) * x2))
        let derivative = select (eq e zero) s (s + t)
        struct (value, derivative, bad y)

    let inline private both (x: Vector256<double>) =
        bothOf x (fun (v: float) -> Vector256.Create v) (fun a b c -> Fma.MultiplySubtract(a, b, c)) (fun a b c -> Vector256.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector256.GreaterThanOrEqual(a, b)) (fun a b -> Vector256.Equals(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b))
            (fun a -> Vector256.Abs a) (fun a -> Vector256.Round a) ElementaryVector.scale4
            (fun y -> ~~~(Vector256.ExtractMostSignificantBits(Vector256.GreaterThanOrEqual(y, Vector256.Create(-708.0)))) &&& 0xFu)

    let inline private both8 (x: Vector512<double>) =
        bothOf x (fun (v: float) -> Vector512.Create v) (fun a b c -> Avx512F.FusedMultiplySubtract(a, b, c)) (fun a b c -> Vector512.FusedMultiplyAdd(a, b, c))
            (fun a b -> Vector512.GreaterThanOrEqual(a, b)) (fun a b -> Vector512.Equals(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b))
            (fun a -> Vector512.Abs a) (fun a -> Vector512.Round a) (fun p n -> Avx512F.Scale(p, n))
            (fun y -> uint32 (~~~(Vector512.ExtractMostSignificantBits(Vector512.GreaterThanOrEqual(y, Vector512.Create(-708.0)))) &&& 0xFFUL))

    /// Whether an element's e^(−|z|) leaves the vector exponential's range (or is NaN): Special's scalar path,
    /// whose Math.Exp and formulas give such a lane what the lanes would with Math.Exp in it.
    let internal scalarOnly (x: double) =
        let struct (z, _, _) = Special.geluTanhArgument x
        not (-(abs z) >= -708.0)

    /// Redoes src[lo..hi)'s scalar-only elements with `redo i x`, after a pass that met at least one.
    let private fixUp (src: double[]) (lo: int) (hi: int) (redo: int -> double -> unit) =
        for i in lo .. hi - 1 do
            if scalarOnly src.[i] then redo i src.[i]

    /// The tanh form's value and derivative of every element (over the cores for large arrays).
    let withDerivative (src: double[]) =
        let values = Strided.fresh src.Length
        let derivs = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (fun lo hi ->
            use px = fixed src
            use pv = fixed values
            use pd = fixed derivs
            if FusedLanes.lanePass px lo hi (fun i x ->
                let struct (v, d, bad) = both8 x
                Vector512.Store(v, NativePtr.add pv i)
                Vector512.Store(d, NativePtr.add pd i)
                bad) (fun i count x ->
                let struct (v, d, bad) = both x
                FusedLanes.storeLanes v pv i count
                FusedLanes.storeLanes d pd i count
                bad) then
                fixUp src lo hi (fun i x ->
                    let struct (v, d) = Special.geluTanhWithDerivative x
                    values.[i] <- v
                    derivs.[i] <- d))
        struct (values, derivs)

    /// The tanh form's value of every element.
    let value (src: double[]) =
        let values = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (fun lo hi ->
            use px = fixed src
            use pv = fixed values
            if FusedLanes.lanePass px lo hi (fun i x ->
                let struct (v, _, bad) = both8 x
                Vector512.Store(v, NativePtr.add pv i)
                bad) (fun i count x ->
                let struct (v, _, bad) = both x
                FusedLanes.storeLanes v pv i count
                bad) then
                fixUp src lo hi (fun i x -> values.[i] <- Special.geluTanh x))
        values

    /// g·(the tanh form's derivative) elementwise, for same-length arrays: its VJP and JVP.
    let scaled (src: double[]) (g: double[]) =
        let result = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (fun lo hi ->
            use px = fixed src
            use pg = fixed g
            use pr = fixed result
            if FusedLanes.lanePass px lo hi (fun i x ->
                let struct (_, d, bad) = both8 x
                Vector512.Store(Vector512.Load(NativePtr.add pg i) * d, NativePtr.add pr i)
                bad) (fun i count x ->
                let struct (_, d, bad) = both x
                let inline at j = if j < count then NativePtr.get pg (i + j) else 0.0
                let gv = if count = 4 then Vector256.Load(NativePtr.add pg i) else Vector256.Create(at 0, at 1, at 2, at 3)
                FusedLanes.storeLanes (gv * d) pr i count
                bad) then
                fixUp src lo hi (fun i x -> result.[i] <- g.[i] * Special.geluTanhDerivative x))
        result
