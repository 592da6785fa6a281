namespace Functional.Core

open System

/// Renders derivations in the seed's notation, as plain text and as LaTeX.
[<RequireQualifiedAccess>]
module internal Explain =

    /// Operand names: A, B → C for two operands (the seed's), A, B, C, … → Y beyond.
    // Letters without L (the loss in ∂L/∂…) and Y (the output's name from three operands); numbered from 25 operands on.
    let private letters = "ABCDEFGHIJKMNOPQRSTUVWXZ"
    let operandName (n: int) (k: int) = if n <= letters.Length then string letters.[k] else sprintf "X%d" k
    let outputName (n: int) = if n <= 2 then "C" else "Y"

    let private labelText (l: int) = if l = Contraction.ellipsisBase then "..." else Contraction.labelName l
    let private labelTex (l: int) = if l = Contraction.ellipsisBase then @"\ldots " else Contraction.labelName l

    let term (name: string) (labels: int[]) =
        if labels.Length = 0 then name else name + "[" + String.Join(",", labels |> Array.map labelText) + "]"

    let termTex (name: string) (labels: int[]) =
        if labels.Length = 0 then name else name + "_{" + String.Join("", labels |> Array.map labelTex) + "}"

    let private summed (inputs: int[][]) (output: int[]) =
        Array.concat inputs |> Array.distinct |> Array.filter (fun l -> not (Array.contains l output))

    /// The forward definition, e.g. C[i,k] = Σ_j A[i,j] · B[j,k].
    let forward (c: Contraction) =
        let n = c.Inputs.Length
        let s = summed c.Inputs c.Output
        let sigma = if s.Length = 0 then "" else "Σ_" + String.Join(",", s |> Array.map labelText) + " "
        term (outputName n) c.Output + " = " + sigma + String.Join(" · ", c.Inputs |> Array.mapi (fun k ls -> term (operandName n k) ls))

    /// The gradient formula, e.g. ∂L/∂A[i,j] = Σ_k ∂L/∂C[i,k] · B[j,k].
    let gradientFormula (c: Contraction) (d: OperandDerivation) =
        let n = c.Inputs.Length
        let g = d.Gradient
        let others = [| 0 .. n - 1 |] |> Array.filter ((<>) d.Operand)
        let factors =
            Array.append [| "∂L/∂" + term (outputName n) g.Inputs.[0] |] (others |> Array.mapi (fun i k -> term (operandName n k) g.Inputs.[i + 1]))
        let s = summed g.Inputs g.Output
        let sigma = if s.Length = 0 then "" else "Σ_" + String.Join(",", s |> Array.map labelText) + " "
        "∂L/∂" + term (operandName n d.Operand) g.Output + " = " + sigma + String.Join(" · ", factors)

    let gradientFormulaTex (c: Contraction) (d: OperandDerivation) =
        let n = c.Inputs.Length
        let g = d.Gradient
        let others = [| 0 .. n - 1 |] |> Array.filter ((<>) d.Operand)
        let partial (t: string) = @"\frac{\partial L}{\partial " + t + "}"
        let factors =
            Array.append [| partial (termTex (outputName n) g.Inputs.[0]) |] (others |> Array.mapi (fun i k -> termTex (operandName n k) g.Inputs.[i + 1]))
        let s = summed g.Inputs g.Output
        let sigma = if s.Length = 0 then "" else @"\sum_{" + String.Join(",", s |> Array.map labelTex) + "} "
        partial (termTex (operandName n d.Operand) g.Output) + " = " + sigma + String.Join(@" \, ", factors)

    /// The gradient contraction as an einsum string over the original letters.
    let contractionText (g: Contraction) =
        let t (ls: int[]) = String.Join("", ls |> Array.map labelText)
        String.Join(",", g.Inputs |> Array.map t) + "->" + t g.Output

    let private roleLine (ls: LabelClass list) (role: LabelRole) =
        "{" + String.Join(",", ls |> List.filter (fun x -> x.Role = role) |> List.map (fun x -> labelText x.Label)) + "}"

    /// One operand's derivation as text.
    let operandText (c: Contraction) (d: OperandDerivation) =
        let n = c.Inputs.Length
        let name = operandName n d.Operand
        let sets =
            [ yield sprintf "I (in %s and the output only)" name, roleLine d.Labels Free
              yield sprintf "J (in %s and another operand, summed)" name, roleLine d.Labels Contracted
              yield sprintf "K (in the output and others, not %s)" name, roleLine d.Labels Other
              if d.Labels |> List.exists (fun x -> x.Role = Batch) then
                  yield sprintf "batch (in %s, another and the output)" name, roleLine d.Labels Batch
              if d.Labels |> List.exists (fun x -> x.Role = SummedInside) then
                  yield sprintf "summed inside %s only" name, roleLine d.Labels SummedInside ]
        let width = sets |> List.map (fun (t, _) -> t.Length) |> List.max
        let lines =
            [ yield sprintf "Operand %s (%s):" name (String.Join("", c.Inputs.[d.Operand] |> Array.map labelText))
              for (t, v) in sets do yield "  " + t.PadRight(width) + " = " + v
              yield "  " + gradientFormula c d
              yield "  as a contraction: " + contractionText d.Gradient
              for case in d.Cases do yield "  case: " + case ]
        String.Join(Environment.NewLine, lines)
