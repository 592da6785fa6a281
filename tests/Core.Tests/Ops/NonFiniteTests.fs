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

    /// The second and third derivatives of the smooth activations and functions at ±∞ and ±1e300 are their limits, 0
    /// (their formulas meet ∞·0 there unless their argument is held where the value is already 0), on lanes and
    /// through the scalar path; and in the right tail they keep their digits: SiLU'' and softplus'' at 40 are
    /// σ(40)·σ(−40)·(2 − 40) and σ(40)·σ(−40) (1 − σ(40) would cancel to 0).
    [<Fact>]
    let ``higher derivatives at the infinities are their limits, and keep their digits in the right tail`` () =
        let ops : (string * (Value -> Value)) list =
            [ "silu", Activation.silu; "softplus", Activation.softplus; "gelu", Activation.gelu; "geluTanh", Activation.geluTanh
              "erf", Elementwise.erf; "erfc", Elementwise.erfc; "atan", Elementwise.atan; "sigmoid", Elementwise.sigmoid
              "tanh", Elementwise.tanh ]
        let derivative (f: Value -> Value) (v: Value) = Autodiff.grad (fun u -> Reduction.sum (f u)) v
        for points in [ [| infinity; -infinity; 1e300; -1e300 |]; Array.init 9 (fun i -> if i % 2 = 0 then infinity else -infinity) ] do
            for name, f in ops do
                let x = Value.constant (Tensor.vector points)
                let second = (derivative (derivative f) x).Tensor.ToArray()
                let third = (derivative (derivative (derivative f)) x).Tensor.ToArray()
                for i in 0 .. points.Length - 1 do
                    Assert.True((second.[i] = 0.0), sprintf "second derivative of %s at %g: %g, expected 0" name points.[i] second.[i])
                    Assert.True((third.[i] = 0.0), sprintf "third derivative of %s at %g: %g, expected 0" name points.[i] third.[i])
        let slope = Special.sigmoid 40.0 * Special.sigmoid -40.0
        let at40 (f: Value -> Value) = Tensor.item (derivative (derivative f) (Value.scalar 40.0)).Tensor
        let close (expected: double) (actual: double) = abs (actual - expected) <= 1e-14 * abs expected
        Assert.True(close (slope * (2.0 - 40.0)) (at40 Activation.silu), sprintf "SiLU'' at 40: %g" (at40 Activation.silu))
        Assert.True(close slope (at40 Activation.softplus), sprintf "softplus'' at 40: %g" (at40 Activation.softplus))

    /// A mean of finite values whose sum overflows is finite (the values summed scaled by a power of two); its
    /// gradient is 1/n; a mean whose sum does not overflow is the sum divided by n, bit for bit.
    [<Fact>]
    let ``a mean of finite values near the largest double is finite`` () =
        let x = Value.constant (Tensor.create [| 2; 3 |] [| 1.5e308; 1.7e308; 1e308; 1.0; 2.0; 4.0 |])
        let rows = (Reduction.meanAxes [| 1 |] false x).Tensor.ToArray()
        Assert.True(abs (rows.[0] - 1.4e308) <= 2e292, sprintf "mean %g, expected 1.4e308" rows.[0])
        Assert.Equal(7.0 / 3.0, rows.[1])
        let all = Tensor.item (Reduction.mean x).Tensor
        Assert.True(abs (all - 7e307) <= 2e291, sprintf "mean %g, expected 7e307" all)
        Assert.Equal<double[]>(Array.create 6 (1.0 / 6.0), (Autodiff.grad Reduction.mean x).Tensor.ToArray())
        let r = Tensor.random 5 [| 7; 49 |]
        Assert.Equal<double[]>((Tensor.map (fun s -> s / 49.0) (Tensor.sumAxes [| 1 |] false r)).ToArray(), (Reduction.meanAxes [| 1 |] false (Value.constant r)).Tensor.ToArray())
        // Rows decided one by one: a row with ∞ keeps ∞ beside one that overflowed, and subnormal means keep their bits.
        let mixed = Value.constant (Tensor.create [| 3; 2 |] [| 1e308; 1e308; infinity; 1.0; 5e-324; 5e-324 |])
        Assert.Equal<double[]>([| 1e308; infinity; 5e-324 |], (Reduction.meanAxes [| 1 |] false mixed).Tensor.ToArray())
        // Infinite or NaN values keep their mean.
        Assert.Equal(infinity, Tensor.item (Reduction.mean (Value.constant (Tensor.vector [| infinity; 1.0 |]))).Tensor)

    /// maximum and minimum over every pair of special values, on lanes (same shapes, with a tail) and broadcast
    /// (one side a single value): Math.Max's and Math.Min's values bit for bit (NaN where either is NaN), and each
    /// side's gradient 1 where it wins, 0 where it loses, the convention's at a tie, NaN with a NaN.
    [<Fact>]
    let ``maximum and minimum at every pair of special values, on lanes and broadcast`` () =
        let specials = [| 0.0; -0.0; 1.0; -1.0; infinity; -infinity; nan; 1e300; -1e300; tiny; -tiny; 2.5 |]
        let pairs = [| for a in specials do for b in specials -> a, b |]
        for isMax in [ true; false ] do
            for convention in [ KinkConvention.LeftDerivative; KinkConvention.RightDerivative; KinkConvention.Midpoint ] do
                // Raising one side of a tie moves a max (right derivative 1), not a min (0).
                let tie = if isMax then Piecewise.kinkValue convention 0.0 1.0 else Piecewise.kinkValue convention 1.0 0.0
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

    /// where takes whenTrue wherever the condition is not 0 (NaN and ±∞ included, −0 not), on lanes with a tail, with
    /// a uniform branch and broadcast; its pullback sends the adjoint to the branch taken.
    [<Fact>]
    let ``where at special conditions, uniform and broadcast branches, and its pullback`` () =
        let conditions = [| 0.0; -0.0; nan; infinity; -infinity; 1.0; -tiny; 2.0; 0.0; 5.0; -0.0 |]
        let n = conditions.Length
        let a = Tensor.init [| n |] (fun i -> float i + 0.5)
        let b = Tensor.init [| n |] (fun i -> -(float i) - 0.25)
        let expected (i: int) (x: double) (y: double) = if conditions.[i] <> 0.0 then x else y
        let c = Value.constant (Tensor.create [| n |] conditions)
        let v = (Indexing.where c (Value.constant a) (Value.constant b)).Tensor.ToArray()
        for i in 0 .. n - 1 do Assert.Equal(expected i a.[[| i |]] b.[[| i |]], v.[i])
        // A uniform whenFalse and a broadcast whenTrue of shape [1].
        let u = (Indexing.where c (Value.constant (Tensor.create [| 1 |] [| 7.0 |])) (Value.constant (Tensor.full [| n |] -3.0))).Tensor.ToArray()
        for i in 0 .. n - 1 do Assert.Equal(expected i 7.0 -3.0, u.[i])
        let _, pullback = Autodiff.vjpMany (fun vs -> Indexing.where c vs.[0] vs.[1]) [| Value.constant a; Value.constant (Tensor.create [| 1 |] [| 1.0 |]) |]
        let g = Tensor.init [| n |] (fun i -> float (i + 1))
        let grads = pullback (Value.constant g)
        let ga = grads.[0].Tensor.ToArray()
        for i in 0 .. n - 1 do Assert.Equal((if conditions.[i] <> 0.0 then float (i + 1) else 0.0), ga.[i])
        let falseSum = Seq.sum (seq { for i in 0 .. n - 1 do if conditions.[i] = 0.0 then yield float (i + 1) })
        Assert.Equal<double[]>([| falseSum |], grads.[1].Tensor.ToArray())

    /// maxAxes and minAxes over one axis or consecutive axes, against the definition element by element: +0 above −0
    /// for a max and −0 below +0 for a min whatever their order (as `maximum` and `minimum`), NaN if any entry is NaN,
    /// and the gradient's shares at ties
    /// by the convention; rows shorter and longer than a vector's lanes, and inner lengths of 1, 3, 5 and 8.
    [<Fact>]
    let ``maxAxes and minAxes with ties, signed zeros and NaN, against the definition`` () =
        let rng = Random(67)
        let mutable zeros = 0.0
        let pick () =
            if zeros <> 0.0 then (match rng.Next 3 with 0 -> 0.0 | 1 -> -0.0 | _ -> zeros) else
            match rng.Next 10 with
            | 0 -> 0.0
            | 1 -> -0.0
            | 2 -> 1.0
            | 3 -> -1.0
            | 4 when rng.Next 8 = 0 -> nan
            | _ -> float (rng.Next 5) - 2.0
        for shape, axes in [ [| 3; 5 |], [| 1 |]; [| 4; 19 |], [| 1 |]; [| 2; 33 |], [| -1 |]; [| 6; 9; 3 |], [| 1 |]; [| 5; 7; 8 |], [| 1 |]
                             [| 3; 4; 5 |], [| 0 |]; [| 2; 3; 4; 5 |], [| 1; 2 |]; [| 40; 2 |], [| 0; 1 |]; [| 3; 4; 5 |], [| 0; 2 |]
                             [| 6; 21 |], [| 1 |]; [| 7; 21 |], [| 1 |] ] do
            // The last two: zeros of both signs and −1 (or 1), so most maxima (minima) are zeros tied, and the result's
            // sign depends on which zeros the run holds, not on their order.
            zeros <- (if shape = [| 6; 21 |] then -1.0 elif shape = [| 7; 21 |] then 1.0 else 0.0)
            let x = Tensor.init shape (fun _ -> pick ())
            let axesN = axes |> Array.map (fun a -> if a < 0 then a + shape.Length else a)
            let kept = shape |> Array.mapi (fun i d -> if Array.contains i axesN then 1 else d)
            // Every full index, and the output index it reduces into.
            let indices =
                let rec go (prefix: int list) (dims: int list) =
                    match dims with
                    | [] -> [ List.rev prefix |> Array.ofList ]
                    | d :: rest -> [ for k in 0 .. d - 1 do yield! go (k :: prefix) rest ]
                go [] (List.ofArray shape)
            let target (ix: int[]) = ix |> Array.mapi (fun i k -> if Array.contains i axesN then 0 else k)
            for isMax in [ true; false ] do
                for convention in [ KinkConvention.Midpoint; KinkConvention.RightDerivative; KinkConvention.LeftDerivative ] do
                    let f = if isMax then Piecewise.maxAxes convention axes true else Piecewise.minAxes convention axes true
                    let value, pullback = Autodiff.vjp f (Value.constant x)
                    let grad = (pullback (Value.constant (Tensor.full kept 1.0))).Tensor
                    // The definition: the largest (smallest), +0 above −0; NaN if any.
                    let best = Collections.Generic.Dictionary<string, double>()
                    for ix in indices do
                        let key = String.Join(",", target ix)
                        let v = x.[ix]
                        match best.TryGetValue key with
                        | false, _ -> best.[key] <- v
                        | true, b ->
                            if Double.IsNaN b then ()
                            elif Double.IsNaN v then best.[key] <- nan
                            elif (if isMax then v > b else v < b) then best.[key] <- v
                            elif v = 0.0 && b = 0.0 then best.[key] <- (if (if isMax then Double.IsNegative v && Double.IsNegative b else Double.IsNegative v || Double.IsNegative b) then -0.0 else 0.0)
                    let hit (ix: int[]) = let b = best.[String.Join(",", target ix)] in x.[ix] = b || (Double.IsNaN b && Double.IsNaN x.[ix])
                    let ties = indices |> List.filter hit |> List.countBy (fun ix -> String.Join(",", target ix)) |> dict
                    for ix in indices do
                        let t = target ix
                        let key = String.Join(",", t)
                        Assert.True(same best.[key] value.Tensor.[t], sprintf "%A over %A at %A: %g, expected %g" shape axes t value.Tensor.[t] best.[key])
                        let share =
                            if not (hit ix) then 0.0
                            elif ties.[key] = 1 then 1.0
                            else
                                // Raising one tied entry moves a max (right derivative 1), not a min (0).
                                match convention with
                                | KinkConvention.RightDerivative -> (if isMax then 1.0 else 0.0)
                                | KinkConvention.LeftDerivative -> (if isMax then 0.0 else 1.0)
                                | _ -> 1.0 / float ties.[key]
                        Assert.True(same share grad.[ix], sprintf "%A over %A (%A) at %A: share %g, expected %g" shape axes convention ix grad.[ix] share)

    /// x^−0.5 is 1/√x, with Math.Pow's values at the special points, within 1 ulp of Math.Pow elsewhere.
    [<Fact>]
    let ``pow -0.5 at the special values and across magnitudes`` () =
        let rng = Random(79)
        let specials = [| 0.0; -0.0; infinity; -infinity; nan; -1.0; 4.0 |]
        let xs = Array.concat [ specials; [| tiny; max |]; Array.init 401 (fun _ -> Math.Pow(10.0, -300.0 + 600.0 * rng.NextDouble())) ]
        let v = (Elementwise.pow -0.5 (Value.constant (Tensor.create [| xs.Length |] xs))).Tensor.ToArray()
        for i in 0 .. xs.Length - 1 do
            let expected = Math.Pow(xs.[i], -0.5)
            if i < specials.Length then Assert.True(same expected v.[i], sprintf "%g^-0.5 = %g, Math.Pow %g" xs.[i] v.[i] expected)
            else Assert.True(abs (v.[i] - expected) <= Math.BitIncrement expected - expected, sprintf "%g^-0.5 = %.17g, Math.Pow %.17g" xs.[i] v.[i] expected)
