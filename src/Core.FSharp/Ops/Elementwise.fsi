namespace Functional.Core

/// <summary>
/// Elementwise functions. An elementwise op's Jacobian is diagonal, so its VJP and JVP are the same product with
/// the derivative. Every op here is one of two forms (docs/ARCHITECTURE.md, "Add an op"): `unary`, from a scalar
/// function and its derivative; or `Op.elementwise`, from a whole-tensor (vector-lane) kernel and its derivative
/// as one `Op.scaled` op.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let x = Value.constant (Tensor.random 1 [| 5 |])
/// let y = Elementwise.tanh (Elementwise.exp x)
/// /// softplus(x) = ln(1 + eˣ); d/dx = σ(x): an op from its scalar function and its derivative
/// let softplus (x: Value) = Elementwise.unary "softplus" (fun v -&gt; log (1.0 + exp v)) (fun x _ -&gt; Elementwise.sigmoid x) x
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Elementwise =

    /// `unary` with the scalar forward inlined into the elementwise loop (the library's own ops use it).
    val inline internal unaryInline:
      name: string ->
        [<InlineIfLambda>] f: (double -> double) ->
        derivative: (Value -> Value -> Value) -> x: Value -> Value

    /// An elementwise op from its scalar forward and its derivative as a differentiable value of the input and the
    /// output (so every order of derivative is available): VJP adj·f'(x), JVP t·f'(x).
    val unary:
      name: string ->
        f: (double -> double) ->
        derivative: (Value -> Value -> Value) -> x: Value -> Value

    /// `constantOf` with `f` inlined into the loop.
    val inline internal constantOfInline:
      [<InlineIfLambda>] f: (double -> double) -> x: Value -> Value

    /// A constant (non-differentiable) elementwise function of x's value: a mask or a slope.
    val constantOf: f: (double -> double) -> x: Value -> Value

    /// e^x of every element: eight lanes at a time with AVX-512 (within 1 ulp of the correctly rounded value,
    /// tested against a 2,200-bit reference; 10^6 elements 1.9–3.1 ms against 4.3–6.3 ms by Math.Exp here),
    /// Math.Exp elsewhere and for subnormal or infinite results.
    val internal expTensor: t: Tensor -> Tensor

    /// e^x. d/dx = e^x.
    val exp: x: Value -> Value

    /// ln x. d/dx = 1/x. With AVX2 and FMA four lanes at a time (within 1 ulp, tested); Math.Log elsewhere. Its
    /// VJP is one pass.
    val log: x: Value -> Value

    /// √x. d/dx = 1/(2√x). Its VJP is one pass from the output.
    val sqrt: x: Value -> Value

    /// tanh x. d/dx = 1 − tanh²x. With vector lanes from a series and the vector exponential (within 2 ulp,
    /// tested); Math.Tanh elsewhere. Its VJP is one pass from the output.
    val tanh: x: Value -> Value

    /// σ(x) = 1/(1 + e^(−x)), stable for every x. d/dx = σ(x)·(1 − σ(x)). With vector lanes from e^(−|x|) by
    /// the vector exponential (within 3 ulp, tested); Special.sigmoid elsewhere. Its VJP is one pass from the
    /// output.
    val sigmoid: x: Value -> Value

    /// σ(x)·σ(−x) = σ(x)·(1 − σ(x)) as differentiable ops, for second derivatives: accurate in both tails.
    val internal sigmoidSlope: x: Value -> Value

    /// x^p for a constant p. d/dx = p·x^(p−1). p = 0, 1, 2, 3 and −1 by exact operations (correctly rounded but
    /// for 3, within about half an ulp there), four lanes at a time; 1/2 as √x (correctly rounded) and −1/2 as 1/√x,
    /// with Math.Pow's values at −0 and −∞; other |p| ≤ 1024 on vector lanes as
    /// ±e^(p·ln |x|) with ln |x| in two parts (within 1 ulp; a negative x takes an integer p's parity and is NaN for
    /// any other p; Math.Pow's values at 0, ∞, NaN and subnormals); the rest through Math.Pow per element. The VJP
    /// is one op, one pass but for p = 3 and 4.
    val pow: p: double -> x: Value -> Value

    /// x². d/dx = 2x. x·x, and the VJP g·(2x) in one pass (`Arithmetic.square`, which `mul x x` and `pow 2` are).
    val square: x: Value -> Value

    /// 1/x. d/dx = −1/x² = −y².
    val reciprocal: x: Value -> Value

    /// sin x. d/dx = cos x. With AVX2 and FMA on vector lanes (within 1 ulp of the correctly rounded value);
    /// Math.Sin elsewhere and beyond |x| = 2¹⁷.
    val sin: x: Value -> Value

    /// cos x. d/dx = −sin x. With AVX2 and FMA on vector lanes (within 1 ulp of the correctly rounded value);
    /// Math.Cos elsewhere and beyond |x| = 2¹⁷.
    val cos: x: Value -> Value

    /// tan x. d/dx = 1 + tan²x. With AVX2 and FMA on vector lanes (within 1 ulp of the correctly rounded value);
    /// Math.Tan elsewhere and beyond |x| = 2¹⁷.
    val tan: x: Value -> Value

    /// asin x on [−1, 1]. d/dx = 1/√(1 − x²) (∞ at ±1; NaN outside). With AVX2 and FMA on vector lanes, value and
    /// pullback each one pass (within 1 ulp, tested); Math.Asin elsewhere and outside [−1, 1].
    val asin: x: Value -> Value

    /// acos x on [−1, 1]. d/dx = −1/√(1 − x²). With AVX2 and FMA on vector lanes, value and pullback each one pass
    /// (within 1 ulp, tested); Math.Acos elsewhere and outside [−1, 1].
    val acos: x: Value -> Value

    /// atan x. d/dx = 1/(1 + x²). With AVX2 and FMA on vector lanes, value and pullback each one pass (within 1 ulp,
    /// tested); Math.Atan elsewhere and beyond |x| = 2⁵⁰⁰.
    val atan: x: Value -> Value

    /// sinh x. d/dx = cosh x. With AVX2 and FMA on vector lanes from eˣ − 1 (within 2 ulp of the correctly
    /// rounded value); Math.Sinh elsewhere and beyond |x| = 709.
    val sinh: x: Value -> Value

    /// cosh x. d/dx = sinh x. With AVX2 and FMA on vector lanes from eˣ − 1 (within 2 ulp of the correctly
    /// rounded value); Math.Cosh elsewhere and beyond |x| = 709.
    val cosh: x: Value -> Value

    /// ln(1 + v) of one double, accurate for tiny v.
    val internal log1pScalar: v: double -> double

    /// eᵛ − 1 of one double, accurate for tiny v.
    val internal expm1Scalar: v: double -> double

    /// ln(1 + x), accurate for tiny x. d/dx = 1/(1 + x). With AVX2 and FMA on vector lanes (within 1 ulp of the
    /// correctly rounded value); `log1pScalar` elsewhere.
    val log1p: x: Value -> Value

    /// eˣ − 1, accurate for tiny x. d/dx = eˣ. With AVX2 and FMA on vector lanes (within 1 ulp of the correctly
    /// rounded value); `expm1Scalar` elsewhere.
    val expm1: x: Value -> Value

    /// erf x. d/dx = (2/√π)·e^(−x²). With AVX2 and FMA on vector lanes, value and pullback each one pass (within
    /// 1 ulp, tested); Special.erf elsewhere.
    val erf: x: Value -> Value

    /// erfc x = 1 − erf x, accurate in the right tail. d/dx = −(2/√π)·e^(−x²). With AVX2 and FMA on vector lanes,
    /// value and pullback each one pass (within 2 ulp, tested); Special.erfc elsewhere.
    val erfc: x: Value -> Value

    /// sign x: −1, 0 or 1 (NaN at NaN), a constant: its derivative is 0 everywhere (and no gradient flows). A traced
    /// program records it as an operation on x (`sign`), not as the values it had.
    val sign: x: Value -> Value

    /// 1 where a > b, else 0, broadcast (0 where either is NaN): a constant mask (no gradient flows), for
    /// `Indexing.where`. A traced program records it as an operation on a and b (`gt`), not as the values it had.
    val greater: a: Value -> b: Value -> Value

    /// 1 where a ≥ b, else 0, broadcast (0 where either is NaN): a constant mask, recorded as `ge`.
    val greaterOrEqual: a: Value -> b: Value -> Value

    /// 1 where a < b, else 0, broadcast (0 where either is NaN): a constant mask, recorded as `lt`.
    val less: a: Value -> b: Value -> Value

    /// 1 where a ≤ b, else 0, broadcast (0 where either is NaN): a constant mask, recorded as `le`.
    val lessOrEqual: a: Value -> b: Value -> Value

    /// 1 where a = b, else 0, broadcast (0 where either is NaN, 1 for −0 against +0): a constant mask, recorded as `eq`.
    val equal: a: Value -> b: Value -> Value
