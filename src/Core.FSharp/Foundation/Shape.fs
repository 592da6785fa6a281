namespace Functional.Core

open System
open Functional

/// Shapes are int arrays, row-major. These helpers never mutate their arguments.
[<RequireQualifiedAccess>]
module internal Shape =

    // Invariant: some cultures write a negative number with U+2212 (−3), which no other message here does.
    let show (shape: int[]) = "[" + String.Join(", ", shape |> Array.map (fun (d: int) -> d.ToString(Globalization.CultureInfo.InvariantCulture))) + "]"

    /// "1 value", "3 values": a count with its noun in the right number, for messages.
    let count (n: int64) (singular: string) (plural: string) = if n = 1L then "1 " + singular else sprintf "%d %s" n plural

    /// Equal shapes. (F#'s `=` on arrays goes through generic equality, measurable on small tensors.)
    let same (a: int[]) (b: int[]) = obj.ReferenceEquals(a, b) || MemoryExtensions.SequenceEqual(ReadOnlySpan<int>(a), ReadOnlySpan<int>(b))

    /// The most elements a .NET array of doubles can hold (Array.MaxLength: 2,147,483,591, not 2^31 − 1).
    let maxElements = Array.MaxLength

    /// The most axes a tensor may have (NumPy's limit too): work over a shape's axes is linear or quadratic in their
    /// count, and a shape of a million ones has one element.
    let maxRank = 64

    /// Refuses a shape of more than `maxRank` axes.
    let checkRank (shape: int[]) =
        if shape.Length > maxRank then
            raise (ShapeException(sprintf "A shape of %d axes; a tensor has at most %d (as NumPy's)." shape.Length maxRank, "shape"))

    /// Element count, with overflow detected rather than wrapped, and no more than an array can hold.
    let numel (shape: int[]) =
        if isNull shape then nullArg "shape"
        let mutable n = 1L
        let mutable zero = false
        for d in shape do
            if d < 0 then raise (ShapeException(sprintf "Negative dimension %d in shape %s." d (show shape), "shape"))
            if d = 0 then zero <- true
        // A zero anywhere makes the count 0, however large the dimensions before it.
        if zero then 0
        else
            for d in shape do
                // Checked before the product can overflow: both factors are below 2^31 here.
                n <- n * int64 d
                if n > int64 maxElements then
                    raise (ShapeException(sprintf "Shape %s has more elements than a .NET array of doubles can hold (%d)." (show shape) maxElements, "shape"))
            int n

    /// Row-major strides of a contiguous tensor.
    let strides (shape: int[]) =
        let s = Array.zeroCreate shape.Length
        let mutable acc = 1
        for i in shape.Length - 1 .. -1 .. 0 do
            s.[i] <- acc
            acc <- acc * shape.[i]
        s

    /// NumPy broadcasting of two shapes; a failure names parameter `name` (the operand whose shape does not fit).
    let broadcastAs (name: string) (a: int[]) (b: int[]) =
        let r = max a.Length b.Length
        Array.init r (fun i ->
            let da = if i < r - a.Length then 1 else a.[i - (r - a.Length)]
            let db = if i < r - b.Length then 1 else b.[i - (r - b.Length)]
            if da = db then da
            elif da = 1 then db
            elif db = 1 then da
            else raise (ShapeException(sprintf "Shapes %s and %s cannot be broadcast: dimension %d has sizes %d and %d." (show a) (show b) i da db, name)))

    /// NumPy broadcasting of two operands' shapes; a failure names the second, "b".
    let broadcast (a: int[]) (b: int[]) = broadcastAs "b" a b

    /// True when `source` broadcasts to `target` (NumPy rules, one direction).
    let canBroadcastTo (source: int[]) (target: int[]) =
        source.Length <= target.Length
        && Array.forall2 (fun s t -> s = t || s = 1) source target.[target.Length - source.Length ..]

    /// Checks a permutation of 0..rank-1.
    let checkPermutation (rank: int) (perm: int[]) =
        if perm.Length <> rank then
            raise (ShapeException(sprintf "Permutation %s has %d entries; the tensor has rank %d." (show perm) perm.Length rank, "perm"))
        let seen = Array.zeroCreate rank
        for p in perm do
            if p < 0 || p >= rank || seen.[p] then
                raise (ShapeException(sprintf "%s is not a permutation of 0..%d." (show perm) (rank - 1), "perm"))
            seen.[p] <- true

    /// Normalises axes (negative counts from the end), rejecting out-of-range and duplicates; a failure names
    /// parameter `name`.
    let normaliseAxesAs (name: string) (rank: int) (axes: int[]) =
        if isNull axes then nullArg name
        let out = Array.zeroCreate axes.Length
        for i in 0 .. out.Length - 1 do
            out.[i] <- if axes.[i] < 0 then axes.[i] + rank else axes.[i]
            if out.[i] < 0 || out.[i] >= rank then
                raise (ShapeException(sprintf "Axis %d is out of range for rank %d." axes.[i] rank, name))
            for j in 0 .. i - 1 do
                if out.[j] = out.[i] then raise (ShapeException(sprintf "Axis %d is given twice." axes.[i], name))
        out

    /// `normaliseAxesAs` for a parameter named "axes".
    let normaliseAxes (rank: int) (axes: int[]) = normaliseAxesAs "axes" rank axes

/// Process-wide resource limits, checked before anything is allocated.
[<RequireQualifiedAccess>]
module Limits =

    /// Results and intermediates larger than this many bytes are refused with a MemoryLimitException before
    /// anything is allocated. A process-wide setting (set it at start-up); 8 GiB by default.
    let mutable memoryLimitBytes = 8L * 1024L * 1024L * 1024L

    /// How long, in milliseconds, the library's worker threads keep spinning for the next operation large enough to
    /// split over the cores before they sleep, so that one following within that time starts on every core at once
    /// (a sleeping thread-pool worker was seen waking up to 4 ms late on a VM). The spinning yields the core to any
    /// other thread ready to run on it. 20 by default; 0 sends every split to the .NET thread pool. Results are the
    /// same either way. A process-wide setting.
    let workerSpinMilliseconds () = Functional.Kernels.Tuning.SpinMs

    /// Sets `workerSpinMilliseconds`: from 0 to 1,000 (ArgumentOutOfRangeException otherwise, NaN included).
    let setWorkerSpinMilliseconds (milliseconds: float) =
        if not (milliseconds >= 0.0 && milliseconds <= 1000.0) then
            raise (ArgumentOutOfRangeException("milliseconds", milliseconds.ToString("R", Globalization.CultureInfo.InvariantCulture), "The worker threads' spin must be from 0 to 1,000 milliseconds."))
        Functional.Kernels.Tuning.SpinMs <- milliseconds

    /// Whether `elements` doubles exceed a memory limit of `limit` bytes or what an array can hold.
    let internal exceedsUnder (limit: int64) (elements: float) = elements * 8.0 > float limit || elements > float Shape.maxElements

    /// Whether `elements` doubles exceed the memory limit or what an array can hold.
    let internal exceeds (elements: float) = exceedsUnder memoryLimitBytes elements

    /// Refuses `elements` doubles (as a float: counts may exceed any integer type) for what `describe` names (made
    /// only on refusal: this runs on every result), when they exceed the memory limit or what an array can hold.
    let internal check (describe: unit -> string) (elements: float) =
        let bytes = elements * 8.0
        if exceeds elements then
            raise (MemoryLimitException(sprintf "%s needs %.0f elements (%.0f bytes); the limit is %d bytes (Limits.memoryLimitBytes) and an array holds at most %d elements." (describe ()) elements bytes memoryLimitBytes Shape.maxElements, int64 (min bytes 9.2e18), memoryLimitBytes))
