namespace Functional.Tests

open Xunit
open Functional.Core

/// The seed's own cases and the index-set classification.
module EinsumDerivationTests =

    let A = Tensor.create [| 2; 3 |] [| 1.0; 2.0; 3.0; 4.0; 5.0; 6.0 |]
    let B = Tensor.create [| 3; 2 |] [| 0.5; -1.0; 2.0; 0.25; -3.0; 1.5 |]
    let G = Tensor.create [| 2; 2 |] [| 1.0; -2.0; 0.5; 3.0 |]

    let matmul (x: Tensor) (y: Tensor) = Einsum.contract "ij,jk->ik" [| x; y |]

    [<Fact>]
    let ``seed: matmul gradient of A is dL/dC times B transposed`` () =
        let grads = Einsum.gradients "ij,jk->ik" [| A; B |] G
        Assert.Equal(matmul G (Tensor.transpose B), grads.[0])
        // G·Bᵀ worked by hand, so that the check does not rest on the engine's own products.
        Assert.Equal(Tensor.create [| 2; 3 |] [| 2.5; 1.5; -6.0; -2.75; 1.75; 3.0 |], grads.[0])

    [<Fact>]
    let ``seed: matmul gradient of B is A transposed times dL/dC`` () =
        let grads = Einsum.gradients "ij,jk->ik" [| A; B |] G
        Assert.Equal(matmul (Tensor.transpose A) G, grads.[1])
        Assert.Equal(Tensor.create [| 3; 2 |] [| 3.0; 10.0; 4.5; 11.0; 6.0; 12.0 |], grads.[1])

    [<Fact>]
    let ``seed: the general I, J, K case with multi-letter index strings`` () =
        // I = {p,q}, J = {r,s}, K = {t}: dL/dA[pq,rs] = Σ_t dL/dC[pq,t] · B[rs,t], the matmul rule on grouped indices.
        let a = Tensor.random 1 [| 2; 3; 2; 2 |]
        let b = Tensor.random 2 [| 2; 2; 4 |]
        let g = Tensor.random 3 [| 2; 3; 4 |]
        let grads = Einsum.gradients "pqrs,rst->pqt" [| a; b |] g
        let flatA = Tensor.reshape [| 6; 4 |] a
        let flatB = Tensor.reshape [| 4; 4 |] b
        let flatG = Tensor.reshape [| 6; 4 |] g
        Assert.True(Tensor.allClose 1e-14 1e-14 (Tensor.reshape [| 6; 4 |] grads.[0]) (matmul flatG (Tensor.transpose flatB)))
        Assert.True(Tensor.allClose 1e-14 1e-14 (Tensor.reshape [| 4; 4 |] grads.[1]) (matmul (Tensor.transpose flatA) flatG))
        let d = Einsum.derive "pqrs,rst->pqt"
        let roles = d.Operands.[0].Labels |> List.map (fun l -> Contraction.labelName l.Label, l.Role) |> Map.ofList
        Assert.Equal(Free, roles.["p"])
        Assert.Equal(Free, roles.["q"])
        Assert.Equal(Contracted, roles.["r"])
        Assert.Equal(Contracted, roles.["s"])
        Assert.Equal(Other, roles.["t"])
        Assert.Equal("pqt,rst->pqrs", Explain.contractionText d.Operands.[0].Gradient)

    [<Fact>]
    let ``the explanation uses the seed's notation`` () =
        let text = Einsum.explain "ij,jk->ik"
        Assert.Contains("C[i,k] = Σ_j A[i,j] · B[j,k]", text)
        Assert.Contains("∂L/∂A[i,j] = Σ_k ∂L/∂C[i,k] · B[j,k]", text)
        Assert.Contains("∂L/∂B[j,k] = Σ_i ∂L/∂C[i,k] · A[i,j]", text)
        Assert.Contains("as a contraction: ik,jk->ij", text)
        Assert.Contains("I (in A and the output only)         = {i}", text)
        Assert.Contains("J (in A and another operand, summed) = {j}", text)
        let tex = Einsum.explainLatex "ij,jk->ik"
        Assert.Contains(@"\frac{\partial L}{\partial A_{ij}} = \sum_{k} \frac{\partial L}{\partial C_{ik}} \, B_{jk}", tex)

    [<Fact>]
    let ``special cases are named: batch, summed inside, diagonal, ellipsis`` () =
        let bmm = Einsum.explain "bij,bjk->bik"
        Assert.Contains("batch labels {b}", bmm)
        let inside = Einsum.explain "ij,k->ik"
        Assert.Contains("labels {j} summed inside this operand only", inside)
        let trace = Einsum.explain "ii->"
        Assert.Contains("repeated in this operand (a diagonal)", trace)
        Assert.Contains("as a contraction: ->ii", trace)
        let ell = Einsum.explain "...ij,...jk->...ik"
        Assert.Contains("'...' dimensions", ell)
        Assert.Contains("∂L/∂A[...,i,j] = Σ_k ∂L/∂C[...,i,k] · B[...,j,k]", ell)

    [<Fact>]
    let ``the derivation is closed: a gradient's gradient is again a contraction`` () =
        let c = (Einsum.bind "ii,ij->j" [| [| 3; 3 |]; [| 3; 4 |] |]).Contraction
        let g = Contraction.gradient c 0
        Assert.Equal<int[]>([| 8; 8 |], g.Output) // a diagonal write
        let gg = Contraction.gradient g 0
        Assert.Equal<int[]>([| 8; 8 |], gg.Inputs.[0]) // reads the diagonal back
        Assert.Equal<int[]>(c.Output, gg.Output)
