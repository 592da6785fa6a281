namespace Functional.Core

open System

/// Where a label occurs, seen from one operand (the seed's index sets and the cases beyond them).
type LabelRole =
    /// I: in this operand and the output only.
    | Free
    /// J: in this operand and another operand, summed away.
    | Contracted
    /// In this operand, another operand and the output: carried through unchanged.
    | Batch
    /// Only in this operand, summed away: the gradient is constant along it (a broadcast).
    | SummedInside
    /// K: in the output and other operands, not here: summed in the gradient.
    | Other
    /// Only in the output (an extended form's broadcast): summed in the gradient.
    | OutputOnly
    /// Only in other operands, not the output: summed inside them, in the gradient too.
    | Elsewhere

type LabelClass =
    { Label: int
      Role: LabelRole
      /// Occurrences in this operand (more than 1: a diagonal).
      Here: int
      /// Occurrences in the output (more than 1: a diagonal write, extended forms only).
      InOutput: int }

/// The derivation of one operand's gradient.
type OperandDerivation =
    { Operand: int
      Labels: LabelClass list
      /// Inputs: the output gradient first, then the other operands in order; output: this operand's labels.
      Gradient: Contraction
      /// Which cases beyond the plain I/J/K rule applied, in words.
      Cases: string list }

/// The index-set gradient rule as pure functions over contractions.
[<RequireQualifiedAccess>]
module internal Derivation =

    let private count (l: int) (ls: int[]) = ls |> Array.sumBy (fun x -> if x = l then 1 else 0)

    /// Classifies every label of the contraction as seen from operand k.
    let classify (c: Contraction) (k: int) : LabelClass list =
        let here = c.Inputs.[k]
        let others = c.Inputs |> Array.removeAt k
        let inOthers l = others |> Array.exists (Array.contains l)
        let all = Array.concat (Array.append c.Inputs [| c.Output |]) |> Array.distinct
        [ for l in all ->
            let h = count l here
            let o = count l c.Output
            let role =
                match h > 0, inOthers l, o > 0 with
                | true, false, true -> Free
                | true, true, false -> Contracted
                | true, true, true -> Batch
                | true, false, false -> SummedInside
                | false, true, true -> Other
                | false, false, true -> OutputOnly
                | false, true, false -> Elsewhere
                | false, false, false -> Elsewhere
            { Label = l; Role = role; Here = h; InOutput = o } ]

    /// A label as a reader writes it: a letter, or "..." for the ellipsis of a derivation (one pseudo-label).
    let private readable (l: int) = if l = Contraction.ellipsisBase then "..." else Contraction.labelName l

    let private names (ls: LabelClass list) role = ls |> List.filter (fun x -> x.Role = role) |> List.map (fun x -> readable x.Label)

    /// The cases beyond the seed's two-operand I/J/K rule that apply to operand k.
    let cases (c: Contraction) (ls: LabelClass list) =
        let set (xs: string list) = "{" + String.Join(",", List.toArray xs) + "}"
        [ if c.Inputs.Length = 1 then
              yield "single operand: the gradient is the output gradient moved back (permuted, summed or broadcast)"
          if c.Inputs.Length > 2 then
              yield sprintf "%d operands: the gradient contracts the output gradient with all %d other operands" c.Inputs.Length (c.Inputs.Length - 1)
          match names ls Batch with
          | [] -> ()
          | b -> yield sprintf "batch labels %s: present in this operand, another and the output; carried through unchanged" (set b)
          // A label repeated here and summed is a diagonal read: its gradient is written onto the diagonal (the next
          // case), not broadcast.
          match ls |> List.filter (fun x -> x.Role = SummedInside && x.Here = 1) |> List.map (fun x -> readable x.Label) with
          | [] -> ()
          | s -> yield sprintf "labels %s summed inside this operand only: the gradient does not depend on them and is broadcast along them" (set s)
          match ls |> List.filter (fun x -> x.Here > 1) |> List.map (fun x -> readable x.Label) with
          | [] -> ()
          | r -> yield sprintf "labels %s repeated in this operand (a diagonal): the gradient is written onto that diagonal, zero elsewhere" (set r)
          match ls |> List.filter (fun x -> x.InOutput > 1) |> List.map (fun x -> readable x.Label) with
          | [] -> ()
          | r -> yield sprintf "output labels %s repeated (a diagonal write): the gradient reads the output gradient's diagonal" (set r)
          match names ls OutputOnly with
          | [] -> ()
          | s -> yield sprintf "labels %s only in the output (a broadcast): the gradient sums over them" (set s)
          match names ls Elsewhere with
          | [] -> ()
          | s -> yield sprintf "labels %s summed inside other operands: summed there in the gradient too" (set s)
          if ls |> List.exists (fun x -> x.Label >= Contraction.ellipsisBase && x.Here > 0) then
              yield "'...' dimensions act as one more label; where an operand has fewer of them or size 1, the gradient is summed back to its shape (broadcasting)" ]

    /// The derivation for operand k.
    let deriveOperand (c: Contraction) (k: int) : OperandDerivation =
        let ls = classify c k
        { Operand = k; Labels = ls; Gradient = Contraction.gradient c k; Cases = cases c ls }

    /// The derivation for every operand.
    let derive (c: Contraction) = Array.init c.Inputs.Length (deriveOperand c)

    /// Second order: the derivative of operand k's gradient with respect to operand m (m ≠ k), as a
    /// contraction of the output gradient with the operands other than k and m (einsum is multilinear).
    let secondOrder (c: Contraction) (k: int) (m: int) : Contraction =
        if m = k then invalidArg "m" "The second derivative of an einsum with respect to one operand twice is zero (it is linear in each operand)."
        let g = Contraction.gradient c k
        // In g, operand m sits at 1 + its index among the operands other than k.
        let mInG = 1 + (if m < k then m else m - 1)
        Contraction.gradient g mInG
