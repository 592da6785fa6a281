namespace Functional.Tests

open System
open Xunit
open Functional.Core

/// The examples in the signature files' docs, run as written (so they compile and do what they say).
module DocExampleTests =

    [<Fact>]
    let ``Tensor example`` () =
        let a = Tensor.create [| 2; 3 |] [| 1.0; 2.0; 3.0; 4.0; 5.0; 6.0 |]
        let b = Tensor.random 7 [| 3; 2 |]
        let c = Tensor.add a (Tensor.ones [| 1; 3 |])
        use scope = Tensor.scope ()
        let text = sprintf "%O %f" (Tensor.transpose c) (Tensor.item (Tensor.sum b))
        Assert.Contains("shape=[3, 2]", text)

    [<Fact>]
    let ``Value and Op examples`` () =
        let x = Value.constant (Tensor.vector [| 1.0; 2.0 |])
        let y = Arithmetic.mul x x
        let t = Value.tensor y
        Assert.Equal<double[]>([| 1.0; 4.0 |], t.ToArray())
        let cube (x: Value) =
            Op.apply
                (Op.create "cube"
                    (fun xs -> Tensor.map (fun v -> v * v * v) xs.[0])
                    (fun xs _ g _ -> Arithmetic.mul g (Arithmetic.scale 3.0 (Arithmetic.mul xs.[0] xs.[0])))
                    (fun xs _ _ t -> Arithmetic.mul t (Arithmetic.scale 3.0 (Arithmetic.mul xs.[0] xs.[0]))))
                [| x |]
        Assert.Equal<double[]>([| 3.0; 12.0 |], (Autodiff.grad (fun v -> Reduction.sum (cube v)) x).Tensor.ToArray())

    [<Fact>]
    let ``Autodiff example`` () =
        let f (x: Value) = Reduction.sum (Activation.gelu (Arithmetic.mul x x))
        let x = Value.constant (Tensor.random 1 [| 4 |])
        let g = Autodiff.grad f x
        let h = Autodiff.hessian f x
        let y, tangent = Autodiff.jvp Activation.gelu x x
        Assert.Equal<int[]>([| 4; 4 |], h.Shape)
        Assert.Equal<int[]>(g.Shape, tangent.Shape)
        Assert.Equal<int[]>(x.Shape, y.Shape)

    [<Fact>]
    let ``GradCheck example`` () =
        let report = GradCheck.run (fun xs -> Reduction.sum (Activation.gelu xs.[0])) [| Tensor.random 3 [| 5; 4 |] |]
        printfn "%O" report
        Assert.True(report.Passed, string report)

    [<Fact>]
    let ``Einsum and Contraction examples`` () =
        let c = Einsum.contract "bij,bjk->bik" [| Tensor.random 1 [| 8; 3; 4 |]; Tensor.random 2 [| 8; 4; 5 |] |]
        Assert.Equal<int[]>([| 8; 3; 5 |], c.Shape)
        Assert.Contains("∂L/∂A", Einsum.explain "ij,jk->ik")
        let d = Einsum.derive "bij,bjk->bik"
        Assert.Equal(2, d.Operands.Length)
        let p = Einsum.plan "ij,jk,k->i" [| [| 2000; 2000 |]; [| 2000; 2000 |]; [| 2000 |] |]
        Assert.Equal(2, p.Steps.Length)
        let c = (Einsum.bind "ij,jk->ik" [| [| 2; 3 |]; [| 3; 4 |] |]).Contraction
        let gA = Contraction.gradient c 0
        let gAA = Contraction.gradient gA 0
        Assert.Equal("ik,jk->ij", Contraction.show gA)
        Assert.NotNull(Contraction.show gAA)

    [<Fact>]
    let ``op family examples`` () =
        let a = Value.constant (Tensor.random 1 [| 3; 4 |])
        let b = Value.constant (Tensor.random 2 [| 4 |])
        let y = Arithmetic.div (Arithmetic.add a b) (Arithmetic.addScalar 2.0 (Arithmetic.mul b b))
        Assert.Equal<int[]>([| 3; 4 |], y.Shape)
        let x = Value.constant (Tensor.random 1 [| 2; 3; 4 |])
        let y = Layout.permute [| 2; 0; 1 |] (Layout.reshape [| 2; 12 |] x |> Layout.reshape [| 2; 3; 4 |])
        Assert.Equal<int[]>([| 4; 2; 3 |], y.Shape)
        let x = Value.constant (Tensor.random 1 [| 2; 3 |])
        Assert.Equal<int[]>([| 2 |], (Reduction.sumAxes [| 1 |] false x).Shape)
        Assert.Equal<int[]>([||], (Reduction.mean x).Shape)
        let x = Value.constant (Tensor.random 1 [| 5 |])
        let y = Elementwise.tanh (Elementwise.exp x)
        let softplus (x: Value) = Elementwise.unary "softplus" (fun v -> log (1.0 + exp v)) (fun x _ -> Elementwise.sigmoid x) x
        Assert.True(Tensor.allClose 1e-12 1e-12 (softplus x).Tensor (Activation.softplus x).Tensor)
        Assert.Equal<int[]>([| 5 |], y.Shape)
        let a = Value.constant (Tensor.random 1 [| 3; 4 |])
        let b = Value.constant (Tensor.random 2 [| 4; 2 |])
        let loss (xs: Value[]) = Reduction.sum (Linear.einsum "ij,jk->ik" xs)
        let grads = Autodiff.gradMany loss [| a; b |]
        Assert.Equal<int[]>([| 3; 4 |], grads.[0].Shape)
        let x = Value.constant (Tensor.random 1 [| 6 |])
        let y = Activation.leakyReluWith 0.01 KinkConvention.LeftDerivative (Activation.gelu x)
        Assert.Equal<int[]>([| 6 |], y.Shape)
        let logits = Value.constant (Tensor.random 1 [| 4; 10 |])
        let logp = Softmax.logSoftmax 1 logits
        let p = Softmax.softmax -1 logits
        Assert.True(Tensor.allClose 1e-12 1e-15 p.Tensor (Elementwise.exp logp).Tensor)

    [<Fact>]
    let ``Losses example`` () =
        let p = Value.constant (Tensor.vector [| 0.5; 3.0 |])
        let t = Value.constant (Tensor.vector [| 0.0; 0.0 |])
        let l = Losses.huber 1.0 p t
        Assert.Equal<double[]>([| 0.125; 2.5 |], l.Tensor.ToArray())
        let b = Losses.bceWithLogits p (Value.constant (Tensor.vector [| 1.0; 0.0 |]))
        Assert.Equal<double[]>([| 0.4741; 3.0486 |], b.Tensor.ToArray() |> Array.map (fun v -> Math.Round(v, 4)))

    [<Fact>]
    let ``README's elementwise example: atan from its scalar function and derivative is the library's, to second order`` () =
        let atan (x: Value) =
            Elementwise.unary "atan" Math.Atan (fun x _ -> Elementwise.reciprocal (Arithmetic.addScalar 1.0 (Arithmetic.square x))) x
        let x = Value.constant (Tensor.random 5 [| 7 |])
        let v = Value.constant (Tensor.random 6 [| 7 |])
        let sum f (x: Value) = Reduction.sum (f x)
        Assert.True(Tensor.allClose 1e-15 1e-15 (atan x).Tensor (Elementwise.atan x).Tensor)
        Assert.True(Tensor.allClose 1e-15 1e-15 (Autodiff.grad (sum atan) x).Tensor (Autodiff.grad (sum Elementwise.atan) x).Tensor)
        Assert.True(Tensor.allClose 1e-15 1e-15 (Autodiff.hessianVectorProduct (sum atan) x v).Tensor (Autodiff.hessianVectorProduct (sum Elementwise.atan) x v).Tensor)

    [<Fact>]
    let ``README's general-form example`` () =
        let matmulT (a: Value) (b: Value) =
            Op.apply
                (Op.create "matmulT"
                    (fun xs -> Einsum.contract "ik,jk->ij" xs)
                    (fun xs _ g i -> if i = 0 then Linear.einsum "ij,jk->ik" [| g; xs.[1] |]
                                     else Linear.einsum "ij,ik->jk" [| g; xs.[0] |])
                    (fun xs _ i t -> if i = 0 then Linear.einsum "ik,jk->ij" [| t; xs.[1] |]
                                     else Linear.einsum "ik,jk->ij" [| xs.[0]; t |]))
                [| a; b |]
        let a = Value.constant (Tensor.random 1 [| 3; 4 |])
        let b = Value.constant (Tensor.random 2 [| 5; 4 |])
        let f (xs: Value[]) = Reduction.sum (Elementwise.tanh (matmulT xs.[0] xs.[1]))
        let reference (xs: Value[]) = Reduction.sum (Elementwise.tanh (Linear.einsum "ik,jk->ij" xs))
        let ours, theirs = Autodiff.gradMany f [| a; b |], Autodiff.gradMany reference [| a; b |]
        for k in 0 .. 1 do Assert.True(Tensor.allClose 1e-12 1e-14 ours.[k].Tensor theirs.[k].Tensor)
        let report = GradCheck.run f [| a.Tensor; b.Tensor |]
        Assert.True(report.Passed, sprintf "%O" report)
        // Second order through the rules written with differentiable values.
        let h1 = Autodiff.hessian (fun x -> f [| x; b |]) a
        let h2 = Autodiff.hessian (fun x -> reference [| x; b |]) a
        Assert.True(Tensor.allClose 1e-12 1e-14 h1.Tensor h2.Tensor)

    [<Fact>]
    let ``README's F# Functional.Testing example`` () =
        let softsign (xs: Functional.Tensor[]) = xs.[0] / (1.0 + (xs.[0] * xs.[0]).Sqrt())
        let everyEinsumHasItsGradients =
            FsCheck.FSharp.Prop.forAll (Functional.Testing.FSharp.EinsumGen.arbWith (Functional.Testing.EinsumOptions(MaxOperands = 3)))
                (fun c -> (Functional.Testing.FSharp.Rules.metamorphic c).Passed)
        FsCheck.Check.One(FsCheck.Config.QuickThrowOnFailure.WithReplay(Some { Rnd = FsCheck.Rnd(1UL, 3UL); Size = None }), everyEinsumHasItsGradients)
        let report = Functional.Testing.FSharp.Rules.check softsign [| Functional.Tensor.Random(1, 3, 4) |]
        Assert.True(report.Passed, string report)

    [<Fact>]
    let ``the F# kit's tensors keep their gap from the points they avoid, and so do their shrinks`` () =
        let gen = Functional.Testing.FSharp.TensorGen.awayFrom [| 500 |] -1.0 1.0 0.1 [ 0.0; 0.5 ]
        let arb = Functional.Testing.FSharp.TensorGen.arbAwayFrom [| 50 |] -1.0 1.0 0.1 [ 0.0; 0.5 ]
        // Draws are in [min, max); shrinks go toward the simplest value in [min, max], max included, and may land on a
        // gap's edge (0.4 = 0.5 − 0.1, whose distance from 0.5 rounds to 0.09999999999999998).
        let away (upTo: double -> bool) (t: Functional.Tensor) =
            t.ToArray() |> Array.forall (fun v -> v >= -1.0 && upTo v && abs v >= 0.1 - 1e-12 && abs (v - 0.5) >= 0.1 - 1e-12)
        let samples = FsCheck.Fluent.Gen.Sample(gen, 20)
        Assert.All(samples, fun t -> Assert.True(away (fun v -> v < 1.0) t, string t))
        // Values come close to the gap's edge (within a hundredth of 0.1 or 0.4), so a narrower gap would show.
        let near = samples |> Seq.collect (fun t -> t.ToArray()) |> Seq.filter (fun v -> abs (abs v - 0.1) < 0.01 || abs (v - 0.4) < 0.01)
        Assert.NotEmpty(near)
        for t in FsCheck.Fluent.Gen.Sample(arb.Generator, 5) do
            Assert.All(arb.Shrinker t |> Seq.truncate 100, fun s -> Assert.True(away (fun v -> v <= 1.0) s, string s))

    [<Fact>]
    let ``the F# kit checks an op written against the core, and finds a wrong rule`` () =
        let cube (vjpFactor: double) =
            Op.create "cube" (fun xs -> Tensor.map (fun v -> v * v * v) xs.[0])
                (fun xs _ g _ -> Arithmetic.mul g (Arithmetic.scale vjpFactor (Arithmetic.mul xs.[0] xs.[0])))
                (fun xs _ _ t -> Arithmetic.mul t (Arithmetic.scale 3.0 (Arithmetic.mul xs.[0] xs.[0])))
        let x = [| Tensor.random 4 [| 3; 2 |] |]
        let right = Functional.Testing.FSharp.Rules.checkValues (fun vs -> Op.apply (cube 3.0) vs) x
        Assert.True(right.Passed, string right)
        let wrong = Functional.Testing.FSharp.Rules.checkValues (fun vs -> Op.apply (cube 2.0) vs) x
        Assert.False(wrong.Passed, string wrong)
