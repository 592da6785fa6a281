namespace Functional.Core

/// <summary>
/// Softmax and log-softmax along an axis, shifted by the maximum so nothing overflows.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let logits = Value.constant (Tensor.random 1 [| 4; 10 |])
/// let logp = Softmax.logSoftmax 1 logits                     // exact to a few ulp at any magnitude
/// let p = Softmax.softmax -1 logits
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Softmax =

    /// Log-softmax's VJP as one op, z = g − e^y·Σg from its output y and an adjoint g, so that along the last axis
    /// it is one pass per row (`SoftmaxVector.logSoftmaxVjpRows`, bit-identical to the separate passes, tested)
    /// and still differentiable: VJP ȳ = −u·e^y·Σg, ḡ = u − Σ(u·e^y); JVP dg − e^y·(dy·Σg + Σdg).
    val internal logSoftmaxVjp: axis: int -> y: Value -> g: Value -> Value

    /// log softmax(x) = (x − m) − ln Σe^(x − m) along `axis`, m the maximum (exact to a few ulp at any magnitude). VJP: adj − softmax·Σadj.
    /// JVP: t − Σ(softmax·t).
    val logSoftmax: axis: int -> x: Value -> Value

    /// Softmax's VJP as one op, z = y·(g − Σ(g·y)) from its output y and an adjoint g, so that along the last
    /// axis it is one pass per row (`Reductions.softmaxVjpRows`, bit-identical to the four separate passes, tested) and
    /// still differentiable: VJP ȳ = u·(g − Σ(g·y)) − g·Σ(u·y), ḡ = y·(u − Σ(u·y)) (this op again);
    /// JVP dy·(g − Σ(g·y)) − y·Σ(g·dy) + y·(dg − Σ(dg·y)).
    val internal softmaxVjp: axis: int -> y: Value -> g: Value -> Value

    /// softmax(x) along `axis` = e/Σe with e = e^(x − max). VJP: y·(adj − Σ(adj·y)). JVP: y·(t − Σ(y·t)).
    val softmax: axis: int -> x: Value -> Value

    /// log softmax(x)[r, labels[r]] for each row r of a matrix x [N, C]: the entries a cross-entropy with class labels
    /// reads, with the bits of those entries of `logSoftmax 1 x` (one pass per row; the log-softmax is never written).
    /// VJP `labelledLogSoftmaxVjp`: a·(onehot − softmax(x)) row by row. JVP: t at the label − Σ softmax(x)·t.
    /// ShapeException unless x is a matrix with one label per row; ArgumentOutOfRangeException for a label outside
    /// 0 .. C − 1.
    val internal labelledLogSoftmax: labels: int array -> x: Value -> Value

    /// `labelledLogSoftmax`'s VJP as one op, z = a·(onehot − softmax(x)) row by row for an adjoint a [N]: the bits of
    /// `logSoftmaxVjp` given the log-softmax and a scattered into zeros, in one pass per row. Differentiable again:
    /// through x −a·J·v (J the softmax's Jacobian), through a the labelled entry of v less Σ softmax(x)·v for an
    /// adjoint, this op for a tangent.
    val internal labelledLogSoftmaxVjp: labels: int array -> x: Value -> a: Value -> Value
