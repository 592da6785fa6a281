namespace Functional.Core

open System
open Functional

/// Linear algebra on square matrices and batches of them (shape [..., n, n]). Each derivative rule is written with
/// ops, among them this module's own (∂ solve uses solve, ∂ det the cofactors, whose own derivative uses the
/// inverse), so every order follows.
[<RequireQualifiedAccess>]
module Linalg =

    /// n, and the number of n×n blocks to visit, of a square matrix or batch (none when n = 0: 0×0 matrices have
    /// nothing to compute, however many the batch holds); anything else is refused.
    let private square (name: string) (arg: string) (shape: int[]) =
        let r = shape.Length
        if r < 2 || shape.[r - 1] <> shape.[r - 2] then
            raise (ShapeException(sprintf "%s: %s must be a square matrix or a batch of them, shape [..., n, n]; it has shape %s." name arg (Shape.show shape), arg))
        // The number of matrices counted without wrapping.
        let count =
            try Shape.numel shape.[.. r - 3]
            with :? ShapeException ->
                raise (ShapeException(sprintf "%s: %s has shape %s: more matrices than an array can hold (%d)." name arg (Shape.show shape) Shape.maxElements, arg))
        let n = shape.[r - 1]
        n, (if n = 0 then 0 else count)

    /// A result shaped as t, a square matrix or a batch of them (refused otherwise, in `name`'s terms), whose matrices
    /// `fill` writes: fill result blk offset for each matrix's index and offset.
    let private eachMatrix (name: string) (t: Tensor) (fill: double[] -> int -> int -> unit) =
        let n, count = square name "a" t.ShapeArray
        let y = Storage.uninit t.Numel
        for blk in 0 .. count - 1 do fill y blk (blk * n * n)
        Tensor.wrap t.ShapeArray y

    let private transposeLast (v: Value) =
        let r = v.Shape.Length
        Layout.permute (Array.append [| 0 .. r - 3 |] [| r - 1; r - 2 |]) v

    /// g shaped [...] made [..., 1, 1], to scale each matrix of a batch.
    let private perMatrix (g: Value) = Layout.reshape (Array.append g.Shape [| 1; 1 |]) g

    /// Each matrix of x (shape [..., r, c]) with its elements left of the diagonal times `below`, on it times `on` and
    /// right of it times `above`: the triangle masks of the rules (a factor 0 clears, so nothing outside a triangle is
    /// read), Φ among them. Linear and self-adjoint: VJP and JVP are the op itself.
    let rec private triangular (below: double) (on: double) (above: double) (x: Value) : Value =
        Op.apply
            (Op.withAttributes [ "below", box below; "on", box on; "above", box above ] <| Op.create "triangular"
                (fun ts ->
                    let t = ts.[0]
                    let shape = t.ShapeArray
                    let r, c = shape.[shape.Length - 2], shape.[shape.Length - 1]
                    let src = t.Data
                    let y = Storage.uninit src.Length
                    let part (offset: int) (len: int) (f: double) =
                        let dst = Span<double>(y, offset, len)
                        if f = 0.0 then dst.Clear()
                        else
                            ReadOnlySpan<double>(src, offset, len).CopyTo dst
                            if f <> 1.0 then
                                for e in offset .. offset + len - 1 do y.[e] <- f * y.[e]
                    for row in 0 .. (if r * c = 0 then -1 else src.Length / c - 1) do
                        let i = row % r
                        let offset = row * c
                        let left = min i c
                        part offset left below
                        if i < c then
                            part (offset + i) 1 on
                            part (offset + i + 1) (c - i - 1) above
                    Tensor.wrap shape y)
                (fun _ _ adj _ -> triangular below on above adj)
                (fun _ _ _ t -> triangular below on above t))
            [| x |]

    /// The singular-matrix error, naming the batch index whenever there is a batch (as cholesky's and solveTriangular's do).
    let private singular (name: string) (count: int) (batch: int) (pivot: int) =
        ArgumentException(sprintf "%s: the matrix%s is singular (pivot %d of its LU factorisation is 0)." name (if count > 1 then sprintf " at batch index %d" batch else "") pivot, "a")

    /// The LU factors of every matrix of one tensor, kept by a forward pass (solve, det, logAbsDet) on a reverse-mode
    /// tape for a rule that factors the same tensor again: the source, the packed factors one matrix after another,
    /// the permutations and their signs, the first zero pivots.
    type private SavedLu = { Source: Tensor; Factors: Tensor; Perms: int[][]; Signs: double[]; Singular: int[] }

    /// Whether a value is on a reverse-mode tape (its op's pullback may run).
    let private onTape (v: Value) = match v with Reverse _ -> true | _ -> false

    /// f on the LU factors of each n×n matrix of t; with `keep`, the factors are also kept (with the scope's
    /// intermediates, as long as a pullback may run) and returned.
    let private eachLu (t: Tensor) (n: int) (keep: bool) (f: int -> double[] -> int[] -> double -> int -> 'r) =
        let shape = t.ShapeArray
        let count = Shape.numel shape.[.. shape.Length - 3]
        // 0×0 matrices have no factors, however many there are (`perMatrixOfLu` gives their values).
        if n = 0 then [||], ValueNone
        elif not keep then Array.init count (fun blk -> Factorizations.withLu t.Data (blk * n * n) n (f blk)), ValueNone
        else
            let factors = Storage.uninit (count * n * n)
            let perms = Array.zeroCreate count
            let signs = Array.zeroCreate count
            let zeros = Array.zeroCreate count
            let values =
                Array.init count (fun blk ->
                    Factorizations.withLu t.Data (blk * n * n) n (fun m perm sign bad ->
                        Array.Copy(m, 0, factors, blk * n * n, n * n)
                        perms.[blk] <- perm
                        signs.[blk] <- sign
                        zeros.[blk] <- bad
                        f blk m perm sign bad))
            // The tensor itself is held: its array is recycled once it is unreachable.
            let kept = Tensor.wrapKept [| factors.Length |] factors
            values, ValueSome { Source = t; Factors = kept; Perms = perms; Signs = signs; Singular = zeros }

    /// f m mo perm on the LU factors of matrix blk of t: `saved`'s when they are t's own (mo the matrix's offset in
    /// them), else factored here (mo = 0); a singular matrix is refused in the terms of `name`.
    let private luOf (name: string) (saved: SavedLu voption) (t: Tensor) (n: int) (blk: int) (f: double[] -> int -> int[] -> unit) =
        let count = if n = 0 then 1 else t.Numel / (n * n)
        match saved with
        | ValueSome s when obj.ReferenceEquals(s.Source, t) ->
            if s.Singular.[blk] >= 0 then raise (singular name count blk s.Singular.[blk])
            f s.Factors.Data (blk * n * n) s.Perms.[blk]
            // The saved factors are no input of the op reading them, so Op.apply does not check them.
            s.Factors.CheckLive()
        | _ ->
            Factorizations.withLu t.Data (blk * n * n) n (fun m perm _ bad ->
                if bad >= 0 then raise (singular name count blk bad)
                f m 0 perm)

    /// For a solve's forward on [A; B]: n, the number of matrices, k, B's elements and the result's array.
    let private solveParts (name: string) (ts: Tensor[]) =
        let n, count = square name "a" ts.[0].ShapeArray
        let k = ts.[1].ShapeArray.[ts.[1].ShapeArray.Length - 1]
        let bd = ts.[1].Data
        struct (n, count, k, bd, Storage.uninit bd.Length)

    /// X with A·X = B, for A [..., n, n] and B [..., n, k] (the same leading dimensions). On a tape the LU factors
    /// are kept for the pullback's solve with Aᵀ.
    let rec private solveMatrix (a: Value) (b: Value) : Value =
        let saved = ref ValueNone
        Op.apply
            (Op.create "solve"
                (fun ts ->
                    let struct (n, count, k, bd, x) = solveParts "solve" ts
                    let _, kept =
                        eachLu ts.[0] n (onTape a || onTape b) (fun blk m perm _ bad ->
                            if bad >= 0 then raise (singular "solve" count blk bad)
                            Factorizations.luSolve m perm n bd (blk * n * k) k x (blk * n * k))
                    saved.Value <- kept
                    Tensor.wrap ts.[1].ShapeArray x)
                (fun xs out adj i ->
                    let gb = solveTransposedWith saved.Value xs.[0] adj
                    if i = 1 then gb else Arithmetic.neg (Linear.einsum "...ik,...jk->...ij" [| gb; out |]))
                (fun xs out i t ->
                    if i = 1 then solveMatrix xs.[0] t
                    else Arithmetic.neg (solveMatrix xs.[0] (Linear.einsum "...ij,...jk->...ik" [| t; out |]))))
            [| a; b |]

    /// X with Aᵀ·X = B from A's LU factors (those `saved` holds when they are this very tensor's, else factored
    /// here: the same factors either way, so the same bits): solve's pullback, without factoring Aᵀ. VJP:
    /// B̄ = solve(A, Ḡ), Ā = −X·B̄ᵀ. JVP: Aᵀ·Ẋ = Ḃ − Ȧᵀ·X.
    and private solveTransposedWith (saved: SavedLu voption) (a: Value) (b: Value) : Value =
        Op.apply
            (Op.create "solveTransposed"
                (fun ts ->
                    let struct (n, count, k, bd, x) = solveParts "solve" ts
                    for blk in 0 .. count - 1 do
                        luOf "solve" saved ts.[0] n blk (fun m mo perm ->
                            Factorizations.luSolveTransposed m mo perm n bd (blk * n * k) k x (blk * n * k))
                    Tensor.wrap ts.[1].ShapeArray x)
                (fun xs out adj i ->
                    let gb = solveMatrix xs.[0] adj
                    if i = 1 then gb else Arithmetic.neg (Linear.einsum "...ik,...jk->...ij" [| out; gb |]))
                (fun xs out i t ->
                    if i = 1 then solveTransposedWith ValueNone xs.[0] t
                    else Arithmetic.neg (solveTransposedWith ValueNone xs.[0] (Linear.einsum "...ji,...jk->...ik" [| t; out |]))))
            [| a; b |]

    /// f a b for B [..., n, k], or for B [..., n] as [..., n, 1] (the result back as vectors), with A's and B's
    /// leading dimensions broadcast (PyTorch's rules for linalg.solve: B is vectors when it has one dimension or exactly A's shape
    /// without the last); any other B is refused in the terms of `name`. Where the batches differ, each of A's matrices
    /// solves the B's it meets as columns of one right-hand side (each matrix's bits up to one panel; beyond it the
    /// panels' products are blocked by the number of columns, so equal to rounding).
    let private withRightHandSides (name: string) (shapedAsVectors: bool) (a: Value) (b: Value) (f: Value -> Value -> Value) : Value =
        let n, _ = square name "a" a.Shape
        let sa, sb = a.Shape, b.Shape
        let lead = sa.[.. sa.Length - 3]
        let refuse () =
            raise (ShapeException(sprintf "%s: b has shape %s; for a of shape %s it must be [..., %d, k] or [..., %d], its leading dimensions broadcasting with a's %s." name (Shape.show sb) (Shape.show sa) n n (Shape.show lead), "b"))
        let vector = sb.Length = 1 || (shapedAsVectors && sb.Length = sa.Length - 1 && Shape.same sb sa.[.. sa.Length - 2])
        let bm = if vector then Layout.reshape (Array.append sb [| 1 |]) b else b
        let sm = bm.Shape
        if sm.Length < 2 || sm.[sm.Length - 2] <> n then refuse ()
        let leadB = sm.[.. sm.Length - 3]
        let batch = try Shape.broadcast lead leadB with :? ShapeException -> refuse ()
        let k = sm.[sm.Length - 1]
        let x =
            if Shape.same lead batch && Shape.same leadB batch then f a bm
            // Empty systems (no batch, n = 0 or k = 0) go the plain way: their columns' count mO·k may exceed an int.
            elif n > 0 && k > 0 && Shape.numel batch > 0 then
                // Each of A's own matrices solves, as columns of one right-hand side, every B it meets (one A: the
                // whole batch of B): A is factored once per matrix it holds, not once per broadcast batch, and a
                // singular one is named by its index in A. Batch dimensions where A varies (`own`) go first, the
                // others beside k.
                let r = batch.Length
                let padded = Array.append (Array.create (r - lead.Length) 1) lead
                let own = [| for d in 0 .. r - 1 do if padded.[d] <> 1 then yield d |]
                let other = [| for d in 0 .. r - 1 do if padded.[d] = 1 then yield d |]
                let sizes (ds: int[]) = ds |> Array.map (fun d -> batch.[d])
                let mA, mO = Shape.numel (sizes own), Shape.numel (sizes other)
                let order = Array.concat [ own; [| r |]; other; [| r + 1 |] ]
                let columns = Layout.reshape [| mA; n; mO * k |] (Layout.permute order (Arithmetic.broadcastTo (Array.append batch [| n; k |]) bm))
                let solved = f (Layout.reshape [| mA; n; n |] a) columns
                let back = Array.zeroCreate order.Length
                order |> Array.iteri (fun i d -> back.[d] <- i)
                Layout.permute back (Layout.reshape (Array.concat [ sizes own; [| n |]; sizes other; [| k |] ]) solved)
            else f (Arithmetic.broadcastTo (Array.append batch [| n; n |]) a) (Arithmetic.broadcastTo (Array.append batch [| n; k |]) bm)
        if vector then Layout.reshape (Array.append batch [| n |]) x else x

    /// X with A·X = B: A [..., n, n]; B [..., n, k], or [..., n] (vectors: when B has one dimension or A's shape
    /// without the last); leading dimensions broadcast, as PyTorch's. VJP: B̄ = solve(Aᵀ, Ḡ), Ā = −B̄·Xᵀ (summed over
    /// the broadcast). JVP: solve(A, Ḃ − Ȧ·X). A singular A is refused.
    let solve (a: Value) (b: Value) : Value = withRightHandSides "solve" true a b solveMatrix

    /// The triangle solveTriangular reads, the rest cleared.
    let private triangleOf (upper: bool) (x: Value) = if upper then triangular 0.0 1.0 1.0 x else triangular 1.0 1.0 0.0 x

    /// X with T·X = B, or Tᵀ·X = B when `transpose`, for T the lower (upper = false) or upper triangle of A, by
    /// substitution. VJP: B̄ = op(T)⁻ᵀ·Ḡ (the same triangle, the other orientation), Ā = −B̄·Xᵀ (−X·B̄ᵀ for Tᵀ)
    /// masked to the triangle. JVP: op(T)·Ẋ = Ḃ − op(Ȧ masked)·X.
    let rec private solveTriangularMatrix (upper: bool) (transpose: bool) (a: Value) (b: Value) : Value =
        Op.apply
            (Op.withAttributes [ "upper", box upper; "transpose", box transpose ] <| Op.create "solveTriangular"
                (fun ts ->
                    let struct (n, count, k, bd, x) = solveParts "solveTriangular" ts
                    let ad = ts.[0].Data
                    for blk in 0 .. count - 1 do
                        let zero = Factorizations.firstZeroOnDiagonal ad (blk * n * n) n
                        if zero >= 0 then
                            raise (ArgumentException(sprintf "solveTriangular: the matrix%s is singular (its diagonal element %d is 0)." (if count > 1 then sprintf " at batch index %d" blk else "") zero, "a"))
                        Array.Copy(bd, blk * n * k, x, blk * n * k, n * k)
                        Factorizations.triangularSolve upper transpose ad (blk * n * n) n x (blk * n * k) k
                    Tensor.wrap ts.[1].ShapeArray x)
                (fun xs out adj i ->
                    let gb = solveTriangularMatrix upper (not transpose) xs.[0] adj
                    if i = 1 then gb
                    else
                        let product = if transpose then Linear.einsum "...ik,...jk->...ij" [| out; gb |] else Linear.einsum "...ik,...jk->...ij" [| gb; out |]
                        triangleOf upper (Arithmetic.neg product))
                (fun xs out i t ->
                    if i = 1 then solveTriangularMatrix upper transpose xs.[0] t
                    else
                        let masked = triangleOf upper t
                        let product = if transpose then Linear.einsum "...ji,...jk->...ik" [| masked; out |] else Linear.einsum "...ij,...jk->...ik" [| masked; out |]
                        Arithmetic.neg (solveTriangularMatrix upper transpose xs.[0] product)))
            [| a; b |]

    /// X with A·X = B for a triangular A: only A's lower (upper = false) or upper triangle is read, the other part
    /// treated as 0; by substitution; B [..., n, k] or one vector [n] (leading dimensions broadcast; a B shaped as A
    /// without its last dimension is matrices, as torch.linalg.solve_triangular reads it). VJP: B̄ = T⁻ᵀ·Ḡ,
    /// Ā = −B̄·Xᵀ masked to the triangle. A zero on the diagonal is refused.
    let solveTriangular (upper: bool) (a: Value) (b: Value) : Value =
        withRightHandSides "solveTriangular" false a b (solveTriangularMatrix upper false)

    /// A⁻¹ as an op, from `saved` when it holds the factors of this very tensor (computed as this op would compute
    /// them, so the same bits), else factoring each matrix.
    let private inverseWith (saved: SavedLu voption) (a: Value) : Value =
        let shape = a.Shape
        let n, _ = square "inverse" "a" shape
        Op.apply
            (Op.create "inverse"
                (fun ts ->
                    let ad = ts.[0].Data
                    let _, count = square "inverse" "a" ts.[0].ShapeArray
                    eachMatrix "inverse" ts.[0] (fun y blk o ->
                        match Factorizations.lowerTriangular ad o n with
                        | Some zero ->
                            // A lower triangular matrix (a Cholesky factor in cholesky's rules) needs no LU; its
                            // pivots are its diagonal. A NaN makes the whole inverse NaN, as the LU path's does
                            // (substitution would spread it to some rows only).
                            if Array.IndexOf(ad, nan, o, n * n) >= 0 then Array.Fill(y, nan, o, n * n)
                            else
                                if zero >= 0 then raise (singular "inverse" count blk zero)
                                Factorizations.lowerInverse ad o n y o
                        | None -> luOf "inverse" saved ts.[0] n blk (fun m mo perm -> Factorizations.luInverse m mo perm n y o)))
                (fun _ out adj _ -> Arithmetic.neg (Linear.einsum "...ji,...jk,...lk->...il" [| out; adj; out |]))
                (fun _ out _ t -> Arithmetic.neg (Linear.einsum "...ij,...jk,...kl->...il" [| out; t; out |])))
            [| a |]

    /// A⁻¹. VJP: −A⁻ᵀ·Ḡ·A⁻ᵀ. JVP: −A⁻¹·Ȧ·A⁻¹. A singular A is refused. A lower triangular A (every element right of
    /// the diagonal zero, as a Cholesky factor) is inverted by substitution, without an LU factorisation.
    let inverse (a: Value) : Value = inverseWith ValueNone a

    /// One number per matrix of a batch, from each matrix's LU factors (packed factors, n, permutation sign); with
    /// `keep` (the op's input on a tape) the factors kept in `saved` for the pullback's inverse.
    let private perMatrixOfLu (keep: bool) (saved: SavedLu voption ref) (t: Tensor) (f: double[] -> int -> double -> double) =
        let shape = t.ShapeArray
        let n = shape.[shape.Length - 1]
        let batch = shape.[.. shape.Length - 3]
        if n = 0 then
            // Each 0×0 matrix's value (det 1, ln|det| 0), one array for all of them.
            let values = Storage.uninit (Shape.numel batch)
            Array.Fill(values, f [||] 0 1.0)
            Tensor.wrap batch values
        else
            let values, kept = eachLu t n keep (fun _ m _ sign _ -> f m n sign)
            saved.Value <- kept
            Tensor.wrap batch values

    /// The cofactor matrix C = adj(A)ᵀ, one per matrix: ∂ det A/∂A, defined at every A (det A·A⁻ᵀ where A is
    /// invertible; from A's null spaces where it is not). JVP: Ċ = tr(A⁻¹·Ȧ)·C − C·Ȧᵀ·A⁻ᵀ. VJP:
    /// Ā = ⟨C̄, C⟩·A⁻ᵀ − A⁻ᵀ·C̄ᵀ·C. Both need A⁻¹: a derivative of C (det's second) at a singular A is refused.
    let private cofactorWith (saved: SavedLu voption) (a: Value) : Value =
        Op.apply
            (Op.create "cofactor"
                (fun ts ->
                    let t = ts.[0]
                    let n, count = square "det" "a" t.ShapeArray
                    let c = Storage.uninit t.Numel
                    for blk in 0 .. count - 1 do
                        let o = blk * n * n
                        match saved with
                        | ValueSome s when obj.ReferenceEquals(s.Source, t) ->
                            Determinants.cofactor t.Data o n s.Factors.Data o s.Perms.[blk] s.Signs.[blk] s.Singular.[blk] c o
                            s.Factors.CheckLive()
                        | _ -> Factorizations.withLu t.Data o n (fun m perm sign bad -> Determinants.cofactor t.Data o n m 0 perm sign bad c o)
                    Tensor.wrap t.ShapeArray c)
                (fun xs out adj _ ->
                    let y = inverse xs.[0]
                    Arithmetic.sub
                        (Arithmetic.mul (perMatrix (Linear.einsum "...ij,...ij->..." [| adj; out |])) (transposeLast y))
                        (Linear.einsum "...ki,...lk,...lj->...ij" [| y; adj; out |]))
                (fun xs out _ t ->
                    let y = inverse xs.[0]
                    Arithmetic.sub
                        (Arithmetic.mul (perMatrix (Linear.einsum "...ij,...ji->..." [| y; t |])) out)
                        (Linear.einsum "...ik,...lk,...jl->...ij" [| out; t; y |])))
            [| a |]

    /// det A, one per matrix. VJP: Ā = ḡ·C with C = adj(A)ᵀ the cofactor matrix (det A·A⁻ᵀ where A is invertible).
    /// JVP: ⟨C, Ȧ⟩. Both hold at a singular A too (TorchSharp 0.107's gradient is 0 wherever its det comes out exactly
    /// 0); det's second derivative needs A⁻¹ and is refused at a singular A.
    let det (a: Value) : Value =
        square "det" "a" a.Shape |> ignore
        let saved = ref ValueNone
        Op.apply
            (Op.create "det"
                (fun ts -> perMatrixOfLu (onTape a) saved ts.[0] Determinants.determinant)
                (fun xs _ adj _ -> Arithmetic.mul (perMatrix adj) (cofactorWith saved.Value xs.[0]))
                (fun xs _ _ t -> Linear.einsum "...ij,...ij->..." [| cofactorWith ValueNone xs.[0]; t |]))
            [| a |]

    /// ln |det A|, one per matrix, without overflow. VJP: Ā = ḡ·A⁻ᵀ. JVP: tr(A⁻¹·Ȧ). −∞ at a singular A (whose
    /// gradient is refused).
    let logAbsDet (a: Value) : Value =
        square "logAbsDet" "a" a.Shape |> ignore
        let saved = ref ValueNone
        Op.apply
            (Op.create "logAbsDet"
                (fun ts -> perMatrixOfLu (onTape a) saved ts.[0] (fun m n sign -> snd (Determinants.signLogAbs m n sign)))
                (fun xs _ adj _ -> Arithmetic.mul (perMatrix adj) (transposeLast (inverseWith saved.Value xs.[0])))
                (fun xs _ _ t -> Linear.einsum "...ij,...ji->..." [| inverse xs.[0]; t |]))
            [| a |]

    /// The sign of det A (−1, 0 or 1), one per matrix: a constant (no gradient).
    let signDet (a: Value) : Value =
        square "signDet" "a" a.Shape |> ignore
        Op.constantResult "signDet" []
            (fun ts ->
                let t = ts.[0]
                let signs = perMatrixOfLu false (ref ValueNone) t (fun m n sign -> fst (Determinants.signLogAbs m n sign))
                t.CheckLive()
                signs)
            [| a |]

    /// Φ(X): the lower triangle of each matrix with its diagonal halved.
    let private phi (x: Value) = triangular 1.0 0.5 0.0 x

    /// M = ½(Φ(X) + Φ(X)ᵀ) for X = tril(L)ᵀ·G (each matrix of a batch): the symmetric middle of cholesky's VJP
    /// (Φ(X) the lower triangle of X with its diagonal halved), from X's lower triangle only. Bilinear:
    /// JVP M(L̇, G) + M(L, Ġ); VJP with V = Φ(½(Ū + Ūᵀ)): L̄ = tril(G·Vᵀ), Ḡ = tril(L)·V.
    let rec private choleskyMiddle (l: Value) (g: Value) : Value =
        Op.apply
            (Op.create "choleskyMiddle"
                (fun ts ->
                    let n = ts.[0].ShapeArray.[ts.[0].ShapeArray.Length - 1]
                    eachMatrix "cholesky" ts.[0] (fun m _ o -> Factorizations.choleskyMiddle ts.[0].Data o ts.[1].Data o n m o))
                (fun xs _ adj i ->
                    let v = phi (Arithmetic.scale 0.5 (Arithmetic.add adj (transposeLast adj)))
                    if i = 0 then triangleOf false (Linear.einsum "...ik,...jk->...ij" [| xs.[1]; v |])
                    else Linear.einsum "...ij,...jk->...ik" [| triangleOf false xs.[0]; v |])
                (fun xs _ i t -> if i = 0 then choleskyMiddle t xs.[1] else choleskyMiddle xs.[0] t))
            [| l; g |]

    /// S(L⁻ᵀ·Y) for S taking the lower triangle and mirroring it (each matrix of a batch; of L and Y only the lower
    /// triangles matter): the last step of cholesky's VJP, whose result is symmetric, computed as its lower triangle
    /// only. With P = L⁻ᵀ·Y, whose lower triangle is the result's: VJP P̄ = the lower triangle of Ū + Ūᵀ with Ū's
    /// diagonal, Ȳ = L⁻¹·P̄, L̄ = −tril(P·Ȳᵀ); JVP S(L⁻ᵀ·(Ẏ − tril(L̇)ᵀ·P)), the op itself. Both read only P's lower
    /// triangle, so the result stands in for P.
    let rec private choleskyOuter (l: Value) (y: Value) : Value =
        Op.apply
            (Op.create "choleskyOuter"
                (fun ts ->
                    let n = ts.[1].ShapeArray.[ts.[1].ShapeArray.Length - 1]
                    let yd = ts.[1].Data
                    eachMatrix "cholesky" ts.[1] (fun x _ o ->
                        for i in 0 .. n - 1 do Array.Copy(yd, o + i * n, x, o + i * n, i + 1)
                        Factorizations.lowerOfTransposedSolve ts.[0].Data o n x o))
                (fun xs out adj i ->
                    let yBar = solveTriangularMatrix false false xs.[0] (triangular 1.0 0.5 0.0 (Arithmetic.add adj (transposeLast adj)))
                    if i = 1 then yBar else triangleOf false (Arithmetic.neg (Linear.einsum "...ik,...jk->...ij" [| out; yBar |])))
                (fun xs out i t ->
                    let rhs = if i = 1 then t else Arithmetic.neg (Linear.einsum "...ji,...jk->...ik" [| triangleOf false t; out |])
                    choleskyOuter xs.[0] rhs))
            [| l; y |]

    /// The lower factor L of A = L·Lᵀ (A symmetric positive definite; its lower triangle is read). With
    /// Φ(X) = the lower triangle of X with its diagonal halved: VJP Ā = ½(S + Sᵀ), S = L⁻ᵀ·Φ(Lᵀ·L̄)·L⁻¹, that is
    /// L⁻ᵀ·M·L⁻¹ with M = ½(Φ(Lᵀ·L̄) + Φ(Lᵀ·L̄)ᵀ); JVP L̇ = L·Φ(L⁻¹·Ȧₛ·L⁻ᵀ) with Ȧₛ = ½(Ȧ + Ȧᵀ), the VJP's convention
    /// (PyTorch's). A matrix that is not positive definite is refused.
    let cholesky (a: Value) : Value =
        let shape = a.Shape
        let n, _ = square "cholesky" "a" shape
        Op.apply
            (Op.create "cholesky"
                (fun ts ->
                    let ad = ts.[0].Data
                    let _, count = square "cholesky" "a" ts.[0].ShapeArray
                    eachMatrix "cholesky" ts.[0] (fun l blk o ->
                        let bad = Factorizations.cholesky ad o n l
                        if bad >= 0 then
                            raise (ArgumentException(sprintf "cholesky: the matrix%s is not positive definite (its leading minor of order %d is not positive)." (if count > 1 then sprintf " at batch index %d" blk else "") (bad + 1), "a"))))
                (fun _ out adj _ ->
                    // M is symmetric, so L⁻ᵀ·M·L⁻¹ = L⁻ᵀ·(L⁻ᵀ·M)ᵀ, and symmetric: two substitutions with Lᵀ, read where
                    // L is stored, the second of the lower triangle only.
                    let z = solveTriangularMatrix false true out (choleskyMiddle out adj)
                    choleskyOuter out (transposeLast z))
                (fun _ out _ t ->
                    // The tangent's symmetric part, as the VJP's ½(S + Sᵀ): a general Ȧ (a Hessian's unit tangents)
                    // would otherwise give a derivative that disagrees with the gradient. Ȧₛ is symmetric, so
                    // L⁻¹·Ȧₛ·L⁻ᵀ = L⁻¹·(L⁻¹·Ȧₛ)ᵀ: two substitutions.
                    let t = Arithmetic.scale 0.5 (Arithmetic.add t (transposeLast t))
                    let m = solveTriangularMatrix false false out (transposeLast (solveTriangularMatrix false false out t))
                    Linear.einsum "...ij,...jk->...ik" [| out; phi m |]))
            [| a |]
