namespace Functional.Tests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Functional.Core
open TorchSharp

/// Slices, rows and gathered rows taken from one tensor: the backward pass writes or adds each piece's adjoint into
/// an accumulator it owns, where the ops' own VJPs place each piece into zeros and add. A traced run takes the ops'
/// path (every step an op, as a program needs), so the two are compared on the same functions.
module RegionAdjointTests =

    /// A piece of x: a slice along an axis, a row, or x itself (an ordinary adjoint among the regions').
    type Piece =
        | Narrow of axis: int * start: int * length: int
        | Row of index: int
        | Whole
        /// Two slices along an axis joined back (concat's adjoints are views of the output adjoint).
        | Rejoined of axis: int * split: int
        /// Entries gathered along an axis, repeats allowed (indexSelect).
        | Gathered of axis: int * indices: int list

    type Case =
        { Rows: int; Cols: int; Pieces: Piece list; Seed: int }
        override c.ToString() = sprintf "x %d×%d, pieces %A, seed %d" c.Rows c.Cols c.Pieces c.Seed

    let private pieceGen (rows: int) (cols: int) =
        gen {
            let! kind = Gen.choose (0, 4)
            match kind with
            | 0 ->
                let! axis = Gen.choose (0, 1)
                let n = if axis = 0 then rows else cols
                let! start = Gen.choose (0, n - 1)
                let! length = Gen.choose (1, n - start)
                return Narrow(axis, start, length)
            | 1 ->
                let! i = Gen.choose (0, rows - 1)
                return Row i
            | 2 -> return Whole
            | 3 ->
                let! axis = Gen.choose (0, 1)
                let n = if axis = 0 then rows else cols
                let! split = Gen.choose (0, n)
                return Rejoined(axis, split)
            | _ ->
                let! axis = Gen.choose (0, 1)
                let n = if axis = 0 then rows else cols
                let! count = Gen.choose (1, 8)
                let! indices = Gen.listOfLength count (Gen.choose (0, n - 1))
                return Gathered(axis, indices)
        }

    let caseArb =
        Arb.fromGen (gen {
            let! rows = Gen.choose (1, 6)
            let! cols = Gen.choose (1, 6)
            let! count = Gen.choose (1, 6)
            let! pieces = Gen.listOfLength count (pieceGen rows cols)
            let! seed = Gen.choose (0, 100000)
            return { Rows = rows; Cols = cols; Pieces = pieces; Seed = seed } })

    /// Σ over the pieces of sum(wₖ · piece), wₖ fixed random weights of the piece's shape.
    let private objective (c: Case) (x: Value) =
        let take piece =
            match piece with
            | Narrow (axis, start, length) -> Indexing.narrow axis start length x
            | Row i -> Layout.select i x
            | Whole -> x
            | Rejoined (axis, split) ->
                let n = x.Shape.[axis]
                let parts = [| if split > 0 then Indexing.narrow axis 0 split x
                               if split < n then Indexing.narrow axis split (n - split) x |]
                Indexing.concat axis parts
            | Gathered (axis, indices) -> Indexing.indexSelect axis (Array.ofList indices) x
        c.Pieces
        |> List.mapi (fun k piece ->
            let p = take piece
            Reduction.sum (Arithmetic.mul p (Value.constant (Tensor.random (c.Seed + k) p.Shape))))
        |> List.reduce Arithmetic.add

    /// The same objective under TorchSharp autograd.
    let private objectiveT (c: Case) (x: torch.Tensor) =
        let take piece =
            match piece with
            | Narrow (axis, start, length) -> x.narrow(int64 axis, int64 start, int64 length)
            | Row i -> x.select(0L, int64 i)
            | Whole -> x
            | Rejoined (axis, split) ->
                let n = int x.shape.[axis]
                let parts = [| if split > 0 then x.narrow(int64 axis, 0L, int64 split)
                               if split < n then x.narrow(int64 axis, int64 split, int64 (n - split)) |]
                torch.cat(parts, int64 axis)
            | Gathered (axis, indices) -> x.index_select(int64 axis, torch.tensor(indices |> List.map int64 |> Array.ofList))
        c.Pieces
        |> List.mapi (fun k piece ->
            let p = take piece
            let shape = p.shape |> Array.map int
            (p * Functional.CrossCheck.Torch.toTorch false (Tensor.random (c.Seed + k) shape)).sum())
        |> List.reduce (fun a b -> a + b)

    [<Fact>]
    let ``gradients through slices, rows and gathered rows equal TorchSharp's`` () =
        Check.forAll "region adjoints vs TorchSharp" 0x5EC8UL 100 caseArb (fun c ->
            let x = Tensor.random c.Seed [| c.Rows; c.Cols |]
            let _, pullback = Autodiff.vjp (objective c) (Value.constant x)
            let ours = (pullback (Value.scalar 1.0)).Tensor
            let theirs = (Functional.CrossCheck.Torch.valueAndGrad (fun xs -> objectiveT c xs.[0]) [| x |] None).Gradients.[0]
            if not (Tensor.allClose 1e-13 1e-13 ours theirs) then Check.failf "%O: gradient %A, TorchSharp %A" c (ours.ToArray()) (theirs.ToArray()))
        |> ignore

    [<Fact>]
    let ``gradients through slices and rows equal the ops' padded path`` () =
        Check.forAll "region adjoints vs padded" 0x5EC7UL 300 caseArb (fun c ->
            let x = Tensor.random c.Seed [| c.Rows; c.Cols |]
            let f (xs: Value[]) = objective c xs.[0]
            let traced = (Trace.gradient f [| x |]).Gradients.[0]
            let _, pullback = Autodiff.vjpMany f [| Value.constant x |]
            let direct = (pullback (Value.scalar 1.0)).[0].Tensor
            let a, b = direct.ToArray(), traced.ToArray()
            // Equal values (a −0 the padded path turns into +0 outside a region compares equal).
            if a <> b then Check.failf "%O: gradient %A, padded path %A" c a b)
        |> ignore

    [<Fact>]
    let ``the output adjoint and ordinary adjoints are read, never written`` () =
        // x itself contributes the seed (add's VJP passes it on), before and after the slices' regions.
        let x = Tensor.random 1 [| 4; 5 |]
        let seed = Tensor.random 2 [| 4; 5 |]
        let before = seed.ToArray()
        let halves (v: Value) = Indexing.concat 1 [| Indexing.narrow 1 0 2 v; Indexing.narrow 1 2 3 v |]
        for f in [ (fun (v: Value) -> Arithmetic.add v (halves v)); (fun v -> Arithmetic.add (halves v) v) ] do
            let _, pullback = Autodiff.vjp f (Value.constant x)
            let g = (pullback (Value.constant seed)).Tensor
            Assert.Equal<double[]>(before, seed.ToArray())
            Assert.Equal<double[]>(Array.map (fun v -> 2.0 * v) before, g.ToArray())
        // x + x + x: the seed reaches x three times; the second sum is made here and the third added into it.
        let _, pullback = Autodiff.vjp (fun v -> Arithmetic.add (Arithmetic.add v v) v) (Value.constant x)
        let g = (pullback (Value.constant seed)).Tensor
        Assert.Equal<double[]>(before, seed.ToArray())
        Assert.Equal<double[]>(Array.map (fun v -> v + v + v) before, g.ToArray())

    [<Fact>]
    let ``every row taken in turn costs a row backward, not the whole tensor`` () =
        // 100 rows of 100: padding each row's adjoint would allocate 100 arrays of 80 KB (8 MB; arrays this small
        // come from the GC, not recycled, so the count sees them).
        let rows = 100
        let x = Tensor.random 3 [| rows; 100 |]
        let f (v: Value) = Seq.init rows (fun i -> Reduction.sum (Layout.select i v)) |> Seq.reduce Arithmetic.add
        let _, pullback = Autodiff.vjp f (Value.constant x)
        pullback (Value.scalar 1.0) |> ignore
        let before = GC.GetAllocatedBytesForCurrentThread()
        let g = (pullback (Value.scalar 1.0)).Tensor
        let allocated = GC.GetAllocatedBytesForCurrentThread() - before
        Assert.Equal<double[]>(Array.create (rows * 100) 1.0, g.ToArray())
        Assert.True(allocated < (2L <<< 20), sprintf "the pullback allocated %d bytes" allocated)

    [<Fact>]
    let ``slices under a second-order transform keep their ops`` () =
        // The inner backward's adjoints carry the outer perturbation: every step stays an op, so the Hessian of
        // Σ (narrow x)³ is diag(6x) on the slice and 0 elsewhere.
        let x = Tensor.create [| 5 |] [| 1.0; -2.0; 0.5; 3.0; 4.0 |]
        let f (v: Value) = Reduction.sum (Elementwise.pow 3.0 (Indexing.narrow 0 1 3 v))
        let h = (Autodiff.hessian f (Value.constant x)).Tensor
        let expected = Array2D.init 5 5 (fun i j -> if i = j && i >= 1 && i <= 3 then 6.0 * x.ToArray().[i] else 0.0)
        Assert.Equal<double[]>(Seq.cast<double> expected |> Array.ofSeq, h.ToArray())

    /// Σₜ Σ tanh(row t), rows taken one at a time (an unrolled loop reading its input), x's other use x², and rows
    /// gathered twice: pieces that overlap, and an adjoint added whole among them.
    let private unrolled (rows: int) (v: Value) =
        let steps = Seq.init rows (fun t -> Reduction.sum (Elementwise.tanh (Indexing.narrow 0 t 1 v))) |> Seq.reduce Arithmetic.add
        let gathered = Reduction.sum (Elementwise.tanh (Indexing.indexSelect 0 [| 1; 1; 0 |] v))
        Arithmetic.add (Arithmetic.add steps gathered) (Reduction.sum (Elementwise.tanh (Layout.select 2 v)))

    /// tanh''(x) = −2·tanh x·(1 − tanh² x), and how many times `unrolled` reads each row.
    let private unrolledHessianDiagonal (x: Tensor) =
        let rows, cols = x.Shape.[0], x.Shape.[1]
        let reads r = 1.0 + (if r = 1 then 2.0 elif r = 0 then 1.0 else 0.0) + (if r = 2 then 1.0 else 0.0)
        Array.init (rows * cols) (fun e -> let t = Math.Tanh(x.ToArray().[e]) in reads (e / cols) * -2.0 * t * (1.0 - t * t))

    [<Fact>]
    let ``a traced gradient sums an input's region adjoints in one op, not one padded op each`` () =
        let rows = 40
        let x = Tensor.random 4 [| rows; 8 |]
        let program = Trace.gradient (fun vs -> unrolled rows vs.[0]) [| x |]
        let wholeSized = program.Entries.[program.ForwardCount ..] |> Array.filter (fun e -> e.Output.ShapeArray = [| rows; 8 |])
        Assert.True(wholeSized.Length <= 2, sprintf "%d operations of x's size in the gradient program: %A" wholeSized.Length (wholeSized |> Array.map (fun e -> e.Op.Name)))
        Assert.Contains(wholeSized, fun e -> e.Op.Name = "regionSum")
        let direct = (Autodiff.grad (unrolled rows) (Value.constant x)).Tensor
        Assert.Equal<double[]>(direct.ToArray(), program.Gradients.[0].ToArray())

    [<Fact>]
    let ``a Hessian-vector product through many slices costs the input's size a few times, and is right`` () =
        let rows = 40
        let x = Tensor.random 5 [| rows; 8 |]
        let v = Tensor.random 6 [| rows; 8 |]
        // Every op the forward-over-reverse product applies, recorded: those of x's size must not grow with the rows.
        let recorded = Collections.Generic.List<TraceEntry>()
        Tracing.current.Value <- recorded
        let hvp =
            try (Autodiff.hessianVectorProduct (unrolled rows) (Value.constant x) (Value.constant v)).Tensor
            finally Tracing.current.Value <- null
        let wholeSized = recorded |> Seq.filter (fun e -> e.Output.ShapeArray = [| rows; 8 |]) |> Seq.length
        Assert.True(wholeSized <= 12, sprintf "%d operations of x's size for %d rows" wholeSized rows)
        let expected = Array.map2 (*) (unrolledHessianDiagonal x) (v.ToArray())
        let actual = hvp.ToArray()
        for e in 0 .. actual.Length - 1 do
            Assert.True(abs (actual.[e] - expected.[e]) <= 1e-14 * (1.0 + abs expected.[e]), sprintf "element %d: %g, expected %g" e actual.[e] expected.[e])
        // Reverse over reverse too.
        let h2 = (Autodiff.grad (fun u -> Reduction.sum (Arithmetic.mul (Autodiff.grad (unrolled rows) u) (Value.constant v))) (Value.constant x)).Tensor.ToArray()
        for e in 0 .. h2.Length - 1 do
            Assert.True(abs (h2.[e] - expected.[e]) <= 1e-14 * (1.0 + abs expected.[e]), sprintf "reverse over reverse, element %d: %g, expected %g" e h2.[e] expected.[e])

    [<Fact>]
    let ``a JVP through a stack or a join of many values is one op of the output's size, and is right`` () =
        let rows = 40
        let x = Tensor.random 7 [| rows; 8 |]
        let v = Tensor.random 8 [| rows; 8 |]
        let expected = Array.map2 (fun a t -> let th = Math.Tanh a in (1.0 - th * th) * t) (x.ToArray()) (v.ToArray())
        let stacked (u: Value) = Layout.stack (Array.init rows (fun t -> Elementwise.tanh (Layout.select t u)))
        let joined (u: Value) = Indexing.concat 0 (Array.init rows (fun t -> Elementwise.tanh (Indexing.narrow 0 t 1 u)))
        for name, f in [ "stack", stacked; "concat", joined ] do
            let recorded = Collections.Generic.List<TraceEntry>()
            Tracing.current.Value <- recorded
            let tangent =
                try (snd (Autodiff.jvp f (Value.constant x) (Value.constant v))).Tensor
                finally Tracing.current.Value <- null
            let wholeSized = recorded |> Seq.filter (fun e -> e.Output.ShapeArray = [| rows; 8 |]) |> Seq.length
            Assert.True(wholeSized <= 3, sprintf "%s: %d operations of the output's size for %d values" name wholeSized rows)
            let actual = tangent.ToArray()
            for e in 0 .. actual.Length - 1 do
                Assert.True(abs (actual.[e] - expected.[e]) <= 1e-15, sprintf "%s, element %d: %g, expected %g" name e actual.[e] expected.[e])
