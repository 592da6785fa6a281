namespace Functional.Tests

open System
open Xunit
open TorchSharp
open Functional.Core
open Functional.CrossCheck

module OpsActivationTests =

    let gradAt (f: Value -> Value) (x: double) = Autodiff.grad (fun v -> Reduction.sum (f v)) (Value.scalar x) |> Value.tensor |> Tensor.item

    let torchGradAt (f: torch.Tensor -> torch.Tensor) (x: double) =
        (Torch.valueAndGrad (fun xs -> f xs.[0]) [| Tensor.scalar x |] None).Gradients.[0] |> Tensor.item

    [<Fact>]
    let ``Leaky ReLU at exactly 0: each convention`` () =
        let alpha = 0.01
        Assert.Equal(1.0, gradAt (Activation.leakyRelu alpha) 0.0)
        Assert.Equal(1.0, gradAt (Activation.leakyReluWith alpha KinkConvention.RightDerivative) 0.0)
        Assert.Equal(alpha, gradAt (Activation.leakyReluWith alpha KinkConvention.LeftDerivative) 0.0)
        Assert.Equal((1.0 + alpha) / 2.0, gradAt (Activation.leakyReluWith alpha KinkConvention.Midpoint) 0.0)
        // −0 is 0 too.
        Assert.Equal(1.0, gradAt (Activation.leakyRelu alpha) -0.0)

    [<Fact>]
    let ``Leaky ReLU's alpha convention equals TorchSharp at 0`` () =
        for alpha in [ 0.01; 0.2 ] do
            let theirs = torchGradAt (fun t -> torch.nn.functional.leaky_relu(t, alpha)) 0.0
            Assert.Equal(theirs, gradAt (Activation.leakyReluWith alpha KinkConvention.LeftDerivative) 0.0)
            Assert.Equal(alpha, theirs)

    [<Fact>]
    let ``ReLU's derivative at 0 is 0`` () =
        Assert.Equal(0.0, gradAt Activation.relu 0.0)
        Assert.Equal(torchGradAt torch.nn.functional.relu 0.0, gradAt Activation.relu 0.0)

    /// x of n elements with ±0 and NaN in a few places (flagged blocks for the slope bits), the rest ±(0.5…2.5).
    let private kinked (n: int) =
        let rnd = Random(n)
        Array.init n (fun i ->
            match i % 701 with
            | 5 -> 0.0
            | 9 -> -0.0
            | 13 when i % 2 = 0 -> nan
            | _ -> (if rnd.Next 2 = 0 then -1.0 else 1.0) * (0.5 + 2.0 * rnd.NextDouble()))

    /// The bits of a pullback against g·slope(x) elementwise (both NaN counts as equal).
    let private sameAsSlopes (what: string) (expected: double[]) (actual: double[]) =
        Assert.Equal(expected.Length, actual.Length)
        for i in 0 .. expected.Length - 1 do
            if not (Double.IsNaN expected.[i] && Double.IsNaN actual.[i]) && BitConverter.DoubleToInt64Bits expected.[i] <> BitConverter.DoubleToInt64Bits actual.[i] then
                Assert.Fail(sprintf "%s: element %d: expected %.17g, got %.17g" what i expected.[i] actual.[i])

    [<Fact>]
    let ``ReLU, Leaky ReLU, abs and clamp pullbacks of large tensors (slopes kept as bits) are g times the slope of x, plain and in a scope`` () =
        for n in [ 4096; 5000; 70_001 ] do
            let xs = kinked n
            let g = Array.init n (fun i -> Math.Cos(float i) * 2.0)
            let x = Value.constant (Tensor.create [| n |] xs)
            let adjoint = Value.constant (Tensor.create [| n |] g)
            let cases =
                [ "relu", Activation.relu, (fun v -> Activation.leakyReluSlope 0.0 KinkConvention.LeftDerivative v)
                  for convention in [ KinkConvention.RightDerivative; KinkConvention.LeftDerivative; KinkConvention.Midpoint ] do
                      sprintf "leaky %A" convention, Activation.leakyReluWith 0.1 convention, Activation.leakyReluSlope 0.1 convention
                      // |x|: sign x, and the convention's 1, −1 or 0 at ±0.
                      sprintf "abs %A" convention, Piecewise.abs convention, (fun v -> if v > 0.0 then 1.0 elif v < 0.0 then -1.0 elif Double.IsNaN v then nan else Piecewise.kinkValue convention -1.0 1.0)
                      // clamp to [−0.5, 1]: 1 inside, 0 outside, the convention's value of 0 and 1 at a bound.
                      sprintf "clamp %A" convention, Piecewise.clamp convention -0.5 1.0,
                      (fun v ->
                          if v > -0.5 && v < 1.0 then 1.0 elif v < -0.5 || v > 1.0 then 0.0 elif Double.IsNaN v then nan
                          elif v = -0.5 then Piecewise.kinkValue convention 0.0 1.0 else Piecewise.kinkValue convention 1.0 0.0) ]
            for name, f, slope in cases do
                let expected = Array.init n (fun i -> g.[i] * slope xs.[i])
                let _, pullback = Autodiff.vjp f x
                sameAsSlopes (sprintf "%s, n %d, plain" name n) expected ((pullback adjoint |> Value.tensor).ToArray())
                // Twice from one pullback: the kept bits are read again.
                sameAsSlopes (sprintf "%s, n %d, plain, again" name n) expected ((pullback adjoint |> Value.tensor).ToArray())
                do
                    use _scope = Tensor.scope ()
                    let _, pullback = Autodiff.vjp f x
                    sameAsSlopes (sprintf "%s, n %d, in a scope" name n) expected ((pullback adjoint |> Value.tensor).ToArray())
                // A sum's adjoint is uniform.
                let ones = Autodiff.grad (fun v -> Reduction.sum (f v)) x |> Value.tensor
                sameAsSlopes (sprintf "%s, n %d, gradient of the sum" name n) (Array.map slope xs) (ones.ToArray())

    /// f of 5,000 values (±0, −745, 800 and sines of amplitude `scale`) with a random adjoint: asserts that f on a
    /// tape gives the bits of f off it and that its VJP gives its JVP's bits; returns the inputs, adjoint, values
    /// and VJP.
    let private onAndOffTape (f: Value -> Value) (scale: double) =
        let n = 5000
        let xs = Array.init n (fun i -> if i % 997 = 3 then 0.0 elif i % 991 = 7 then -745.0 elif i % 983 = 11 then 800.0 else Math.Sin(float i) * scale)
        let g = Array.init n (fun i -> Math.Cos(float i * 0.7) * 3.0)
        let x = Value.constant (Tensor.create [| n |] xs)
        let adjoint = Value.constant (Tensor.create [| n |] g)
        let bits (t: Tensor) = t.ToArray() |> Array.map BitConverter.DoubleToInt64Bits
        let y, pullback = Autodiff.vjp f x
        Assert.Equal<int64[]>(bits (f x |> Value.tensor), bits (Value.tensor y))
        let vjp = pullback adjoint |> Value.tensor
        let _, jvp = Autodiff.jvp f x adjoint
        Assert.Equal<int64[]>(bits (Value.tensor jvp), bits vjp)
        xs, g, (Value.tensor y).ToArray(), vjp.ToArray()

    [<Fact>]
    let ``softplus on a tape gives the bits of softplus off the tape, and its VJP its JVP's`` () =
        let xs, g, _, v = onAndOffTape Activation.softplus 40.0
        for i in 0 .. xs.Length - 1 do
            let expected = g.[i] * Special.sigmoid xs.[i]
            Assert.True(v.[i] = expected || abs (v.[i] - expected) <= 1e-14 * abs expected, sprintf "softplus'(%g)·g: %.17g against %.17g" xs.[i] v.[i] expected)

    [<Fact>]
    let ``SiLU on a tape (derivative kept with the value) gives the bits of SiLU off the tape and of its JVP`` () =
        let xs, g, yv, v = onAndOffTape Activation.silu 12.0
        // Against x·σ(x) and σ(x)·(1 + x·(1 − σ(x))) in scalar arithmetic: within a few ulp (σ within 3).
        for i in 0 .. xs.Length - 1 do
            let s = Special.sigmoid xs.[i]
            let close (expected: double) (actual: double) = abs (actual - expected) <= 1e-14 * abs expected + 1e-300
            Assert.True(close (xs.[i] * s) yv.[i], sprintf "SiLU(%g): %.17g" xs.[i] yv.[i])
            Assert.True(close (g.[i] * (s * (1.0 + xs.[i] * (1.0 - s)))) v.[i], sprintf "SiLU'(%g)·g: %.17g" xs.[i] v.[i])

    [<Fact>]
    let ``softplus by the vector exponential and logarithm stays within a few ulp of the scalar formula, tails included`` () =
        let special = [| 0.0; -0.0; 1e-300; -1e-300; 1e-8; -1e-8; 36.0; -36.0; 37.5; -37.5; 40.0; -40.0; 700.0; -700.0; 745.0; -745.0; 800.0; -800.0; infinity; -infinity |]
        let xs = Array.append special (Array.init 20_000 (fun i -> Math.Sin(float i) * 50.0))
        let ys = (Activation.softplus (Value.constant (Tensor.create [| xs.Length |] xs)) |> Value.tensor).ToArray()
        for i in 0 .. xs.Length - 1 do
            let x = xs.[i]
            let e = Math.Exp(-(abs x))
            let u = 1.0 + e
            let expected = max x 0.0 + (if u = 1.0 then e else Math.Log u * (e / (u - 1.0)))
            Assert.True(ys.[i] = expected || abs (ys.[i] - expected) <= 1e-15 * abs expected, sprintf "softplus(%g): %.17g against %.17g" x ys.[i] expected)
        Assert.True(Double.IsNaN((Activation.softplus (Value.scalar nan) |> Value.tensor |> Tensor.item)))

    [<Fact>]
    let ``ELU on a tape gives the bits of ELU off the tape and of its JVP, close to the scalar formula, kinks included`` () =
        for convention, kink in [ KinkConvention.LeftDerivative, 0.7; KinkConvention.RightDerivative, 1.0; KinkConvention.Midpoint, 0.85 ] do
            let xs, g, yv, v = onAndOffTape (Piecewise.elu 0.7 convention) 12.0
            for i in 0 .. xs.Length - 1 do
                let x = xs.[i]
                let close (expected: double) (actual: double) = actual = expected || abs (actual - expected) <= 1e-15 * abs expected
                let value = if x > 0.0 then x else 0.7 * Elementwise.expm1Scalar x
                let slope = if x > 0.0 then 1.0 elif x < 0.0 then 0.7 * Math.Exp x else kink
                Assert.True(close value yv.[i], sprintf "ELU(%g): %.17g against %.17g" x yv.[i] value)
                Assert.True(close (g.[i] * slope) v.[i], sprintf "ELU'(%g)·g: %.17g against %.17g" x v.[i] (g.[i] * slope))

    [<Fact>]
    let ``ELU's second derivative is α·eˣ below 0 and 0 above`` () =
        let xs = [| -3.0; -0.5; -1e-9; 0.25; 2.0 |]
        let h = Autodiff.hessianVectorProduct (fun x -> Reduction.sum (Piecewise.elu 1.3 KinkConvention.Midpoint x))
                    (Value.constant (Tensor.vector xs)) (Value.constant (Tensor.vector (Array.create xs.Length 1.0))) |> Value.tensor
        Array.iteri (fun i x ->
            let expected = if x < 0.0 then 1.3 * Math.Exp x else 0.0
            Assert.True(abs (h.ToArray().[i] - expected) <= 1e-15 * abs expected, sprintf "at %g: %.17g" x (h.ToArray().[i]))) xs

    [<Fact>]
    let ``the tanh form's second and third derivatives are 0 in both tails, ±∞ included, and unchanged inside`` () =
        let xs = [| -infinity; -1e300; -1e100; -1e78; -40.0; -30.0; -3.0; -0.25; 0.0; 0.5; 2.0; 30.0; 1e78; 1e300; infinity; nan |]
        let f (x: Value) = Reduction.sum (Activation.geluTanh x)
        let ones = Value.constant (Tensor.vector (Array.create xs.Length 1.0))
        let second = Autodiff.hessianVectorProduct f (Value.constant (Tensor.vector xs)) ones |> Value.tensor |> fun t -> t.ToArray()
        let third = Autodiff.grad (fun x -> Reduction.sum (Autodiff.hessianVectorProduct f x ones)) (Value.constant (Tensor.vector xs))
                    |> Value.tensor |> fun t -> t.ToArray()
        // Inside, the second derivative against a central difference of the first (step 1e-5: error about 1e-9).
        let d (x: double) = Special.geluTanhDerivative x
        Array.iteri (fun i x ->
            if Double.IsNaN x then
                Assert.True(Double.IsNaN second.[i] && Double.IsNaN third.[i], sprintf "at NaN: %g, %g" second.[i] third.[i])
            elif abs x >= 30.0 then
                Assert.True((second.[i] = 0.0 && third.[i] = 0.0), sprintf "at %g: second %g, third %g" x second.[i] third.[i])
            else
                let h = 1e-5
                let numeric = (d (x + h) - d (x - h)) / (2.0 * h)
                Assert.True(abs (second.[i] - numeric) <= 1e-8 * (1.0 + abs numeric), sprintf "at %g: %.17g against %.17g" x second.[i] numeric)
                Assert.True(Double.IsFinite third.[i], sprintf "third at %g: %g" x third.[i])) xs

    [<Fact>]
    let ``second derivatives through a large Leaky ReLU's kept slope bits`` () =
        let n = 6000
        let xs = kinked n |> Array.map (fun v -> if Double.IsNaN v then 1.5 else v)
        let v = Array.init n (fun i -> 1.0 + float (i % 7))
        let alpha = 0.25
        // f = Σ LeakyReLU(x)²: ∇f = 2·y·slope, and the Hessian is diagonal, 2·slope² (the slope is constant between kinks).
        let f (x: Value) = let y = Activation.leakyReluWith alpha KinkConvention.Midpoint x in Reduction.sum (Arithmetic.mul y y)
        let hv = Autodiff.hessianVectorProduct f (Value.constant (Tensor.create [| n |] xs)) (Value.constant (Tensor.create [| n |] v)) |> Value.tensor
        let h = hv.ToArray()
        for i in 0 .. n - 1 do
            let s = Activation.leakyReluSlope alpha KinkConvention.Midpoint xs.[i]
            let expected = 2.0 * s * s * v.[i]
            Assert.True(abs (h.[i] - expected) <= 1e-15 * abs expected, sprintf "element %d at %g: %.17g vs %.17g" i xs.[i] h.[i] expected)

    [<Fact>]
    let ``TorchSharp's exact GELU is wrong in the negative tail, ours is right`` () =
        // True values from the 2,200-bit reference.
        for x in [ -10.0; -20.0; -30.0 ] do
            let exact = HighPrecision.toDouble (HighPrecision.gelu x)
            let ours = Special.gelu x
            let theirs = (Torch.valueAndGrad (fun xs -> torch.nn.functional.gelu(xs.[0])) [| Tensor.scalar x |] None).Output |> Tensor.item
            Assert.True(abs (ours - exact) <= 1e-15 * abs exact, sprintf "ours %g vs %g" ours exact)
            // TorchSharp computes x·(1 + erf(x/√2))/2: all precision is lost to cancellation.
            Assert.True(abs (theirs - exact) > 0.5 * abs exact, sprintf "TorchSharp %g vs exact %g" theirs exact)
        let t10 = (Torch.valueAndGrad (fun xs -> torch.nn.functional.gelu(xs.[0])) [| Tensor.scalar -10.0 |] None).Output |> Tensor.item
        Assert.Equal(0.0, t10) // −0: no information left

    [<Fact>]
    let ``GELU at special points`` () =
        Assert.Equal(0.5, gradAt Activation.gelu 0.0)
        Assert.Equal(0.0, Special.gelu 0.0)
        Assert.True(Double.IsNegative(Special.gelu -0.0))
        Assert.Equal(Double.PositiveInfinity, Special.gelu Double.PositiveInfinity)
        Assert.Equal(-0.0, Special.gelu Double.NegativeInfinity)
        Assert.True(Double.IsNaN(Special.gelu nan))
        Assert.Equal(1.0, Special.geluDerivative Double.PositiveInfinity)
        Assert.Equal(0.0, Special.geluDerivative Double.NegativeInfinity)

    /// Reverse mode saves f'(x) in the forward pass and the pullback multiplies; the unfused vector pass g·f'(x)
    /// (which a forward-mode tangent takes) rounds the same product: bit-identical.
    let savedDerivativeMatches (f: Value -> Value) (vector: bool) (kernel: double[] -> double[] -> double[]) (derivative: double -> double) (seed: int) =
        let x = Tensor.scale 4.0 (Tensor.random seed [| 37; 5 |])
        let g = Tensor.random (seed + 1) [| 37; 5 |]
        let _, pullback = Autodiff.vjp f (Value.constant x)
        let recomputed =
            if vector then Tensor.wrap [| 37; 5 |] (kernel x.Data g.Data)
            else Tensor.map2 (fun x g -> g * derivative x) x g
        Assert.Equal(recomputed, pullback (Value.constant g) |> Value.tensor)
        Assert.Equal(recomputed, Autodiff.jvp f (Value.constant x) (Value.constant g) |> snd |> Value.tensor)

    [<Fact>]
    let ``GELU's pullback from the derivative saved in the forward pass equals the recomputed one, to every order`` () =
        savedDerivativeMatches Activation.gelu Cpu.lanes GeluVector.scaledDerivative Special.geluDerivative 11
        // Second order through the saved derivative: the hessian of Σ GELU is diagonal φ(x)(2 − x²).
        let xs = Tensor.create [| 5 |] [| -9.5; -0.75; 0.0; 0.3; 6.0 |]
        let h = Autodiff.hessian (fun v -> Reduction.sum (Activation.gelu v)) (Value.constant xs) |> Value.tensor
        for i in 0 .. 4 do
            for j in 0 .. 4 do
                let expected = if i = j then Special.phiPoly [| 2.0; 0.0; -1.0 |] xs.[[| i |]] else 0.0
                Assert.True(abs (h.[[| i; j |]] - expected) <= 1e-15 + 1e-14 * abs expected, sprintf "H[%d,%d] = %g, expected %g" i j h.[[| i; j |]] expected)

    [<Fact>]
    let ``the tanh form's pullback from the derivative saved in the forward pass equals the recomputed one`` () =
        savedDerivativeMatches Activation.geluTanh Cpu.fourLanes GeluTanhVector.scaled Special.geluTanhDerivative 13

    /// A one-pass pullback op against the product it replaces, g·f'(x) with f' from `derivative x y` (y = f(x)):
    /// for a random adjoint, a uniform one (a sum's: never made into an array) and a tangent, bit for bit.
    let onePassMatches (x: Tensor) (seed: int) (f: Value -> Value) (derivative: Tensor -> Tensor -> Tensor) =
        let g = Tensor.random seed x.ShapeArray
        let y, pullback = Autodiff.vjp f (Value.constant x)
        let d = derivative x y.Tensor
        Assert.Equal(Tensor.mul g d, pullback (Value.constant g) |> Value.tensor)
        Assert.Equal(d, pullback (Value.constant (Tensor.full x.ShapeArray 1.0)) |> Value.tensor)
        Assert.Equal(Tensor.mul g d, Autodiff.jvp f (Value.constant x) (Value.constant g) |> snd |> Value.tensor)

    [<Fact>]
    let ``σ's and tanh's one-pass pullbacks give the bits of the products they replace, for any adjoint`` () =
        let x = Tensor.scale 6.0 (Tensor.random 15 [| 41; 3 |])
        let one = Tensor.full [| 41; 3 |] 1.0
        onePassMatches x 16 Elementwise.sigmoid (fun _ s -> Tensor.mul s (Tensor.sub one s))
        onePassMatches x 16 Elementwise.tanh (fun _ y -> Tensor.sub one (Tensor.mul y y))

    [<Fact>]
    let ``ReLU's and leaky ReLU's branch-free passes give the scalar definitions' bits, kinks, signed zeros and NaN included`` () =
        let rng = Random(17)
        // Every kind of element in every lane position, and a tail (61 elements).
        let special = [| 0.0; -0.0; infinity; -infinity; nan; 5e-324; -5e-324; 1e300; -1e300 |]
        let xs = Array.init 61 (fun i -> if i % 4 = 1 then special.[(i / 4) % special.Length] else 4.0 * rng.NextDouble() - 2.0)
        let gs = Array.init 61 (fun i -> if i % 7 = 3 then -0.0 elif i % 11 = 5 then infinity else 2.0 * rng.NextDouble() - 1.0)
        let x = Tensor.create [| 61 |] xs
        let g = Tensor.create [| 61 |] gs
        let bits (t: Tensor) = t.ToArray() |> Array.map BitConverter.DoubleToInt64Bits
        let check (f: Value -> Value) (value: double -> double) (slope: double -> double) =
            let y, pullback = Autodiff.vjp f (Value.constant x)
            Assert.Equal<int64[]>(Array.map (value >> BitConverter.DoubleToInt64Bits) xs, bits y.Tensor)
            Assert.Equal<int64[]>(Array.map2 (fun x g -> BitConverter.DoubleToInt64Bits(g * slope x)) xs gs, bits (pullback (Value.constant g)).Tensor)
            // A sum's adjoint (uniform 1): the slope itself.
            Assert.Equal<int64[]>(Array.map (slope >> BitConverter.DoubleToInt64Bits) xs, bits (pullback (Value.constant (Tensor.full [| 61 |] 1.0))).Tensor)
            Assert.Equal<int64[]>(Array.map2 (fun x g -> BitConverter.DoubleToInt64Bits(g * slope x)) xs gs, bits (Autodiff.jvp f (Value.constant x) (Value.constant g) |> snd).Tensor)
        check Activation.relu (fun v -> if v > 0.0 then v elif Double.IsNaN v then v else 0.0) (fun v -> if v > 0.0 then 1.0 elif Double.IsNaN v then nan else 0.0)
        for convention in [ KinkConvention.RightDerivative; KinkConvention.LeftDerivative; KinkConvention.Midpoint ] do
            check (Activation.leakyReluWith 0.01 convention) (fun v -> if v > 0.0 then v elif v < 0.0 then 0.01 * v else v) (Activation.leakyReluSlope 0.01 convention)

    [<Fact>]
    let ``x^p by exact operations: Math.Pow's values at the special points, squares and reciprocals correctly rounded, cubes within half an ulp`` () =
        let rng = Random(19)
        let special = [| 0.0; -0.0; infinity; -infinity; nan; 5e-324; -5e-324; 1e300; -1e300; 1e103; -1e103; 1e200; 1.0; -1.0 |]
        let xs = Array.append special (Array.init 4001 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, 40.0 * rng.NextDouble() - 20.0)))
        let bits (v: double) = BitConverter.DoubleToInt64Bits v
        let pow p = (Elementwise.pow p (Value.constant (Tensor.create [| xs.Length |] xs))).Tensor.ToArray()
        for p in [ 0.0; 1.0; 2.0; -1.0; 3.0 ] do
            let ys = pow p
            // At the special points (they lead the array), Math.Pow's bits (NaN as NaN).
            for i in 0 .. special.Length - 1 do
                let expected = Math.Pow(xs.[i], p)
                Assert.True((Double.IsNaN expected && Double.IsNaN ys.[i]) || bits ys.[i] = bits expected, sprintf "%g^%g: %g, Math.Pow %g" xs.[i] p ys.[i] (Math.Pow(xs.[i], p)))
            for i in special.Length .. xs.Length - 1 do
                let x = xs.[i]
                match p with
                | 2.0 -> Assert.Equal(bits (x * x), bits ys.[i])
                | -1.0 -> Assert.Equal(bits (1.0 / x), bits ys.[i])
                | 3.0 ->
                    // Against the exact cube (fixed point, 2,200 fraction bits).
                    let exact = HighPrecision.toDouble (HighPrecision.mul (HighPrecision.mul (HighPrecision.ofDouble x) (HighPrecision.ofDouble x)) (HighPrecision.ofDouble x))
                    let ulp = Math.BitIncrement(abs exact) - abs exact
                    let error = abs (ys.[i] - exact) / ulp
                    Assert.True(error <= 0.501, sprintf "%g³ = %.17g, exact %.17g (%.3f ulp)" x ys.[i] exact error)
                | _ -> Assert.Equal(bits (Math.Pow(x, p)), bits ys.[i])

    [<Fact>]
    let ``x·x through mul is square: the bits of two products and their sum, one pass back, every order`` () =
        // 129 elements (lanes and a tail) and 60,000 (split over the cores).
        for shape, seed in [ [| 43; 3 |], 31; [| 300; 200 |], 33 ] do
            let x = Tensor.scale 3.0 (Tensor.random seed shape)
            let g = Tensor.random (seed + 1) shape
            let y, pullback = Autodiff.vjp (fun v -> Arithmetic.mul v v) (Value.constant x)
            Assert.Equal(Tensor.mul x x, y.Tensor)
            Assert.Equal(Tensor.add (Tensor.mul g x) (Tensor.mul g x), pullback (Value.constant g) |> Value.tensor)
            Assert.Equal(Tensor.add x x, pullback (Value.constant (Tensor.full shape 1.0)) |> Value.tensor)
            Assert.Equal(Tensor.add (Tensor.mul g x) (Tensor.mul x g), Autodiff.jvp (fun v -> Arithmetic.mul v v) (Value.constant x) (Value.constant g) |> snd |> Value.tensor)
            // pow 2 and square are the same op.
            for f in [ Elementwise.pow 2.0; Elementwise.square ] do
                let y2, pullback2 = Autodiff.vjp f (Value.constant x)
                Assert.Equal(y.Tensor, y2.Tensor)
                Assert.Equal(pullback (Value.constant g) |> Value.tensor, pullback2 (Value.constant g) |> Value.tensor)
            // Second order: the Hessian of Σx² is 2I, exactly.
            let hv = Autodiff.hessianVectorProduct (fun v -> Reduction.sum (Arithmetic.mul v v)) (Value.constant x) (Value.constant g)
            Assert.Equal(Tensor.scale 2.0 g, hv.Tensor)

    [<Fact>]
    let ``x^p's one-pass pullback gives the bits of the product it replaces, through the lanes and Math.Pow`` () =
        let positive (shape: int[]) seed = Tensor.map (fun v -> abs v * 4.0 + 1e-3) (Tensor.random seed shape)
        // Up to |p| = 1024 through the lanes; −1024 has the lanes forward and Math.Pow back (|p − 1| > 1024), 1030.5
        // Math.Pow both ways (x near 1, so that its powers stay finite).
        for p in [ 1.5; -0.5; 2.5; 0.25; 9.5; -10.5 ] do
            for shape, seed in [ [| 43; 3 |], 41; [| 300; 200 |], 43 ] do
                onePassMatches (positive shape seed) (seed + 1) (Elementwise.pow p) (fun x _ -> Tensor.scale p (Elementwise.pow (p - 1.0) (Value.constant x)).Tensor)
        let nearOne (shape: int[]) seed = Tensor.map (fun v -> 1.0 + 0.05 * v) (Tensor.random seed shape)
        for p in [ -1024.0; 1030.5 ] do
            onePassMatches (nearOne [| 300; 200 |] 47) 48 (Elementwise.pow p) (fun x _ -> Tensor.scale p (Elementwise.pow (p - 1.0) (Value.constant x)).Tensor)
        // An integer p through the lanes for x of either sign.
        for p in [ 5.0; -3.0; 12.0 ] do
            for shape, seed in [ [| 43; 3 |], 51; [| 300; 200 |], 53 ] do
                let signed = Tensor.map (fun v -> if v < 0.0 then v * 4.0 - 1e-3 else v * 4.0 + 1e-3) (Tensor.random seed shape)
                onePassMatches signed (seed + 1) (Elementwise.pow p) (fun x _ -> Tensor.scale p (Elementwise.pow (p - 1.0) (Value.constant x)).Tensor)
        // Beyond |p| = 1024, Math.Pow itself.
        let x = nearOne [| 43; 3 |] 45
        Assert.Equal(Tensor.map (fun v -> Math.Pow(v, 1030.5)) x, (Elementwise.pow 1030.5 (Value.constant x)).Tensor)

    [<Fact>]
    let ``ln's and √'s one-pass pullbacks give the bits of the quotients and products they replace`` () =
        let x = Tensor.map (fun v -> abs v * 5.0 + 1e-3) (Tensor.random 21 [| 43; 3 |])
        onePassMatches x 22 Elementwise.log (fun x _ -> Tensor.div (Tensor.full [| 43; 3 |] 1.0) x)
        onePassMatches x 22 Elementwise.sqrt (fun _ y -> Tensor.div (Tensor.full [| 43; 3 |] 0.5) y)
