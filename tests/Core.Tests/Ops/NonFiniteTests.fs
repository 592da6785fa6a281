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

    /// maximum and minimum over every pair of special values, on lanes (same shapes, with a tail) and broadcast
    /// (one side a single value): Math.Max's and Math.Min's values bit for bit (NaN where either is NaN), and each
    /// side's gradient 1 where it wins, 0 where it loses, the convention's at a tie, NaN with a NaN.
    [<Fact>]
    let ``maximum and minimum at every pair of special values, on lanes and broadcast`` () =
        let specials = [| 0.0; -0.0; 1.0; -1.0; infinity; -infinity; nan; 1e300; -1e300; tiny; -tiny; 2.5 |]
        let pairs = [| for a in specials do for b in specials -> a, b |]
        for isMax in [ true; false ] do
            for convention in [ KinkConvention.LeftDerivative; KinkConvention.RightDerivative; KinkConvention.Midpoint ] do
                let tie = Piecewise.kinkValue convention 0.0 1.0
                let f = if isMax then Piecewise.maximum convention else Piecewise.minimum convention
                let expected (x: double) (y: double) = if Double.IsNaN x || Double.IsNaN y then nan elif isMax then Math.Max(x, y) else Math.Min(x, y)
                let weight (x: double) (y: double) =
                    if Double.IsNaN x || Double.IsNaN y then nan elif x = y then tie elif (if isMax then x > y else x < y) then 1.0 else 0.0
                // 144 pairs (whole vectors) and 143 (a tail).
                for count in [ pairs.Length; pairs.Length - 1 ] do
                    let xs = Array.init count (fun i -> fst pairs.[i])
                    let ys = Array.init count (fun i -> snd pairs.[i])
                    let a, b = Value.constant (Tensor.create [| count |] xs), Value.constant (Tensor.create [| count |] ys)
                    let v = (f a b).Tensor.ToArray()
                    let _, pullback = Autodiff.vjpMany (fun vs -> f vs.[0] vs.[1]) [| a; b |]
                    let grads = pullback (Value.constant (Tensor.full [| count |] 1.0))
                    let ga, gb = grads.[0].Tensor.ToArray(), grads.[1].Tensor.ToArray()
                    for i in 0 .. count - 1 do
                        let x, y = xs.[i], ys.[i]
                        Assert.True(same (expected x y) v.[i], sprintf "%s(%g, %g) = %g" (if isMax then "max" else "min") x y v.[i])
                        Assert.True(same (weight x y) ga.[i] && same (weight y x) gb.[i], sprintf "gradients at (%g, %g): %g, %g (%A)" x y ga.[i] gb.[i] convention)
                // Broadcast: each special value against all of them.
                for y in specials do
                    let v = (f (Value.constant (Tensor.create [| specials.Length |] specials)) (Value.scalar y)).Tensor.ToArray()
                    Array.iteri (fun i (x: double) -> Assert.True(same (expected x y) v.[i], sprintf "broadcast (%g, %g)" x y)) specials

    /// x^0.5 is √x (correctly rounded) with Math.Pow's values at −0 (+0) and −∞ (+∞); its derivative 0.5·x^−0.5
    /// within 2 ulp of 0.5·Math.Pow(x, −0.5), and Math.Pow's limits at the special values.
    [<Fact>]
    let ``pow 0.5 and its derivative at the special values and across magnitudes`` () =
        let rng = Random(61)
        let specials = [| 0.0; -0.0; infinity; -infinity; nan; -1.0; tiny; 4.0; 2.0; max; 1e-300 |]
        let xs = Array.append specials (Array.init 401 (fun _ -> Math.Pow(10.0, -300.0 + 600.0 * rng.NextDouble())))
        let f = Elementwise.pow 0.5
        let v = (f (Value.constant (Tensor.create [| xs.Length |] xs))).Tensor.ToArray()
        let _, pullback = Autodiff.vjp f (Value.constant (Tensor.create [| xs.Length |] xs))
        let d = (pullback (Value.constant (Tensor.full [| xs.Length |] 1.0))).Tensor.ToArray()
        for i in 0 .. xs.Length - 1 do
            let x = xs.[i]
            Assert.True(same (if x = -infinity then infinity else Math.Sqrt x + 0.0) v.[i], sprintf "%g^0.5 = %g" x v.[i])
            if i < specials.Length then Assert.True(same (Math.Pow(x, 0.5)) v.[i], sprintf "%g^0.5 = %g, Math.Pow %g" x v.[i] (Math.Pow(x, 0.5)))
            let expected = 0.5 * Math.Pow(x, -0.5)
            if Double.IsNaN expected || Double.IsInfinity expected || expected = 0.0 then Assert.True(same expected d.[i], sprintf "d/dx %g^0.5 = %g, expected %g" x d.[i] expected)
            else Assert.True(abs (d.[i] - expected) <= 2.0 * (Math.BitIncrement expected - expected), sprintf "d/dx %g^0.5 = %.17g, expected %.17g" x d.[i] expected)
