namespace Functional.Core

/// The extended contraction form every einsum, and every derived gradient, is expressed in.
/// Labels are ints (letters 0..51, ellipsis dimensions 52..). Semantics:
///   Out[o] = Σ over all labels not fixed by o of Π_k In_k[labels_k]
/// where an input label repeated is a diagonal read, an output label repeated is a diagonal write
/// (off-diagonal entries are 0) and an output label no input has is a broadcast.
/// That makes the gradient rule closed: the gradient of operand k is the contraction of the
/// output gradient (labels = Output) with the other inputs, written to Inputs.[k].
type Contraction =
    {
      Inputs: int array array
      Output: int array

      /// Size of each label, indexed by label id (-1 where unknown, in symbolic contractions).
      Sizes: int array
    }

/// An einsum equation bound to operand shapes.
type BoundEinsum =
    {
      Spec: EinsumSpec
      Contraction: Contraction

      /// Shapes as given.
      InputShapes: int array array

      /// Shapes after dropping size-1 dimensions that broadcast against a larger size.
      SqueezedShapes: int array array
      OutputShape: int array
    }

/// <summary>
/// The index-set gradient rule on the closed internal form of an einsum: the gradient of an operand is again a
/// contraction (of the output gradient with the other operands), so gradients of gradients are contractions too.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let c = (Einsum.bind "ij,jk-&gt;ik" [| [| 2; 3 |]; [| 3; 4 |] |]).Contraction
/// let gA = Contraction.gradient c 0                         // "ik,jk-&gt;ij": the gradient is a contraction
/// let gAA = Contraction.gradient gA 0                       // and so is its gradient
/// printfn "%s" (Contraction.show gA)
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Contraction =

    /// Label ids: a-z 0..25, A-Z 26..51, ellipsis dimensions from 52.
    val internal ellipsisBase: int

    val internal labelOf: c: char -> int

    val internal letterOf: l: int -> char

    /// Readable name of a label id: a letter, or "…n" for the n-th ellipsis dimension.
    val labelName: l: int -> string

    /// Refuses (ArgumentException naming `name`) a record with a null part, a label outside `Sizes`, or, with
    /// `sized`, a used label of unknown or negative size.
    val internal check: name: string -> sized: bool -> c: Contraction -> unit

    /// The contraction that computes the gradient of input k from the output gradient and the other inputs.
    val gradient: c: Contraction -> k: int -> Contraction

    /// Output shape of a contraction with known sizes.
    val outputShape: c: Contraction -> int array

    val show: c: Contraction -> string

    /// Binds a parsed equation to operand shapes, validating ranks and label sizes.
    val internal bind: spec: EinsumSpec -> shapes: int array array -> BoundEinsum

    /// The equation as a contraction with no sizes: '...' becomes the single pseudo-label 52.
    /// Used for symbolic derivations, which do not depend on shapes.
    val internal symbolic: spec: EinsumSpec -> Contraction
