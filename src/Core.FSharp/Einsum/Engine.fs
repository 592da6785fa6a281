namespace Functional.Core

open System
open Functional

/// Executes extended contractions: diagonals and private sums first, then pairwise steps lowered to
/// batched matrix products in the planned order, then the write to the output (broadcast, diagonal).
[<RequireQualifiedAccess>]
module internal Engine =

    let private checkSize (what: string) (elements: float) = Limits.check (fun () -> "The contraction's " + what) elements

    let private shapeOf (sizes: int[]) (labels: int[]) = labels |> Array.map (fun l -> sizes.[l])

    /// A contraction compiled once: every step's labels, strides and sizes worked out, so that evaluation
    /// is only data movement and arithmetic. Sizes to check against the memory limit are kept, since the
    /// limit may change after compilation.
    type private Compiled =
        { Prepare: (double[] -> double[])[]
          Steps: (int * int * (double[] -> double[] -> double[]))[]
          Final: double[] -> double[]
          OutShape: int[]
          Sizes: (string * float)[]
          /// The memory limit the plan was chosen under (the planner prefers orders that fit it).
          Limit: int64 }

    /// Diagonal reads of repeated labels and sums of labels that `keep` rejects, as a data transformer;
    /// the result labels are the kept distinct labels in first-appearance order.
    let private prepare (sizes: int[]) (labels: int[]) (keep: int -> bool) (need: ResizeArray<string * float>) =
        let mutable plain = true
        for i in 0 .. labels.Length - 1 do
            if not (keep labels.[i]) then plain <- false
            for j in 0 .. i - 1 do
                if labels.[j] = labels.[i] then plain <- false
        if plain then labels, id
        else
            let strides = Shape.strides (shapeOf sizes labels)
            let uniq = Array.distinct labels
            let combined = uniq |> Array.map (fun u -> Seq.zip labels strides |> Seq.sumBy (fun (l, s) -> if l = u then s else 0))
            let kept = uniq |> Array.filter keep
            let summed = uniq |> Array.filter (keep >> not)
            let order = Array.append kept summed
            let gatherStrides = order |> Array.map (fun l -> combined.[Array.findIndex ((=) l) uniq])
            let shp = shapeOf sizes order
            need.Add(("a reduced operand", Plan.size sizes order))
            let outer = Plan.size sizes kept
            let inner = Plan.size sizes summed
            // Distinct labels whose summed ones form one block are summed where the data is (no reordering copy).
            let block =
                if uniq.Length <> labels.Length || summed.Length = 0 then None
                else
                    let start = Array.findIndex (fun l -> not (keep l)) labels
                    if Array.sub labels start summed.Length = summed then
                        Some(int (Plan.size sizes labels.[.. start - 1]), int inner, int (Plan.size sizes labels.[start + summed.Length ..]))
                    else None
            // Otherwise distinct labels whose summed ones form several blocks: one block at a time, in place (as
            // Tensor.sumAxes).
            let staged =
                if uniq.Length <> labels.Length || summed.Length = 0 then None
                else Some(struct (shapeOf sizes labels, summed |> Array.map (fun l -> Array.findIndex ((=) l) labels) |> Array.sort))
            kept, (fun data ->
                match block with
                | Some (before, within, after) -> Reductions.sumBlock data before within after
                | None when staged.IsSome ->
                    let struct (shape, axes) = staged.Value
                    Reductions.sumStaged data shape axes
                // Repeated labels (a diagonal): gathered first.
                | None ->
                    let moved = Strided.gather data 0 gatherStrides shp
                    if summed.Length = 0 then moved else Reductions.sumRuns moved (int outer) (int inner))

    /// Data with `labels` moved into `order` (a permutation of them); no copy when already so.
    let private arrange (sizes: int[]) (labels: int[]) (order: int[]) =
        if labels = order then id
        else
            let st = Shape.strides (shapeOf sizes labels)
            let perm = order |> Array.map (fun l -> st.[Array.findIndex ((=) l) labels])
            let shp = shapeOf sizes order
            fun data -> Strided.gather data 0 perm shp

    /// An operand stored contiguously with `labels` read as batched rows×cols matrices where it is, if it can
    /// be: each group consecutive in `labels` in the group's order, the cols (or, transposed, the rows) innermost;
    /// the batch labels anywhere (an offset per product). Returns the transposition, the leading dimension and
    /// the offsets over `batch` in row-major order (made on first use: `compile` also calls `pair` for labels only).
    let private view (sizes: int[]) (labels: int[]) (batch: int[]) (rows: int[]) (cols: int[]) =
        let st = Shape.strides (shapeOf sizes labels)
        let strideOf l = st.[Array.findIndex ((=) l) labels]
        // An empty group (a matrix of one row or one column) is consecutive anywhere.
        let consecutive (g: int[]) =
            g.Length = 0
            || (let i = Array.findIndex ((=) g.[0]) labels
                i + g.Length <= labels.Length && Array.sub labels i g.Length = g)
        let innermost (g: int[]) = g.Length = 0 || g.[g.Length - 1] = labels.[labels.Length - 1]
        if not (consecutive rows && consecutive cols) then None
        else
            let trans =
                if innermost cols then Some false
                elif innermost rows then Some true
                else None
            trans |> Option.map (fun trans ->
                let inner, other = if trans then cols, rows else rows, cols
                // One row (or column): the leading dimension is never stepped; the other group's size fits the checks.
                let ld = if inner.Length = 0 then max 1 (int (Plan.size sizes other)) else strideOf inner.[inner.Length - 1]
                let bs = batch |> Array.map strideOf
                let bn = batch |> Array.map (fun l -> sizes.[l])
                // Made at first use, by whichever thread gets there first; a failure (out of memory) is not cached
                // with the plan, as `lazy` would, so the next call tries again.
                let offsets =
                    Lazy<int64[]>((fun () ->
                        let count = Array.fold (*) 1 bn
                        let offsets = Array.zeroCreate<int64> count
                        // Row-major over the batch labels, as the product's output lays them out.
                        for t in 0 .. count - 1 do
                            let mutable r = t
                            let mutable off = 0L
                            for d in bn.Length - 1 .. -1 .. 0 do
                                off <- off + int64 (r % bn.[d]) * int64 bs.[d]
                                r <- r / bn.[d]
                            offsets.[t] <- off
                        offsets), Threading.LazyThreadSafetyMode.PublicationOnly)
                trans, ld, offsets)

    /// A product without a contracted label: every result element is one product, written in `order` with
    /// each operand read through its strides (0 where broadcast); no copy brings batch labels to the front.
    /// None when the innermost axis of `order` is strided in an operand (neither contiguous nor broadcast):
    /// element-by-element reads of a cache line each would be slower than a tiled copy and a vector pass.
    let private broadcastProduct (sizes: int[]) (la: int[]) (lb: int[]) (order: int[]) =
        let stridesIn (labels: int[]) =
            let st = Shape.strides (shapeOf sizes labels)
            order |> Array.map (fun l -> match Array.tryFindIndex ((=) l) labels with Some i -> st.[i] | None -> 0)
        let shape, sa, sb = Strided.mergeAxes (shapeOf sizes order) (stridesIn la) (stridesIn lb)
        let r = shape.Length
        if r > 0 && (sa.[r - 1] > 1 || sb.[r - 1] > 1) then None
        else
            let count = int (Plan.size sizes order)
            Some(fun (a: double[]) (b: double[]) ->
                let c = Strided.fresh count
                Broadcast.multiply a sa b sb c shape
                c)

    /// One pairwise step as a batched matrix product: [batch, aOnly, contracted] × [batch, contracted, bOnly];
    /// without a contracted label, as products written in `preferred` order when it holds the same labels.
    let private pair (sizes: int[]) (la: int[]) (lb: int[]) (keep: int -> bool) (need: ResizeArray<string * float>) (preferred: int[]) =
        let la, prepA = prepare sizes la (fun l -> keep l || Array.contains l lb) need
        let lb, prepB = prepare sizes lb (fun l -> keep l || Array.contains l la) need
        let batch = la |> Array.filter (fun l -> Array.contains l lb && keep l)
        let con = la |> Array.filter (fun l -> Array.contains l lb && not (keep l))
        let aOnly = la |> Array.filter (fun l -> not (Array.contains l lb))
        let bOnly = lb |> Array.filter (fun l -> not (Array.contains l la))
        let n xs = int (Plan.size sizes xs)
        let standardOrder = Array.concat [ batch; aOnly; bOnly ]
        need.Add(("an intermediate", Plan.size sizes standardOrder))
        // Without a contracted label: in the preferred order if it reads both operands by rows, else in the
        // standard order if that does (a tiled copy to the output follows), else as a batched product below.
        let products =
            if con.Length > 0 then None
            else
                let inOrder (order: int[]) = broadcastProduct sizes la lb order |> Option.map (fun run -> order, run)
                let sameLabels = preferred.Length = standardOrder.Length && Array.sort preferred = Array.sort standardOrder
                (if sameLabels then inOrder preferred else None) |> Option.orElseWith (fun () -> inOrder standardOrder)
        match products with
        | Some (labels, run) -> labels, (fun (a: double[]) (b: double[]) -> run (prepA a) (prepB b))
        | None ->
            // An operand already laid out as [batch, con, aOnly] (or [batch, bOnly, con]) is read transposed, not copied.
            let transA = la <> Array.concat [ batch; aOnly; con ] && la = Array.concat [ batch; con; aOnly ]
            let transB = lb <> Array.concat [ batch; con; bOnly ] && lb = Array.concat [ batch; bOnly; con ]
            let standardA = transA || la = Array.concat [ batch; aOnly; con ]
            let standardB = transB || lb = Array.concat [ batch; con; bOnly ]
            let arrA = if transA then id else arrange sizes la (Array.concat [ batch; aOnly; con ])
            let arrB = if transB then id else arrange sizes lb (Array.concat [ batch; con; bOnly ])
            let nb, m, k, nn = n batch, n aOnly, n con, n bOnly
            // An operand that would be copied only to bring its batch labels to the front is read where it is
            // (bqhd as batch bh of q×d matrices with row stride h·d): by the packed kernel, or untransposed by the
            // simple one (bqhd,bhqk->bqhk: 8,192 products of 1×1×128 reading B's rows in place).
            let packed = Gemm.packedApplies m k nn
            let simple = not packed && not (Gemm.gemvApplies m k nn)
            let viewOf standard labels rows cols =
                if standard || batch.Length = 0 then None
                else
                    match view sizes labels batch rows cols with
                    | Some (trans, _, _) as v when packed || (simple && not trans) -> v
                    | _ -> None
            let viewA = viewOf standardA la aOnly con
            let viewB = viewOf standardB lb con bOnly
            if viewA.IsNone && viewB.IsNone then
                standardOrder, (fun (a: double[]) (b: double[]) -> Gemm.batchedT transA transB (arrA (prepA a)) (arrB (prepB b)) nb m k nn)
            else
                let operand (v: (bool * int * Lazy<int64[]>) option) (trans: bool) (arr: double[] -> double[]) (rows: int) (cols: int) (data: double[]) : Gemm.StridedOperand =
                    match v with
                    | Some (t, ld, offsets) -> { Data = data; Offsets = offsets.Value; Ld = ld; Trans = t }
                    | None -> { Data = arr data; Offsets = null; Ld = (if trans then rows else cols); Trans = trans }
                standardOrder, (fun (a: double[]) (b: double[]) ->
                    let a' = operand viewA transA arrA m k (prepA a)
                    let b' = operand viewB transB arrB k nn (prepB b)
                    if packed then Gemm.batchedStrided a' b' nb m k nn else Gemm.batchedStridedSimple a' b' nb m k nn)

    /// Whether label l of input k is still needed after that input: by the output or another input.
    let private neededBeyond (c: Contraction) (k: int) (l: int) =
        Array.contains l c.Output || c.Inputs |> Array.indexed |> Array.exists (fun (j, o) -> j <> k && Array.contains l o)

    let private compile (c: Contraction) : Compiled =
        let limit = Limits.memoryLimitBytes
        let sizes = c.Sizes
        let need = ResizeArray<string * float>()
        let outShape = Contraction.outputShape c
        need.Add(("the output", Plan.size sizes c.Output))
        let prepared =
            c.Inputs |> Array.mapi (fun k ls -> prepare sizes ls (neededBeyond c k) need)
        let p = Plan.createUnder limit sizes (Array.distinct c.Output) (prepared |> Array.map fst)
        let mutable current = prepared |> Array.map fst
        let steps =
            [| for si, st in List.indexed p.Steps do
                   let others = current |> Array.indexed |> Array.filter (fun (k, _) -> k <> st.Left && k <> st.Right) |> Array.map snd
                   let keep l = Array.contains l c.Output || others |> Array.exists (Array.contains l)
                   let left, right = current.[st.Left], current.[st.Right]
                   // The last product is computed in the order that lands in the output's layout when one
                   // does (C = A·B, or Cᵀ = Bᵀ·Aᵀ), so no transposing copy follows.
                   let swap =
                       si = List.length p.Steps - 1
                       && fst (pair sizes left right keep (ResizeArray()) c.Output) <> c.Output
                       && fst (pair sizes right left keep (ResizeArray()) c.Output) = c.Output
                   let preferred = if si = List.length p.Steps - 1 then c.Output else [||]
                   let labels, run =
                       if swap then
                           let labels, run = pair sizes right left keep need preferred
                           labels, (fun (a: double[]) (b: double[]) -> run b a)
                       else pair sizes left right keep need preferred
                   current <- Array.append others [| labels |]
                   yield st.Left, st.Right, run |]
        let last = current.[0]
        // Write to the output: labels absent from `last` broadcast (stride 0), repeated labels write a diagonal.
        let final =
            if last = c.Output then id // already in place: no copy
            else
                let uniqOut = Array.distinct c.Output
                let lastStrides = Shape.strides (shapeOf sizes last)
                let srcStrides = uniqOut |> Array.map (fun l -> match Array.tryFindIndex ((=) l) last with Some i -> lastStrides.[i] | None -> 0)
                let outStrides = Shape.strides outShape
                let dstStrides = uniqOut |> Array.map (fun u -> Seq.zip c.Output outStrides |> Seq.sumBy (fun (l, s) -> if l = u then s else 0))
                let loopShape = shapeOf sizes uniqOut
                // Distinct output labels: the copy writes every element, so the result may start uninitialised;
                // a diagonal write leaves the rest zero.
                let distinct = uniqOut.Length = c.Output.Length
                fun data ->
                    let out = if distinct then Strided.fresh (Shape.numel outShape) else Array.zeroCreate (Shape.numel outShape)
                    Strided.copy data 0 srcStrides out 0 dstStrides loopShape
                    out
        { Prepare = prepared |> Array.map snd; Steps = steps; Final = final; OutShape = outShape; Sizes = need.ToArray(); Limit = limit }

    /// A contraction's entry in `table` (a lookup without allocating once made), made again when the memory limit has
    /// changed since it was made (`limitOf`): an order chosen under another limit may not fit this one.
    let inline private underLimit (table: Runtime.CompilerServices.ConditionalWeakTable<Contraction, 'T>) ([<InlineIfLambda>] limitOf: 'T -> int64) (make: Contraction -> 'T) (c: Contraction) =
        match table.TryGetValue c with
        | true, entry when limitOf entry = Limits.memoryLimitBytes -> entry
        | true, _ ->
            let entry = make c
            table.AddOrUpdate(c, entry)
            entry
        | _ -> table.GetValue(c, fun c -> make c)

    /// Compiled plans, per contraction value (bound contractions and their gradients are shared values).
    let private compiled = Runtime.CompilerServices.ConditionalWeakTable<Contraction, Compiled>()

    /// The compiled plan of a contraction.
    let private planOf (c: Contraction) = underLimit compiled (fun p -> p.Limit) compile c

    let private checkOperands (c: Contraction) (xs: Tensor[]) =
        if xs.Length <> c.Inputs.Length then
            invalidArg "operands" (sprintf "The contraction %s has %s; %d %s given." (Contraction.show c) (Shape.count (int64 c.Inputs.Length) "operand" "operands") xs.Length (if xs.Length = 1 then "was" else "were"))
        for k in 0 .. xs.Length - 1 do
            let expected = c.Inputs.[k]
            let shape = xs.[k].ShapeArray
            let mutable ok = shape.Length = expected.Length
            if ok then
                for d in 0 .. shape.Length - 1 do
                    if shape.[d] <> c.Sizes.[expected.[d]] then ok <- false
            if not ok then
                raise (ShapeException(sprintf "Operand %d of %s has shape %s; %s was expected." k (Contraction.show c) (Shape.show shape) (Shape.show (shapeOf c.Sizes expected)), "operands"))

    /// Checks every output and intermediate of a contraction against the memory limit, as `contract` does
    /// before it allocates anything (for callers that run the contraction in steps).
    let internal checkLimits (c: Contraction) =
        let plan = planOf c
        for what, elements in plan.Sizes do checkSize what elements

    /// Each operand's labels after its diagonals and private sums, as `compile` prepares it.
    let private preparedLabels (c: Contraction) =
        c.Inputs |> Array.mapi (fun k ls -> Array.distinct ls |> Array.filter (neededBeyond c k))

    /// The plan for a contraction (after diagonals and private sums), as executed by `contract`.
    let private planUnder (limit: int64) (c: Contraction) = Plan.createUnder limit c.Sizes (Array.distinct c.Output) (preparedLabels c)

    let plan (c: Contraction) = planUnder Limits.memoryLimitBytes c

    /// Decompositions per contraction value, so that the steps are the same values on every call and hit the
    /// compiled plans and ops cached for them.
    let private decompositions = Runtime.CompilerServices.ConditionalWeakTable<Contraction, int64 * (Contraction option[] * (int * int * Contraction)[])>()

    /// The decomposition, with the memory limit its plan was chosen under.
    let private decomposeNew (c: Contraction) : int64 * (Contraction option[] * (int * int * Contraction)[]) =
        let limit = Limits.memoryLimitBytes
        let labels = preparedLabels c
        let prepared = c.Inputs |> Array.mapi (fun k ls -> if ls = labels.[k] then None else Some { Inputs = [| ls |]; Output = labels.[k]; Sizes = c.Sizes })
        let p = planUnder limit c
        let last = List.length p.Steps - 1
        let steps =
            p.Steps
            |> List.mapi (fun i st -> st.Left, st.Right, { Inputs = [| st.LeftLabels; st.RightLabels |]; Output = (if i = last then c.Output else st.Result); Sizes = c.Sizes })
            |> Array.ofList
        limit, (prepared, steps)

    /// The contraction as `contract` runs it, one step at a time: per operand the one-input contraction of
    /// its diagonals and private sums (None when it has none), then each planned pairwise step as a two-input
    /// contraction of the current list's Left and Right operands (removed; the result is appended), the last
    /// step writing the output. Evaluated in order, the steps give exactly the values `contract` gives when there
    /// are two or more operands; a single operand's permutation, broadcast or diagonal write is in no step.
    let internal decompose (c: Contraction) = snd (underLimit decompositions fst decomposeNew c)

    /// Evaluates a contraction. Operand shapes must match the contraction's label sizes. Every output and
    /// intermediate is checked against the memory limit before anything is allocated.
    let contract (c: Contraction) (xs: Tensor[]) : Tensor =
        checkOperands c xs
        if xs |> Array.exists (fun x -> x.Numel = 0) then
            // An empty operand makes every product empty: the output holds sums of nothing (zeros), or nothing. No
            // plan: its strides and batch offsets over the empty operand's other, possibly huge, sizes would wrap.
            checkSize "output" (Plan.size c.Sizes c.Output)
            Tensor.zeros (Contraction.outputShape c)
        else
        let plan = planOf c
        for what, elements in plan.Sizes do checkSize what elements
        let mark = Storage.mark ()
        let mutable current = Array.init xs.Length (fun k -> plan.Prepare.[k] xs.[k].Data)
        for (left, right, run) in plan.Steps do
            let r = run current.[left] current.[right]
            let others = Array.zeroCreate (current.Length - 1)
            let mutable o = 0
            for k in 0 .. current.Length - 1 do
                if k <> left && k <> right then
                    others.[o] <- current.[k]
                    o <- o + 1
            others.[o] <- r
            current <- others
        let out = plan.Final current.[0]
        let result = Tensor.wrap plan.OutShape out
        // The operands stay reachable while their arrays are read (and until a result over one of them holds it).
        GC.KeepAlive xs
        // Temporaries go back to the pool now: in a TensorScope rather than when the scope ends, outside one
        // rather than after a collection.
        Storage.recycleSince mark out
        result
