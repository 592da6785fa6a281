using System;
using System.Linq;
using Core = Functional.Core;

namespace Functional;

/// <summary>A function's value and its gradient.</summary>
/// <param name="Value">f(x).</param>
/// <param name="Gradient">∂f/∂x, shaped as x.</param>
public sealed record ValueAndGradient(Tensor Value, Tensor Gradient);

/// <summary>A function's value and its gradients with respect to every input.</summary>
/// <param name="Value">f(x₁, …, xₙ).</param>
/// <param name="Gradients">∂f/∂xᵢ, each shaped as xᵢ.</param>
public sealed record ValueAndGradients(Tensor Value, Tensor[] Gradients)
{
    /// <summary>The value and every gradient, printed.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => $"ValueAndGradients {{ Value = {Value}, Gradients = [{string.Join(", ", (Gradients ?? []).Select(g => g?.ToString() ?? "null"))}] }}";
}

/// <summary>A function's value and its pullback (reverse mode).</summary>
/// <param name="Value">f(x).</param>
/// <param name="Pullback">Maps an adjoint ḡ shaped as f(x) to ḡᵀ·∂f/∂x, shaped as x.</param>
public sealed record VjpResult(Tensor Value, Func<Tensor, Tensor> Pullback);

/// <summary>A function's value and its directional derivative (forward mode).</summary>
/// <param name="Value">f(x).</param>
/// <param name="Tangent">∂f/∂x · v.</param>
public sealed record JvpResult(Tensor Value, Tensor Tangent);

/// <summary>
/// Function transforms. Each composes with the others and with itself: a <c>Grad</c> inside the function
/// given to <c>Grad</c> works, with no perturbation confusion. Thread-safe for independent calls.
/// </summary>
/// <remarks>The tensors a transform passes to its function belong to that call: one kept past it (in a variable the
/// function assigns) and used in a later op, or returned by another transform, throws
/// <see cref="InvalidOperationException"/> instead of being differentiated as a silent zero.
/// A lambda that only indexes its parameter (<c>x =&gt; x[0] * x[1]</c>) fits both <c>Grad(Func&lt;Tensor, Tensor&gt;,
/// Tensor)</c> and <c>Grad(Func&lt;Tensor[], Tensor&gt;, params Tensor[])</c> (a tensor's indexer takes ints too), and
/// C# refuses the call as ambiguous rather than guess which is meant: write <c>(Tensor x) =&gt; …</c> or
/// <c>(Tensor[] xs) =&gt; …</c>. The same holds for <c>ValueAndGrad</c>.</remarks>
public static partial class Autodiff
{
    /// <summary>The gradient ∂f/∂x of a scalar-valued function.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="x">Where to evaluate.</param>
    /// <returns>The gradient, shaped as <paramref name="x"/>.</returns>
    /// <exception cref="ShapeException">f's result is not a scalar (one element).</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/> or <paramref name="x"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    public static Tensor Grad(Func<Tensor, Tensor> f, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        return Api.Call("Autodiff.Grad", "f,x", () => new Tensor(Core.Autodiff.grad(Interop.Lift(f), x.Value)));
    }

    /// <summary>The gradients ∂f/∂xᵢ of a scalar-valued function of several tensors. An unused input gets zeros.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="inputs">Where to evaluate, one tensor per input.</param>
    /// <returns>One gradient per input, each shaped as its input.</returns>
    /// <exception cref="ShapeException">f's result is not a scalar (one element).</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an element of
    /// <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    public static Tensor[] Grad(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Api.Call("Autodiff.Grad", "f,inputs", () => Interop.Tensors(Core.Autodiff.gradMany(Interop.LiftMany(f), Interop.Values(inputs, nameof(inputs)))));
    }

    /// <summary>f(x) and ∂f/∂x together (one forward, one backward pass).</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="x">Where to evaluate.</param>
    /// <returns>The value and the gradient.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/> or <paramref name="x"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    /// <exception cref="ShapeException">The result of <paramref name="f"/> is not a scalar (one element).</exception>
    public static ValueAndGradient ValueAndGrad(Func<Tensor, Tensor> f, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        var r = Api.Call("Autodiff.ValueAndGrad", "f,x", () => Core.Autodiff.valueAndGrad(Interop.Lift(f), x.Value));
        return new ValueAndGradient(new Tensor(r.Item1), new Tensor(r.Item2));
    }

    /// <summary>f(x₁, …, xₙ) and every ∂f/∂xᵢ together.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="inputs">Where to evaluate, one tensor per input.</param>
    /// <returns>The value and one gradient per input.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an element of
    /// <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    /// <exception cref="ShapeException">The result of <paramref name="f"/> is not a scalar (one element).</exception>
    public static ValueAndGradients ValueAndGrad(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        var r = Api.Call("Autodiff.ValueAndGrad", "f,inputs", () => Core.Autodiff.valueAndGradMany(Interop.LiftMany(f), Interop.Values(inputs, nameof(inputs))));
        return new ValueAndGradients(new Tensor(r.Item1), Interop.Tensors(r.Item2));
    }

    /// <summary>Reverse mode: f(x) and the pullback ḡ ↦ ḡᵀ·∂f/∂x (callable many times).</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="x">Where to evaluate.</param>
    /// <returns>The value and its pullback.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/> or <paramref name="x"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    public static VjpResult Vjp(Func<Tensor, Tensor> f, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        var r = Api.Call("Autodiff.Vjp", "f,x", () => Core.Autodiff.vjp(Interop.Lift(f), x.Value));
        var pullback = r.Item2;
        return new VjpResult(new Tensor(r.Item1), adjoint => Api.Call("VjpResult.Pullback", "adjoint", () => new Tensor(pullback.Invoke((adjoint ?? throw new ArgumentNullException(nameof(adjoint))).Value))));
    }

    /// <summary>Forward mode: f(x) and the directional derivative ∂f/∂x · v.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="x">Where to evaluate.</param>
    /// <param name="v">The direction, shaped as x.</param>
    /// <returns>The value and the tangent of the result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="x"/> or <paramref name="v"/> is
    /// null.</exception>
    /// <exception cref="ShapeException"><paramref name="v"/> is not shaped as <paramref name="x"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    public static JvpResult Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(v);
        var r = Api.Call("Autodiff.Jvp", "f,x,v|vs", () => Core.Autodiff.jvp(Interop.Lift(f), x.Value, v.Value));
        return new JvpResult(new Tensor(r.Item1), new Tensor(r.Item2));
    }

    /// <summary>The Jacobian ∂f/∂x, shaped f(x).Shape ++ x.Shape.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="x">Where to evaluate.</param>
    /// <returns>The Jacobian, shaped result ++ input.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/> or <paramref name="x"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    /// <exception cref="MemoryLimitException">The Jacobian (its rows and the stacked result) would exceed
    /// <see cref="Limits.MemoryLimitBytes"/> or <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Jacobian(Func<Tensor, Tensor> f, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        return Api.Call("Autodiff.Jacobian", "f,x", () => new Tensor(Core.Autodiff.jacobian(Interop.Lift(f), x.Value)));
    }

    /// <summary>The Hessian ∂²f/∂x² of a scalar function, shaped x.Shape ++ x.Shape.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="x">Where to evaluate.</param>
    /// <returns>The Hessian, shaped input ++ input.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/> or <paramref name="x"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    /// <exception cref="ShapeException">The result of <paramref name="f"/> is not a scalar (one element).</exception>
    /// <exception cref="MemoryLimitException">The Hessian (its rows and the stacked result) would exceed
    /// <see cref="Limits.MemoryLimitBytes"/> or <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Hessian(Func<Tensor, Tensor> f, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        return Api.Call("Autodiff.Hessian", "f,x", () => new Tensor(Core.Autodiff.hessian(Interop.Lift(f), x.Value)));
    }

    /// <summary>The Hessian-vector product (∂²f/∂x²)·v, forward over reverse, without forming the Hessian.</summary>
    /// <param name="f">The function to differentiate or check.</param>
    /// <param name="x">Where to evaluate.</param>
    /// <param name="v">The direction, shaped as x.</param>
    /// <returns>(∂²f/∂x²)·v, shaped as x.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="x"/> or <paramref name="v"/> is
    /// null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    /// <exception cref="ShapeException">The result of <paramref name="f"/> is not a scalar (one element), or
    /// <paramref name="v"/> is not shaped as <paramref name="x"/>.</exception>
    public static Tensor HessianVectorProduct(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(v);
        return Api.Call("Autodiff.HessianVectorProduct", "f,x,v|vs", () => new Tensor(Core.Autodiff.hessianVectorProduct(Interop.Lift(f), x.Value, v.Value)));
    }

    /// <summary>
    /// Runs <paramref name="f"/> at <paramref name="inputs"/> and its derived gradient program (seeded with ones
    /// shaped as the result) under the tracer, and returns both as data: every operation with its attributes,
    /// operands and shape. A <see cref="CustomOp"/> appears under the name it was created with.
    /// </summary>
    /// <param name="f">The function.</param>
    /// <param name="inputs">Where to run it.</param>
    /// <returns>The forward program followed by the gradient program.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an element of
    /// <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    /// <exception cref="ShapeException">An operation in <paramref name="f"/> does not fit the shapes of
    /// <paramref name="inputs"/>.</exception>
    public static TracedProgram TraceGradient(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        var xs = Array.ConvertAll(Interop.Values(inputs, nameof(inputs)), v => v.Tensor);
        return TracedProgram.Of(Core.Trace.gradient(Interop.LiftMany(f), xs));
    }
}
