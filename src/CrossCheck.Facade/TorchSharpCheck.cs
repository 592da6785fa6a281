using System;
using Microsoft.FSharp.Core;
using Core = Functional.Core;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Functional.CrossCheck;

/// <summary>
/// The TorchSharp mode of <see cref="GradientCheck"/>: the same function written with Functional and with
/// TorchSharp, value and gradients compared element by element under TorchSharp's float64 autograd.
/// </summary>
public static partial class TorchSharpCheck
{
    /// <summary>Compares with |ours − TorchSharp| ≤ 1e-12 + 1e-10·|TorchSharp|.</summary>
    public static GradientCheckReport Compare(Func<Tensor[], Tensor> ours, Func<TorchTensor[], TorchTensor> theirs, params Tensor[] inputs) =>
        Compare(ours, theirs, 1e-10, 1e-12, inputs);

    /// <summary>Compares with the given tolerances. In the report, Analytic is ours and Numeric is TorchSharp's.</summary>
    public static GradientCheckReport Compare(Func<Tensor[], Tensor> ours, Func<TorchTensor[], TorchTensor> theirs, double relativeTolerance, double absoluteTolerance, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(ours);
        ArgumentNullException.ThrowIfNull(theirs);
        var values = Interop.Values(inputs, nameof(inputs));
        var f = FuncConvert.FromFunc<Core.Value[], Core.Value>(vs => ours(Interop.Tensors(vs)).Value);
        var g = FuncConvert.FromFunc<TorchTensor[], TorchTensor>(theirs);
        var r = Torch.compare(relativeTolerance, absoluteTolerance, f, g, Array.ConvertAll(values, v => v.Tensor));
        return new GradientCheckReport(r.Passed, r.MaxAbsoluteError, r.MaxRelativeError, r.WorstInput, r.WorstIndex, r.Analytic, r.Numeric, r.Checked);
    }
}
