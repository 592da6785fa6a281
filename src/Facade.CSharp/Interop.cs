using System;
using System.Runtime.CompilerServices;
using Microsoft.FSharp.Core;
using Core = Functional.Core;

namespace Functional;

/// <summary>Conversions between the facade and the F# core; nothing here is public.</summary>
internal static class Interop
{
    // The caller's parameter name goes into the message of a function that returns null.
    public static FSharpFunc<Core.Value, Core.Value> Lift(Func<Tensor, Tensor> f, [CallerArgumentExpression(nameof(f))] string name = "f") =>
        FuncConvert.FromFunc<Core.Value, Core.Value>(v => Checked(Api.User(() => f(new Tensor(v))), name).Value);

    public static FSharpFunc<Core.Value[], Core.Value> LiftMany(Func<Tensor[], Tensor> f, [CallerArgumentExpression(nameof(f))] string name = "f") =>
        FuncConvert.FromFunc<Core.Value[], Core.Value>(vs => Checked(Api.User(() => f(Array.ConvertAll(vs, v => new Tensor(v)))), name).Value);

    public static Core.Value[] Values(Tensor[] xs, string name)
    {
        ArgumentNullException.ThrowIfNull(xs, name);
        var r = new Core.Value[xs.Length];
        for (int i = 0; i < xs.Length; i++)
            r[i] = (xs[i] ?? throw new ArgumentNullException($"{name}[{i}]")).Value;
        return r;
    }

    public static Tensor[] Tensors(Core.Value[] vs) => Array.ConvertAll(vs, v => new Tensor(v));

    private static Tensor Checked(Tensor? t, string name) =>
        t ?? throw new ArgumentException($"The function passed as '{name}' returned null; it must return a tensor.", name);

    public static Core.KinkConvention Convert(KinkConvention convention) => convention switch
    {
        KinkConvention.RightDerivative => Core.KinkConvention.RightDerivative,
        KinkConvention.LeftDerivative => Core.KinkConvention.LeftDerivative,
        KinkConvention.Midpoint => Core.KinkConvention.Midpoint,
        _ => throw new ArgumentOutOfRangeException(nameof(convention), convention, "Unknown kink convention."),
    };
}
