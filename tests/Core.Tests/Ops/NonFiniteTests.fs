namespace Functional.Tests

open System
open Xunit
open Functional.Core

/// Every activation's value and derivative at ±0, ±∞, NaN, ±1e300 and the extreme doubles: the README table.
module NonFiniteTests =

    let max = Double.MaxValue
    let tiny = Double.Epsilon // the smallest subnormal, 5e-324

    /// (activation, x, value, derivative), compared bit for bit (NaN equals NaN).
    let table : (string * double * double * double) list =
        [ "relu", 0.0, 0.0, 0.0
          "relu", -0.0, 0.0, 0.0
          "relu", infinity, infinity, 1.0
          "relu", -infinity, 0.0, 0.0
          "relu", nan, nan, nan
          "relu", 1e300, 1e300, 1.0
          "relu", -1e300, 0.0, 0.0
          "relu", max, max, 1.0
          "relu", -max, 0.0, 0.0
          "relu", tiny, tiny, 1.0
          "relu", -tiny, 0.0, 0.0
          "leakyRelu", 0.0, 0.0, 1.0
          "leakyRelu", -0.0, -0.0, 1.0
          "leakyRelu", infinity, infinity, 1.0
          "leakyRelu", -infinity, -infinity, 0.01
          "leakyRelu", nan, nan, nan
          "leakyRelu", 1e300, 1e300, 1.0
          "leakyRelu", -1e300, 0.01 * -1e300, 0.01
          "leakyRelu", max, max, 1.0
          "leakyRelu", -max, -0.01 * max, 0.01
          "leakyRelu", tiny, tiny, 1.0
          "leakyRelu", -tiny, -0.0, 0.01
          "gelu", 0.0, 0.0, 0.5
          "gelu", -0.0, -0.0, 0.5
          "gelu", infinity, infinity, 1.0
          "gelu", -infinity, -0.0, 0.0
          "gelu", nan, nan, nan
          "gelu", 1e300, 1e300, 1.0
          "gelu", -1e300, -0.0, -0.0
          "gelu", max, max, 1.0
          "gelu", -max, -0.0, -0.0
          "gelu", tiny, 0.0, 0.5
          "gelu", -tiny, -0.0, 0.5
          "geluTanh", 0.0, 0.0, 0.5
          "geluTanh", -0.0, -0.0, 0.5
          "geluTanh", infinity, infinity, 1.0
          "geluTanh", -infinity, -0.0, 0.0
          "geluTanh", nan, nan, nan
          "geluTanh", 1e300, 1e300, 1.0
          "geluTanh", -1e300, -0.0, 0.0
          "geluTanh", max, max, 1.0
          "geluTanh", -max, -0.0, 0.0
          "geluTanh", tiny, 0.0, 0.5
          "geluTanh", -tiny, -0.0, 0.5
          "sigmoid", 0.0, 0.5, 0.25
          "sigmoid", -0.0, 0.5, 0.25
          "sigmoid", infinity, 1.0, 0.0
          "sigmoid", -infinity, 0.0, 0.0
          "sigmoid", nan, nan, nan
          "sigmoid", 1e300, 1.0, 0.0
          "sigmoid", -1e300, 0.0, 0.0
          "sigmoid", max, 1.0, 0.0
          "sigmoid", -max, 0.0, 0.0
          "sigmoid", tiny, 0.5, 0.25
          "sigmoid", -tiny, 0.5, 0.25
          "tanh", 0.0, 0.0, 1.0
          "tanh", -0.0, -0.0, 1.0
          "tanh", infinity, 1.0, 0.0
          "tanh", -infinity, -1.0, 0.0
          "tanh", nan, nan, nan
          "tanh", 1e300, 1.0, 0.0
          "tanh", -1e300, -1.0, 0.0
          "tanh", max, 1.0, 0.0
          "tanh", -max, -1.0, 0.0
          "tanh", tiny, tiny, 1.0
          "tanh", -tiny, -tiny, 1.0 ]

    let activation (name: string) : Value -> Value =
        match name with
        | "relu" -> Activation.relu
        | "leakyRelu" -> Activation.leakyRelu 0.01
        | "gelu" -> Activation.gelu
        | "geluTanh" -> Activation.geluTanh
        | "sigmoid" -> Elementwise.sigmoid
        | _ -> Elementwise.tanh

    let same (a: double) (b: double) = (Double.IsNaN a && Double.IsNaN b) || BitConverter.DoubleToInt64Bits a = BitConverter.DoubleToInt64Bits b

    let rows = table |> List.map (fun (n, x, v, d) -> [| box n; box x; box v; box d |])

    [<Theory>]
    [<MemberData(nameof rows)>]
    let ``value and derivative at a special point`` (name: string, x: double, value: double, derivative: double) =
        let f = activation name
        let v = Tensor.item (f (Value.scalar x)).Tensor
        // The derivative through the transform (a VJP with adjoint 1), not the scalar helper.
        let _, pullback = Autodiff.vjp f (Value.scalar x)
        let d = Tensor.item (pullback (Value.scalar 1.0)).Tensor
        Assert.True(same value v, sprintf "%s(%g) = %g, table says %g" name x v value)
        Assert.True(same derivative d, sprintf "%s'(%g) = %g, table says %g" name x d derivative)
