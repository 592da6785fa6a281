namespace Functional.Tests

open System
open Xunit
open Functional.Core
open Functional.Kernels

/// Results never depend on the number of cores: every kernel's split decision reads `Fork.Cores`, so one process
/// can run the same inputs as 1, 2, 3 and 8 cores would split them and compare the bits. The override is the
/// calling thread's: decisions made inside a task, on a worker, see the machine's count (each case's first split is
/// decided on the calling thread).
module CoresTests =

    let private bits (t: Tensor) = Tensor.toArray t |> Array.map BitConverter.DoubleToInt64Bits

    let private c (t: Tensor) = Value.constant t

    /// Each case's results (a value and, where it has one, gradients), large enough that the work is split.
    let private cases : (string * (unit -> Tensor list)) list =
        let big = Tensor.random 1 [| 1_000_003 |]
        let rows = Tensor.random 2 [| 300; 4_099 |]
        let middle = Tensor.random 3 [| 64; 300; 64 |]
        let eye n = Tensor.init [| n; n |] (fun i -> if i % (n + 1) = 0 then 1.0 else 0.0)
        let a n = Tensor.add (Tensor.random (10 + n) [| n; n |]) (Tensor.scale 3.0 (eye n))
        let rhs n k = Tensor.random (20 + n + k) [| n; k |]
        let grad f x = (Autodiff.grad f (c x)).Tensor
        let mid = Tensor.random 6 [| 20_011 |]
        let midRows = Tensor.random 7 [| 64; 300 |]
        [ "sum and mean of 10⁶", (fun () -> [ Tensor.sum big; (Reduction.mean (c big)).Tensor ])
          // Mid-sized work, where how many tasks a kernel makes depends on the cores (Fork.PerTask).
          "GELU, exp and softmax of mid-sized inputs with gradients",
          (fun () ->
              [ (Activation.gelu (c mid)).Tensor; grad (Elementwise.exp >> Reduction.sum) mid; Tensor.sum mid
                grad (fun x -> Reduction.sum (Arithmetic.mul (Softmax.logSoftmax 1 x) (c midRows))) midRows
                grad (fun x -> Reduction.sum (Arithmetic.mul (Normalization.layerNorm 1e-5 x) (c midRows))) midRows
                Tensor.sumAxes [| 0 |] false midRows ])
          "GELU, exp, tanh of 10⁶ and their gradients",
          (fun () -> [ (Activation.gelu (c big)).Tensor; (Elementwise.exp (c big)).Tensor; grad (Elementwise.tanh >> Reduction.sum) big ])
          "broadcast sum of rows", (fun () -> [ Tensor.add rows (Tensor.sumAxes [| 0 |] true rows) ])
          "row, column and middle sums", (fun () -> [ Tensor.sumAxes [| 1 |] false rows; Tensor.sumAxes [| 0 |] false rows; Tensor.sumAxes [| 1 |] false middle ])
          "softmax over rows and the middle axis, with gradients",
          (fun () ->
              [ (Softmax.softmax 1 (c rows)).Tensor; (Softmax.logSoftmax 1 (c middle)).Tensor
                grad (fun x -> Reduction.sum (Arithmetic.mul (Softmax.softmax 1 x) (c rows))) rows
                grad (fun x -> Reduction.sum (Arithmetic.mul (Softmax.logSoftmax 1 x) (c middle))) middle ])
          "layer norm with its gradient", (fun () -> [ grad (fun x -> Reduction.sum (Arithmetic.mul (Normalization.layerNorm 1e-5 x) (c rows))) rows ])
          "a large permuted copy", (fun () -> [ (Arithmetic.add (Layout.permute [| 2; 0; 1 |] (c middle)) (c (Tensor.zeros [| 64; 64; 300 |]))).Tensor ])
          "matrix products with their gradients",
          (fun () ->
              let x, y = Tensor.random 4 [| 300; 257 |], Tensor.random 5 [| 257; 200 |]
              [ (Linear.einsum "ij,jk->ik" [| c x; c y |]).Tensor
                grad (fun x -> Reduction.sum (Activation.gelu (Linear.einsum "ij,jk->ik" [| x; c y |]))) x ])
          "solve, inverse and triangular solves beyond one slice",
          (fun () ->
              [ for n, k in [ 129, 129; 200, 37; 257, 257; 300, 300 ] do
                    yield (Linalg.solve (c (a n)) (c (rhs n k))).Tensor
                    yield (Linalg.solveTriangular (k % 2 = 0) (c (a n)) (c (rhs n k))).Tensor
                    yield (Linalg.inverse (c (a n))).Tensor
                    yield grad Linalg.logAbsDet (a n)
                    yield grad (fun x -> Reduction.sum (Arithmetic.mul (Linalg.solve x (c (rhs n k))) (c (rhs n k)))) (a n) ])
          "Cholesky with its gradient",
          (fun () ->
              [ for n in [ 129; 257 ] do
                    let spd x = Arithmetic.add (Linear.einsum "ij,kj->ik" [| x; x |]) (c (Tensor.scale (float n) (eye n)))
                    yield grad (fun x -> Reduction.sum (Arithmetic.mul (Linalg.cholesky (spd x)) (c (rhs n n)))) (a n) ]) ]

    [<Fact>]
    let ``results are the same bits whatever the number of cores the kernels split for`` () =
        for name, f in cases do
            let one = Fork.SplitFor(1, fun () -> f () |> List.map bits)
            for cores in [ 2; 3; 8 ] do
                let other = Fork.SplitFor(cores, fun () -> f () |> List.map bits)
                List.zip one other
                |> List.iteri (fun i (x, y) ->
                    let differ = Array.fold2 (fun n p q -> if p = q then n else n + 1) 0 x y
                    Assert.True((differ = 0), sprintf "%s, result %d: %d of %d elements differ between 1 and %d cores" name i differ x.Length cores))
