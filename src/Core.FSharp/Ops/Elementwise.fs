namespace Functional.Core

open System
open System.Runtime.Intrinsics

/// Elementwise functions. An elementwise op's Jacobian is diagonal, so its VJP and JVP are the same product with
/// the derivative. Every op here is one of two forms (docs/ARCHITECTURE.md, "Add an op"): `unary`, from a scalar
/// function and its derivative; or `Op.elementwise`, from a whole-tensor (vector-lane) kernel and its derivative
/// as one `Op.scaled` op (`FusedOp` builds that pair from one vector formula for value and derivative).
[<RequireQualifiedAccess>]
module Elementwise =

    /// `unary` with the scalar forward inlined into the elementwise loop (the library's own ops use it).
    let inline internal unaryInline (name: string) ([<InlineIfLambda>] f: double -> double) (derivative: Value -> Value -> Value) (x: Value) : Value =
        Op.elementwise name (fun t -> Tensor.mapInline f t) (fun x y g -> Arithmetic.mul g (derivative x y)) x

    /// A whole tensor through `vector`'s lanes where AVX2 and FMA run, else `scalar` element by element.
    let inline private lanesOr ([<InlineIfLambda>] scalar: double -> double) (vector: double[] -> double[]) (t: Tensor) =
        if Cpu.fourLanes then Tensor.wrap t.ShapeArray (vector t.Data) else Tensor.mapInline scalar t

    /// An elementwise op from its scalar forward and its derivative as a differentiable value of the input and the
    /// output (so every order of derivative is available): VJP adj·f'(x), JVP t·f'(x).
    let unary (name: string) (f: double -> double) (derivative: Value -> Value -> Value) (x: Value) : Value =
        unaryInline name f derivative x

    /// `constantOf` with `f` inlined into the loop.
    let inline internal constantOfInline ([<InlineIfLambda>] f: double -> double) (x: Value) = Value.constant (Tensor.mapInline f x.Tensor)

    /// A constant (non-differentiable) elementwise function of x's value: a mask or a slope.
    let constantOf (f: double -> double) (x: Value) = constantOfInline f x

    /// e^x of every element: eight lanes at a time with AVX-512 (within 1 ulp of the correctly rounded value,
    /// tested against a 2,200-bit reference; 10^6 elements 1.9–3.1 ms against 4.3–6.3 ms by Math.Exp here),
    /// Math.Exp elsewhere and for subnormal or infinite results.
    let internal expTensor (t: Tensor) =
        if Cpu.lanes then Tensor.wrap t.ShapeArray (ElementaryVector.exp t.Data) else Tensor.mapInline Math.Exp t

    /// e^x. d/dx = e^x.
    let exp (x: Value) = Op.elementwise "exp" expTensor (fun _ y g -> Arithmetic.mul g y) x


    /// g·σ'(x) from s = σ(x), in one pass: g·(s·(1 − s)), σ's VJP and JVP (the operations of three passes, without
    /// their two temporaries). ∂/∂s = g·(1 − 2s), ∂/∂g = s·(1 − s), so every order follows.
    let private sigmoidScaled (s: Value) (g: Value) : Value =
        Op.scaled "sigmoidScaled"
            (fun s g ->
                let one = Vector256.Create(1.0)
                Lanes.zip (fun s g -> g * (s * (one - s))) (fun s g -> g * (s * (1.0 - s))) s g)
            (fun s g h -> Arithmetic.mul h (Arithmetic.mul g (Arithmetic.rsubScalar 1.0 (Arithmetic.scale 2.0 s))))
            s g

    /// g·tanh'(x) from y = tanh x, in one pass: g·(1 − y·y), tanh's VJP and JVP. ∂/∂y = −2g·y, ∂/∂g = 1 − y².
    let private tanhScaled (y: Value) (g: Value) : Value =
        Op.scaled "tanhScaled"
            (fun y g ->
                let one = Vector256.Create(1.0)
                Lanes.zip (fun y g -> g * (one - y * y)) (fun y g -> g * (1.0 - y * y)) y g)
            (fun y g h -> Arithmetic.mul h (Arithmetic.scale -2.0 (Arithmetic.mul g y)))
            y g

    /// g·(c/v) in one pass (the operations of a quotient and a product): ln's VJP and JVP from x (c = 1)
    /// and √'s from its output (c = 1/2). ∂/∂v = −(g·(c/v))/v, ∂/∂g = c/v.
    let rec private reciprocalScaled (c: double) (v: Value) (g: Value) : Value =
        Op.scaledWith "reciprocalScaled" [ "c", box c ]
            (fun v g ->
                let cv = Vector256.Create(c)
                Lanes.zip (fun v g -> g * (cv / v)) (fun v g -> g * (c / v)) v g)
            (fun v g h -> Arithmetic.mul h (Arithmetic.neg (Arithmetic.div (reciprocalScaled c v g) v)))
            v g

    /// ln x. d/dx = 1/x. With AVX2 and FMA four lanes at a time (within 1 ulp, tested); Math.Log elsewhere. Its
    /// VJP is one pass.
    let log (x: Value) =
        Op.elementwise "log" (fun t -> Tensor.wrap t.ShapeArray (LogVector.log t.Data)) (fun x _ g -> reciprocalScaled 1.0 x g) x

    /// √x. d/dx = 1/(2√x). Its VJP is one pass from the output.
    let sqrt (x: Value) = Op.elementwise "sqrt" Tensor.sqrtElements (fun _ y g -> reciprocalScaled 0.5 y g) x

    /// tanh x. d/dx = 1 − tanh²x. With vector lanes from a series and the vector exponential (within 2 ulp,
    /// tested); Math.Tanh elsewhere. Its VJP is one pass from the output.
    let tanh (x: Value) =
        Op.elementwise "tanh" (lanesOr Math.Tanh SigmoidTanhVector.tanh) (fun _ y g -> tanhScaled y g) x

    /// σ(x) = 1/(1 + e^(−x)), stable for every x. d/dx = σ(x)·(1 − σ(x)). With vector lanes from e^(−|x|) by
    /// the vector exponential (within 3 ulp, tested); Special.sigmoid elsewhere. Its VJP is one pass from the
    /// output.
    let sigmoid (x: Value) =
        Op.elementwise "sigmoid" (lanesOr Special.sigmoid SigmoidTanhVector.sigmoid) (fun _ y g -> sigmoidScaled y g) x

    /// σ(x)·σ(−x) = σ(x)·(1 − σ(x)) as differentiable ops, for second derivatives: σ(−x) keeps the digits that
    /// 1 − σ(x) cancels in the right tail (at x = 40, 4.2e-18 instead of 0).
    let internal sigmoidSlope (x: Value) =
        Arithmetic.mul (sigmoid x) (sigmoid (Arithmetic.neg x))

    /// x³ = (h + l)·x with x² = h + l exactly (FMA), one rounding (within about half an ulp; x·x·x rounds twice);
    /// h·x where x² is not finite.
    let inline private cube4 (x: Vector256<double>) =
        let h = x * x
        let l = Vector256.FusedMultiplyAdd(x, x, -h)
        Vector256.ConditionalSelect(Vector256.Equals(h - h, Vector256<double>.Zero), Vector256.FusedMultiplyAdd(h, x, l * x), h * x)

    let inline private cube (x: double) =
        let h = x * x
        if h - h = 0.0 then Math.FusedMultiplyAdd(h, x, Math.FusedMultiplyAdd(x, x, -h) * x) else h * x

    /// x^0.5 as √x (correctly rounded): + 0 makes √(−0) Math.Pow's +0, and x^0.5 is +∞ at −∞ (√ would give NaN).
    let inline private halfPow4 (v: Vector256<double>) =
        let infinite = Vector256.Create(infinity)
        Vector256.ConditionalSelect(Vector256.Equals(v, -infinite), infinite, Vector256.Sqrt v + Vector256<double>.Zero)

    let inline private halfPow (v: double) = if v = -infinity then infinity else Math.Sqrt v + 0.0

    /// x^−0.5 as 1/√x (two roundings): +∞ at ±0, as Math.Pow, and 0 at −∞.
    let inline private minusHalfPow4 (v: Vector256<double>) =
        let infinite = Vector256.Create(infinity)
        Vector256.ConditionalSelect(Vector256.Equals(v, -infinite), Vector256<double>.Zero, Vector256.Create(1.0) / (Vector256.Sqrt v + Vector256<double>.Zero))

    let inline private minusHalfPow (v: double) = if v = -infinity then 0.0 else 1.0 / (Math.Sqrt v + 0.0)

    /// The exponents `powTensor` takes by exact operations (2 is `Arithmetic.square`).
    let private exact (p: double) = p = 0.0 || p = 1.0 || p = 2.0 || p = 3.0 || p = -1.0

    /// x^p of every element: exact operations for p = 0, 1, 2 and −1 (correctly rounded, with Math.Pow's values at
    /// ±0, ±∞ and NaN) and 3 (one rounding), four lanes at a time where vectors run; other |p| ≤ 1024 by PowVector's
    /// lanes (within 1 ulp, Math.Pow's values wherever its formula does not hold); Math.Pow otherwise.
    let private powTensor (p: double) (t: Tensor) : Tensor =
        if p = 1.0 then t
        elif p = 0.0 then Tensor.full t.ShapeArray 1.0
        elif p = 2.0 then Lanes.map (fun v -> v * v) (fun v -> v * v) t
        elif p = 3.0 && Cpu.fourLanes then Lanes.map cube4 cube t
        elif p = 3.0 then Tensor.mapInline cube t
        elif p = -1.0 then
            let one = Vector256.Create(1.0)
            Lanes.map (fun v -> one / v) (fun v -> 1.0 / v) t
        elif p = 0.5 then Lanes.map halfPow4 halfPow t
        elif p = -0.5 then Lanes.map minusHalfPow4 minusHalfPow t
        elif PowVector.supports p then Tensor.wrap t.ShapeArray (PowVector.pow p t.Data)
        else Tensor.mapInline (fun v -> Math.Pow(v, p)) t

    /// g·p·x^(p−1) in one op: x^p's VJP and JVP. ∂/∂x = p·(g·(p − 1)·x^(p−2)), ∂/∂g = p·x^(p−1) (0 for p = 0 and,
    /// in x, for p = 1, where the slope is constant).
    let rec private powScaled (p: double) (x: Value) (g: Value) : Value =
        if p = 2.0 then Arithmetic.squareScaled x g else
        let inX (x: Value) (g: Value) (h: Value) =
            if p = 0.0 || p = 1.0 then Value.constant (Tensor.zeros x.Shape)
            else Arithmetic.mul h (Arithmetic.scale p (powScaled (p - 1.0) x g))
        Op.scaledWith "powScaled" [ "p", box p ]
            (fun x g ->
                if p = 0.0 then Tensor.zeros x.ShapeArray
                elif exact (p - 1.0) then Tensor.mul g (Tensor.scale p (powTensor (p - 1.0) x))
                elif p = 1.5 || p = 0.5 then
                    // One pass: g·(p·x^(p−1)) with x^(p−1) as powTensor takes it, √x or 1/√x.
                    let pv = Vector256.Create(p)
                    if p = 1.5 then Lanes.zip (fun x g -> g * (pv * halfPow4 x)) (fun x g -> g * (p * halfPow x)) x g
                    else Lanes.zip (fun x g -> g * (pv * minusHalfPow4 x)) (fun x g -> g * (p * minusHalfPow x)) x g
                else
                    // One pass: g·(p·x^(p−1)), the same operations as the product of the parts.
                    let q = p - 1.0
                    if PowVector.supports q && Shape.same x.ShapeArray g.ShapeArray then
                        let data, fill = if g.IsUniform then Array.Empty<double>(), g.Fill else g.Data, 0.0
                        Tensor.wrap x.ShapeArray (PowVector.scaled p q x.Data data fill)
                    elif g.IsUniform then
                        let c = g.Fill
                        Tensor.mapInline (fun x -> c * (p * Math.Pow(x, q))) x
                    else Tensor.map2Inline (fun x g -> g * (p * Math.Pow(x, q))) x g)
            inX x g

    /// x^p for a constant p. d/dx = p·x^(p−1). p = 0, 1, 2, 3 and −1 by exact operations (correctly rounded but
    /// for 3, within about half an ulp there), four lanes at a time; 1/2 as √x (correctly rounded) and −1/2 as 1/√x,
    /// with Math.Pow's values at −0 and −∞; other |p| ≤ 1024 on vector lanes as
    /// ±e^(p·ln |x|) with ln |x| in two parts (within 1 ulp; a negative x takes an integer p's parity and is NaN for
    /// any other p; Math.Pow's values at 0, ∞, NaN and subnormals); the rest through Math.Pow per element. The VJP
    /// is one op, one pass but for p = 3 and 4.
    let pow (p: double) (x: Value) : Value =
        if p = 2.0 then Arithmetic.square x else
        Op.elementwiseWith "pow" [ "p", box p ] (powTensor p) (fun x _ g -> powScaled p x g) x

    /// x². d/dx = 2x. x·x, and the VJP g·(2x) in one pass (`Arithmetic.square`, which `mul x x` and `pow 2` are).
    let square (x: Value) = Arithmetic.square x

    // ---- the elementary functions: each value on vector lanes where AVX2 and FMA run (.NET's Math or Special
    // elsewhere), each derivative an op of x or of the output y, so every order follows ----

    /// 1/x. d/dx = −1/x² = −y².
    let reciprocal (x: Value) =
        unaryInline "reciprocal" (fun v -> 1.0 / v) (fun _ y -> Arithmetic.neg (Arithmetic.square y)) x

    /// g·(1 + y·y) in one pass from y = tan x: tan's VJP and JVP (the operations of three passes).
    /// ∂/∂y = 2g·y, ∂/∂g = 1 + y².
    let private tanScaled (y: Value) (g: Value) : Value =
        Op.scaled "tanScaled"
            (fun y g ->
                let one = Vector256.Create(1.0)
                Lanes.zip (fun y g -> g * (one + y * y)) (fun y g -> g * (1.0 + y * y)) y g)
            (fun y g h -> Arithmetic.mul h (Arithmetic.scale 2.0 (Arithmetic.mul g y)))
            y g

    /// g·(y + 1) in one pass from y = eˣ − 1: its VJP and JVP (the operations of two passes). ∂/∂y = g,
    /// ∂/∂g = y + 1.
    let private expm1Scaled (y: Value) (g: Value) : Value =
        Op.scaled "expm1Scaled"
            (fun y g ->
                let one = Vector256.Create(1.0)
                Lanes.zip (fun y g -> g * (y + one)) (fun y g -> g * (y + 1.0)) y g)
            (fun _ g h -> Arithmetic.mul h g)
            y g

    /// g·(1/(1 + x)) in one pass: ln(1 + x)'s VJP and JVP (the operations of three passes).
    /// ∂/∂x = −g/(1 + x)², ∂/∂g = 1/(1 + x).
    let private log1pScaled (x: Value) (g: Value) : Value =
        Op.scaled "log1pScaled"
            (fun x g ->
                let one = Vector256.Create(1.0)
                Lanes.zip (fun x g -> g * (one / (x + one))) (fun x g -> g * (1.0 / (x + 1.0))) x g)
            (fun x g h -> Arithmetic.mul h (Arithmetic.neg (Arithmetic.mul g (Arithmetic.square (reciprocal (Arithmetic.addScalar 1.0 x))))))
            x g

    /// g·f'(x) from x in one pass: `vector x g fill` on lanes where AVX2 and FMA run (g empty when it is uniform,
    /// `fill` then), else `scalar x g` element by element.
    let inline private scaledLanes (vector: double[] -> double[] -> double -> double[]) ([<InlineIfLambda>] scalar: double -> double -> double) (x: Tensor) (g: Tensor) =
        if Cpu.fourLanes && Shape.same x.ShapeArray g.ShapeArray then
            let data, fill = if g.IsUniform then Array.Empty<double>(), g.Fill else g.Data, 0.0
            Tensor.wrap x.ShapeArray (vector x.Data data fill)
        else Tensor.map2Inline scalar x g

    /// sin x. d/dx = cos x. With AVX2 and FMA on vector lanes (within 1 ulp, tested); Math.Sin elsewhere and
    /// beyond |x| = 2¹⁷. The VJP is one pass (g·cos x).
    let rec sin (x: Value) = Op.elementwise "sin" (lanesOr Math.Sin TrigVector.sin) (fun x _ g -> sinScaled x g) x

    /// cos x. d/dx = −sin x. With AVX2 and FMA on vector lanes (within 1 ulp, tested); Math.Cos elsewhere and
    /// beyond |x| = 2¹⁷. The VJP is one pass (g·(−sin x)).
    and cos (x: Value) = Op.elementwise "cos" (lanesOr Math.Cos TrigVector.cos) (fun x _ g -> cosScaled x g) x

    /// g·cos x in one pass: sin's VJP and JVP (the values of two passes). ∂/∂x = −g·sin x, ∂/∂g = cos x.
    and private sinScaled (x: Value) (g: Value) : Value =
        Op.scaled "sinScaled"
            (scaledLanes TrigVector.cosTimes (fun x g -> g * Math.Cos x))
            (fun x g h -> Arithmetic.mul h (Arithmetic.neg (Arithmetic.mul g (sin x))))
            x g

    /// g·(−sin x) in one pass: cos's VJP and JVP (the values of two passes). ∂/∂x = −g·cos x,
    /// ∂/∂g = −sin x.
    and private cosScaled (x: Value) (g: Value) : Value =
        Op.scaled "cosScaled"
            (scaledLanes TrigVector.minusSinTimes (fun x g -> g * -(Math.Sin x)))
            (fun x g h -> Arithmetic.mul h (Arithmetic.neg (Arithmetic.mul g (cos x))))
            x g

    /// tan x. d/dx = 1 + tan²x. With AVX2 and FMA on vector lanes (sin r/cos r, within 1 ulp, tested); Math.Tan
    /// elsewhere and beyond |x| = 2¹⁷.
    let tan (x: Value) =
        Op.elementwise "tan" (lanesOr Math.Tan TrigVector.tan) (fun _ y g -> tanScaled y g) x

    /// A `FusedOp` whose lanes compute f' again in the pullback (no f' kept from the forward pass): erf, erfc,
    /// atan, asin, acos.
    let private recomputed name (value: double[] -> double[]) (scalar: double -> double) (kernel: double[] -> double[] -> double[])
                           (derivative: double -> double) (second: Value -> Value) : FusedOp.Fused =
        { Name = name; ScaledName = name + "Scaled"; Attributes = []; Vector = Cpu.fourLanes; WithDerivative = ValueNone
          Value = value; Scalar = Tensor.mapInline scalar; Kernel = kernel; Derivative = derivative; Second = second }

    /// asin'' (k = 1) or acos'' (k = −1): k·x·(1 − x²)^(−3/2), as ops.
    let private arcSineSecond (k: double) (x: Value) =
        Arithmetic.scale k (Arithmetic.mul x (pow -1.5 (Arithmetic.rsubScalar 1.0 (Arithmetic.square x))))

    let private asinParts =
        recomputed "asin" ArcVector.asin Math.Asin ArcVector.asinScaled ArcVector.arcSineSlopeScalar (arcSineSecond 1.0)

    let private acosParts =
        recomputed "acos" ArcVector.acos Math.Acos ArcVector.acosScaled (fun v -> -(ArcVector.arcSineSlopeScalar v)) (arcSineSecond -1.0)

    let private atanParts =
        recomputed "atan" ArcVector.atan Math.Atan ArcVector.atanScaled ArcVector.atanSlopeScalar
            // −2x/(1 + x²)² as −2·(x·r)·r with r = 1/(1 + x²): x·r ≈ 1/x first, so nothing underflows before the value
            // does (about 7e107, where 2/x³ leaves the subnormals). Its argument is clamped to ±1e300, where x² has
            // overflowed and r is 0: at ±∞ it would be ∞·0.
            (fun x ->
                let x = Slopes.flatBeyond 1e300 x
                let r = reciprocal (Arithmetic.addScalar 1.0 (Arithmetic.square x))
                Arithmetic.mul (Arithmetic.scale -2.0 (Arithmetic.mul x r)) r)

    /// asin x on [−1, 1]. d/dx = 1/√(1 − x²) (∞ at ±1; NaN outside). With AVX2 and FMA on vector lanes, value and
    /// pullback each one pass (within 1 ulp, tested); Math.Asin elsewhere and outside [−1, 1].
    let asin (x: Value) = FusedOp.elementwise asinParts x

    /// acos x on [−1, 1]. d/dx = −1/√(1 − x²). With AVX2 and FMA on vector lanes, value and pullback each one pass
    /// (within 1 ulp, tested); Math.Acos elsewhere and outside [−1, 1].
    let acos (x: Value) = FusedOp.elementwise acosParts x

    /// atan x. d/dx = 1/(1 + x²). With AVX2 and FMA on vector lanes, value and pullback each one pass (within 1 ulp,
    /// tested); Math.Atan elsewhere and beyond |x| = 2⁵⁰⁰.
    let atan (x: Value) = FusedOp.elementwise atanParts x

    /// sinh x. d/dx = cosh x. With AVX2 and FMA on vector lanes from eˣ − 1 (within 2 ulp, tested); Math.Sinh
    /// elsewhere and beyond |x| = 709. The VJP is one pass (g·cosh x).
    let rec sinh (x: Value) = Op.elementwise "sinh" (lanesOr Math.Sinh Expm1Vector.sinh) (fun x _ g -> sinhScaled x g) x

    /// cosh x. d/dx = sinh x. With AVX2 and FMA on vector lanes from eˣ − 1 (within 2 ulp, tested); Math.Cosh
    /// elsewhere and beyond |x| = 709. The VJP is one pass (g·sinh x).
    and cosh (x: Value) = Op.elementwise "cosh" (lanesOr Math.Cosh Expm1Vector.cosh) (fun x _ g -> coshScaled x g) x

    /// g·cosh x in one pass: sinh's VJP and JVP (the values of two passes). ∂/∂x = g·sinh x, ∂/∂g = cosh x.
    and private sinhScaled (x: Value) (g: Value) : Value =
        Op.scaled "sinhScaled"
            (scaledLanes Expm1Vector.coshTimes (fun x g -> g * Math.Cosh x))
            (fun x g h -> Arithmetic.mul h (Arithmetic.mul g (sinh x)))
            x g

    /// g·sinh x in one pass: cosh's VJP and JVP (the values of two passes). ∂/∂x = g·cosh x, ∂/∂g = sinh x.
    and private coshScaled (x: Value) (g: Value) : Value =
        Op.scaled "coshScaled"
            (scaledLanes Expm1Vector.sinhTimes (fun x g -> g * Math.Sinh x))
            (fun x g h -> Arithmetic.mul h (Arithmetic.mul g (cosh x)))
            x g

    /// ln(1 + v): near 0 a series; elsewhere ln(u)·v/(u − 1) with u = 1 + v rounded, which cancels u's rounding.
    let internal log1pScalar (v: double) =
        if abs v < 1e-4 then v * (1.0 - v * (0.5 - v * (1.0 / 3.0 - v * 0.25)))
        elif v = infinity then v
        else Math.Log(1.0 + v) * (v / ((1.0 + v) - 1.0))

    /// eᵛ − 1: near 0 a series; elsewhere (u − 1)·v/ln(u) with u = eᵛ rounded (Kahan), which cancels u's rounding.
    let internal expm1Scalar (v: double) =
        if abs v < 1e-5 then v * (1.0 + v * (0.5 + v * (1.0 / 6.0)))
        else
            let u = Math.Exp v
            if u = 1.0 then v elif u - 1.0 = -1.0 then -1.0 elif u = infinity then u
            // Above e⁷⁰³ the product (u − 1)·v would overflow before the division brings it back.
            elif u > 1e300 then (u - 1.0) * (v / Math.Log u)
            else (u - 1.0) * v / Math.Log u

    /// ln(1 + x), accurate for tiny x. d/dx = 1/(1 + x). With AVX2 and FMA on vector lanes (within 1 ulp, tested);
    /// `log1pScalar` elsewhere.
    let log1p (x: Value) = Op.elementwise "log1p" (lanesOr log1pScalar Log1pVector.log1p) (fun x _ g -> log1pScaled x g) x

    /// eˣ − 1, accurate for tiny x. d/dx = eˣ = y + 1. With AVX2 and FMA on vector lanes (within 1 ulp, tested);
    /// `expm1Scalar` elsewhere.
    let expm1 (x: Value) = Op.elementwise "expm1" (lanesOr expm1Scalar Expm1Vector.expm1) (fun _ y g -> expm1Scaled y g) x

    /// 2/√π, erf's slope at 0.
    let private twoOverSqrtPi = 1.1283791670955125738961589031215

    /// The second derivative of erf (k = 1) or erfc (k = −1): −2x·k·(2/√π)·e^(−x²), as ops, its argument clamped to
    /// ±30 (the value is 0 beyond 27.3): at ±∞ it would be ∞·0.
    let private erfSecond (k: double) (x: Value) =
        let x = Slopes.flatBeyond 30.0 x
        Arithmetic.mul (Arithmetic.scale (-2.0 * k * twoOverSqrtPi) x) (exp (Arithmetic.neg (Arithmetic.square x)))

    let private erfParts = recomputed "erf" ErfVector.erf Special.erf ErfVector.erfScaled ErfVector.slopeScalar (erfSecond 1.0)

    let private erfcParts =
        recomputed "erfc" ErfVector.erfc Special.erfc ErfVector.erfcScaled (fun v -> -(ErfVector.slopeScalar v)) (erfSecond -1.0)

    /// erf x. d/dx = (2/√π)·e^(−x²). With AVX2 and FMA on vector lanes, value and pullback each one pass (within
    /// 1 ulp, tested); Special.erf elsewhere.
    let erf (x: Value) = FusedOp.elementwise erfParts x

    /// erfc x = 1 − erf x, accurate in the right tail. d/dx = −(2/√π)·e^(−x²). With AVX2 and FMA on vector lanes,
    /// value and pullback each one pass (within 2 ulp, tested); Special.erfc elsewhere.
    let erfc (x: Value) = FusedOp.elementwise erfcParts x

    /// sign x: −1, 0 or 1 (NaN at NaN), a constant: its derivative is 0 everywhere (and no gradient flows).
    let sign (x: Value) =
        Op.constantResult "sign" [] (fun ts -> Tensor.mapInline (fun v -> if v > 0.0 then 1.0 elif v < 0.0 then -1.0 elif Double.IsNaN v then v else 0.0) ts.[0]) [| x |]

    /// 1 where `test a b` holds, else 0 (broadcast), a constant recorded as op `name`.
    let private mask (name: string) (test: double -> double -> bool) (a: Value) (b: Value) =
        Op.constantResult name [] (fun ts -> Tensor.map2 (fun x y -> if test x y then 1.0 else 0.0) ts.[0] ts.[1]) [| a; b |]

    /// 1 where a > b, else 0 (broadcast; 0 where either is NaN): a constant mask, for `Indexing.where`.
    let greater (a: Value) (b: Value) = mask "gt" (fun x y -> x > y) a b

    /// 1 where a ≥ b, else 0 (broadcast; 0 where either is NaN): a constant mask.
    let greaterOrEqual (a: Value) (b: Value) = mask "ge" (fun x y -> x >= y) a b

    /// 1 where a < b, else 0 (broadcast; 0 where either is NaN): a constant mask.
    let less (a: Value) (b: Value) = mask "lt" (fun x y -> x < y) a b

    /// 1 where a ≤ b, else 0 (broadcast; 0 where either is NaN): a constant mask.
    let lessOrEqual (a: Value) (b: Value) = mask "le" (fun x y -> x <= y) a b

    /// 1 where a = b, else 0 (broadcast; 0 where either is NaN, 1 for −0 against +0): a constant mask.
    let equal (a: Value) (b: Value) = mask "eq" (fun x y -> x = y) a b

