namespace Functional.Core

/// A differentiable value: a constant tensor, or a primal carrying a forward-mode tangent or a
/// reverse-mode graph node under a perturbation tag. Tags keep nested transforms apart
/// (no perturbation confusion). Reference equality: two values are the same only if they are one object.
[<ReferenceEquality>]
type Value =
    | Const of Tensor
    | Forward of primal: Value * tangent: Value * tag: int64
    | Reverse of primal: Value * node: Node * tag: int64

    override ToString: unit -> string

    member Shape: int array

    /// The innermost tensor (the value with every perturbation stripped).
    member Tensor: Tensor

/// A reverse-mode graph node: the op, its inputs (tagged) and the primals the VJP reads.
and [<Sealed; AllowNullLiteral; Class>] Node =

    internal new: op: Op * inputs: Value array * primals: Value array *
                  output: Value -> Node

    member Inputs: Value array

    member Op: Op

    member Output: Value

    member Primals: Value array

/// A differentiable op: its forward function and its derivative rules side by side.
/// The rules are written with differentiable values, so derivatives of any order follow.
and [<NoEquality; NoComparison>] Op =
    {
      Name: string

      /// The value on plain tensors.
      Forward: (Tensor array -> Tensor)

      /// VJP for input i: (inputs, output, output adjoint, i) -> adjoint of input i.
      Vjp: (Value array -> Value -> Value -> int -> Value)

      /// JVP for input i: (inputs, output, i, tangent of input i) -> that input's part of the output tangent.
      Jvp: (Value array -> Value -> int -> Value -> Value)

      /// What else defines the op besides its name (an einsum's equation, an axis, an exponent, a slope, a kink
      /// convention), as (key, value) pairs: a traced program records them.
      Attributes: (string * obj) list
    }

/// <summary>
/// The Value functions.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let x = Value.constant (Tensor.vector [| 1.0; 2.0 |])
/// let y = Arithmetic.mul x x                                // a constant in, a constant out
/// let t = Value.tensor y                                    // [1; 4]
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Value =

    /// A fresh perturbation tag (thread-safe, strictly increasing), live until `endTag`.
    val internal newTag: unit -> int64

    /// The transform of tag t has returned: a value carrying t in an op (or returned by another transform) is an
    /// escaped value, refused with `escaped ()`.
    val internal endTag: t: int64 -> unit

    val internal isLive: t: int64 -> bool

    /// InvalidOperationException: a value of a transform that has returned was used.
    val internal escaped: unit -> exn

    /// A constant (no perturbation). A null tensor is refused (ArgumentNullException).
    val constant: t: Tensor -> Value

    val scalar: v: double -> Value

    val tensor: v: Value -> Tensor

    /// Lets a value's tensors outlive `scope` (its primal and any forward tangents; a reverse-mode node's
    /// graph is not kept, so pulling back through it after the scope throws ObjectDisposedException).
    val keep: scope: TensorScope -> v: Value -> Value

    val shape: v: Value -> int array

    val internal tag: v: Value -> int64

    /// The value with perturbation `t` removed (unchanged if it does not carry `t` on top).
    val internal primalAt: t: int64 -> v: Value -> Value

/// One application of an op to plain tensors, as the tracer records it.
type internal TraceEntry = { Op: Op; Inputs: Tensor array; Output: Tensor }

/// The tracer: while a list is installed in this execution context, every op applied to plain tensors (the
/// forward pass and, since VJP rules are ops, the gradient pass) is appended to it in program order.
module internal Tracing =

    val current: System.Threading.AsyncLocal<System.Collections.Generic.List<TraceEntry>>

/// The one op the transform machinery needs before the op library: addition of equal shapes.
module internal Basic =

    val addSame: Op

/// The JVP of an op with many inputs given the tangents of all its inputs at once (null for an input that has none):
/// `Op.apply` asks for it once instead of a part per perturbed input, each of the whole output's size.
[<Sealed; Class>]
type internal WholeJvp =
    inherit OptimizedClosures.FSharpFunc<Value array, Value, int, Value, Value>

    new: jvp: (Value array -> Value -> int -> Value -> Value) * whole: (Value array -> Value -> Value array -> Value) -> WholeJvp

    member Whole: xs: Value array * out: Value * tangents: Value array -> Value

    static member AsJvp:
      jvp: (Value array -> Value -> int -> Value -> Value) * whole: (Value array -> Value -> Value array -> Value) ->
        (Value array -> Value -> int -> Value -> Value)

/// A VJP whose adjoint for an input is the output adjoint placed into zeros of the input's shape: at one region
/// (a slice's, a row's) or added at gathered rows (indexSelect's). Called as a function it gives that padded
/// adjoint like any VJP, which the backward pass takes for an input's first adjoint (zeros and the adjoint written in
/// one pass); a later one it adds into the accumulator it owns (`Add`), so that pieces taken from one tensor cost
/// their own size backward, not the whole tensor's each. The plain VJP must return a new array (an op's result, never
/// the adjoint or a view of it): the pass adds into it in place.
[<Sealed; Class>]
type internal RegionVjp =
    inherit OptimizedClosures.FSharpFunc<Value array, Value, Value, int, Value>

    new: vjp: (Value array -> Value -> Value -> int -> Value) * add: (Tensor -> int -> double array -> unit) -> RegionVjp

    /// Input i's part of the output adjoint `adj` added into `acc`, an array in row-major order over input i's
    /// shape (the values of acc plus the padded adjoint).
    member Add: adj: Tensor * i: int * acc: double array -> unit

    /// The VJP as the function type an op holds.
    static member AsVjp: vjp: (Value array -> Value -> Value -> int -> Value) * add: (Tensor -> int -> double array -> unit) -> (Value array -> Value -> Value -> int -> Value)

/// <summary>
/// The Op functions.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// /// cube(x) = x³; d/dx = 3x²
/// let cube (x: Value) =
///     Op.apply
///         (Op.create "cube"
///             (fun xs -&gt; Tensor.map (fun v -&gt; v * v * v) xs.[0])
///             (fun xs _ g _ -&gt; Arithmetic.mul g (Arithmetic.scale 3.0 (Arithmetic.mul xs.[0] xs.[0])))
///             (fun xs _ _ t -&gt; Arithmetic.mul t (Arithmetic.scale 3.0 (Arithmetic.mul xs.[0] xs.[0]))))
///         [| x |]
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Op =

    /// Applies an op: plain tensors when nothing is perturbed; otherwise the primal one level down,
    /// plus the tangent (forward) or a graph node (reverse) at the highest tag present.
    val apply: op: Op -> args: Value array -> Value

    /// Defines an op from its three parts: the general form of an op (docs/ARCHITECTURE.md, "Add an op").
    val create:
      name: string ->
        forward: (Tensor array -> Tensor) ->
        vjp: (Value array -> Value -> Value -> int -> Value) ->
        jvp: (Value array -> Value -> int -> Value -> Value) -> Op

    /// A function of its inputs' values with no derivative (a sign, a mask): a constant result, recorded in a traced
    /// program as op `name` computed from the inputs (so a replay checks it and a rerun recomputes it).
    val internal constantResult:
      name: string -> attributes: (string * obj) list -> forward: (Tensor array -> Tensor) -> xs: Value array -> Value

    /// An elementwise op y = f(x) from a whole-tensor forward kernel and `scaled x y g` = g·f'(x) as one
    /// differentiable value (usually a `scaled` op). An elementwise Jacobian is diagonal, so that one function is
    /// both the VJP (g an adjoint) and the JVP (g a tangent).
    val elementwise:
      name: string ->
        forward: (Tensor -> Tensor) ->
        scaled: (Value -> Value -> Value -> Value) -> x: Value -> Value

    /// `elementwise` with the attributes that define the op besides its name (an exponent, a slope).
    val elementwiseWith:
      name: string ->
        attributes: (string * obj) list ->
        forward: (Tensor -> Tensor) ->
        scaled: (Value -> Value -> Value -> Value) -> x: Value -> Value

    /// `scaled` with the attributes that define the op besides its name (an exponent, a slope).
    val scaledWith:
      name: string ->
        attributes: (string * obj) list ->
        value: (Tensor -> Tensor -> Tensor) ->
        inV: (Value -> Value -> Value -> Value) -> v: Value -> g: Value -> Value

    /// The op with the attributes that define it besides its name, for traced programs.
    val withAttributes: attributes: (string * obj) list -> op: Op -> Op
    /// The op's attributes as (key, printed value) pairs, in order, as a traced program prints them: numbers
    /// round-trip ("R"), strings quoted, arrays in brackets.
    val showAttributes: op: Op -> (string * string) list

    /// The derivative half of an elementwise op as one op of (v, g): `value v g` its forward kernel (g·f'(x) from
    /// v, which is x or the op's output), `inV v g h` its derivative in v along h. It is linear in g, so its
    /// derivative in g is this op again: derivatives of every order follow.
    val scaled:
      name: string ->
        value: (Tensor -> Tensor -> Tensor) ->
        inV: (Value -> Value -> Value -> Value) ->
        v: Value -> g: Value -> Value
