namespace Functional.Tests

open Xunit
open Functional
open Functional.Core

module ShapeTests =

    [<Fact>]
    let ``a tensor has at most 64 axes, however few its elements`` () =
        let ones n = Array.create n 1
        for make in [ (fun () -> Tensor.zeros (ones 65)); (fun () -> Tensor.reshape (ones 65) (Tensor.random 1 [| 1 |])); (fun () -> Tensor.create (ones 1_000_000) [| 1.0 |]) ] do
            let e = Assert.Throws<ShapeException>(fun () -> make () |> ignore)
            Assert.Contains("at most 64", e.Message)
        Assert.Equal(64, (Tensor.zeros (ones 64)).Rank)

    [<Fact>]
    let ``a Jacobian or Hessian is refused before any pullback when it would have more than 64 axes`` () =
        let x = Value.constant (Tensor.zeros (Array.create 64 1))
        // The result has 64 axes (a scalar's Jacobian): no intermediate may have more.
        Assert.Equal(64, (Autodiff.jacobian Reduction.sum x).Tensor.Rank)
        let runs = ref 0
        let h = Value.constant (Tensor.zeros (Array.create 33 1))
        let e = Assert.Throws<ShapeException>(fun () -> Autodiff.hessian (fun v -> runs.Value <- runs.Value + 1; Reduction.sum v) h |> ignore)
        Assert.Contains("66 axes", e.Message)
        Assert.Equal(0, runs.Value)

    [<Fact>]
    let ``broadcasting follows NumPy`` () =
        Assert.Equal<int[]>([| 2; 3; 4 |], Shape.broadcast [| 3; 1 |] [| 2; 1; 4 |])
        Assert.Equal<int[]>([| 0; 3 |], Shape.broadcast [| 1; 3 |] [| 0; 1 |])
        let e = Assert.Throws<ShapeException>(fun () -> Shape.broadcast [| 2; 3 |] [| 4; 3 |] |> ignore)
        Assert.Contains("sizes 2 and 4", e.Message)

    [<Fact>]
    let ``element counts that overflow are detected, not wrapped`` () =
        let e = Assert.Throws<ShapeException>(fun () -> Shape.numel [| 1 <<< 20; 1 <<< 20 |] |> ignore)
        Assert.Contains("more elements", e.Message)

    [<Fact>]
    let ``axes are normalised and checked`` () =
        Assert.Equal<int[]>([| 2; 0 |], Shape.normaliseAxes 3 [| -1; 0 |])
        Assert.Throws<ShapeException>(fun () -> Shape.normaliseAxes 3 [| 3 |] |> ignore) |> ignore
        Assert.Throws<ShapeException>(fun () -> Shape.normaliseAxes 3 [| 1; -2 |] |> ignore) |> ignore
