using System;
using System.Collections.Generic;
using Microsoft.FSharp.Core;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Functional.CrossCheck;

/// <summary>What <see cref="TorchSharpCheck.Verify(Func{Tensor[], Tensor}, Tensor[])"/> found.</summary>
/// <param name="Passed">The value and every gradient agree with TorchSharp autograd, every operation's forward value
/// and VJP agree (documented differences aside), and every operation could be replayed.</param>
/// <param name="OperationsReplayed">How many forward operations were replayed on TorchSharp and checked one by
/// one.</param>
/// <param name="FirstDivergence">The first operation, in program order, whose forward value or VJP differs beyond
/// tolerance, or null. It starts with the operation's name (a custom op's is the name it was created with) and gives
/// its position, attributes, inputs' shapes and the worst element.</param>
/// <param name="Details">Every finding, one per line: the tolerance, the end-to-end comparison, documented
/// differences (reported, not failures), operations that could not be replayed.</param>
public sealed record ReplayReport(bool Passed, int OperationsReplayed, string? FirstDivergence, string Details)
{
    /// <summary>The details, headed by the verdict.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => (Passed ? "Passed. " : "Failed. ") + Details;
}

public static partial class TorchSharpCheck
{
    internal static readonly IReadOnlyDictionary<string, Func<TorchTensor[], TorchTensor>> NoCustomOps =
        new Dictionary<string, Func<TorchTensor[], TorchTensor>>();

    /// <summary>
    /// Write once, cross-check op by op: runs <paramref name="f"/> with Functional under the tracer, replays the
    /// traced program on TorchSharp (float64) and compares. Each forward operation is replayed alone from our
    /// inputs, its forward value and its VJP (TorchSharp autograd of that one op, for a fixed adjoint) compared with
    /// ours; the whole forward program is replayed under TorchSharp autograd and the value and every gradient compared
    /// with ours, and so are the VJPs for a pseudo-random adjoint as <see cref="Autodiff"/> computes them outside a
    /// trace. Tolerance: |ours − TorchSharp| ≤ 1e-12 + 1e-10·|TorchSharp|. Documented differences are reported, not
    /// failed: the derivatives at kinks (Leaky ReLU's at exactly 0, TorchSharp's α) and TorchSharp's GELU in the
    /// negative tail; there ours is checked against TorchSharp's op aligned to our rule.
    /// </summary>
    /// <param name="f">The function, written once with Functional (a non-scalar result is seeded with ones).</param>
    /// <param name="inputs">Where to evaluate.</param>
    /// <returns>The verdict, the operations replayed and, where they differ, the first diverging operation.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="inputs"/> or an element of
    /// <paramref name="inputs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> returns null.</exception>
    public static ReplayReport Verify(Func<Tensor[], Tensor> f, params Tensor[] inputs) =>
        Verify(f, NoCustomOps, inputs);

    /// <summary>
    /// <see cref="Verify(Func{Tensor[], Tensor}, Tensor[])"/> for a function with custom ops
    /// (<see cref="CustomOp.Create"/>): each is replayed through the TorchSharp forward given for its name, and its
    /// VJP checked against TorchSharp autograd of that forward. A custom op with no entry is reported as not
    /// replayable (the report fails; every other operation is still checked).
    /// </summary>
    /// <param name="f">The function, written once with Functional.</param>
    /// <param name="customOps">TorchSharp forwards by custom op name: used for the custom ops of that name, and for a
    /// built-in op only where it has no replay of its own (a built-in op of the same name still replays as itself).</param>
    /// <param name="inputs">Where to evaluate.</param>
    /// <returns>The verdict, the operations replayed and, where they differ, the first diverging operation.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="f"/>, <paramref name="customOps"/>, a forward in
    /// <paramref name="customOps"/>, <paramref name="inputs"/> or an element of <paramref name="inputs"/> is
    /// null.</exception>
    /// <exception cref="ArgumentException"><paramref name="f"/> or a forward in <paramref name="customOps"/> returns
    /// null.</exception>
    /// <exception cref="ShapeException">A forward in <paramref name="customOps"/> returns a result shaped otherwise
    /// than the custom op's own output.</exception>
    public static ReplayReport Verify(Func<Tensor[], Tensor> f, IReadOnlyDictionary<string, Func<TorchTensor[], TorchTensor>> customOps, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(customOps);
        var xs = Array.ConvertAll(Interop.Values(inputs, nameof(inputs)), v => v.Tensor);
        var r = Replay.verify(1e-10, 1e-12, Forwards(customOps), Interop.LiftMany(f), xs);
        return new ReplayReport(r.Passed, r.OperationsReplayed, FSharpOption<string>.get_IsSome(r.FirstDivergence) ? r.FirstDivergence.Value : null, r.Details);
    }

    /// <summary>The custom ops' TorchSharp forwards as the F# engine takes them; a null entry is refused by name.</summary>
    internal static IReadOnlyDictionary<string, FSharpFunc<TorchTensor[], TorchTensor>> Forwards(IReadOnlyDictionary<string, Func<TorchTensor[], TorchTensor>> customOps)
    {
        ArgumentNullException.ThrowIfNull(customOps);
        var custom = new Dictionary<string, FSharpFunc<TorchTensor[], TorchTensor>>();
        foreach (var (name, forward) in customOps)
            custom[name] = FuncConvert.FromFunc(forward ?? throw new ArgumentNullException(nameof(customOps), $"The TorchSharp forward for '{name}' is null."));
        return custom;
    }
}
