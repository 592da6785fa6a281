namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop

/// Softmax and log-softmax, forward and VJP, along an axis that is not the last: src as outer × mid × inner, the
/// reduction over mid lane-wise across inner. Each segment of inner positions is reduced over mid in
/// Reduce.SumMiddle's order (blocks of rows in order from +0, their sums pairwise: `Reduce.AfterRow` after each
/// row), and everything else is elementwise: the very operations of Softmax's separate passes, so the same bits
/// (tested). A task streams through its segment of each of the mid rows (contiguous, `inner` apart), keeping
/// per-position state (maximum, sum) and one row's intermediates in scratch of the segment's width; the result
/// itself holds e between passes. (Blocks of 64 positions gathered into mid × 64 scratch stalled on the strided
/// loads: perf put most samples on them, and the channel softmax ran at half the last axis's speed.) The row
/// steps it shares (lanes' width, the maxima's drop, ln of a count plus a sum) are SoftmaxVector's.
module internal SoftmaxMiddleVector =
    /// One task's scratch, each of the segment's width: a row's intermediates (two) and per position (two), and the
    /// sums' pairwise counter (`Reduce.MiddleLevels` mid rows of the width; empty when mid is one block).
    type private MiddleScratch = { Row: double[]; Row2: double[]; Acc: double[]; Sums: double[]; Levels: double[] }

    /// Positions per segment: 2,048 (a 16 KB run of each row) measured 10-20 % faster than 512 and than 4,096 (the
    /// VJPs; the forward passes the same).
    let private segmentWidth = 2048

    /// Tasks of one outer index and one segment of up to `width` inner positions, over the cores for large
    /// tensors; `body o t0 t1 s` gets scratch of its own. A position's result does not depend on the segment it
    /// falls in (every step is elementwise across positions, with the same operations in lanes and tails).
    let private middleSegments (width: int) (outer: int) (mid: int) (inner: int) (body: int -> int -> int -> MiddleScratch -> unit) =
        let segments = Functional.Kernels.Fork.Pieces(inner, width)
        let tasks = outer * segments
        let run (lo: int) (hi: int) =
            let levels = Functional.Kernels.Reduce.MiddleLevels mid * width
            let s = { Row = Storage.rentScratch width; Row2 = Storage.rentScratch width; Acc = Storage.rentScratch width
                      Sums = Storage.rentScratch width; Levels = (if levels > 0 then Storage.rentScratch levels else Array.empty) }
            try
                for task in lo .. hi - 1 do
                    let t0 = (task % segments) * width
                    body (task / segments) t0 (min inner (t0 + width)) s
            finally
                for a in [| s.Row; s.Row2; s.Acc; s.Sums |] do Storage.returnScratch a
                if s.Levels.Length > 0 then Storage.returnScratch s.Levels
        let total = int64 outer * int64 mid * int64 inner
        // Segments per job: eight jobs per core when large, one per core when mid-sized, else one job (a segment's
        // positions are one job's, so the same bits either way).
        let per =
            if tasks < 2 then tasks
            elif total >= (1L <<< 18) then max 1 (tasks / (8 * Functional.Kernels.Fork.Cores))
            elif Functional.Kernels.Fork.SplitsCostly total then Functional.Kernels.Fork.Pieces(tasks, Functional.Kernels.Fork.Cores)
            else tasks
        if per >= tasks then run 0 tasks
        else Functional.Kernels.Fork.ForPieces(tasks, per, fun lo hi -> run lo hi)

    // Elementwise steps over w positions through pointers, four lanes at a time (elementwise, so the same bits
    // at any width); dst may be a source (each position is read before it is written).

    /// mx[t] = a[t] where that is greater (NaN never is).
    let private maxInto (a: nativeptr<float>) (mx: nativeptr<float>) (w: int) =
        let mutable t = 0
        if SoftmaxVector.wideSteps () then
            while t <= w - 8 do
                let v = Vector512.Load(NativePtr.add a t)
                let acc = Vector512.Load(NativePtr.add mx t)
                Vector512.Store(Vector512.ConditionalSelect(Vector512.GreaterThan(v, acc), v, acc), NativePtr.add mx t)
                t <- t + 8
        if Cpu.v256 then
            while t <= w - 4 do
                let v = Vector256.Load(NativePtr.add a t)
                let acc = Vector256.Load(NativePtr.add mx t)
                Vector256.Store(Vector256.ConditionalSelect(Vector256.GreaterThan(v, acc), v, acc), NativePtr.add mx t)
                t <- t + 4
        while t < w do
            let v = NativePtr.get a t
            if v > NativePtr.get mx t then NativePtr.set mx t v
            t <- t + 1

    /// dst[t] = (a[t] − m[t]) − l[t]: log-softmax's last step per position, the same bits as two subtractions; with
    /// `stream` around the caches, the positions before the first aligned lane one by one (the caller fences).
    let private differenceEachInto (a: nativeptr<float>) (m: nativeptr<float>) (l: nativeptr<float>) (dst: nativeptr<float>) (w: int) (stream: bool) =
        ElementaryVector.storeEach stream dst w (fun t -> (NativePtr.get a t - NativePtr.get m t) - NativePtr.get l t)
            (fun t -> (Vector512.Load(NativePtr.add a t) - Vector512.Load(NativePtr.add m t)) - Vector512.Load(NativePtr.add l t))
            (fun t -> (Vector256.Load(NativePtr.add a t) - Vector256.Load(NativePtr.add m t)) - Vector256.Load(NativePtr.add l t))

    /// sums[t] = sums[t] + a[t].
    let private addInto (sums: nativeptr<float>) (a: nativeptr<float>) (w: int) =
        ElementaryVector.storeEach false sums w (fun t -> NativePtr.get sums t + NativePtr.get a t)
            (fun t -> Vector512.Load(NativePtr.add sums t) + Vector512.Load(NativePtr.add a t))
            (fun t -> Vector256.Load(NativePtr.add sums t) + Vector256.Load(NativePtr.add a t))

    /// dst[t] = e[t] / sums[t]; with `stream` around the caches, the positions before the first aligned lane one
    /// by one (the same division; the caller fences).
    let private divInto (e: nativeptr<float>) (sums: nativeptr<float>) (dst: nativeptr<float>) (w: int) (stream: bool) =
        ElementaryVector.storeEach stream dst w (fun t -> NativePtr.get e t / NativePtr.get sums t)
            (fun t -> Vector512.Load(NativePtr.add e t) / Vector512.Load(NativePtr.add sums t))
            (fun t -> Vector256.Load(NativePtr.add e t) / Vector256.Load(NativePtr.add sums t))

    /// For one row x (at `row`) of a segment with per-position shifts mx and its exponentials e (at `off`): the
    /// maxima's e zeroed and counted into counts, the others refined (`dropLanes`), and each result added to sums,
    /// in one pass (the same bits as the drop and the sum as separate passes).
    let private dropAndAddInto (px: nativeptr<float>) (pmx: nativeptr<float>) (pe: nativeptr<float>) (pc: nativeptr<float>) (psum: nativeptr<float>) (row: int) (off: int) (w: int) =
        let mutable t = 0
        if SoftmaxVector.wideSteps () then
            while t <= w - 8 do
                let vx = Vector512.Load(NativePtr.add px (row + t))
                let vm = Vector512.Load(NativePtr.add pmx t)
                let struct (v, isMax) = SoftmaxVector.dropLanes8 vx vm (vx - vm) (Vector512.Load(NativePtr.add pe (off + t)))
                Vector512.Store(v, NativePtr.add pe (off + t))
                Vector512.Store(Vector512.Load(NativePtr.add pc t) + isMax, NativePtr.add pc t)
                Vector512.Store(Vector512.Load(NativePtr.add psum t) + v, NativePtr.add psum t)
                t <- t + 8
        if Cpu.v256 then
            while t <= w - 4 do
                let vx = Vector256.Load(NativePtr.add px (row + t))
                let vm = Vector256.Load(NativePtr.add pmx t)
                let struct (v, isMax) = SoftmaxVector.dropLanes vx vm (vx - vm) (Vector256.Load(NativePtr.add pe (off + t)))
                Vector256.Store(v, NativePtr.add pe (off + t))
                Vector256.Store(Vector256.Load(NativePtr.add pc t) + isMax, NativePtr.add pc t)
                Vector256.Store(Vector256.Load(NativePtr.add psum t) + v, NativePtr.add psum t)
                t <- t + 4
        while t < w do
            let x = NativePtr.get px (row + t)
            let m = NativePtr.get pmx t
            let h = x - m
            if h = 0.0 then NativePtr.set pc t (NativePtr.get pc t + 1.0)
            let v = SoftmaxVector.dropOne x m h (NativePtr.get pe (off + t))
            NativePtr.set pe (off + t) v
            NativePtr.set psum t (NativePtr.get psum t + v)
            t <- t + 1

    /// ln(c + s) per position of a segment (`lnCountPlus`), c in counts and s in sums, into sums: the TwoSum pairs
    /// first, then the logarithms of the whole segment at once (vector lanes, the bits of logOne), then the
    /// correction; lnU is scratch. counts is overwritten.
    let private lnCountPlusEach (counts: double[]) (sums: double[]) (lnU: double[]) (w: int) =
        use pc = fixed counts
        use ps = fixed sums
        use pl = fixed lnU
        let mutable t = 0
        if SoftmaxVector.wideSteps () then
            while t <= w - 8 do
                let struct (u, lo) = SoftmaxVector.countPlus (Vector512.Load(NativePtr.add pc t)) (Vector512.Load(NativePtr.add ps t))
                Vector512.Store(u, NativePtr.add ps t)
                Vector512.Store(lo, NativePtr.add pc t)
                t <- t + 8
        if Cpu.v256 then
            while t <= w - 4 do
                let struct (u, lo) = SoftmaxVector.countPlus (Vector256.Load(NativePtr.add pc t)) (Vector256.Load(NativePtr.add ps t))
                Vector256.Store(u, NativePtr.add ps t)
                Vector256.Store(lo, NativePtr.add pc t)
                t <- t + 4
        while t < w do
            let struct (u, lo) = SoftmaxVector.countPlus (NativePtr.get pc t) (NativePtr.get ps t)
            NativePtr.set ps t u
            NativePtr.set pc t lo
            t <- t + 1
        LogVector.logInto sums lnU 0 w
        t <- 0
        if SoftmaxVector.wideSteps () then
            while t <= w - 8 do
                Vector512.Store(SoftmaxVector.lnOfPairLanes8 (Vector512.Load(NativePtr.add ps t)) (Vector512.Load(NativePtr.add pc t)) (Vector512.Load(NativePtr.add pl t)), NativePtr.add ps t)
                t <- t + 8
        if Cpu.v256 then
            while t <= w - 4 do
                Vector256.Store(SoftmaxVector.lnOfPairLanes (Vector256.Load(NativePtr.add ps t)) (Vector256.Load(NativePtr.add pc t)) (Vector256.Load(NativePtr.add pl t)), NativePtr.add ps t)
                t <- t + 4
        while t < w do
            NativePtr.set ps t (SoftmaxVector.lnOfPair (NativePtr.get ps t) (NativePtr.get pc t) (NativePtr.get pl t))
            t <- t + 1

    /// For the segment of src at `origin`: the shift per position into s.Acc (NaN skipped, infinite → 0), each
    /// row m's e = e^(x − shift) into `e` at `at m`, and s.Sums[t] = Σ_m e (in Reduce.SumMiddle's order).
    /// With `counts` (not null), the maxima's e (exactly 1) are zeroed before they are summed and counted there,
    /// and the others refined (`refined`).
    let private middleExp (src: double[]) (origin: int) (mid: int) (inner: int) (w: int) (s: MiddleScratch) (e: double[]) (at: int -> int) (counts: double[]) =
        use px = fixed src
        use pmx = fixed s.Acc
        use pe = fixed e
        use psum = fixed s.Sums
        use pc = fixed counts
        use pl = fixed s.Levels
        Array.Fill(s.Acc, Double.NegativeInfinity, 0, w)
        for m in 0 .. mid - 1 do maxInto (NativePtr.add px (origin + m * inner)) pmx w
        for t in 0 .. w - 1 do
            if Double.IsInfinity s.Acc.[t] then s.Acc.[t] <- 0.0
        Array.Fill(s.Sums, 0.0, 0, w)
        if not (isNull counts) then Array.Fill(counts, 0.0, 0, w)
        let mutable count = 0
        for m in 0 .. mid - 1 do
            ElementaryVector.expShiftedEachInto src (origin + m * inner) (origin + m * inner + w) s.Acc e (at m)
            if isNull counts then addInto psum (NativePtr.add pe (at m)) w
            else dropAndAddInto px pmx pe pc psum (origin + m * inner) (at m) w
            count <- Functional.Kernels.Reduce.AfterRow(psum, pl, w, m, mid, count)

    /// Whether a large plain result goes around the caches (`Strided.streamsPlainRuns`: its array is in none),
    /// written in runs of a segment's width.
    let private streams (length: int) (inner: int) = Strided.streamsPlainRuns length (min inner segmentWidth) && Sse.IsSupported

    /// Softmax along the middle axis: y = e / Σe, e = e^(x − max).
    let softmaxMiddle (src: double[]) (outer: int) (mid: int) (inner: int) =
        let dst = Strided.fresh src.Length
        // A large plain result goes around the caches, so e waits in scratch of mid rows of the segment (at most
        // 512 KB: narrower segments for a longer axis; none past 256 rows), never read back from the result.
        let stream = streams src.Length inner && mid > 0 && mid <= 256
        let width = if stream then min segmentWidth ((65536 / mid) / 8 * 8) else segmentWidth
        middleSegments width outer mid inner (fun o t0 t1 s ->
            let w = t1 - t0
            let origin = o * mid * inner + t0
            use pd = fixed dst
            use psum = fixed s.Sums
            if stream then
                let e = Storage.rentScratch (mid * w)
                try
                    middleExp src origin mid inner w s e (fun m -> m * w) null
                    use pe = fixed e
                    for m in 0 .. mid - 1 do
                        divInto (NativePtr.add pe (m * w)) psum (NativePtr.add pd (origin + m * inner)) w true
                    Sse.StoreFence()
                finally
                    Storage.returnScratch e
            else
                // e waits in the result's own rows until the sums are complete.
                middleExp src origin mid inner w s dst (fun m -> origin + m * inner) null
                for m in 0 .. mid - 1 do
                    let row = NativePtr.add pd (origin + m * inner)
                    divInto row psum row w false)
        dst

    /// Log-softmax along the middle axis: y = (x − max) − ln(c + Σ'), as `logSoftmaxRows` per position.
    let logSoftmaxMiddle (src: double[]) (outer: int) (mid: int) (inner: int) =
        let dst = Strided.fresh src.Length
        let stream = streams src.Length inner
        middleSegments segmentWidth outer mid inner (fun o t0 t1 s ->
            let w = t1 - t0
            let origin = o * mid * inner + t0
            // Only the sums of e are needed: each row's e goes to s.Row, which stays in L1, and s.Row2 counts the
            // maxima per position.
            middleExp src origin mid inner w s s.Row (fun _ -> 0) s.Row2
            // ln(c + Σ') per position, into s.Sums.
            lnCountPlusEach s.Row2 s.Sums s.Row w
            use pd = fixed dst
            use px = fixed src
            use pmx = fixed s.Acc
            use psum = fixed s.Sums
            for m in 0 .. mid - 1 do
                differenceEachInto (NativePtr.add px (origin + m * inner)) pmx psum (NativePtr.add pd (origin + m * inner)) w stream
            if stream then Sse.StoreFence())
        dst

    /// The frame both middle-axis VJPs share: a fresh result z and, for each segment of positions, `body z stream
    /// origin w s` with whether z goes around the caches (`streams`), the segment's first index, its width and
    /// scratch whose sums start at 0.
    let inline private middleVjp (length: int) (outer: int) (mid: int) (inner: int) ([<InlineIfLambda>] body: double[] -> bool -> int -> int -> MiddleScratch -> unit) =
        let z = Strided.fresh length
        let stream = streams length inner
        middleSegments segmentWidth outer mid inner (fun o t0 t1 s ->
            Array.Fill(s.Sums, 0.0, 0, t1 - t0)
            body z stream (o * mid * inner + t0) (t1 - t0) s)
        z

    /// Softmax's VJP along the middle axis: z = y·(g − Σ_m g·y).
    let softmaxVjpMiddle (y: double[]) (g: double[]) (outer: int) (mid: int) (inner: int) =
        middleVjp y.Length outer mid inner (fun z stream origin w s ->
            use py = fixed y
            use pg = fixed g
            use pz = fixed z
            use ps = fixed s.Sums
            use pl = fixed s.Levels
            let mutable count = 0
            for m in 0 .. mid - 1 do
                let row = origin + m * inner
                let mutable t = 0
                if SoftmaxVector.wideSteps () then
                    while t <= w - 8 do
                        let p = Vector512.Load(NativePtr.add pg (row + t)) * Vector512.Load(NativePtr.add py (row + t))
                        Vector512.Store(Vector512.Load(NativePtr.add ps t) + p, NativePtr.add ps t)
                        t <- t + 8
                if Cpu.v256 then
                    while t <= w - 4 do
                        let p = Vector256.Load(NativePtr.add pg (row + t)) * Vector256.Load(NativePtr.add py (row + t))
                        Vector256.Store(Vector256.Load(NativePtr.add ps t) + p, NativePtr.add ps t)
                        t <- t + 4
                while t < w do
                    s.Sums.[t] <- s.Sums.[t] + g.[row + t] * y.[row + t]
                    t <- t + 1
                count <- Functional.Kernels.Reduce.AfterRow(ps, pl, w, m, mid, count)
            for m in 0 .. mid - 1 do
                let row = origin + m * inner
                ElementaryVector.storeEach stream (NativePtr.add pz row) w (fun t -> y.[row + t] * (g.[row + t] - s.Sums.[t]))
                    (fun t -> Vector512.Load(NativePtr.add py (row + t)) * (Vector512.Load(NativePtr.add pg (row + t)) - Vector512.Load(NativePtr.add ps t)))
                    (fun t -> Vector256.Load(NativePtr.add py (row + t)) * (Vector256.Load(NativePtr.add pg (row + t)) - Vector256.Load(NativePtr.add ps t)))
            if stream then Sse.StoreFence())

    /// Log-softmax's VJP along the middle axis: z = g − e^y·Σ_m g, each e^y used as it is made.
    let logSoftmaxVjpMiddle (y: double[]) (g: double[]) (outer: int) (mid: int) (inner: int) =
        middleVjp y.Length outer mid inner (fun z stream origin w s ->
            use pg = fixed g
            use ps = fixed s.Sums
            use pl = fixed s.Levels
            let mutable count = 0
            for m in 0 .. mid - 1 do
                addInto ps (NativePtr.add pg (origin + m * inner)) w
                count <- Functional.Kernels.Reduce.AfterRow(ps, pl, w, m, mid, count)
            for m in 0 .. mid - 1 do
                let row = origin + m * inner
                ElementaryVector.gradientMinusExpEachInto y g s.Sums z row (row + w) stream
            if stream then Sse.StoreFence())
