using System;
using Core = Functional.Core;

namespace Functional;

/// <summary>
/// Memory reuse for loops of same-shaped work, the counterpart of TorchSharp's dispose scopes. While a scope is
/// open in an execution context (it flows into tasks and <c>Parallel</c> loops started in it), large results
/// come from a pool; when it is disposed, every tensor made in it is released and its memory is reused by later
/// scopes. Reading a released tensor throws <see cref="ObjectDisposedException"/>. Keep the results you need
/// with <see cref="Keep(Tensor)"/>. Scopes nest: a kept tensor moves to the enclosing scope, or to the garbage
/// collector when there is none.
/// </summary>
/// <example><code>
/// for (int step = 0; step &lt; steps; step++)
/// {
///     using var scope = Tensor.NewScope();
///     var r = Autodiff.ValueAndGrad(xs => xs[0].MatMul(xs[1]).Gelu().Sum(), a, b);
///     total += r.Value.ToScalar();   // r is released when the scope ends
/// }
/// </code></example>
public sealed class TensorScope : IDisposable
{
    private readonly Core.TensorScope scope;

    internal TensorScope(Core.TensorScope scope) => this.scope = scope;

    /// <summary>Keeping after the end throws, as documented, even when there is nothing to keep (an empty array, a
    /// state with no parameters).</summary>
    private void ThrowIfEnded()
    {
        if (scope.State.Ended)
            throw new ObjectDisposedException(nameof(TensorScope), "This scope has ended; its tensors are released. Keep a tensor before the scope ends.");
    }

    /// <summary>Lets <paramref name="tensor"/> outlive this scope and returns it: one made in this scope, or in a scope
    /// opened inside it and still open, moves to the enclosing scope (or to the garbage collector). A tensor made
    /// before the scope opened is returned unchanged. Only the values are kept, not what a gradient is later computed
    /// from: a scope opened and ended inside a function given to <see cref="Autodiff"/> releases the intermediates its
    /// backward pass reads (which then throws <see cref="ObjectDisposedException"/>); open the scope around the
    /// transform instead.</summary>
    /// <param name="tensor">The tensor to keep.</param>
    /// <returns>The same tensor, kept past the scope's end.</returns>
    /// <exception cref="ObjectDisposedException">The scope has already ended.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is null.</exception>
    public Tensor Keep(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Core.ValueModule.keep(scope, tensor.Value);
        return tensor;
    }

    /// <summary>Lets every tensor in <paramref name="tensors"/> outlive this scope and returns the array.</summary>
    /// <param name="tensors">The tensors.</param>
    /// <returns>The same array, its tensors kept past the scope's end.</returns>
    /// <exception cref="ObjectDisposedException">The scope has already ended.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> or an element of it is null.</exception>
    public Tensor[] Keep(params Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ThrowIfEnded();
        foreach (var t in tensors) Keep(t ?? throw new ArgumentNullException(nameof(tensors), "An element is null."));
        return tensors;
    }

    /// <summary>Lets an optimizer's state (its moment buffers, made in this scope by a step) outlive the scope and
    /// returns it, so that a training loop with a scope per step carries the state to the next step.</summary>
    /// <param name="state">The state from <see cref="IOptimizer.Step"/>.</param>
    /// <returns>The same state, kept past the scope's end.</returns>
    /// <exception cref="ObjectDisposedException">The scope has already ended.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> is null.</exception>
    public OptimizerState Keep(OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ThrowIfEnded();
        foreach (var t in state.Value.First) scope.Keep(t);
        foreach (var t in state.Value.Second) scope.Keep(t);
        return state;
    }

    /// <summary>Lets a step's new parameters and state outlive this scope and returns the step: the one call a
    /// training loop with a scope per step needs.</summary>
    /// <param name="step">The result of <see cref="IOptimizer.Step"/>.</param>
    /// <returns>The same step, its parameters and state kept past the scope's end.</returns>
    /// <exception cref="ObjectDisposedException">The scope has already ended.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="step"/> is null.</exception>
    public OptimizerStep Keep(OptimizerStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Keep(step.Parameters);
        Keep(step.State);
        return step;
    }

    /// <summary>Ends the scope: releases the tensors made in it (not kept) and returns their memory to the pool. Disposing twice does nothing.</summary>
    public void Dispose() => scope.Dispose();
}
