namespace Functional.Tests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional.Core
open Functional.Tests.OpsTorchTests

/// Random programs of ops against TorchSharp autograd with the harness of the single ops (value, VJP, JVP, second
/// order, the duality): each op is checked alone elsewhere, but the backward pass adds adjoints in place, takes the
/// region paths of slices and rows, and shares nodes a value fans out to; only compositions exercise those. Every
/// node is an n×n matrix; a step applies one op to earlier nodes (the same node twice too), and the output adds two
/// of them.
module CompositionTorchTests =

    /// One step: op `Kind` on nodes A and B (B unused by unary ops), P choosing a row, a start or indices.
    type Step = { Kind: int; A: int; B: int; P: int }

    type Program =
        { N: int
          Steps: Step[]
          /// A node added to the last one in the output.
          Other: int
          Seed: int }

    let private kinds = 32

    let private names =
        [| "add"; "sub"; "mul"; "matmul / n"; "transpose"; "tanh"; "sigmoid"; "gelu"; "softmax rows"; "logSoftmax columns"
           "scale"; "narrow and pad"; "a row broadcast"; "rows selected"; "row means broadcast"; "sin"; "A·Bᵀ / n"; "softplus"
           "huber"; "BCE with logits"; "solve"; "flip rows"; "layer norm"; "max over rows broadcast"
           "A·B·A / n²"; "inverse"; "A·det B"; "cholesky"; "concat of column blocks"; "gathered columns"; "where"; "exp(tanh)" |]

    /// The rows `indexSelect` takes for parameter p: n of them, repeats allowed.
    let private rowsOf (n: int) (p: int) = Array.init n (fun i -> (p + i * i * 7 + i) % n)

    /// A·Aᵀ/n + I: symmetric positive definite, for cholesky; and A + (‖A‖_F² + n)·I, diagonally dominant
    /// (x² + n ≥ √n·x), for the solves, inverses and determinants.
    let private identity (n: int) = Tensor.init [| n; n |] (fun e -> if e / n = e % n then 1.0 else 0.0)
    let private spd (n: int) (a: Value) = Arithmetic.add (Arithmetic.scale (1.0 / float n) (Linear.einsum "ij,kj->ik" [| a; a |])) (Value.constant (identity n))
    let private dominant (n: int) (a: Value) = Arithmetic.add a (Arithmetic.mul (Value.constant (identity n)) (Arithmetic.addScalar (float n) (Reduction.sum (Elementwise.square a))))
    let private spdT (n: int) (a: torch.Tensor) = torch.einsum("ij,kj->ik", a, a) * (1.0 / float n) + torch.eye(int64 n, int64 n, torch.ScalarType.Float64)
    let private dominantT (n: int) (a: torch.Tensor) = a + torch.eye(int64 n, int64 n, torch.ScalarType.Float64) * (a.square().sum() + float n)
    /// I + B/(2(‖B‖_F + 1)): within ½ of I in norm, so its det lies in [2⁻ⁿ, 1.5ⁿ] (a dominant matrix's det overflows
    /// at n = 70, where our cofactors stay finite and TorchSharp's are ∞ or NaN).
    let private nearIdentity (n: int) (b: Value) =
        let scale = Arithmetic.scale 2.0 (Arithmetic.addScalar 1.0 (Elementwise.sqrt (Reduction.sum (Elementwise.square b))))
        Arithmetic.add (Value.constant (identity n)) (Arithmetic.div b scale)
    let private nearIdentityT (n: int) (b: torch.Tensor) =
        torch.eye(int64 n, int64 n, torch.ScalarType.Float64) + b / ((b.square().sum().sqrt() + 1.0) * 2.0)
    /// Column indices for `gather`, n per row.
    let private columnsOf (n: int) (p: int) = Array.init (n * n) (fun e -> (p + e * 5 + e / n) % n)
    /// A fixed 0/1 mask for `where`.
    let private maskOf (n: int) (p: int) = Tensor.init [| n; n |] (fun e -> if (e * 3 + p) % 5 < 2 then 1.0 else 0.0)

    let internal ours (n: int) (s: Step) (a: Value) (b: Value) : Value =
        let r = s.P % n
        match s.Kind with
        | 0 -> Arithmetic.add a b
        | 1 -> Arithmetic.sub a b
        | 2 -> Arithmetic.mul a b
        | 3 -> Arithmetic.scale (1.0 / float n) (Linear.matmul a b)
        | 4 -> Layout.permute [| 1; 0 |] a
        | 5 -> Elementwise.tanh a
        | 6 -> Elementwise.sigmoid a
        | 7 -> Activation.gelu a
        | 8 -> Softmax.softmax 1 a
        | 9 -> Softmax.logSoftmax 0 a
        | 10 -> Arithmetic.scale 0.5 a
        | 11 -> Indexing.pad 0 r n (Indexing.narrow 0 r (n - r) a)
        | 12 -> Arithmetic.broadcastTo [| n; n |] (Layout.select r a)
        | 13 -> Indexing.indexSelect 0 (rowsOf n s.P) a
        | 14 -> Arithmetic.broadcastTo [| n; n |] (Layout.reshape [| n; 1 |] (Arithmetic.scale (1.0 / float n) (Linear.einsum "ij->i" [| a |])))
        | 15 -> Elementwise.sin a
        | 16 -> Arithmetic.scale (1.0 / float n) (Linear.einsum "ij,kj->ik" [| a; b |])
        | 17 -> Activation.softplus a
        | 18 -> Losses.huber 1.0 a b
        | 19 -> Losses.bceWithLogits a (Elementwise.sigmoid b)
        | 20 -> Linalg.solve (dominant n a) b
        | 21 -> Indexing.flip 0 a
        // A ramp along the rows before: a constant row (a broadcast row sum) has variance 0, where layer norm's
        // derivatives carry 1/√ε and its third power, and two engines' roundings differ past the tolerance. And after:
        // its rows sum to 0, and a row sum of it is rounding alone.
        | 22 ->
            let ramp = Value.constant (Tensor.init [| n; n |] (fun e -> 0.5 * float (e % n)))
            Arithmetic.add (Normalization.layerNorm 1e-5 (Arithmetic.add a ramp)) ramp
        | 23 -> Arithmetic.broadcastTo [| n; n |] (Piecewise.maxAxes KinkConvention.Midpoint [| 0 |] true a)
        | 24 -> Arithmetic.scale (1.0 / float (n * n)) (Linear.einsum "ij,jk,kl->il" [| a; b; a |])
        | 25 -> Linalg.inverse (dominant n a)
        | 26 -> Arithmetic.mul a (Arithmetic.scale (1.0 / float n) (Elementwise.tanh (Linalg.det (nearIdentity n b))))
        | 27 -> Linalg.cholesky (spd n a)
        | 28 -> let k = 1 + s.P % (n - 1) in Indexing.concat 1 [| Indexing.narrow 1 0 k a; Indexing.narrow 1 k (n - k) b |]
        | 29 -> Indexing.gather 1 (columnsOf n s.P) [| n; n |] a
        | 30 -> Indexing.where (Value.constant (maskOf n s.P)) a b
        | _ -> Elementwise.exp (Elementwise.tanh a)

    let private theirs (n: int) (s: Step) (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor =
        let r = s.P % n
        match s.Kind with
        | 0 -> a + b
        | 1 -> a - b
        | 2 -> a * b
        | 3 -> torch.matmul(a, b) * (1.0 / float n)
        | 4 -> a.t()
        | 5 -> a.tanh()
        | 6 -> torch.sigmoid a
        | 7 -> torch.nn.functional.gelu a
        | 8 -> torch.nn.functional.softmax(a, 1L)
        | 9 -> torch.nn.functional.log_softmax(a, 0L)
        | 10 -> a * 0.5
        | 11 -> torch.nn.functional.pad(a.narrow(0L, int64 r, int64 (n - r)), [| 0L; 0L; int64 r; 0L |])
        | 12 -> a.select(0L, int64 r).expand(int64 n, int64 n)
        | 13 -> a.index_select(0L, torch.tensor(rowsOf n s.P |> Array.map int64))
        | 14 -> (a.sum(1L, true) * (1.0 / float n)).expand(int64 n, int64 n)
        | 15 -> a.sin()
        | 16 -> torch.einsum("ij,kj->ik", a, b) * (1.0 / float n)
        // Threshold 40, not TorchSharp's default 20: above 20 its softplus is x with slope 1, 2e-9 from σ(20), which
        // a product of matrices reaches.
        | 17 -> torch.nn.functional.softplus(a, 1.0, 40.0)
        | 18 -> torch.nn.functional.huber_loss(a, b, reduction = torch.nn.Reduction.None, delta = 1.0)
        | 19 -> torch.nn.functional.binary_cross_entropy_with_logits(a, torch.sigmoid b, reduction = torch.nn.Reduction.None)
        | 20 -> torch.linalg.solve(dominantT n a, b)
        | 21 -> a.flip([| 0L |])
        | 22 ->
            let ramp = torch.arange(int64 n, torch.ScalarType.Float64) * 0.5
            torch.nn.functional.layer_norm(a + ramp, [| int64 n |], eps = 1e-5) + ramp
        | 23 -> a.amax([| 0L |], true).expand(int64 n, int64 n)
        | 24 -> torch.einsum("ij,jk,kl->il", a, b, a) * (1.0 / float (n * n))
        | 25 -> torch.linalg.inv(dominantT n a)
        | 26 -> a * (torch.linalg.det(nearIdentityT n b).tanh() * (1.0 / float n))
        | 27 -> torch.linalg.cholesky(spdT n a)
        | 28 -> let k = 1 + s.P % (n - 1) in torch.cat([| a.narrow(1L, 0L, int64 k); b.narrow(1L, int64 k, int64 (n - k)) |], 1L)
        | 29 -> a.gather(1L, torch.tensor(columnsOf n s.P |> Array.map int64, ReadOnlySpan<int64>([| int64 n; int64 n |])))
        | 30 -> torch.where((Functional.CrossCheck.Torch.toTorch false (maskOf n s.P)).ne(torch.tensor 0.0), a, b)
        | _ -> a.tanh().exp()

    /// The program run on nodes that start with the inputs, then add the last node and `Other`.
    let internal run (p: Program) (inputs: 'v[]) (apply: Step -> 'v -> 'v -> 'v) (add: 'v -> 'v -> 'v) =
        let nodes = Collections.Generic.List<'v>(inputs)
        for s in p.Steps do nodes.Add(apply s nodes.[s.A % nodes.Count] nodes.[s.B % nodes.Count])
        add nodes.[nodes.Count - 1] nodes.[p.Other % nodes.Count]

    let private describe (p: Program) =
        let steps = p.Steps |> Array.mapi (fun i s -> sprintf "%%%d = %s(%%%d, %%%d; p %d)" (i + 2) names.[s.Kind] s.A s.B s.P)
        sprintf "n %d: %s; out = last + %%%d" p.N (String.Join("; ", steps)) p.Other

    let private specOf (p: Program) : OpSpec =
        { Name = describe p
          Shapes = Gen.constant [| [| p.N; p.N |]; [| p.N; p.N |] |]
          Domain = any
          Ours = (fun xs -> run p xs (fun s a b -> ours p.N s a b) Arithmetic.add)
          Theirs = (fun ts -> run p ts (fun s a b -> theirs p.N s a b) (fun a b -> a + b)) }

    /// Programs on n×n matrices, n drawn from `sizes`.
    let internal programsOf (sizes: Gen<int>) =
        let gen =
            gen {
                let! n = sizes
                let! length = Gen.choose (1, 10)
                let! steps =
                    Gen.arrayOfLength length (gen {
                        let! kind = Gen.choose (0, kinds - 1)
                        let! a = Gen.choose (0, 1000)
                        let! b = Gen.choose (0, 1000)
                        let! p = Gen.choose (0, 1000)
                        return { Kind = kind; A = a; B = b; P = p } })
                // Each step takes earlier nodes only: its operands modulo the nodes before it.
                let steps = steps |> Array.mapi (fun i s -> { s with A = s.A % (i + 2); B = s.B % (i + 2) })
                let! other = Gen.choose (0, length + 1)
                let! seed = Gen.choose (0, 1000000)
                return { N = n; Steps = steps; Other = other; Seed = seed }
            }
        // Shrinks to shorter prefixes of the same program.
        let shrink (p: Program) =
            seq { for k in p.Steps.Length - 1 .. -1 .. 1 -> { p with Steps = p.Steps.[.. k - 1]; Other = p.Other % (k + 2) } }
        Arb.fromGenShrink (gen, shrink)

    /// Mostly small; now and then past the kernels' vector widths, blocks and splits over the cores.
    let private programs = programsOf (Gen.frequency [ 6, Gen.choose (2, 5); 1, Gen.elements [ 9; 17; 33; 70 ] ])

    /// Agreement on the computation's scale: |ours − theirs| ≤ 1e-10·max(1, max |theirs|) for every element. The
    /// inputs and every step's values are of order 1 (products and row sums are divided by n), but a program sums and
    /// cancels, so an element or a whole tensor near 0 carries the rounding of order-1 terms it came from; a wrong
    /// rule is off by far more.
    let private closeOnScale (a: Tensor) (b: Tensor) =
        let bs = b.ToArray()
        let scale = bs |> Array.fold (fun s v -> if Double.IsFinite v then max s (abs v) else s) 1.0
        a.Shape = b.Shape && Array.forall2 (fun (x: float) (y: float) -> (Double.IsNaN x && Double.IsNaN y) || abs (x - y) <= 1e-10 * scale) (a.ToArray()) bs

    [<Fact>]
    let ``random programs of ops equal TorchSharp: value, VJP, JVP, second order, and the duality`` () =
        Check.forAll "random programs" (Check.seedOf "random programs") 300 programs (fun p ->
            checkCaseWith closeOnScale (specOf p) { Shapes = [| [| p.N; p.N |]; [| p.N; p.N |] |]; Seed = p.Seed })
        |> ignore


    /// The same programs as programs: traced, replayed on TorchSharp op by op and end to end (`Replay.verify`, what
    /// `TorchSharpCheck.Verify` runs), and their derived gradient programs executed on TorchSharp (`Engine.run`, what
    /// `TorchSharpEngine.Run` runs) against our gradients.
    [<Fact>]
    let ``random programs replay on TorchSharp and their gradient programs run there`` () =
        let none = Collections.Generic.Dictionary<string, torch.Tensor[] -> torch.Tensor>() :> Collections.Generic.IReadOnlyDictionary<_, _>
        Check.forAll "random programs replayed" (Check.seedOf "random programs replayed") 60 (programsOf (Gen.choose (2, 5))) (fun p ->
            let f (vs: Value[]) = run p vs (fun s a b -> ours p.N s a b) Arithmetic.add
            let xs = [| for k in 0 .. 1 -> Tensor.random (p.Seed + 31 * k) [| p.N; p.N |] |]
            // A weighted sum, so that each replayed VJP sees a generic adjoint end to end too.
            let w = Value.constant (Tensor.random (p.Seed + 7) [| p.N; p.N |])
            let scalar (vs: Value[]) = Reduction.sum (Arithmetic.mul (f vs) w)
            let r = Functional.CrossCheck.Replay.verify 1e-9 1e-11 none scalar xs
            if not r.Passed then Check.failf "%s: the replay failed\n%s" (describe p) r.Details
            let value, gradients = Functional.CrossCheck.Engine.run none scalar "cpu" xs
            let ours = Autodiff.gradMany scalar (xs |> Array.map Value.constant)
            let y = (scalar (xs |> Array.map Value.constant)).Tensor
            if not (closeOnScale value y) then Check.failf "%s: the program's value on TorchSharp differs" (describe p)
            Array.iteri2 (fun k (g: Tensor) (o: Value) ->
                if not (closeOnScale g o.Tensor) then Check.failf "%s: gradient %d of the derived program on TorchSharp differs by %g" (describe p) k (Tensor.maxAbsDiff g o.Tensor)) gradients ours)
        |> ignore

/// The random programs on recycled memory: run in a `TensorScope` (arrays from 512 elements pooled, every returned
/// array poisoned with NaN), twice so that the second run takes the first one's arrays, and outside every scope on
/// sizes whose plain results are recycled after collections; value, VJP and second order each time equal the run on
/// fresh memory bit for bit. A kernel that reads an output before writing it, or an array given back while a later
/// op still reads it, shows as NaN or other bits.
[<Collection("process-wide state")>]
module CompositionMemoryTests =
    open CompositionTorchTests

    let private sameBits (label: string) (expected: double[]) (actual: double[]) =
        let bits = Array.map BitConverter.DoubleToInt64Bits
        if bits expected <> bits actual then
            let i = if expected.Length <> actual.Length then 0 else Array.findIndex id (Array.map2 (fun x y -> BitConverter.DoubleToInt64Bits x <> BitConverter.DoubleToInt64Bits y) expected actual)
            Check.failf "%s: element %d is %.17g, on fresh memory %.17g" label i actual.[i] expected.[i]

    /// Value, VJP and the second order's gradients of the program, copied out.
    let private work (p: Program) =
        let f (vs: Value[]) = run p vs (fun s a b -> ours p.N s a b) Arithmetic.add
        let xs = [| for k in 0 .. 1 -> Value.constant (Tensor.random (p.Seed + 31 * k) [| p.N; p.N |]) |]
        let y, pullback = Autodiff.vjpMany f xs
        let v = Value.constant (Tensor.random (p.Seed + 1) y.Shape)
        let ws = [| for k in 0 .. 1 -> Value.constant (Tensor.random (p.Seed + 200 + k) [| p.N; p.N |]) |]
        let second =
            Autodiff.gradMany (fun ins ->
                let _, pb = Autodiff.vjpMany f ins
                Array.fold2 (fun acc g w -> Arithmetic.add acc (Reduction.sum (Arithmetic.mul g w))) (Value.scalar 0.0) (pb v) ws) xs
        Array.concat [ [| y.Tensor.ToArray() |]; pullback v |> Array.map (fun g -> g.Tensor.ToArray()); second |> Array.map (fun g -> g.Tensor.ToArray()) ]

    [<Fact>]
    let ``random programs on pooled, poisoned and recycled memory equal the run on fresh memory bit for bit`` () =
        // This test's own scopes' reuses: the process-wide count would also take other tests' running alongside.
        let reused = ref 0
        let recycledBefore = Storage.recycled
        TuningSwitches.withPoisonedPool (fun () ->
          Check.forAll "random programs on reused memory" (Check.seedOf "random programs on reused memory") 40
            (programsOf (Gen.elements [ 24; 33; 70; 110 ])) (fun p ->
                let expected = work p
                for round in 1 .. 2 do
                    use scope = Tensor.scope ()
                    Array.iteri2 (fun k e a -> sameBits (sprintf "scoped round %d, output %d" round k) e a) expected (work p)
                    reused.Value <- reused.Value + scope.State.Reuses
                // Plain results of 10,625 elements and more are recycled once a collection finds them unreachable.
                if p.N >= 110 then
                    GC.Collect()
                    GC.WaitForPendingFinalizers()
                    Array.iteri2 (fun k e a -> sameBits (sprintf "plain after a collection, output %d" k) e a) expected (work p))
          |> ignore)
        Assert.True(reused.Value > 0, "no array was taken from a scope's pool")
        Assert.True(Storage.recycled > recycledBefore, "no plain result was recycled")
