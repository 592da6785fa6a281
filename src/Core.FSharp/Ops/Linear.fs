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
            Contraction.check "c" true c
            // The op and its plans are built from a copy: a contraction's arrays are the caller's, who may change
            // them later (the op is cached by the record, which would then run a plan of the old sizes).
            let key = c
            let c = { Inputs = Array.map Array.copy c.Inputs; Output = Array.copy c.Output; Sizes = Array.copy c.Sizes }
            let op =
                Op.withAttributes [ "equation", box (Contraction.show c) ] <| Op.create
                    "einsum"
                    (fun xs -> Engine.contract c xs)
                    (fun xs _ adj k -> Op.apply (contraction (Contraction.gradient c k)) (Array.append [| adj |] (Array.removeAt k xs)))
                    (fun xs _ k t -> Op.apply (contraction c) (Array.updateAt k t xs))
            ops.AddOrUpdate(key, op)
            op

    /// Three or more operands under a transform: one op per engine step (Engine.decompose), so that a
    /// backward pass reuses the forward's intermediates (each step's VJP is two contractions of that step's
    /// size) instead of contracting the output gradient with the n − 1 other operands afresh per operand.
    /// The values are the same as the single op's, bit for bit.
    let private stepwise (c: Contraction) (xs: Value[]) =
        // Every step's size is checked before the first one runs, as for the single op.
        Engine.checkLimits c
        let prepared, steps = Engine.decompose c
        let mutable current = xs |> Array.mapi (fun k x -> match prepared.[k] with Some p -> Op.apply (contraction p) [| x |] | None -> x)
        for left, right, step in steps do
            let v = Op.apply (contraction step) [| current.[left]; current.[right] |]
            current <- Array.append (current |> Array.indexed |> Array.filter (fun (k, _) -> k <> left && k <> right) |> Array.map snd) [| v |]
        current.[0]

    /// Einsum over any number of operands (NumPy/torch semantics).
    /// ∂L/∂X_k = the derived contraction of ∂L/∂Y with the other operands (see Einsum.explain); with three or
    /// more operands it is evaluated along the contraction plan, reusing the forward's intermediates.
    let einsum (equation: string) (operands: Value[]) : Value =
        if isNull operands then nullArg "operands"
        Functional.Arguments.noNullElements "operands" operands
        let b = Einsum.bindCached equation (operands |> Array.map (fun x -> x.Tensor.ShapeArray))
        let squeezed = Einsum.squeezeWith Layout.reshape (fun (x: Value) -> x.Tensor.ShapeArray) b operands
        let perturbed = squeezed |> Array.exists (function Const _ -> false | _ -> true)
        if perturbed && squeezed.Length >= 3 then stepwise b.Contraction squeezed
        else Op.apply (contraction b.Contraction) squeezed

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
