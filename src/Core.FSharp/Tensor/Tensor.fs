namespace Functional.Core

open System
open System.Text
open System.Numerics.Tensors
open Functional

/// A vectorised kernel over two input spans into an output span (same lengths).
type internal SpanZip = delegate of ReadOnlySpan<double> * ReadOnlySpan<double> * Span<double> -> unit

/// A vectorised kernel over one input span into an output span.
type internal SpanMap = delegate of ReadOnlySpan<double> * Span<double> -> unit

/// An immutable dense float64 tensor, row-major, of any rank (rank 0 is a scalar). One made inside a
/// TensorScope is released when the scope ends (see TensorScope).
/// Structural equality: the same shape and the same elements bit for bit, except that every NaN equals every NaN
/// (+0 and −0 differ); the hash reads the shape and the first 16 elements.
[<Sealed>]
type Tensor private (shape: int[], data: double[], fill: double, view: struct (Tensor * int * int[]) voption, _made: unit) =
    // A null `data` means the array is not made until someone reads it: either every element equals `fill` (a
    // sum's adjoint broadcast back: `mul` by a uniform 1 then skips a pass and an allocation), or the tensor is a
    // view (source, offset, strides) of another tensor's elements: a broadcast (stride 0 along the broadcast axes;
    // a row sum's adjoint sent back along its rows) or a slice, which the broadcasting kernels read in place.
    // Materialising is idempotent, so two threads racing here only build equal arrays.
    do Shape.checkRank shape
    let numel = if isNull data then Shape.numel shape else data.Length
    let uniform = isNull data && view.IsNone
    let mutable data = data
    // Set when the TensorScope this tensor was made in ends (its array may then belong to another tensor).
    let mutable released = false
    let disposed () =
        raise (ObjectDisposedException("Tensor", sprintf "This tensor (shape %s) was made inside a TensorScope that has ended, so its memory was reused. Keep it with scope.Keep(tensor) before the scope ends to use it afterwards; a scope opened and ended inside a function given to a gradient transform releases what its backward pass reads, so open such a scope around the transform instead." (Shape.show shape)))
    // Every tensor is made through Of, which reports it to the open scope (if any). (A constructor `as this`
    // would make F# check initialisation in every member.)
    static member internal Of(shape: int[], data: double[], fill: double) =
        let t = new Tensor(shape, data, fill, ValueNone, ())
        Storage.adopt t data
        t
    /// A view of `source` over `shape`: element idx is source's row-major element offset + Σ idx·strides (stride 0
    /// along broadcast axes), not made until read.
    static member internal OfView(shape: int[], source: Tensor, offset: int, strides: int[]) =
        let t = new Tensor(shape, null, 0.0, ValueSome(struct (source, offset, strides)), ())
        Storage.adopt t null
        t
    static member internal Of(shape: int[], data: double[]) = Tensor.Of(shape, data, 0.0)
    member internal _.ShapeArray = shape
    member internal t.Data =
        // Read once: a release on another thread may null the field between a check and a second read.
        let d = data
        if isNull d then
            // Only a uniform tensor or a view is made without its array; a null array otherwise means
            // released, even if this thread does not see `released` yet.
            if released || (not uniform && view.IsNone) then disposed ()
            Limits.check (fun () -> sprintf "A tensor of shape %s" (Shape.show shape)) (float numel)
            // One thread makes the array (it may be the scope's, held by this tensor alone).
            let makeOnce (gate: obj) (fillIn: double[] -> unit) =
                lock gate (fun () ->
                    let d = data
                    if not (isNull d) then d
                    else
                        if released then disposed ()
                        let a = Storage.uninitFor t numel fillIn
                        if isNull a then disposed ()
                        data <- a
                        // Released meanwhile: the array may be the pool's again.
                        if released then
                            data <- null
                            disposed ()
                        a)
            // A uniform tensor's from the scope's pool as a view's (a uniform adjoint read by an op over 10⁶ elements:
            // a fresh array's page faults cost more than the op).
            if uniform then makeOnce shape (fun a -> Array.Fill(a, fill))
            else
                let struct (source: Tensor, offset, strides) = view.Value
                makeOnce strides (fun a ->
                    Strided.copy source.Data offset strides a 0 (Shape.strides shape) shape
                    source.CheckLive())
        else d
    /// Whether every element is known to equal one value (without reading the elements).
    member internal _.IsUniform =
        if released then disposed ()
        uniform
    /// The tensor this one views, the offset and the strides into its elements, while this one is not made.
    member internal _.ViewOf =
        if released then disposed ()
        if isNull data then view else ValueNone
    /// Whether the scope this tensor was made in has ended (then every read throws ObjectDisposedException).
    member _.IsReleased = released
    /// Throws ObjectDisposedException if the tensor has been released. Called after a read has used the elements:
    /// a read racing the end of the tensor's scope may have seen the array after the pool handed it to another
    /// tensor, and must fail rather than return that tensor's values. (The release is published under the pool's
    /// lock before the array can be handed on; the barrier orders this check after the reads it guards.)
    member internal _.CheckLive() =
        Threading.Interlocked.MemoryBarrier()
        if released then disposed ()
        // A view not yet made is read in place from its source's array: the source's release counts too (a view
        // made where the source's scope does not flow is not released with it).
        if isNull data then
            match view with
            | ValueSome struct (source: Tensor, _, _) -> source.CheckLive()
            | ValueNone -> ()
    // Scope bookkeeping (see Storage): the scope this tensor is registered in and the lease of its array.
    [<DefaultValue>] val mutable private scope: ScopeState
    [<DefaultValue>] val mutable private lease: Lease
    [<DefaultValue>] val mutable private next: IScoped
    // The keeper of a recycled plain result's array: reachable from this tensor (and others over the array) only.
    [<DefaultValue>] val mutable private keeper: Keeper
    interface IScoped with
        member t.Scope with get () = t.scope and set v = t.scope <- v
        member t.Lease with get () = t.lease and set v = t.lease <- v
        member t.Next with get () = t.next and set v = t.next <- v
        member _.Release() =
            released <- true
            data <- null
        member t.Keeper with get () = t.keeper and set v = t.keeper <- v
        member _.Raw = data
    /// That value, for a uniform tensor.
    member internal _.Fill = fill
    /// The shape (a fresh copy).
    member _.Shape = Array.copy shape
    member _.Rank = shape.Length
    member _.Numel = numel
    /// Element at a full index.
    member t.Item
        with get (index: int[]) =
            if index.Length <> shape.Length then
                raise (ShapeException(sprintf "Index %s has %d entries; the tensor has rank %d." (Shape.show index) index.Length shape.Length, "index"))
            let mutable off = 0
            for i in 0 .. index.Length - 1 do
                if index.[i] < 0 || index.[i] >= shape.[i] then
                    raise (ShapeException(sprintf "Index %d at axis %d is outside the dimension of size %d (shape %s)." index.[i] i shape.[i] (Shape.show shape), "index"))
                off <- off * shape.[i] + index.[i]
            let v = t.Data.[off]
            t.CheckLive()
            v
    /// A row-major copy of the elements.
    member t.ToArray() =
        let a = Array.copy t.Data
        t.CheckLive()
        a
    /// The array, or null while it is not made (a uniform tensor, a view) or after a release.
    member internal _.RawData = data
    /// Element `flat` (row-major) without making an array: a uniform tensor's value, or a view's element read from
    /// its source (through views of views, by a loop), so that printing or hashing a broadcast of 10⁹ elements reads
    /// the few it shows. Callers check `CheckLive` after their reads, as for `Data`.
    member internal t.ElementAt(flat: int) : double =
        let mutable cur = t
        let mutable i = flat
        let mutable result = 0.0
        let mutable found = false
        while not found do
            let d = cur.RawData
            if not (isNull d) then
                result <- d.[i]
                found <- true
            elif cur.IsUniform then
                result <- cur.Fill
                found <- true
            else
                match cur.ViewOf with
                | ValueSome struct (source, offset, strides) ->
                    let sh = cur.ShapeArray
                    let mutable rest = i
                    let mutable o = offset
                    for axis in sh.Length - 1 .. -1 .. 0 do
                        o <- o + (rest % sh.[axis]) * strides.[axis]
                        rest <- rest / sh.[axis]
                    i <- o
                    cur <- source
                // Made meanwhile (read it next time round), or released (Data throws).
                | ValueNone -> cur.Data |> ignore
        result
    /// Whether `other` has this shape and every element pair is `same`: two uniform tensors by their one value, two
    /// made ones over their arrays, otherwise element by element where they are (nothing is made). The rule of both
    /// the structural equality here and the facade's value comparer, which differ only in `same`.
    member internal this.SameElements(other: Tensor, same: Func<double, double, bool>) =
        let result =
            Shape.same other.ShapeArray shape
            && (if numel = 0 then true
                elif other.IsUniform && this.IsUniform then same.Invoke(this.Fill, other.Fill)
                else
                    let a, b = this.RawData, other.RawData
                    let mutable i = 0
                    if not (isNull a) && not (isNull b) then
                        while i < numel && same.Invoke(a.[i], b.[i]) do i <- i + 1
                    else
                        while i < numel && same.Invoke(this.ElementAt i, other.ElementAt i) do i <- i + 1
                    i = numel)
        other.CheckLive()
        this.CheckLive()
        result
    override this.Equals(o) =
        match o with
        | :? Tensor as t -> this.SameElements(t, TensorFormat.SameBitsOrNaN)
        | _ -> false
    override this.GetHashCode() =
        // Shape and the first 16 values (double's hash: every NaN alike and +0 with −0, so it also serves the
        // facade's comparer, whose equality has the zeros equal).
        let mutable h = HashCode()
        for d in shape do h.Add d
        for i in 0 .. min 16 numel - 1 do h.Add(this.ElementAt i)
        this.CheckLive()
        h.ToHashCode()
    override this.ToString() =
        // A debugger shows this: a released tensor says so rather than throwing, and neither a uniform tensor nor a
        // view is made to print the elements shown.
        try
            let text = TensorFormat.format shape this.ElementAt
            this.CheckLive()
            text
        with :? ObjectDisposedException -> sprintf "tensor(released, shape=%s)" (Shape.show shape)

and internal TensorFormat =
    /// Every NaN equals every NaN (whatever its sign and payload); otherwise the same bits (+0 ≠ −0).
    static member val SameBitsOrNaN =
        Func<double, double, bool>(fun x y -> BitConverter.DoubleToInt64Bits x = BitConverter.DoubleToInt64Bits y || (Double.IsNaN x && Double.IsNaN y))
    static member format (shape: int[]) (element: int -> double) =
        let sb = StringBuilder()
        let fmt (v: double) = v.ToString("R", Globalization.CultureInfo.InvariantCulture)
        let count = Shape.numel shape
        // No elements, whatever the other axes' lengths: one bracket pair per row would be as long as those axes.
        if count = 0 then sprintf "tensor([], shape=%s)" (Shape.show shape) else
        let elide = count > 1000
        let shown (edge: int) = shape |> Array.fold (fun p n -> p * float (if n > 2 * edge then 2 * edge + 1 else n)) 1.0
        let edge = if elide && shown 3 > 1000.0 then 1 else 3
        // Many short axes (all of length 2, say) elide nothing, and a deep rank would nest as deep: printed flat
        // instead, the first and last elements in row-major order, so that the text stays short and no recursion
        // goes deeper than 32 axes.
        if (elide && shown edge > 1000.0) || shape.Length > 32 then
            let at (i: int) = fmt (element i)
            let values =
                if count <= 6 then [ for i in 0 .. count - 1 -> at i ]
                else [ yield! [ for i in 0 .. 2 -> at i ]; yield "..."; yield! [ for i in count - 3 .. count - 1 -> at i ] ]
            sprintf "tensor(%s, %s in row-major order, shape=%s)" ("[" + String.Join(", ", values) + "]") (Shape.count (int64 count) "element" "elements") (Shape.show shape)
        else
        let rec go (axis: int) (off: int) (stride: int) =
            if axis = shape.Length then sb.Append(fmt (element off)) |> ignore
            else
                let n = shape.[axis]
                let inner = stride / max 1 n
                sb.Append('[') |> ignore
                let idx =
                    if elide && n > 2 * edge then [ yield! [ 0 .. edge - 1 ]; yield -1; yield! [ n - edge .. n - 1 ] ]
                    else [ 0 .. n - 1 ]
                idx |> List.iteri (fun j i ->
                    if j > 0 then
                        // A row's first element under the one above it, past "tensor(" and the brackets, as NumPy
                        // and PyTorch print.
                        sb.Append(if axis = shape.Length - 1 then ", " else ",\n" + String(' ', "tensor(".Length + axis + 1)) |> ignore
                    if i < 0 then sb.Append("...") |> ignore
                    else go (axis + 1) (off + i * inner) inner)
                sb.Append(']') |> ignore
        // Recursion here is over rank (at most 32), never over data size.
        go 0 0 count
        sprintf "tensor(%s, shape=%s)" (sb.ToString()) (Shape.show shape)

/// Memory reuse for loops of same-shaped work (the counterpart of TorchSharp's dispose scopes). While a scope
/// is open in an execution context (it flows into tasks and Parallel loops started in it), large results come
/// from a pool; when it ends, every tensor made in it is released (reading one then throws
/// ObjectDisposedException) and its memory is reused by later scopes. Keep the results you need with `Keep`.
/// Scopes nest: a kept tensor moves to the enclosing scope, or to the GC when there is none.
[<Sealed>]
type TensorScope internal (state: ScopeState) =
    member internal _.State = state
    /// Lets `t` outlive this scope (it joins the enclosing scope, if any) and returns it. A tensor made
    /// before the scope opened is returned unchanged. Throws ObjectDisposedException after the scope ended.
    member _.Keep(t: Tensor) =
        if isNull (box t) then nullArg "t"
        // A view reads its source, which may not be kept: it is made now instead.
        if t.ViewOf.IsSome then t.Data |> ignore
        Storage.keep state t |> ignore
        t
    /// Ends the scope: releases its tensors and returns their memory to the pool. Ending twice does nothing.
    member _.Dispose() = Storage.exit state
    interface IDisposable with
        member s.Dispose() = s.Dispose()

/// Creation, access and layout of raw tensors. Every function returns a new tensor.
[<RequireQualifiedAccess>]
module Tensor =

    /// Opens a TensorScope in the current execution context: results made until it is disposed reuse pooled
    /// memory and are released when it ends (`use scope = Tensor.scope ()`; keep results with `scope.Keep`).
    let scope () = new TensorScope(Storage.enter ())

    /// Runs a raw function as an op's forward runs (Storage.exitForward): called from outside every op, its
    /// result may be recycled once unreachable; called inside another function or op, nothing changes.
    let inline internal outermost ([<InlineIfLambda>] f: unit -> Tensor) =
        Storage.enterForward ()
        let r =
            try f ()
            with _ ->
                Storage.exitForward null
                reraise ()
        Storage.exitForward r
        r

    let internal wrap (shape: int[]) (data: double[]) = Tensor.Of(shape, data)

    let internal wrapKept (shape: int[]) (data: double[]) =
        let t = Tensor.Of(shape, data)
        Storage.keepIntermediate t
        t

    /// A tensor from row-major values; the values are copied.
    let create (shape: int[]) (values: double[]) =
        if isNull shape then nullArg "shape"
        if isNull values then nullArg "values"
        let n = Shape.numel shape
        if values.Length <> n then
            raise (ShapeException(sprintf "Shape %s needs %s; %d %s given." (Shape.show shape) (Shape.count (int64 n) "value" "values") values.Length (if values.Length = 1 then "was" else "were"), "values"))
        Tensor.Of(Array.copy shape, Array.copy values)

    let scalar (v: double) = Tensor.Of([||], [| v |])
    /// Every element v; the array is made on first read.
    let full (shape: int[]) (v: double) = Tensor.Of(Array.copy shape, null, v)
    let zeros (shape: int[]) = full shape 0.0
    let ones (shape: int[]) = full shape 1.0
    let init (shape: int[]) (f: int -> double) =
        let n = Shape.numel shape
        Limits.check (fun () -> sprintf "A tensor of shape %s" (Shape.show shape)) (float n)
        Tensor.Of(Array.copy shape, Array.init n f)
    let vector (values: double[]) =
        if isNull values then nullArg "values"
        create [| values.Length |] values

    /// Entries uniform in [low, high) from a seeded generator (`SeededUniforms`); finite low ≤ high, checked by the
    /// caller.
    let uniform (seed: int) (low: float) (high: float) (shape: int[]) =
        let n = Shape.numel shape
        Limits.check (fun () -> sprintf "Uniform of shape %s" (Shape.show shape)) (float n)
        let u = SeededUniforms seed
        // high − low overflows for bounds near ±double.MaxValue: then (1 − u)·low + u·high, which stays in range.
        let wide = not (Double.IsFinite(high - low))
        let data =
            Array.init n (fun _ ->
                let v = u.Next()
                let d = if wide then (1.0 - v) * low + v * high else low + (high - low) * v
                // Rounding can reach high when high − low is a few ulps of low: the largest value below it instead.
                if d >= high && high > low then Math.BitDecrement high else d)
        Tensor.Of(Array.copy shape, data)

    /// Standard normal entries from a seeded generator (Box–Muller over `SeededUniforms`).
    let random (seed: int) (shape: int[]) =
        let n = Shape.numel shape
        Limits.check (fun () -> sprintf "A tensor of shape %s" (Shape.show shape)) (float n)
        let u = SeededUniforms seed
        let data = Array.zeroCreate n
        let mutable i = 0
        while i < n do
            let u1 = 1.0 - u.Next()
            let u2 = u.Next()
            let r = sqrt (-2.0 * log u1)
            data.[i] <- r * cos (2.0 * Math.PI * u2)
            if i + 1 < n then data.[i + 1] <- r * sin (2.0 * Math.PI * u2)
            i <- i + 2
        Tensor.Of(Array.copy shape, data)

    let shape (t: Tensor) = t.Shape
    let rank (t: Tensor) = t.Rank
    let numel (t: Tensor) = t.Numel
    let toArray (t: Tensor) = t.ToArray()
    let get (index: int[]) (t: Tensor) =
        if isNull index then nullArg "index"
        t.[index]

    /// The single value of a tensor with one element.
    let item (t: Tensor) =
        if t.Numel <> 1 then
            raise (ShapeException(sprintf "item needs a tensor with one element; shape is %s." (Shape.show t.ShapeArray), "t"))
        let v = t.Data.[0]
        t.CheckLive()
        v

    /// Same elements, new shape; one dimension may be -1 (inferred).
    let reshape (shape: int[]) (t: Tensor) =
        if isNull shape then nullArg "shape"
        let unknown = shape |> Array.filter ((=) -1) |> Array.length
        if unknown > 1 then raise (ShapeException("reshape accepts at most one -1.", "shape"))
        let known = shape |> Array.filter ((<>) -1)
        let resolved =
            if unknown = 0 then shape
            else
                // The known dimensions' product, without a limit: an empty tensor may take dimensions whose product
                // exceeds an array's size ([0, 65536] into [-1, 65536, 65536] is [0, 65536, 65536], as PyTorch's).
                let k = known |> Array.fold (fun p d -> if d < 0 || p = 0L then p else min (p * int64 d) (1L <<< 40)) 1L
                if k = 0L || int64 t.Numel % k <> 0L then
                    raise (ShapeException(sprintf "Cannot reshape %s into %s." (Shape.show t.ShapeArray) (Shape.show shape), "shape"))
                shape |> Array.map (fun d -> if d = -1 then int (int64 t.Numel / k) else d)
        if Shape.numel resolved <> t.Numel then
            raise (ShapeException(sprintf "Cannot reshape %s (%s) into %s (%s)." (Shape.show t.ShapeArray) (Shape.count (int64 t.Numel) "element" "elements") (Shape.show resolved) (Shape.count (int64 (Shape.numel resolved)) "element" "elements"), "shape"))
        if t.IsUniform then Tensor.Of(Array.copy resolved, null, t.Fill)
        else
        match t.ViewOf with
        | ValueSome (struct (source, offset, strides)) when Array.filter ((<>) 1) t.ShapeArray = Array.filter ((<>) 1) resolved ->
            // Axes of length 1 added or removed (stack's unsqueeze of a slice): still a view, not made.
            let kept = [| for d in 0 .. t.Rank - 1 do if t.ShapeArray.[d] <> 1 then yield strides.[d] |]
            let restrided = Array.zeroCreate resolved.Length
            let mutable k = 0
            for d in 0 .. resolved.Length - 1 do
                if resolved.[d] <> 1 then
                    restrided.[d] <- kept.[k]
                    k <- k + 1
            Tensor.OfView(Array.copy resolved, source, offset, restrided)
        | _ ->
            // t stays reachable until the new tensor holds the array (and its keeper, for a recycled result); a
            // scope of t's that ended meanwhile (on another thread) may have pooled the array: refused then, as a
            // read of t would be, rather than returning a live tensor over it.
            let r = Tensor.Of(Array.copy resolved, t.Data)
            t.CheckLive()
            r

    /// Axis i of the result is axis perm.[i] of the input.
    let permute (perm: int[]) (t: Tensor) =
        if isNull perm then nullArg "perm"
        outermost <| fun () ->
        Shape.checkPermutation t.Rank perm
        let st = Shape.strides t.ShapeArray
        let shp = perm |> Array.map (fun p -> t.ShapeArray.[p])
        if perm |> Array.mapi (fun i p -> i = p) |> Array.forall id then t
        elif perm |> Array.filter (fun p -> t.ShapeArray.[p] <> 1) |> Array.pairwise |> Array.forall (fun (p, q) -> p < q) then
            // Only axes of length 1 move ([n, 1] to [1, n]): the elements keep their order, so no copy.
            reshape shp t
        else
            let r = Tensor.Of(shp, Strided.gatherResult t.Data 0 (perm |> Array.map (fun p -> st.[p])) shp)
            t.CheckLive()
            r

    /// Reverses the axes.
    let transpose (t: Tensor) = permute (Array.init t.Rank (fun i -> t.Rank - 1 - i)) t

    /// NumPy broadcast to a target shape.
    /// The tensor whose elements `t` reads, the offset and the strides into them over `target` (t broadcast to
    /// it): through t's own source when t is a view, so views never chain.
    let private viewOf (target: int[]) (t: Tensor) =
        let lead = target.Length - t.Rank
        let struct (source, offset, own) =
            match t.ViewOf with
            | ValueSome v -> v
            | ValueNone -> struct (t, 0, Shape.strides t.ShapeArray)
        struct (source, offset, Array.init target.Length (fun i -> if i < lead || t.ShapeArray.[i - lead] = 1 then 0 else own.[i - lead]))

    let broadcastTo (shape: int[]) (t: Tensor) =
        if isNull shape then nullArg "shape"
        if not (Shape.canBroadcastTo t.ShapeArray shape) then
            raise (ShapeException(sprintf "Shape %s cannot be broadcast to %s." (Shape.show t.ShapeArray) (Shape.show shape), "shape"))
        if Shape.same t.ShapeArray shape then t
        elif t.IsUniform then Tensor.Of(Array.copy shape, null, t.Fill)
        elif t.Numel = 1 then Tensor.Of(Array.copy shape, null, t.Data.[0]) // e.g. a sum's adjoint: uniform, made on first read
        else
            // A view, made on first read: a row sum's adjoint broadcast back costs nothing until someone reads it,
            // and the broadcasting operators read it in place (as TorchSharp's expand).
            let struct (source, offset, strides) = viewOf shape t
            Tensor.OfView(Array.copy shape, source, offset, strides)

    /// Elements start .. start + length − 1 along `axis` (checked by the caller), as a view of t's elements: made
    /// only when read, and read in place by the broadcasting operators.
    let internal narrowView (axis: int) (start: int) (length: int) (t: Tensor) =
        let shape = Array.mapi (fun i d -> if i = axis then length else d) t.ShapeArray
        if t.IsUniform then Tensor.Of(shape, null, t.Fill)
        else
            let struct (source, offset, strides) = viewOf t.ShapeArray t
            Tensor.OfView(shape, source, offset + start * strides.[axis], strides)

    /// Where t's elements are read from: (array, offset, strides) over t's shape, and the tensor that owns the array.
    let private readSite (t: Tensor) =
        if t.IsUniform then struct ([| t.Fill |], 0, Array.zeroCreate t.Rank, t)
        else
            match t.ViewOf with
            | ValueSome (struct (source, offset, strides)) -> struct (source.Data, offset, strides, source)
            | ValueNone -> struct (t.Data, 0, Shape.strides t.ShapeArray, t)


    /// `copyInto`, written around the caches when `stream` (`Strided.copyStreaming`).
    let internal copyIntoStreaming (stream: bool) (t: Tensor) (dst: double[]) (dstOff: int) (dstStrides: int[]) =
        let struct (src, offset, strides, owner) = readSite t
        let shape, ss, ds = Strided.mergeAxes t.ShapeArray strides dstStrides
        if not (Array.contains 0 shape) then Strided.copyStreaming stream src offset ss dst dstOff ds shape
        owner.CheckLive()

    let internal copyInto (t: Tensor) (dst: double[]) (dstOff: int) (dstStrides: int[]) = copyIntoStreaming false t dst dstOff dstStrides

    let internal addInto (t: Tensor) (dst: double[]) (dstOff: int) (dstStrides: int[]) =
        let struct (src, offset, strides, owner) = readSite t
        Strided.addStrided src offset strides dst dstOff dstStrides t.ShapeArray
        owner.CheckLive()

    /// Sum over the given axes (normalised, duplicates rejected); keepDims keeps them as size 1.
    let sumAxes (axes: int[]) (keepDims: bool) (t: Tensor) =
        outermost <| fun () ->
        let axes = Shape.normaliseAxes t.Rank axes
        // Every axis (a loss's sum): one run over the data as it is, no permutation to work out.
        if axes.Length = t.Rank && not keepDims then
            let total = Reductions.sumRuns t.Data 1 t.Numel
            t.CheckLive()
            Tensor.Of([||], total)
        else
        let kept = [| 0 .. t.Rank - 1 |] |> Array.filter (fun a -> not (Array.contains a axes))
        let outer = kept |> Array.map (fun a -> t.ShapeArray.[a])
        let outShape = if keepDims then t.ShapeArray |> Array.mapi (fun i d -> if Array.contains i axes then 1 else d) else outer
        // No elements: every sum is +0. The products of the summed or kept axes alone may exceed an array's size (an
        // empty [0, 65536, 65536] summed over its last two), so they are not formed.
        if t.Numel = 0 then zeros outShape else
        let sorted = Array.sort axes
        let inner = Shape.numel (axes |> Array.map (fun a -> t.ShapeArray.[a]))
        let sums =
            if inner = 1 && axes.Length > 0 then
                // Every summed axis has length 1: each sum is one element from +0 (the bits the kernels below give),
                // one vector pass (the kernels took a call per element: 1.6 ms for 2^20 runs of one).
                let src = t.Data
                let dst = Strided.fresh src.Length
                Strided.chunked src.Length (fun lo hi -> TensorPrimitives.Add(ReadOnlySpan(src, lo, hi - lo), 0.0, Span(dst, lo, hi - lo)))
                dst
            elif sorted.Length > 0 && sorted.[sorted.Length - 1] - sorted.[0] = sorted.Length - 1 then
                // One block of axes (leading ones: a broadcast's adjoint): summed where the data is, no copy.
                let s = t.ShapeArray
                let before = Shape.numel s.[.. sorted.[0] - 1]
                let after = Shape.numel s.[sorted.[sorted.Length - 1] + 1 ..]
                Reductions.sumBlock t.Data before inner after
            else
                // Several blocks: one at a time, in place too.
                Reductions.sumStaged t.Data t.ShapeArray sorted
        t.CheckLive()
        Tensor.Of(outShape, sums)

    /// Sums a broadcast result back to `shape` (the adjoint of broadcastTo).
    let sumTo (shape: int[]) (t: Tensor) =
        if isNull shape then nullArg "shape"
        outermost <| fun () ->
        if Shape.same t.ShapeArray shape then t
        else
            if not (Shape.canBroadcastTo shape t.ShapeArray) then
                raise (ShapeException(sprintf "Shape %s does not broadcast to %s, so it cannot be summed back to it." (Shape.show shape) (Shape.show t.ShapeArray), "shape"))
            let lead = t.Rank - shape.Length
            let axes = [| 0 .. t.Rank - 1 |] |> Array.filter (fun i -> i < lead || (shape.[i - lead] = 1 && t.ShapeArray.[i] <> 1))
            let summed = sumAxes axes true t
            // As in reshape: a scope of the sum's that ended meanwhile (on another thread) may have pooled its array.
            let r = Tensor.Of(Array.copy shape, summed.Data)
            summed.CheckLive()
            r

    let sum (t: Tensor) =
        let s = (Reductions.sumRuns t.Data 1 t.Numel).[0]
        t.CheckLive()
        scalar s

    /// Elementwise map with `f` inlined into the loop (no call per element when `f` is a lambda or a
    /// named function); large tensors are split over the cores (each element is independent).
    let inline internal mapInline ([<InlineIfLambda>] f: double -> double) (t: Tensor) =
        let src = t.Data
        let dst = Strided.fresh src.Length
        Strided.chunked src.Length (fun lo hi -> for i in lo .. hi - 1 do dst.[i] <- f src.[i])
        t.CheckLive()
        Tensor.Of(t.ShapeArray, dst)

    /// Elementwise map; large tensors are split over the cores (each element is independent).
    let map (f: double -> double) (t: Tensor) = outermost (fun () -> mapInline f t)

    /// Elementwise binary map with NumPy broadcasting, `f` inlined into the same-shape loop; large
    /// same-shaped tensors are split over the cores.
    let inline internal map2Inline ([<InlineIfLambda>] f: double -> double -> double) (a: Tensor) (b: Tensor) =
        if Shape.same a.ShapeArray b.ShapeArray then
            let x = a.Data
            let y = b.Data
            let dst = Strided.fresh x.Length
            Strided.chunked x.Length (fun lo hi -> for i in lo .. hi - 1 do dst.[i] <- f x.[i] y.[i])
            a.CheckLive()
            b.CheckLive()
            Tensor.Of(a.ShapeArray, dst)
        else
            let s = Shape.broadcast a.ShapeArray b.ShapeArray
            let a' = broadcastTo s a
            let b' = broadcastTo s b
            let r = Tensor.Of(s, Array.map2 f a'.Data b'.Data)
            // Its own temporaries: a scope of theirs that ended meanwhile (on another thread) may have pooled them.
            a'.CheckLive()
            b'.CheckLive()
            r

    /// Elementwise binary map with NumPy broadcasting; large same-shaped tensors are split over the cores.
    let map2 (f: double -> double -> double) (a: Tensor) (b: Tensor) = outermost (fun () -> map2Inline f a b)

    /// An operand's array and strides over the broadcast shape `s` (0 along the axes it is broadcast over);
    /// a uniform tensor is one element read with every stride 0, so it is never made.
    let private broadcastView (s: int[]) (t: Tensor) =
        if t.IsUniform then struct ([| t.Fill |], 0, Array.zeroCreate s.Length)
        else
            // A view is read in place, through its source.
            let struct (source, offset, strides) = viewOf s t
            struct (source.Data, offset, strides)

    /// Whether t is a view not yet made.
    let private isView (t: Tensor) = t.ViewOf.IsSome

    /// A same-shaped binary op by a vectorised span kernel (TensorPrimitives), split over the cores when
    /// large; with broadcasting, the same operator through strides (Broadcast: no broadcast
    /// copy of the smaller operand). IEEE results, identical to the scalar operators.
    /// `streaming`: a large result may go around the caches (`Strided.streams`), which pays where the backward pass
    /// reads the operands again (a product's VJP does); a sum's and a difference's VJPs read neither, and whether
    /// theirs should depends on the CPU (`Tuning.StreamSums`).
    let private zip (streaming: bool) (kernel: SpanZip) (op: Broadcast.Op) (a: Tensor) (b: Tensor) =
        if Shape.same a.ShapeArray b.ShapeArray && not (isView a || isView b) then
            let x = a.Data
            let y = b.Data
            // Every element is written below.
            let dst = Strided.fresh x.Length
            Strided.chunkedStreaming ((streaming && Strided.streams x.Length) || Strided.streamsPlain x.Length) x.Length (fun lo hi -> kernel.Invoke(ReadOnlySpan(x, lo, hi - lo), ReadOnlySpan(y, lo, hi - lo), Span(dst, lo, hi - lo)))
            a.CheckLive()
            b.CheckLive()
            Tensor.Of(a.ShapeArray, dst)
        else
            let s = Shape.broadcast a.ShapeArray b.ShapeArray
            let struct (da, oa, sa) = broadcastView s a
            let struct (db, ob, sb) = broadcastView s b
            let shape, sa, sb = Strided.mergeAxes s sa sb
            // Every element is written by the kernel.
            let dst = Strided.fresh (Shape.numel s)
            Broadcast.apply op da oa sa db ob sb dst shape
            a.CheckLive()
            b.CheckLive()
            Tensor.Of(s, dst)

    let private unaryVector (kernel: SpanMap) (t: Tensor) =
        let x = t.Data
        let dst = Strided.fresh x.Length
        Strided.chunkedStreaming (Strided.streams x.Length) x.Length (fun lo hi -> kernel.Invoke(ReadOnlySpan(x, lo, hi - lo), Span(dst, lo, hi - lo)))
        t.CheckLive()
        Tensor.Of(t.ShapeArray, dst)

    let add a b = outermost <| fun () -> zip Functional.Kernels.Tuning.StreamSums (SpanZip(fun x y d -> TensorPrimitives.Add(x, y, d))) Broadcast.Op.Add a b
    let sub a b = outermost <| fun () -> zip Functional.Kernels.Tuning.StreamSums (SpanZip(fun x y d -> TensorPrimitives.Subtract(x, y, d))) Broadcast.Op.Subtract a b
    /// a·b elementwise. A uniform factor of 1 (a sum's adjoint, say) returns the other operand itself:
    /// x·1 = x exactly, and tensors are immutable, so sharing is safe.
    let mul (a: Tensor) (b: Tensor) =
        if a.IsUniform && a.Fill = 1.0 && Shape.same a.ShapeArray b.ShapeArray then b
        elif b.IsUniform && b.Fill = 1.0 && Shape.same a.ShapeArray b.ShapeArray then a
        else outermost <| fun () -> zip true (SpanZip(fun x y d -> TensorPrimitives.Multiply(x, y, d))) Broadcast.Op.Multiply a b
    let div a b = outermost <| fun () -> zip true (SpanZip(fun x y d -> TensorPrimitives.Divide(x, y, d))) Broadcast.Op.Divide a b
    /// −x and k·x. Of a uniform tensor (a sum's adjoint, say) the result is uniform too, the same value per element:
    /// reading its elements would first make them in a fresh array (`(0.5·x).Sum()` fwd+bwd over 10⁶: 4.4 ms).
    let neg (t: Tensor) =
        if t.IsUniform then Tensor.Of(Array.copy t.ShapeArray, null, -t.Fill)
        else outermost <| fun () -> unaryVector (SpanMap(fun x d -> TensorPrimitives.Negate(x, d))) t
    let scale (k: double) (t: Tensor) =
        if t.IsUniform then Tensor.Of(Array.copy t.ShapeArray, null, t.Fill * k)
        else outermost <| fun () -> unaryVector (SpanMap(fun x d -> TensorPrimitives.Multiply(x, k, d))) t
    /// √x elementwise, vectorised (IEEE square roots are correctly rounded, so the same bits as Math.Sqrt; the
    /// scalar loop took 2.5 ns per element, the vector one 0.6).
    let internal sqrtElements t = unaryVector (SpanMap(fun x d -> TensorPrimitives.Sqrt(x, d))) t

    /// Σ a·b over all elements of same-shaped tensors: each product rounded, then summed in `sum`'s order as it is
    /// made (the bits of sum (mul a b) without storing the products, and an error growing like log n; one running
    /// sum grew linearly and waited on each addition).
    let dot (a: Tensor) (b: Tensor) =
        if not (Shape.same a.ShapeArray b.ShapeArray) then
            raise (ShapeException(sprintf "dot needs equal shapes; got %s and %s." (Shape.show a.ShapeArray) (Shape.show b.ShapeArray), "b"))
        let total = Functional.Kernels.Reduce.Dot(a.Data, 0, b.Data, 0, a.Numel)
        a.CheckLive()
        b.CheckLive()
        total

    /// a − b, 0 wherever they are equal (equal infinities too, whose difference is NaN): the change between two
    /// evaluations, in which what did not move cancels exactly.
    let internal difference (a: Tensor) (b: Tensor) = map2 (fun x y -> if x = y then 0.0 else x - y) a b

    /// Largest |a-b| over same-shaped tensors (NaN if either has NaN at a place; equal infinities differ by 0, as
    /// `closeTo` counts them).
    let maxAbsDiff (a: Tensor) (b: Tensor) =
        if not (Shape.same a.ShapeArray b.ShapeArray) then
            raise (ShapeException(sprintf "Shapes differ: %s and %s." (Shape.show a.ShapeArray) (Shape.show b.ShapeArray), "b"))
        let mutable m = 0.0
        let x, y = a.Data, b.Data
        for i in 0 .. a.Numel - 1 do
            let d = if x.[i] = y.[i] then 0.0 else abs (x.[i] - y.[i])
            if Double.IsNaN d || d > m then m <- d
        a.CheckLive()
        b.CheckLive()
        m

    /// |a − b| ≤ atol + rtol·|b|; an infinity equal only to itself, NaN to nothing.
    let internal closeTo (rtol: double) (atol: double) (a: double) (b: double) =
        a = b || (Double.IsFinite a && Double.IsFinite b && abs (a - b) <= atol + rtol * abs b)

    /// True when every element is `closeTo` its counterpart (shapes must be equal), as NumPy's and PyTorch's allclose.
    let allClose (rtol: double) (atol: double) (a: Tensor) (b: Tensor) =
        // A negative or NaN tolerance would make the comparison pass or fail for no reason of the values'.
        if not (rtol >= 0.0) then invalidArg "rtol" (sprintf "A tolerance must be ≥ 0; got %g." rtol)
        if not (atol >= 0.0) then invalidArg "atol" (sprintf "A tolerance must be ≥ 0; got %g." atol)
        let close =
            Shape.same a.ShapeArray b.ShapeArray
            && Array.forall2 (closeTo rtol atol) a.Data b.Data
        a.CheckLive()
        b.CheckLive()
        close
