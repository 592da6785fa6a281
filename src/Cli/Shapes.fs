module Functional.Cli.Shapes

open System
open Functional
open Functional.Core

/// Parses "2x3,3x4" (a scalar operand is "scalar" or empty).
let parse (text: string) : int[][] =
    text.Split(',')
    |> Array.mapi (fun k part ->
        let p = part.Trim()
        if p = "" || p.Equals("scalar", StringComparison.OrdinalIgnoreCase) then [||]
        else
            p.Split('x', 'X', '×')
            |> Array.map (fun d ->
                match Int32.TryParse(d.Trim()) with
                | true, n when n >= 0 -> n
                | _ -> raise (ArgumentException(sprintf "--shapes: operand %d has '%s', which is not a size (expected e.g. 2x3,3x4)" k d))))

/// `parse`, for an equation: one shape per operand.
let forEquation (equation: string) (text: string) : int[][] =
    let shapes = parse text
    let n = (Einsum.parse equation).Inputs.Length
    if shapes.Length <> n then
        raise (ArgumentException(sprintf "--shapes has %s; the equation has %s (a scalar operand: scalar)" (Shape.count (int64 shapes.Length) "shape" "shapes") (Shape.count (int64 n) "operand" "operands")))
    shapes

let format (shapes: int[][]) = shapes |> Array.map (fun s -> if s.Length = 0 then "scalar" else String.Join("x", s)) |> String.concat ","

/// Shapes for an equation when none are given: each letter its own size (2, 3, 4, … in order of appearance, so
/// transposition mistakes cannot hide), each ellipsis two dimensions of sizes 2 and 3. Where distinct sizes would
/// make an operand or the output larger than 100,000 elements, the sizes cycle through 2 to 5 instead, then are all
/// 2; an equation whose operands are still larger than that is refused (give --shapes).
let defaults (equation: string) : int[][] =
    let spec = Einsum.parse equation
    let letters = spec.Inputs |> List.collect (fun t -> t.Subscripts) |> List.choose (function Letter (c, _) -> Some c | _ -> None) |> List.distinct
    let shapesWith (size: int -> int) =
        spec.Inputs
        |> List.map (fun t -> t.Subscripts |> List.collect (function Letter (c, _) -> [ size (List.findIndex ((=) c) letters) ] | Ellipsis _ -> [ 2; 3 ]) |> Array.ofList)
        |> Array.ofList
    let distinct = shapesWith (fun i -> 2 + i)
    let elements (s: int[]) = s |> Array.fold (fun n d -> n * float d) 1.0
    let small (shapes: int[][]) =
        shapes |> Array.forall (fun s -> elements s <= 1e5)
        && elements (Einsum.bind equation shapes).OutputShape <= 1e5
    let largest (shapes: int[][]) = Array.append (shapes |> Array.map elements) [| elements (Einsum.bind equation shapes).OutputShape |] |> Array.max
    let cycled = shapesWith (fun i -> 2 + i % 4)
    let twos = shapesWith (fun _ -> 2)
    if small distinct then distinct
    elif small cycled then cycled
    elif small twos then twos
    else
        raise (ArgumentException(sprintf "%s has %s: with every size 2, an operand or the output would have %.0f elements (more than 100,000 for default shapes); give smaller ones with --shapes" equation (Shape.count (int64 letters.Length) "label" "labels") (largest twos)))
