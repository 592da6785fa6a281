using System;
using System.Linq;
using System.Collections.Generic;
using Core = Functional.Core;

namespace Functional;

/// <summary>
/// An immutable, dense, row-major float64 tensor of any rank (rank 0 is a scalar). Every operation
/// returns a new tensor and is differentiable: inside a function given to <see cref="Autodiff"/>,
/// the same code computes values and gradients. Thread-safe: instances never change. Every member of the library
/// that reads a tensor released by its ended <see cref="TensorScope"/> throws <see cref="ObjectDisposedException"/>
/// (see <see cref="IsReleased"/>); the members' own exception lists leave it out.
/// </summary>
public sealed partial class Tensor
{
    internal Core.Value Value { get; }

    internal Tensor(Core.Value value) => Value = value;

    private static Tensor Of(Core.Tensor t) => new(Core.ValueModule.constant(t));

    // ---- creation ----

    /// <summary>A tensor from row-major values (copied) and a shape.</summary>
    /// <param name="values">Row-major values (copied).</param>
    /// <param name="shape">The shape. None makes a scalar (rank 0) of one value, where NumPy's and PyTorch's
    /// <c>tensor([v])</c> has shape [1]: give 1 for that.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ShapeException">The shape does not hold exactly <c>values.Length</c> elements.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> or <paramref name="shape"/> is
    /// null.</exception>
    public static Tensor FromArray(double[] values, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0 && values.Length != 1)
            throw new ShapeException($"Tensor.FromArray: {values.Length} values need a shape, e.g. FromArray(values, {values.Length}); with no shape the tensor is a scalar and takes 1 value.", nameof(shape));
        return Api.Call("Tensor.FromArray", "values,shape", () => Of(Core.TensorModule.create(shape, values)));
    }

    /// <summary>A rank-0 tensor.</summary>
    /// <param name="value">The value.</param>
    /// <returns>A rank-0 tensor.</returns>
    public static Tensor Scalar(double value) => Of(Core.TensorModule.scalar(value));

    /// <summary>A tensor of zeros, made without its elements: they take memory only when an operation needs them, and
    /// that read is where a shape over <see cref="Limits.MemoryLimitBytes"/> is refused
    /// (<see cref="MemoryLimitException"/>).</summary>
    /// <param name="shape">The shape.</param>
    /// <returns>A tensor of zeros.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    public static Tensor Zeros(params int[] shape) => Api.Call("Tensor.Zeros", "shape", () => Of(Core.TensorModule.zeros(shape ?? throw new ArgumentNullException(nameof(shape)))));

    /// <summary>A tensor of ones, made without its elements: they take memory only when an operation needs them, and
    /// that read is where a shape over <see cref="Limits.MemoryLimitBytes"/> is refused
    /// (<see cref="MemoryLimitException"/>).</summary>
    /// <param name="shape">The shape.</param>
    /// <returns>A tensor of ones.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    public static Tensor Ones(params int[] shape) => Api.Call("Tensor.Ones", "shape", () => Of(Core.TensorModule.ones(shape ?? throw new ArgumentNullException(nameof(shape)))));

    /// <summary>Standard normal entries from a seeded generator (reproducible).</summary>
    /// <param name="seed">The generator's seed: the same seed gives the same values; every seed, negative and
    /// neighbouring ones included, its own (not System.Random's, whose seeds −s and s agree).</param>
    /// <param name="shape">The shape.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    /// <exception cref="MemoryLimitException">The tensor would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Random(int seed, params int[] shape) => Api.Call("Tensor.Random", "shape", () => Of(Core.TensorModule.random(seed, shape ?? throw new ArgumentNullException(nameof(shape)))));

    /// <summary>
    /// Opens a <see cref="TensorScope"/>: until it is disposed, results reuse pooled memory, and when it ends they
    /// are released (keep what you need with <see cref="TensorScope.Keep(Tensor)"/>).
    /// </summary>
    /// <returns>The scope: dispose it to end it.</returns>
    public static TensorScope NewScope() => new(Core.TensorModule.scope());

    /// <summary>Whether this tensor was made in a <see cref="TensorScope"/> that has ended (reading it then throws <see cref="ObjectDisposedException"/>).</summary>
    public bool IsReleased => Value.Tensor.IsReleased;

    // ---- access ----

    /// <summary>The shape.</summary>
    public TensorShape Shape => new(Value.Tensor.Shape);

    /// <summary>The number of dimensions.</summary>
    public int Rank => Value.Tensor.Rank;

    /// <summary>The number of elements.</summary>
    public int Count => Value.Tensor.Numel;

    /// <summary>A row-major copy of the elements.</summary>
    /// <returns>A new row-major array.</returns>
    public double[] ToArray() => Value.Tensor.ToArray();

    /// <summary>The element at a full index, as a number (the indexer <c>t[i, j]</c> gives a tensor, which
    /// gradients flow through).</summary>
    /// <param name="index">The element's position, one index per axis.</param>
    /// <returns>The element.</returns>
    /// <exception cref="ShapeException">The index has the wrong length or is out of range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="index"/> is null.</exception>
    public double ValueAt(params int[] index) => Api.Call("Tensor.ValueAt", "index", () => Value.Tensor[index ?? throw new ArgumentNullException(nameof(index))]);

    /// <summary>The value of a one-element tensor.</summary>
    /// <returns>The single element.</returns>
    /// <exception cref="ShapeException">The tensor does not have exactly one element.</exception>
    public double ToScalar() => Count == 1 ? Core.TensorModule.item(Value.Tensor)
        : throw new ShapeException($"Tensor.ToScalar needs a tensor with one element; this one has shape {Shape}.", "this");

    // ---- arithmetic (NumPy broadcasting; gradients sum over broadcast dimensions) ----

    /// <summary>a + b. ∂/∂a = 1, ∂/∂b = 1.</summary>
    /// <param name="a">The left operand.</param>
    /// <param name="b">The right operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> or <paramref name="b"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of <paramref name="a"/> and <paramref name="b"/> do not
    /// broadcast.</exception>
    public static Tensor operator +(Tensor a, Tensor b) => Api.Call("Tensor.operator +", "a,b", () => new Tensor(Core.Arithmetic.add(N(a).Value, N(b).Value)));
    /// <summary>a + c. ∂/∂a = 1.</summary>
    /// <param name="a">The left operand.</param>
    /// <param name="c">The scalar.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator +(Tensor a, double c) => a + Scalar(c);
    /// <summary>c + a. ∂/∂a = 1.</summary>
    /// <param name="c">The scalar.</param>
    /// <param name="a">The right operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator +(double c, Tensor a) => Scalar(c) + N(a);
    /// <summary>a − b. ∂/∂a = 1, ∂/∂b = −1.</summary>
    /// <param name="a">The left operand.</param>
    /// <param name="b">The right operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> or <paramref name="b"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of <paramref name="a"/> and <paramref name="b"/> do not
    /// broadcast.</exception>
    public static Tensor operator -(Tensor a, Tensor b) => Api.Call("Tensor.operator -", "a,b", () => new Tensor(Core.Arithmetic.sub(N(a).Value, N(b).Value)));
    /// <summary>a − c. ∂/∂a = 1.</summary>
    /// <param name="a">The left operand.</param>
    /// <param name="c">The scalar.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator -(Tensor a, double c) => a - Scalar(c);
    /// <summary>c − a. ∂/∂a = −1.</summary>
    /// <param name="c">The scalar.</param>
    /// <param name="a">The right operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator -(double c, Tensor a) => Scalar(c) - N(a);
    /// <summary>a · b elementwise. ∂/∂a = b, ∂/∂b = a. One tensor times itself is x², ∂/∂x = 2x in one pass.</summary>
    /// <param name="a">The left operand.</param>
    /// <param name="b">The right operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> or <paramref name="b"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of <paramref name="a"/> and <paramref name="b"/> do not
    /// broadcast.</exception>
    public static Tensor operator *(Tensor a, Tensor b) => Api.Call("Tensor.operator *", "a,b", () => new Tensor(Core.Arithmetic.mul(N(a).Value, N(b).Value)));
    /// <summary>a · c. ∂/∂a = c.</summary>
    /// <param name="a">The left operand.</param>
    /// <param name="c">The scalar.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator *(Tensor a, double c) => Api.Call("Tensor.operator *", "a,c", () => new Tensor(Core.Arithmetic.scale(c, N(a).Value)));
    /// <summary>c · a. ∂/∂a = c.</summary>
    /// <param name="c">The scalar.</param>
    /// <param name="a">The right operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator *(double c, Tensor a) => Api.Call("Tensor.operator *", "c,a", () => new Tensor(Core.Arithmetic.scale(c, N(a).Value)));
    /// <summary>a / b elementwise. ∂/∂a = 1/b, ∂/∂b = −a/b².</summary>
    /// <param name="a">The left operand.</param>
    /// <param name="b">The right operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> or <paramref name="b"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of <paramref name="a"/> and <paramref name="b"/> do not
    /// broadcast.</exception>
    public static Tensor operator /(Tensor a, Tensor b) => Api.Call("Tensor.operator /", "a,b", () => new Tensor(Core.Arithmetic.div(N(a).Value, N(b).Value)));
    /// <summary>a / c. ∂/∂a = 1/c.</summary>
    /// <param name="a">The left operand.</param>
    /// <param name="c">The scalar.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator /(Tensor a, double c) => a / Scalar(c);
    /// <summary>c / a. ∂/∂a = −c/a².</summary>
    /// <param name="c">The scalar.</param>
    /// <param name="a">The right operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator /(double c, Tensor a) => Scalar(c) / N(a);
    /// <summary>−a. ∂/∂a = −1.</summary>
    /// <param name="a">The operand.</param>
    /// <returns>The result, in the broadcast shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    public static Tensor operator -(Tensor a) => Api.Call("Tensor.operator -", "a", () => new Tensor(Core.Arithmetic.neg(N(a).Value)));

    private static Tensor N(Tensor? t, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(t))] string? name = null) => t ?? throw new ArgumentNullException(name);

    // ---- reductions ----

    /// <summary>Σ of every element (a scalar). ∂/∂x = 1 everywhere.</summary>
    /// <returns>The sum, a scalar.</returns>
    public Tensor Sum() => Api.Call("Tensor.Sum", "", () => new Tensor(Core.Reduction.sum(Value)));

    /// <summary>Σ over exactly the given axes (negative counts from the end). ∂/∂x = 1, broadcast back. An empty
    /// array sums over no axis and gives the values unchanged, as NumPy's <c>axis=()</c> (PyTorch's <c>dim=[]</c> sums
    /// everything); <see cref="Sum()"/> sums everything.</summary>
    /// <param name="axes">The axes (negative counts from the end).</param>
    /// <returns>The sums, without the given axes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range or given twice.</exception>
    public Tensor Sum(params int[] axes) => Api.Call("Tensor.Sum", "axes", () => new Tensor(Core.Reduction.sumAxes(axes ?? throw new ArgumentNullException(nameof(axes)), false, Value)));

    /// <summary>Mean of every element. ∂/∂x = 1/n.</summary>
    /// <returns>The mean, a scalar.</returns>
    public Tensor Mean() => Api.Call("Tensor.Mean", "", () => new Tensor(Core.Reduction.mean(Value)));

    /// <summary>Mean over exactly the given axes. ∂/∂x = 1/n along them. An empty array averages over no axis and
    /// gives the values unchanged, as NumPy's <c>axis=()</c> (PyTorch's <c>mean(dim=[])</c> averages every axis);
    /// <see cref="Mean()"/> averages everything.</summary>
    /// <param name="axes">The axes (negative counts from the end).</param>
    /// <returns>The means, without the given axes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range or given twice.</exception>
    public Tensor Mean(params int[] axes) => Api.Call("Tensor.Mean", "axes", () => new Tensor(Core.Reduction.meanAxes(axes ?? throw new ArgumentNullException(nameof(axes)), false, Value)));

    // ---- elementwise ----

    /// <summary>eˣ. d/dx = eˣ.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Exp() => Api.Call("Tensor.Exp", "", () => new Tensor(Core.Elementwise.exp(Value)));
    /// <summary>ln x. d/dx = 1/x.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Log() => Api.Call("Tensor.Log", "", () => new Tensor(Core.Elementwise.log(Value)));
    /// <summary>√x. d/dx = 1/(2√x).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Sqrt() => Api.Call("Tensor.Sqrt", "", () => new Tensor(Core.Elementwise.sqrt(Value)));
    /// <summary>xᵖ for a constant p. d/dx = p·xᵖ⁻¹. Exact operations for p = 0, 1, 2, −1 (3 within half an ulp);
    /// other |p| ≤ 1024 within 1 ulp on vector lanes (x of either sign: a negative x takes an integer p's parity and
    /// is NaN for any other p), Math.Pow beyond.</summary>
    /// <param name="p">The exponent.</param>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Pow(double p) => Api.Call("Tensor.Pow", "p", () => new Tensor(Core.Elementwise.pow(p, Value)));
    /// <summary>tanh x. d/dx = 1 − tanh²x.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Tanh() => Api.Call("Tensor.Tanh", "", () => new Tensor(Core.Elementwise.tanh(Value)));
    /// <summary>σ(x) = 1/(1 + e⁻ˣ), stable for every x. d/dx = σ(x)(1 − σ(x)).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Sigmoid() => Api.Call("Tensor.Sigmoid", "", () => new Tensor(Core.Elementwise.sigmoid(Value)));
    /// <summary>softplus(x) = ln(1 + eˣ), a smooth ReLU, without overflow. d/dx = σ(x). Exact for every x: PyTorch's
    /// default returns x (and a derivative of 1) beyond x = 20, where the two differ by up to e⁻²⁰ ≈ 2·10⁻⁹.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Softplus() => Api.Call("Tensor.Softplus", "", () => new Tensor(Core.Activation.softplus(Value)));

    // ---- activations ----

    /// <summary>ReLU max(x, 0). d/dx = 1 for x &gt; 0, 0 for x ≤ 0 (0 at the kink).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Relu() => Api.Call("Tensor.Relu", "", () => new Tensor(Core.Activation.relu(Value)));

    /// <summary>Exact GELU x·Φ(x), full precision in both tails. d/dx = Φ(x) + x·φ(x); d²/dx² = φ(x)(2 − x²).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Gelu() => Api.Call("Tensor.Gelu", "", () => new Tensor(Core.Activation.gelu(Value)));

    /// <summary>GELU, exact or tanh-approximated. Exact: d/dx = Φ(x) + x·φ(x). Tanh: x·σ(2u), u = √(2/π)(x + 0.044715x³),
    /// d/dx = σ(2u) + x·σ(2u)·σ(−2u)·2u′.</summary>
    /// <param name="approximation">Which GELU: exact or the tanh form.</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="approximation"/> is not a defined
    /// <see cref="GeluApproximation"/> value.</exception>
    public Tensor Gelu(GeluApproximation approximation) => approximation switch
    {
        GeluApproximation.None => Gelu(),
        GeluApproximation.Tanh => new Tensor(Core.Activation.geluTanh(Value)),
        _ => throw new ArgumentOutOfRangeException(nameof(approximation), approximation, "Unknown GELU approximation."),
    };

    /// <summary>Leaky ReLU: x for x &gt; 0, α·x for x &lt; 0. d/dx = 1 (x &gt; 0), α (x &lt; 0), and 1 at exactly 0 (the right derivative: the original derivation notes' convention).</summary>
    /// <param name="negativeSlope">α, the slope below 0.</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ArgumentException"><paramref name="negativeSlope"/> is NaN.</exception>
    public Tensor LeakyRelu(double negativeSlope) => LeakyRelu(negativeSlope, KinkConvention.RightDerivative);

    /// <summary>Leaky ReLU with an explicit derivative at exactly 0: 1, α or (1 + α)/2. d/dx = 1 (x &gt; 0), α (x &lt; 0).</summary>
    /// <param name="negativeSlope">α, the slope below 0.</param>
    /// <param name="convention">The derivative at the kink.</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    /// <exception cref="ArgumentException"><paramref name="negativeSlope"/> is NaN.</exception>
    public Tensor LeakyRelu(double negativeSlope, KinkConvention convention) =>
        Api.Call("Tensor.LeakyRelu", "negativeSlope|alpha,convention", () => new Tensor(Core.Activation.leakyReluWith(negativeSlope, Interop.Convert(convention), Value)));

    /// <summary>Softmax along an axis, shifted by the maximum. VJP: y·(ḡ − Σ ḡ·y).</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> is out of range for this tensor's rank.</exception>
    public Tensor Softmax(int axis) => Api.Call("Tensor.Softmax", "axis", () => new Tensor(Core.Softmax.softmax(axis, Value)));

    /// <summary>Log-softmax along an axis: x − log Σ eˣ. VJP: ḡ − softmax(x)·Σ ḡ.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> is out of range for this tensor's rank.</exception>
    public Tensor LogSoftmax(int axis) => Api.Call("Tensor.LogSoftmax", "axis", () => new Tensor(Core.Softmax.logSoftmax(axis, Value)));

    // ---- linear algebra and layout ----

    /// <summary>Matrix product with NumPy's <c>matmul</c> rules: matrix·matrix C = A·B (∇A = ∂L/∂C·Bᵀ, ∇B = Aᵀ·∂L/∂C),
    /// matrix·vector, vector·matrix, vector·vector (a scalar), and batches of matrices with broadcast leading
    /// dimensions. Each case is one einsum, so its gradient is the index-set rule's.</summary>
    /// <param name="other">The right operand.</param>
    /// <returns>The product.</returns>
    /// <exception cref="ShapeException">A scalar operand, inner dimensions that differ, or batch dimensions that do not
    /// broadcast.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    public Tensor MatMul(Tensor other)
    {
        // Two matrices that fit, the common case, without copying the shapes.
        var (sa, sb) = (Value.Tensor.ShapeArray, N(other).Value.Tensor.ShapeArray);
        if (sa.Length == 2 && sb.Length == 2 && sa[1] == sb[0]) return new(Core.Linear.matmul(Value, other.Value));
        var (a, b) = (Shape, other.Shape);
        if (a.Count == 0 || b.Count == 0)
            throw new ShapeException($"MatMul needs operands of rank 1 or more; got shapes [{string.Join(", ", a)}] and [{string.Join(", ", b)}].", nameof(other));
        int ka = a[^1], kb = b.Count == 1 ? b[0] : b[^2];
        if (ka != kb)
            throw new ShapeException($"MatMul: inner dimensions differ ({ka} and {kb}) for shapes [{string.Join(", ", a)}] and [{string.Join(", ", b)}].", nameof(other));
        if (a.Count == 2 && b.Count == 2) return new(Core.Linear.matmul(Value, other.Value));
        // Batch dimensions (all but the last two of a matrix) broadcast as NumPy's do.
        var (ba, bb) = (a.Take(Math.Max(0, a.Count - 2)).ToArray(), b.Take(Math.Max(0, b.Count - 2)).ToArray());
        for (int i = 1; i <= Math.Min(ba.Length, bb.Length); i++)
            if (ba[^i] != bb[^i] && ba[^i] != 1 && bb[^i] != 1)
                throw new ShapeException($"Tensor.MatMul: the batch dimensions [{string.Join(", ", ba)}] and [{string.Join(", ", bb)}] of shapes {a} and {b} do not broadcast.", nameof(other));
        string equation = (a.Count, b.Count) switch
        {
            (1, 1) => "j,j->",
            (1, _) => "j,...jk->...k",
            (_, 1) => "...ij,j->...i",
            _ => "...ij,...jk->...ik",
        };
        return Einsum.Contract(equation, this, other);
    }

    /// <summary>Same elements, new shape (one -1 is inferred). The gradient is reshaped back.</summary>
    /// <param name="shape">The shape.</param>
    /// <returns>The same elements in the new shape.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has more than one -1 or a negative dimension, or does
    /// not hold this tensor's elements.</exception>
    public Tensor Reshape(params int[] shape) => Api.Call("Tensor.Reshape", "shape", () => new Tensor(Core.Layout.reshape(shape ?? throw new ArgumentNullException(nameof(shape)), Value)));

    /// <summary>Permutes the axes (no argument: reverses them). The gradient is permuted back. Two axes given as
    /// separate arguments call <see cref="Transpose(int, int)"/>, which swaps them as <c>torch.transpose</c> does;
    /// <see cref="Permute"/> always reads its arguments as a permutation.</summary>
    /// <param name="permutation">A permutation of the axes (none: reverse them; negative axes count from the
    /// end).</param>
    /// <returns>The tensor with its axes permuted.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="permutation"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="permutation"/> is neither empty nor a permutation of this
    /// tensor's axes.</exception>
    public Tensor Transpose(params int[] permutation)
    {
        ArgumentNullException.ThrowIfNull(permutation);
        return permutation.Length == 0 ? Api.Call("Tensor.Transpose", "permutation", () => new Tensor(Core.Layout.transpose(Value)))
            : Permuted(permutation, nameof(permutation), "Tensor.Transpose");
    }

    /// <summary>Swaps two axes, as <c>torch.transpose(dim0, dim1)</c> (negative axes count from the end):
    /// <c>m.Transpose(0, 1)</c> is a matrix's transpose. The gradient is swapped back.</summary>
    /// <param name="axis0">One axis.</param>
    /// <param name="axis1">The other (equal to <paramref name="axis0"/>: the tensor unchanged).</param>
    /// <returns>The tensor with the two axes swapped.</returns>
    /// <exception cref="ShapeException">An axis is out of range for this tensor's rank.</exception>
    public Tensor Transpose(int axis0, int axis1)
    {
        int a = Axis(axis0, nameof(axis0), "Tensor.Transpose"), b = Axis(axis1, nameof(axis1), "Tensor.Transpose");
        var permutation = Enumerable.Range(0, Rank).ToArray();
        (permutation[a], permutation[b]) = (b, a);
        return Api.Call("Tensor.Transpose", "axis0,axis1", () => new Tensor(Core.Layout.permute(permutation, Value)));
    }

    /// <summary>Permutes the axes, as <c>torch.permute</c>: axis k of the result is axis
    /// <paramref name="axes"/>[k] of this tensor (negative axes count from the end). The gradient is permuted back.</summary>
    /// <param name="axes">A permutation of the axes, one entry per axis.</param>
    /// <returns>The tensor with its axes permuted.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="axes"/> is not a permutation of this tensor's axes.</exception>
    public Tensor Permute(params int[] axes)
    {
        ArgumentNullException.ThrowIfNull(axes);
        return Permuted(axes, nameof(axes), "Tensor.Permute");
    }

    /// <summary>The axes permuted, negative ones counting from the end; errors name <paramref name="name"/> in the
    /// terms of <paramref name="member"/>.</summary>
    private Tensor Permuted(int[] axes, string name, string member)
    {
        if (axes.Length != Rank)
            throw new ShapeException(FormattableString.Invariant($"{member}: {axes.Length} axes given for a tensor of rank {Rank} (shape {Shape}); give one per axis."), name);
        var normalised = axes.Select((x, i) => Axis(x, $"{name}[{i}]", member)).ToArray();
        return Api.Call(member, name + "|axes|perm|permutation", () => new Tensor(Core.Layout.permute(normalised, Value)));
    }

    /// <summary>An axis of this tensor, a negative one counting from the end; out of range: a ShapeException naming
    /// <paramref name="name"/> in the terms of <paramref name="member"/>.</summary>
    private int Axis(int axis, string name, string member) =>
        axis >= -Rank && axis < Rank ? (axis < 0 ? axis + Rank : axis)
        : throw new ShapeException(Rank == 0
            ? FormattableString.Invariant($"{member}: {name} is {axis}; a scalar (rank 0) has no axes.")
            : FormattableString.Invariant($"{member}: {name} is {axis}; a tensor of rank {Rank} (shape {Shape}) has axes {-Rank} to {Rank - 1}."), name);

    /// <summary>NumPy-like text, a row a line (each under the one above), elided when large:
    /// <c>tensor([[1, 2],\n        [3, 4]], shape=[2, 2])</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Value.Tensor.ToString();
}
