namespace Functional.Tests

open System
open Xunit
open TorchSharp
open Functional
open Functional.Core
open Functional.CrossCheck

module AutodiffTests =

    let s (x: double) = Value.scalar x
    let item (v: Value) = Tensor.item v.Tensor

    [<Fact>]
    let ``a value that escaped its transform is refused, not differentiated as a silent zero`` () =
        // The inner grad's input kept past its return, then used by the outer function: the outer gradient was 0.
        let mutable leaked = Unchecked.defaultof<Value>
        let outer (x: Value) =
            Autodiff.grad (fun y -> leaked <- y; Reduction.sum (Arithmetic.mul y y)) x |> ignore
            Reduction.sum (Arithmetic.mul leaked x)
        Assert.Throws<InvalidOperationException>(fun () -> Autodiff.grad outer (s 3.0) |> ignore) |> ignore
        // Returned by the outer function as it is.
        let returned (x: Value) =
            Autodiff.grad (fun y -> leaked <- y; Reduction.sum (Arithmetic.mul y y)) x |> ignore
            leaked
        Assert.Throws<InvalidOperationException>(fun () -> Autodiff.grad returned (s 3.0) |> ignore) |> ignore
        Assert.Throws<InvalidOperationException>(fun () -> Autodiff.jvp returned (s 3.0) (s 1.0) |> ignore) |> ignore
        // Kept from an earlier transform that has returned and returned by the next one as it is (a loss from the
        // previous step): its tag is older and dead, and it differentiated as a silent 0.
        let mutable previous = Value.constant (Tensor.scalar 0.0)
        let step (w: Value) = Autodiff.grad (fun p -> let loss = previous in previous <- Reduction.sum (Arithmetic.mul p p); loss) w
        step (s 1.0) |> ignore
        Assert.Throws<InvalidOperationException>(fun () -> step (s 1.0) |> ignore) |> ignore
        Assert.Throws<InvalidOperationException>(fun () -> Autodiff.jvp (fun _ -> previous) (s 1.0) (s 1.0) |> ignore) |> ignore
        // A training loop keeping the previous step's input: the next step's ops on it nested one level deeper every
        // step (memory and time growing without bound, then a stack overflow); the second step refuses it.
        let mutable previous = s 1.0
        let step (w: Value) = Autodiff.grad (fun p -> let d = Arithmetic.sub p previous in previous <- p; Reduction.sum (Arithmetic.mul d d)) w
        step (s 2.0) |> ignore
        Assert.Throws<InvalidOperationException>(fun () -> step (s 2.5) |> ignore) |> ignore
        // A value of a transform still running (the outer one's x inside the inner function) is not escaped.
        // d/dy (x·y²) = 2xy at y = x is 2x², whose derivative at 1 is 4.
        Assert.Equal(4.0, item (Autodiff.grad (fun x -> Autodiff.grad (fun y -> Reduction.sum (Arithmetic.mul x (Arithmetic.mul y y))) x) (s 1.0)))
        Assert.Throws<ArgumentNullException>(fun () -> Value.constant Unchecked.defaultof<Tensor> |> ignore) |> ignore

    [<Fact>]
    let ``arrays the caller reuses after a call change no graph, plan or program`` () =
        // A stack's input array reused after the call: the node kept it, so row 0's adjoint went to b.
        let a, b = Value.constant (Tensor.vector [| 1.0; 2.0 |]), Value.constant (Tensor.vector [| 3.0; 4.0 |])
        let w = Tensor.create [| 2; 2 |] [| 1.0; 2.0; 3.0; 4.0 |]
        let gs =
            Autodiff.gradMany (fun xs ->
                let buffer = [| xs.[0]; xs.[1] |]
                let s = Layout.stack buffer
                buffer.[0] <- xs.[1]
                Reduction.sum (Arithmetic.mul s (Value.constant w))) [| a; b |]
        Assert.Equal<double[]>([| 1.0; 2.0 |], Tensor.toArray gs.[0].Tensor)
        Assert.Equal<double[]>([| 3.0; 4.0 |], Tensor.toArray gs.[1].Tensor)
        // A contraction record changed after its op was made: the op keeps its own copy (a size that no longer
        // fits is refused by name), never a plan of the old sizes over the new operand.
        let sizes = Array.create 53 -1
        sizes.[0] <- 2
        sizes.[1] <- 3
        let c = { Inputs = [| [| 0; 1 |] |]; Output = [| 0 |]; Sizes = sizes }
        let op = Linear.contraction c
        Assert.Equal<double[]>([| 3.0; 3.0 |], Tensor.toArray (Op.apply op [| Value.constant (Tensor.ones [| 2; 3 |]) |]).Tensor)
        sizes.[1] <- 4
        Assert.Throws<ShapeException>(fun () -> Op.apply op [| Value.constant (Tensor.ones [| 2; 4 |]) |] |> ignore) |> ignore
        let g = Contraction.gradient c 0
        g.Sizes.[0] <- 7
        Assert.Equal(2, c.Sizes.[0])
        // A forward that writes into its input array: the program still names the input, not a constant.
        let overwrites =
            Op.create "overwrites" (fun xs -> let y = Tensor.scale 2.0 xs.[0] in xs.[0] <- Tensor.zeros xs.[0].ShapeArray; y)
                (fun _ _ g _ -> Arithmetic.scale 2.0 g) (fun _ _ _ t -> Arithmetic.scale 2.0 t)
        let x = Tensor.vector [| 1.0; 2.0 |]
        let program = Trace.gradient (fun vs -> Reduction.sum (Op.apply overwrites vs)) [| x |]
        Assert.Same(program.Inputs.[0], program.Entries.[0].Inputs.[0])

    [<Fact>]
    let ``a rule whose result has the wrong shape is refused, and GradCheck's tolerances are checked`` () =
        // A VJP returning a scalar for a vector input: three adjoints of one input were broadcast, then added at
        // element 0 only, and a single one came back with the wrong shape.
        let bad = Op.create "bad" (fun xs -> xs.[0]) (fun _ _ adj _ -> Reduction.sum adj) (fun _ _ _ t -> Reduction.sum t)
        let x = Value.constant (Tensor.vector [| 1.0; 2.0; 3.0 |])
        let f (x: Value) = Arithmetic.add (Reduction.sum (Op.apply bad [| x |])) (Reduction.sum (Op.apply bad [| x |]))
        let e = Assert.Throws<ShapeException>(fun () -> Autodiff.grad f x |> ignore)
        Assert.Contains("The VJP of op 'bad' for input 0 has shape []", e.Message)
        Assert.Throws<ShapeException>(fun () -> Autodiff.jvp (fun x -> Op.apply bad [| x |]) x x |> ignore) |> ignore
        // A NaN tolerance passed every comparison (NaN > 0 is false).
        Assert.Throws<ArgumentException>(fun () -> GradCheck.runWith 1e-6 nan 1e-3 (fun xs -> Reduction.sum xs.[0]) [| x.Tensor |] |> ignore) |> ignore
        Assert.Throws<ArgumentException>(fun () -> GradCheck.runWith infinity 1e-5 1e-3 (fun xs -> Reduction.sum xs.[0]) [| x.Tensor |] |> ignore) |> ignore

    [<Fact>]
    let ``perturbation confusion: d/dx [x * (d/dy (x + y) at y = 1)] at x = 1 is 1`` () =
        let f (x: Value) =
            let inner = Autodiff.grad (fun y -> Arithmetic.add x y) (s 1.0)
            Arithmetic.mul x inner
        Assert.Equal(1.0, item (Autodiff.grad f (s 1.0)))
        // The same with forward mode outside and inside.
        let _, d = Autodiff.jvp (fun x -> Arithmetic.mul x (snd (Autodiff.jvp (fun y -> Arithmetic.add x y) (s 1.0) (s 1.0)))) (s 1.0) (s 1.0)
        Assert.Equal(1.0, item d)

    [<Fact>]
    let ``grad of grad to any order`` () =
        // d^k/dx^k x^5 at 2: 80, 160, 240, 240, 120, 0
        let f (x: Value) = Elementwise.pow 5.0 x
        let rec nth k (g: Value -> Value) = if k = 0 then g else nth (k - 1) (Autodiff.grad g)
        let expected = [| 32.0; 80.0; 160.0; 240.0; 240.0; 120.0; 0.0 |]
        for k in 0 .. 6 do
            Assert.Equal(expected.[k], item (nth k f (s 2.0)), 9)

    [<Fact>]
    let ``the hessian of x'Ax is A + A'`` () =
        let a = Tensor.random 5 [| 4; 4 |]
        let f (x: Value) = Linear.einsum "i,ij,j->" [| x; Value.constant a; x |]
        let h = Autodiff.hessian f (Value.constant (Tensor.random 6 [| 4 |]))
        Assert.True(Tensor.allClose 1e-14 1e-14 h.Tensor (Tensor.add a (Tensor.transpose a)))
        // Hessian-vector product agrees with H·v.
        let v = Tensor.random 7 [| 4 |]
        let hv = Autodiff.hessianVectorProduct f (Value.constant (Tensor.random 6 [| 4 |])) (Value.constant v)
        Assert.True(Tensor.allClose 1e-13 1e-13 hv.Tensor (Einsum.contract "ij,j->i" [| h.Tensor; v |]))

    [<Fact>]
    let ``jacobian and hessian nest inside other transforms`` () =
        // f(x) = Σ x³; its Hessian is diag(6x), so d/dx Σ Hessian = 6 per element.
        let f (x: Value) = Reduction.sum (Elementwise.pow 3.0 x)
        let g = Autodiff.grad (fun x -> Reduction.sum (Autodiff.hessian f x)) (Value.constant (Tensor.create [| 3 |] [| 1.0; -2.0; 0.5 |]))
        Assert.Equal<double[]>([| 6.0; 6.0; 6.0 |], g.Tensor.ToArray())
        // The Jacobian of x ↦ x² is diag(2x): d/dx of its sum is 2 per element.
        let j = Autodiff.grad (fun x -> Reduction.sum (Autodiff.jacobian (fun y -> Arithmetic.mul y y) x)) (Value.constant (Tensor.ones [| 4 |]))
        Assert.Equal<double[]>([| 2.0; 2.0; 2.0; 2.0 |], j.Tensor.ToArray())

    [<Fact>]
    let ``the jacobian of a vector function equals TorchSharp's`` () =
        let w = Tensor.random 8 [| 3; 4 |]
        let x = Tensor.random 9 [| 4 |]
        let ours = Autodiff.jacobian (fun x -> Arithmetic.mul (Elementwise.tanh (Linear.einsum "ij,j->i" [| Value.constant w; x |])) (Reduction.sum x)) (Value.constant x)
        let theirs =
            Array.init 3 (fun i ->
                let e = Tensor.init [| 3 |] (fun j -> if i = j then 1.0 else 0.0)
                (Torch.valueAndGrad (fun xs -> torch.matmul(Torch.toTorch false w, xs.[0]).tanh() * xs.[0].sum()) [| x |] (Some e)).Gradients.[0].ToArray())
            |> Array.concat |> Tensor.create [| 3; 4 |]
        Assert.Equal<int[]>([| 3; 4 |], ours.Shape)
        Assert.True(Tensor.allClose 1e-12 1e-14 ours.Tensor theirs)

    [<Fact>]
    let ``the seed: gradients of sum(LeakyReLU(GELU(A·B))) equal TorchSharp's`` () =
        let a = Tensor.random 10 [| 5; 7 |]
        let b = Tensor.random 11 [| 7; 3 |]
        let grads = Autodiff.gradMany (fun xs -> Reduction.sum (Activation.leakyRelu 0.01 (Activation.gelu (Linear.matmul xs.[0] xs.[1])))) [| Value.constant a; Value.constant b |]
        let theirs =
            Torch.valueAndGrad (fun xs -> torch.nn.functional.leaky_relu(torch.nn.functional.gelu(torch.mm(xs.[0], xs.[1])), 0.01).sum()) [| a; b |] None
        Assert.True(Tensor.allClose 1e-12 1e-14 grads.[0].Tensor theirs.Gradients.[0])
        Assert.True(Tensor.allClose 1e-12 1e-14 grads.[1].Tensor theirs.Gradients.[1])

    [<Fact>]
    let ``the gradient with respect to an unused input is zero, not an error`` () =
        let gs = Autodiff.gradMany (fun xs -> Reduction.sum xs.[0]) [| Value.constant (Tensor.ones [| 2 |]); Value.constant (Tensor.ones [| 3; 2 |]) |]
        Assert.Equal(Tensor.zeros [| 3; 2 |], gs.[1].Tensor)
        Assert.Equal(Tensor.zeros [| 2 |], (Autodiff.grad (fun _ -> s 3.0) (Value.constant (Tensor.ones [| 2 |]))).Tensor)

    [<Fact>]
    let ``grad of a non-scalar function is a clear error`` () =
        let e = Assert.Throws<ShapeException>(fun () -> Autodiff.grad (fun x -> Arithmetic.scale 2.0 x) (Value.constant (Tensor.ones [| 3 |])) |> ignore)
        Assert.Contains("scalar", e.Message)
        Assert.Contains("[3]", e.Message)

    [<Fact>]
    let ``a chain of 1,000,000 ops differentiates on a default thread without stack overflow`` () =
        let n = 1_000_000
        let f (x: Value) =
            let mutable y = x
            for _ in 1 .. n do y <- Arithmetic.scale 1.000001 y
            y
        let v, g = Autodiff.valueAndGrad f (s 1.0)
        let expected = Math.Pow(1.000001, float n)
        Assert.Equal(expected, item g, 6)
        Assert.Equal(expected, item v, 6)
        // Values compare by reference: no walk over the million nodes, and a node is not a constant of its tensor.
        Assert.False(v.Equals(Value.constant v.Tensor))
        v.GetHashCode() |> ignore
        Assert.Contains("tensor(", v.ToString())

    [<Fact>]
    let ``nothing of the graph is kept alive after grad returns`` () =
        let weak = ref null
        let run () =
            Autodiff.grad (fun x ->
                let y = Elementwise.exp x
                weak.Value <- WeakReference(y)
                Reduction.sum y) (Value.constant (Tensor.ones [| 16 |]))
            |> ignore
        run ()
        GC.Collect()
        GC.WaitForPendingFinalizers()
        GC.Collect()
        Assert.False((weak.Value: WeakReference).IsAlive)

    /// A user-defined op, the documented way: forward, VJP and JVP side by side.
    /// softplus(x) = log(1 + e^x), d/dx = σ(x).
    let softplus (x: Value) =
        Op.apply
            (Op.create "softplus"
                (fun xs -> Tensor.map (fun v -> if v > 30.0 then v else Math.Log(1.0 + Math.Exp v)) xs.[0])
                (fun xs _ adj _ -> Arithmetic.mul adj (Elementwise.sigmoid xs.[0]))
                (fun xs _ _ t -> Arithmetic.mul t (Elementwise.sigmoid xs.[0])))
            [| x |]

    [<Fact>]
    let ``a user-defined op works with every transform and passes the gradient checker`` () =
        let x = Tensor.random 12 [| 5 |]
        let report = GradCheck.run (fun xs -> Reduction.sum (softplus xs.[0])) [| x |]
        Assert.True(report.Passed, report.ToString())
        let h = Autodiff.hessian (fun v -> Reduction.sum (softplus v)) (Value.constant x)
        // d²/dx² softplus = σ(x)(1 − σ(x)) on the diagonal
        for i in 0 .. 4 do
            let sg = Special.sigmoid x.[[| i |]]
            Assert.Equal(sg * (1.0 - sg), h.Tensor.[[| i; i |]], 14)
