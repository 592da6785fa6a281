module Functional.Cli.Derive

open System
open Spectre.Console
open Functional.Core

let private names (c: Contraction) = Array.init c.Inputs.Length (Explain.operandName c.Inputs.Length)

/// `functional derive`: index sets, gradient formula and contraction per operand; second order; plan.
let run (equation: string) (latex: bool) (order: int) (plan: bool) (shapes: string option) =
    if order < 1 || order > 2 then raise (ArgumentException(sprintf "--order must be 1 or 2, not %d" order))
    if plan && shapes.IsNone then raise (ArgumentException("--plan needs --shapes, e.g. --shapes 2x3,3x4,4"))
    let d = Einsum.derive equation
    if latex then Console.WriteLine(Einsum.explainLatex equation)
    else Console.WriteLine(Einsum.explain equation)
    if order = 2 then
        let c = d.Contraction
        let n = names c
        Console.WriteLine("Second order: einsum is linear in each operand, so ∂²L/∂X∂X = 0 for one operand, and each")
        Console.WriteLine("mixed block, applied to a direction V shaped as the first operand, is again a contraction")
        Console.WriteLine("(inputs: V, the output gradient, then the remaining operands):")
        if c.Inputs.Length < 2 then Console.WriteLine("  (one operand: every second-order block is zero)")
        for k in 0 .. c.Inputs.Length - 1 do
            for m in 0 .. c.Inputs.Length - 1 do
                if m <> k then
                    let h = Derivation.secondOrder c k m
                    Console.WriteLine(sprintf "  ∂/∂%s (∂L/∂%s)·V  =  %s" n.[m] n.[k] (Explain.contractionText h))
    match shapes with
    | Some s when plan ->
        let sh = Shapes.parse s
        let p = Einsum.plan equation sh
        let table = Table().AddColumns("step", "contracts", "flops", "result elements")
        p.Steps |> List.iteri (fun i st ->
            let term (ls: int[]) = String.Join("", ls |> Array.map Contraction.labelName)
            table.AddRow(string (i + 1), Markup.Escape(sprintf "%s,%s->%s" (term st.LeftLabels) (term st.RightLabels) (term st.Result)), sprintf "%.0f" st.Flops, sprintf "%.0f" st.Size) |> ignore)
        AnsiConsole.WriteLine(sprintf "Plan for shapes %s (%A): %.0f flops in all, largest intermediate %.0f elements" (Shapes.format sh) p.Method p.Flops p.LargestIntermediate)
        if p.Steps.IsEmpty then AnsiConsole.WriteLine("  (no pairwise step: one operand)") else AnsiConsole.Write(table)
    | _ -> ()
    0
