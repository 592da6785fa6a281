namespace Functional.Core

/// Elementwise ops whose value and derivative come from one vector formula (GELU and its tanh form, SiLU, softplus,
/// ELU, erf, erfc, atan, asin, acos): the forward kernel, the pullback g·f'(x) as one op with its own vector kernel,
/// and, where f' is costly to compute again, f' kept from the forward pass for the pullback.
[<RequireQualifiedAccess>]
module internal FusedOp =

    /// What such an op f is made of, built once per op (its ops capture this one object instead of each part: a
    /// small tensor's call allocates less).
    type Fused =
        { /// The op's name, and its pullback's.
          Name: string
          ScaledName: string
          /// The attributes that define both besides their names (ELU's α and kink convention).
          Attributes: (string * obj) list
          /// Whether the vector kernels run here.
          Vector: bool
          /// f and f' of every element in one pass, for a forward pass on a reverse-mode tape whose f' is kept for the
          /// pullback; none where computing f' again in the pullback costs less than storing and reading it.
          WithDerivative: (double[] -> struct (double[] * double[])) voption
          /// f of every element.
          Value: double[] -> double[]
          /// f without the vector path.
          Scalar: Tensor -> Tensor
          /// g·f'(x) for same-length arrays.
          Kernel: double[] -> double[] -> double[]
          /// f' of one value, for broadcast g.
          Derivative: double -> double
          /// f'' as a differentiable value.
          Second: Value -> Value }

    /// g·f'(x) for an adjoint or tangent g as one op, f's VJP and JVP: ∂/∂x = g·f''(x), ∂/∂g = f'(x), so every
    /// order follows. `saved` may hold f' of one tensor, computed with its forward value: then the value here is
    /// a product, the rules unchanged.
    let private scaledDerivative (f: Fused) (saved: struct (Tensor * Tensor) voption) (x: Value) (g: Value) : Value =
        Op.scaledWith f.ScaledName f.Attributes
            (fun x g ->
                match saved with
                | ValueSome (struct (source, d)) when obj.ReferenceEquals(source, x) && Shape.same x.ShapeArray g.ShapeArray ->
                    Tensor.mul d g
                | _ ->
                    if f.Vector && Shape.same x.ShapeArray g.ShapeArray then
                        Tensor.wrap x.ShapeArray (f.Kernel x.Data g.Data)
                    else Tensor.map2Inline (fun x g -> g * f.Derivative x) x g)
            (fun x g h -> Arithmetic.mul h (Arithmetic.mul g (f.Second x)))
            x g

    /// f as an elementwise op: on a reverse-mode tape, where `WithDerivative` is given, its vector path computes f'
    /// with the value and keeps it for the pullback, which is then one multiplication (the saved f' is used only for
    /// the very tensor it was computed from); elsewhere only the value.
    let elementwise (f: Fused) (x: Value) =
        let keep = f.Vector && f.WithDerivative.IsSome && (match x with Reverse _ -> true | _ -> false)
        let saved = ref ValueNone
        let forward (t: Tensor) =
            match f.WithDerivative with
            | ValueSome both when keep ->
                let struct (values, derivs) = both t.Data
                saved.Value <- ValueSome(struct (t, Tensor.wrapKept t.ShapeArray derivs))
                Tensor.wrap t.ShapeArray values
            | _ -> if f.Vector then Tensor.wrap t.ShapeArray (f.Value t.Data) else f.Scalar t
        Op.elementwiseWith f.Name f.Attributes forward (fun x _ g -> scaledDerivative f saved.Value x g) x
