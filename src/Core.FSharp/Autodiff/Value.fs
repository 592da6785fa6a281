namespace Functional.Core

open System
open System.Threading

/// A differentiable value: a constant tensor, or a primal carrying a forward-mode tangent or a
/// reverse-mode graph node under a perturbation tag. Tags keep nested transforms apart
/// (no perturbation confusion). Reference equality: two values are the same only if they are one object.
[<ReferenceEquality>]
type Value =
    | Const of Tensor
    | Forward of primal: Value * tangent: Value * tag: int64
    | Reverse of primal: Value * node: Node * tag: int64

    /// The innermost tensor (the value with every perturbation stripped).
    member v.Tensor =
        // Loop, not recursion: a value nests only as deep as its transforms, but no recursion is simpler to trust.
        let mutable cur = v
        let mutable result = Unchecked.defaultof<Tensor>
        while isNull (box result) do
            match cur with
            | Const t ->
                // A null held as a value (a custom op's forward or rule that returned null) would loop forever.
                if isNull (box t) then invalidArg "value" "This value holds no tensor (a null); an op's forward and rules must return tensors."
                result <- t
            | Forward (p, _, _) -> cur <- p
            | Reverse (p, _, _) -> cur <- p
        result
    member v.Shape = v.Tensor.Shape
    override v.ToString() =
        match v with
        | Const t -> t.ToString()
        | Forward (_, _, tag) -> sprintf "%O (forward, tag %d)" v.Tensor tag
        | Reverse (_, _, tag) -> sprintf "%O (reverse, tag %d)" v.Tensor tag

/// A reverse-mode graph node: the op, its inputs (tagged) and the primals the VJP reads.
and [<Sealed; AllowNullLiteral>] Node internal (op: Op, inputs: Value[], primals: Value[], output: Value) =
    member _.Op = op
    member _.Inputs = inputs
    member _.Primals = primals
    member _.Output = output

/// A differentiable op: its forward function and its derivative rules side by side.
/// The rules are written with differentiable values, so derivatives of any order follow.
and [<NoEquality; NoComparison>] Op =
    { Name: string
      /// The value on plain tensors.
      Forward: Tensor[] -> Tensor
      /// VJP for input i: (inputs, output, output adjoint, i) -> adjoint of input i.
      Vjp: Value[] -> Value -> Value -> int -> Value
      /// JVP for input i: (inputs, output, i, tangent of input i) -> that input's part of the output tangent.
      Jvp: Value[] -> Value -> int -> Value -> Value
      /// What else defines the op besides its name (an einsum's equation, an axis, an exponent, a slope, a kink
      /// convention), as (key, value) pairs: a traced program records them.
      Attributes: (string * obj) list }

[<RequireQualifiedAccess>]
module Value =

    let mutable private lastTag = 0L

    /// The tags of the transforms running now: a value carrying any other tag escaped a transform that returned.
    let private live = Collections.Concurrent.ConcurrentDictionary<int64, byte>()

    /// A fresh perturbation tag (thread-safe, strictly increasing), live until `endTag`.
    let internal newTag () =
        let t = Interlocked.Increment(&lastTag)
        live.[t] <- 0uy
        t

    /// The transform of tag t has returned: its values may no longer take part in an op.
    let internal endTag (t: int64) = live.TryRemove t |> ignore

    let internal isLive (t: int64) = live.ContainsKey t

    /// The error for a value of a transform that has returned, used in an op or returned by another transform.
    let internal escaped () : exn =
        InvalidOperationException("A value of a transform that has already returned (grad, vjp, jvp, hessian, …) was used: it escaped its function, e.g. through a variable the function assigned. Inside a transform, use only its inputs, values made from them and constants; outside, use the transform's results.")

    let constant (t: Tensor) = if isNull (box t) then nullArg "t" else Const t
    let scalar (v: double) = Const(Tensor.scalar v)
    let tensor (v: Value) = v.Tensor

    /// Lets a value's tensors outlive `scope` (its primal and any forward tangents; a reverse-mode node's
    /// graph is not kept, so pulling back through it after the scope throws ObjectDisposedException).
    let keep (scope: TensorScope) (v: Value) =
        let pending = Collections.Generic.Stack<Value>()
        pending.Push v
        while pending.Count > 0 do
            match pending.Pop() with
            | Const t -> scope.Keep t |> ignore
            | Forward (p, t, _) -> pending.Push p; pending.Push t
            | Reverse (p, _, _) -> pending.Push p
        v
    let shape (v: Value) = v.Tensor.Shape

    let internal tag (v: Value) =
        match v with
        | Const _ -> 0L
        | Forward (_, _, t) -> t
        | Reverse (_, _, t) -> t

    /// The value with perturbation `t` removed (unchanged if it does not carry `t` on top).
    let internal primalAt (t: int64) (v: Value) =
        match v with
        | Forward (p, _, t') when t' = t -> p
        | Reverse (p, _, t') when t' = t -> p
        | _ -> v

/// One application of an op to plain tensors, as the tracer records it.
type internal TraceEntry = { Op: Op; Inputs: Tensor[]; Output: Tensor }

/// The tracer: while a list is installed in this execution context, every op applied to plain tensors (the
/// forward pass and, since VJP rules are ops, the gradient pass) is appended to it in program order.
module internal Tracing =
    let current = Threading.AsyncLocal<Collections.Generic.List<TraceEntry>>()

/// The one op the transform machinery needs before the op library: addition of equal shapes.
module internal Basic =
    let addSame : Op =
        { Name = "add"
          Forward = (fun xs -> Tensor.add xs.[0] xs.[1])
          Vjp = (fun _ _ adj _ -> adj)
          Jvp = (fun _ _ _ t -> t)
          Attributes = [] }

[<Sealed>]
type internal RegionVjp(vjp: Value[] -> Value -> Value -> int -> Value, add: Tensor -> int -> double[] -> unit) =
    inherit OptimizedClosures.FSharpFunc<Value[], Value, Value, int, Value>()
    override _.Invoke(xs: Value[], out: Value, adj: Value, i: int) = vjp xs out adj i
    override _.Invoke(xs: Value[]) : Value -> Value -> int -> Value = vjp xs
    member _.Add(adj: Tensor, i: int, acc: double[]) = add adj i acc
    static member AsVjp(vjp: Value[] -> Value -> Value -> int -> Value, add: Tensor -> int -> double[] -> unit) : Value[] -> Value -> Value -> int -> Value =
        // F# function types admit no subtypes statically; at run time this one is a function like any other.
        unbox (box (RegionVjp(vjp, add)))

/// The JVP of an op with many inputs (a stack, a sum of regions) given the tangents of all its inputs at once (null
/// for an input that has none), for one result: a part per input, each of the whole output's size, would cost k
/// times the output for k perturbed inputs. Its per-input form answers anywhere a single input's part is asked.
[<Sealed>]
type internal WholeJvp(jvp: Value[] -> Value -> int -> Value -> Value, whole: Value[] -> Value -> Value[] -> Value) =
    inherit OptimizedClosures.FSharpFunc<Value[], Value, int, Value, Value>()
    override _.Invoke(xs: Value[], out: Value, i: int, t: Value) = jvp xs out i t
    override _.Invoke(xs: Value[]) : Value -> int -> Value -> Value = jvp xs
    member _.Whole(xs: Value[], out: Value, tangents: Value[]) = whole xs out tangents
    static member AsJvp(jvp: Value[] -> Value -> int -> Value -> Value, whole: Value[] -> Value -> Value[] -> Value) : Value[] -> Value -> int -> Value -> Value =
        unbox (box (WholeJvp(jvp, whole)))

[<RequireQualifiedAccess>]
module Op =

    /// A JVP's result for input i (−1: for all its inputs at once), refused when null or not shaped as the output;
    /// the message is made only then.
    let private whichInput (i: int) = if i < 0 then "its inputs" else sprintf "input %d" i

    let private checkTangent (op: Op) (out: Value) (part: Value) (i: int) =
        if isNull (box part) then invalidArg "jvp" (sprintf "The JVP of op '%s' for %s returned null." op.Name (whichInput i))
        if not (Shape.same part.Tensor.ShapeArray out.Tensor.ShapeArray) then
            raise (Functional.ShapeException(sprintf "The JVP of op '%s' for %s has shape %s; the output has shape %s." op.Name (whichInput i) (Shape.show part.Tensor.ShapeArray) (Shape.show out.Tensor.ShapeArray), "jvp"))

    /// Applies an op: plain tensors when nothing is perturbed; otherwise the primal one level down,
    /// plus the tangent (forward) or a graph node (reverse) at the highest tag present.
    let rec apply (op: Op) (args: Value[]) : Value =
        // Loops, not Array.fold/map with closures: this runs for every op on every call.
        let mutable top = 0L
        for a in args do top <- max top (Value.tag a)
        if top = 0L then
            let tensors = Array.zeroCreate args.Length
            for i in 0 .. args.Length - 1 do
                tensors.[i] <- (match args.[i] with Const t -> t | a -> a.Tensor)
            let trace = Tracing.current.Value
            let scope = Storage.current.Value
            let scopeOpen = not (isNull scope) && not scope.Ended
            // A program records the inputs as they were given: a forward (a user's) may write into its array.
            let recorded = if isNull trace then null else Array.copy tensors
            let out =
                // Outermost on this thread, its result may be recycled once unreachable.
                Tensor.outermost (fun () ->
                    if isNull trace then op.Forward tensors
                    else
                        // A forward written with ops (a custom op's) is one operation of the program, not its insides.
                        Tracing.current.Value <- null
                        try op.Forward tensors finally Tracing.current.Value <- trace)
            if isNull (box out) then invalidArg "op" (sprintf "The forward of op '%s' returned null; it must return a tensor." op.Name)
            // An input released while the op read it may have lent its array to another tensor: fail, never
            // return a value computed from that tensor's data.
            for t in (if isNull recorded then tensors else recorded) do t.CheckLive()
            // The scope the op ran in, ended meanwhile on another thread, may have pooled the op's own temporaries
            // while it read them (a result made after the end is plain and live): refused, as a released input is.
            if scopeOpen && scope.Ended then
                raise (ObjectDisposedException("TensorScope", sprintf "The TensorScope that op '%s' ran in ended while it ran, so memory it was reading may have been reused; end a scope only after the work inside it is done." op.Name))
            if isNull trace then Const out
            else
                // A program names values by tensor identity: an op that returns one of its inputs (x·1 is x) gets a
                // tensor of its own over the same elements, or the replay would take the input for the result.
                let out = if Array.exists (fun t -> obj.ReferenceEquals(t, out)) recorded then Tensor.reshape out.ShapeArray out else out
                // Ops a traced function runs on other threads append here too.
                lock trace (fun () -> trace.Add { Op = op; Inputs = recorded; Output = out })
                Const out
        else
            // A value whose transform has returned would be differentiated by nobody (a silent zero) and keep its
            // graph alive, nesting deeper with every later op.
            if not (Value.isLive top) then raise (Value.escaped ())
            let primals = Array.zeroCreate args.Length
            for i in 0 .. args.Length - 1 do primals.[i] <- Value.primalAt top args.[i]
            // Recursion depth here is the nesting depth of transforms, not the graph depth.
            let out = apply op primals
            let mutable isForward = false
            for a in args do
                match a with
                | Forward (_, _, tg) when tg = top -> isForward <- true
                | _ -> ()
            match box op.Jvp with
            | :? WholeJvp as whole when isForward ->
                let tangents = args |> Array.map (fun a -> match a with Forward (_, t, tg) when tg = top -> t | _ -> Unchecked.defaultof<Value>)
                let tangent = whole.Whole(primals, out, tangents)
                checkTangent op out tangent -1
                Forward(out, tangent, top)
            | _ ->
            if isForward then
                let mutable tangent = None
                for i in 0 .. args.Length - 1 do
                    match args.[i] with
                    | Forward (_, t, tg) when tg = top ->
                        let part = op.Jvp primals out i t
                        checkTangent op out part i
                        tangent <- Some(match tangent with None -> part | Some acc -> apply Basic.addSame [| acc; part |])
                    | _ -> ()
                Forward(out, tangent.Value, top)
            // The node keeps its own copy of the inputs: the caller's array (a stack's or a join's, a user's) may be
            // reused after the call, and the backward pass walks these.
            else Reverse(out, Node(op, Array.copy args, primals, out), top)

    /// Defines an op from its three parts: the general form of an op (docs/ARCHITECTURE.md, "Add an op").
    let create (name: string) (forward: Tensor[] -> Tensor) (vjp: Value[] -> Value -> Value -> int -> Value) (jvp: Value[] -> Value -> int -> Value -> Value) =
        { Name = name; Forward = forward; Vjp = vjp; Jvp = jvp; Attributes = [] }

    /// A function of its inputs' values with no derivative (a sign, a mask): its result is a constant, yet a traced
    /// program records it as op `name` computed from the inputs, so a replay checks it and the program recomputes it
    /// instead of carrying the value it had when traced.
    let internal constantResult (name: string) (attributes: (string * obj) list) (forward: Tensor[] -> Tensor) (xs: Value[]) =
        let zeros (v: Value) = Const(Tensor.zeros v.Tensor.ShapeArray)
        // A value of a transform that has returned is refused here as in any op.
        for x in xs do
            let t = Value.tag x
            if t <> 0L && not (Value.isLive t) then raise (Value.escaped ())
        apply { create name forward (fun xs _ _ i -> zeros xs.[i]) (fun _ out _ _ -> zeros out) with Attributes = attributes } (xs |> Array.map (fun x -> Const x.Tensor))

    /// The op with the attributes that define it besides its name, for traced programs.
    let withAttributes (attributes: (string * obj) list) (op: Op) = { op with Attributes = attributes }

    /// One attribute value as a traced program prints it: numbers round-trip, strings quoted, arrays bracketed.
    let rec private showValue (value: obj) =
        match value with
        | :? string as s -> "\"" + s + "\""
        | :? float as d -> d.ToString("R", Globalization.CultureInfo.InvariantCulture)
        | :? bool as b -> if b then "true" else "false"
        // An op held as an attribute (the readers of a region sum): its name and attributes, as a program line shows them.
        | :? Op as op ->
            op.Name + (if op.Attributes.IsEmpty then "" else "[" + String.Join(", ", op.Attributes |> List.map (fun (k, v) -> k + "=" + showValue v)) + "]")
        | :? Collections.IEnumerable as e -> "[" + String.Join(", ", Seq.cast<obj> e |> Seq.map showValue) + "]"
        | v -> Convert.ToString(v, Globalization.CultureInfo.InvariantCulture)

    /// The op's attributes as (key, printed value) pairs, in order.
    let showAttributes (op: Op) = op.Attributes |> List.map (fun (k, v) -> k, showValue v)

    /// An elementwise op y = f(x) from a whole-tensor forward kernel and `scaled x y g` = g·f'(x) as one
    /// differentiable value (usually a `scaled` op). An elementwise Jacobian is diagonal, so that one function is
    /// both the VJP (g an adjoint) and the JVP (g a tangent).
    let rec elementwise (name: string) (forward: Tensor -> Tensor) (scaled: Value -> Value -> Value -> Value) (x: Value) : Value =
        elementwiseWith name [] forward scaled x

    /// `elementwise` with the attributes that define the op besides its name.
    and elementwiseWith (name: string) (attributes: (string * obj) list) (forward: Tensor -> Tensor) (scaled: Value -> Value -> Value -> Value) (x: Value) : Value =
        apply
            { Name = name
              Forward = (fun xs -> forward xs.[0])
              Vjp = (fun xs out adj _ -> scaled xs.[0] out adj)
              Jvp = (fun xs out _ t -> scaled xs.[0] out t)
              Attributes = attributes }
            [| x |]

    /// The derivative half of an elementwise op as one op of (v, g): `value v g` its forward kernel (g·f'(x) from
    /// v, which is x or the op's output), `inV v g h` its derivative in v along h. It is linear in g, so its
    /// derivative in g is this op again: derivatives of every order follow.
    let rec scaled (name: string) (value: Tensor -> Tensor -> Tensor) (inV: Value -> Value -> Value -> Value) (v: Value) (g: Value) : Value =
        scaledWith name [] value inV v g

    /// `scaled` with the attributes that define the op besides its name.
    and scaledWith (name: string) (attributes: (string * obj) list) (value: Tensor -> Tensor -> Tensor) (inV: Value -> Value -> Value -> Value) (v: Value) (g: Value) : Value =
        apply
            { Name = name
              Forward = (fun xs -> value xs.[0] xs.[1])
              Vjp = (fun xs _ adj i -> if i = 0 then inV xs.[0] xs.[1] adj else scaledWith name attributes value inV xs.[0] adj)
              Jvp = (fun xs _ i t -> if i = 0 then inV xs.[0] xs.[1] t else scaledWith name attributes value inV xs.[0] t)
              Attributes = attributes }
            [| v; g |]

