namespace Functional.Core

open System
open Functional

/// Executes extended contractions: diagonals and private sums first, then pairwise steps lowered to
/// batched matrix products in the planned order, then the write to the output (broadcast, diagonal).
[<RequireQualifiedAccess>]
module Engine =

    /// Intermediates larger than this many bytes are refused before anything is allocated.
    /// Settable by the host; 8 GiB by default.
    let mutable memoryLimitBytes = 8L * 1024L * 1024L * 1024L

    let private checkSize (what: string) (elements: float) =
        let bytes = elements * 8.0
        if bytes > float memoryLimitBytes || elements > float Int32.MaxValue then
            raise (MemoryLimitException(sprintf "The contraction needs %s of %.0f elements (%.0f bytes); the limit is %d bytes (Engine.memoryLimitBytes) and an array holds at most 2^31-1 elements." what elements bytes memoryLimitBytes, int64 (min bytes 9.2e18), memoryLimitBytes))

    /// An operand during execution: distinct labels and contiguous data in that label order.
    type private Operand = { Labels: int[]; Data: double[] }

    let private shapeOf (sizes: int[]) (labels: int[]) = labels |> Array.map (fun l -> sizes.[l])

    /// Reads the diagonal of repeated labels and sums labels that `keep` rejects; result labels are
    /// the kept distinct labels in first-appearance order.
    let private prepare (sizes: int[]) (labels: int[]) (data: double[]) (keep: int -> bool) =
        let mutable plain = true
        for i in 0 .. labels.Length - 1 do
            if not (keep labels.[i]) then plain <- false
            for j in 0 .. i - 1 do
                if labels.[j] = labels.[i] then plain <- false
        // The common case first: distinct labels, all kept; nothing to do.
        if plain then { Labels = labels; Data = data } else
        let strides = Shape.strides (shapeOf sizes labels)
        let uniq = Array.distinct labels
        let combined = uniq |> Array.map (fun u -> Seq.zip labels strides |> Seq.sumBy (fun (l, s) -> if l = u then s else 0))
        let kept = uniq |> Array.filter keep
        let summed = uniq |> Array.filter (keep >> not)
        if kept.Length = uniq.Length && uniq.Length = labels.Length then { Labels = labels; Data = data }
        else
            let order = Array.append kept summed
            let idx = order |> Array.map (fun l -> Array.findIndex ((=) l) uniq)
            let shp = shapeOf sizes order
            checkSize "a reduced operand" (Plan.size sizes order)
            let moved = Strided.gather data 0 (idx |> Array.map (fun i -> combined.[i])) shp
            let outer = Shape.numel (shapeOf sizes kept)
            let inner = Shape.numel (shapeOf sizes summed)
            { Labels = kept; Data = (if summed.Length = 0 then moved else Strided.sumRuns moved outer inner) }

    /// The data of `op` with its labels in `order` (a permutation of them); no copy when already so.
    let private arrange (sizes: int[]) (op: Operand) (order: int[]) =
        if op.Labels = order then op.Data
        else
            let st = Shape.strides (shapeOf sizes op.Labels)
            let perm = order |> Array.map (fun l -> st.[Array.findIndex ((=) l) op.Labels])
            Strided.gather op.Data 0 perm (shapeOf sizes order)

    /// One pairwise step as a batched matrix product: [batch, aOnly, contracted] × [batch, contracted, bOnly].
    let private pair (sizes: int[]) (a: Operand) (b: Operand) (keep: int -> bool) =
        let a = prepare sizes a.Labels a.Data (fun l -> keep l || Array.contains l b.Labels)
        let b = prepare sizes b.Labels b.Data (fun l -> keep l || Array.contains l a.Labels)
        let batch = a.Labels |> Array.filter (fun l -> Array.contains l b.Labels && keep l)
        let con = a.Labels |> Array.filter (fun l -> Array.contains l b.Labels && not (keep l))
        let aOnly = a.Labels |> Array.filter (fun l -> not (Array.contains l b.Labels))
        let bOnly = b.Labels |> Array.filter (fun l -> not (Array.contains l a.Labels))
        let n xs = Shape.numel (shapeOf sizes xs)
        let resultLabels = Array.concat [ batch; aOnly; bOnly ]
        checkSize "an intermediate" (Plan.size sizes resultLabels)
        // An operand already laid out as [batch, con, aOnly] (or [batch, bOnly, con]) is read transposed, not copied.
        let transA = a.Labels <> Array.concat [ batch; aOnly; con ] && a.Labels = Array.concat [ batch; con; aOnly ]
        let transB = b.Labels <> Array.concat [ batch; con; bOnly ] && b.Labels = Array.concat [ batch; bOnly; con ]
        let ad = if transA then a.Data else arrange sizes a (Array.concat [ batch; aOnly; con ])
        let bd = if transB then b.Data else arrange sizes b (Array.concat [ batch; con; bOnly ])
        { Labels = resultLabels; Data = Gemm.batchedT transA transB ad bd (n batch) (n aOnly) (n con) (n bOnly) }

    let private checkOperands (c: Contraction) (xs: Tensor[]) =
        if xs.Length <> c.Inputs.Length then
            invalidArg "operands" (sprintf "The contraction %s has %d operands; %d were given." (Contraction.show c) c.Inputs.Length xs.Length)
        xs |> Array.iteri (fun k x ->
            let expected = shapeOf c.Sizes c.Inputs.[k]
            if x.ShapeArray <> expected then
                raise (ShapeException(sprintf "Operand %d of %s has shape %s; %s was expected." k (Contraction.show c) (Shape.show x.ShapeArray) (Shape.show expected), "operands")))

    /// The plan for a contraction (after diagonals and private sums), as executed by `contract`.
    let plan (c: Contraction) =
        let labelsAfterPrepare =
            c.Inputs |> Array.mapi (fun k ls ->
                let keep l = Array.contains l c.Output || c.Inputs |> Array.indexed |> Array.exists (fun (j, o) -> j <> k && Array.contains l o)
                Array.distinct ls |> Array.filter keep)
        Plan.create c.Sizes (Array.distinct c.Output) labelsAfterPrepare

    /// Evaluates a contraction. Operand shapes must match the contraction's label sizes.
    let contract (c: Contraction) (xs: Tensor[]) : Tensor =
        checkOperands c xs
        let outShape = Contraction.outputShape c
        checkSize "the output" (Plan.size c.Sizes c.Output)
        let sizes = c.Sizes
        let ops =
            xs |> Array.mapi (fun k x ->
                let keep l = Array.contains l c.Output || c.Inputs |> Array.indexed |> Array.exists (fun (j, o) -> j <> k && Array.contains l o)
                prepare sizes c.Inputs.[k] x.Data keep)
        let p = Plan.create sizes (Array.distinct c.Output) (ops |> Array.map (fun o -> o.Labels))
        let mutable current = ops
        for st in p.Steps do
            let others = current |> Array.indexed |> Array.filter (fun (k, _) -> k <> st.Left && k <> st.Right) |> Array.map snd
            let keep l = Array.contains l c.Output || others |> Array.exists (fun o -> Array.contains l o.Labels)
            let r = pair sizes current.[st.Left] current.[st.Right] keep
            current <- Array.append others [| r |]
        let last = current.[0]
        // Write to the output: labels absent from `last` broadcast (stride 0), repeated labels write a diagonal.
        let uniqOut = Array.distinct c.Output
        let lastStrides = Shape.strides (shapeOf sizes last.Labels)
        let srcStrides = uniqOut |> Array.map (fun l -> match Array.tryFindIndex ((=) l) last.Labels with Some i -> lastStrides.[i] | None -> 0)
        let outStrides = Shape.strides outShape
        let dstStrides = uniqOut |> Array.map (fun u -> Seq.zip c.Output outStrides |> Seq.sumBy (fun (l, s) -> if l = u then s else 0))
        if last.Labels = c.Output then Tensor.wrap outShape last.Data // already in place: no copy
        else
            let out = Array.zeroCreate (Shape.numel outShape)
            Strided.copy last.Data 0 srcStrides out 0 dstStrides (shapeOf sizes uniqOut)
            Tensor.wrap outShape out

    /// The unoptimised reference: a loop over every assignment of every label. For tests only.
    let reference (c: Contraction) (xs: Tensor[]) : Tensor =
        checkOperands c xs
        let outShape = Contraction.outputShape c
        let all = Array.concat (Array.append c.Inputs [| c.Output |]) |> Array.distinct
        let dims = shapeOf c.Sizes all
        let out = Array.zeroCreate (Shape.numel outShape)
        let total = Shape.numel dims
        let value = Array.zeroCreate (if all.Length = 0 then 1 else Array.max all + 1)
        let offset (labels: int[]) =
            let mutable off = 0
            for l in labels do off <- off * c.Sizes.[l] + value.[l]
            off
        for flat in 0 .. total - 1 do
            let mutable r = flat
            for i in all.Length - 1 .. -1 .. 0 do
                value.[all.[i]] <- r % dims.[i]
                r <- r / dims.[i]
            let mutable prod = 1.0
            for k in 0 .. xs.Length - 1 do prod <- prod * xs.[k].Data.[offset c.Inputs.[k]]
            let o = offset c.Output
            out.[o] <- out.[o] + prod
        Tensor.wrap outShape out
