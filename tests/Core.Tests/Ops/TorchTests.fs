namespace Functional.Tests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional.Core
open Functional.CrossCheck

/// Every op against TorchSharp autograd in float64: value, VJP, JVP, second order, and ⟨u, vjp(v)⟩ = ⟨jvp(u), v⟩.
module OpsTorchTests =

    type OpSpec =
        { Name: string
          /// Input shapes for a case.
          Shapes: Gen<int[][]>
          /// Moves a random normal value into the op's domain (away from kinks and poles).
          Domain: double -> double
          Ours: Value[] -> Value
          Theirs: torch.Tensor[] -> torch.Tensor }

    type OpCase = { Shapes: int[][]; Seed: int }

    let dim = Gen.frequency [ 1, Gen.constant 1; 4, Gen.choose (2, 4) ]
    let shapeOfRank r = Gen.arrayOfLength r dim
    let anyShape = Gen.choose (0, 3) |> Gen.bind shapeOfRank
    let unaryShapes = anyShape |> Gen.map (fun s -> [| s |])
    let nonScalar = Gen.choose (1, 3) |> Gen.bind shapeOfRank |> Gen.map (fun s -> [| s |])

    /// Two shapes that broadcast to a common one (leading dims dropped, some dims set to 1).
    let broadcastPair =
        gen {
            let! out = Gen.choose (0, 3) |> Gen.bind shapeOfRank
            let side =
                gen {
                    let! drop = Gen.choose (0, out.Length)
                    let! ones = Gen.arrayOfLength (out.Length - drop) (Gen.frequency [ 3, Gen.constant false; 1, Gen.constant true ])
                    return Array.mapi (fun i d -> if ones.[i] then 1 else d) out.[drop..]
                }
            let! a = side
            let! b = side
            let! swap = Gen.elements [ true; false ]
            // Make sure the pair really yields `out`: one side keeps it whole.
            return if swap then [| out; b |] else [| a; out |]
        }

    let matmulShapes = gen { let! m = dim in let! k = dim in let! n = dim in return [| [| m; k |]; [| k; n |] |] }
    let bmmShapes = gen { let! b = dim in let! m = dim in let! k = dim in let! n = dim in return [| [| b; m; k |]; [| b; k; n |] |] }

    let any (x: double) = x
    let positive (x: double) = abs x + 0.1
    let awayFromZero (x: double) = if abs x < 0.05 then (if x < 0.0 then x - 0.05 else x + 0.05) else x
    let denominator (x: double) = (if x < 0.0 then -1.0 else 1.0) * (abs x + 0.5)

    let axisOf (shape: int[]) = if shape.Length = 0 then 0 else shape.Length - 1
    let lastAxis (xs: Value[]) = axisOf xs.[0].Shape

    let specs : OpSpec list =
        [ { Name = "add"; Shapes = broadcastPair; Domain = any; Ours = (fun x -> Arithmetic.add x.[0] x.[1]); Theirs = (fun t -> t.[0] + t.[1]) }
          { Name = "sub"; Shapes = broadcastPair; Domain = any; Ours = (fun x -> Arithmetic.sub x.[0] x.[1]); Theirs = (fun t -> t.[0] - t.[1]) }
          { Name = "mul"; Shapes = broadcastPair; Domain = any; Ours = (fun x -> Arithmetic.mul x.[0] x.[1]); Theirs = (fun t -> t.[0] * t.[1]) }
          { Name = "div"; Shapes = broadcastPair; Domain = denominator; Ours = (fun x -> Arithmetic.div x.[0] x.[1]); Theirs = (fun t -> t.[0] / t.[1]) }
          { Name = "neg"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Arithmetic.neg x.[0]); Theirs = (fun t -> -t.[0]) }
          { Name = "exp"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.exp x.[0]); Theirs = (fun t -> t.[0].exp()) }
          { Name = "log"; Shapes = unaryShapes; Domain = positive; Ours = (fun x -> Elementwise.log x.[0]); Theirs = (fun t -> t.[0].log()) }
          { Name = "sqrt"; Shapes = unaryShapes; Domain = positive; Ours = (fun x -> Elementwise.sqrt x.[0]); Theirs = (fun t -> t.[0].sqrt()) }
          { Name = "tanh"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.tanh x.[0]); Theirs = (fun t -> t.[0].tanh()) }
          { Name = "sigmoid"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.sigmoid x.[0]); Theirs = (fun t -> torch.sigmoid(t.[0])) }
          { Name = "pow 2.5"; Shapes = unaryShapes; Domain = positive; Ours = (fun x -> Elementwise.pow 2.5 x.[0]); Theirs = (fun t -> t.[0].pow(TorchSharp.Scalar.op_Implicit 2.5)) }
          { Name = "pow 2"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.pow 2.0 x.[0]); Theirs = (fun t -> t.[0].pow(TorchSharp.Scalar.op_Implicit 2.0)) }
          { Name = "pow 3"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.pow 3.0 x.[0]); Theirs = (fun t -> t.[0].pow(TorchSharp.Scalar.op_Implicit 3.0)) }
          { Name = "pow -1"; Shapes = unaryShapes; Domain = awayFromZero; Ours = (fun x -> Elementwise.pow -1.0 x.[0]); Theirs = (fun t -> t.[0].pow(TorchSharp.Scalar.op_Implicit -1.0)) }
          { Name = "pow 1"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.pow 1.0 x.[0]); Theirs = (fun t -> t.[0].pow(TorchSharp.Scalar.op_Implicit 1.0)) }
          { Name = "square"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.square x.[0]); Theirs = (fun t -> t.[0].square()) }
          { Name = "x·x (one value twice)"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Arithmetic.mul x.[0] x.[0]); Theirs = (fun t -> t.[0] * t.[0]) }
          { Name = "pow 1.5"; Shapes = unaryShapes; Domain = positive; Ours = (fun x -> Elementwise.pow 1.5 x.[0]); Theirs = (fun t -> t.[0].pow(TorchSharp.Scalar.op_Implicit 1.5)) }
          { Name = "sum"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Reduction.sum x.[0]); Theirs = (fun t -> t.[0].sum()) }
          { Name = "sum last axis"; Shapes = nonScalar; Domain = any; Ours = (fun x -> Reduction.sumAxes [| lastAxis x |] false x.[0]); Theirs = (fun t -> t.[0].sum([| int64 (t.[0].shape.Length - 1) |], false, Nullable())) }
          { Name = "mean"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Reduction.mean x.[0]); Theirs = (fun t -> t.[0].mean()) }
          { Name = "mean axis 0 keep"; Shapes = nonScalar; Domain = any; Ours = (fun x -> Reduction.meanAxes [| 0 |] true x.[0]); Theirs = (fun t -> t.[0].mean([| 0L |], true, Nullable())) }
          { Name = "reshape"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Layout.reshape [| -1 |] x.[0]); Theirs = (fun t -> t.[0].reshape([| -1L |])) }
          { Name = "permute"; Shapes = nonScalar; Domain = any
            Ours = (fun x -> Layout.permute (Array.rev [| 0 .. x.[0].Shape.Length - 1 |]) x.[0])
            Theirs = (fun t -> t.[0].permute(Array.rev [| 0L .. int64 (t.[0].shape.Length - 1) |])) }
          { Name = "matmul"; Shapes = matmulShapes; Domain = any; Ours = (fun x -> Linear.matmul x.[0] x.[1]); Theirs = (fun t -> torch.mm(t.[0], t.[1])) }
          { Name = "bmm"; Shapes = bmmShapes; Domain = any; Ours = (fun x -> Linear.bmm x.[0] x.[1]); Theirs = (fun t -> torch.bmm(t.[0], t.[1])) }
          { Name = "einsum bij,bjk,bk->bi"; Shapes = bmmShapes |> Gen.map (fun s -> [| s.[0]; s.[1]; [| s.[1].[0]; s.[1].[2] |] |]); Domain = any
            Ours = (fun x -> Linear.einsum "bij,bjk,bk->bi" x); Theirs = (fun t -> torch.einsum("bij,bjk,bk->bi", t)) }
          { Name = "relu"; Shapes = unaryShapes; Domain = awayFromZero; Ours = (fun x -> Activation.relu x.[0]); Theirs = (fun t -> torch.nn.functional.relu(t.[0])) }
          { Name = "leakyRelu 0.01"; Shapes = unaryShapes; Domain = awayFromZero; Ours = (fun x -> Activation.leakyRelu 0.01 x.[0]); Theirs = (fun t -> torch.nn.functional.leaky_relu(t.[0], 0.01)) }
          { Name = "leakyRelu 0.2"; Shapes = unaryShapes; Domain = awayFromZero; Ours = (fun x -> Activation.leakyRelu 0.2 x.[0]); Theirs = (fun t -> torch.nn.functional.leaky_relu(t.[0], 0.2)) }
          { Name = "gelu"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Activation.gelu x.[0]); Theirs = (fun t -> torch.nn.functional.gelu(t.[0])) }
          { Name = "geluTanh"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Activation.geluTanh x.[0]); Theirs = (fun t -> torch.nn.functional.gelu(t.[0], TorchSharp.Modules.GELU.Approximate.tanh)) }
          { Name = "softplus"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Activation.softplus x.[0]); Theirs = (fun t -> torch.nn.functional.softplus(t.[0])) }
          { Name = "softmax"; Shapes = nonScalar; Domain = any; Ours = (fun x -> Softmax.softmax (lastAxis x) x.[0]); Theirs = (fun t -> torch.nn.functional.softmax(t.[0], int64 (t.[0].shape.Length - 1))) }
          { Name = "logSoftmax"; Shapes = nonScalar; Domain = any; Ours = (fun x -> Softmax.logSoftmax 0 x.[0]); Theirs = (fun t -> torch.nn.functional.log_softmax(t.[0], 0L)) }
          { Name = "logSoftmax last axis"; Shapes = nonScalar; Domain = any; Ours = (fun x -> Softmax.logSoftmax (lastAxis x) x.[0]); Theirs = (fun t -> torch.nn.functional.log_softmax(t.[0], int64 (t.[0].shape.Length - 1))) } ]

    /// Equal shapes and every element within 1e-12 + 1e-10·|TorchSharp's|, NaN matching NaN (a mean of nothing).
    let close (a: Tensor) (b: Tensor) =
        a.Shape = b.Shape && Array.forall2 (fun (x: float) (y: float) -> (Double.IsNaN x && Double.IsNaN y) || abs (x - y) <= 1e-12 + 1e-10 * abs y) (a.ToArray()) (b.ToArray())

    let inputsFor (spec: OpSpec) (c: OpCase) =
        c.Shapes |> Array.mapi (fun k s -> Tensor.random (c.Seed + 31 * k) s |> Tensor.map spec.Domain)

    /// One case: value, VJP, JVP, the VJP–JVP duality and second order against TorchSharp, and forward over
    /// reverse against the second order.
    let checkCaseWith (close: Tensor -> Tensor -> bool) (spec: OpSpec) (c: OpCase) =
            let xs = inputsFor spec c
            let y = spec.Ours (xs |> Array.map Value.constant)
            let v = Tensor.random (c.Seed + 1) y.Shape
            let us = xs |> Array.mapi (fun k x -> Tensor.random (c.Seed + 100 + k) x.Shape)
            let ws = xs |> Array.mapi (fun k x -> Tensor.random (c.Seed + 200 + k) x.Shape)
            let theirs = Torch.derivatives spec.Theirs xs v us ws
            let fail what (ours: Tensor) (ref: Tensor) =
                Check.failf "%s: %s differs (max |Δ| %g) on shapes %s seed %d\nours %O\ntorch %O" spec.Name what (if ours.Shape = ref.Shape then Tensor.maxAbsDiff ours ref else nan) (c.Shapes |> Array.map Shape.show |> String.concat " ") c.Seed ours ref
            if not (close y.Tensor theirs.Output) then fail "value" y.Tensor theirs.Output
            let xv = xs |> Array.map Value.constant
            let _, pb = Autodiff.vjpMany spec.Ours xv
            let vjp = pb (Value.constant v) |> Array.map Value.tensor
            Array.iteri2 (fun k (o: Tensor) r -> if not (close o r) then fail (sprintf "VJP of input %d" k) o r) vjp theirs.Vjp
            let _, jvp = Autodiff.jvpMany spec.Ours xv (us |> Array.map Value.constant)
            if not (close jvp.Tensor theirs.Jvp) then fail "JVP" jvp.Tensor theirs.Jvp
            // ⟨u, vjp(v)⟩ = ⟨jvp(u), v⟩
            let lhs = Array.fold2 (fun acc (u: Tensor) g -> acc + Tensor.dot u g) 0.0 us vjp
            let rhs = Tensor.dot jvp.Tensor v
            if abs (lhs - rhs) > 1e-10 * (1.0 + abs lhs) then Check.failf "%s: <u, vjp v> = %.17g but <jvp u, v> = %.17g" spec.Name lhs rhs
            // ⟨vjp(v), w⟩ as a function of the inputs.
            let pairing (ins: Value[]) =
                let _, pb = Autodiff.vjpMany spec.Ours ins
                Array.fold2 (fun acc g (w: Tensor) -> Arithmetic.add acc (Reduction.sum (Arithmetic.mul g (Value.constant w)))) (Value.scalar 0.0) (pb (Value.constant v)) ws
            // Second order: its gradient (reverse over reverse).
            let second = Autodiff.gradMany pairing xv
            Array.iteri2 (fun k (o: Value) r -> if not (close o.Tensor r) then fail (sprintf "second order, input %d" k) o.Tensor r) second theirs.SecondOrder
            // Forward over reverse (a Hessian-vector product's order), which runs the JVP rules of the ops in the
            // VJP: the derivative of ⟨vjp(v), w⟩ along u equals ⟨u, second order⟩.
            let _, forwardOverReverse = Autodiff.jvpMany pairing xv (us |> Array.map Value.constant)
            let along = Array.fold2 (fun acc (u: Tensor) (g: Value) -> acc + Tensor.dot u g.Tensor) 0.0 us second
            let fr = forwardOverReverse.Tensor.ToArray().[0]
            if not (abs (fr - along) <= 1e-10 * (1.0 + abs along)) then
                Check.failf "%s: forward over reverse %.17g but ⟨u, second order⟩ = %.17g on shapes %s seed %d" spec.Name fr along (c.Shapes |> Array.map Shape.show |> String.concat " ") c.Seed

    let checkCase (spec: OpSpec) (c: OpCase) = checkCaseWith close spec c

    let checkOp (spec: OpSpec) =
        let arb = Arb.fromGen (gen { let! s = spec.Shapes in let! seed = Gen.choose (0, 1000000) in return { Shapes = s; Seed = seed } })
        Check.forAll ("op " + spec.Name) (Check.seedOf ("op " + spec.Name)) 200 arb (checkCase spec) |> ignore

    let names = specs |> List.map (fun s -> [| box s.Name |])

    [<Theory>]
    [<MemberData(nameof names)>]
    let ``op equals TorchSharp: value, VJP, JVP, second order, and VJP-JVP duality`` (name: string) =
        checkOp (specs |> List.find (fun s -> s.Name = name))
