namespace Functional.Core

open System.Runtime.Intrinsics

/// + − × ÷ and negation with NumPy broadcasting; gradients sum over broadcast dimensions.
/// Each op's forward, VJP and JVP sit together.
[<RequireQualifiedAccess>]
module Arithmetic =

    /// Broadcast to `shape` (broadcast = true) or sum back to it: each is the other's VJP. A constant is moved
    /// directly (what the op would give, without building it): a sum's scalar adjoint then becomes a uniform
    /// tensor at no cost. Under the tracer it is an op like any other, so that a gradient program computes its
    /// adjoints' broadcasts and sums from the seed rather than carrying them as constants.
    let rec private move (broadcast: bool) (shape: int[]) (x: Value) : Value =
        let src = x.Tensor.ShapeArray
        if Shape.same src shape then x
        else
            let f = if broadcast then Tensor.broadcastTo shape else Tensor.sumTo shape
            match x with
            | Const t when isNull Tracing.current.Value -> Const(f t)
            | _ ->
                Op.apply
                    (Op.withAttributes [ "shape", box (Array.copy shape) ] <| Op.create (if broadcast then "broadcastTo" else "sumTo")
                        (fun xs -> f xs.[0])
                        (fun _ _ adj _ -> move (not broadcast) src adj)
                        (fun _ _ _ t -> move broadcast shape t))
                    [| x |]

    /// Broadcast to a shape. VJP: sum back (sumTo). JVP: broadcast the tangent.
    let broadcastTo (shape: int[]) (x: Value) : Value =
        if isNull shape then nullArg "shape"
        move true shape x

    /// Sum a broadcast value back to `shape`. VJP: broadcast. JVP: sum the tangent.
    let sumTo (shape: int[]) (x: Value) : Value =
        if isNull shape then nullArg "shape"
        move false shape x

    /// a + b. ∂/∂a = 1, ∂/∂b = 1 (summed over broadcast dimensions).
    let add (a: Value) (b: Value) : Value =
        Op.apply
            (Op.create "add"
                (fun xs -> Tensor.add xs.[0] xs.[1])
                (fun xs _ adj i -> sumTo xs.[i].Shape adj)
                (fun _ out _ t -> broadcastTo out.Shape t))
            [| a; b |]

    /// −x. ∂/∂x = −1.
    let rec neg (x: Value) : Value =
        Op.apply (Op.create "neg" (fun xs -> Tensor.neg xs.[0]) (fun _ _ adj _ -> neg adj) (fun _ _ _ t -> neg t)) [| x |]

    /// k·x for a constant k. ∂/∂x = k.
    let rec scale (k: double) (x: Value) : Value =
        Op.apply (Op.withAttributes [ "k", box k ] <| Op.create "scale" (fun xs -> Tensor.scale k xs.[0]) (fun _ _ adj _ -> scale k adj) (fun _ _ _ t -> scale k t)) [| x |]

    /// a − b. ∂/∂a = 1, ∂/∂b = −1.
    let sub (a: Value) (b: Value) : Value =
        Op.apply
            (Op.create "sub"
                (fun xs -> Tensor.sub xs.[0] xs.[1])
                (fun xs _ adj i -> sumTo xs.[i].Shape (if i = 0 then adj else neg adj))
                (fun _ out i t -> broadcastTo out.Shape (if i = 0 then t else neg t)))
            [| a; b |]

    /// a · b elementwise. ∂/∂a = b, ∂/∂b = a. One value times itself is `square` (the same bits, and one pass
    /// back instead of two products and their sum).
    let rec mul (a: Value) (b: Value) : Value =
        if obj.ReferenceEquals(a, b) then square a
        else
            Op.apply
                (Op.create "mul"
                    (fun xs -> Tensor.mul xs.[0] xs.[1])
                    (fun xs _ adj i -> sumTo xs.[i].Shape (mul adj xs.[1 - i]))
                    (fun xs _ i t -> if i = 0 then mul t xs.[1] else mul xs.[0] t))
                [| a; b |]

    /// x² = x·x. d/dx = 2x. The VJP and JVP are one pass (`squareScaled`).
    and square (x: Value) : Value =
        Op.elementwise "square" (fun t -> Lanes.map (fun v -> v * v) (fun v -> v * v) t) (fun x _ g -> squareScaled x g) x

    /// g·(2x) in one pass: x²'s VJP and JVP (the bits of g·x + g·x, 2·(g·x) being exact but for
    /// subnormal products, where one rounding is closer). ∂/∂x = 2g, ∂/∂g = 2x.
    and internal squareScaled (x: Value) (g: Value) : Value =
        Op.scaled "squareScaled"
            (fun x g ->
                let two = Vector256.Create(2.0)
                Lanes.zip (fun x g -> g * (two * x)) (fun x g -> g * (2.0 * x)) x g)
            (fun _ g h -> mul h (scale 2.0 g))
            x g

    /// a / b elementwise. ∂/∂a = 1/b, ∂/∂b = −a/b² = −(a/b)/b.
    let rec div (a: Value) (b: Value) : Value =
        Op.apply
            (Op.create "div"
                (fun xs -> Tensor.div xs.[0] xs.[1])
                (fun xs out adj i ->
                    if i = 0 then sumTo xs.[0].Shape (div adj xs.[1])
                    else sumTo xs.[1].Shape (neg (div (mul adj out) xs.[1])))
                (fun xs out i t -> if i = 0 then div t xs.[1] else neg (div (mul t out) xs.[1])))
            [| a; b |]

    /// x + c for a constant c.
    let addScalar (c: double) (x: Value) = add x (Value.scalar c)

    /// c − x for a constant c.
    let rsubScalar (c: double) (x: Value) = sub (Value.scalar c) x
