namespace Functional.Core

/// Reshape and permute. Their VJPs undo the move; their JVPs repeat it.
[<RequireQualifiedAccess>]
module Layout =

    /// Same elements, new shape (one -1 is inferred). VJP: reshape back. JVP: reshape the tangent.
    let rec reshape (shape: int[]) (x: Value) : Value =
        let src = x.Shape
        let target = (Tensor.reshape shape x.Tensor).Shape
        if src = target then x
        else
            Op.apply
                (Op.create "reshape" (fun xs -> Tensor.reshape target xs.[0]) (fun _ _ adj _ -> reshape src adj) (fun _ _ _ t -> reshape target t))
                [| x |]

    /// Axis i of the result is axis perm.[i] of x. VJP: the inverse permutation. JVP: the same permutation.
    let rec permute (perm: int[]) (x: Value) : Value =
        Shape.checkPermutation x.Tensor.Rank perm
        let inverse = Array.zeroCreate perm.Length
        perm |> Array.iteri (fun i p -> inverse.[p] <- i)
        Op.apply
            (Op.create "permute" (fun xs -> Tensor.permute perm xs.[0]) (fun _ _ adj _ -> permute inverse adj) (fun _ _ _ t -> permute perm t))
            [| x |]

    /// Reverses the axes.
    let transpose (x: Value) =
        let r = x.Tensor.Rank
        permute (Array.init r (fun i -> r - 1 - i)) x
