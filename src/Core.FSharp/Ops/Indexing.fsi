namespace Functional.Core

/// <summary>
/// Slicing, joining and gathering along one axis (negative axes count from the end). Each op's derivative is
/// another op of this module: a slice's is a zero-padded write, a gather's a scatter-add, a join's the slices that
/// undo it; so every order follows. The ops keep their own copy of an index array; a large one (16,384 entries or
/// more) is copied once per array passed and compared with that copy on later calls, copied again if it changed.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let x = Value.constant (Tensor.random 1 [| 4; 3 |])
/// let rows = Indexing.narrow 0 1 2 x                        // rows 1 and 2: shape [2; 3]
/// let g = Autodiff.grad (fun v -&gt; Reduction.sum (Indexing.narrow 0 1 2 v)) x
/// // g is 1 on rows 1 and 2 and 0 elsewhere: the adjoint written back into zeros
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Indexing =

    /// Elements start .. start + length − 1 along `axis` (a negative axis or start counts from the end, as
    /// torch.narrow's). VJP: the adjoint written into zeros at the same place (`pad`). JVP: the tangent's slice.
    /// Out-of-range elements and a negative length are refused (ShapeException).
    val narrow: axis: int -> start: int -> length: int -> x: Value -> Value

    /// x written into zeros of length `size` along `axis`, from `start`. VJP: the adjoint's slice (`narrow`).
    val pad: axis: int -> start: int -> size: int -> x: Value -> Value

    /// The values joined along `axis`; all other dimensions must agree. VJP for input i: its slice of the
    /// adjoint. JVP: the tangent written at input i's place.
    val concat: axis: int -> xs: Value array -> Value

    /// Same-shaped values stacked along a new axis at `axis` (0 .. rank): `unsqueeze` each, then `concat`.
    val stack: axis: int -> xs: Value array -> Value

    /// x with a new axis of length 1 at `axis` (0 .. rank). Its derivative is the reshape back.
    val unsqueeze: axis: int -> x: Value -> Value

    /// x without the listed axes of length 1 (every axis of length 1 when none is listed).
    val squeeze: axes: int array -> x: Value -> Value

    /// The entries at `indices` along `axis`, in that order (repeats allowed): a gather of whole slices. VJP: the
    /// adjoint's slices added back at their indices (`indexAdd`, a scatter-add). JVP: the tangent's entries.
    val indexSelect: axis: int -> indices: int array -> x: Value -> Value

    /// Zeros of length `size` along `axis`, with slice k of x added at indices[k] (a scatter-add). VJP: the
    /// adjoint's entries at `indices` (`indexSelect`).
    val indexAdd: axis: int -> indices: int array -> size: int -> x: Value -> Value

    /// out[p] = x[p with its `axis` coordinate replaced by index[p]] for every position p of the index (shape
    /// `indexShape`, x's rank, no larger than x off the axis): PyTorch's gather. VJP: the adjoint added back at the
    /// positions read (`scatterAdd`). JVP: the tangent gathered.
    val gather: axis: int -> index: int array -> indexShape: int array -> x: Value -> Value

    /// `gather` taking `index` as its own, without the copy (the facade's, whose index array is made for the call).
    val internal gatherOwned: axis: int -> index: int array -> indexShape: int array -> x: Value -> Value

    /// Zeros of `shape` with x[p] added at p's position with its `axis` coordinate replaced by index[p] (x shaped as
    /// the index): PyTorch's scatter_add into zeros. VJP: the adjoint gathered (`gather`).
    val scatterAdd: axis: int -> index: int array -> shape: int array -> x: Value -> Value

    /// `scatterAdd` taking `index` as its own, without the copy.
    val internal scatterAddOwned: axis: int -> index: int array -> shape: int array -> x: Value -> Value

    /// x reversed along `axis`. VJP and JVP: the same reversal.
    val flip: axis: int -> x: Value -> Value

    /// whenTrue where condition ≠ 0, else whenFalse, all three broadcast together. The condition is a mask: no
    /// gradient flows into it. VJP: the adjoint where each side was taken (summed over broadcast dimensions).
    val where: condition: Value -> whenTrue: Value -> whenFalse: Value -> Value
