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

    let private kinds = 24

    let private names =
        [| "add"; "sub"; "mul"; "matmul / n"; "transpose"; "tanh"; "sigmoid"; "gelu"; "softmax rows"; "logSoftmax columns"
           "scale"; "narrow and pad"; "a row broadcast"; "rows selected"; "row means broadcast"; "sin"; "A·Bᵀ / n"; "softplus"
           "huber"; "BCE with logits"; "solve"; "flip rows"; "layer norm"; "max over rows broadcast" |]

    /// The rows `indexSelect` takes for parameter p: n of them, repeats allowed.
    let private rowsOf (n: int) (p: int) = Array.init n (fun i -> (p + i * i * 7 + i) % n)

    let private ours (n: int) (s: Step) (a: Value) (b: Value) : Value =
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
        // A + (‖A‖₁ + n)·I is diagonally dominant, so every solve is well conditioned.
        | 20 -> Linalg.solve (Arithmetic.add a (Arithmetic.mul (Value.constant (Tensor.init [| n; n |] (fun e -> if e / n = e % n then 1.0 else 0.0))) (Arithmetic.addScalar (float n) (Reduction.sum (Elementwise.square a))))) b
        | 21 -> Indexing.flip 0 a
        // A ramp along the rows before: a constant row (a broadcast row sum) has variance 0, where layer norm's
        // derivatives carry 1/√ε and its third power, and two engines' roundings differ past the tolerance. And after:
        // its rows sum to 0, and a row sum of it is rounding alone.
        | 22 ->
            let ramp = Value.constant (Tensor.init [| n; n |] (fun e -> 0.5 * float (e % n)))
            Arithmetic.add (Normalization.layerNorm 1e-5 (Arithmetic.add a ramp)) ramp
        | _ -> Arithmetic.broadcastTo [| n; n |] (Piecewise.maxAxes KinkConvention.Midpoint [| 0 |] true a)

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
        | 20 -> torch.linalg.solve(a + torch.eye(int64 n, int64 n, torch.ScalarType.Float64) * (a.square().sum() + float n), b)
        | 21 -> a.flip([| 0L |])
        | 22 ->
            let ramp = torch.arange(int64 n, torch.ScalarType.Float64) * 0.5
            torch.nn.functional.layer_norm(a + ramp, [| int64 n |], eps = 1e-5) + ramp
        | _ -> a.amax([| 0L |], true).expand(int64 n, int64 n)

    /// The program run on nodes that start with the inputs, then add the last node and `Other`.
    let private run (p: Program) (inputs: 'v[]) (apply: Step -> 'v -> 'v -> 'v) (add: 'v -> 'v -> 'v) =
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

    let private programs =
        let gen =
            gen {
                // Mostly small; now and then past the kernels' vector widths, blocks and splits over the cores.
                let! n = Gen.frequency [ 6, Gen.choose (2, 5); 1, Gen.elements [ 9; 17; 33; 70 ] ]
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
