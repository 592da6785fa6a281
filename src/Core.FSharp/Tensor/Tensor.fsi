namespace Functional.Core

/// A vectorised kernel over two input spans into an output span (same lengths).
type internal SpanZip =
    delegate of System.ReadOnlySpan<double> * System.ReadOnlySpan<double> *
                System.Span<double> -> unit

/// A vectorised kernel over one input span into an output span.
type internal SpanMap =
    delegate of System.ReadOnlySpan<double> * System.Span<double> -> unit

/// An immutable dense float64 tensor, row-major, of any rank (rank 0 is a scalar). One made inside a
/// TensorScope is released when the scope ends (see TensorScope).
/// Structural equality: the same shape and the same elements bit for bit, except that every NaN equals every NaN
/// (+0 and −0 differ); the hash reads the shape and the first 16 elements. Printed (`ToString`) as nested rows,
/// each element in the shortest text that reads back as the same double; more than 1,000 elements elided.
[<Sealed>]
type Tensor =
    interface IScoped

    static member
      internal Of: shape: int array * data: double array -> Tensor

    static member
      internal Of: shape: int array * data: double array * fill: double ->
                     Tensor

    /// A view of `source` over `shape`: element idx is source's row-major element offset + Σ idx·strides (stride 0
    /// along broadcast axes), not made until read.
    static member
      internal OfView: shape: int array * source: Tensor * offset: int * strides: int array -> Tensor

    /// The tensor this one views, the offset and the strides into its elements, while this one is not made.
    member internal ViewOf: struct (Tensor * int * int array) voption

    /// Throws ObjectDisposedException if the tensor has been released. Called after a read has used the elements:
    /// a read racing the end of the tensor's scope may have seen the array after the pool handed it to another
    /// tensor, and must fail rather than return that tensor's values. (The release is published under the pool's
    /// lock before the array can be handed on; the barrier orders this check after the reads it guards.)
    member internal CheckLive: unit -> unit

    override Equals: o: obj -> bool

    override GetHashCode: unit -> int

    /// A row-major copy of the elements.
    member ToArray: unit -> double array

    override ToString: unit -> string

    member internal Data: double array

    /// The array, or null while it is not made (a uniform tensor, a view) or after a release.
    member internal RawData: double array

    /// Whether `other` has this shape and every element pair is `same` (nothing is made to compare).
    member internal SameElements: other: Tensor * same: System.Func<double, double, bool> -> bool

    /// Element `flat` (row-major) without making an array: a uniform tensor's value, or a view's element read from
    /// its source.
    member internal ElementAt: flat: int -> double

    /// That value, for a uniform tensor.
    member internal Fill: double

    /// Whether the scope this tensor was made in has ended (then every read throws ObjectDisposedException).
    member IsReleased: bool

    /// Whether every element is known to equal one value (without reading the elements).
    member internal IsUniform: bool

    /// Element at a full index.
    member Item: index: int array -> double with get

    member Numel: int

    member Rank: int

    /// The shape (a fresh copy).
    member Shape: int array

    member internal ShapeArray: int array

and [<Class>] internal TensorFormat =

    /// The tensor as text, NumPy-like, each element in the shortest text that reads back as the same double: past
    /// 1,000 elements each long axis shows its first and last 3 entries (its first and last one, if that still leaves
    /// more than 1,000). `element` reads one element by its row-major position (only those shown are read).
    static member format: shape: int array -> element: (int -> double) -> string

    /// Every NaN equal to every NaN, otherwise the same bits: the core's structural equality.
    static member SameBitsOrNaN: System.Func<double, double, bool>

/// Memory reuse for loops of same-shaped work (the counterpart of TorchSharp's dispose scopes). While a scope
/// is open in an execution context (it flows into tasks and Parallel loops started in it), large results come
/// from a pool; when it ends, every tensor made in it is released (reading one then throws
/// ObjectDisposedException) and its memory is reused by later scopes. Keep the results you need with `Keep`.
/// Scopes nest: a kept tensor moves to the enclosing scope, or to the GC when there is none.
[<Sealed>]
type TensorScope =
    interface System.IDisposable

    internal new: state: ScopeState -> TensorScope

    /// Ends the scope: releases its tensors and returns their memory to the pool. Ending twice does nothing.
    member Dispose: unit -> unit

    /// Lets `t` outlive this scope (it joins the enclosing scope, if any) and returns it; a tensor made in a
    /// scope opened inside this one and still open moves out the same way. A tensor made before the scope opened
    /// is returned unchanged. Throws ObjectDisposedException after the scope ended.
    member Keep: t: Tensor -> Tensor

    member internal State: ScopeState

/// <summary>
/// Creation, access and layout of raw tensors. Every function returns a new tensor.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let a = Tensor.create [| 2; 3 |] [| 1.0; 2.0; 3.0; 4.0; 5.0; 6.0 |]
/// let b = Tensor.random 7 [| 3; 2 |]                     // standard normal, seeded
/// let c = Tensor.add a (Tensor.ones [| 1; 3 |])          // NumPy broadcasting
/// use scope = Tensor.scope ()                              // pooled memory for a loop body
/// printfn "%O %f" (Tensor.transpose c) (Tensor.item (Tensor.sum b))
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Tensor =

    /// Opens a TensorScope in the current execution context: results made until it is disposed reuse pooled
    /// memory and are released when it ends (`use scope = Tensor.scope ()`; keep results with `scope.Keep`).
    val scope: unit -> TensorScope

    val internal wrap: shape: int array -> data: double array -> Tensor

    /// `wrap` for an intermediate that an op's pullback keeps beyond its forward (Storage.keepIntermediate): made
    /// outside every scope, its array is recycled once the pullback and the tensor are unreachable.
    val internal wrapKept: shape: int array -> data: double array -> Tensor

    /// Runs a raw function as an op's forward runs: called from outside every op, its result may be recycled
    /// once unreachable.
    val inline internal outermost: [<InlineIfLambda>] f: (unit -> Tensor) -> Tensor

    /// A tensor from row-major values; the values are copied.
    val create: shape: int array -> values: double array -> Tensor

    val scalar: v: double -> Tensor

    /// Every element v; the array is made on first read.
    val full: shape: int array -> v: double -> Tensor

    val zeros: shape: int array -> Tensor

    val ones: shape: int array -> Tensor

    val init: shape: int array -> f: (int -> double) -> Tensor

    val vector: values: double array -> Tensor

    /// Entries uniform in [low, high) from a seeded generator; finite low ≤ high, checked by the caller.
    val internal uniform: seed: int -> low: float -> high: float -> shape: int array -> Tensor

    /// Standard normal entries from a seeded generator (Box–Muller over `SeededUniforms`; every seed, negative ones
    /// included, gives its own values, the same on every machine up to the platform's log, sin and cos).
    val random: seed: int -> shape: int array -> Tensor

    val shape: t: Tensor -> int array

    val rank: t: Tensor -> int

    val numel: t: Tensor -> int

    val toArray: t: Tensor -> double array

    val get: index: int array -> t: Tensor -> double

    /// The single value of a tensor with one element.
    val item: t: Tensor -> double

    /// Same elements, new shape; one dimension may be -1 (inferred).
    val reshape: shape: int array -> t: Tensor -> Tensor

    /// Axis i of the result is axis perm.[i] of the input.
    val permute: perm: int array -> t: Tensor -> Tensor

    /// Reverses the axes.
    val transpose: t: Tensor -> Tensor

    /// NumPy broadcast to `shape`.
    val broadcastTo: shape: int array -> t: Tensor -> Tensor

    /// Elements start .. start + length − 1 along `axis` (checked by the caller), as a view of t's elements: made
    /// only when read, and read in place by the broadcasting operators.
    val internal narrowView: axis: int -> start: int -> length: int -> t: Tensor -> Tensor

    /// t's elements written to dst at dstOff + Σ idx·dstStrides, read where they are: a view's from its source, a
    /// uniform tensor's value, without making an array for t.
    val internal copyInto: t: Tensor -> dst: double array -> dstOff: int -> dstStrides: int array -> unit

    /// `copyInto`, the runs contiguous on both sides written around the caches when `stream` (a new result's array
    /// outside every scope, in no cache).
    val internal copyIntoStreaming: stream: bool -> t: Tensor -> dst: double array -> dstOff: int -> dstStrides: int array -> unit

    /// t's elements added to dst at dstOff + Σ idx·dstStrides (one addition each), read where they are.
    val internal addInto: t: Tensor -> dst: double array -> dstOff: int -> dstStrides: int array -> unit


    /// Sum over the given axes (normalised, duplicates rejected); keepDims keeps them as size 1.
    val sumAxes: axes: int array -> keepDims: bool -> t: Tensor -> Tensor

    /// Sums a broadcast result back to `shape` (the adjoint of broadcastTo).
    val sumTo: shape: int array -> t: Tensor -> Tensor

    val sum: t: Tensor -> Tensor

    /// Elementwise map with `f` inlined into the loop (no call per element when `f` is a lambda or a
    /// named function); large tensors are split over the cores (each element is independent).
    val inline internal mapInline:
      [<InlineIfLambda>] f: (double -> double) -> t: Tensor -> Tensor

    /// Elementwise map; large tensors are split over the cores (each element is independent).
    val map: f: (double -> double) -> t: Tensor -> Tensor

    /// Elementwise binary map with NumPy broadcasting, `f` inlined into the same-shape loop; large
    /// same-shaped tensors are split over the cores.
    val inline internal map2Inline:
      [<InlineIfLambda>] f: (double -> double -> double) ->
        a: Tensor -> b: Tensor -> Tensor

    /// Elementwise binary map with NumPy broadcasting; large same-shaped tensors are split over the cores.
    val map2:
      f: (double -> double -> double) -> a: Tensor -> b: Tensor -> Tensor

    val add: a: Tensor -> b: Tensor -> Tensor

    val sub: a: Tensor -> b: Tensor -> Tensor

    /// a·b elementwise. A uniform factor of 1 (a sum's adjoint, say) returns the other operand itself:
    /// x·1 = x exactly, and tensors are immutable, so sharing is safe.
    val mul: a: Tensor -> b: Tensor -> Tensor

    val div: a: Tensor -> b: Tensor -> Tensor

    val neg: t: Tensor -> Tensor

    val scale: k: double -> t: Tensor -> Tensor

    /// √x elementwise, vectorised (IEEE square roots are correctly rounded, so the same bits as Math.Sqrt; the
    /// scalar loop took 2.5 ns per element, the vector one 0.6).
    val internal sqrtElements: t: Tensor -> Tensor

    /// Σ a·b over all elements of same-shaped tensors: the same bits as sum (mul a b), its error growing like log n.
    val dot: a: Tensor -> b: Tensor -> float

    /// a − b, 0 wherever they are equal (equal infinities too): the change between two evaluations.
    val internal difference: a: Tensor -> b: Tensor -> Tensor

    /// Largest |a-b| over same-shaped tensors (NaN if either has NaN at a place; equal infinities differ by 0).
    val maxAbsDiff: a: Tensor -> b: Tensor -> float

    /// Whether a is close to the reference b: |a − b| ≤ atol + rtol·|b|, an infinity equal only to itself (the bound
    /// atol + rtol·∞ would admit any value), NaN to nothing. The one rule of every comparison the library checks by.
    val internal closeTo: rtol: double -> atol: double -> a: double -> b: double -> bool

    /// True when every element of a is `closeTo` b's (shapes must be equal), as NumPy's and PyTorch's allclose.
    /// ArgumentException for a negative or NaN tolerance.
    val allClose:
      rtol: double -> atol: double -> a: Tensor -> b: Tensor -> bool
