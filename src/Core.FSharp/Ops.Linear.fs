namespace Functional.Core

/// Einsum, matmul and batched matmul as differentiable contractions. Their gradients come from the
/// index-set derivation: the VJP for operand k is the derived contraction of the output adjoint with
/// the other operands (itself this op again, so every order follows); the JVP replaces operand k by
/// its tangent (einsum is linear in each operand).
[<RequireQualifiedAccess>]
module Linear =

    /// Ops per contraction value (bound contractions and their gradients are shared values), so an op and
    /// its name are made once, not on every call.
    let private ops = System.Runtime.CompilerServices.ConditionalWeakTable<Contraction, Op>()

    /// The op for one extended contraction.
    let rec contraction (c: Contraction) : Op =
        match ops.TryGetValue c with
        | true, op -> op
        | _ ->
            let op =
                Op.create
                    ("contract " + Contraction.show c)
                    (fun xs -> Engine.contract c xs)
                    (fun xs _ adj k -> Op.apply (contraction (Contraction.gradient c k)) (Array.append [| adj |] (Array.removeAt k xs)))
                    (fun xs _ k t -> Op.apply (contraction c) (Array.updateAt k t xs))
            ops.AddOrUpdate(c, op)
            op

    /// Einsum over any number of operands (NumPy/torch semantics).
    /// ∂L/∂X_k = the derived contraction of ∂L/∂Y with the other operands (see Einsum.explain).
    let einsum (equation: string) (operands: Value[]) : Value =
        if isNull operands then nullArg "operands"
        let b = Einsum.bindCached equation (operands |> Array.map (fun x -> x.Tensor.ShapeArray))
        let squeezed = operands |> Array.mapi (fun k x -> if Shape.same x.Tensor.ShapeArray b.SqueezedShapes.[k] then x else Layout.reshape b.SqueezedShapes.[k] x)
        Op.apply (contraction b.Contraction) squeezed

    /// Matrix product of rank-2 values: C = A·B. ∇A = ∂L/∂C·Bᵀ, ∇B = Aᵀ·∂L/∂C.
    let matmul (a: Value) (b: Value) =
        let sa = a.Tensor.ShapeArray
        let sb = b.Tensor.ShapeArray
        if sa.Length <> 2 || sb.Length <> 2 then
            raise (Functional.ShapeException(sprintf "matmul needs two matrices; got shapes %s and %s." (Shape.show sa) (Shape.show sb), "b"))
        if sa.[1] <> sb.[0] then
            raise (Functional.ShapeException(sprintf "matmul: inner dimensions differ (%d and %d) for shapes %s and %s." sa.[1] sb.[0] (Shape.show sa) (Shape.show sb), "b"))
        einsum "ij,jk->ik" [| a; b |]

    /// Batched matrix product with broadcast batch dimensions: ...ij,...jk->...ik.
    let bmm (a: Value) (b: Value) =
        let sa = a.Tensor.ShapeArray
        let sb = b.Tensor.ShapeArray
        if sa.Length < 2 || sb.Length < 2 then
            raise (Functional.ShapeException(sprintf "bmm needs rank 2 or more; got shapes %s and %s." (Shape.show sa) (Shape.show sb), "b"))
        if sa.[sa.Length - 1] <> sb.[sb.Length - 2] then
            raise (Functional.ShapeException(sprintf "bmm: inner dimensions differ (%d and %d) for shapes %s and %s." sa.[sa.Length - 1] sb.[sb.Length - 2] (Shape.show sa) (Shape.show sb), "b"))
        einsum "...ij,...jk->...ik" [| a; b |]
