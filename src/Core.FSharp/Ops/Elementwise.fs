namespace Functional.Core

open System
open System.Runtime.Intrinsics

/// Elementwise functions. An elementwise op's Jacobian is diagonal, so its VJP and JVP are the
/// same product with the derivative; `unary` keeps the three parts together.
[<RequireQualifiedAccess>]
module Elementwise =

    /// `unary` with the scalar forward inlined into the elementwise loop (the library's own ops use it).
    let inline internal unaryInline (name: string) ([<InlineIfLambda>] f: double -> double) (derivative: Value -> Value -> Value) (x: Value) : Value =
        Op.apply
            (Op.create name
                (fun xs -> Tensor.mapInline f xs.[0])
                (fun xs out adj _ -> Arithmetic.mul adj (derivative xs.[0] out))
                (fun xs out _ t -> Arithmetic.mul t (derivative xs.[0] out)))
            [| x |]

    /// `unary` with the forward as a whole-tensor kernel (a vector path).
    let internal unaryTensor (name: string) (forward: Tensor -> Tensor) (derivative: Value -> Value -> Value) (x: Value) : Value =
        Op.apply
            (Op.create name
                (fun xs -> forward xs.[0])
                (fun xs out adj _ -> Arithmetic.mul adj (derivative xs.[0] out))
                (fun xs out _ t -> Arithmetic.mul t (derivative xs.[0] out)))
            [| x |]

    /// An elementwise op from its scalar forward and its derivative as a differentiable value
    /// (of the input and the output), which makes every order of derivative available.
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
    let exp (x: Value) =
        Op.apply
            (Op.create "exp"
                (fun xs -> expTensor xs.[0])
                (fun _ out adj _ -> Arithmetic.mul adj out)
                (fun _ out _ t -> Arithmetic.mul t out))
            [| x |]


    /// g·σ'(x) from s = σ(x), in one pass: g·(s·(1 − s)), σ's VJP and JVP (three passes and two temporaries
    /// before, the same operations). ∂/∂s = g·(1 − 2s), ∂/∂g = s·(1 − s), so every order follows.
    let rec private sigmoidScaled (s: Value) (g: Value) : Value =
        let second (s: Value) (g: Value) (h: Value) = Arithmetic.mul h (Arithmetic.mul g (Arithmetic.rsubScalar 1.0 (Arithmetic.scale 2.0 s)))
        Op.apply
            (Op.create "sigmoidScaled"
                (fun xs ->
                    let one = Vector256.Create(1.0)
                    Lanes.zip (fun s g -> g * (s * (one - s))) (fun s g -> g * (s * (1.0 - s))) xs.[0] xs.[1])
                (fun xs _ adj i -> if i = 0 then second xs.[0] xs.[1] adj else sigmoidScaled xs.[0] adj)
                (fun xs _ i t -> if i = 0 then second xs.[0] xs.[1] t else sigmoidScaled xs.[0] t))
            [| s; g |]

    /// g·tanh'(x) from y = tanh x, in one pass: g·(1 − y·y), tanh's VJP and JVP. ∂/∂y = −2g·y, ∂/∂g = 1 − y².
    let rec private tanhScaled (y: Value) (g: Value) : Value =
        let second (y: Value) (g: Value) (h: Value) = Arithmetic.mul h (Arithmetic.scale -2.0 (Arithmetic.mul g y))
        Op.apply
            (Op.create "tanhScaled"
                (fun xs ->
                    let one = Vector256.Create(1.0)
                    Lanes.zip (fun y g -> g * (one - y * y)) (fun y g -> g * (1.0 - y * y)) xs.[0] xs.[1])
                (fun xs _ adj i -> if i = 0 then second xs.[0] xs.[1] adj else tanhScaled xs.[0] adj)
                (fun xs _ i t -> if i = 0 then second xs.[0] xs.[1] t else tanhScaled xs.[0] t))
            [| y; g |]

    /// g·(c/v) in one pass (a quotient and a product before, the same operations): ln's VJP and JVP from x (c = 1)
    /// and √'s from its output (c = 1/2). ∂/∂v = −(g·(c/v))/v, ∂/∂g = c/v.
    let rec private reciprocalScaled (c: double) (v: Value) (g: Value) : Value =
        let second (v: Value) (g: Value) (h: Value) = Arithmetic.mul h (Arithmetic.neg (Arithmetic.div (reciprocalScaled c v g) v))
        Op.apply
            (Op.create "reciprocalScaled"
                (fun xs ->
                    let cv = Vector256.Create(c)
                    Lanes.zip (fun v g -> g * (cv / v)) (fun v g -> g * (c / v)) xs.[0] xs.[1])
                (fun xs _ adj i -> if i = 0 then second xs.[0] xs.[1] adj else reciprocalScaled c xs.[0] adj)
                (fun xs _ i t -> if i = 0 then second xs.[0] xs.[1] t else reciprocalScaled c xs.[0] t))
            [| v; g |]

    /// ln x. d/dx = 1/x. With AVX2 and FMA four lanes at a time (within 1 ulp, tested); Math.Log elsewhere. Its
    /// VJP is one pass.
    let log (x: Value) =
        Op.apply
            (Op.create "log"
                (fun xs -> Tensor.wrap xs.[0].ShapeArray (ElementaryVector.log xs.[0].Data))
                (fun xs _ adj _ -> reciprocalScaled 1.0 xs.[0] adj)
                (fun xs _ _ t -> reciprocalScaled 1.0 xs.[0] t))
            [| x |]

    /// An elementwise op whose VJP and JVP are `scaled out g` (g·f'(x) from the output, one op).
    let private unaryFromOutput (name: string) (forward: Tensor -> Tensor) (scaled: Value -> Value -> Value) (x: Value) =
        Op.apply
            (Op.create name
                (fun xs -> forward xs.[0])
                (fun _ out adj _ -> scaled out adj)
                (fun _ out _ t -> scaled out t))
            [| x |]

    /// √x. d/dx = 1/(2√x). Its VJP is one pass from the output.
    let sqrt (x: Value) = unaryFromOutput "sqrt" Tensor.sqrtElements (reciprocalScaled 0.5) x

    /// tanh x. d/dx = 1 − tanh²x. With vector lanes from a series and the vector exponential (within 2 ulp,
    /// tested); Math.Tanh elsewhere. Its VJP is one pass from the output.
    let tanh (x: Value) =
        let forward (t: Tensor) = if Cpu.fourLanes then Tensor.wrap t.ShapeArray (ElementaryVector.tanh t.Data) else Tensor.mapInline Math.Tanh t
        unaryFromOutput "tanh" forward tanhScaled x

    /// σ(x) = 1/(1 + e^(−x)), stable for every x. d/dx = σ(x)·(1 − σ(x)). With vector lanes from e^(−|x|) by
    /// the vector exponential (within 3 ulp, tested); Special.sigmoid elsewhere. Its VJP is one pass from the
    /// output.
    let sigmoid (x: Value) =
        let forward (t: Tensor) = if Cpu.fourLanes then Tensor.wrap t.ShapeArray (ElementaryVector.sigmoid t.Data) else Tensor.mapInline Special.sigmoid t
        unaryFromOutput "sigmoid" forward sigmoidScaled x

    /// x³ = (h + l)·x with x² = h + l exactly (FMA), one rounding (within about half an ulp; x·x·x rounds twice);
    /// h·x where x² is not finite.
    let inline private cube4 (x: Vector256<double>) =
        let h = x * x
        let l = Vector256.FusedMultiplyAdd(x, x, -h)
        Vector256.ConditionalSelect(Vector256.Equals(h - h, Vector256<double>.Zero), Vector256.FusedMultiplyAdd(h, x, l * x), h * x)

    let inline private cube (x: double) =
        let h = x * x
        if h - h = 0.0 then Math.FusedMultiplyAdd(h, x, Math.FusedMultiplyAdd(x, x, -h) * x) else h * x

    /// The exponents `powTensor` takes by exact operations (2 is `Arithmetic.square`).
    let private exact (p: double) = p = 0.0 || p = 1.0 || p = 2.0 || p = 3.0 || p = -1.0

    /// x^p of every element: exact operations for p = 0, 1, 2 and −1 (correctly rounded, with Math.Pow's values at
    /// ±0, ±∞ and NaN) and 3 (one rounding), four lanes at a time where vectors run; other |p| ≤ 8 by PowVector's
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
        elif PowVector.supports p then Tensor.wrap t.ShapeArray (PowVector.pow p t.Data)
        else Tensor.mapInline (fun v -> Math.Pow(v, p)) t

    /// g·p·x^(p−1) in one op: x^p's VJP and JVP. ∂/∂x = p·(g·(p − 1)·x^(p−2)), ∂/∂g = p·x^(p−1) (0 for p = 0 and,
    /// in x, for p = 1, where the slope is constant).
    let rec private powScaled (p: double) (x: Value) (g: Value) : Value =
        if p = 2.0 then Arithmetic.squareScaled x g else
        let inX (x: Value) (g: Value) (h: Value) =
            if p = 0.0 || p = 1.0 then Value.constant (Tensor.zeros x.Shape)
            else Arithmetic.mul h (Arithmetic.scale p (powScaled (p - 1.0) x g))
        Op.apply
            (Op.create "powScaled"
                (fun xs ->
                    if p = 0.0 then Tensor.zeros xs.[0].ShapeArray
                    elif exact (p - 1.0) then Tensor.mul xs.[1] (Tensor.scale p (powTensor (p - 1.0) xs.[0]))
                    else
                        // One pass: g·(p·x^(p−1)), the same operations as the product of the parts.
                        let q = p - 1.0
                        let g = xs.[1]
                        if PowVector.supports q && Shape.same xs.[0].ShapeArray g.ShapeArray then
                            let data, fill = if g.IsUniform then Array.Empty<double>(), g.Fill else g.Data, 0.0
                            Tensor.wrap xs.[0].ShapeArray (PowVector.scaled p q xs.[0].Data data fill)
                        elif g.IsUniform then
                            let c = g.Fill
                            Tensor.mapInline (fun x -> c * (p * Math.Pow(x, q))) xs.[0]
                        else Tensor.map2Inline (fun x g -> g * (p * Math.Pow(x, q))) xs.[0] g)
                (fun xs _ adj i -> if i = 0 then inX xs.[0] xs.[1] adj else powScaled p xs.[0] adj)
                (fun xs _ i t -> if i = 0 then inX xs.[0] xs.[1] t else powScaled p xs.[0] t))
            [| x; g |]

    /// x^p for a constant p. d/dx = p·x^(p−1). p = 0, 1, 2, 3 and −1 by exact operations (correctly rounded but
    /// for 3, within about half an ulp there), four lanes at a time; other |p| ≤ 8 on vector lanes as e^(p·ln x)
    /// with ln x in two parts (within 1 ulp; Math.Pow's values at 0, negatives, ∞, NaN and subnormals); the rest
    /// through Math.Pow per element. The VJP is one op, one pass but for p = 3 and 4.
    let pow (p: double) (x: Value) : Value =
        if p = 2.0 then Arithmetic.square x else
        Op.apply
            (Op.create "pow"
                (fun xs -> powTensor p xs.[0])
                (fun xs _ adj _ -> powScaled p xs.[0] adj)
                (fun xs _ _ t -> powScaled p xs.[0] t))
            [| x |]

    /// x². d/dx = 2x. x·x, and the VJP g·(2x) in one pass (`Arithmetic.square`, which `mul x x` and `pow 2` are).
    let square (x: Value) = Arithmetic.square x
