namespace Functional.Core

open System
open Functional

/// One subscript of an einsum term: a letter label or an ellipsis, with its position in the equation.
type Subscript =
    | Letter of label: char * position: int
    | Ellipsis of position: int

/// The subscripts of one operand (or of the output) and where the term starts in the equation.
type Term = { Subscripts: Subscript list; Start: int; Text: string }

/// A parsed, validated einsum equation (shapes not yet known).
type EinsumSpec =
    { Equation: string
      Inputs: Term list
      Output: Term
      /// True when the equation had '->'; otherwise the output was inferred (NumPy's implicit mode).
      ExplicitOutput: bool }

/// Parsing einsum equations with NumPy/torch semantics.
[<RequireQualifiedAccess>]
module internal EinsumSpec =

    /// A character as a message shows it: quoted, or by its code (U+000A) when it is a control or other invisible
    /// character, so that a line break in an equation neither cuts a message short nor overwrites it.
    let internal shown (c: char) =
        if Char.IsControl c || Char.IsSurrogate c || (Char.IsWhiteSpace c && c <> ' ') then sprintf "U+%04X" (int c) else sprintf "'%c'" c

    /// The equation as a message quotes it: invisible characters by their codes, in angle brackets.
    let private quoted (eq: string) =
        eq |> String.collect (fun c -> let s = shown c in if s.StartsWith("'", StringComparison.Ordinal) then string c else "<" + s + ">")

    let internal fail (eq: string) (msg: string) (label: char option) (operand: int option) (position: int option) =
        let where =
            match position with
            | Some p -> sprintf " (at position %d of \"%s\")" p (quoted eq)
            | None -> sprintf " (in \"%s\")" (quoted eq)
        raise (EinsumException(msg + where, eq, Option.toNullable label, Option.toNullable operand, Option.toNullable position))

    /// The most operands an equation may have (NumPy's limit too).
    let maxOperands = 64

    let internal operandName (i: int) = if i < 0 then "the output" else sprintf "operand %d" i

    let private labels (t: Term) = t.Subscripts |> List.choose (function Letter (c, _) -> Some c | Ellipsis _ -> None)
    let private hasEllipsis (t: Term) = t.Subscripts |> List.exists (function Ellipsis _ -> true | _ -> false)

    /// Splits one term (an operand or the output) into subscripts; `operand` is -1 for the output.
    let private parseTerm (eq: string) (operand: int) (start: int) (text: string) =
        let subs = ResizeArray()
        let mutable i = 0
        let mutable ellipsisAt = -1
        while i < text.Length do
            let c = text.[i]
            let pos = start + i
            if Char.IsAsciiLetter c then
                subs.Add(Letter(c, pos))
                i <- i + 1
            elif c = ' ' then i <- i + 1
            elif c = '.' then
                if i + 2 < text.Length && text.[i + 1] = '.' && text.[i + 2] = '.' then
                    if ellipsisAt >= 0 then
                        fail eq (sprintf "%s has a second ellipsis; each operand may have at most one '...' (the first is at position %d)" (operandName operand) ellipsisAt) None (Some operand) (Some pos)
                    ellipsisAt <- pos
                    subs.Add(Ellipsis pos)
                    i <- i + 3
                else
                    fail eq (sprintf "Stray '.' in %s: a '.' must be part of an ellipsis '...'" (operandName operand)) None (Some operand) (Some pos)
            else
                fail eq (sprintf "Invalid character %s in %s: labels are the letters a-z and A-Z" (shown c) (operandName operand)) (Some c) (Some operand) (Some pos)
        { Subscripts = List.ofSeq subs; Start = start; Text = text }

    /// Parses and validates an equation. Raises EinsumException naming the fault.
    let parse (equation: string) : EinsumSpec =
        if isNull equation then raise (ArgumentNullException("equation"))
        let eq = equation
        let arrow = eq.IndexOf("->", StringComparison.Ordinal)
        if arrow >= 0 && eq.IndexOf("->", arrow + 2, StringComparison.Ordinal) >= 0 then
            let second = eq.IndexOf("->", arrow + 2, StringComparison.Ordinal)
            fail eq "'->' appears twice; an equation has at most one output" None None (Some second)
        // A '-' or '>' that is not part of the one arrow.
        eq |> Seq.iteri (fun i c ->
            if (c = '-' && not (i = arrow)) || (c = '>' && not (i = arrow + 1)) then
                fail eq (sprintf "Invalid character %s: '-' and '>' may only form the arrow '->'" (shown c)) (Some c) None (Some i))
        let lhs = if arrow >= 0 then eq.Substring(0, arrow) else eq
        let parts = lhs.Split(',')
        if parts.Length > maxOperands then
            // Planning and the gradients' contractions grow as the cube and fourth power of the count.
            let at = (parts |> Array.take maxOperands |> Array.sumBy (fun p -> p.Length)) + maxOperands
            fail eq (sprintf "The equation has %d operands; an einsum takes at most %d (as NumPy's)" parts.Length maxOperands) None (Some maxOperands) (Some at)
        let inputs =
            let mutable start = 0
            [ for k in 0 .. parts.Length - 1 do
                  yield parseTerm eq k start parts.[k]
                  start <- start + parts.[k].Length + 1 ]
        // A label repeated within one operand is a diagonal: fine. Count occurrences for implicit mode.
        let anyEllipsis = inputs |> List.exists hasEllipsis
        let output, explicitOut =
            if arrow >= 0 then
                let rhs = eq.Substring(arrow + 2)
                let comma = rhs.IndexOf(',')
                if comma >= 0 then
                    fail eq "The output after '->' cannot contain ','; an einsum has one output" (Some ',') (Some -1) (Some(arrow + 2 + comma))
                let out = parseTerm eq -1 (arrow + 2) rhs
                let seen = Collections.Generic.Dictionary<char, int>()
                for s in out.Subscripts do
                    match s with
                    | Letter (c, p) ->
                        if seen.ContainsKey c then
                            fail eq (sprintf "Output label '%c' is repeated (first at position %d); each output label may appear once" c seen.[c]) (Some c) (Some -1) (Some p)
                        seen.[c] <- p
                        if not (inputs |> List.exists (fun t -> List.contains c (labels t))) then
                            fail eq (sprintf "Output label '%c' does not occur in any operand" c) (Some c) (Some -1) (Some p)
                    | Ellipsis _ -> ()
                out, true
            else
                let counts = inputs |> List.collect labels |> List.countBy id |> Map.ofList
                let once = counts |> Map.toList |> List.filter (fun (_, n) -> n = 1) |> List.map fst |> List.sortBy int
                let subs = [ if anyEllipsis then yield Ellipsis -1
                             yield! once |> List.map (fun c -> Letter(c, -1)) ]
                { Subscripts = subs; Start = eq.Length; Text = (if anyEllipsis then "..." else "") + String(Array.ofList once) }, false
        { Equation = eq; Inputs = inputs; Output = output; ExplicitOutput = explicitOut }

    /// The equation with an explicit output, normalised (no spaces).
    let normalised (spec: EinsumSpec) =
        let term (t: Term) =
            t.Subscripts |> List.map (function Letter (c, _) -> string c | Ellipsis _ -> "...") |> String.concat ""
        (spec.Inputs |> List.map term |> String.concat ",") + "->" + term spec.Output
