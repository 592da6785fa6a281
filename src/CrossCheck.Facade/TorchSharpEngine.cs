using System;
using System.Collections.Generic;
using TorchTensor = TorchSharp.torch.Tensor;
using Core = Functional.Core;

namespace Functional.CrossCheck;

/// <summary>
/// Runs a function's forward program and the gradient program Functional derives from it on TorchSharp tensors,
/// operation by operation: our derivation (the index-set rule, our activation rules, the planner's contraction order
/// for three or more operands), libtorch's arithmetic, on the device named ("cpu"; "cuda" with a CUDA build of
/// TorchSharp installed in place of TorchSharp-cpu).
/// </summary>
public static class TorchSharpEngine
{
    /// <summary>f's value and its gradients, computed on <paramref name="device"/> by replaying f's traced programs.</summary>
    /// <param name="f">A scalar-valued function (a non-scalar result is seeded with ones).</param>
    /// <param name="device">A TorchSharp device name: "cpu", "cuda", "cuda:1".</param>
    /// <param name="inputs">Where to evaluate.</param>
    /// <returns>The value and the gradient of every input, as Functional tensors.</returns>
    /// <exception cref="NotSupportedException">An operation has no TorchSharp replay (a custom op); the message
    /// names it.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="device"/>,
    /// <paramref name="inputs"/> or an element of <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null, or <paramref name="device"/> is not a
    /// device name or not available in this TorchSharp build.</exception>
    /// <exception cref="InvalidOperationException">An operation's TorchSharp result is shaped unlike ours (the message
    /// names it).</exception>
    public static ValueAndGradients Run(Func<Tensor[], Tensor> f, string device, params Tensor[] inputs) =>
        Run(f, device, TorchSharpCheck.NoCustomOps, inputs);

    /// <summary><see cref="Run(Func{Tensor[], Tensor}, string, Tensor[])"/> for a function with custom ops: each runs
    /// through the TorchSharp forward given for its name; its derivative rules are made of built-in operations, which
    /// run as every other.</summary>
    /// <param name="f">A scalar-valued function (a non-scalar result is seeded with ones).</param>
    /// <param name="device">A TorchSharp device name: "cpu", "cuda", "cuda:1".</param>
    /// <param name="customOps">TorchSharp forwards by custom op name; each returns a new float64 tensor on its inputs'
    /// device and leaves its inputs unchanged.</param>
    /// <param name="inputs">Where to evaluate.</param>
    /// <returns>The value and the gradient of every input, as Functional tensors.</returns>
    /// <exception cref="NotSupportedException">A custom op has no entry in <paramref name="customOps"/>; the message
    /// names it.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="device"/>,
    /// <paramref name="customOps"/>, a forward in <paramref name="customOps"/>, <paramref name="inputs"/> or an element
    /// of <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> or a forward in <paramref name="customOps"/> returns
    /// null, a forward returns a tensor that is not float64 or not on its inputs' device, or changes an input in place,
    /// or <paramref name="device"/> is not a device name or not available in this TorchSharp build.</exception>
    /// <exception cref="ShapeException">A forward in <paramref name="customOps"/> returns a result shaped otherwise
    /// than the custom op's own output.</exception>
    /// <exception cref="InvalidOperationException">A built-in operation's TorchSharp result is shaped unlike ours (the
    /// message names it).</exception>
    public static ValueAndGradients Run(Func<Tensor[], Tensor> f, string device, IReadOnlyDictionary<string, Func<TorchTensor[], TorchTensor>> customOps, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(device);
        var xs = Array.ConvertAll(Interop.Values(inputs, nameof(inputs)), v => v.Tensor);
        var r = Engine.run(TorchSharpCheck.Forwards(customOps), Interop.LiftMany(f), device, xs);
        return new ValueAndGradients(new Tensor(Core.ValueModule.constant(r.Item1)), Array.ConvertAll(r.Item2, g => new Tensor(Core.ValueModule.constant(g))));
    }
}
