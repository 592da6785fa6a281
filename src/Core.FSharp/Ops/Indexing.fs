namespace Functional.Core

open System
open System.Linq
open System.Runtime.Intrinsics
open Functional

/// Slicing, joining and gathering along one axis. A tensor is seen as [outer, n, inner] around the axis, so each op
/// copies blocks of `inner` contiguous elements. Each op's derivative is another op of this module: a slice's is a
/// zero-padded write, a gather's a scatter-add, a join's the slices that undo it.
[<RequireQualifiedAccess>]
module Indexing =

    /// outer, n, inner around `axis`.
    let private around (shape: int[]) (axis: int) =
        Array.fold (*) 1 shape.[.. axis - 1], shape.[axis], Array.fold (*) 1 shape.[axis + 1 ..]

    let private axisOf (name: string) (shape: int[]) (axis: int) =
        let a = if axis < 0 then axis + shape.Length else axis
        if a < 0 || a >= shape.Length then
            raise (ShapeException(sprintf "%s: axis %d is out of range for shape %s." name axis (Shape.show shape), "axis"))
        a

    let private withAxis (shape: int[]) (axis: int) (n: int) = Array.mapi (fun i d -> if i = axis then n else d) shape

    /// The ops' own copies of large index arrays, one per caller's array, taken again when its contents changed. A
    /// fresh array of that size costs its page faults on every call (0.5–1 ms for 2 MB here) where a loop passing the
    /// same index compares it in a tenth of that; the copies are never written, so ops may share one.
    let private snapshots = System.Runtime.CompilerServices.ConditionalWeakTable<int[], int[]>()

    let private snapshot (index: int[]) =
        if index.Length < 16384 then Array.copy index
        else
            match snapshots.TryGetValue index with
            | true, kept when MemoryExtensions.SequenceEqual(ReadOnlySpan<int>(kept), ReadOnlySpan<int>(index)) -> kept
            | _ ->
                let kept = Array.copy index
                snapshots.AddOrUpdate(index, kept)
                kept

    let rec private narrowAt (axis: int) (start: int) (length: int) (x: Value) : Value =
        let shape = x.Shape
        // A later adjoint of the input is added at its place in the input's adjoint, never padded.
        let into (adj: Tensor) (_: int) (acc: double[]) =
            let _, _, inner = around shape axis
            Tensor.addInto adj acc (start * inner) (Shape.strides shape)
        Op.apply
            (Op.withAttributes [ "axis", box axis; "start", box start; "length", box length ] <| Op.create "narrow"
                // A view: no copy until read (the broadcasting operators read it in place).
                (fun xs -> Tensor.narrowView axis start length xs.[0])
                (RegionVjp.AsVjp((fun _ _ adj _ -> padAt axis start shape.[axis] adj), into))
                (fun _ _ _ t -> narrowAt axis start length t))
            [| x |]

    and private padAt (axis: int) (start: int) (size: int) (x: Value) : Value =
        let shape = x.Shape
        let length = shape.[axis]
        Op.apply
            (Op.withAttributes [ "axis", box axis; "start", box start; "size", box size ] <| Op.create "pad"
                (fun xs ->
                    let outer, _, inner = around shape axis
                    let out = Storage.uninit (outer * size * inner)
                    // Every row written whole (zeros, the block, zeros): a plain one around the caches.
                    let stream = Strided.streamsPlainRuns out.Length (size * inner)
                    // Only the zeros around each copied block are written twice over: once here.
                    Strided.chunkedUnits outer (size * inner) (fun o0 o1 ->
                        for o in o0 .. o1 - 1 do
                            Strided.clearStreaming stream out (o * size * inner) (start * inner)
                            Strided.clearStreaming stream out ((o * size + start + length) * inner) ((size - start - length) * inner)
                        if stream then Functional.Kernels.Streams.Fence())
                    let padded = withAxis shape axis size
                    Tensor.copyIntoStreaming stream xs.[0] out (start * inner) (Shape.strides padded)
                    Tensor.wrap padded out)
                (fun _ _ adj _ -> narrowAt axis start length adj)
                (fun _ _ _ t -> padAt axis start size t))
            [| x |]

    /// Refuses, before anything is allocated, x resized to `size` along axis `a` when that exceeds the memory limit.
    let private checkResized (name: string) (a: int) (size: int) (x: Value) =
        // The other axes' product directly: numel / length loses it when the axis' length is 0.
        let others = x.Shape |> Array.mapi (fun i d -> if i = a then 1.0 else float d) |> Array.fold (*) 1.0
        Limits.check (fun () -> sprintf "%s to %d along axis %d of shape %s" name size a (Shape.show x.Shape)) (others * float size)

    /// Elements start .. start + length − 1 along `axis` (negative axes and starts count from the end, as
    /// torch.narrow's). VJP: the adjoint written into zeros at the same place (`pad`). JVP: the tangent's slice.
    let narrow (axis: int) (start: int) (length: int) (x: Value) : Value =
        let a = axisOf "narrow" x.Shape axis
        let n = x.Shape.[a]
        if length < 0 then
            raise (ShapeException(sprintf "narrow: length is %d; it must be 0 or more." length, "length"))
        if start < -n || start > n then
            raise (ShapeException(sprintf "narrow: start %d is outside axis %d of length %d (a start may be %d to %d)." start axis n -n n, "start"))
        let from = if start < 0 then start + n else start
        if int64 from + int64 length > int64 n then
            let shown = if start < 0 then sprintf "%d (%d from the end)" from -start else string from
            raise (ShapeException(sprintf "narrow: elements %s to %d do not exist along axis %d of length %d." shown (int64 from + int64 length - 1L) axis n, "length"))
        if from = 0 && length = n then x else narrowAt a from length x

    /// x written into zeros of length `size` along `axis`, from `start`. VJP: the adjoint's slice (`narrow`).
    let pad (axis: int) (start: int) (size: int) (x: Value) : Value =
        let a = axisOf "pad" x.Shape axis
        if start < 0 || int64 start + int64 x.Shape.[a] > int64 size then
            raise (ShapeException(sprintf "pad: %s from position %d do not fit in %d along axis %d." (Shape.count (int64 x.Shape.[a]) "element" "elements") start size axis, "size"))
        checkResized "pad" a size x
        if start = 0 && size = x.Shape.[a] then x else padAt a start size x

    /// The values joined along `axis`; all other dimensions must agree. VJP for input i: its slice of the adjoint.
    /// JVP: the tangent written at input i's place.
    let rec concat (axis: int) (xs: Value[]) : Value =
        if isNull xs || xs.Length = 0 then invalidArg "xs" "concat needs at least one value."
        Arguments.noNullElements "xs" xs
        let first = xs.[0].Shape
        if first.Length = 0 then raise (ShapeException("concat: scalars have no axis to join along; reshape them to [1] first.", "xs"))
        let a = axisOf "concat" first axis
        xs |> Array.iteri (fun k x ->
            let s = x.Shape
            if s.Length <> first.Length || (s |> Array.mapi (fun i d -> i = a || d = first.[i]) |> Array.forall id |> not) then
                raise (ShapeException(sprintf "concat: value %d has shape %s; value 0 has %s (only axis %d may differ)." k (Shape.show s) (Shape.show first) axis, "xs")))
        if xs.Length = 1 then xs.[0] else
        let lengths = xs |> Array.map (fun x -> x.Shape.[a])
        // Summed without wrapping: lengths of 2³¹ − 1, 2³¹ − 1 and 2 would make an axis of 0.
        let long = lengths |> Array.sumBy int64
        if long > int64 Shape.maxElements then
            raise (ShapeException(sprintf "concat: the joined axis %d would be %d long, more than an array can hold (%d)." axis long Shape.maxElements, "xs"))
        let offsets = Array.scan (+) 0 lengths
        let total = offsets.[xs.Length]
        checkResized "concat" a total xs.[0]
        Op.apply
            (Op.withAttributes [ "axis", box a ] <| Op.create "concat"
                (fun ts ->
                    let outer, _, inner = around first a
                    let joined = withAxis first a total
                    let out = Storage.uninit (outer * total * inner)
                    let stream = Strided.streamsPlainRuns out.Length (total * inner)
                    // Each input read where it is (a slice from its source), written at its place.
                    ts |> Array.iteri (fun k t -> Tensor.copyIntoStreaming stream t out (offsets.[k] * inner) (Shape.strides joined))
                    Tensor.wrap joined out)
                (fun _ _ adj i -> narrow a offsets.[i] lengths.[i] adj)
                // The tangents joined at once (zeros for a value without one): one per value, each padded to the whole
                // output's size, would cost the output once per value.
                (WholeJvp.AsJvp((fun _ _ i t -> pad a offsets.[i] total t),
                                (fun xs _ ts -> concat a (Array.init ts.Length (fun k -> if isNull (box ts.[k]) then Value.constant (Tensor.zeros xs.[k].Shape) else ts.[k]))))))
            xs

    /// x with a new axis of length 1 at `axis` (0 .. rank). Its derivative is the reshape back.
    let unsqueeze (axis: int) (x: Value) : Value =
        let s = x.Shape
        let a = if axis < 0 then axis + s.Length + 1 else axis
        if a < 0 || a > s.Length then raise (ShapeException(sprintf "unsqueeze: axis %d is out of range for shape %s." axis (Shape.show s), "axis"))
        Layout.reshape (Array.concat [ s.[.. a - 1]; [| 1 |]; s.[a ..] ]) x

    /// x without the axes of length 1 listed (all of them when none are listed).
    let squeeze (axes: int[]) (x: Value) : Value =
        if isNull axes then nullArg "axes"
        let s = x.Shape
        let drop = if axes.Length = 0 then [| for i in 0 .. s.Length - 1 do if s.[i] = 1 then yield i |] else Shape.normaliseAxes s.Length axes
        for a in drop do
            if s.[a] <> 1 then raise (ShapeException(sprintf "squeeze: axis %d has length %d, not 1, in shape %s." a s.[a] (Shape.show s), "axes"))
        Layout.reshape [| for i in 0 .. s.Length - 1 do if not (Array.contains i drop) then yield s.[i] |] x

    /// Same-shaped values stacked along a new axis at `axis` (0 .. rank). VJP: each input's slice of the adjoint.
    let stack (axis: int) (xs: Value[]) : Value =
        if isNull xs || xs.Length = 0 then invalidArg "xs" "stack needs at least one value."
        Arguments.noNullElements "xs" xs
        let s = xs.[0].Shape
        xs |> Array.iteri (fun k x ->
            if not (Shape.same x.Shape s) then
                raise (ShapeException(sprintf "stack: value %d has shape %s; value 0 has %s." k (Shape.show x.Shape) (Shape.show s), "xs")))
        let a = if axis < 0 then axis + s.Length + 1 else axis
        // Checked here: a normalised axis that is still negative would be normalised again by unsqueeze and concat.
        if a < 0 || a > s.Length then
            raise (ShapeException(sprintf "stack: axis %d is out of range for values of shape %s (it must lie in %d .. %d)." axis (Shape.show s) (-s.Length - 1) s.Length, "axis"))
        concat a (xs |> Array.map (unsqueeze a))

    /// Block k of src (outer × m × inner) added at block indices[k] of the same outer index of `out` (outer × size
    /// × inner): into zeros (`fresh`: the blocks no index reaches cleared) or into what `out` holds. Each block of
    /// out is made by one task, +0 plus its source blocks in the order of k (found by a stable counting sort of the
    /// indices), then added to what out held, so repeated indices add in that order however the work is split; each
    /// addition is a vector pass over a whole block.
    let private scatterRowsInto (src: double[]) (outer: int) (m: int) (inner: int) (indices: int[]) (size: int) (out: double[]) (fresh: bool) =
        // starts.[t] .. starts.[t + 1] − 1: the positions in `order` of the k with indices.[k] = t, ascending.
        let starts = Array.zeroCreate (size + 1)
        for t in indices do starts.[t + 1] <- starts.[t + 1] + 1
        for t in 0 .. size - 1 do starts.[t + 1] <- starts.[t + 1] + starts.[t]
        let order = Array.zeroCreate m
        let fill = Array.sub starts 0 size
        for k in 0 .. m - 1 do
            let t = indices.[k]
            order.[fill.[t]] <- k
            fill.[t] <- fill.[t] + 1
        // A new plain result written whole: around the caches, but for the blocks that several sources add into.
        let stream = fresh && Strided.streamsPlainRuns out.Length (size * inner)
        Strided.chunkedUnits (outer * size) inner (fun r0 r1 ->
            // Into what out holds, a block's sources are summed apart first: the values of out + (their sum).
            let scratch = if fresh then null else Array.zeroCreate inner
            for r in r0 .. r1 - 1 do
                let o, t = r / size, r % size
                let dst = Span(out, r * inner, inner)
                if starts.[t] = starts.[t + 1] then (if fresh then Strided.clearStreaming stream out (r * inner) inner)
                elif stream && starts.[t] + 1 = starts.[t + 1] then
                    Functional.Kernels.Streams.AddZero(src, (o * m + order.[starts.[t]]) * inner, out, r * inner, inner)
                else
                    let sum = if fresh then dst else Span(scratch)
                    // +0 + x, not a copy: −0 then becomes +0, as in a sum from +0.
                    Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan(src, (o * m + order.[starts.[t]]) * inner, inner), 0.0, sum)
                    for q in starts.[t] + 1 .. starts.[t + 1] - 1 do
                        Numerics.Tensors.TensorPrimitives.Add(Span<double>.op_Implicit sum, ReadOnlySpan(src, (o * m + order.[q]) * inner, inner), sum)
                    if not fresh then Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan(out, r * inner, inner), ReadOnlySpan(scratch), dst)
            if stream then Functional.Kernels.Streams.Fence())

    /// Zeros of outer × size × inner with block k of src (outer × m × inner) added at block indices[k].
    let private scatterRows (src: double[]) (outer: int) (m: int) (inner: int) (indices: int[]) (size: int) =
        // An empty result may still be long along the axis ([0, 2³¹ − 1]): nothing of the axis' length is made.
        if outer = 0 || inner = 0 || size = 0 then Array.empty<double>
        else
            let out = Storage.uninit (outer * size * inner)
            scatterRowsInto src outer m inner indices size out true
            out

    let rec private selectRows (axis: int) (indices: int[]) (x: Value) : Value =
        let shape = x.Shape
        // The backward pass adds the adjoint's blocks at their indices of the input's adjoint, never into zeros of
        // its own (a table looked up several times: each lookup costs its rows backward).
        let into (adj: Tensor) (_: int) (acc: double[]) =
            let outer, n, inner = around shape axis
            // Nothing to add into an empty adjoint, however long its axis (no table of the axis' length is made).
            if outer > 0 && inner > 0 && n > 0 then
                scatterRowsInto adj.Data outer indices.Length inner indices n acc false
            adj.CheckLive()
        Op.apply
            (Op.withAttributes [ "axis", box axis; "indices", box indices ] <| Op.create "indexSelect"
                (fun xs ->
                    let outer, n, inner = around shape axis
                    let m = indices.Length
                    let src = xs.[0].Data
                    let out = Storage.uninit (outer * m * inner)
                    let stream = Strided.streamsPlainRuns out.Length (m * inner)
                    Strided.chunkedUnits (outer * m) inner (fun i0 i1 ->
                        for i in i0 .. i1 - 1 do
                            let o, k = i / m, i % m
                            if stream then Functional.Kernels.Streams.Copy(src, (o * n + indices.[k]) * inner, out, (o * m + k) * inner, inner)
                            else Array.Copy(src, (o * n + indices.[k]) * inner, out, (o * m + k) * inner, inner)
                        if stream then Functional.Kernels.Streams.Fence())
                    Tensor.wrap (withAxis shape axis m) out)
                (RegionVjp.AsVjp((fun _ _ adj _ -> addRows axis indices shape.[axis] adj), into))
                (fun _ _ _ t -> selectRows axis indices t))
            [| x |]

    and private addRows (axis: int) (indices: int[]) (size: int) (x: Value) : Value =
        let shape = x.Shape
        Op.apply
            (Op.withAttributes [ "axis", box axis; "indices", box indices; "size", box size ] <| Op.create "indexAdd"
                (fun xs ->
                    let outer, m, inner = around shape axis
                    Tensor.wrap (withAxis shape axis size) (scatterRows xs.[0].Data outer m inner indices size))
                (fun _ _ adj _ -> selectRows axis indices adj)
                (fun _ _ _ t -> addRows axis indices size t))
            [| x |]

    let private checkIndices (name: string) (indices: int[]) (n: int) (axis: int) =
        if isNull indices then nullArg "indices"
        indices |> Array.iteri (fun k i ->
            if i < 0 || i >= n then
                raise (ShapeException(sprintf "%s: index %d (position %d) is out of range for axis %d of length %d." name i k axis n, "indices")))

    /// The entries at `indices` along `axis`, in that order (repeats allowed): a gather of whole slices. VJP: the
    /// adjoint's slices added back at their indices (`indexAdd`, a scatter-add). JVP: the tangent's entries.
    let indexSelect (axis: int) (indices: int[]) (x: Value) : Value =
        let a = axisOf "indexSelect" x.Shape axis
        if isNull indices then nullArg "indices"
        // Checked on the op's own copy: the caller's array may change after the check (another thread).
        let indices = snapshot indices
        checkIndices "indexSelect" indices x.Shape.[a] axis
        checkResized "indexSelect" a indices.Length x
        selectRows a indices x

    /// Zeros of length `size` along `axis`, with slice k of x added at indices[k] (a scatter-add). VJP: the
    /// adjoint's entries at `indices` (`indexSelect`).
    let indexAdd (axis: int) (indices: int[]) (size: int) (x: Value) : Value =
        let a = axisOf "indexAdd" x.Shape axis
        if size < 0 then raise (ShapeException(sprintf "indexAdd: the size along axis %d is %d; it cannot be negative." axis size, "size"))
        if isNull indices then nullArg "indices"
        let indices = snapshot indices
        checkIndices "indexAdd" indices size axis
        if indices.Length <> x.Shape.[a] then
            raise (ShapeException(sprintf "indexAdd: %s for %s along axis %d." (Shape.count (int64 indices.Length) "index" "indices") (Shape.count (int64 x.Shape.[a]) "slice" "slices") axis, "indices"))
        checkResized "indexAdd" a size x
        addRows a indices size x

    /// Where each position of an index reads (gather) or adds (scatterAdd): the index's value along `Axis`, and for
    /// each row of the index (every coordinate but the last) the offset of its other coordinates. The offset of
    /// position j of row r is `RowBase[r] + Index[f]` along the last axis, else `RowBase[r] + j + Index[f] * Along`.
    type private GatherMap =
        { Index: int[]
          RowBase: int[]
          Last: int
          Along: int
          AxisIsLast: bool }

    let private gatherMap (name: string) (axis: int) (index: int[]) (indexShape: int[]) (shape: int[]) =
        let rank = shape.Length
        if indexShape.Length <> rank then
            raise (ShapeException(sprintf "%s: the index has rank %d; the tensor has rank %d." name indexShape.Length rank, "index"))
        for d in 0 .. rank - 1 do
            if d <> axis && indexShape.[d] > shape.[d] then
                raise (ShapeException(sprintf "%s: the index has shape %s, larger than %s off axis %d." name (Shape.show indexShape) (Shape.show shape) axis, "index"))
        let length = shape.[axis]
        // One vectorised pass each for the smallest and the largest value; the position only when one is out of range.
        if index.Length > 0 && (Enumerable.Min index < 0 || Enumerable.Max index >= length) then
            let f = index |> Array.findIndex (fun i -> i < 0 || i >= length)
            raise (ShapeException(sprintf "%s: index value %d (position %d) is out of range for axis %d of length %d." name index.[f] f axis length, "index"))
        let strides = Array.init rank (fun d -> Array.fold (*) 1 shape.[d + 1 ..])
        let last = if rank > 0 then indexShape.[rank - 1] else 1
        let rows = if index.Length = 0 then 0 else index.Length / last
        // A row's offset off the axis from its coordinates (a few per row; the positions need no division).
        let rowBase =
            Array.init rows (fun row ->
                let mutable r = row
                let mutable off = 0
                for d in rank - 2 .. -1 .. 0 do
                    let c = r % indexShape.[d]
                    r <- r / indexShape.[d]
                    if d <> axis then off <- off + c * strides.[d]
                off)
        { Index = index; RowBase = rowBase; Last = last; Along = strides.[axis]; AxisIsLast = (axis = rank - 1) }

    /// Reads (gather) or adds back (scatterAdd) positions f0 .. f1 − 1 of the index, a row at a time: the offsets
    /// need no division within a row.
    let private spanAt (m: GatherMap) (gather: bool) (src: float[]) (out: float[]) (f0: int) (f1: int) =
        let index, last, along = m.Index, m.Last, m.Along
        let mutable f = f0
        while f < f1 do
            let row = f / last
            let rowEnd = min f1 ((row + 1) * last)
            // Position g of this row is at b + index[g] along the last axis, else at b + (g − row·last) + index[g]·along.
            let b = if m.AxisIsLast then m.RowBase.[row] else m.RowBase.[row] - row * last
            match m.AxisIsLast, gather with
            | true, true -> for g in f .. rowEnd - 1 do out.[g] <- src.[b + index.[g]]
            | false, true -> for g in f .. rowEnd - 1 do out.[g] <- src.[b + g + index.[g] * along]
            | true, false ->
                for g in f .. rowEnd - 1 do
                    let o = b + index.[g]
                    out.[o] <- out.[o] + src.[g]
            | false, false ->
                for g in f .. rowEnd - 1 do
                    let o = b + g + index.[g] * along
                    out.[o] <- out.[o] + src.[g]
            f <- rowEnd

    let rec private gatherAt (axis: int) (indexShape: int[]) (m: GatherMap) (x: Value) : Value =
        let shape = x.Shape
        Op.apply
            (Op.withAttributes [ "axis", box axis; "index", box m.Index; "indexShape", box indexShape ] <| Op.create "gather"
                (fun xs ->
                    let src = xs.[0].Data
                    let out = Storage.uninit m.Index.Length
                    Strided.chunkedUnits out.Length 1 (fun f0 f1 -> spanAt m true src out f0 f1)
                    Tensor.wrap indexShape out)
                (fun _ _ adj _ -> scatterAddAt axis shape m adj)
                (fun _ _ _ t -> gatherAt axis indexShape m t))
            [| x |]

    and private scatterAddAt (axis: int) (shape: int[]) (m: GatherMap) (x: Value) : Value =
        let indexShape = x.Shape
        Op.apply
            (Op.withAttributes [ "axis", box axis; "index", box m.Index; "shape", box shape ] <| Op.create "scatterAdd"
                (fun xs ->
                    let src = xs.[0].Data
                    let out = Storage.uninit (Shape.numel shape)
                    let rows = m.RowBase.Length
                    if axis = 0 && indexShape.Length > 1 && rows > 0 then
                        // Along axis 0, positions that differ off the axis write to different elements: the columns
                        // (every coordinate but the first) are shared out to the cores, each position still added in
                        // the order of its first coordinate.
                        let lead = indexShape.[0]
                        let columns = m.Index.Length / lead
                        Strided.clear out 0 out.Length
                        Strided.chunkedUnits columns lead (fun c0 c1 ->
                            for i in 0 .. lead - 1 do
                                spanAt m false src out (i * columns + c0) (i * columns + c1))
                    else
                        // Off axis 0, the positions of one leading coordinate write only into that leading row of the
                        // result: those are shared out to the cores (each position still added in order within it).
                        let leads = if axis <> 0 && indexShape.[0] > 1 then indexShape.[0] else 1
                        let per = m.Index.Length / leads
                        let width = Shape.numel shape / max 1 shape.[0]
                        Strided.chunkedUnits leads (max 1 (per + width)) (fun r0 r1 ->
                            // The last chunk clears the rows no position reaches too.
                            let clearTo = if r1 = leads then out.Length else r1 * width
                            Array.Clear(out, r0 * width, clearTo - r0 * width)
                            spanAt m false src out (r0 * per) (r1 * per))
                    Tensor.wrap shape out)
                (fun _ _ adj _ -> gatherAt axis indexShape m adj)
                (fun _ _ _ t -> scatterAddAt axis shape m t))
            [| x |]

    let internal gatherOwned (axis: int) (index: int[]) (indexShape: int[]) (x: Value) : Value =
        let a = axisOf "gather" x.Shape axis
        let n = try Shape.numel indexShape with :? ShapeException as e -> raise (ShapeException(e.Message, "indexShape"))
        if index.Length <> n then
            raise (ShapeException(sprintf "gather: %d index values for an index of shape %s." index.Length (Shape.show indexShape), "index"))
        gatherAt a (Array.copy indexShape) (gatherMap "gather" a index indexShape x.Shape) x

    /// out[p] = x[p with its `axis` coordinate replaced by index[p]] for every position p of the index (shape
    /// `indexShape`, x's rank, no larger than x off the axis): PyTorch's gather. VJP: the adjoint added back at the
    /// positions read (`scatterAdd`). JVP: the tangent gathered.
    let gather (axis: int) (index: int[]) (indexShape: int[]) (x: Value) : Value =
        if isNull index then nullArg "index"
        if isNull indexShape then nullArg "indexShape"
        gatherOwned axis (snapshot index) indexShape x

    let internal scatterAddOwned (axis: int) (index: int[]) (shape: int[]) (x: Value) : Value =
        let a = axisOf "scatterAdd" shape axis
        if index.Length <> Shape.numel x.Shape then
            raise (ShapeException(sprintf "scatterAdd: %d index values for values of shape %s." index.Length (Shape.show x.Shape), "index"))
        scatterAddAt a (Array.copy shape) (gatherMap "scatterAdd" a index x.Shape shape) x

    /// Zeros of `shape` with x[p] added at p's position with its `axis` coordinate replaced by index[p] (x shaped as
    /// the index): PyTorch's scatter_add into zeros. VJP: the adjoint gathered (`gather`).
    let scatterAdd (axis: int) (index: int[]) (shape: int[]) (x: Value) : Value =
        if isNull index then nullArg "index"
        if isNull shape then nullArg "shape"
        scatterAddOwned axis (snapshot index) shape x

    /// x reversed along `axis`. VJP and JVP: the same reversal.
    let rec flip (axis: int) (x: Value) : Value =
        let a = axisOf "flip" x.Shape axis
        let shape = x.Shape
        Op.apply
            (Op.withAttributes [ "axis", box a ] <| Op.create "flip"
                (fun xs ->
                    let outer, n, inner = around shape a
                    let src = xs.[0].Data
                    let out = Storage.uninit src.Length
                    // Nothing to move in an empty tensor, however long its other axes (a loop over them would not end).
                    if src.Length > 0 then
                        Strided.chunkedUnits outer (n * inner) (fun o0 o1 ->
                            for o in o0 .. o1 - 1 do
                                if inner = 1 then
                                    // A row reversed in place after one copy (Array.Reverse runs on vectors).
                                    Array.Copy(src, o * n, out, o * n, n)
                                    Array.Reverse(out, o * n, n)
                                elif inner < 16 then
                                    for k in 0 .. n - 1 do
                                        let s, d = (o * n + k) * inner, (o * n + n - 1 - k) * inner
                                        for j in 0 .. inner - 1 do out.[d + j] <- src.[s + j]
                                else
                                    for k in 0 .. n - 1 do
                                        Array.Copy(src, (o * n + k) * inner, out, (o * n + n - 1 - k) * inner, inner))
                    Tensor.wrap shape out)
                (fun _ _ adj _ -> flip a adj)
                (fun _ _ _ t -> flip a t))
            [| x |]

    /// a where c ≠ 0 (NaN included), else b, over `shape` (each broadcast to it; a uniform one read as its value,
    /// never made into an array), four lanes at a time.
    let private selectTensor (shape: int[]) (c: Tensor) (a: Tensor) (b: Tensor) =
        let n = Shape.numel shape
        let out = Storage.uninit n
        let source (t: Tensor) =
            let t = Tensor.broadcastTo shape t
            if t.IsUniform then struct (null, t.Fill) else struct (t.Data, 0.0)
        let struct (cd: double[], cf), struct (ad: double[], af), struct (bd: double[], bf) = source c, source a, source b
        Strided.chunkedUnits n 1 (fun lo hi ->
            let mutable i = lo
            if Vector256.IsHardwareAccelerated then
                let cu, au, bu = Vector256.Create(cf), Vector256.Create(af), Vector256.Create(bf)
                while i <= hi - 4 do
                    let cv = if isNull cd then cu else Vector256.Create(cd, i)
                    let av = if isNull ad then au else Vector256.Create(ad, i)
                    let bv = if isNull bd then bu else Vector256.Create(bd, i)
                    Vector256.ConditionalSelect(Vector256.Equals(cv, Vector256<double>.Zero), bv, av).CopyTo(out, i)
                    i <- i + 4
            while i < hi do
                let cv = if isNull cd then cf else cd.[i]
                out.[i] <- if cv <> 0.0 then (if isNull ad then af else ad.[i]) else (if isNull bd then bf else bd.[i])
                i <- i + 1)
        Tensor.wrap shape out

    /// whenTrue where condition ≠ 0, else whenFalse, all three broadcast together. The condition is a mask: no
    /// gradient flows into it. VJP: the adjoint where each side was taken (summed over broadcast dimensions).
    let rec where (condition: Value) (whenTrue: Value) (whenFalse: Value) : Value =
        let shape = Shape.broadcastAs "whenFalse" (Shape.broadcastAs "whenTrue" condition.Shape whenTrue.Shape) whenFalse.Shape
        // The adjoint or tangent of a branch: itself where that branch was taken, 0 elsewhere (a `where` again, so
        // that every order follows).
        let taken (first: bool) (c: Value) (g: Value) =
            let zero = Value.constant (Tensor.zeros shape)
            if first then where c g zero else where c zero g
        Op.apply
            (Op.create "where"
                (fun ts -> selectTensor shape ts.[0] ts.[1] ts.[2])
                (fun xs _ adj i ->
                    if i = 0 then Value.constant (Tensor.zeros xs.[0].Shape)
                    else Arithmetic.sumTo xs.[i].Shape (taken (i = 1) xs.[0] adj))
                (fun xs _ i t ->
                    if i = 0 then Value.constant (Tensor.zeros shape)
                    else taken (i = 1) xs.[0] (Arithmetic.broadcastTo shape t)))
            [| condition; whenTrue; whenFalse |]
