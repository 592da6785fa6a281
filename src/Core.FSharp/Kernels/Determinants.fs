namespace Functional.Core

open System

/// What an LU factorisation (`Factorizations.withLu`) gives beyond solves: the determinant, its sign and logarithm,
/// and the cofactor matrix adj(A)ᵀ (det's gradient), each from the packed factors of one n×n block, and each without
/// overflow or underflow on the way where the result itself is in range.
module internal Determinants =

    /// sign·Π uᵢᵢ of the LU at mo of m as (mantissa, exponent), the mantissas multiplied with the running product
    /// renormalised to [1, 2): no overflow or underflow on the way, whatever the pivots' magnitudes (finite, nonzero).
    let private pivotProduct (m: double[]) (mo: int) (n: int) (sign: double) =
        let mutable mantissa = sign
        let mutable exponent = 0L
        for i in 0 .. n - 1 do
            let u = m.[mo + i * n + i]
            let e = Math.ILogB u
            mantissa <- mantissa * Math.ScaleB(u, -e)
            let f = Math.ILogB mantissa
            mantissa <- Math.ScaleB(mantissa, -f)
            exponent <- exponent + int64 e + int64 f
        struct (mantissa, exponent)

    /// sign·Π uᵢᵢ of the LU at mo of m. Where the running product leaves the normal range on the way (a step at 0 by
    /// underflow, subnormal, or ∞) while every pivot is finite and nonzero, the det may still be in range
    /// (1e300·1e300·1e-300·1e-300 is 1) or lose bits on the way (1e-200·1e-120·1e100): it is then taken from the
    /// pivots' mantissas and exponents multiplied apart, the exponent applied once (one rounding). With it, whether
    /// every pivot is finite and nonzero.
    let private pivotDet (m: double[]) (mo: int) (n: int) (sign: double) : struct (double * bool) =
        let mutable d = sign
        let mutable leftRange = false
        let mutable finiteNonzero = true
        for i in 0 .. n - 1 do
            let u = m.[mo + i * n + i]
            if u = 0.0 || not (Double.IsFinite u) then finiteNonzero <- false
            d <- d * u
            if not (Double.IsNormal d) then leftRange <- true
        if leftRange && finiteNonzero then
            let struct (mantissa, exponent) = pivotProduct m mo n sign
            struct (Math.ScaleB(mantissa, int (max -100000L (min 100000L exponent))), true)
        else struct (d, finiteNonzero)

    /// det of block b from its LU: the pivots' product times the permutation's sign (`pivotDet`).
    let determinant (m: double[]) (n: int) (sign: double) = let struct (d, _) = pivotDet m 0 n sign in d

    /// A vector kept as v·2^Exponent, for substitutions whose solution spans more than the doubles' range (LAPACK's
    /// dlatrs in its simplest form): before an entry is set, v is scaled down by 2⁻⁵¹² while that entry would not be
    /// finite or would pass 2⁶⁰⁰. Entries below about 2⁻¹¹⁶² of the largest are lost to 0.
    type private ScaledVector(n: int) =
        let v = Array.zeroCreate<double> n
        let mutable exponent = 0
        static let limit = Math.ScaleB(1.0, 600)
        member _.Item with get (i: int) = v.[i]
        member _.Exponent = exponent
        /// v[i] := next (), which reads v and takes any right side scaled by 2^(−Exponent).
        member _.Set(i: int, next: unit -> double) =
            let mutable x = next ()
            let mutable tries = 0
            // Bounded: a NaN (from a NaN entry) stays NaN however far v is scaled.
            while (not (Double.IsFinite x) || abs x > limit) && tries < 8 do
                for k in 0 .. n - 1 do v.[k] <- Math.ScaleB(v.[k], -512)
                exponent <- exponent + 512
                x <- next ()
                tries <- tries + 1
            v.[i] <- x

    /// The last steps of a solve with Aᵀ = Uᵀ·Lᵀ·P in scaled arithmetic: Lᵀ·w = z over z itself (unit diagonal,
    /// backward), then row perm(i) of the result is row i of w.
    let private throughLTransposed (m: double[]) (mo: int) (n: int) (perm: int[]) (z: ScaledVector) =
        for i in n - 2 .. -1 .. 0 do
            z.Set(i, fun () ->
                let mutable s = z.[i]
                for k in i + 1 .. n - 1 do s <- s - m.[mo + k * n + i] * z.[k]
                s)
        let x = Array.zeroCreate n
        for i in 0 .. n - 1 do x.[perm.[i]] <- z.[i]
        x

    /// r·(column j of A⁻ᵀ) from A's LU (Aᵀ = Uᵀ·Lᵀ·P), in scaled arithmetic: (x, e) with the column x·2^e.
    let private scaledColumn (m: double[]) (mo: int) (perm: int[]) (n: int) (j: int) (r: double) =
        let u i k = m.[mo + i * n + k]
        let z = ScaledVector n
        // Uᵀ·z = r·e_j, forward (zᵢ = 0 before j).
        for i in j .. n - 1 do
            z.Set(i, fun () ->
                let mutable s = if i = j then Math.ScaleB(r, -z.Exponent) else 0.0
                for k in j .. i - 1 do s <- s - u k i * z.[k]
                s / u i i)
        let x = throughLTransposed m mo n perm z
        struct (x, z.Exponent)

    /// The cofactor matrix C = adj(A)ᵀ of block b of `a` (n×n at `offset`), from its LU (P·A = L·U at mo of m, the
    /// permutation, its sign, the first zero pivot `bad`), into `c` at cOffset. Without a zero pivot C = det A·A⁻ᵀ,
    /// solved as Aᵀ·C = (det A)·I: the right side scaled first (PyTorch's order), so a tiny det meets no huge inverse.
    /// Where det A is not a normal number (0 by underflow, subnormal, ∞) each column j is solved instead against
    /// det A·2^(−Gⱼ), with Gⱼ the exponent of det A/uⱼⱼ (a number near uⱼⱼ, from the pivots' mantissas and
    /// exponents), and scaled back by 2^Gⱼ; a column whose solution still leaves the doubles' range on the way (its
    /// cofactors 1 and 1e-200 beside an inverse of 1e400) is solved again in scaled arithmetic (`scaledColumn`).
    /// With a zero pivot, A has rank n − 1 or less, and adj(A) = γ·x·yᵀ with U·x = 0 (from U's first zero pivot) and
    /// yᵀ·A = 0 (from its last one, through Lᵀ and P), both in scaled arithmetic; γ comes from one cofactor, the minor
    /// at the largest |xᵢ|·|yⱼ|, factored on its own (0 when the rank is lower, up to rounding), so that
    /// C[i, j] = ±minor·(yᵢ/y_q)·(xⱼ/x_p), where x's and y's scales cancel.
    let cofactor (a: double[]) (offset: int) (n: int) (m: double[]) (mo: int) (perm: int[]) (sign: double) (bad: int) (c: double[]) (cOffset: int) =
        if bad < 0 then
            let struct (d, finitePivots) = pivotDet m mo n sign
            let rhs = Storage.rentScratch (n * n)
            try
                Array.Clear(rhs, 0, n * n)
                for i in 0 .. n - 1 do rhs.[i * n + i] <- d
                Factorizations.luSolveTransposed m mo perm n rhs 0 n c cOffset
                if not (Double.IsNormal d || Double.IsNaN d) && finitePivots then
                    let struct (mantissa, exponent) = pivotProduct m mo n sign
                    // Column j's right side: det A·2^(−Gⱼ) = mantissa·2^(eⱼ + tⱼ), Gⱼ = exponent − eⱼ − tⱼ, with tⱼ lifting a
                    // subnormal pivot's exponent eⱼ to the normal range (a subnormal right side would lose bits).
                    let lift (j: int) = max 0 (-1022 - Math.ILogB m.[mo + j * n + j])
                    Array.Clear(rhs, 0, n * n)
                    for j in 0 .. n - 1 do rhs.[j * n + j] <- Math.ScaleB(mantissa, Math.ILogB m.[mo + j * n + j] + lift j)
                    let x = Storage.rentScratch (n * n)
                    try
                        Factorizations.luSolveTransposed m mo perm n rhs 0 n x 0
                        for j in 0 .. n - 1 do
                            let mutable finite = true
                            for i in 0 .. n - 1 do
                                if not (Double.IsFinite x.[i * n + j]) then finite <- false
                            let g = exponent - int64 (Math.ILogB m.[mo + j * n + j]) - int64 (lift j)
                            if finite then
                                let g = int (max -100000L (min 100000L g))
                                for i in 0 .. n - 1 do c.[cOffset + i * n + j] <- Math.ScaleB(x.[i * n + j], g)
                            else
                                let struct (column, e) = scaledColumn m mo perm n j rhs.[j * n + j]
                                let g = int (max -100000L (min 100000L (g + int64 e)))
                                for i in 0 .. n - 1 do c.[cOffset + i * n + j] <- Math.ScaleB(column.[i], g)
                    finally Storage.returnScratch x
            finally Storage.returnScratch rhs
        else
            let u i j = m.[mo + i * n + j]
            // U·x = 0: 1 at the first zero pivot, 0 below it, back substitution above it (nonzero pivots there).
            let xs = ScaledVector n
            xs.Set(bad, fun () -> Math.ScaleB(1.0, -xs.Exponent))
            for i in bad - 1 .. -1 .. 0 do
                xs.Set(i, fun () ->
                    let mutable s = 0.0
                    for j in i + 1 .. bad do s <- s + u i j * xs.[j]
                    -s / u i i)
            let x = Array.init n (fun i -> xs.[i])
            // wᵀ·U = 0: 1 at the last zero pivot, 0 before it, forward substitution after it.
            let mutable last = n - 1
            while u last last <> 0.0 do last <- last - 1
            let w = ScaledVector n
            w.Set(last, fun () -> Math.ScaleB(1.0, -w.Exponent))
            for j in last + 1 .. n - 1 do
                w.Set(j, fun () ->
                    let mutable s = 0.0
                    for i in last .. j - 1 do s <- s + w.[i] * u i j
                    -s / u j j)
            // yᵀ·A = yᵀ·Pᵀ·L·U = 0 for Lᵀ·(P·y) = w: back substitution with Lᵀ (unit diagonal), then Pᵀ.
            let y = throughLTransposed m mo n perm w
            let largest (v: double[]) =
                let mutable k = 0
                for i in 1 .. v.Length - 1 do
                    if abs v.[i] > abs v.[k] then k <- i
                k
            let p = largest x
            let q = largest y
            // adj(A)[p, q] = (−1)^(p+q)·det of A without row q and column p.
            let minor =
                if n = 1 then 1.0
                else
                    let r = n - 1
                    let sub = Storage.rentScratch (r * r)
                    try
                        let mutable k = 0
                        for i in 0 .. n - 1 do
                            if i <> q then
                                for j in 0 .. n - 1 do
                                    if j <> p then
                                        sub.[k] <- a.[offset + i * n + j]
                                        k <- k + 1
                        Factorizations.withLu sub 0 r (fun mm _ s _ -> determinant mm r s)
                    finally Storage.returnScratch sub
            let signed = if (p + q) % 2 = 0 then minor else -minor
            // C[i, j] = adj(A)[j, i] = γ·xⱼ·yᵢ with γ = ±minor/(x_p·y_q), whatever x's and y's scales: the factors'
            // mantissas multiplied and their exponents added apart, one scaling at the end (xⱼ/x_p alone may
            // underflow where the cofactor does not: −1e200 times 1e-400).
            let split (v: double) = if v = 0.0 || not (Double.IsFinite v) then struct (v, 0) else let e = Math.ILogB v in struct (Math.ScaleB(v, -e), e)
            let struct (sm, se) = split signed
            let struct (xpm, xpe) = split x.[p]
            let struct (yqm, yqe) = split y.[q]
            let xs = Array.init n (fun j -> split x.[j])
            for i in 0 .. n - 1 do
                let struct (yim, yie) = split y.[i]
                for j in 0 .. n - 1 do
                    let struct (xjm, xje) = xs.[j]
                    c.[cOffset + i * n + j] <-
                        if yim = 0.0 || xjm = 0.0 || sm = 0.0 then signed * (y.[i] / y.[q]) * (x.[j] / x.[p])
                        else Math.ScaleB(sm * (yim / yqm) * (xjm / xpm), se + yie - yqe + xje - xpe)

    /// (sign of det, ln |det|) of block b from its LU, without overflow.
    let signLogAbs (m: double[]) (n: int) (sign: double) =
        let mutable s = sign
        let mutable l = 0.0
        for i in 0 .. n - 1 do
            let p = m.[i * n + i]
            if p < 0.0 then s <- -s
            elif p = 0.0 then s <- 0.0
            l <- l + Math.Log(abs p)
        // A NaN pivot (a NaN in A) leaves the determinant NaN: so is its sign, not the sign of the other pivots.
        (if Double.IsNaN l then nan else s), l
