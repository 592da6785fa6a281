namespace Functional.Core

open System
open Functional

/// The extended contraction form every einsum, and every derived gradient, is expressed in.
/// Labels are ints (letters 0..51, ellipsis dimensions 52..). Semantics:
///   Out[o] = Σ over all labels not fixed by o of Π_k In_k[labels_k]
/// where an input label repeated is a diagonal read, an output label repeated is a diagonal write
/// (off-diagonal entries are 0) and an output label no input has is a broadcast.
/// That makes the gradient rule closed: the gradient of operand k is the contraction of the
/// output gradient (labels = Output) with the other inputs, written to Inputs.[k].
type Contraction =
    { Inputs: int[][]
      Output: int[]
      /// Size of each label, indexed by label id (-1 where unknown, in symbolic contractions).
      Sizes: int[] }

/// An einsum equation bound to operand shapes.
type BoundEinsum =
    { Spec: EinsumSpec
      Contraction: Contraction
      /// Shapes as given.
      InputShapes: int[][]
      /// Shapes after dropping size-1 dimensions that broadcast against a larger size.
      SqueezedShapes: int[][]
      OutputShape: int[] }

[<RequireQualifiedAccess>]
module Contraction =

    /// Label ids: a-z 0..25, A-Z 26..51, ellipsis dimensions from 52.
    let ellipsisBase = 52
    let labelOf (c: char) = if c >= 'a' && c <= 'z' then int c - int 'a' else 26 + int c - int 'A'
    let letterOf (l: int) = if l < 26 then char (int 'a' + l) else char (int 'A' + l - 26)

    /// Readable name of a label id: a letter, or "…n" for the n-th ellipsis dimension.
    let labelName (l: int) = if l < ellipsisBase then string (letterOf l) else sprintf "…%d" (l - ellipsisBase)

    /// Refuses a contraction record that cannot be evaluated: a null part, a label outside `Sizes`, or (with
    /// `sized`) a used label whose size is unknown or negative. Bound and derived contractions always pass; a
    /// record built by hand is checked where it enters the public API.
    let check (name: string) (sized: bool) (c: Contraction) =
        if isNull (box c) then nullArg name
        if isNull c.Inputs then raise (ArgumentNullException(name, sprintf "%s.Inputs is null." name))
        if isNull c.Output then raise (ArgumentNullException(name, sprintf "%s.Output is null." name))
        if isNull c.Sizes then raise (ArgumentNullException(name, sprintf "%s.Sizes is null." name))
        if c.Inputs.Length = 0 then invalidArg name (sprintf "%s has no inputs; a contraction reads at least one." name)
        // Input k, or the output for k = -1; the messages are formatted only on failure.
        let term (k: int) (ls: int[]) =
            let what () = if k < 0 then sprintf "%s.Output" name else sprintf "%s.Inputs.[%d]" name k
            if isNull ls then raise (ArgumentNullException(name, sprintf "%s is null." (what ())))
            for l in ls do
                if l < 0 || l >= c.Sizes.Length then
                    invalidArg name (sprintf "%s has label %d, but %s.Sizes has %d entries (labels 0..%d)." (what ()) l name c.Sizes.Length (c.Sizes.Length - 1))
                if sized && c.Sizes.[l] < 0 then
                    invalidArg name (sprintf "%s has label %d (%s), whose size %s.Sizes.[%d] = %d is not known." (what ()) l (labelName l) name l c.Sizes.[l])
        for k in 0 .. c.Inputs.Length - 1 do term k c.Inputs.[k]
        term -1 c.Output

    /// Gradient contractions are remembered per contraction value, so that repeated backward passes
    /// reuse one value (and the engine's compiled plan for it).
    let private gradients = Runtime.CompilerServices.ConditionalWeakTable<Contraction, Contraction option[]>()

    /// The contraction that computes the gradient of input k from the output gradient and the other inputs.
    let gradient (c: Contraction) (k: int) : Contraction =
        check "c" false c
        if k < 0 || k >= c.Inputs.Length then invalidArg "k" (sprintf "Operand %d does not exist; the contraction has %d." k c.Inputs.Length)
        let slots =
            match gradients.TryGetValue c with
            | true, slots -> slots
            | _ -> gradients.GetValue(c, fun c -> Array.create c.Inputs.Length None)
        match slots.[k] with
        | Some g -> g
        | None ->
            // Arrays of its own: the record is public, and a change to it must not reach c.
            let g =
                { Inputs = Array.append [| Array.copy c.Output |] (c.Inputs |> Array.removeAt k |> Array.map Array.copy)
                  Output = Array.copy c.Inputs.[k]
                  Sizes = Array.copy c.Sizes }
            // A race only computes the same value twice; either result is correct.
            slots.[k] <- Some g
            g

    /// Output shape of a contraction with known sizes.
    let outputShape (c: Contraction) =
        check "c" true c
        c.Output |> Array.map (fun l -> c.Sizes.[l])

    let show (c: Contraction) =
        let term (ls: int[]) = ls |> Array.map labelName |> String.concat ""
        (c.Inputs |> Array.map term |> String.concat ",") + "->" + term c.Output

    /// Binds a parsed equation to operand shapes, validating ranks and label sizes.
    let bind (spec: EinsumSpec) (shapes: int[][]) : BoundEinsum =
        let eq = spec.Equation
        let fail msg label operand pos = EinsumSpec.fail eq msg label operand pos
        let nIn = List.length spec.Inputs
        if isNull shapes then nullArg "shapes"
        shapes |> Array.iteri (fun k sh ->
            if isNull sh then fail (sprintf "The shape of operand %d is null" k) None (Some k) None
            sh |> Array.iteri (fun d n ->
                if n < 0 then fail (sprintf "Operand %d has a negative size %d at dimension %d (shape %s)" k n d (Shape.show sh)) None (Some k) None))
        if shapes.Length <> nIn then
            fail (sprintf "The equation has %d operand%s but %d tensor%s given" nIn (if nIn = 1 then "" else "s") shapes.Length (if shapes.Length = 1 then " was" else "s were")) None None None
        let inputs = Array.ofList spec.Inputs
        // Ellipsis rank per operand, and the widest.
        let ellRank =
            inputs |> Array.mapi (fun k t ->
                let letters = t.Subscripts |> List.filter (function Letter _ -> true | _ -> false) |> List.length
                let hasEll = t.Subscripts |> List.exists (function Ellipsis _ -> true | _ -> false)
                let r = shapes.[k].Length
                if hasEll then
                    if r < letters then
                        fail (sprintf "Operand %d has %d labels besides '...' but the tensor has rank %d (shape %s)" k letters r (Shape.show shapes.[k])) None (Some k) (Some t.Start)
                    r - letters
                else
                    if r <> letters then
                        fail (sprintf "Operand %d has %d subscripts \"%s\" but the tensor has rank %d (shape %s)" k letters t.Text r (Shape.show shapes.[k])) None (Some k) (Some t.Start)
                    0)
        let maxEll = if ellRank.Length = 0 then 0 else Array.max ellRank
        // Labels of each operand, one per dimension; ellipsis dimensions right-aligned.
        let expand (t: Term) (er: int) =
            t.Subscripts |> List.collect (function
                | Letter (c, _) -> [ labelOf c ]
                | Ellipsis _ -> [ for e in maxEll - er .. maxEll - 1 -> ellipsisBase + e ])
            |> Array.ofList
        let dimLabels = inputs |> Array.mapi (fun k t -> expand t ellRank.[k])
        let positionOf (k: int) (d: int) =
            // The equation position of dimension d of operand k (ellipsis dims point at the '...').
            let mutable dim = 0
            let mutable found = inputs.[k].Start
            for s in inputs.[k].Subscripts do
                match s with
                | Letter (_, p) -> (if dim = d then found <- p); dim <- dim + 1
                | Ellipsis p -> (if d >= dim && d < dim + ellRank.[k] then found <- p); dim <- dim + ellRank.[k]
            found
        let describe (l: int) = if l < ellipsisBase then sprintf "Label '%c'" (letterOf l) else sprintf "Ellipsis dimension %d" (l - ellipsisBase)
        let labelChar (l: int) = if l < ellipsisBase then Some(letterOf l) else None
        let nLabels = ellipsisBase + maxEll
        let sizes = Array.create nLabels -1
        let firstAt = Array.create nLabels (-1, -1)
        for k in 0 .. nIn - 1 do
            // Within one operand a repeated label must have one size exactly (a diagonal).
            let local = Collections.Generic.Dictionary<int, int * int>()
            dimLabels.[k] |> Array.iteri (fun d l ->
                let n = shapes.[k].[d]
                match local.TryGetValue l with
                | true, (n0, d0) when n0 <> n ->
                    fail (sprintf "%s is repeated in operand %d with sizes %d (dimension %d) and %d (dimension %d); a diagonal needs equal sizes" (describe l) k n0 d0 n d) (labelChar l) (Some k) (Some(positionOf k d))
                | true, _ -> ()
                | _ -> local.[l] <- (n, d))
            dimLabels.[k] |> Array.iteri (fun d l ->
                let n = shapes.[k].[d]
                let s = sizes.[l]
                if s = -1 then
                    sizes.[l] <- n
                    firstAt.[l] <- (k, d)
                elif s <> n then
                    if s = 1 then
                        sizes.[l] <- n
                        firstAt.[l] <- (k, d)
                    elif n <> 1 then
                        let k0, d0 = firstAt.[l]
                        fail (sprintf "%s has size %d in operand %d (dimension %d) but size %d in operand %d (dimension %d); sizes must match or be 1" (describe l) s k0 d0 n k d) (labelChar l) (Some k) (Some(positionOf k d)))
        // Drop size-1 dimensions that broadcast against a larger (or zero) size.
        let squeezedLabels = Array.init nIn (fun k -> dimLabels.[k] |> Array.indexed |> Array.filter (fun (d, l) -> not (shapes.[k].[d] = 1 && sizes.[l] <> 1)) |> Array.map snd)
        let squeezedShapes = squeezedLabels |> Array.map (Array.map (fun l -> sizes.[l]))
        let outLabels = expand spec.Output maxEll
        { Spec = spec
          Contraction = { Inputs = squeezedLabels; Output = outLabels; Sizes = sizes }
          InputShapes = shapes |> Array.map Array.copy
          SqueezedShapes = squeezedShapes
          OutputShape = outLabels |> Array.map (fun l -> sizes.[l]) }

    /// The equation as a contraction with no sizes: '...' becomes the single pseudo-label 52.
    /// Used for symbolic derivations, which do not depend on shapes.
    let symbolic (spec: EinsumSpec) : Contraction =
        let term (t: Term) = t.Subscripts |> List.map (function Letter (c, _) -> labelOf c | Ellipsis _ -> ellipsisBase) |> Array.ofList
        { Inputs = spec.Inputs |> List.map term |> Array.ofList
          Output = term spec.Output
          Sizes = Array.create (ellipsisBase + 1) -1 }
