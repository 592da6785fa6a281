namespace Functional.Tests

open System
open Xunit
open Functional.Core
open Functional.Testing
open Functional.CrossCheck

/// Einsum forward and derived gradients against TorchSharp einsum + autograd, in float64.
module EinsumTorchTests =

    let tolerance (reference: Tensor) (actual: Tensor) = Tensor.allClose 1e-10 1e-12 actual reference

    let assertClose (what: string) (c: EinsumCase) (expected: Tensor) (actual: Tensor) =
        if expected.Shape <> actual.Shape then
            Check.failf "%s: shape %s, TorchSharp %s for %O" what (Shape.show actual.Shape) (Shape.show expected.Shape) c
        if not (tolerance expected actual) then
            Check.failf "%s differs by %g for %O\nours %O\ntorch %O" what (Tensor.maxAbsDiff expected actual) c actual expected

    [<Fact>]
    let ``forward and every operand's gradient equal TorchSharp autograd on 1,000 random equations`` () =
        let seen = Collections.Generic.Dictionary<string, int>()
        Check.forAll "einsum vs TorchSharp" 20261124UL 1000 (EinsumGen.arb 4) (fun c ->
            for f in c.Features do seen.[f] <- (match seen.TryGetValue f with | true, n -> n + 1 | _ -> 1)
            let xs = c.Tensors
            let b = Einsum.bind c.Equation c.Shapes
            let g = Tensor.random (c.Seed + 1) b.OutputShape
            let ours = Einsum.contract c.Equation xs
            let grads = Einsum.gradients c.Equation xs g
            let torch = Torch.einsum c.Equation xs g
            assertClose "forward" c torch.Output ours
            Array.iteri2 (fun k (t: Tensor) (o: Tensor) -> assertClose (sprintf "gradient of operand %d" k) c t o) torch.Gradients grads)
        |> ignore
        // The generator really produced every feature the issue lists.
        for f in [ "repeated label"; "ellipsis"; "size-1 broadcast"; "implicit output"; "zero-size"; "3+ operands" ] do
            let n = match seen.TryGetValue f with | true, n -> n | _ -> 0
            if n < 20 then Check.failf "only %d cases with %s" n f

    [<Fact>]
    let ``reverse mode through Linear.einsum (stepwise for 3+ operands) equals the derived gradients and TorchSharp`` () =
        let mutable multi = 0
        Check.forAll "Linear.einsum autodiff vs derived and TorchSharp" 31UL 400 (EinsumGen.arb 4) (fun c ->
            let xs = c.Tensors
            if xs.Length >= 3 then multi <- multi + 1
            let b = Einsum.bind c.Equation c.Shapes
            let g = Tensor.random (c.Seed + 1) b.OutputShape
            let value, pullback = Autodiff.vjpMany (fun vs -> Linear.einsum c.Equation vs) (xs |> Array.map Value.constant)
            // The forward value is the engine's, bit for bit, whichever path evaluated it.
            let whole = Einsum.contract c.Equation xs
            if value.Tensor.ToArray() <> whole.ToArray() then
                Check.failf "forward differs from Einsum.contract by %g for %O" (Tensor.maxAbsDiff value.Tensor whole) c
            let ours = pullback (Value.constant g) |> Array.map (fun v -> v.Tensor)
            let derived = Einsum.gradients c.Equation xs g
            let torch = Torch.einsum c.Equation xs g
            for k in 0 .. xs.Length - 1 do
                if not (Tensor.allClose 1e-12 1e-12 ours.[k] derived.[k]) then
                    Check.failf "gradient of operand %d differs from the derived contraction by %g for %O" k (Tensor.maxAbsDiff ours.[k] derived.[k]) c
                assertClose (sprintf "autodiff gradient of operand %d" k) c torch.Gradients.[k] ours.[k])
        |> ignore
        Assert.True(multi >= 50, sprintf "only %d cases with three or more operands" multi)

    /// Ours: the gradient of ⟨∇_k, V⟩ with respect to operand m is the second-order contraction.
    let secondOrder (c: EinsumCase) (xs: Tensor[]) (g: Tensor) (k: int) (v: Tensor) =
        let b = Einsum.bind c.Equation c.Shapes
        let sq = xs |> Array.mapi (fun i x -> Tensor.reshape b.SqueezedShapes.[i] x)
        Array.init xs.Length (fun m ->
            if m = k then Tensor.zeros b.InputShapes.[m]
            else
                let h = Derivation.secondOrder b.Contraction k m
                let rest = [| 0 .. xs.Length - 1 |] |> Array.filter (fun i -> i <> k && i <> m) |> Array.map (fun i -> sq.[i])
                let r = Engine.contract h (Array.concat [ [| Tensor.reshape b.SqueezedShapes.[k] v; g |]; rest ])
                Tensor.reshape b.InputShapes.[m] r)

    [<Fact>]
    let ``the gradient of a derived gradient equals TorchSharp's create_graph result`` () =
        Check.forAll "einsum second order vs TorchSharp" 7UL 300 (EinsumGen.arb 4) (fun c ->
            let xs = c.Tensors
            let b = Einsum.bind c.Equation c.Shapes
            let g = Tensor.random (c.Seed + 1) b.OutputShape
            let k = c.Seed % xs.Length
            let v = Tensor.random (c.Seed + 2) xs.[k].Shape
            let ours = secondOrder c xs g k v
            let torch = Torch.einsumSecondOrder c.Equation xs g k v
            Array.iteri2 (fun m (t: Tensor) (o: Tensor) -> assertClose (sprintf "second order d/dX%d of grad X%d" m k) c t o) torch ours)
        |> ignore

    [<Fact>]
    let ``finite differences with step 1 match the gradient (einsum is linear in each operand)`` () =
        Check.forAll "einsum finite differences" 99UL 300 (EinsumGen.arb 3) (fun c ->
            let xs = c.Tensors
            let b = Einsum.bind c.Equation c.Shapes
            let g = Tensor.random (c.Seed + 1) b.OutputShape
            let loss (ys: Tensor[]) = Tensor.dot (Einsum.contract c.Equation ys) g
            let l0 = loss xs
            let grads = Einsum.gradients c.Equation xs g
            for k in 0 .. xs.Length - 1 do
                let data = xs.[k].ToArray()
                for e in 0 .. data.Length - 1 do
                    let bumped = Array.copy data
                    bumped.[e] <- bumped.[e] + 1.0
                    let ys = Array.updateAt k (Tensor.create xs.[k].Shape bumped) xs
                    let fd = loss ys - l0
                    let an = grads.[k].ToArray().[e]
                    let scale = max 1.0 (max (abs an) (abs l0))
                    if abs (fd - an) > 1e-10 * scale then
                        Check.failf "operand %d element %d: finite difference %.17g, gradient %.17g for %O" k e fd an c)
        |> ignore
