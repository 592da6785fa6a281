namespace Functional.Core

/// Reshape and permute. Their VJPs undo the move; their JVPs repeat it.
[<RequireQualifiedAccess>]
module Layout =

    /// Same elements, new shape (one -1 is inferred). VJP: reshape back. JVP: reshape the tangent.
    /// A constant is reshaped directly (what the op would give, without building it), except under the tracer.
    let rec reshape (shape: int[]) (x: Value) : Value =
        if isNull shape then nullArg "shape"
        let src = x.Tensor.ShapeArray
        let reshaped = Tensor.reshape shape x.Tensor
        let target = reshaped.ShapeArray
        if Shape.same src target then x
        else
            match x with
            | Const _ when isNull Tracing.current.Value -> Const reshaped
            | _ ->
                Op.apply
                    (Op.withAttributes [ "shape", box target ] <| Op.create "reshape" (fun xs -> Tensor.reshape target xs.[0]) (fun _ _ adj _ -> reshape src adj) (fun _ _ _ t -> reshape target t))
                    [| x |]

    /// Axis i of the result is axis perm.[i] of x (negative entries count from the end). VJP: the inverse
    /// permutation. JVP: the same permutation.
    let rec permute (perm: int[]) (x: Value) : Value =
        if isNull perm then nullArg "perm"
        // Negative axes count from the end, as every other axis argument (and the facade's Permute) takes them.
        let rank = x.Tensor.Rank
        let given = perm
        let perm = perm |> Array.map (fun p -> if p < 0 && p >= -rank then p + rank else p)
        try Shape.checkPermutation rank perm
        with :? Functional.ShapeException when perm.Length = rank ->
            raise (Functional.ShapeException(sprintf "%s is not a permutation of 0..%d (negative entries count from the end)." (Shape.show given) (rank - 1), "perm"))
        let inverse = Array.zeroCreate perm.Length
        perm |> Array.iteri (fun i p -> inverse.[p] <- i)
        Op.apply
            (Op.withAttributes [ "permutation", box (Array.copy perm) ] <| Op.create "permute" (fun xs -> Tensor.permute perm xs.[0]) (fun _ _ adj _ -> permute inverse adj) (fun _ _ _ t -> permute perm t))
            [| x |]

    /// Reverses the axes.
    let transpose (x: Value) =
        let r = x.Tensor.Rank
        permute (Array.init r (fun i -> r - 1 - i)) x

    /// Row i of x along axis 0 (the axis removed; negative i counts from the end). VJP: the adjoint embedded as row i of zeros. JVP: row i of the tangent.
    let rec select (i: int) (x: Value) : Value =
        let shape = x.Shape
        if shape.Length = 0 || i < -shape.[0] || i >= shape.[0] then
            raise (Functional.ShapeException(sprintf "Row %d does not exist in shape %s." i (Shape.show shape), "i"))
        let i = if i < 0 then i + shape.[0] else i
        let inner = shape.[1..]
        let n = Shape.numel inner
        // A later adjoint of the input is added into row i of the input's adjoint: rows taken one at a time cost a
        // row each backward, not the whole tensor each.
        let into (adj: Tensor) (_: int) (acc: double[]) = Tensor.addInto adj acc (i * n) (Shape.strides inner)
        Op.apply
            (Op.withAttributes [ "index", box i ] <| Op.create "select"
                (fun xs -> Tensor.wrap inner (Array.sub xs.[0].Data (i * n) n))
                (RegionVjp.AsVjp((fun _ _ adj _ -> embed i shape.[0] adj), into))
                (fun _ _ _ t -> select i t))
            [| x |]

    /// x as row i of an otherwise zero tensor with `rows` rows. VJP: row i of the adjoint. JVP: the tangent embedded.
    and embed (i: int) (rows: int) (x: Value) : Value =
        if i < 0 || i >= rows then
            raise (Functional.ShapeException(sprintf "embed: row %d does not exist among %d rows." i rows, "i"))
        let inner = x.Shape
        let n = Shape.numel inner
        Limits.check (fun () -> sprintf "embed: %d rows of shape %s" rows (Shape.show inner)) (float rows * float n)
        Op.apply
            (Op.withAttributes [ "index", box i; "rows", box rows ] <| Op.create "embed"
                (fun xs ->
                    let d = Storage.uninit (rows * n)
                    // Written whole: a plain one around the caches.
                    let stream = Strided.streamsPlain d.Length
                    Strided.clearWith stream d 0 (i * n)
                    Strided.clearWith stream d ((i + 1) * n) ((rows - i - 1) * n)
                    Tensor.copyIntoStreaming stream xs.[0] d (i * n) (Shape.strides inner)
                    Tensor.wrap (Array.append [| rows |] inner) d)
                (fun _ _ adj _ -> select i adj)
                (fun _ _ _ t -> embed i rows t))
            [| x |]

    /// Stacks same-shaped values along a new leading axis. VJP: row k of the adjoint for input k.
    let rec stack (xs: Value[]) : Value =
        if isNull xs then nullArg "xs"
        if xs.Length = 0 then invalidArg "xs" "stack needs at least one value."
        Functional.Arguments.noNullElements "xs" xs
        let inner = xs.[0].Shape
        xs |> Array.iteri (fun k x ->
            if x.Shape <> inner then
                raise (Functional.ShapeException(sprintf "stack: value %d has shape %s; value 0 has %s." k (Shape.show x.Shape) (Shape.show inner), "xs")))
        let rows = xs.Length
        Limits.check (fun () -> sprintf "stack: %d values of shape %s" rows (Shape.show inner)) (float rows * float (Shape.numel inner))
        Op.apply
            (Op.create "stack"
                (fun ts ->
                    let n = Shape.numel inner
                    let d = Storage.uninit (rows * n)
                    ts |> Array.iteri (fun k t -> Tensor.copyInto t d (k * n) (Shape.strides inner))
                    Tensor.wrap (Array.append [| rows |] inner) d)
                (fun _ _ adj k -> select k adj)
                // The tangents stacked at once (zeros for a value without one): one per value, each embedded in the
                // whole output's size, would cost rows times the output.
                (WholeJvp.AsJvp((fun _ _ k t -> embed k rows t),
                                (fun _ _ ts -> stack (ts |> Array.map (fun t -> if isNull (box t) then Value.constant (Tensor.zeros inner) else t))))))
            xs
