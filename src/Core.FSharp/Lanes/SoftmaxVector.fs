namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop

/// Softmax and log-softmax, forward and VJP, fused along contiguous rows, one row at a time while it is in cache
/// (along another axis: SoftmaxMiddleVector, which shares this module's row steps). Each is the very sequence of
/// operations of Softmax's separate passes (so the same bits, tested), with ElementaryVector's exponential and
/// logarithm.
module internal SoftmaxVector =

    /// Rows of n in tasks over the cores (`Strided.chunkedCostlyUnits`); `body` takes a row range and runs in one
    /// thread, so its scratch arrays are its own.
    let private byRows (rows: int) (n: int) (body: int -> int -> unit) = Strided.chunkedCostlyUnits rows n body

    /// Steps around the exponential run eight lanes where AVX-512 does (elementwise, so the same bits at any width).
    /// On Zen 5 (full-width AVX-512) softmax forward over 1000×1000 rows took 0.44 ms against 0.54 with four lanes,
    /// log-softmax 0.56 against 0.74, and softmax along a middle axis 0.65 forward and 0.44 back against 0.78 and 0.52.
    let inline wideSteps () = Cpu.wide ()

    /// The shift of Softmax's unfused passes for the row at p: its maximum taken as `v > max` takes it (NaN
    /// skipped), 0 when that is infinite (so the shift never makes NaN itself); four independent accumulators of
    /// four lanes (one would wait on the compare and select before each next step), which find the same maximum
    /// (only the sign of a zero maximum may differ, and e^(x − ±0) is the same).
    let private rowShift (p: nativeptr<float>) (n: int) =
        let mutable mx = Double.NegativeInfinity
        let mutable j = 0
        if Cpu.v256 then
            let inline step (acc: Vector256<double>) (v: Vector256<double>) = Vector256.ConditionalSelect(Vector256.GreaterThan(v, acc), v, acc)
            let lowest = Vector256.Create(Double.NegativeInfinity)
            let mutable a0, a1, a2, a3 = lowest, lowest, lowest, lowest
            while j <= n - 16 do
                a0 <- step a0 (Vector256.Load(NativePtr.add p j))
                a1 <- step a1 (Vector256.Load(NativePtr.add p (j + 4)))
                a2 <- step a2 (Vector256.Load(NativePtr.add p (j + 8)))
                a3 <- step a3 (Vector256.Load(NativePtr.add p (j + 12)))
                j <- j + 16
            while j <= n - 4 do
                a0 <- step a0 (Vector256.Load(NativePtr.add p j))
                j <- j + 4
            let acc = step (step a0 a1) (step a2 a3)
            for l in 0 .. 3 do
                let v = acc.GetElement l
                if v > mx then mx <- v
        while j < n do
            let v = NativePtr.get p j
            if v > mx then mx <- v
            j <- j + 1
        if Double.IsInfinity mx then 0.0 else mx

    /// dst[j] = (src[j] − m) − l for j < n: log-softmax's last step from the row itself, the same bits as storing
    /// the differences first; with `stream` around the caches, the elements before the first aligned lane one by
    /// one (the caller fences).
    let private differenceInto (src: nativeptr<float>) (m: float) (l: float) (dst: nativeptr<float>) (n: int) (stream: bool) =
        let vm8, vl8 = Vector512.Create(m), Vector512.Create(l)
        let vm, vl = Vector256.Create(m), Vector256.Create(l)
        ElementaryVector.storeEach stream dst n (fun j -> (NativePtr.get src j - m) - l)
            (fun j -> (Vector512.Load(NativePtr.add src j) - vm8) - vl8) (fun j -> (Vector256.Load(NativePtr.add src j) - vm) - vl)

    /// c + s as an unrounded pair (TwoSum): the rounded sum u and what its rounding lost. On doubles or on lanes of
    /// either width.
    let inline countPlus c s =
        let u = c + s
        let bb = u - c
        struct (u, (c - (u - bb)) + (s - bb))

    /// ln(u + lo) from ln u: ln u + lo/u (ln u itself where lo is 0 or u is not finite).
    let inline lnOfPair (u: double) (lo: double) (lnU: double) = if lo = 0.0 || not (Double.IsFinite u) then lnU else lnU + lo / u

    /// `lnOfPair` on lanes of either width (u − u is 0 exactly for finite u): `eq` a lane mask, `andNot` and
    /// `select` by it.
    let inline private lnOfPairFrom (u: ^v) (lo: ^v) (lnU: ^v) (zero: ^v) ([<InlineIfLambda>] eq: ^v -> ^v -> ^v)
                                    ([<InlineIfLambda>] andNot: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) =
        select (andNot (eq (u - u) zero) (eq lo zero)) (lnU + lo / u) lnU

    /// `lnOfPair` on four lanes.
    let inline lnOfPairLanes (u: Vector256<double>) (lo: Vector256<double>) (lnU: Vector256<double>) =
        lnOfPairFrom u lo lnU Vector256<float>.Zero (fun a b -> Vector256.Equals(a, b)) (fun a b -> Vector256.AndNot(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b))

    /// `lnOfPair` on eight lanes.
    let inline lnOfPairLanes8 (u: Vector512<double>) (lo: Vector512<double>) (lnU: Vector512<double>) =
        lnOfPairFrom u lo lnU Vector512<float>.Zero (fun a b -> Vector512.Equals(a, b)) (fun a b -> Vector512.AndNot(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b))

    /// ln(c + s) for c maxima of a row (each contributes e^0 = 1 exactly) and s the sum of its other exponentials.
    /// c + s is kept as an unrounded pair (TwoSum), so ln keeps s where c + s rounds to c: for a row whose other
    /// entries lie far below its maximum, ln(1 + s) ≈ s, which ln of the rounded sum loses entirely. ln is the
    /// library's own (`LogVector.logOne`), so that a middle axis can take a whole segment's at once.
    let lnCountPlus (c: double) (s: double) =
        let struct (u, lo) = countPlus c s
        lnOfPair u lo (LogVector.logOne u)

    /// e^(x − m) corrected for the rounding of x − m: with x − m = h + lo exactly (TwoSum), e^(h + lo) = e^h·(1 + lo)
    /// to far below an ulp. Without it an entry 300 below the maximum puts 0.5 ulp of 300 into ln Σ, which is all of
    /// the maximum's log-softmax when Σ is 1 plus that entry's e (215 ulp measured). Left as it is where the
    /// correction is NaN (x or e infinite: no rounding to correct).
    let inline refined (x: double) (m: double) (h: double) (e: double) =
        let bb = h - x
        let lo = (x - (h - bb)) + (-m - bb)
        let c = e * lo
        if c = c then e + c else e

    /// `refined` on lanes with the maxima (h = 0) zeroed, for x, its shift m, h = x − m and e = e^h: the lanes to
    /// store, and the maxima's mask as 1.0 in each lane that is one (for counting). Either width: `eq` a lane mask,
    /// `select` by it.
    let inline private dropFrom (vx: ^v) (vm: ^v) (vh: ^v) (ve: ^v) (zero: ^v) (one: ^v) ([<InlineIfLambda>] eq: ^v -> ^v -> ^v) ([<InlineIfLambda>] select: ^v -> ^v -> ^v -> ^v) =
        let bb = vh - vx
        let lo = (vx - (vh - bb)) + (-vm - bb)
        let corr = ve * lo
        let fixedE = select (eq corr corr) (ve + corr) ve
        let isMax = eq vh zero
        struct (select isMax zero fixedE, isMax &&& one)

    /// `dropFrom` on four lanes.
    let inline dropLanes (vx: Vector256<double>) (vm: Vector256<double>) (vh: Vector256<double>) (ve: Vector256<double>) =
        dropFrom vx vm vh ve Vector256<float>.Zero (Vector256.Create(1.0)) (fun a b -> Vector256.Equals(a, b)) (fun m a b -> Vector256.ConditionalSelect(m, a, b))

    /// `dropFrom` on eight lanes.
    let inline dropLanes8 (vx: Vector512<double>) (vm: Vector512<double>) (vh: Vector512<double>) (ve: Vector512<double>) =
        dropFrom vx vm vh ve Vector512<float>.Zero (Vector512.Create(1.0)) (fun a b -> Vector512.Equals(a, b)) (fun m a b -> Vector512.ConditionalSelect(m, a, b))

    /// One element of `dropLanes`: e where h = 0 becomes 0 (and counts), else `refined`.
    let inline dropOne (x: double) (m: double) (h: double) (e: double) = if h = 0.0 then 0.0 else refined x m h e

    /// `expDropRow` for the `count` elements of x at j (at most eight), padded through the lanes of this
    /// machine's width: Math.Exp where the vector formula does not hold, the drop one element at a time.
    let private expDropFew (x: nativeptr<float>) (m: double) (e: nativeptr<float>) (j: int) (count: int) =
        let inline h k = if k < count then NativePtr.get x (j + k) - m else 0.0
        let ev = NativePtr.stackalloc<float> 8
        if wideSteps () then
            let struct (v, bad) = ElementaryVector.expFormula (Vector512.Create(h 0, h 1, h 2, h 3, h 4, h 5, h 6, h 7))
            for k in 0 .. 7 do NativePtr.set ev k (if (bad >>> k) &&& 1UL = 0UL then v.GetElement k else Math.Exp(h k))
        else
            for half in 0 .. 1 do
                let b = 4 * half
                let struct (v, bad) = ElementaryVector.expFormula4 (Vector256.Create(h b, h (b + 1), h (b + 2), h (b + 3)))
                for k in 0 .. 3 do NativePtr.set ev (b + k) (if (bad >>> k) &&& 1u = 0u then v.GetElement k else Math.Exp(h (b + k)))
        let mutable c = 0.0
        for k in 0 .. count - 1 do
            let xk = NativePtr.get x (j + k)
            let hk = xk - m
            if hk = 0.0 then c <- c + 1.0
            NativePtr.set e (j + k) (dropOne xk m hk (NativePtr.get ev k))
        c

    /// e = e^(x − m) over a row x with shift m, the maxima's (h = x − m = 0, each exactly 1) zeroed, the others
    /// refined (`refined`), in one pass; returns how many maxima there are. Each element's e is the one
    /// `ElementaryVector.expShiftedInto` makes, so the bits of exponentiating and dropping in two passes.
    let private expDropRow (x: nativeptr<float>) (m: double) (e: nativeptr<float>) (n: int) =
        let mutable j = 0
        let mutable c = 0.0
        if wideSteps () then
            let vm = Vector512.Create(m)
            let mutable count = Vector512<float>.Zero
            while j <= n - 8 do
                let vx = Vector512.Load(NativePtr.add x j)
                let vh = vx - vm
                let struct (ve, bad) = ElementaryVector.expFormula vh
                if bad = 0UL then
                    let struct (v, isMax) = dropLanes8 vx vm vh ve
                    Vector512.Store(v, NativePtr.add e j)
                    count <- count + isMax
                else c <- c + expDropFew x m e j 8
                j <- j + 8
            c <- c + Vector512.Sum count
        else
            let vm = Vector256.Create(m)
            let mutable count = Vector256<float>.Zero
            // Two vectors a step (ElementaryVector.expFormula4x2), then one; the counts are whole numbers, exact in
            // any order.
            while j <= n - 8 do
                let vx = Vector256.Load(NativePtr.add x j)
                let vy = Vector256.Load(NativePtr.add x (j + 4))
                let vh = vx - vm
                let vk = vy - vm
                let struct (ve, vf, bad) = ElementaryVector.expFormula4x2 vh vk
                if bad = 0u then
                    let struct (v, isMax) = dropLanes vx vm vh ve
                    let struct (w, isMax2) = dropLanes vy vm vk vf
                    Vector256.Store(v, NativePtr.add e j)
                    Vector256.Store(w, NativePtr.add e (j + 4))
                    count <- count + isMax + isMax2
                else c <- c + expDropFew x m e j 8
                j <- j + 8
            while j <= n - 4 do
                let vx = Vector256.Load(NativePtr.add x j)
                let vh = vx - vm
                let struct (ve, bad) = ElementaryVector.expFormula4 vh
                if bad = 0u then
                    let struct (v, isMax) = dropLanes vx vm vh ve
                    Vector256.Store(v, NativePtr.add e j)
                    count <- count + isMax
                else c <- c + expDropFew x m e j 4
                j <- j + 4
            c <- c + Vector256.Sum count
        if j < n then c <- c + expDropFew x m e j (n - j)
        c

    /// Rows of n of src into a fresh array, one row at a time while it is in cache: each row's shift m (`rowShift`),
    /// then `row off x m e pe y` writes the row y of the result from the row x at offset off, with scratch e of the
    /// row's length (pinned at pe); with `stream` (rows written around the caches) a fence after each task's rows.
    let private shiftedRows (src: double[]) (n: int) (stream: bool) (row: int -> nativeptr<float> -> float -> double[] -> nativeptr<float> -> nativeptr<float> -> unit) =
        let dst = Strided.fresh src.Length
        let rows = if n = 0 then 0 else src.Length / n
        byRows rows n (fun r0 r1 ->
            let e = Storage.rentScratch n
            try
                use ps = fixed src
                use pd = fixed dst
                use pe = fixed e
                for r in r0 .. r1 - 1 do
                    let off = r * n
                    let x = NativePtr.add ps off
                    row off x (rowShift x n) e pe (NativePtr.add pd off)
                if stream then Sse.StoreFence()
            finally
                Storage.returnScratch e)
        dst

    /// y = e / total over a row of n (eight lanes where the steps take them, else four); with `stream` around the
    /// caches, the elements before the first aligned lane one by one (the same division, so the same bits; the
    /// caller fences).
    let private divideRow (e: nativeptr<float>) (total: double) (y: nativeptr<float>) (n: int) (stream: bool) =
        let vs8, vs = Vector512.Create(total), Vector256.Create(total)
        ElementaryVector.storeEach stream y n (fun j -> NativePtr.get e j / total)
            (fun j -> Vector512.Load(NativePtr.add e j) / vs8) (fun j -> Vector256.Load(NativePtr.add e j) / vs)

    /// `softmaxRows` on four lanes: each row's division by its sum runs inside the next row's exponential pass
    /// (`ElementaryVector.expShiftedIntoDividing`; two scratch rows in turn), the last row's after. The same
    /// operations, so the same bits.
    let private softmaxRowsPipelined (src: double[]) (n: int) =
        let dst = Strided.fresh src.Length
        let rows = src.Length / n
        byRows rows n (fun r0 r1 ->
            let e0 = Storage.rentScratch n
            let e1 = Storage.rentScratch n
            try
                use ps = fixed src
                use pd = fixed dst
                use p0 = fixed e0
                use p1 = fixed e1
                let mutable total = 0.0
                for r in r0 .. r1 - 1 do
                    let off = r * n
                    let m = rowShift (NativePtr.add ps off) n
                    let even = (r - r0) % 2 = 0
                    let e = if even then e0 else e1
                    if r = r0 then ElementaryVector.expShiftedInto src off (off + n) m e 0
                    else ElementaryVector.expShiftedIntoDividing src off (off + n) m e (if even then p1 else p0) total (NativePtr.add pd (off - n))
                    total <- Reductions.sum e 0 n
                if r1 > r0 then
                    divideRow (if (r1 - 1 - r0) % 2 = 0 then p0 else p1) total (NativePtr.add pd ((r1 - 1) * n)) n false
            finally
                Storage.returnScratch e1
                Storage.returnScratch e0)
        dst

    /// `softmaxRows` for rows shorter than a vector step (n < 8), a block of rows at a time: the rows' shifts, one
    /// exponential run over the block with each element's shift, the rows' sums as runs, then the divisions. Row by
    /// row, each row of two made four calls (8192×2 took 0.74 ms against TorchSharp's 0.35). An element's
    /// exponential depends on its value and shift alone (every lane, and the tail, takes the same formula) and each
    /// run is summed as SumRuns sums it, so the same bits.
    let private softmaxShortRows (src: double[]) (n: int) =
        let dst = Strided.fresh src.Length
        let rows = src.Length / n
        let block = 1024 / n
        byRows rows n (fun r0 r1 ->
            let shifts = Storage.rentScratch (block * n)
            let e = Storage.rentScratch (block * n)
            let sums = Storage.rentScratch block
            try
                use ps = fixed src
                let mutable r = r0
                while r < r1 do
                    let count = min block (r1 - r)
                    let lo = r * n
                    for k in 0 .. count - 1 do
                        let m = rowShift (NativePtr.add ps (lo + k * n)) n
                        for j in 0 .. n - 1 do shifts.[k * n + j] <- m
                    ElementaryVector.expShiftedEachInto src lo (lo + count * n) shifts e 0
                    Functional.Kernels.Reduce.SumRuns(e, count, n, sums)
                    for k in 0 .. count - 1 do
                        let total = sums.[k]
                        for j in 0 .. n - 1 do dst.[lo + k * n + j] <- e.[k * n + j] / total
                    r <- r + count
            finally
                Storage.returnScratch sums
                Storage.returnScratch e
                Storage.returnScratch shifts)
        dst

    /// Softmax along contiguous rows of n: y = e / Σe with e = e^(x − m), m the row's maximum (0 when infinite),
    /// the sum in SumRuns' order: the very operations of Softmax's unfused passes (so the same bits), one row
    /// at a time instead of five passes over the whole tensor.
    let softmaxRows (src: double[]) (n: int) =
        if n > 0 && n < 8 then softmaxShortRows src n
        elif not (wideSteps ()) && Cpu.narrow && n >= 8 then softmaxRowsPipelined src n else
        // A large plain result goes around the caches (its array is in none).
        let stream = Strided.streamsPlainRuns src.Length n && Sse.IsSupported
        shiftedRows src n stream (fun off _ m e pe y ->
            ElementaryVector.expShiftedInto src off (off + n) m e 0
            divideRow pe (Reductions.sum e 0 n) y n stream)

    /// Log-softmax along contiguous rows of n: y = (x − m) − ln(c + Σ'), c the count of maxima and Σ' the sum of
    /// the other e = e^(x − m) (refined for the rounding of x − m, then `lnCountPlus`). The shift is never added back, so a large maximum cannot round
    /// ln Σ away. The operations of Softmax.logSoftmax's unfused passes (so the same bits), one row at a time, the
    /// exponentials and the maxima's drop in one pass (`expDropRow`: 8 % faster than two on Zen 5, level on four lanes).
    let logSoftmaxRows (src: double[]) (n: int) =
        // A large plain result goes around the caches (its array is in none).
        let stream = Strided.streamsPlainRuns src.Length n && Sse.IsSupported
        shiftedRows src n stream (fun _ x m e pe y ->
            let c = expDropRow x m pe n
            differenceInto x m (lnCountPlus c (Reductions.sum e 0 n)) y n stream)

    /// Log-softmax's VJP along contiguous rows of n, z = g − e^y·Σg from its output y and an adjoint g: the
    /// operations of its unfused passes (the row sums in SumRuns' order, e^y, the product, the difference), so
    /// the same bits, one row at a time, each e^y used as it is made (never stored: 1.08–1.27× faster than
    /// through a scratch row on Zen 4).
    let logSoftmaxVjpRows (y: double[]) (g: double[]) (n: int) =
        let z = Strided.fresh y.Length
        let stream = Strided.streamsPlainRuns y.Length n && Sse.IsSupported
        let rows = if n = 0 then 0 else y.Length / n
        byRows rows n (fun r0 r1 ->
            for r in r0 .. r1 - 1 do
                let off = r * n
                ElementaryVector.gradientMinusExpInto y g (Reductions.sum g off n) z off (off + n) stream
            if stream then Sse.StoreFence())
        z

    /// Log-softmax's entries at `labels` (one label per row of n) and each row's shift m and log term l: per row
    /// the operations of `logSoftmaxRows` (so the bits of those entries), without writing the row.
    let labelledLogSoftmaxRows (src: double[]) (n: int) (labels: int[]) =
        let rows = labels.Length
        let picked = Array.zeroCreate rows
        let shifts = Array.zeroCreate rows
        let logs = Array.zeroCreate rows
        byRows rows n (fun r0 r1 ->
            let e = Storage.rentScratch n
            try
                use ps = fixed src
                use pe = fixed e
                for r in r0 .. r1 - 1 do
                    let off = r * n
                    let x = NativePtr.add ps off
                    let m = rowShift x n
                    let c = expDropRow x m pe n
                    let l = lnCountPlus c (Reductions.sum e 0 n)
                    picked.[r] <- (src.[off + labels.[r]] - m) - l
                    shifts.[r] <- m
                    logs.[r] <- l
            finally
                Storage.returnScratch e)
        struct (picked, shifts, logs)

    /// The pullback of `labelledLogSoftmaxRows` for an adjoint a (one value per row; `fill` for every row when a is
    /// null): z = g − e^y·Σg along each row, y the log-softmax made again from the row's m and l, g the adjoint
    /// scattered into zeros (0 + a at the label, +0 elsewhere, so Σg = 0 + a): the bits of `logSoftmaxVjpRows`
    /// given y and that g, without storing either.
    let labelledLogSoftmaxVjpRows (src: double[]) (n: int) (labels: int[]) (shifts: double[]) (logs: double[]) (a: double[]) (fill: double) =
        let z = Strided.fresh src.Length
        let stream = Strided.streamsPlainRuns src.Length n && Sse.IsSupported
        byRows labels.Length n (fun r0 r1 ->
            for r in r0 .. r1 - 1 do
                let off = r * n
                let g = 0.0 + (if isNull a then fill else a.[r])
                ElementaryVector.labelledGradientInto src shifts.[r] logs.[r] g (off + labels.[r]) z off (off + n) stream
            if stream then Sse.StoreFence())
        z
