namespace Functional.Tests

open System
open Xunit
open Functional
open Functional.Core

/// Every rejection names what is wrong; everything NumPy and torch accept is accepted.
module EinsumSpecTests =

    let rejects (equation: string) (shapes: int list list) =
        let ts = shapes |> List.map (fun s -> Tensor.zeros (Array.ofList s)) |> Array.ofList
        Assert.Throws<EinsumException>(fun () -> Einsum.contract equation ts |> ignore)

    let contains (parts: string list) (e: exn) = for p in parts do Assert.Contains(p, e.Message)

    [<Fact>]
    let ``an invalid character is named with its position`` () =
        let e = rejects "ij,j1->i" [ [ 2; 2 ]; [ 2; 2 ] ]
        contains [ "'1'"; "position 4"; "operand 1" ] e
        Assert.Equal(Nullable '1', e.Label)
        Assert.Equal(Nullable 4, e.Position)
        Assert.Equal(Nullable 1, e.Operand)

    [<Fact>]
    let ``more than 64 operands are refused before any planning, naming the first one past the limit`` () =
        let e = Assert.Throws<EinsumException>(fun () -> Einsum.parse (String.Join(",", Array.create 65 "ab") + "->") |> ignore)
        contains [ "65 operands"; "at most 64"; "position 192" ] e
        Assert.Equal(Nullable 64, e.Operand)
        Assert.Equal(64, (Einsum.parse (String.Join(",", Array.create 64 "ab") + "->")).Inputs.Length)

    [<Fact>]
    let ``a stray dot is rejected`` () =
        let e = rejects "i.j->ij" [ [ 2; 2 ] ]
        contains [ "Stray '.'"; "position 1" ] e
        contains [ "Stray '.'" ] (rejects "i..->i" [ [ 2; 2 ] ])

    [<Fact>]
    let ``two ellipses in one operand are rejected`` () =
        let e = rejects "...i...->i" [ [ 2; 2 ] ]
        contains [ "second ellipsis"; "position 4"; "operand 0" ] e

    [<Fact>]
    let ``an arrow twice is rejected`` () =
        let e = rejects "ij->j->i" [ [ 2; 2 ] ]
        contains [ "'->' appears twice"; "position 5" ] e

    [<Fact>]
    let ``an output label that no input has is rejected`` () =
        let e = rejects "ij->ik" [ [ 2; 2 ] ]
        contains [ "'k'"; "does not occur"; "position 5" ] e
        Assert.Equal(Nullable 'k', e.Label)
        Assert.Equal(Nullable -1, e.Operand)

    [<Fact>]
    let ``an output label repeated in a user's equation is rejected`` () =
        let e = rejects "ij->ii" [ [ 2; 2 ] ]
        contains [ "'i'"; "repeated"; "position 5" ] e

    [<Fact>]
    let ``too many or too few operands are rejected with both counts`` () =
        contains [ "2 operands"; "3 tensors" ] (rejects "ij,jk->ik" [ [ 2; 2 ]; [ 2; 2 ]; [ 2; 2 ] ])
        contains [ "2 operands"; "1 tensor " ] (rejects "ij,jk->ik" [ [ 2; 2 ] ])

    [<Fact>]
    let ``subscripts that do not match the rank are rejected with the shape`` () =
        let e = rejects "ij,jk->ik" [ [ 2; 2 ]; [ 2; 2; 2 ] ]
        contains [ "Operand 1"; "2 subscripts"; "rank 3"; "[2, 2, 2]"; "position 3" ] e
        contains [ "Operand 0"; "rank 1" ] (rejects "ij...->i" [ [ 2 ] ])

    [<Fact>]
    let ``label sizes that disagree between operands are rejected with both sizes`` () =
        let e = rejects "ij,jk->ik" [ [ 2; 3 ]; [ 4; 5 ] ]
        contains [ "Label 'j'"; "size 3 in operand 0"; "size 4 in operand 1"; "position 3" ] e
        Assert.Equal(Nullable 'j', e.Label)

    [<Fact>]
    let ``label sizes that disagree within one operand are rejected`` () =
        let e = rejects "ii->i" [ [ 2; 3 ] ]
        contains [ "Label 'i'"; "repeated in operand 0"; "sizes 2"; "and 3" ] e

    [<Fact>]
    let ``ellipsis dimensions that do not broadcast are rejected`` () =
        let e = rejects "...i,...i->...i" [ [ 2; 3 ]; [ 4; 3 ] ]
        contains [ "Ellipsis dimension 0"; "size 2"; "size 4" ] e

    [<Fact>]
    let ``an output with a comma is rejected`` () =
        contains [ "cannot contain ','" ] (rejects "ij->i,j" [ [ 2; 2 ] ])

    [<Fact>]
    let ``what NumPy and torch accept is accepted`` () =
        let r = Einsum.contract " i j , j k -> i k " [| Tensor.ones [| 2; 3 |]; Tensor.ones [| 3; 4 |] |]
        Assert.Equal<int[]>([| 2; 4 |], r.Shape)
        Assert.Equal(3.0, r.[[| 1; 1 |]])
        // ij->... : the output ellipsis covers no dimensions.
        Assert.Equal(6.0, Tensor.item (Einsum.contract "ij->..." [| Tensor.ones [| 2; 3 |] |]))
        // size-1 broadcasting of a label
        let b = Einsum.contract "ij,ij->ij" [| Tensor.ones [| 1; 3 |]; Tensor.ones [| 2; 3 |] |]
        Assert.Equal<int[]>([| 2; 3 |], b.Shape)
        // zero-size dimensions
        let z = Einsum.contract "ij,jk->ik" [| Tensor.ones [| 2; 0 |]; Tensor.ones [| 0; 4 |] |]
        Assert.Equal(Tensor.zeros [| 2; 4 |], z)
        // '->' on a scalar
        Assert.Equal(5.0, Tensor.item (Einsum.contract "->" [| Tensor.scalar 5.0 |]))
        Assert.Equal(10.0, Tensor.item (Einsum.contract ",->" [| Tensor.scalar 5.0; Tensor.scalar 2.0 |]))
        // implicit output: labels that appear once, sorted (uppercase before lowercase, as NumPy)
        Assert.Equal("ba,Bb->Ba", EinsumSpec.normalised (Einsum.parse "ba,Bb"))
        Assert.Equal("ii->", EinsumSpec.normalised (Einsum.parse "ii"))
        Assert.Equal("...ij,...jk->...ik", EinsumSpec.normalised (Einsum.parse "...ij,...jk->...ik"))
        Assert.Equal("...ij,...jk->...ik", EinsumSpec.normalised (Einsum.parse "...ij,...jk"))
