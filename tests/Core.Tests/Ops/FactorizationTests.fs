namespace Functional.Tests

open System
open Xunit
open Functional.Core

/// The factorizations (LU, the substitutions, Cholesky) behind solve, inverse, det and cholesky: their vector and
/// blocked kernels against the textbook loops, bit for bit up to one panel and as accurate beyond it; the factors a
/// forward pass keeps for its pullback; singular and non-positive-definite matrices refused and named.
module OpsFactorizationTests =
    /// The textbook loops the factorizations' vector kernels must reproduce bit for bit: LU with partial pivoting,
    /// the substitutions column by column, and left-looking Cholesky.
    module private Textbook =
        let lu (a: double[]) (n: int) =
            let m = Array.copy a
            let perm = Array.init n id
            for k in 0 .. n - 1 do
                let mutable p = k
                for i in k + 1 .. n - 1 do
                    if abs m.[i * n + k] > abs m.[p * n + k] then p <- i
                if p <> k then
                    for j in 0 .. n - 1 do
                        let t = m.[k * n + j]
                        m.[k * n + j] <- m.[p * n + j]
                        m.[p * n + j] <- t
                    let t = perm.[k]
                    perm.[k] <- perm.[p]
                    perm.[p] <- t
                let pivot = m.[k * n + k]
                if pivot <> 0.0 then
                    for i in k + 1 .. n - 1 do
                        let f = m.[i * n + k] / pivot
                        m.[i * n + k] <- f
                        if f <> 0.0 then
                            for j in k + 1 .. n - 1 do m.[i * n + j] <- m.[i * n + j] - f * m.[k * n + j]
            m, perm

        /// det from the LU: the pivots' product times the permutation's sign (from its cycles' lengths).
        let detOfLu (m: double[]) (perm: int[]) (n: int) =
            let mutable d = 1.0
            for i in 0 .. n - 1 do d <- d * m.[i * n + i]
            let seen = Array.zeroCreate n
            for i in 0 .. n - 1 do
                if not seen.[i] then
                    let mutable j = i
                    let mutable length = 0
                    while not seen.[j] do
                        seen.[j] <- true
                        j <- perm.[j]
                        length <- length + 1
                    if length % 2 = 0 then d <- -d
            d

        let solve (m: double[]) (perm: int[]) (n: int) (b: double[]) (k: int) =
            let x = Array.zeroCreate (n * k)
            for c in 0 .. k - 1 do
                for i in 0 .. n - 1 do
                    let mutable s = b.[perm.[i] * k + c]
                    for j in 0 .. i - 1 do s <- s - m.[i * n + j] * x.[j * k + c]
                    x.[i * k + c] <- s
                for i in n - 1 .. -1 .. 0 do
                    let mutable s = x.[i * k + c]
                    for j in i + 1 .. n - 1 do s <- s - m.[i * n + j] * x.[j * k + c]
                    x.[i * k + c] <- s / m.[i * n + i]
            x

        let cholesky (a: double[]) (n: int) =
            let l = Array.zeroCreate (n * n)
            for j in 0 .. n - 1 do
                let mutable d = a.[j * n + j]
                for k in 0 .. j - 1 do d <- d - l.[j * n + k] * l.[j * n + k]
                let ljj = Math.Sqrt d
                l.[j * n + j] <- ljj
                for i in j + 1 .. n - 1 do
                    let mutable s = a.[i * n + j]
                    for k in 0 .. j - 1 do s <- s - l.[i * n + k] * l.[j * n + k]
                    l.[i * n + j] <- s / ljj
            l

    /// A random n×n matrix, a symmetric positive definite one built from it, and n×k right-hand sides.
    let private factorizationCase (n: int) (k: int) =
        let rng = Random(73 + n)
        let a = Array.init (n * n) (fun _ -> rng.NextDouble() - 0.5)
        let spd =
            Array.init (n * n) (fun e ->
                let i, j = e / n, e % n
                let mutable s = if i = j then float n else 0.0
                for k in 0 .. n - 1 do s <- s + a.[i * n + k] * a.[j * n + k]
                s)
        a, spd, Array.init (n * k) (fun _ -> rng.NextDouble() - 0.5)

    /// solve, inverse and cholesky give the textbook loops' bits for sizes up to one panel (vector tails, and the
    /// sizes where rows and column blocks are shared out to the cores).
    [<Fact>]
    let ``the factorizations reproduce the textbook loops bit for bit up to one panel`` () =
        let bits (xs: double[]) = Array.map BitConverter.DoubleToInt64Bits xs
        for n in [ 1; 2; 3; 5; 8; 13; 37; 64 ] do
            let k = n + 3
            let a, spd, b = factorizationCase n k
            let m, perm = Textbook.lu a n
            let value (v: Value) = v.Tensor.ToArray()
            Assert.Equal<int64[]>(bits (Textbook.solve m perm n b k), bits (value (Linalg.solve (Value.constant (Tensor.create [| n; n |] a)) (Value.constant (Tensor.create [| n; k |] b)))))
            let eye = Array.init (n * n) (fun e -> if e / n = e % n then 1.0 else 0.0)
            Assert.Equal<int64[]>(bits (Textbook.solve m perm n eye n), bits (value (Linalg.inverse (Value.constant (Tensor.create [| n; n |] a)))))
            Assert.Equal<int64[]>(bits (Textbook.cholesky spd n), bits (value (Linalg.cholesky (Value.constant (Tensor.create [| n; n |] spd)))))

    /// Beyond one panel the products run on the GEMM kernel (other sums, with FMA): the results must be as accurate
    /// as the textbook loops' (residuals within a few units of theirs and of n·ε) and agree with them to rounding.
    [<Fact>]
    let ``the blocked factorizations are as accurate as the textbook loops`` () =
        let eps = Math.Pow(2.0, -52.0)
        let maxAbs (xs: double[]) = xs |> Array.fold (fun s v -> max s (abs v)) 0.0
        let matmul (p: double[]) (q: double[]) (rows: int) (inner: int) (cols: int) =
            Array.init (rows * cols) (fun e ->
                let i, j = e / cols, e % cols
                let mutable s = 0.0
                for t in 0 .. inner - 1 do s <- s + p.[i * inner + t] * q.[t * cols + j]
                s)
        /// max |A·X − B| / (max |A| · max |X| · n): a backward error in units of the size.
        let residual (a: double[]) (x: double[]) (b: double[]) (n: int) (k: int) =
            let ax = matmul a x n n k
            maxAbs (Array.map2 (-) ax b) / (maxAbs a * maxAbs x * float n)
        for n in [ 65; 97; 130; 300 ] do
            let k = 70
            let a, spd, b = factorizationCase n k
            let m, perm = Textbook.lu a n
            let value (v: Value) = v.Tensor.ToArray()
            let expected = Textbook.solve m perm n b k
            let got = value (Linalg.solve (Value.constant (Tensor.create [| n; n |] a)) (Value.constant (Tensor.create [| n; k |] b)))
            let rGot, rExpected = residual a got b n k, residual a expected b n k
            Assert.True(rGot <= 4.0 * eps && rGot <= 4.0 * rExpected + eps, sprintf "n = %d: solve's residual %g, the loops' %g" n rGot rExpected)
            let diff = maxAbs (Array.map2 (-) got expected) / maxAbs expected
            Assert.True(diff < 1e-9, sprintf "n = %d: solve differs from the loops by %g relative" n diff)
            let eye = Array.init (n * n) (fun e -> if e / n = e % n then 1.0 else 0.0)
            let inv = value (Linalg.inverse (Value.constant (Tensor.create [| n; n |] a)))
            let rInv, rInvExpected = residual a inv eye n n, residual a (Textbook.solve m perm n eye n) eye n n
            Assert.True(rInv <= 4.0 * eps && rInv <= 4.0 * rInvExpected + eps, sprintf "n = %d: inverse's residual %g, the loops' %g" n rInv rInvExpected)
            let l = value (Linalg.cholesky (Value.constant (Tensor.create [| n; n |] spd)))
            let lt = Array.init (n * n) (fun e -> l.[(e % n) * n + e / n])
            let rChol = maxAbs (Array.map2 (-) (matmul l lt n n n) spd) / (maxAbs spd * float n)
            Assert.True(rChol <= 2.0 * eps, sprintf "n = %d: L·Lᵀ − A is %g of max |A|·n" n rChol)
            let lDiff = maxAbs (Array.map2 (-) l (Textbook.cholesky spd n)) / maxAbs l
            Assert.True(lDiff < 1e-13, sprintf "n = %d: cholesky differs from the loops by %g relative" n lDiff)
            for i in 0 .. n - 1 do
                for j in i + 1 .. n - 1 do Assert.Equal(0.0, l.[i * n + j])
            let detGot = (Linalg.det (Value.constant (Tensor.create [| n; n |] a))).Tensor.ToArray().[0]
            let detExpected = Textbook.detOfLu m perm n
            Assert.True(abs (detGot - detExpected) <= 1e-10 * abs detExpected, sprintf "n = %d: det %g, the loops' %g" n detGot detExpected)

    /// The substitutions share the right-hand sides' columns out to the cores in slices: each column's result has the
    /// same bits as when it is solved in a group of its own (every column's operations are independent of the others').
    [<Fact>]
    let ``solving many right-hand sides gives each column the bits of solving its group alone`` () =
      // 320 columns: on two cores, slices of 160 that go through the products in pieces of 128 and 32.
      for n, k, group in [ (200, 64, 16); (200, 320, 64) ] do
        let a, _, b = factorizationCase n k
        let solve (cols: int) (b: double[]) =
            (Linalg.solve (Value.constant (Tensor.create [| n; n |] a)) (Value.constant (Tensor.create [| n; cols |] b))).Tensor.ToArray()
        let whole = solve k b
        for g0 in 0 .. group .. k - 1 do
            let part = solve group (Array.init (n * group) (fun e -> b.[(e / group) * k + g0 + e % group]))
            for i in 0 .. n - 1 do
                for j in 0 .. group - 1 do
                    if BitConverter.DoubleToInt64Bits whole.[i * k + g0 + j] <> BitConverter.DoubleToInt64Bits part.[i * group + j] then
                        Assert.Fail(sprintf "row %d, column %d: %.17g together, %.17g in its group" i (g0 + j) whole.[i * k + g0 + j] part.[i * group + j])

    /// A lower triangular matrix is inverted by substitution (no LU): up to one panel the textbook row sequence bit for
    /// bit, beyond it as accurate; a zero on the diagonal is refused at its index.
    [<Fact>]
    let ``a lower triangular matrix is inverted by substitution`` () =
        let eps = Math.Pow(2.0, -52.0)
        for n in [ 1; 5; 64; 65; 130; 300 ] do
            let rng = Random(17 + n)
            let l = Array.init (n * n) (fun e -> let i, j = e / n, e % n in if j > i then 0.0 elif i = j then 1.0 + rng.NextDouble() else rng.NextDouble() - 0.5)
            // Row i of L⁻¹: (e_i − Σ_{j<i} L[i,j]·row j) / L[i,i], each element's products subtracted in order of j.
            let expected = Array.zeroCreate (n * n)
            for i in 0 .. n - 1 do
                for c in 0 .. i do
                    let mutable s = if c = i then 1.0 else 0.0
                    for j in 0 .. i - 1 do s <- s - l.[i * n + j] * expected.[j * n + c]
                    expected.[i * n + c] <- s / l.[i * n + i]
            let got = (Linalg.inverse (Value.constant (Tensor.create [| n; n |] l))).Tensor.ToArray()
            if n <= 64 then Assert.Equal<int64[]>(Array.map BitConverter.DoubleToInt64Bits expected, Array.map BitConverter.DoubleToInt64Bits got)
            else
                let scale = expected |> Array.fold (fun s v -> max s (abs v)) 0.0
                let diff = Array.map2 (fun a b -> abs (a - b)) got expected |> Array.max
                Assert.True(diff <= 4.0 * float n * eps * scale, sprintf "n = %d: %g from the substitution's result (scale %g)" n diff scale)
                for i in 0 .. n - 1 do
                    for j in i + 1 .. n - 1 do Assert.Equal(0.0, got.[i * n + j])
        let n = 70
        let l = Array.init (n * n) (fun e -> let i, j = e / n, e % n in if j > i then 0.0 elif i = j then (if i = 66 then 0.0 else 2.0) else 0.25)
        let ex = Assert.Throws<ArgumentException>(fun () -> Linalg.inverse (Value.constant (Tensor.create [| n; n |] l)) |> ignore)
        Assert.Contains("pivot 66 of its LU factorisation is 0", ex.Message)

    /// det's and logAbsDet's pullbacks use the LU factors their forward pass kept: logAbsDet's gradient has the bits
    /// of the rule with a fresh inverse (ḡ·A⁻ᵀ), det's is the rule (ḡ·det A·A⁻ᵀ) to rounding, one panel and several,
    /// a batch too; solve's pullback solves with Aᵀ from them.
    [<Fact>]
    let ``det's, logAbsDet's and solve's gradients reuse the forward LU`` () =
        let bits (v: Value) = v.Tensor.ToArray() |> Array.map BitConverter.DoubleToInt64Bits
        for shape in [ [| 7; 7 |]; [| 3; 20; 20 |]; [| 130; 130 |] ] do
            let n = shape.[shape.Length - 1]
            let a = Value.constant (Tensor.random (n + shape.Length) shape)
            let rows = Array.append shape.[.. shape.Length - 3] [| 1; 1 |]
            let transposed (v: Value) = Layout.permute (Array.append [| 0 .. shape.Length - 3 |] [| shape.Length - 1; shape.Length - 2 |]) v
            let inverseT = transposed (Linalg.inverse a)
            // det's gradient, the cofactors, solves Aᵀ·C = det A·I with the kept factors: equal to det A·A⁻ᵀ to rounding.
            let expectedDet = Arithmetic.mul (Layout.reshape rows (Linalg.det a)) inverseT
            let gotDet = Autodiff.grad (fun x -> Reduction.sum (Linalg.det x)) a
            let detScale = expectedDet.Tensor.ToArray() |> Array.fold (fun s v -> max s (abs v)) 0.0
            Assert.True(Tensor.maxAbsDiff expectedDet.Tensor gotDet.Tensor <= 1e-11 * detScale, sprintf "%A: det's gradient" shape)
            Assert.Equal<int64[]>(bits inverseT, bits (Autodiff.grad (fun x -> Reduction.sum (Linalg.logAbsDet x)) a))
            // solve's pullback solves with Aᵀ from A's kept factors: B̄ = A⁻ᵀ·W, Ā = −B̄·Xᵀ.
            let b = Value.constant (Tensor.random 5 (Array.append shape.[.. shape.Length - 2] [| 3 |]))
            let w = Value.constant (Tensor.random 6 b.Shape)
            let _, pullback = Autodiff.vjpMany (fun vs -> Linalg.solve vs.[0] vs.[1]) [| a; b |]
            let grads = pullback w
            let expectedB = Linalg.solve (transposed a) w
            let expectedA = Arithmetic.neg (Linear.einsum "...ik,...jk->...ij" [| expectedB; Linalg.solve a b |])
            // Another factorisation (of A, not Aᵀ): equal to rounding, relative to the largest element.
            for expected, got, name in [ expectedB, grads.[1], "B̄"; expectedA, grads.[0], "Ā" ] do
                let scale = expected.Tensor.ToArray() |> Array.fold (fun s v -> max s (abs v)) 0.0
                let diff = Tensor.maxAbsDiff expected.Tensor got.Tensor
                Assert.True(diff <= 1e-11 * scale, sprintf "%A: %s off by %g (largest element %g)" shape name diff scale)

    /// solveTriangular substitutes: the other triangle is never read (NaN there changes nothing), up to one panel
    /// each element is the substitution's sequence bit for bit, and a zero on the diagonal is refused at its index.
    [<Fact>]
    let ``solveTriangular reads its triangle only and refuses a zero on the diagonal`` () =
        let bits (xs: double[]) = Array.map BitConverter.DoubleToInt64Bits xs
        for upper in [ false; true ] do
            for n in [ 6; 64; 100 ] do
                let rng = Random(31 + n)
                let inside i j = if upper then j >= i else j <= i
                let a = Array.init (n * n) (fun e -> let i, j = e / n, e % n in if i = j then 1.0 + rng.NextDouble() else rng.NextDouble() - 0.5)
                let k = 5
                let b = Array.init (n * k) (fun _ -> rng.NextDouble() - 0.5)
                let clean = Array.init (n * n) (fun e -> if inside (e / n) (e % n) then a.[e] else 0.0)
                let dirty = Array.init (n * n) (fun e -> if inside (e / n) (e % n) then a.[e] else nan)
                let solve (m: double[]) = (Linalg.solveTriangular upper (Value.constant (Tensor.create [| n; n |] m)) (Value.constant (Tensor.create [| n; k |] b))).Tensor.ToArray()
                let got = solve dirty
                Assert.Equal<int64[]>(bits (solve clean), bits got)
                // Row by row (from the bottom when upper), each element's products subtracted in order, then divided.
                let x = Array.zeroCreate (n * k)
                for step in 0 .. n - 1 do
                    let i = if upper then n - 1 - step else step
                    for c in 0 .. k - 1 do
                        let mutable s = b.[i * k + c]
                        for j in (if upper then [ i + 1 .. n - 1 ] else [ 0 .. i - 1 ]) do s <- s - a.[i * n + j] * x.[j * k + c]
                        x.[i * k + c] <- s / a.[i * n + i]
                if n <= 64 then Assert.Equal<int64[]>(bits x, bits got)
                else
                    let diff = Array.map2 (fun p q -> abs (p - q)) got x |> Array.max
                    let scale = x |> Array.fold (fun s v -> max s (abs v)) 0.0
                    Assert.True(diff <= 4.0 * float n * Math.Pow(2.0, -52.0) * scale, sprintf "upper %b n %d: %g from the substitution" upper n diff)
            let a = Array.init 16 (fun e -> if e = 2 * 4 + 2 then 0.0 elif e / 4 = e % 4 then 2.0 else 0.5)
            let ex = Assert.Throws<ArgumentException>(fun () -> Linalg.solveTriangular upper (Value.constant (Tensor.create [| 4; 4 |] a)) (Value.constant (Tensor.ones [| 4 |])) |> ignore)
            Assert.Contains("singular (its diagonal element 2 is 0)", ex.Message)

    /// The factors a forward pass keeps for its pullback stay its own: collections between the forward and the
    /// pullback (after which released arrays are poisoned in the pool) do not change the gradient.
    [<Fact>]
    let ``the kept LU factors survive collections before the pullback`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let n = 130
        let a = Value.constant (Tensor.random 41 [| n; n |])
        let b = Value.constant (Tensor.random 42 [| n; 4 |])
        let w = Value.constant (Tensor.random 43 [| n; 4 |])
        let expectedDet = (Autodiff.grad (fun x -> Linalg.det x) a).Tensor.ToArray()
        let expectedSolve = (snd (Autodiff.vjpMany (fun vs -> Linalg.solve vs.[0] vs.[1]) [| a; b |]) w) |> Array.map (fun g -> g.Tensor.ToArray())
        let _, detPullback = Autodiff.vjp (fun x -> Linalg.det x) a
        let _, solvePullback = Autodiff.vjpMany (fun vs -> Linalg.solve vs.[0] vs.[1]) [| a; b |]
        for _ in 1 .. 3 do
            GC.Collect()
            GC.WaitForPendingFinalizers()
        // A result made outside every scope: the collections' unreachable arrays join the pool, poisoned.
        let held = Arithmetic.scale nan a
        Assert.Equal<double[]>(expectedDet, (detPullback (Value.scalar 1.0)).Tensor.ToArray())
        let got = solvePullback w |> Array.map (fun g -> g.Tensor.ToArray())
        Assert.Equal<double[]>(expectedSolve.[0], got.[0])
        Assert.Equal<double[]>(expectedSolve.[1], got.[1])
        GC.KeepAlive held

    /// A zero column in a later panel is still found: its pivot is exactly 0 after the products, as in the loops.
    [<Fact>]
    let ``a zero column in a later panel makes the blocked LU singular at that pivot`` () =
        let n = 130
        let a, _, _ = factorizationCase n 1
        for i in 0 .. n - 1 do a.[i * n + 100] <- 0.0
        let ex = Assert.Throws<ArgumentException>(fun () -> Linalg.inverse (Value.constant (Tensor.create [| n; n |] a)) |> ignore)
        Assert.Contains("pivot 100 of its LU factorisation is 0", ex.Message)
        Assert.Equal(0.0, (Linalg.det (Value.constant (Tensor.create [| n; n |] a))).Tensor.ToArray().[0])

    /// Beyond one panel Cholesky is recursive: a matrix whose leading minors are positive up to order 150 and not
    /// from 151 (its element [150, 150] made negative, in a right half two levels down) is refused at that order,
    /// and the same matrix with that element restored is factored.
    [<Fact>]
    let ``the recursive Cholesky finds the first minor that is not positive`` () =
        let n = 200
        let _, spd, _ = factorizationCase n 1
        let bad = Array.copy spd
        bad.[150 * n + 150] <- -1000.0
        let ex = Assert.Throws<ArgumentException>(fun () -> Linalg.cholesky (Value.constant (Tensor.create [| n; n |] bad)) |> ignore)
        Assert.Contains("its leading minor of order 151 is not positive", ex.Message)
        let l = (Linalg.cholesky (Value.constant (Tensor.create [| n; n |] spd))).Tensor.ToArray()
        Assert.True(l |> Array.forall Double.IsFinite)

    /// The middle of cholesky's pullback, M = ½(Φ(X) + Φ(X)ᵀ) for X = tril(L)ᵀ·G, against its definition summed
    /// term by term: row by row up to one panel, in blocks of rows on the GEMM kernel beyond (vector tails, one block
    /// more than a multiple); the parts of L and G above their diagonals hold NaN and are never read; M comes out
    /// exactly symmetric.
    [<Fact>]
    let ``cholesky's pullback middle equals its definition and never reads above the diagonals`` () =
        for n in [ 1; 3; 8; 37; 64; 65; 97; 200 ] do
            let rng = Random(11 + n)
            let l = Array.init (n * n) (fun e -> if e % n > e / n then nan else rng.NextDouble() - 0.5)
            let g = Array.init (n * n) (fun e -> if e % n > e / n then nan else rng.NextDouble() - 0.5)
            let m = Array.zeroCreate (n * n)
            Factorizations.choleskyMiddle l 0 g 0 n m 0
            let mutable worst = 0.0
            for i in 0 .. n - 1 do
                for j in 0 .. i do
                    let mutable x = 0.0
                    for k in i .. n - 1 do x <- x + l.[k * n + i] * g.[k * n + j]
                    worst <- max worst (abs (m.[i * n + j] - 0.5 * x))
                    Assert.Equal(BitConverter.DoubleToInt64Bits m.[i * n + j], BitConverter.DoubleToInt64Bits m.[j * n + i])
            Assert.True(worst < 1e-13 * float n, sprintf "n = %d: M differs from its definition by %g" n worst)

    /// Tᵀ·X = B solved where T is stored (the substitution behind cholesky's pullback and solveTriangular's) equals
    /// the substitution with a transposed copy, up to one panel and beyond.
    [<Fact>]
    let ``the transposed substitutions equal substitutions with the transposed copy`` () =
        for n in [ 1; 5; 64; 65; 200 ] do
            let k = 70
            let a, _, b = factorizationCase n k
            // A dominant diagonal keeps the triangles well conditioned.
            let a = a |> Array.mapi (fun e v -> if e / n = e % n then v + float n else v)
            let t = Array.init (n * n) (fun e -> a.[(e % n) * n + e / n])
            for upper in [ false; true ] do
                let copy = Array.copy b
                Factorizations.triangularSolve (not upper) false t 0 n copy 0 k
                let inPlace = Array.copy b
                Factorizations.triangularSolve upper true a 0 n inPlace 0 k
                let worst = Array.map2 (fun (x: float) y -> abs (x - y) / (1.0 + abs x)) copy inPlace |> Array.max
                Assert.True(worst < 1e-12, sprintf "n = %d, upper = %b: %g" n upper worst)

    /// The last step of cholesky's pullback, S(L⁻ᵀ·X) from the lower triangle only (S mirroring it), against the
    /// whole substitution's lower triangle: NaN above the diagonals of L and X reaches nothing, and the result is
    /// exactly symmetric.
    [<Fact>]
    let ``the lower triangle of a substitution with Lᵀ equals the whole substitution's`` () =
        for n in [ 1; 5; 64; 65; 97; 200 ] do
            let a, _, _ = factorizationCase n 1
            let rng = Random(21 + n)
            let lower (e: int) = e % n <= e / n
            let l = Array.init (n * n) (fun e -> if not (lower e) then nan elif e / n = e % n then a.[e] + float n else a.[e])
            let x = Array.init (n * n) (fun e -> if lower e then rng.NextDouble() - 0.5 else nan)
            let full = Array.init (n * n) (fun e -> if lower e then x.[e] else 0.0)
            Factorizations.triangularSolve false true l 0 n full 0 n
            let got = Array.copy x
            Factorizations.lowerOfTransposedSolve l 0 n got 0
            for i in 0 .. n - 1 do
                for j in 0 .. i do
                    let want = full.[i * n + j]
                    Assert.True(abs (got.[i * n + j] - want) <= 1e-12 * (1.0 + abs want), sprintf "n = %d, [%d, %d]: %g against %g" n i j got.[i * n + j] want)
                    Assert.Equal(BitConverter.DoubleToInt64Bits got.[i * n + j], BitConverter.DoubleToInt64Bits got.[j * n + i])

    /// The signed minors (−1)^(i+j)·det A₍ᵢⱼ₎ (A without row i and column j) from the textbook LU: the cofactors by
    /// their definition.
    let private textbookDet (m: double[]) (r: int) = let f, perm = Textbook.lu m r in Textbook.detOfLu f perm r
    let private minorsOf (a: double[]) (n: int) = Cofactors.signedMinors textbookDet a n

    /// det's gradient is the cofactor matrix adj(A)ᵀ at every A (the polynomial's derivative): at singular matrices
    /// (an exact zero pivot, zero pivots in two places, a repeated row, rank n − 2, a batch mixing both kinds, the
    /// blocked LU) it is the matrix of signed minors (no A⁻¹ exists there); its forward-mode derivative is the same
    /// inner product; near a singular matrix (a pivot below 1e-308, where A⁻ᵀ overflows) it stays finite, and where
    /// det itself under- or overflows the cofactors, in range, are found.
    [<Fact>]
    let ``det's gradient is the cofactor matrix, also at a singular matrix`` () =
        let grad (shape: int[]) (a: double[]) = (Autodiff.grad (fun x -> Reduction.sum (Linalg.det x)) (Value.constant (Tensor.create shape a))).Tensor.ToArray()
        let near (name: string) (want: double[]) (got: double[]) =
            let scale = want |> Array.fold (fun s v -> max s (abs v)) 1e-300
            let diff = Array.map2 (fun p q -> abs (p - q)) want got |> Array.fold max 0.0
            Assert.True(diff <= 1e-12 * scale, sprintf "%s: cofactors off by %g (largest %g)\nwant %A\ngot  %A" name diff scale want got)
        Assert.Equal<double[]>([| 4.0; -2.0; -2.0; 1.0 |], grad [| 2; 2 |] [| 1.0; 2.0; 2.0; 4.0 |])
        // Zero pivots at 0 and 1; adj([[0, 1], [0, 0]]) = [[0, −1], [0, 0]].
        Assert.Equal<double[]>([| 0.0; 0.0; -1.0; 0.0 |], grad [| 2; 2 |] [| 0.0; 1.0; 0.0; 0.0 |])
        Assert.Equal<double[]>([| 1.0 |], grad [| 1; 1 |] [| 0.0 |])
        near "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]" [| -3.0; 6.0; -3.0; 6.0; -12.0; 6.0; -3.0; 6.0; -3.0 |] (grad [| 3; 3 |] [| 1.0 .. 9.0 |])
        let rng = Random(17)
        for n in [ 3; 5; 8 ] do
            let random () = Array.init (n * n) (fun _ -> rng.NextDouble() - 0.5)
            let repeated = random ()
            Array.Copy(repeated, n, repeated, (n - 1) * n, n)
            let rankTwoLess = random ()
            Array.Copy(rankTwoLess, 0, rankTwoLess, n, n)
            Array.Copy(rankTwoLess, 0, rankTwoLess, 2 * n, n)
            let zeroColumn = random ()
            for i in 0 .. n - 1 do zeroColumn.[i * n] <- 0.0
            for name, a in [ "a repeated row", repeated; "three equal rows", rankTwoLess; "a zero first column", zeroColumn; "invertible", random () ] do
                near (sprintf "%d×%d, %s" n n name) (minorsOf a n) (grad [| n; n |] a)
            // A batch of a singular and an invertible matrix: each its own.
            let other = random ()
            near (sprintf "batch of %d×%d" n n) (Array.append (minorsOf repeated n) (minorsOf other n)) (grad [| 2; n; n |] (Array.append repeated other))
            // Forward mode: ⟨C, Ȧ⟩.
            let t = random ()
            let _, tangent = Autodiff.jvp (fun x -> Linalg.det x) (Value.constant (Tensor.create [| n; n |] repeated)) (Value.constant (Tensor.create [| n; n |] t))
            let want = Array.fold2 (fun s c d -> s + c * d) 0.0 (minorsOf repeated n) t
            Assert.True(abs (tangent.Tensor.ToArray().[0] - want) <= 1e-12 * (1.0 + abs want), sprintf "%d×%d: JVP %g, want %g" n n (tangent.Tensor.ToArray().[0]) want)
        // The blocked LU (n > 64), a repeated row: A·Cᵀ = det A·I = 0, and one cofactor by its minor.
        let n = 130
        let a, _, _ = factorizationCase n 2
        Array.Copy(a, 3 * n, a, 97 * n, n)
        let c = grad [| n; n |] a
        let largest = c |> Array.fold (fun s v -> max s (abs v)) 0.0
        Assert.True(largest > 0.0)
        for i in 0 .. n - 1 do
            for j in 0 .. n - 1 do
                let mutable s = 0.0
                for k in 0 .. n - 1 do s <- s + a.[i * n + k] * c.[j * n + k]
                Assert.True(abs s <= 1e-10 * largest, sprintf "(A·Cᵀ)[%d, %d] = %g (largest cofactor %g)" i j s largest)
        let minor = textbookDet (Cofactors.without a n 3 5) (n - 1)
        Assert.True(abs (c.[3 * n + 5] - minor) <= 1e-9 * abs minor, sprintf "C[3, 5] = %g, its minor %g" c.[3 * n + 5] minor)
        // det = 1e-10 with A⁻¹ = diag(1e-300, 1e310): det·A⁻ᵀ would be ∞; the cofactors are diag(1e-310, 1e300).
        // Each element to rounding relative to itself (a subnormal one to its own precision).
        let each (name: string) (want: double[]) (got: double[]) =
            Array.iteri2 (fun i w g -> Assert.True(abs (w - g) <= 4e-16 * abs w + 1e-323, sprintf "%s: element %d is %g, want %g" name i g w)) want got
        each "diag(1e300, 1e-310)" [| 1e-310; 0.0; 0.0; 1e300 |] (grad [| 2; 2 |] [| 1e300; 0.0; 0.0; 1e-310 |])
        // det outside the normal range (0 by underflow, subnormal, ∞), the pivots nonzero: the cofactors are in range,
        // subnormal pivots among them.
        for scale in [ 1e-200; 1e-160; 1e200 ] do
            near (sprintf "diag(%g, %g)" scale scale) [| scale; 0.0; 0.0; scale |] (grad [| 2; 2 |] [| scale; 0.0; 0.0; scale |])
        Assert.Equal<double[]>([| 1.0 |], grad [| 1; 1 |] [| 1e-310 |])
        each "diag(1e-310, 1)" [| 1.0; 0.0; 0.0; 1e-310 |] (grad [| 2; 2 |] [| 1e-310; 0.0; 0.0; 1.0 |])
        each "diag(1e-310, 1e-100)" [| 1e-100; 0.0; 0.0; 1e-310 |] (grad [| 2; 2 |] [| 1e-310; 0.0; 0.0; 1e-100 |])
        // U = [[1, 1], [0, 1e-310]]: adj(U)ᵀ = [[1e-310, 0], [−1, 1]] (the first column solved with the det itself).
        each "[[1, 1], [0, 1e-310]]" [| 1e-310; 0.0; -1.0; 1.0 |] (grad [| 2; 2 |] [| 1.0; 1.0; 0.0; 1e-310 |])
        // The pivots' running product overflows where det (1) and the cofactors do not.
        let wide = [| 1e300; 1e300; 1e-300; 1e-300 |]
        let wideA = Array.init 16 (fun e -> if e / 4 = e % 4 then wide.[e / 4] else 0.0)
        Assert.Equal(1.0, (Linalg.det (Value.constant (Tensor.create [| 4; 4 |] wideA))).Tensor.ToArray().[0], 14)
        // A running product subnormal on the way (1e-320, 11 bits) and normal again at the end: det 1e-220 and its
        // cofactors to rounding, not to the subnormal step's 2.5e-4.
        let through = [| 1e-200; 0.0; 0.0; 0.0; 1e-120; 0.0; 0.0; 0.0; 1e100 |]
        each "det of diag(1e-200, 1e-120, 1e100)" [| 1e-200 * (1e-120 * 1e100) |] ((Linalg.det (Value.constant (Tensor.create [| 3; 3 |] through))).Tensor.ToArray())
        each "cofactors of diag(1e-200, 1e-120, 1e100)" [| 1e-20; 0.0; 0.0; 0.0; 1e-100; 0.0; 0.0; 0.0; 1e-320 |] (grad [| 3; 3 |] through)
        near "diag(1e300, 1e300, 1e-300, 1e-300)" (Array.init 16 (fun e -> if e / 4 = e % 4 then 1.0 / wide.[e / 4] else 0.0)) (grad [| 4; 4 |] wideA)
        let r = Array.init 9 (fun _ -> rng.NextDouble() - 0.5)
        for scale in [ 1e-120; 1e110 ] do
            near (sprintf "3×3 times %g" scale) (minorsOf r 3 |> Array.map (fun v -> v * scale * scale)) (grad [| 3; 3 |] (Array.map (fun v -> v * scale) r))
        // det underflows to 0 while a column of A⁻ᵀ spans more than the doubles' range (J = ε·I + the superdiagonal,
        // A⁻ᵀ[2, 0] = 1/ε³): that column solved in scaled arithmetic. Its cofactors were 0 where they are −ε and 1.
        let e = 1e-200
        let jordan = [| e; 1.0; 0.0; 0.0; e; 1.0; 0.0; 0.0; e |]
        each "cofactors of ε·I + N, ε = 1e-200" [| e * e; 0.0; 0.0; -e; e * e; 0.0; 1.0; -e; e * e |] (grad [| 3; 3 |] jordan)
        let j10 = Array.init 100 (fun k -> if k / 10 = k % 10 then 1e-35 elif k % 10 = k / 10 + 1 then 1.0 else 0.0)
        let c10 = grad [| 10; 10 |] j10
        // Column 0 of adj(J)ᵀ: C[i, 0] = (−1)^i·ε^(9−i) (ε^9 = 1e-315 and below: subnormal or 0).
        for i in 0 .. 9 do
            let want = (if i % 2 = 0 then 1.0 else -1.0) * Math.Pow(1e-35, float (9 - i))
            Assert.True(abs (c10.[i * 10] - want) <= 1e-14 * abs want + 1e-323, sprintf "10×10 Jordan block, C[%d, 0] = %g, want %g" i c10.[i * 10] want)
        // A zero pivot with a back substitution past the doubles' range: adj(A)ᵀ of [[1e-200, 1e200], [0, 0]] is
        // [[0, 0], [−1e200, 1e-200]] (it was NaN in its first column).
        each "[[1e-200, 1e200], [0, 0]]" [| 0.0; 0.0; -1e200; 1e-200 |] (grad [| 2; 2 |] [| 1e-200; 1e200; 0.0; 0.0 |])
        // An infinite pivot row meets a multiplier of 0: 0·∞ is NaN on both sides of the blocked LU's threshold.
        let infinite = [| infinity; infinity; 1.0; 1.0 |]
        Assert.True(Double.IsNaN ((Linalg.det (Value.constant (Tensor.create [| 2; 2 |] infinite))).Tensor.ToArray().[0]))
        let big = Array.init (65 * 65) (fun k -> if k / 65 = k % 65 then 1.0 else 0.0)
        for r, c, v in [ (0, 0, infinity); (0, 1, infinity); (1, 0, 1.0); (1, 1, 1.0) ] do big.[r * 65 + c] <- v
        Assert.True(Double.IsNaN ((Linalg.det (Value.constant (Tensor.create [| 65; 65 |] big))).Tensor.ToArray().[0]))
        // det's second derivative needs A⁻¹: refused at a singular A, named.
        let ex = Assert.Throws<ArgumentException>(fun () -> Autodiff.hessian (fun x -> Reduction.sum (Linalg.det x)) (Value.constant (Tensor.create [| 2; 2 |] [| 1.0; 2.0; 2.0; 4.0 |])) |> ignore)
        Assert.Contains("singular", ex.Message)

    /// Leading dimensions broadcast as PyTorch's: one A for a batch of B solves the batch as columns, with the bits of
    /// each matrix solved alone up to one panel (to rounding beyond it); a broadcast A solves each pairing; B is vectors when it has
    /// one dimension or A's shape without the last; batches that do not broadcast are refused, naming b.
    [<Fact>]
    let ``solve broadcasts leading dimensions, one A for a batch with each matrix's own bits`` () =
        let bits (v: Value) = v.Tensor.ToArray() |> Array.map BitConverter.DoubleToInt64Bits
        // Bit for bit up to one panel; beyond it the panels' products are blocked by the number of columns.
        let same n (each: Value) (x: Value) =
            if n <= 64 then Assert.Equal<int64[]>(bits each, bits x)
            else
                let scale = each.Tensor.ToArray() |> Array.fold (fun s v -> max s (abs v)) 0.0
                Assert.True(Tensor.maxAbsDiff each.Tensor x.Tensor <= 1e-12 * scale, sprintf "n = %d: %g off (largest %g)" n (Tensor.maxAbsDiff each.Tensor x.Tensor) scale)
        for n in [ 5; 70 ] do
            let a, _, _ = factorizationCase n 1
            let av = Value.constant (Tensor.create [| n; n |] a)
            let b = Value.constant (Tensor.random (n + 1) [| 2; 3; n; 4 |])
            for solve in [ Linalg.solve; Linalg.solveTriangular false; Linalg.solveTriangular true ] do
                let x = solve av b
                Assert.Equal<int[]>([| 2; 3; n; 4 |], x.Shape)
                let each = Layout.stack [| for i in 0 .. 1 -> Layout.stack [| for j in 0 .. 2 -> solve av (Layout.select j (Layout.select i b)) |] |]
                same n each x
            // A [2, 1, n, n] against B [3, n, 4]: every pairing; vectors for a batch of A.
            let a2 = Value.constant (Tensor.create [| 2; 1; n; n |] (Array.append a (Array.map (fun v -> -v) a)))
            let b3 = Layout.select 0 b
            let x = Linalg.solve a2 b3
            Assert.Equal<int[]>([| 2; 3; n; 4 |], x.Shape)
            let v = Value.constant (Tensor.random 3 [| n |])
            let xv = Linalg.solve a2 v
            Assert.Equal<int[]>([| 2; 1; n |], xv.Shape)
            for i in 0 .. 1 do
                let ai = Layout.select 0 (Layout.select i a2)
                for j in 0 .. 2 do
                    same n (Linalg.solve ai (Layout.select j b3)) (Layout.select j (Layout.select i x))
                same n (Linalg.solve ai v) (Layout.select 0 (Layout.select i xv))
            // A broadcast against B broadcast the other way round: A [2, 1, 1, n, n] against B [1, 3, 2, n, 4].
            let a5 = Layout.reshape [| 2; 1; 1; n; n |] a2
            let b5 = Layout.reshape [| 1; 3; 2; n; 4 |] b
            let x5 = Linalg.solve a5 b5
            Assert.Equal<int[]>([| 2; 3; 2; n; 4 |], x5.Shape)
            for i in 0 .. 1 do
                for j in 0 .. 2 do
                    for l in 0 .. 1 do
                        same n (Linalg.solve (Layout.select 0 (Layout.select i a2)) (Layout.select l (Layout.select j (Layout.select 0 b5))))
                            (Layout.select l (Layout.select j (Layout.select i x5)))
        // An empty batch against one (singular) A: the empty result, as PyTorch's broadcast gives, nothing factored.
        Assert.Equal<int[]>([| 0; 3; 2 |], (Linalg.solve (Value.constant (Tensor.zeros [| 3; 3 |])) (Value.constant (Tensor.zeros [| 0; 3; 2 |]))).Shape)
        let ex = Assert.Throws<Functional.ShapeException>(fun () -> Linalg.solve (Value.constant (Tensor.ones [| 2; 3; 3 |])) (Value.constant (Tensor.ones [| 4; 3; 1 |])) |> ignore)
        Assert.Equal("b", ex.ParamName)
        Assert.Contains("solve: b has shape [4, 3, 1]", ex.Message)

    /// A singular matrix of a batch is named by its index, batch 0 included (as cholesky and solveTriangular name theirs).
    [<Fact>]
    let ``solve and inverse name a singular matrix's batch index, 0 included`` () =
        for singularAt in [ 0; 1 ] do
            let a = Array.init 8 (fun i -> if i / 4 = singularAt then 1.0 elif i % 4 = 0 || i % 4 = 3 then 1.0 else 0.0)
            let batch = Value.constant (Tensor.create [| 2; 2; 2 |] a)
            let inv = Assert.Throws<ArgumentException>(fun () -> Linalg.inverse batch |> ignore)
            Assert.Contains(sprintf "at batch index %d" singularAt, inv.Message)
            let solve = Assert.Throws<ArgumentException>(fun () -> Linalg.solve batch (Value.constant (Tensor.ones [| 2; 2; 1 |])) |> ignore)
            Assert.Contains(sprintf "at batch index %d" singularAt, solve.Message)
        // A broadcast A names its own index (a [2, 1, 2, 2] whose matrix 1 is singular, against b [1, 3, 2, 1]: index
        // 1 of a, where the broadcast batch [2, 3] first meets it at 3).
        let a = Array.init 8 (fun i -> if i < 4 && (i = 0 || i = 3) then 1.0 else 0.0)
        for solve in [ Linalg.solve; Linalg.solveTriangular false ] do
            let e = Assert.Throws<ArgumentException>(fun () -> solve (Value.constant (Tensor.create [| 2; 1; 2; 2 |] a)) (Value.constant (Tensor.ones [| 1; 3; 2; 1 |])) |> ignore)
            Assert.Contains("at batch index 1", e.Message)
        // A single matrix names none.
        let one = Assert.Throws<ArgumentException>(fun () -> Linalg.inverse (Value.constant (Tensor.ones [| 2; 2 |])) |> ignore)
        Assert.DoesNotContain("batch index", one.Message)
