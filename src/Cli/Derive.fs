module Functional.Cli.Derive

open System
open Spectre.Console
open Functional.Core

let private names (c: Contraction) = Array.init c.Inputs.Length (Explain.operandName c.Inputs.Length)

/// `functional derive`: index sets, gradient formula and contraction per operand; second order; plan.
/// Shapes that fit the equation, for a suggestion: each letter a size from 2 up in order of appearance, "..." 2.
let private exampleShapes (c: Contraction) =
    let sizes = Collections.Generic.Dictionary<int, int>()
    c.Inputs
    |> Array.map (fun ls ->
        if ls.Length = 0 then "scalar"
        else
            ls |> Array.map (fun l ->
                if not (sizes.ContainsKey l) then sizes.[l] <- (if l >= Contraction.ellipsisBase then 2 else 2 + sizes.Count)
                string sizes.[l]) |> String.concat "x")
    |> String.concat ","

/// Labels as a reader writes them: letters, and "..." for the dimensions an ellipsis stands for when they form one
/// block in order; otherwise (a plan's intermediate may split or reorder them) each such dimension as "(...k)", k
/// counting the ellipsis's dimensions from 0.
let private term (ls: int[]) =
    let at = ls |> Array.indexed |> Array.filter (fun (_, l) -> l >= Contraction.ellipsisBase)
    let block = at |> Array.pairwise |> Array.forall (fun ((i, l), (j, m)) -> j = i + 1 && m = l + 1)
    let sb = Text.StringBuilder()
    ls |> Array.iteri (fun i l ->
        if l < Contraction.ellipsisBase then sb.Append(Contraction.labelName l) |> ignore
        elif not block then sb.Append(sprintf "(...%d)" (l - Contraction.ellipsisBase)) |> ignore
        elif i = 0 || ls.[i - 1] < Contraction.ellipsisBase then sb.Append("...") |> ignore)
    sb.ToString()

/// `functional derive`: index sets, gradient formula and contraction per operand; second order; plan. Every option
/// is checked before anything is printed.
let run (equation: string) (latex: bool) (order: int) (plan: bool) (shapes: string option) =
    if order < 1 || order > 2 then raise (ArgumentException(sprintf "--order must be 1 or 2, not %d" order))
    let d = Einsum.derive equation
    if plan && shapes.IsNone then raise (ArgumentException(sprintf "--plan needs --shapes, e.g. --shapes %s" (exampleShapes d.Contraction)))
    if shapes.IsSome && not plan then raise (ArgumentException("--shapes is used only with --plan (derive's derivation does not depend on shapes)"))
    let planned =
        match shapes with
        | Some s -> let sh = Shapes.forEquation equation s in Some (sh, Einsum.plan equation sh)
        | None -> None
    if latex then Console.WriteLine(Einsum.explainLatex equation)
    else Console.WriteLine(Einsum.explain equation)
    if order = 2 then
        let c = d.Contraction
        let n = names c
        Console.WriteLine("Second order: the einsum's output is linear in each operand (its second derivative in one operand")
        Console.WriteLine("is 0). With the output gradient held fixed, each mixed block ∇_M ⟨∂L/∂K, Δ⟩ for a direction Δ")
        Console.WriteLine("shaped as K (a result shaped as M) is again a contraction (inputs: Δ, the output gradient, then the")
        Console.WriteLine("remaining operands); L's own second derivative adds the output gradient's own derivative, Jᵀ·∇²L·J:")
        if c.Inputs.Length < 2 then Console.WriteLine("  (one operand: with the output gradient fixed every second-order block is zero)")
        for k in 0 .. c.Inputs.Length - 1 do
            for m in 0 .. c.Inputs.Length - 1 do
                if m <> k then
                    let h = Derivation.secondOrder c k m
                    Console.WriteLine(sprintf "  ∇_%s ⟨∂L/∂%s, Δ⟩  =  %s" n.[m] n.[k] (Explain.contractionText h))
    match planned with
    | Some (sh, p) ->
        let table = Table().AddColumns("step", "contracts", "flops", "result elements")
        p.Steps |> List.iteri (fun i st ->
            table.AddRow(string (i + 1), Markup.Escape(sprintf "%s,%s->%s" (term st.LeftLabels) (term st.RightLabels) (term st.Result)), sprintf "%.0f" st.Flops, sprintf "%.0f" st.Size) |> ignore)
        AnsiConsole.WriteLine(sprintf "Plan for shapes %s (%A): %.0f flops in all, largest intermediate %.0f elements" (Shapes.format sh) p.Method p.Flops p.LargestIntermediate)
        if p.Steps.IsEmpty then AnsiConsole.WriteLine("  (no pairwise step: one operand)") else AnsiConsole.Write(table)
        // Size-1 broadcasting depends on shapes, so the shape-free derivation above cannot name it.
        let b = Einsum.bind equation sh
        let n = names d.Contraction
        for k in 0 .. b.InputShapes.Length - 1 do
            let dropped = b.InputShapes.[k].Length - b.SqueezedShapes.[k].Length
            if dropped > 0 then
                AnsiConsole.WriteLine(
                    sprintf "%s (%s) has %d size-1 dimension%s broadcast against larger sizes: it enters the plan as %s, and its gradient is summed back over %s to %s."
                        n.[k] (Shapes.format [| b.InputShapes.[k] |]) dropped (if dropped = 1 then "" else "s")
                        (Shapes.format [| b.SqueezedShapes.[k] |]) (if dropped = 1 then "that dimension" else "those dimensions") (Shapes.format [| b.InputShapes.[k] |]))
    | _ -> ()
    0
