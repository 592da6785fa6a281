namespace Functional.Core

open System
open System.Collections.Generic
open Functional

/// The transforms: vjp, grad, valueAndGrad, jvp, jacobian, hessian, hessian-vector product.
/// Each call opens a fresh perturbation tag, so transforms nest freely (grad of grad of …, forward
/// over reverse) without confusing perturbations. Backward passes are iterative: no recursion over
/// graph depth, and nothing of the graph outlives the returned values.
[<RequireQualifiedAccess>]
module Autodiff =

    let private leafOp =
        Op.create "input" (fun xs -> xs.[0]) (fun _ _ adj _ -> adj) (fun _ _ _ t -> t)

    let private refComparer = HashIdentity.Reference<Node>

    /// Whether an adjoint may be accumulated in place, in an array the backward pass made (owned: no one else
    /// holds it): plain tensors, not traced. Otherwise every step is an op, as a trace and higher orders need.
    let private inPlace (traced: bool) (adj: Value) (had: bool) (acc: Value) =
        not traced
        && (match adj with Const _ -> true | _ -> false)
        && (not had || (match acc with Const _ -> true | _ -> false))

    /// The adjoint of an input read by region ops (slices, rows, gathered rows) where the backward pass may not add in
    /// place (traced, or at a higher order): one op for all its adjoints, in the order they came, each added whole or,
    /// for a region op's piece, at its region, so that k pieces cost the input's size once, not k times each. `readers`
    /// holds per adjoint its region op (of one input, `i`), or null for an adjoint added whole: the op, not its node,
    /// so that the sum keeps no graph alive. VJP: for an adjoint added whole the output adjoint; for a piece its
    /// region of it (its reader applied to it). JVP: the same op over the tangents present, in one op.
    let rec private regionSum (shape: int[]) (readers: struct (Op * int)[]) (xs: Value[]) : Value =
        let isWhole k = let struct (op, _) = readers.[k] in isNull (box op)
        let forward (ts: Tensor[]) =
            let out = Storage.uninit (Shape.numel shape)
            let strides = Shape.strides shape
            for k in 0 .. readers.Length - 1 do
                let struct (op, i) = readers.[k]
                if isWhole k then
                    if k = 0 then Tensor.copyInto ts.[k] out 0 strides else Tensor.addInto ts.[k] out 0 strides
                else
                    if k = 0 then Array.Clear(out)
                    (box op.Vjp :?> RegionVjp).Add(ts.[k], i, out)
            Tensor.wrap shape out
        // The op over the tangents present (null where an adjoint has none).
        let over (ts: Value[]) =
            let present = [| for k in 0 .. ts.Length - 1 do if not (isNull (box ts.[k])) then yield k |]
            if present.Length = 1 && isWhole present.[0] then ts.[present.[0]]
            else regionSum shape (present |> Array.map (fun k -> readers.[k])) (present |> Array.map (fun k -> ts.[k]))
        let regionOps = [| for k in 0 .. readers.Length - 1 do if not (isWhole k) then let struct (op, _) = readers.[k] in yield op |]
        Op.apply
            (Op.withAttributes [ "shape", box (Array.copy shape); "whole", box (Array.init readers.Length isWhole); "readers", box regionOps ] <| Op.create "regionSum"
                forward
                (fun _ _ adj k ->
                    let struct (op, _) = readers.[k]
                    // The reader (of one input) is linear: applied to the adjoint, it takes the piece's region of it.
                    if isWhole k then adj else Op.apply op [| adj |])
                (WholeJvp.AsJvp(
                    (fun _ _ k t -> over (Array.init xs.Length (fun j -> if j = k then t else Unchecked.defaultof<Value>))),
                    (fun _ _ ts -> over ts))))
            xs

    /// Node n's VJP for its input i (node m) at adjoint `adj`, checked: never null, shaped as the input.
    let private vjpOf (n: Node) (i: int) (m: Node) (adj: Value) =
        let g = n.Op.Vjp n.Primals n.Output adj i
        if isNull (box g) then invalidArg "vjp" (sprintf "The VJP of op '%s' for input %d returned null." n.Op.Name i)
        // A rule's adjoint of another shape would be broadcast into, or added at the wrong elements of, the other
        // adjoints of that input.
        if not (Shape.same g.Tensor.ShapeArray m.Output.Tensor.ShapeArray) then
            raise (ShapeException(sprintf "The VJP of op '%s' for input %d has shape %s; the input has shape %s." n.Op.Name i (Shape.show g.Tensor.ShapeArray) (Shape.show m.Output.Tensor.ShapeArray), "vjp"))
        g

    /// The adjoints kept for node m until it is ready (null when none are, or no list was made).
    let private waitingAt (pieces: Dictionary<Node, List<struct (Node * int * Value)>>) (m: Node) =
        if isNull pieces then null
        else
            match pieces.TryGetValue m with
            | true, l -> l
            | _ -> null

    /// Reverse accumulation over the nodes of `tag` reachable from `root`, seeded with `seed`.
    /// Returns the adjoint of every leaf reached.
    let private accumulate (tag: int64) (root: Node) (seed: Value) : Dictionary<Node, Value> =
        // Pass 1: how many consumers each node has inside this graph.
        // Sized for small graphs from the start (growing 0 → 3 → 7 → 17 showed in small-tensor profiles).
        let consumers = Dictionary<Node, int>(16, refComparer)
        let stack = Stack<Node>(16)
        stack.Push root
        consumers.[root] <- 0
        while stack.Count > 0 do
            let n = stack.Pop()
            for inp in n.Inputs do
                match inp with
                | Reverse (_, m, t) when t = tag ->
                    match consumers.TryGetValue m with
                    | true, c -> consumers.[m] <- c + 1
                    | _ ->
                        consumers.[m] <- 1
                        stack.Push m
                | _ -> ()
        // Pass 2: a node is processed once all its consumers have sent their adjoints. Each adjoint comes with
        // whether its array was made by this pass (owned: no one else holds it, so later adjoints may add into it).
        let adjoints = Dictionary<Node, struct (Value * bool)>(16, refComparer)
        let leaves = Dictionary<Node, Value>(refComparer)
        // Region ops' adjoints that may not be added in place, per input node, summed in one op once it is ready.
        let mutable pieces: Dictionary<Node, List<struct (Node * int * Value)>> = null
        let traced = not (isNull Tracing.current.Value)
        adjoints.[root] <- struct (seed, false)
        let ready = Stack<Node>(16)
        ready.Push root
        while ready.Count > 0 do
            let n = ready.Pop()
            let adj =
                match waitingAt pieces n with
                | null -> let struct (a, _) = adjoints.[n] in a
                | waiting ->
                    pieces.Remove n |> ignore
                    if waiting.Count = 1 then
                        // One piece alone: its reader's own VJP (zeros and the piece in one pass).
                        let struct (reader, i, a) = waiting.[0]
                        reader.Op.Vjp reader.Primals reader.Output a i
                    else
                        let readers = waiting |> Seq.map (fun struct (r, i, _) -> struct ((if isNull r then Unchecked.defaultof<Op> else r.Op), i)) |> Array.ofSeq
                        regionSum n.Output.Tensor.ShapeArray readers (waiting |> Seq.map (fun struct (_, _, a) -> a) |> Array.ofSeq)
            adjoints.Remove n |> ignore
            if n.Inputs.Length = 0 then leaves.[n] <- adj
            else
                for i in 0 .. n.Inputs.Length - 1 do
                    match n.Inputs.[i] with
                    | Reverse (_, m, t) when t = tag ->
                        let had, entry = adjoints.TryGetValue m
                        let struct (acc, owned) = entry
                        let waiting = waitingAt pieces m
                        match box n.Op.Vjp with
                        | :? RegionVjp when n.Inputs.Length = 1 && not (isNull waiting) -> waiting.Add(struct (n, i, adj))
                        | _ when not (isNull waiting) -> waiting.Add(struct (null, 0, vjpOf n i m adj))
                        | :? RegionVjp when n.Inputs.Length = 1 && not (inPlace traced adj had acc) ->
                            // Summed with the input's other adjoints, in the order they came, once it is ready: each
                            // padded to the input's shape and added would cost the whole input per piece.
                            if isNull pieces then pieces <- Dictionary<Node, List<struct (Node * int * Value)>>(refComparer)
                            match pieces.TryGetValue m with
                            | true, l -> l.Add(struct (n, i, adj))
                            | _ ->
                                let l = List<struct (Node * int * Value)>()
                                // The adjoint it had so far comes first, added whole.
                                if had then
                                    l.Add(struct (null, 0, acc))
                                    adjoints.Remove m |> ignore
                                l.Add(struct (n, i, adj))
                                pieces.[m] <- l
                        | :? RegionVjp as region when had && inPlace traced adj had acc ->
                            // A later slice's, row's or gathered rows' adjoint: added into the input's own array,
                            // never padded.
                            let shape = m.Output.Tensor.ShapeArray
                            let target =
                                if owned then acc.Tensor
                                else
                                    // Made as an op's result is: outside a scope, recycled once unreachable.
                                    Tensor.outermost (fun () ->
                                        let a = Storage.uninit (Shape.numel shape)
                                        Tensor.copyInto acc.Tensor a 0 (Shape.strides shape)
                                        Tensor.wrap shape a)
                            region.Add(adj.Tensor, i, target.Data)
                            if not owned then adjoints.[m] <- struct (Const target, true)
                        | _ ->
                            let g = vjpOf n i m adj
                            if not had then
                                // A slice's, a row's or gathered rows' first adjoint is its plain VJP, zeros and the
                                // adjoint written in one pass: an array of its own, which later ones go into in place.
                                let fresh =
                                    match g, adj with
                                    | Const gt, Const at when (box n.Op.Vjp :? RegionVjp) && inPlace traced adj had acc ->
                                        not (gt.IsUniform || gt.ViewOf.IsSome || obj.ReferenceEquals(gt, at))
                                    | _ -> false
                                adjoints.[m] <- struct (g, fresh)
                            else
                                match g with
                                | Const gt when owned && inPlace traced adj had acc ->
                                    Tensor.addInto gt acc.Tensor.Data 0 (Shape.strides acc.Tensor.ShapeArray)
                                | _ ->
                                    let sum = Op.apply Basic.addSame [| acc; g |]
                                    // A sum made here into an array of its own (not an operand returned, not uniform,
                                    // not a view): a third adjoint and later ones add into it in place.
                                    let made =
                                        match sum, acc, g with
                                        | Const st, Const at, Const gt when inPlace traced adj had acc ->
                                            not (st.IsUniform || st.ViewOf.IsSome || obj.ReferenceEquals(st, at) || obj.ReferenceEquals(st, gt))
                                        | _ -> false
                                    adjoints.[m] <- struct (sum, made)
                        let c = consumers.[m] - 1
                        consumers.[m] <- c
                        if c = 0 then ready.Push m
                    | _ -> ()
        leaves

    /// `accumulate`, marked as writing into the open scope's arrays: later adjoints are added in place into arrays
    /// the pass made, and a scope ended on another thread meanwhile must not hand one to another tensor.
    let private backward (tag: int64) (root: Node) (seed: Value) : Dictionary<Node, Value> =
        let writes = Storage.beginWrites ()
        try accumulate tag root seed finally Storage.endWrites writes

    let private zerosLike (x: Value) = Value.constant (Tensor.zeros x.Shape)

    /// A transform's result must carry its own tag, an enclosing transform's (still live) or none: a newer tag is an
    /// inner transform's value, a dead older one an earlier transform's, and either would differentiate as a silent 0.
    let private checkResult (tag: int64) (y: Value) =
        let t = Value.tag y
        if t > tag || (t <> 0L && t <> tag && not (Value.isLive t)) then raise (Value.escaped ())

    /// The value of f at xs and its pullback: a function from an output adjoint to the adjoints of xs.
    let vjpMany (f: Value[] -> Value) (xs: Value[]) : Value * (Value -> Value[]) =
        // Checked before the tag is made: a tag never ended would stay live.
        if isNull xs then nullArg "xs"
        Functional.Arguments.noNullElements "xs" xs
        let tag = Value.newTag ()
        let leaves = xs |> Array.map (fun x -> Node(leafOp, [||], [||], x))
        let inputs = Array.map2 (fun x n -> Reverse(x, n, tag)) xs leaves
        // The tag ends with f: the pullback reads the graph, never applies an op to a value of this tag.
        let y = try Storage.abandonOnFailure (fun () -> f inputs) finally Value.endTag tag
        checkResult tag y
        let primal = Value.primalAt tag y
        let pullback (adj: Value) =
            if not (Shape.same adj.Tensor.ShapeArray primal.Tensor.ShapeArray) then
                raise (ShapeException(sprintf "The adjoint has shape %s; the function's result has shape %s." (Shape.show adj.Shape) (Shape.show primal.Shape), "adjoint"))
            match y with
            | Reverse (_, node, t) when t = tag ->
                // The rules may be a custom op's, user code: a scope one opens and leaves open when it throws ends.
                let got = Storage.abandonOnFailure (fun () -> backward tag node adj)
                Array.map2 (fun (leaf: Node) x -> match got.TryGetValue leaf with | true, g -> g | _ -> zerosLike x) leaves xs
            | _ -> xs |> Array.map zerosLike // the result does not depend on the inputs
        primal, pullback

    /// The value of f at x and its pullback.
    let vjp (f: Value -> Value) (x: Value) : Value * (Value -> Value) =
        let y, pb = vjpMany (fun xs -> f xs.[0]) [| x |]
        y, (fun adj -> (pb adj).[0])

    let private requireScalar (y: Value) =
        if y.Tensor.Numel <> 1 then
            raise (ShapeException(sprintf "grad needs a function whose result is a scalar (one element); the result has shape %s. Use vjp or jacobian for other results." (Shape.show y.Shape), "f"))

    /// The value of a scalar function and its gradients with respect to every input.
    let valueAndGradMany (f: Value[] -> Value) (xs: Value[]) : Value * Value[] =
        let y, pb = vjpMany f xs
        requireScalar y
        y, pb (Value.constant (Tensor.ones y.Shape))

    /// The gradients of a scalar function with respect to every input.
    let gradMany (f: Value[] -> Value) (xs: Value[]) = snd (valueAndGradMany f xs)

    /// The value of a scalar function and its gradient.
    let valueAndGrad (f: Value -> Value) (x: Value) =
        let y, gs = valueAndGradMany (fun xs -> f xs.[0]) [| x |]
        y, gs.[0]

    /// The gradient of a scalar function (∂f/∂x, shaped as x). Nests: grad (grad f) works.
    let grad (f: Value -> Value) (x: Value) = snd (valueAndGrad f x)

    /// Forward mode over several inputs at once: f's value and its derivative along (v_1, …, v_n).
    let jvpMany (f: Value[] -> Value) (xs: Value[]) (vs: Value[]) : Value * Value =
        if isNull xs then nullArg "xs"
        if isNull vs then nullArg "vs"
        Functional.Arguments.noNullElements "xs" xs
        Functional.Arguments.noNullElements "vs" vs
        if xs.Length <> vs.Length then invalidArg "vs" (sprintf "%d inputs but %d tangents." xs.Length vs.Length)
        Array.iteri2 (fun i (x: Value) (v: Value) ->
            if v.Shape <> x.Shape then
                raise (ShapeException(sprintf "Tangent %d has shape %s; input %d has shape %s." i (Shape.show v.Shape) i (Shape.show x.Shape), "vs"))) xs vs
        let tag = Value.newTag ()
        let y = try Storage.abandonOnFailure (fun () -> f (Array.map2 (fun x v -> Forward(x, v, tag)) xs vs)) finally Value.endTag tag
        checkResult tag y
        match y with
        | Forward (p, t, tg) when tg = tag -> p, t
        | _ -> y, zerosLike y

    /// Forward mode: the value of f at x and the directional derivative along v.
    let jvp (f: Value -> Value) (x: Value) (v: Value) : Value * Value =
        if isNull (box x) then nullArg "x"
        if isNull (box v) then nullArg "v"
        if v.Shape <> x.Shape then
            raise (ShapeException(sprintf "The tangent has shape %s; the input has shape %s." (Shape.show v.Shape) (Shape.show x.Shape), "v"))
        jvpMany (fun xs -> f xs.[0]) [| x |] [| v |]

    /// The i-th unit adjoint, made outside every scope: the rows' seeds are dropped one by one, where a scope would
    /// hold all of them (numel(y)² doubles) until it ends.
    let private basis (shape: int[]) (i: int) =
        Storage.unscoped (Func<_>(fun () ->
            let d = Array.zeroCreate (Shape.numel shape)
            d.[i] <- 1.0
            Value.constant (Tensor.wrap shape d)))

    /// Rows stacked and shaped outer ++ inner, differentiably, so jacobian and hessian nest inside other transforms.
    /// Rows of the inner shape flattened first, so that no intermediate has more axes than the result.
    let private stack (outer: int[]) (inner: int[]) (rows: Value[]) =
        if rows.Length = 0 then Value.constant (Tensor.zeros (Array.append outer inner))
        else Layout.reshape (Array.append outer inner) (Layout.stack (rows |> Array.map (Layout.reshape [| Shape.numel inner |])))

    /// A Jacobian's or Hessian's axes, refused before any pullback when they are more than a tensor may have.
    let private checkAxes (what: string) (outer: int[]) (inner: int[]) =
        if outer.Length + inner.Length > Shape.maxRank then
            raise (ShapeException(sprintf "%s of shapes %s and %s would have %d axes; a tensor has at most %d." what (Shape.show outer) (Shape.show inner) (outer.Length + inner.Length) Shape.maxRank, "x"))

    /// The Jacobian of f at x, shaped f(x).shape ++ x.shape (one pullback per output element).
    let jacobian (f: Value -> Value) (x: Value) : Value =
        let y, pb = vjp f x
        let ys = y.Shape
        checkAxes "The Jacobian" ys x.Shape
        // Its rows and the stacked result exist at once: refused before the first pullback, not after many.
        Limits.check (fun () -> sprintf "The Jacobian of a result of shape %s with respect to an input of shape %s, as rows and stacked," (Shape.show ys) (Shape.show x.Shape)) (2.0 * float (Shape.numel ys) * float (Shape.numel x.Shape))
        stack ys x.Shape (Array.init (Shape.numel ys) (fun i -> pb (basis ys i)))

    /// Hessian-vector product H·v, forward over reverse.
    let hessianVectorProduct (f: Value -> Value) (x: Value) (v: Value) : Value = snd (jvp (grad f) x v)

    /// The Hessian of a scalar function, shaped x.shape ++ x.shape.
    let hessian (f: Value -> Value) (x: Value) : Value =
        let xs = x.Shape
        checkAxes "The Hessian" xs xs
        Limits.check (fun () -> sprintf "The Hessian with respect to an input of shape %s, as rows and stacked," (Shape.show xs)) (2.0 * float (Shape.numel xs) * float (Shape.numel xs))
        // An empty x has no rows to run f for; f is still run once, so that a result that is not a scalar is refused
        // as it would be for any other x.
        if Shape.numel xs = 0 then requireScalar (f x)
        stack xs xs (Array.init (Shape.numel xs) (fun i -> hessianVectorProduct f x (basis xs i)))
