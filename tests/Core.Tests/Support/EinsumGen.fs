namespace Functional.Tests

open System
open FsCheck
open FsCheck.FSharp
open Functional.Core

/// One subscript of a generated operand: a label (index into the case's labels) or the ellipsis.
type Item =
    | L of int
    | E

type GenOperand =
    { Items: Item list
      /// How many ellipsis dimensions this operand has (right-aligned; ≤ the case's).
      EllRank: int
      /// Labels shown as size 1 here though larger elsewhere (size-1 broadcasting).
      Ones: Set<int>
      /// Ellipsis dimensions (absolute index) shown as size 1 here.
      EllOnes: Set<int> }

/// A random valid einsum: the equation follows from the structure, so shrinking stays valid.
type EinsumCase =
    { Letters: char[]
      Sizes: int[]
      EllSizes: int[]
      Operands: GenOperand list
      Output: Item list option
      Seed: int }
    member c.Equation =
        let term items = items |> List.map (function L i -> string c.Letters.[i] | E -> "...") |> String.concat ""
        let lhs = c.Operands |> List.map (fun o -> term o.Items) |> String.concat ","
        match c.Output with
        | Some o -> lhs + "->" + term o
        | None -> lhs
    member c.Shapes =
        c.Operands
        |> List.map (fun o ->
            o.Items |> List.collect (function
                | L i -> [ if o.Ones.Contains i then 1 else c.Sizes.[i] ]
                | E -> [ for d in c.EllSizes.Length - o.EllRank .. c.EllSizes.Length - 1 -> if o.EllOnes.Contains d then 1 else c.EllSizes.[d] ])
            |> Array.ofList)
        |> Array.ofList
    member c.Tensors = c.Shapes |> Array.mapi (fun k s -> Tensor.random (c.Seed + 7919 * k) s)
    /// Which features this case exercises (for coverage assertions).
    member c.Features =
        [ if c.Operands |> List.exists (fun o -> o.Items |> List.choose (function L i -> Some i | E -> None) |> List.countBy id |> List.exists (fun (_, n) -> n > 1)) then "repeated"
          if c.Operands |> List.exists (fun o -> List.contains E o.Items) then "ellipsis"
          if c.Operands |> List.exists (fun o -> not o.Ones.IsEmpty || not o.EllOnes.IsEmpty) then "size-1 broadcast"
          if c.Output.IsNone then "implicit"
          if c.Shapes |> Array.exists (Array.contains 0) then "zero-size"
          if c.Operands.Length >= 3 then "3+ operands" ]
    override c.ToString() =
        sprintf "%s with shapes %s (seed %d)" c.Equation (c.Shapes |> Array.map Shape.show |> String.concat " ") c.Seed

module EinsumGen =

    let private pool = [| 'a' .. 'z' |] |> Array.append [| 'A' .. 'Z' |]

    let private labelsIn (ops: GenOperand list) = ops |> List.collect (fun o -> o.Items) |> List.choose (function L i -> Some i | E -> None) |> Set.ofList
    let private hasEll (ops: GenOperand list) = ops |> List.exists (fun o -> List.contains E o.Items)

    /// Keeps the explicit output valid after operands change: labels still present, no stray ellipsis rank.
    let private fixOutput (ops: GenOperand list) (out: Item list option) =
        out |> Option.map (fun items ->
            let present = labelsIn ops
            items |> List.filter (function L i -> present.Contains i | E -> true))

    let size = Gen.frequency [ 1, Gen.constant 0; 3, Gen.constant 1; 4, Gen.choose (2, 3); 2, Gen.choose (4, 5) ]

    let case (maxOperands: int) : Gen<EinsumCase> =
        gen {
            let! nLabels = Gen.choose (1, 6)
            let! letters = Gen.shuffle pool |> Gen.map (Array.take nLabels)
            let! sizes = Gen.arrayOfLength nLabels size
            let! useEll = Gen.frequency [ 3, Gen.constant false; 1, Gen.constant true ]
            let! ellRank = if useEll then Gen.choose (0, 2) else Gen.constant 0
            let! ellSizes = Gen.arrayOfLength ellRank (Gen.frequency [ 1, Gen.constant 1; 3, Gen.choose (2, 3); 1, Gen.constant 0 ])
            let! nOps = Gen.choose (1, maxOperands)
            let operand =
                gen {
                    let! rank = Gen.choose (0, 4)
                    let! labels = Gen.listOfLength rank (Gen.choose (0, nLabels - 1))
                    let! withEll = if useEll then Gen.elements [ true; false ] else Gen.constant false
                    let! er = if withEll then Gen.choose (0, ellRank) else Gen.constant 0
                    let! at = Gen.choose (0, labels.Length)
                    let items = (labels |> List.map L) |> List.insertManyAt at (if withEll then [ E ] else [])
                    let! ones =
                        labels |> List.distinct |> List.filter (fun i -> sizes.[i] > 1)
                        |> List.map (fun i -> Gen.frequency [ 9, Gen.constant None; 1, Gen.constant (Some i) ])
                        |> Gen.sequenceToList
                    let! ellOnes =
                        [ for d in ellRank - er .. ellRank - 1 do if ellSizes.[d] > 1 then yield d ]
                        |> List.map (fun d -> Gen.frequency [ 4, Gen.constant None; 1, Gen.constant (Some d) ])
                        |> Gen.sequenceToList
                    return { Items = items; EllRank = er; Ones = ones |> List.choose id |> Set.ofList; EllOnes = ellOnes |> List.choose id |> Set.ofList }
                }
            let! ops = Gen.listOfLength nOps operand
            let present = labelsIn ops |> Set.toList
            let! implicitOut = Gen.frequency [ 1, Gen.constant true; 3, Gen.constant false ]
            let! outLabels = Gen.shuffle present |> Gen.bind (fun xs -> Gen.choose (0, xs.Length) |> Gen.map (fun n -> Array.take n xs |> List.ofArray))
            let! ellInOut = Gen.frequency [ 5, Gen.constant true; 1, Gen.constant false ]
            let! ellAt = Gen.choose (0, outLabels.Length)
            let output =
                if implicitOut then None
                else
                    let items = outLabels |> List.map L
                    Some(if hasEll ops && ellInOut then List.insertAt ellAt E items else items)
            let! seed = Gen.choose (0, 1000000)
            return { Letters = letters; Sizes = sizes; EllSizes = ellSizes; Operands = ops; Output = output; Seed = seed }
        }

    /// Smaller cases: fewer operands, fewer subscripts, smaller sizes; every one still valid.
    let shrink (c: EinsumCase) : seq<EinsumCase> =
        seq {
            if c.Operands.Length > 1 then
                for k in 0 .. c.Operands.Length - 1 do
                    let ops = List.removeAt k c.Operands
                    yield { c with Operands = ops; Output = fixOutput ops c.Output }
            for k in 0 .. c.Operands.Length - 1 do
                let o = c.Operands.[k]
                for j in 0 .. o.Items.Length - 1 do
                    let o' = { o with Items = List.removeAt j o.Items; EllRank = (if o.Items.[j] = E then 0 else o.EllRank) }
                    let ops = List.updateAt k o' c.Operands
                    yield { c with Operands = ops; Output = fixOutput ops c.Output }
            for i in 0 .. c.Sizes.Length - 1 do
                if c.Sizes.[i] > 1 then
                    yield { c with Sizes = Array.updateAt i 1 c.Sizes; Operands = c.Operands |> List.map (fun o -> { o with Ones = o.Ones.Remove i }) }
            match c.Output with
            | Some o when o.Length > 0 -> yield { c with Output = Some(List.tail o) }
            | _ -> ()
        }

    let arb maxOperands = Arb.fromGenShrink (case maxOperands, shrink)
