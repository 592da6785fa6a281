namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop
open Cpu

/// e^x (eight lanes or four) over arrays, the exponential's reduction and polynomial that GELU, the tanh form,
/// x^p, σ and tanh (SigmoidTanhVector) build on, and the store and one-pass drivers the lanes share. Elements outside
/// the formula's range go through Math.Exp, decided element by element: a result never depends on its neighbours.
module internal ElementaryVector =

    /// ln 2 in two parts (the high part's last bits zero, so n·Ln2Hi is exact) and 1/ln 2, for exp's reduction.
    [<Literal>]
    let internal Ln2Hi = 6.93147180369123816490e-01
    [<Literal>]
    let internal Ln2Lo = 1.90821492927058770002e-10
    [<Literal>]
    let internal InvLn2 = 1.44269504088896338700e+00
    let internal ln2Hi = Vector512.Create(Ln2Hi)
    let internal ln2Lo = Vector512.Create(Ln2Lo)
    let internal invLn2 = Vector512.Create(InvLn2)
    /// 1/k!, k = 0..19 (k! exact in double up to 18!): the Taylor terms of the exponential, which x^p's series, eˣ − 1
    /// and sin and cos build on.
    let internal inverseFactorials = Array.init 20 (fun k -> 1.0 / (Seq.fold (fun a i -> a * float i) 1.0 [ 1 .. k ]))

    /// Σ c[j]·rʲ by Horner's scheme, either width (`k` a constant vector, `fma a b c` a·b + c).
    let inline internal horner (c: float[]) (r: ^v) ([<InlineIfLambda>] k: float -> ^v) ([<InlineIfLambda>] fma: ^v -> ^v -> ^v -> ^v) =
        let mutable p = k c.[c.Length - 1]
        for j in c.Length - 2 .. -1 .. 0 do
            p <- fma p r (k c.[j])
        p

    /// The coefficients, from r⁰ up, of the degree-11 polynomial for e^r on |r| ≤ ln2/2 that the exponential's
    /// lanes evaluate: minimax in relative error with the first two fixed at 1 and each coefficient rounded to
    /// double before the later ones were refitted (Remez), so that the coefficients as stored are within 3.7e-18
    /// of e^r relative (Taylor's polynomial of degree 13: 5.2e-18) for two multiply-adds fewer per lane.
    let internal expCoefficients =
        [| 1.0; 1.0; 0.5000000000000011; 0.16666666666666438; 0.04166666666652578; 0.008333333333473704
           0.0013888888944871133; 0.00019841269560712274; 2.480149172977065e-05; 2.7557530003887916e-06
           2.763076368351847e-07; 2.5020390229219894e-08 |]

    /// q with e^r ≈ 1 + r·q: expPolynomial but its last step (`fma a b` is a·r + b), so that r·q is e^r − 1
    /// without the cancellation of subtracting 1 (ELU's lanes).
    let inline internal expQuotient ([<InlineIfLambda>] k: float -> 'v) ([<InlineIfLambda>] fma: 'v -> 'v -> 'v) =
        let p = fma (k 2.5020390229219894e-08) (k 2.763076368351847e-07)
        let p = fma p (k 2.7557530003887916e-06)
        let p = fma p (k 2.480149172977065e-05)
        let p = fma p (k 0.00019841269560712274)
        let p = fma p (k 0.0013888888944871133)
        let p = fma p (k 0.008333333333473704)
        let p = fma p (k 0.04166666666652578)
        let p = fma p (k 0.16666666666666438)
        let p = fma p (k 0.5000000000000011)
        fma p (k 1.0)

    /// expCoefficients' polynomial by Horner's rule from r¹¹ down, as expSplit's loop computes it (the same
    /// operations, so the same bits: tested) but written out with the coefficients as literals, for exp's own
    /// loops: exp over 4,096 values in cache 1.02–1.13 → 0.89–0.98 ns per element. GELU keeps the loop: written
    /// out there, its tier-1 code ran at 3.0 or 5.5 ns per element from one process to the next (the loop's at
    /// 2.5–3.0 in every run). `k` makes a constant vector, `fma a b` is a·r + b.
    let inline internal expPolynomial ([<InlineIfLambda>] k: float -> 'v) ([<InlineIfLambda>] fma: 'v -> 'v -> 'v) =
        fma (expQuotient k fma) (k 1.0)

    /// expPolynomial of two arguments at once, their multiply-adds interleaved (`fma a r b` is a·r + b): one chain of
    /// eleven dependent multiply-adds leaves the FMA units waiting on each one's latency, two side by side keep both
    /// busy (exp on four lanes over 4,096 values in cache, AMD EPYC Zen 3: 2.1–2.4 → 1.31–1.53 ns per element;
    /// the two chains one after the other, 1.57–1.64). expPolynomial over pairs, each step r's then s's: the same
    /// operations on each, so the same bits.
    let inline internal expPolynomial2 ([<InlineIfLambda>] k: float -> 'v) ([<InlineIfLambda>] fma: 'v -> 'v -> 'v -> 'v) (r: 'v) (s: 'v) =
        expPolynomial (fun c -> let v = k c in struct (v, v)) (fun (struct (a, b)) (struct (c, d)) -> struct (fma a r c, fma b s d))

    /// The exponential's reduction: n = round(y/ln2) and r = y − n·ln2 in two parts (|r| ≤ ln2/2).
    let inline internal expReduce8 (y: Vector512<double>) =
        let n = Vector512.Round(y * invLn2)
        struct (n, Vector512.FusedMultiplyAdd(n, -ln2Lo, Vector512.FusedMultiplyAdd(n, -ln2Hi, y)))

    /// e^y as p·2ⁿ: n and r from `expReduce8`, p from expCoefficients' polynomial of e^r (within 3.7e-18 relative).
    let internal expSplit (y: Vector512<double>) =
        let struct (n, r) = expReduce8 y
        let mutable p = Vector512.Create(expCoefficients.[11])
        for k in 10 .. -1 .. 0 do
            p <- Vector512.FusedMultiplyAdd(p, r, Vector512.Create(expCoefficients.[k]))
        struct (p, n)

    /// expSplit with the polynomial written out (expPolynomial), for exp's loops.
    let inline internal expSplitFlat (y: Vector512<double>) =
        let struct (n, r) = expReduce8 y
        struct (expPolynomial (fun (v: float) -> Vector512.Create v) (fun a b -> Vector512.FusedMultiplyAdd(a, r, b)), n)

    /// Lanes 0–3 of an eight-lane constant, for the four-lane formulas.
    let internal lower (v: Vector512<double>) = v.GetLower()
    let internal ln2Hi4, ln2Lo4, invLn24 = lower ln2Hi, lower ln2Lo, lower invLn2
    let internal half4, one4 = Vector256.Create(0.5), Vector256.Create(1.0)

    /// 2ᵏ for integral k in [−1022, 1023]: 2⁵² + 1023 + k holds k + 1023 in its low bits, which shifted into the
    /// exponent field make 2ᵏ.
    let inline internal pow2 (k: Vector256<double>) =
        Avx2.ShiftLeftLogical((k + Vector256.Create(4503599627371519.0)).AsInt64(), 52uy).AsDouble()

    /// x·2ⁿ for integral n in [−1074, 1023] and x with x·2^⌊n/2⌋ normal: that first (exact), then the rest, so
    /// one rounding, as Avx512F.Scale's.
    let inline internal scale4 (x: Vector256<double>) (n: Vector256<double>) =
        let h = Vector256.Floor(n * half4)
        x * pow2 h * pow2 (n - h)

    /// `expReduce8` on four lanes.
    let inline internal expReduce4 (y: Vector256<double>) =
        let n = Vector256.Round(y * invLn24)
        struct (n, Vector256.FusedMultiplyAdd(n, -ln2Lo4, Vector256.FusedMultiplyAdd(n, -ln2Hi4, y)))

    let internal expSplit4 (y: Vector256<double>) =
        let struct (n, r) = expReduce4 y
        let mutable p = Vector256.Create(expCoefficients.[11])
        for k in 10 .. -1 .. 0 do
            p <- Vector256.FusedMultiplyAdd(p, r, Vector256.Create(expCoefficients.[k]))
        struct (p, n)

    /// expSplit4 with the polynomial written out, for exp's loops.
    let inline internal expSplitFlat4 (y: Vector256<double>) =
        let struct (n, r) = expReduce4 y
        struct (expPolynomial (fun (v: float) -> Vector256.Create v) (fun a b -> Vector256.FusedMultiplyAdd(a, r, b)), n)

    /// The lanes with x in [−708, 709] (not NaN), in one comparison: |x − 0.5| ≤ 708.5, whose subtraction is exact
    /// near both ends (708.5 and x share a binade there), so the same lanes as x ≥ −708 and x ≤ 709.
    let inline internal expInRange (x: Vector512<double>) =
        Vector512.LessThanOrEqual(Vector512.Abs(x - Vector512.Create(0.5)), Vector512.Create(708.5))

    /// The mask of the eight lanes outside `expInRange`, bit l for lane l.
    let inline internal expOutside8 (x: Vector512<double>) = ~~~(Vector512.ExtractMostSignificantBits(expInRange x)) &&& 0xFFUL

    /// The mask of the four lanes with x outside [−708, 709] or NaN, bit l for lane l.
    let inline internal expOutside4 (x: Vector256<double>) =
        ~~~(Vector256.ExtractMostSignificantBits(Vector256.GreaterThanOrEqual(x, Vector256.Create(-708.0)) &&& Vector256.LessThanOrEqual(x, Vector256.Create(709.0)))) &&& 0xFu

    /// e^x of eight lanes by the vector formula, and the mask of the lanes where it does not hold (x outside
    /// [−708, 709], where the result is subnormal or infinite, or NaN): `expLanes` takes Math.Exp there.
    let inline internal expFormula (x: Vector512<double>) =
        let struct (p, n) = expSplitFlat x
        struct (Avx512F.Scale(p, n), expOutside8 x)

    /// `expFormula` for four lanes (the same bits in each lane).
    let inline internal expFormula4 (x: Vector256<double>) =
        let struct (p, n) = expSplitFlat4 x
        // Where the lane is kept (x in [−708, 709]), n lies in [−1021, 1023] and p·2ⁿ is normal: one exact product,
        // the bits scale4's two give, for five operations fewer.
        struct (p * pow2 n, expOutside4 x)

    /// `expFormula4` of two vectors at once (expPolynomial2), the same bits in each lane; the mask's bits 0–3 are
    /// x's lanes and 4–7 y's.
    let inline internal expFormula4x2 (x: Vector256<double>) (y: Vector256<double>) =
        let struct (nx, rx) = expReduce4 x
        let struct (ny, ry) = expReduce4 y
        let struct (px, py) = expPolynomial2 (fun (v: float) -> Vector256.Create v) (fun a r b -> Vector256.FusedMultiplyAdd(a, r, b)) rx ry
        struct (px * pow2 nx, py * pow2 ny, expOutside4 x ||| (expOutside4 y <<< 4))

    /// `expFormula` of two vectors at once (expPolynomial2), the same bits in each lane; the mask's bits 0–7 are
    /// x's lanes and 8–15 y's. On an Intel Xeon (family 6 model 207, full-width AVX-512), exp over 3,000 values in
    /// cache on one core: 1.16× faster than one vector a step (25 alternating rounds, medians); on 10⁶, forward
    /// 1.03–1.10×.
    let inline internal expFormula8x2 (x: Vector512<double>) (y: Vector512<double>) =
        let struct (nx, rx) = expReduce8 x
        let struct (ny, ry) = expReduce8 y
        let struct (px, py) = expPolynomial2 (fun (v: float) -> Vector512.Create v) (fun a r b -> Vector512.FusedMultiplyAdd(a, r, b)) rx ry
        struct (Avx512F.Scale(px, nx), Avx512F.Scale(py, ny), expOutside8 x ||| (expOutside8 y <<< 8))

    /// e^x for eight lanes: the vector formula where the result is normal (e^−708 > 2^−1022, e^709 < 2^1024),
    /// Math.Exp for the other lanes (subnormal or infinite results, NaN). Each element's result depends only on
    /// the element, not on its position or its neighbours.
    let inline private expLanes (x: Vector512<double>) (store: int -> double -> unit) (whole: Vector512<double> -> unit) =
        let struct (v, bad) = expFormula x
        if bad = 0UL then whole v
        else
            for l in 0 .. 7 do
                store l (if (bad >>> l) &&& 1UL = 0UL then v.GetElement l else Math.Exp(x.GetElement l))

    /// e^x for four lanes, as `expLanes` for eight.
    let inline private expLanes4 (x: Vector256<double>) (store: int -> double -> unit) (whole: Vector256<double> -> unit) =
        let struct (v, bad) = expFormula4 x
        if bad = 0u then whole v
        else
            for l in 0 .. 3 do
                store l (if (bad >>> l) &&& 1u = 0u then v.GetElement l else Math.Exp(x.GetElement l))

    /// A lane stored at p, around the caches when `stream` (p then aligned to the lane's width).
    let inline internal store4 (stream: bool) (v: Vector256<double>) (p: nativeptr<float>) =
        if stream then Vector256.StoreAlignedNonTemporal(v, p) else Vector256.Store(v, p)

    /// Eight lanes stored at p, around the caches when `stream` (p then 64-byte aligned).
    let inline internal store8 (stream: bool) (v: Vector512<double>) (p: nativeptr<float>) =
        if stream then Vector512.StoreAlignedNonTemporal(v, p) else Vector512.Store(v, p)

    /// The first index in [lo, hi) from which lanes stored at p + index are aligned for non-temporal stores (64
    /// bytes where the lanes are eight wide, else 32), or hi.
    let inline internal alignedFrom (p: nativeptr<float>) (lo: int) (hi: int) =
        let align = if wide () then 64n else 32n
        let mutable i = lo
        while i < hi && NativePtr.toNativeInt (NativePtr.add p i) % align <> 0n do i <- i + 1
        i

    /// dst[j] for j in [0, n): `lanes8 j` eight at a time where `wide ()`, then `lanes4 j` four at a time (where
    /// Vector256 runs), `one j` for the rest; the three must be the same operation, so any j gets the same bits. With
    /// `stream` the lanes go around the caches and the elements before the first aligned lane through `one` (the
    /// caller fences).
    let inline internal storeEach (stream: bool) (dst: nativeptr<float>) (n: int) ([<InlineIfLambda>] one: int -> float)
                                  ([<InlineIfLambda>] lanes8: int -> Vector512<double>) ([<InlineIfLambda>] lanes4: int -> Vector256<double>) =
        let mutable j = 0
        let first = if stream then alignedFrom dst 0 n else 0
        while j < first do
            NativePtr.set dst j (one j)
            j <- j + 1
        if wide () then
            while j <= n - 8 do
                store8 stream (lanes8 j) (NativePtr.add dst j)
                j <- j + 8
        if v256 then
            while j <= n - 4 do
                store4 stream (lanes4 j) (NativePtr.add dst j)
                j <- j + 4
        while j < n do
            NativePtr.set dst j (one j)
            j <- j + 1

    /// `run a b stream` over [lo, hi) of dst: with `stream`, the elements before dst's first aligned lane through
    /// the cached stores, the rest around the caches (an elementwise run gives the same bits either way; the caller
    /// fences once its task's stores are done); without it one cached run.
    let inline internal streamedRun (dst: double[]) (lo: int) (hi: int) (stream: bool) ([<InlineIfLambda>] run: int -> int -> bool -> unit) =
        if stream then
            use pd = fixed dst
            let aligned = alignedFrom pd lo hi
            run lo aligned false
            run aligned hi true
        else run lo hi false

    /// post(o, e^(shift(i, x))) of x = src[i], i in [lo, hi), into dst[o] with o = off + (i − lo), four lanes at a
    /// time, the tail padded through the same lanes (`shift` on lanes at i..i+3, `shiftOne` on one value: the same
    /// operation; `post` on lanes at o..o+3, `postOne` on one: the same operation again). With `stream` (dst at off
    /// 32-byte aligned) whole lanes are written around the caches.
    let inline private expRun4 (stream: bool) (src: double[]) (lo: int) (hi: int) (dst: double[]) (off: int)
                               ([<InlineIfLambda>] shift: int -> Vector256<double> -> Vector256<double>) ([<InlineIfLambda>] shiftOne: int -> double -> double)
                               ([<InlineIfLambda>] post: int -> Vector256<double> -> Vector256<double>) ([<InlineIfLambda>] postOne: int -> double -> double) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        // Two vectors a step (expFormula4x2); a pair with a lane out of range goes one vector at a time, as below.
        while i <= hi - 8 do
            let o = off + (i - lo)
            let x = shift i (Vector256.Load(NativePtr.add ps i))
            let y = shift (i + 4) (Vector256.Load(NativePtr.add ps (i + 4)))
            let struct (ex, ey, bad) = expFormula4x2 x y
            if bad = 0u then
                store4 stream (post o ex) (NativePtr.add pd o)
                store4 stream (post (o + 4) ey) (NativePtr.add pd (o + 4))
            else
                expLanes4 x (fun l v -> dst.[o + l] <- postOne (o + l) v) (fun v -> store4 stream (post o v) (NativePtr.add pd o))
                expLanes4 y (fun l v -> dst.[o + 4 + l] <- postOne (o + 4 + l) v) (fun v -> store4 stream (post (o + 4) v) (NativePtr.add pd (o + 4)))
            i <- i + 8
        while i <= hi - 4 do
            let o = off + (i - lo)
            expLanes4 (shift i (Vector256.Load(NativePtr.add ps i))) (fun l v -> dst.[o + l] <- postOne (o + l) v) (fun v -> store4 stream (post o v) (NativePtr.add pd o))
            i <- i + 4
        if i < hi then
            let o = off + (i - lo)
            let count = hi - i
            let inline at k = if k < count then shiftOne (i + k) src.[i + k] else 0.0
            expLanes4 (Vector256.Create(at 0, at 1, at 2, at 3)) (fun l v -> if l < count then dst.[o + l] <- postOne (o + l) v)
                (fun v -> for l in 0 .. count - 1 do dst.[o + l] <- postOne (o + l) (v.GetElement l))

    /// post(o, e^(shift(i, x))) of x = src[i], i in [lo, hi), into dst[o], eight lanes at a time; with `stream` (dst
    /// at off 64-byte aligned) whole lanes around the caches.
    let inline private expRun8 (stream: bool) (src: double[]) (lo: int) (hi: int) (dst: double[]) (off: int)
                               ([<InlineIfLambda>] shift: int -> Vector512<double> -> Vector512<double>) ([<InlineIfLambda>] shiftOne: int -> double -> double)
                               ([<InlineIfLambda>] post: int -> Vector512<double> -> Vector512<double>) ([<InlineIfLambda>] postOne: int -> double -> double) =
        use ps = fixed src
        use pd = fixed dst
        let mutable i = lo
        // Two vectors a step (expFormula8x2); a pair with a lane out of range goes one vector at a time, as below.
        while i <= hi - 16 do
            let o = off + (i - lo)
            let x = shift i (Vector512.Load(NativePtr.add ps i))
            let y = shift (i + 8) (Vector512.Load(NativePtr.add ps (i + 8)))
            let struct (ex, ey, bad) = expFormula8x2 x y
            if bad = 0UL then
                store8 stream (post o ex) (NativePtr.add pd o)
                store8 stream (post (o + 8) ey) (NativePtr.add pd (o + 8))
            else
                expLanes x (fun l v -> dst.[o + l] <- postOne (o + l) v) (fun v -> store8 stream (post o v) (NativePtr.add pd o))
                expLanes y (fun l v -> dst.[o + 8 + l] <- postOne (o + 8 + l) v) (fun v -> store8 stream (post (o + 8) v) (NativePtr.add pd (o + 8)))
            i <- i + 16
        while i <= hi - 8 do
            let o = off + (i - lo)
            expLanes (shift i (Vector512.Load(NativePtr.add ps i))) (fun l v -> dst.[o + l] <- postOne (o + l) v) (fun v -> store8 stream (post o v) (NativePtr.add pd o))
            i <- i + 8
        if i < hi then
            // The tail through the same lanes (padded with zeros, no allocation: softmax calls this per row), so
            // that it gets the same formula.
            let o = off + (i - lo)
            let count = hi - i
            let inline at k = if k < count then shiftOne (i + k) src.[i + k] else 0.0
            let x = Vector512.Create(at 0, at 1, at 2, at 3, at 4, at 5, at 6, at 7)
            expLanes x (fun l v -> if l < count then dst.[o + l] <- postOne (o + l) v)
                (fun v -> for l in 0 .. count - 1 do dst.[o + l] <- postOne (o + l) (v.GetElement l))

    /// e^x of src[lo..hi) into dst[off + (i − lo)], eight lanes at a time or four.
    let internal expInto (src: double[]) (lo: int) (hi: int) (dst: double[]) (off: int) =
        if wide () then expRun8 false src lo hi dst off (fun _ v -> v) (fun _ v -> v) (fun _ v -> v) (fun _ v -> v)
        else expRun4 false src lo hi dst off (fun _ v -> v) (fun _ v -> v) (fun _ v -> v) (fun _ v -> v)

    /// e^(x − m) of src[lo..hi) into dst[off + (i − lo)]: softmax's shifted exponentials without a pass that stores
    /// the differences, the same bits as subtracting first (each lane subtracts as the separate pass does).
    let internal expShiftedInto (src: double[]) (lo: int) (hi: int) (m: double) (dst: double[]) (off: int) =
        if wide () then
            let vm = Vector512.Create(m)
            expRun8 false src lo hi dst off (fun _ v -> v - vm) (fun _ x -> x - m) (fun _ v -> v) (fun _ v -> v)
        else
            let vm = Vector256.Create(m)
            expRun4 false src lo hi dst off (fun _ v -> v - vm) (fun _ x -> x - m) (fun _ v -> v) (fun _ v -> v)

    /// `expShiftedInto` on four lanes into dst[0 ..), and meanwhile y[k] = e[k] / total for k in [0, hi − lo): the
    /// division of the row before, on the divider while the exponentials keep the FMA units busy (softmax's rows on
    /// four lanes). The same operations as the two loops apart, so the same bits.
    let internal expShiftedIntoDividing (src: double[]) (lo: int) (hi: int) (m: double) (dst: double[])
                                        (e: nativeptr<float>) (total: double) (y: nativeptr<float>) =
        let vm = Vector256.Create(m)
        let vt = Vector256.Create(total)
        let inline divide o = Vector256.Store(Vector256.Load(NativePtr.add e o) / vt, NativePtr.add y o)
        expRun4 false src lo hi dst 0 (fun _ v -> v - vm) (fun _ x -> x - m)
            (fun o v -> divide o; v) (fun o v -> NativePtr.set y o (NativePtr.get e o / total); v)

    /// e^(x − shifts[i − lo]) of x = src[i], i in [lo, hi), into dst[off + (i − lo)]: softmax's exponentials along a
    /// middle axis, each position with its own shift, the same bits as subtracting first.
    let internal expShiftedEachInto (src: double[]) (lo: int) (hi: int) (shifts: double[]) (dst: double[]) (off: int) =
        use pm = fixed shifts
        if wide () then
            expRun8 false src lo hi dst off (fun i v -> v - Vector512.Load(NativePtr.add pm (i - lo))) (fun i x -> x - shifts.[i - lo]) (fun _ v -> v) (fun _ v -> v)
        else
            expRun4 false src lo hi dst off (fun i v -> v - Vector256.Load(NativePtr.add pm (i - lo))) (fun i x -> x - shifts.[i - lo]) (fun _ v -> v) (fun _ v -> v)

    /// g[i] − e^(y[i])·s for i in [lo, hi), into z[i]: log-softmax's VJP along a row without storing the
    /// exponentials first, the same bits as the separate exponential and product and difference; with `stream`
    /// z around the caches (`streamedRun`; the caller fences).
    let internal gradientMinusExpInto (y: double[]) (g: double[]) (s: double) (z: double[]) (lo: int) (hi: int) (stream: bool) =
        use pg = fixed g
        streamedRun z lo hi stream (fun a b st ->
            if wide () then
                let vs = Vector512.Create(s)
                expRun8 st y a b z a (fun _ v -> v) (fun _ v -> v) (fun o e -> Vector512.Load(NativePtr.add pg o) - e * vs) (fun o e -> g.[o] - e * s)
            else
                let vs = Vector256.Create(s)
                expRun4 st y a b z a (fun _ v -> v) (fun _ v -> v) (fun o e -> Vector256.Load(NativePtr.add pg o) - e * vs) (fun o e -> g.[o] - e * s))

    /// g_i − e^(y_i)·g for i in [lo, hi) into z[i], with y_i = (src[i] − m) − l (log-softmax's output, made as its
    /// forward makes it) and g_i = g at `at`, +0 elsewhere: log-softmax's VJP along a row whose adjoint is zero but at
    /// one place (that row's sum is g), the same bits as `gradientMinusExpInto` given y and that adjoint; with
    /// `stream` z around the caches (the caller fences).
    let internal labelledGradientInto (src: double[]) (m: double) (l: double) (g: double) (at: int) (z: double[]) (lo: int) (hi: int) (stream: bool) =
        streamedRun z lo hi stream (fun a b st ->
            if wide () then
                let vm, vl, vs = Vector512.Create(m), Vector512.Create(l), Vector512.Create(g)
                expRun8 st src a b z a (fun _ v -> (v - vm) - vl) (fun _ x -> (x - m) - l) (fun _ e -> Vector512<double>.Zero - e * vs) (fun _ e -> 0.0 - e * g)
            else
                let vm, vl, vs = Vector256.Create(m), Vector256.Create(l), Vector256.Create(g)
                expRun4 st src a b z a (fun _ v -> (v - vm) - vl) (fun _ x -> (x - m) - l) (fun _ e -> Vector256<double>.Zero - e * vs) (fun _ e -> 0.0 - e * g))
        // The labelled place again through the same lanes (an exponential depends on its own lane alone), with g.
        if wide () then
            let vm, vl, vs = Vector512.Create(m), Vector512.Create(l), Vector512.Create(g)
            expRun8 false src at (at + 1) z at (fun _ v -> (v - vm) - vl) (fun _ x -> (x - m) - l) (fun _ e -> vs - e * vs) (fun _ e -> g - e * g)
        else
            let vm, vl, vs = Vector256.Create(m), Vector256.Create(l), Vector256.Create(g)
            expRun4 false src at (at + 1) z at (fun _ v -> (v - vm) - vl) (fun _ x -> (x - m) - l) (fun _ e -> vs - e * vs) (fun _ e -> g - e * g)

    /// g[i] − e^(y[i])·sums[i − lo] for i in [lo, hi), into z[i]: log-softmax's VJP along a middle axis, each
    /// position with its own sum, the same bits as the separate exponential and product and difference; with
    /// `stream` z around the caches (`streamedRun`; the caller fences).
    let internal gradientMinusExpEachInto (y: double[]) (g: double[]) (sums: double[]) (z: double[]) (lo: int) (hi: int) (stream: bool) =
        use pg = fixed g
        use ps = fixed sums
        streamedRun z lo hi stream (fun a b st ->
            if wide () then
                expRun8 st y a b z a (fun _ v -> v) (fun _ v -> v) (fun o e -> Vector512.Load(NativePtr.add pg o) - e * Vector512.Load(NativePtr.add ps (o - lo))) (fun o e -> g.[o] - e * sums.[o - lo])
            else
                expRun4 st y a b z a (fun _ v -> v) (fun _ v -> v) (fun o e -> Vector256.Load(NativePtr.add pg o) - e * Vector256.Load(NativePtr.add ps (o - lo))) (fun o e -> g.[o] - e * sums.[o - lo]))

    /// A fresh array of f over src in one pass (over the cores for large arrays): eight lanes at a time where
    /// AVX-512 is (`step8`), four for the rest and elsewhere (`step4`, the same operations: the same bits), the
    /// tail padded through the same lanes. Each step also returns a mask of lanes its exponential could not do
    /// (e^y with y below −708, or NaN); if any, the elements `outside` picks are redone by `scalar`, which gives
    /// them the bits the lanes would with Math.Exp in them. (A Math.Exp call inside the loop would keep its
    /// vectors on the stack on every iteration.) These steps are one chain per lane: one pass on four lanes was
    /// slower than two passes with an eight-lane exponential. A plain result goes around the caches
    /// (`Strided.streamsPlain`).
    let inline internal onePass (src: double[]) ([<InlineIfLambda>] step8: Vector512<double> -> struct (Vector512<double> * uint32))
                               ([<InlineIfLambda>] step4: Vector256<double> -> struct (Vector256<double> * uint32))
                               ([<InlineIfLambda>] outside: double -> bool) ([<InlineIfLambda>] scalar: double -> double) =
        let dst = Strided.fresh src.Length
        let streaming = Strided.streamsPlain src.Length && Sse.IsSupported
        Strided.chunkedStreamingCostly streaming src.Length (fun lo hi ->
            use px = fixed src
            use pd = fixed dst
            let mutable i = lo
            let mutable bad = 0u
            // Up to four elements from i through padded lanes (the same operations, so the same bits).
            let inline partial (i: int) (count: int) =
                let inline at k = if k < count then NativePtr.get px (i + k) else 0.0
                let struct (v, b) = step4 (Vector256.Create(at 0, at 1, at 2, at 3))
                for l in 0 .. count - 1 do NativePtr.set pd (i + l) (v.GetElement l)
                b
            if streaming then
                // Non-temporal stores take whole aligned lanes: the elements before the first one go through
                // padded lanes.
                let align = if wide () then 64n else 32n
                while i < hi && NativePtr.toNativeInt (NativePtr.add pd i) % align <> 0n do
                    let count = min (min 4 (hi - i)) (int ((align - NativePtr.toNativeInt (NativePtr.add pd i) % align) / 8n))
                    bad <- bad ||| partial i count
                    i <- i + count
            if wide () then
                while i <= hi - 8 do
                    let struct (v, b) = step8 (Vector512.Load(NativePtr.add px i))
                    if streaming then Vector512.StoreAlignedNonTemporal(v, NativePtr.add pd i) else Vector512.Store(v, NativePtr.add pd i)
                    bad <- bad ||| b
                    i <- i + 8
            while i <= hi - 4 do
                let struct (v, b) = step4 (Vector256.Load(NativePtr.add px i))
                if streaming then Vector256.StoreAlignedNonTemporal(v, NativePtr.add pd i) else Vector256.Store(v, NativePtr.add pd i)
                bad <- bad ||| b
                i <- i + 4
            if streaming then Sse.StoreFence()
            if i < hi then bad <- bad ||| partial i (hi - i)
            if bad <> 0u then
                for j in lo .. hi - 1 do
                    if outside src.[j] then dst.[j] <- scalar src.[j])
        dst

    /// e^x of every element (over the cores for large arrays): within 1 ulp of the correctly rounded value where
    /// the result is normal (tested against a 2,200-bit reference); subnormal and infinite results and NaN
    /// through Math.Exp. A large plain result goes around the caches (`onePass`, one vector a step: the same bits as
    /// `expInto`'s two, which keep the FMA units busy where the result stays in the caches).
    let exp (src: double[]) =
        if Strided.streamsPlain src.Length && Sse.IsSupported then
            onePass src (fun x -> let struct (v, bad) = expFormula x in struct (v, uint32 bad)) expFormula4
                (fun x -> not (x >= -708.0 && x <= 709.0)) Math.Exp
        else
            let dst = Strided.fresh src.Length
            Strided.chunkedCostly src.Length (fun lo hi -> expInto src lo hi dst lo)
            dst
