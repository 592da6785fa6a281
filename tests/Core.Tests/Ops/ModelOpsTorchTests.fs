namespace Functional.Tests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional.Core
open Functional.CrossCheck
open Functional.Tests.OpsTorchTests

/// The ops real models need (elementary functions, kinks, indexing, joins, linear algebra), each against TorchSharp
/// autograd with the same harness as the core ops: value, VJP, JVP, second order and the VJP–JVP duality.
module ModelOpsTorchTests =

    let private unit' (x: double) = Math.Tanh x * 0.9
    let private aboveMinusOne (x: double) = abs x * 0.5 - 0.4
    let private awayFromBounds (x: double) = if abs (abs x - 0.5) < 0.05 then x + 0.1 else x
    let private lastLength (xs: Value[]) = let s = xs.[0].Shape in s.[s.Length - 1]
    let private lastLengthT (t: torch.Tensor[]) = int t.[0].shape.[t.[0].shape.Length - 1]
    let private lastT (t: torch.Tensor[]) = int64 (t.[0].shape.Length - 1)

    let private squareShapes (batched: bool) (cols: bool) =
        gen {
            let! n = Gen.choose (1, 4)
            let! b = Gen.choose (1, 3)
            let! k = Gen.choose (1, 3)
            let lead = if batched then [| b |] else [||]
            return if cols then [| Array.append lead [| n; n |]; Array.append lead [| n; k |] |] else [| Array.append lead [| n; n |] |]
        }

    /// A and B whose leading dimensions broadcast (PyTorch's rules): one A for a batch of B, both broadcast, vectors
    /// for every matrix, one B for a batch of A, A's size-1 batch. With `matrices`, B always [..., n, k] and never
    /// read as vectors (solve_triangular takes no vectors).
    let private solveBroadcastShapes (matrices: bool) =
        gen {
            let! n = Gen.choose (1, 4)
            let! k = Gen.choose (1, 3)
            // Kind 5 (triangular solves only): B shaped as A without its last dimension, matrices for
            // torch.linalg.solve_triangular (vectors for torch.linalg.solve).
            let! kind = if matrices then Gen.elements [ 0; 1; 4; 5 ] else Gen.choose (0, 4)
            return
                match kind with
                | 0 -> [| [| n; n |]; [| 3; n; k |] |]
                | 1 -> [| [| 2; 1; n; n |]; [| 3; n; k |] |]
                | 2 -> [| [| 3; n; n |]; [| n |] |]
                | 3 -> [| [| 3; n; n |]; [| n; k |] |]
                | 5 -> [| [| n; n; n |]; [| n; n |] |]
                | _ -> [| [| 1; n; n |]; [| 3; n; k |] |]
        }

    /// A + (2n + 3)I (batched), A n×n with standard normal entries: its singular values are at least 2n + 3 − ‖A‖_F, and
    /// ‖A‖_F² (χ² with n² degrees of freedom) exceeds (2n + 3)² with probability below 1e-5 for every n ≤ 4, so the
    /// inverse, solves and determinant are well conditioned (a shift of 3 left some 4×4 cases nearly singular).
    let private shift (n: int) = float (2 * n + 3)
    let private conditioned (a: Value) =
        let n = a.Shape.[a.Shape.Length - 1]
        Arithmetic.add a (Value.constant (Tensor.init [| n; n |] (fun e -> if e / n = e % n then shift n else 0.0)))
    let private conditionedT (a: torch.Tensor) =
        let n = a.shape.[a.shape.Length - 1]
        a + torch.eye(n, n, torch.ScalarType.Float64) * shift (int n)
    /// M·Mᵀ + nI: symmetric positive definite.
    let private spd (m: Value) =
        let n = m.Shape.[m.Shape.Length - 1]
        Arithmetic.add (Linear.einsum "...ij,...kj->...ik" [| m; m |]) (Value.constant (Tensor.init [| n; n |] (fun e -> if e / n = e % n then float n else 0.0)))
    let private spdT (m: torch.Tensor) =
        let n = m.shape.[m.shape.Length - 1]
        torch.einsum("...ij,...kj->...ik", m, m) + torch.eye(n, n, torch.ScalarType.Float64) * float n

    let private concatShapes =
        gen {
            let! rest = Gen.choose (0, 2) |> Gen.bind shapeOfRank
            let! a = Gen.choose (0, 3)
            let! b = Gen.choose (1, 3)
            return [| Array.append [| a |] rest; Array.append [| b |] rest |]
        }
    let private sameTwice = Gen.choose (0, 3) |> Gen.bind shapeOfRank |> Gen.map (fun s -> [| s; s |])
    let private whereShapes = broadcastPair |> Gen.map (fun s -> [| s.[0]; s.[1]; s.[0] |])

    let modelSpecs : OpSpec list =
        [ { Name = "sin"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.sin x.[0]); Theirs = (fun t -> t.[0].sin()) }
          { Name = "cos"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.cos x.[0]); Theirs = (fun t -> t.[0].cos()) }
          { Name = "tan"; Shapes = unaryShapes; Domain = unit'; Ours = (fun x -> Elementwise.tan x.[0]); Theirs = (fun t -> t.[0].tan()) }
          { Name = "asin"; Shapes = unaryShapes; Domain = unit'; Ours = (fun x -> Elementwise.asin x.[0]); Theirs = (fun t -> t.[0].asin()) }
          { Name = "acos"; Shapes = unaryShapes; Domain = unit'; Ours = (fun x -> Elementwise.acos x.[0]); Theirs = (fun t -> t.[0].acos()) }
          { Name = "atan"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.atan x.[0]); Theirs = (fun t -> t.[0].atan()) }
          { Name = "sinh"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.sinh x.[0]); Theirs = (fun t -> t.[0].sinh()) }
          { Name = "cosh"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.cosh x.[0]); Theirs = (fun t -> t.[0].cosh()) }
          { Name = "log1p"; Shapes = unaryShapes; Domain = aboveMinusOne; Ours = (fun x -> Elementwise.log1p x.[0]); Theirs = (fun t -> t.[0].log1p()) }
          { Name = "expm1"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.expm1 x.[0]); Theirs = (fun t -> t.[0].expm1()) }
          { Name = "erf"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.erf x.[0]); Theirs = (fun t -> torch.special.erf(t.[0])) }
          { Name = "erfc"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Elementwise.erfc x.[0]); Theirs = (fun t -> torch.special.erfc(t.[0])) }
          { Name = "reciprocal"; Shapes = unaryShapes; Domain = denominator; Ours = (fun x -> Elementwise.reciprocal x.[0]); Theirs = (fun t -> t.[0].reciprocal()) }
          { Name = "silu"; Shapes = unaryShapes; Domain = any; Ours = (fun x -> Activation.silu x.[0]); Theirs = (fun t -> torch.nn.functional.silu(t.[0])) }
          { Name = "elu 0.7"; Shapes = unaryShapes; Domain = awayFromZero; Ours = (fun x -> Piecewise.elu 0.7 KinkConvention.LeftDerivative x.[0]); Theirs = (fun t -> torch.nn.functional.elu(t.[0], 0.7)) }
          { Name = "abs"; Shapes = unaryShapes; Domain = awayFromZero; Ours = (fun x -> Piecewise.abs KinkConvention.Midpoint x.[0]); Theirs = (fun t -> t.[0].abs()) }
          { Name = "clamp"; Shapes = unaryShapes; Domain = awayFromBounds; Ours = (fun x -> Piecewise.clamp KinkConvention.Midpoint -0.5 0.5 x.[0]); Theirs = (fun t -> t.[0].clamp(Scalar.op_Implicit -0.5, Scalar.op_Implicit 0.5)) }
          { Name = "maximum"; Shapes = broadcastPair; Domain = any; Ours = (fun x -> Piecewise.maximum KinkConvention.Midpoint x.[0] x.[1]); Theirs = (fun t -> torch.maximum(t.[0], t.[1])) }
          { Name = "minimum"; Shapes = broadcastPair; Domain = any; Ours = (fun x -> Piecewise.minimum KinkConvention.Midpoint x.[0] x.[1]); Theirs = (fun t -> torch.minimum(t.[0], t.[1])) }
          { Name = "narrow last axis"; Shapes = nonScalar; Domain = any
            Ours = (fun x -> let n = lastLength x in Indexing.narrow -1 (n / 2) (n - n / 2) x.[0])
            Theirs = (fun t -> let n = lastLengthT t in t.[0].narrow(lastT t, int64 (n / 2), int64 (n - n / 2))) }
          { Name = "pad last axis"; Shapes = nonScalar; Domain = any
            Ours = (fun x -> Indexing.pad -1 1 (lastLength x + 2) x.[0])
            Theirs = (fun t -> torch.nn.functional.pad(t.[0], [| 1L; 1L |])) }
          { Name = "concat axis 0"; Shapes = concatShapes; Domain = any; Ours = (fun x -> Indexing.concat 0 x); Theirs = (fun t -> torch.cat(t, 0L)) }
          { Name = "stack axis 0"; Shapes = sameTwice; Domain = any; Ours = (fun x -> Indexing.stack 0 x); Theirs = (fun t -> torch.stack(t, 0L)) }
          { Name = "stack last axis"; Shapes = sameTwice; Domain = any; Ours = (fun x -> Indexing.stack -1 x); Theirs = (fun t -> torch.stack(t, -1L)) }
          { Name = "indexSelect last axis"; Shapes = nonScalar; Domain = any
            Ours = (fun x -> let n = lastLength x in Indexing.indexSelect -1 [| n - 1; 0; n - 1 |] x.[0])
            Theirs = (fun t -> let n = int64 (lastLengthT t) in t.[0].index_select(lastT t, torch.tensor([| n - 1L; 0L; n - 1L |]))) }
          { Name = "indexAdd axis 0"; Shapes = nonScalar; Domain = any
            Ours = (fun x -> let m = x.[0].Shape.[0] in Indexing.indexAdd 0 (Array.init m (fun k -> k % 2)) 3 x.[0])
            Theirs = (fun t ->
                let m = int t.[0].shape.[0]
                let shape = t.[0].shape |> Array.mapi (fun i d -> if i = 0 then 3L else d)
                torch.zeros(shape, torch.ScalarType.Float64).index_add(0L, torch.tensor(Array.init m (fun k -> int64 (k % 2))), t.[0], Scalar.op_Implicit 1.0)) }
          { Name = "gather last axis"; Shapes = nonScalar; Domain = any
            Ours = (fun x -> let s = x.[0].Shape in let n = s.[s.Length - 1] in Indexing.gather -1 (Array.init (Shape.numel s) (fun k -> (k * 7) % n)) s x.[0])
            Theirs = (fun t ->
                let s = t.[0].shape
                let n = s.[s.Length - 1]
                t.[0].gather(lastT t, torch.tensor(Array.init (int (Array.fold (*) 1L s)) (fun k -> (int64 k * 7L) % n), ReadOnlySpan<int64>(s)))) }
          { Name = "scatterAdd axis 0"; Shapes = nonScalar; Domain = any
            Ours = (fun x -> let s = x.[0].Shape in Indexing.scatterAdd 0 (Array.init (Shape.numel s) (fun k -> k % 2)) (Array.append [| 2 |] s.[1..]) x.[0])
            Theirs = (fun t ->
                let s = t.[0].shape
                torch.zeros(Array.append [| 2L |] s.[1..], torch.ScalarType.Float64).scatter_add(0L, torch.tensor(Array.init (int (Array.fold (*) 1L s)) (fun k -> int64 (k % 2)), ReadOnlySpan<int64>(s)), t.[0])) }
          { Name = "layerNorm"; Shapes = nonScalar; Domain = any
            Ours = (fun x -> Normalization.layerNorm 0.1 x.[0])
            Theirs = (fun t -> torch.nn.functional.layer_norm(t.[0], [| int64 (lastLengthT t) |], eps = 0.1)) }
          { Name = "huber"; Shapes = sameTwice; Domain = any
            Ours = (fun x -> Losses.huber 0.5 x.[0] x.[1])
            Theirs = (fun t -> torch.nn.functional.huber_loss(t.[0], t.[1], reduction = torch.nn.Reduction.None, delta = 0.5)) }
          { Name = "bceWithLogits"; Shapes = sameTwice; Domain = any
            Ours = (fun x -> Losses.bceWithLogits x.[0] x.[1])
            Theirs = (fun t -> torch.nn.functional.binary_cross_entropy_with_logits(t.[0], t.[1], reduction = torch.nn.Reduction.None)) }
          { Name = "flip last axis"; Shapes = nonScalar; Domain = any; Ours = (fun x -> Indexing.flip -1 x.[0]); Theirs = (fun t -> t.[0].flip([| lastT t |])) }
          { Name = "where"; Shapes = whereShapes; Domain = any
            Ours = (fun x -> Indexing.where (Elementwise.constantOf (fun v -> if v > 0.0 then 1.0 else 0.0) x.[0]) x.[1] x.[2])
            Theirs = (fun t -> torch.where(t.[0].gt(torch.tensor 0.0), t.[1], t.[2])) }
          { Name = "solve"; Shapes = squareShapes false true; Domain = any; Ours = (fun x -> Linalg.solve (conditioned x.[0]) x.[1]); Theirs = (fun t -> torch.linalg.solve(conditionedT t.[0], t.[1])) }
          { Name = "solve batched"; Shapes = squareShapes true true; Domain = any; Ours = (fun x -> Linalg.solve (conditioned x.[0]) x.[1]); Theirs = (fun t -> torch.linalg.solve(conditionedT t.[0], t.[1])) }
          { Name = "inverse"; Shapes = squareShapes true false; Domain = any; Ours = (fun x -> Linalg.inverse (conditioned x.[0])); Theirs = (fun t -> torch.linalg.inv(conditionedT t.[0])) }
          { Name = "det"; Shapes = squareShapes true false; Domain = any; Ours = (fun x -> Linalg.det (conditioned x.[0])); Theirs = (fun t -> torch.linalg.det(conditionedT t.[0])) }
          { Name = "logAbsDet"; Shapes = squareShapes false false; Domain = any; Ours = (fun x -> Linalg.logAbsDet (conditioned x.[0])); Theirs = (fun t -> let struct (_, l) = torch.linalg.slogdet(conditionedT t.[0]) in l) }
          { Name = "maxAxes last"; Shapes = nonScalar; Domain = any; Ours = (fun x -> Piecewise.maxAxes KinkConvention.Midpoint [| -1 |] false x.[0]); Theirs = (fun t -> t.[0].amax([| -1L |], false)) }
          { Name = "minAxes 0 keep"; Shapes = nonScalar; Domain = any; Ours = (fun x -> Piecewise.minAxes KinkConvention.Midpoint [| 0 |] true x.[0]); Theirs = (fun t -> t.[0].amin([| 0L |], true)) }
          { Name = "solve broadcast"; Shapes = solveBroadcastShapes false; Domain = any; Ours = (fun x -> Linalg.solve (conditioned x.[0]) x.[1]); Theirs = (fun t -> torch.linalg.solve(conditionedT t.[0], t.[1])) }
          { Name = "solveTriangular broadcast"; Shapes = solveBroadcastShapes true; Domain = any; Ours = (fun x -> Linalg.solveTriangular true (conditioned x.[0]) x.[1]); Theirs = (fun t -> torch.linalg.solve_triangular(conditionedT t.[0], t.[1], upper = true)) }
          { Name = "solveTriangular"; Shapes = squareShapes true true; Domain = any; Ours = (fun x -> Linalg.solveTriangular false (conditioned x.[0]) x.[1]); Theirs = (fun t -> torch.linalg.solve_triangular(conditionedT t.[0], t.[1], upper = false)) }
          { Name = "cholesky"; Shapes = squareShapes true false; Domain = any; Ours = (fun x -> Linalg.cholesky (spd x.[0])); Theirs = (fun t -> torch.linalg.cholesky(spdT t.[0])) } ]

    let modelNames = modelSpecs |> List.map (fun s -> [| box s.Name |])

    [<Theory>]
    [<MemberData(nameof modelNames)>]
    let ``model op equals TorchSharp: value, VJP, JVP, second order, and VJP-JVP duality`` (name: string) =
        checkOp (modelSpecs |> List.find (fun s -> s.Name = name))

    let allNames = (specs @ modelSpecs) |> List.map (fun s -> [| box s.Name |])

    /// The ops computed through a factorization.
    let private linalg =
        [ "det"; "logAbsDet"; "inverse"; "solve"; "solve batched"; "solve broadcast"; "solveTriangular"; "solveTriangular broadcast"; "cholesky" ]

    /// Every op, old and new, against central differences at first order (the gradient of ⟨f(x), v⟩) and at
    /// second order (the gradient of ⟨vjp(v), w⟩, whose finite differences difference the VJP itself).
    [<Theory>]
    [<MemberData(nameof allNames)>]
    let ``op passes finite differences at first and second order`` (name: string) =
        let spec = (specs @ modelSpecs) |> List.find (fun s -> s.Name = name)
        let arb = Arb.fromGen (gen { let! s = spec.Shapes in let! seed = Gen.choose (0, 1000000) in return { Shapes = s; Seed = seed } })
        Check.forAll ("finite differences " + spec.Name) (Check.seedOf ("finite differences " + spec.Name)) 50 arb (fun c ->
            let xs = inputsFor spec c
            let y = spec.Ours (xs |> Array.map Value.constant)
            let v = Value.constant (Tensor.random (c.Seed + 1) y.Shape)
            let ws = xs |> Array.mapi (fun k x -> Value.constant (Tensor.random (c.Seed + 200 + k) x.Shape))
            // Tighter than GradCheck.run's defaults (atol 1e-5, rtol 1e-3), which a rule 0.05 % wrong passes. The
            // factorizations' rounding grows with the matrix's condition number, and the differences divide it by
            // the step: det's second order at a seed's 4×4 matrices differs by 2e-6 relative.
            let atol, rtol = if List.contains spec.Name linalg then 1e-6, 1e-4 else 1e-7, 1e-6
            let first = GradCheck.runWith 1e-6 atol rtol (fun ins -> Reduction.sum (Arithmetic.mul (spec.Ours ins) v)) xs
            if not first.Passed then Check.failf "%s: first order differs from finite differences on shapes %s seed %d: %A" spec.Name (c.Shapes |> Array.map Shape.show |> String.concat " ") c.Seed first
            let second =
                GradCheck.runWith 1e-6 atol rtol (fun ins ->
                    let _, pb = Autodiff.vjpMany spec.Ours ins
                    Array.fold2 (fun acc g w -> Arithmetic.add acc (Reduction.sum (Arithmetic.mul g w))) (Value.scalar 0.0) (pb v) ws) xs
            if not second.Passed then Check.failf "%s: second order differs from finite differences on shapes %s seed %d: %A" spec.Name (c.Shapes |> Array.map Shape.show |> String.concat " ") c.Seed second)
        |> ignore

    /// Empty tensors: each op on shapes with a zero-length axis, against TorchSharp (value, VJP, JVP, second order):
    /// empty results, and results that are not empty made from an empty axis (a sum over it, a product with k = 0),
    /// 0×0 matrices among them. Reductions to an extreme over an empty axis are left out: max and min refuse them
    /// (there is no extreme), as TorchSharp does.
    let private emptyShapes (spec: OpSpec) : int[][] list =
        let is (g: Gen<int[][]>) = obj.ReferenceEquals(spec.Shapes, g)
        // No extreme over an empty axis, and no index into one (the spec draws its indices from the axis).
        let noEmptyAxis = spec.Name.StartsWith "max" || spec.Name.StartsWith "min" || spec.Name.StartsWith "indexSelect"
        if is unaryShapes then [ [| [| 0 |] |]; [| [| 2; 0 |] |] ]
        elif is nonScalar then
            (if spec.Name.Contains "axis 0" || spec.Name.Contains "Axes 0" then [ [| [| 2; 0 |] |] ] else [ [| [| 0; 2 |] |] ])
            @ (if noEmptyAxis then [] else [ [| [| 3; 0 |] |] ])
        elif is broadcastPair then [ [| [| 0; 3 |]; [| 3 |] |]; [| [| 2; 0 |]; [| 1 |] |] ]
        elif is matmulShapes then [ [| [| 0; 3 |]; [| 3; 2 |] |]; [| [| 2; 0 |]; [| 0; 3 |] |]; [| [| 2; 3 |]; [| 3; 0 |] |] ]
        elif is bmmShapes then [ [| [| 0; 2; 3 |]; [| 0; 3; 4 |] |]; [| [| 2; 3; 0 |]; [| 2; 0; 4 |] |] ]
        elif spec.Name.StartsWith "concat" then [ [| [| 0; 2 |]; [| 1; 2 |] |] ]
        elif spec.Name.StartsWith "stack" then [ [| [| 0 |]; [| 0 |] |] ]
        elif spec.Name = "where" then [ [| [| 0; 3 |]; [| 3 |]; [| 0; 3 |] |] ]
        elif spec.Name.StartsWith "einsum" then [ [| [| 0; 2; 3 |]; [| 0; 3; 4 |]; [| 0; 4 |] |] ]
        elif spec.Name.Contains "batched" || spec.Name = "inverse" || spec.Name = "det" || spec.Name = "cholesky" then
            if spec.Name.StartsWith "solve" then [ [| [| 0; 2; 2 |]; [| 0; 2; 1 |] |]; [| [| 2; 0; 0 |]; [| 2; 0; 1 |] |]; [| [| 2; 3; 3 |]; [| 2; 3; 0 |] |] ]
            else [ [| [| 0; 2; 2 |] |]; [| [| 0; 0 |] |]; [| [| 2; 0; 0 |] |] ]
        else []

    let emptyNames = (specs @ modelSpecs) |> List.filter (fun s -> not (emptyShapes s).IsEmpty) |> List.map (fun s -> [| box s.Name |])

    [<Theory>]
    [<MemberData(nameof emptyNames)>]
    let ``op on empty tensors equals TorchSharp`` (name: string) =
        let spec = (specs @ modelSpecs) |> List.find (fun s -> s.Name = name)
        for shapes in emptyShapes spec do checkCase spec { Shapes = shapes; Seed = 5 }

    [<Fact>]
    let ``slices, pads, joins and gathers large enough to split over the cores equal their written-out definitions`` () =
        // [outer, n, inner] shapes: many rows, one long row (outer = 1), and inner blocks.
        for outer, n, inner in [ 300, 1000, 1; 1, 200_000, 1; 40, 50, 64; 2, 3, 40_000; 1, 50, 4000 ] do
            let shape = [| outer; n; inner |]
            let x = Tensor.random (outer + n + inner) shape
            let xs = x.ToArray()
            let get o i e = xs.[(o * n + i) * inner + e]
            let expect (name: string) (dims: int * int * int) (f: int -> int -> int -> double) (got: Value) =
                let (o3, n3, i3) = dims
                let want = Array.init (o3 * n3 * i3) (fun flat -> f (flat / (n3 * i3)) ((flat / i3) % n3) (flat % i3))
                Assert.Equal<int[]>([| o3; n3; i3 |], got.Shape)
                if got.Tensor.ToArray() <> want then Assert.Fail(sprintf "%s of [%d, %d, %d] differs from its definition" name outer n inner)
            let start, length = n / 10, n - n / 5
            expect "narrow" (outer, length, inner) (fun o i e -> get o (start + i) e) (Indexing.narrow 1 start length (Value.constant x))
            expect "pad" (outer, n + 7, inner) (fun o i e -> if i < 3 || i >= n + 3 then 0.0 else get o (i - 3) e) (Indexing.pad 1 3 (n + 7) (Value.constant x))
            expect "concat" (outer, 2 * n, inner) (fun o i e -> if i < n then get o i e else get o (i - n) e * 2.0)
                (Indexing.concat 1 [| Value.constant x; Value.constant (Tensor.scale 2.0 x) |])
            // Repeated indices: their rows add, in the order of the indices.
            let rng = Random(n)
            let indices = Array.init (max 2 (n / 2)) (fun _ -> rng.Next n)
            expect "indexSelect" (outer, indices.Length, inner) (fun o k e -> get o indices.[k] e) (Indexing.indexSelect 1 indices (Value.constant x))
            let added = Indexing.indexAdd 1 indices n (Indexing.indexSelect 1 indices (Value.constant x))
            let counts = Array.zeroCreate n
            for i in indices do counts.[i] <- counts.[i] + 1
            expect "indexAdd" (outer, n, inner) (fun o i e ->
                let mutable acc = 0.0
                for _ in 1 .. counts.[i] do acc <- acc + get o i e
                acc) added

    [<Fact>]
    let ``a scatter-add sums from +0 in the order of the indices, bit for bit`` () =
        // −0 alone becomes +0 (a sum from +0, as TorchSharp's index_add into zeros); repeated indices add in the order
        // of k: (1e16 − 1e16) + 1 is 1, where the other order gives 0; a row no index names is +0.
        let x = Tensor.create [| 5; 2 |] [| -0.0; 1.0; 1e16; 2.0; -1e16; 3.0; 1.0; 4.0; -0.0; -0.0 |]
        let got = (Indexing.indexAdd 0 [| 0; 1; 1; 1; 3 |] 4 (Value.constant x)).Tensor.ToArray()
        let want = [| 0.0 + -0.0; 0.0 + 1.0; ((0.0 + 1e16) + -1e16) + 1.0; ((0.0 + 2.0) + 3.0) + 4.0; 0.0; 0.0; 0.0 + -0.0; 0.0 + -0.0 |]
        Assert.Equal(1.0, want.[2])
        Assert.Equal<int64[]>(Array.map BitConverter.DoubleToInt64Bits want, Array.map BitConverter.DoubleToInt64Bits got)

    /// gather over every axis of a tensor large enough to be split across the cores, against the definition read
    /// coordinate by coordinate; its pullback (scatterAdd) against the adjoint added back the same way; an index out of
    /// range named with its first position.
    [<Fact>]
    let ``gather on large tensors over every axis matches the definition, and its pullback adds back`` () =
        let rng = Random(71)
        let shape = [| 40; 50; 30 |]
        let x = Tensor.init shape (fun i -> float i * 0.5 - 7.0)
        for axis in 0 .. 2 do
            let indexShape = Array.mapi (fun d n -> if d = axis then n + 7 else n - d - 1) shape
            let count = Array.fold (*) 1 indexShape
            let index = Array.init count (fun _ -> rng.Next shape.[axis])
            let got, pullback = Autodiff.vjp (Indexing.gather axis index indexShape) (Value.constant x)
            let g = Tensor.init indexShape (fun i -> float (i % 13) - 6.0)
            let back = (pullback (Value.constant g)).Tensor.ToArray()
            let expectedBack = Array.zeroCreate (Array.fold (*) 1 shape)
            let coords = Array.zeroCreate 3
            for f in 0 .. count - 1 do
                let mutable r = f
                for d in 2 .. -1 .. 0 do
                    coords.[d] <- r % indexShape.[d]
                    r <- r / indexShape.[d]
                let at = Array.copy coords
                at.[axis] <- index.[f]
                Assert.Equal(x.[at], got.Tensor.[coords])
                let o = (at.[0] * shape.[1] + at.[1]) * shape.[2] + at.[2]
                expectedBack.[o] <- expectedBack.[o] + g.[coords]
            Assert.Equal<double[]>(expectedBack, back)
        let bad = Array.init (40 * 50 * 30) (fun i -> if i = 31234 then 40 else 0)
        let ex = Assert.Throws<Functional.ShapeException>(fun () -> Indexing.gather 0 bad shape (Value.constant x) |> ignore)
        Assert.Contains("index value 40 (position 31234) is out of range for axis 0 of length 40", ex.Message)

    /// layerNorm's Hessian-vector products forward over reverse (its VJP op's JVP rules) equal reverse over reverse
    /// (its VJP op's VJP rules): the Hessian is symmetric.
    [<Fact>]
    let ``layerNorm's Hessian-vector products agree forward over reverse and reverse over reverse`` () =
        for shape in [ [| 5 |]; [| 3; 4 |]; [| 2; 2; 7 |] ] do
            let w = Value.constant (Tensor.random 31 shape)
            let f (x: Value) = Reduction.sum (Arithmetic.mul w (Elementwise.tanh (Normalization.layerNorm 0.1 x)))
            let x = Value.constant (Tensor.random 32 shape)
            let v = Value.constant (Tensor.random 33 shape)
            let forward = (Autodiff.hessianVectorProduct f x v).Tensor
            let _, pullback = Autodiff.vjp (Autodiff.grad f) x
            let reverse = (pullback v).Tensor
            Assert.True(Tensor.allClose 1e-10 1e-12 forward reverse, sprintf "%A: %A against %A" shape (forward.ToArray()) (reverse.ToArray()))

    /// bceWithLogits is (relu x − x·t) + softplus(−|x|) in one pass, and its slope g·(σ(x) − t): the bits of the ops composed, on
    /// every length class (lanes of eight and four, padded tails) and where e^(−|x|) leaves the lanes (|x| > 708).
    [<Fact>]
    let ``bceWithLogits and its slope have the bits of the ops they fuse`` () =
        let bits (v: Value) = v.Tensor.ToArray() |> Array.map BitConverter.DoubleToInt64Bits
        let rng = Random(41)
        for n in [ 1; 3; 4; 5; 8; 9; 17; 1000; 70_001 ] do
            let xs = Array.init n (fun i -> match i % 97 with 5 -> 709.5 | 6 -> -750.0 | 7 -> nan | _ -> (rng.NextDouble() - 0.5) * 60.0)
            let x = Value.constant (Tensor.create [| n |] xs)
            let t = Value.constant (Tensor.create [| n |] (Array.init n (fun _ -> rng.NextDouble())))
            let g = Value.constant (Tensor.create [| n |] (Array.init n (fun _ -> rng.NextDouble() * 4.0 - 2.0)))
            let composed =
                Arithmetic.add (Arithmetic.sub (Activation.relu x) (Arithmetic.mul x t)) (Activation.softplus (Arithmetic.neg (Piecewise.abs KinkConvention.Midpoint x)))
            Assert.True((bits (Losses.bceWithLogits x t) = bits composed), sprintf "value, n = %d" n)
            let slope (g: Value) = Arithmetic.mul g (Arithmetic.sub (Elementwise.sigmoid x) t)
            Assert.True((bits (Losses.bceSlope x t g) = bits (slope g)), sprintf "slope, n = %d" n)
            let uniform = Value.constant (Tensor.full [| n |] 0.25)
            Assert.True((bits (Losses.bceSlope x t uniform) = bits (slope uniform)), sprintf "slope with a uniform g, n = %d" n)

    /// Where max(x, 0) − x·t cancels (t = 1 and x ≫ 0, t = 0 and x ≪ 0) the loss is ln(1 + e^(−|x|)) alone, to a few
    /// ulps: softplus(x) − x·t rounded it to 0 at x = 40 and lost 1.3 % of it at x = 30.
    [<Fact>]
    let ``bceWithLogits keeps the loss where its two parts cancel`` () =
        let xs = [| 40.0; 30.0; 20.0; -40.0; -30.0; 700.0 |]
        let ts = [| 1.0; 1.0; 1.0; 0.0; 0.0; 1.0 |]
        // ln(1 + e^(−|x|)) = e^(−|x|) − e^(−2|x|)/2 + …, to double precision for |x| ≥ 20.
        let exact = xs |> Array.map (fun x -> let e = Math.Exp(-(abs x)) in e - e * e / 2.0)
        // Whole blocks of lanes, and one element (a partial block).
        for n in [ 16; 1 ] do
            for i in 0 .. xs.Length - 1 do
                let x = Value.constant (Tensor.create [| n |] (Array.create n xs.[i]))
                let t = Value.constant (Tensor.create [| n |] (Array.create n ts.[i]))
                for v in (Losses.bceWithLogits x t).Tensor.ToArray() do
                    Assert.True(abs (v - exact.[i]) <= 4e-16 * exact.[i], sprintf "x = %g, t = %g: %g against %g" xs.[i] ts.[i] v exact.[i])

    /// The pullback of a layerNorm on a reverse tape uses each row's r kept by the forward pass; its VJP op on its own
    /// computes r again from x. Both give the same bits, over row lengths on both sides of a sum's one-block limit.
    [<Fact>]
    let ``layerNorm's pullback with the forward's r equals its VJP op computing r again, bit for bit`` () =
        for shape in [ [| 7 |]; [| 3; 40 |]; [| 5; 1500 |]; [| 300; 64 |] ] do
            let x = Value.constant (Tensor.random 41 shape)
            let g = Value.constant (Tensor.random 42 shape)
            let y, pullback = Autodiff.vjp (Normalization.layerNorm 1e-5) x
            let kept = (pullback g).Tensor.ToArray()
            let recomputed = (Normalization.layerNormVjp 1e-5 x (Value.constant y.Tensor) g).Tensor.ToArray()
            Assert.Equal<int64[]>(Array.map BitConverter.DoubleToInt64Bits recomputed, Array.map BitConverter.DoubleToInt64Bits kept)

    /// A large index array passed again is copied once (the ops share the copy), and taken again when its contents
    /// changed: the later gather reads the new values, the earlier pullback still adds at the old positions.
    [<Fact>]
    let ``a large index passed again shares one copy, and a changed one is copied again`` () =
        let x = Tensor.init [| 3; 20000 |] (fun i -> float i)
        let index = Array.init 20000 (fun i -> i % 3)
        let recordedIndex (index: int[]) =
            let node = ref (null: Node)
            let y, pullback =
                Autodiff.vjp (fun v ->
                    let r = Indexing.gather 0 index [| 1; 20000 |] v
                    match r with
                    | Reverse(_, n, _) -> node.Value <- n
                    | _ -> ()
                    r) (Value.constant x)
            y.Tensor.ToArray(), pullback, (node.Value.Op.Attributes |> List.find (fun (k, _) -> k = "index") |> snd :?> int[])
        let y1, pullback1, kept1 = recordedIndex index
        let _, _, kept2 = recordedIndex index
        Assert.Same(kept1, kept2)
        Assert.NotSame(index, kept1)
        index.[5] <- 0
        index.[7] <- 2
        let y3, _, kept3 = recordedIndex index
        Assert.NotSame(kept1, kept3)
        Assert.Equal(2.0 * 20000.0 + 5.0, y1.[5])
        Assert.Equal(5.0, y3.[5])
        Assert.Equal(2.0 * 20000.0 + 7.0, y3.[7])
        let back = (pullback1 (Value.constant (Tensor.init [| 1; 20000 |] (fun _ -> 1.0)))).Tensor
        Assert.Equal(1.0, back.[[| 2; 5 |]])
        Assert.Equal(0.0, back.[[| 0; 5 |]])

    /// det's gradient at singular matrices (rank n − 1 from a repeated row, a zero row or a product of thin factors, rank n − 2,
    /// a batch of both kinds with an invertible one): the cofactors (−1)^(i+j)·det A₍ⱼᵢ₎ with TorchSharp's det of
    /// each minor, and TorchSharp's own gradient wherever its det is not exactly 0. Where it is, TorchSharp 0.107's
    /// gradient is 0 (it solves against det·I), pinned here as the documented difference. Then det's second order
    /// through the cofactors at invertible matrices, against TorchSharp's double backward.
    [<Fact>]
    let ``det's gradient at singular matrices equals the cofactors TorchSharp's det gives`` () =
        let rng = Random(29)
        let random (rows: int) (cols: int) = Array.init (rows * cols) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
        let torchDet (shape: int[]) (a: double[]) = (Torch.valueAndGrad (fun t -> torch.linalg.det(t.[0])) [| Tensor.create shape a |] None).Output.ToArray()
        let mutable againstAutograd, againstZero = 0, 0
        for n in [ 2; 3; 4; 6; 8 ] do
            let repeated = random n n
            Array.Copy(repeated, 0, repeated, (n - 1) * n, n)
            let b, c = random n (n - 1), random (n - 1) n
            let thin = Array.init (n * n) (fun e -> Array.fold (+) 0.0 (Array.init (n - 1) (fun k -> b.[(e / n) * (n - 1) + k] * c.[k * n + e % n])))
            let lower = random n n
            if n > 2 then
                Array.Copy(lower, 0, lower, n, n)
                Array.Copy(lower, 0, lower, 2 * n, n)
            // A zero row stays zero through any elimination, so TorchSharp's det of it is exactly 0 on every CPU;
            // a repeated row's need not be (MKL's AVX-512 LU on an Intel Xeon left rounding there).
            let zeroRow = random n n
            Array.Fill(zeroRow, 0.0, (n / 2) * n, n)
            for name, a in [ "repeated row", repeated; "zero row", zeroRow; "thin product", thin; (if n > 2 then "rank n − 2" else "random"), lower; "invertible", random n n ] do
                let shape = [| n; n |]
                let ours = (Autodiff.grad (fun x -> Reduction.sum (Linalg.det x)) (Value.constant (Tensor.create shape a))).Tensor.ToArray()
                let cofactors = Cofactors.signedMinors (fun m r -> (torchDet [| r; r |] m).[0]) a n
                // Entries of order 1: cofactors of order 1, and a rank n − 2 matrix's zeros to rounding on that scale.
                let scale = cofactors |> Array.fold (fun s v -> max s (abs v)) 1.0
                let off (want: double[]) = Array.map2 (fun p q -> abs (p - q)) want ours |> Array.fold max 0.0
                Assert.True(off cofactors <= 1e-12 * scale, sprintf "%d×%d %s: det's gradient off TorchSharp's cofactors by %g" n n name (off cofactors))
                let theirs = (Torch.valueAndGrad (fun t -> torch.linalg.det(t.[0]).sum()) [| Tensor.create shape a |] None).Gradients.[0].ToArray()
                if (torchDet shape a).[0] <> 0.0 then
                    againstAutograd <- againstAutograd + 1
                    Assert.True(off theirs <= 1e-12 * scale, sprintf "%d×%d %s: det's gradient off TorchSharp's by %g" n n name (off theirs))
                else
                    againstZero <- againstZero + 1
                    Assert.True(Array.forall (fun v -> v = 0.0) theirs, sprintf "%d×%d %s: TorchSharp's gradient at det 0 is no longer 0: %A" n n name theirs)
        Assert.True(againstAutograd >= 8 && againstZero >= 4, sprintf "%d cases against autograd, %d at TorchSharp's det 0" againstAutograd againstZero)
        // A batch mixing both kinds, through one LU per matrix.
        let batch = Array.concat [ (let r = random 4 4 in Array.Copy(r, 0, r, 4, 4); r); random 4 4 ]
        let one (k: int) = (Autodiff.grad (fun x -> Reduction.sum (Linalg.det x)) (Value.constant (Tensor.create [| 4; 4 |] batch.[16 * k .. 16 * k + 15]))).Tensor.ToArray()
        Assert.Equal<double[]>(Array.append (one 0) (one 1), (Autodiff.grad (fun x -> Reduction.sum (Linalg.det x)) (Value.constant (Tensor.create [| 2; 4; 4 |] batch))).Tensor.ToArray())
        let report =
            Torch.compare 1e-9 1e-11 (fun xs -> Reduction.sum (Autodiff.grad (fun x -> Reduction.sum (Arithmetic.square (Linalg.det x))) xs.[0]))
                (fun ts ->
                    let d = torch.linalg.det(ts.[0])
                    torch.autograd.grad([| d.square().sum() |], [| ts.[0] |], null, true, true, false).[0].sum())
                [| Tensor.create [| 2; 3; 3 |] (random 6 3) |]
        Assert.True(report.Passed, sprintf "%A" report)

    /// A·Aᵀ + n·I for an n×n A: symmetric positive definite, for the tests beyond one panel.
    let private gramPlusN (a: Tensor) =
        let n = a.ShapeArray.[0]
        Tensor.add (Linear.einsum "ij,kj->ik" [| Value.constant a; Value.constant a |]).Tensor (Tensor.init [| n; n |] (fun e -> if e / n = e % n then float n else 0.0))

    /// Beyond one panel (64 rows) the LU and the substitutions are recursive: solve (right-hand sides in column
    /// slices over the cores, and a vector), inverse, det, logAbsDet, solveTriangular (both triangles) and cholesky
    /// agree with TorchSharp in value and in the gradient for a pseudo-random adjoint, on general matrices (rows
    /// swapped), at sizes whose halves are not whole panels.
    [<Fact>]
    let ``beyond one panel the linear algebra agrees with TorchSharp in value and gradient`` () =
        let close (what: string) (want: Tensor) (got: Tensor) =
            let scale = want.ToArray() |> Array.fold (fun s v -> max s (abs v)) 1e-300
            let diff = Tensor.maxAbsDiff want got
            Assert.True(diff <= 1e-10 * scale, sprintf "%s: off TorchSharp by %g (largest element %g)" what diff scale)
        for n in [ 97; 200 ] do
            let a = Tensor.random (300 + n) [| n; n |]
            let spd = gramPlusN a
            let b = Tensor.random (400 + n) [| n; 40 |]
            let v = Tensor.random (500 + n) [| n |]
            let cases : (string * (Value[] -> Value) * (torch.Tensor[] -> torch.Tensor) * Tensor[]) list =
                [ "solve", (fun x -> Linalg.solve x.[0] x.[1]), (fun t -> torch.linalg.solve(t.[0], t.[1])), [| a; b |]
                  "solve a vector", (fun x -> Linalg.solve x.[0] x.[1]), (fun t -> torch.linalg.solve(t.[0], t.[1])), [| a; v |]
                  "inverse", (fun x -> Linalg.inverse x.[0]), (fun t -> torch.linalg.inv(t.[0])), [| a |]
                  "det", (fun x -> Linalg.det x.[0]), (fun t -> torch.linalg.det(t.[0])), [| a |]
                  "logAbsDet", (fun x -> Linalg.logAbsDet x.[0]), (fun t -> let struct (_, l) = torch.linalg.slogdet(t.[0]) in l), [| a |]
                  "solveTriangular lower", (fun x -> Linalg.solveTriangular false x.[0] x.[1]), (fun t -> torch.linalg.solve_triangular(t.[0].tril(), t.[1], upper = false)), [| spd; b |]
                  "solveTriangular upper", (fun x -> Linalg.solveTriangular true x.[0] x.[1]), (fun t -> torch.linalg.solve_triangular(t.[0].triu(), t.[1], upper = true)), [| spd; b |]
                  "cholesky", (fun x -> Linalg.cholesky x.[0]), (fun t -> torch.linalg.cholesky(t.[0])), [| spd |] ]
            for name, ours, theirs, inputs in cases do
                let y, pullback = Autodiff.vjpMany ours (inputs |> Array.map Value.constant)
                let w = Tensor.random (600 + n) y.Tensor.ShapeArray
                let expected = Torch.valueAndGrad theirs inputs (Some w)
                close (sprintf "%s %d: value" name n) expected.Output y.Tensor
                pullback (Value.constant w) |> Array.iteri (fun i g -> close (sprintf "%s %d: gradient %d" name n i) expected.Gradients.[i] g.Tensor)

    /// Beyond one panel the rules of cholesky and solveTriangular run the blocked kernels in their own derivatives
    /// (the middle of cholesky's pullback, substitutions with a transposed factor): the second order against
    /// TorchSharp (the gradient of ⟨∇⟨W, f(A)⟩, V⟩, and the Hessian-vector product forward over reverse), and each
    /// JVP against the VJP (⟨W, J·V⟩ = ⟨Jᵀ·W, V⟩).
    [<Fact>]
    let ``beyond one panel cholesky's and solveTriangular's derivatives agree with TorchSharp to second order`` () =
        for n in [ 97; 130 ] do
            let a = Tensor.random (700 + n) [| n; n |]
            let spd = gramPlusN a
            let b = Tensor.random (800 + n) [| n; 40 |]
            let w, v = Tensor.random (900 + n) [| n; n |], Tensor.random (1000 + n) [| n; n |]
            let wb = Tensor.random (1100 + n) [| n; 40 |]
            let tw, tv, twb = Torch.toTorch false w, Torch.toTorch false v, Torch.toTorch false wb
            let inner (x: Value) (y: Tensor) = Reduction.sum (Arithmetic.mul x (Value.constant y))
            let cases : (string * (Value -> Value) * (torch.Tensor -> torch.Tensor) * Tensor * Tensor) list =
                [ "cholesky", Linalg.cholesky, (fun t -> torch.linalg.cholesky(t)), w, spd
                  "solveTriangular lower", (fun x -> Linalg.solveTriangular false x (Value.constant b)), (fun t -> torch.linalg.solve_triangular(t.tril(), Torch.toTorch false b, upper = false)), wb, spd
                  "solveTriangular upper", (fun x -> Linalg.solveTriangular true x (Value.constant b)), (fun t -> torch.linalg.solve_triangular(t.triu(), Torch.toTorch false b, upper = true)), wb, spd ]
            for name, ours, theirs, adjoint, x in cases do
                let ta = if obj.ReferenceEquals(adjoint, w) then tw else twb
                let report =
                    Torch.compare 1e-9 1e-11 (fun xs -> inner (Autodiff.grad (fun y -> inner (ours y) adjoint) xs.[0]) v)
                        (fun ts -> (torch.autograd.grad([| (theirs ts.[0] * ta).sum() |], [| ts.[0] |], null, true, true, false).[0] * tv).sum())
                        [| x |]
                Assert.True(report.Passed, sprintf "%s %d: %A" name n report)
                // Forward over reverse: the Hessian-vector product, TorchSharp's from reverse over reverse.
                let hv = Autodiff.hessianVectorProduct (fun y -> inner (ours y) adjoint) (Value.constant x) (Value.constant v)
                let expected = Torch.valueAndGrad (fun ts -> (torch.autograd.grad([| (theirs ts.[0] * ta).sum() |], [| ts.[0] |], null, true, true, false).[0] * tv).sum()) [| x |] None
                let scale = expected.Gradients.[0].ToArray() |> Array.fold (fun s e -> max s (abs e)) 1e-300
                Assert.True(Tensor.maxAbsDiff expected.Gradients.[0] hv.Tensor <= 1e-9 * scale, sprintf "%s %d: Hessian-vector product off by %g (largest %g)" name n (Tensor.maxAbsDiff expected.Gradients.[0] hv.Tensor) scale)
                let _, tangent = Autodiff.jvp ours (Value.constant x) (Value.constant v)
                let _, pullback = Autodiff.vjp ours (Value.constant x)
                let left = (Reduction.sum (Arithmetic.mul tangent (Value.constant adjoint))).Tensor.ToArray().[0]
                let right = (inner (pullback (Value.constant adjoint)) v).Tensor.ToArray().[0]
                Assert.True(abs (left - right) <= 1e-10 * (abs left + abs right), sprintf "%s %d: ⟨W, J·V⟩ = %.17g, ⟨Jᵀ·W, V⟩ = %.17g" name n left right)
