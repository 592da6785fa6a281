namespace Functional.Tests

open System
open Xunit
open Functional
open Functional.Core
open FsCheck.FSharp

module TensorTests =

    let t23 = Tensor.create [| 2; 3 |] [| 1.0; 2.0; 3.0; 4.0; 5.0; 6.0 |]

    /// Equal infinities differ by 0 (their difference is NaN), as allClose counts them; a NaN anywhere gives NaN.
    [<Fact>]
    let ``maxAbsDiff counts equal infinities as 0 and a NaN as NaN`` () =
        let v (xs: double[]) = Tensor.vector xs
        Assert.Equal(1.0, Tensor.maxAbsDiff (v [| infinity; -infinity; 2.0 |]) (v [| infinity; -infinity; 1.0 |]))
        Assert.Equal(infinity, Tensor.maxAbsDiff (v [| infinity; 1.0 |]) (v [| -infinity; 1.0 |]))
        Assert.True(Double.IsNaN (Tensor.maxAbsDiff (v [| nan; 5.0 |]) (v [| nan; 1.0 |])))

    [<Fact>]
    let ``creation, access and rank 0`` () =
        Assert.Equal(6.0, t23.[[| 1; 2 |]])
        Assert.Equal(2, t23.Rank)
        let s = Tensor.scalar 4.0
        Assert.Equal(0, s.Rank)
        Assert.Equal(4.0, s.[[||]])
        Assert.Equal(0, (Tensor.zeros [| 3; 0 |]).Numel)
        let e = Assert.Throws<ShapeException>(fun () -> t23.[[| 2; 0 |]] |> ignore)
        Assert.Contains("size 2", e.Message)

    [<Fact>]
    let ``reshape, permute and broadcast`` () =
        Assert.Equal<double[]>([| 1.0; 4.0; 2.0; 5.0; 3.0; 6.0 |], (Tensor.permute [| 1; 0 |] t23).ToArray())
        Assert.Equal<int[]>([| 3; 2 |], (Tensor.reshape [| -1; 2 |] t23).Shape)
        Assert.Throws<ShapeException>(fun () -> Tensor.reshape [| 4; 2 |] t23 |> ignore) |> ignore
        let b = Tensor.broadcastTo [| 2; 2; 3 |] t23
        Assert.Equal(6.0, b.[[| 1; 1; 2 |]])
        Assert.Equal(Tensor.scale 2.0 t23, Tensor.sumTo [| 2; 3 |] b)
        let col = Tensor.create [| 2; 1 |] [| 10.0; 20.0 |]
        Assert.Equal<double[]>([| 11.0; 12.0; 13.0; 24.0; 25.0; 26.0 |], (Tensor.add t23 col).ToArray())
        Assert.Equal<double[]>([| 6.0; 15.0 |], (Tensor.sumTo [| 2; 1 |] t23).ToArray())

    [<Fact>]
    let ``uniform tensors (full, a broadcast scalar) read as their elements and multiply by 1 without a pass`` () =
        let u = Tensor.broadcastTo [| 2; 3 |] (Tensor.scalar 1.0)
        Assert.True(u.IsUniform)
        Assert.Equal(6, u.Numel)
        Assert.True((Tensor.reshape [| 3; 2 |] u).IsUniform)
        // x·1 is the other operand itself (bit for bit, −0 and NaN included).
        let x = Tensor.create [| 2; 3 |] [| -0.0; nan; 1e-310; -2.0; infinity; 3.0 |]
        Assert.Same(x, Tensor.mul x u)
        Assert.Same(x, Tensor.mul u x)
        Assert.Equal(Tensor.map2 (*) x (Tensor.create [| 2; 3 |] (Array.create 6 1.0)), Tensor.mul x u)
        // Another fill multiplies as usual; reading materialises equal elements once.
        let three = Tensor.full [| 2; 3 |] 3.0
        Assert.Equal<double[]>([| -0.0; nan; 3e-310; -6.0; infinity; 9.0 |], (Tensor.mul x three).ToArray())
        Assert.Equal<double[]>(Array.create 6 3.0, three.ToArray())
        Assert.Equal(Tensor.create [| 2; 3 |] (Array.create 6 3.0), three)
        Assert.Equal(3.0, three.[[| 1; 2 |]])
        // Still known to be uniform once read.
        Assert.True(three.IsUniform)
        Assert.Same(x, Tensor.mul x (let o = Tensor.full [| 2; 3 |] 1.0 in o.ToArray() |> ignore; o))
        Assert.Throws<ShapeException>(fun () -> Tensor.full [| 2; -1 |] 0.0 |> ignore) |> ignore

    type BroadcastPair = { Left: Tensor; Right: Tensor }

    /// Two operands that broadcast together: a base shape, each side with leading axes dropped and some axes
    /// set to 1, elements with −0, NaN, infinities and subnormals, and sometimes a uniform (never made) side.
    let private broadcastArb =
        Arb.fromGen (gen {
            let! rank = Gen.choose (0, 4)
            let! dims = Gen.arrayOfLength rank (Gen.choose (1, 9))
            let side = gen {
                let! drop = Gen.choose (0, rank)
                let! ones = Gen.arrayOfLength (rank - drop) (Gen.elements [ false; false; true ])
                let shape = Array.mapi (fun i d -> if ones.[i] then 1 else d) dims.[drop ..]
                let! uniform = Gen.elements [ false; false; false; true ]
                let! seed = Gen.choose (0, 100000)
                let specials = [| -0.0; nan; infinity; -infinity; 1e-310; 0.0 |]
                if uniform then return Tensor.full shape specials.[seed % specials.Length]
                else
                    let xs = (Tensor.random seed shape).ToArray() |> Array.mapi (fun i x -> if (i + seed) % 7 = 0 then specials.[i % specials.Length] else x)
                    return Tensor.create shape xs }
            let! l = side
            let! r = side
            return { Left = l; Right = r } })

    [<Fact>]
    let ``broadcast add, sub, mul and div equal the scalar operators on materialised operands, bit for bit`` () =
        let check (name: string) (op: Tensor -> Tensor -> Tensor) (f: double -> double -> double) (a: Tensor) (b: Tensor) =
            let s = Shape.broadcast a.Shape b.Shape
            let a' = (Tensor.broadcastTo s a).ToArray()
            let b' = (Tensor.broadcastTo s b).ToArray()
            let expected = Array.map2 f a' b' |> Array.map System.BitConverter.DoubleToInt64Bits
            let r = op a b
            Assert.Equal<int[]>(s, r.Shape)
            if r.ToArray() |> Array.map System.BitConverter.DoubleToInt64Bits <> expected then
                Check.failf "%s of shapes %A and %A differs from the scalar operator" name a.Shape b.Shape
        let all a b =
            check "add" Tensor.add (+) a b
            check "sub" Tensor.sub (-) a b
            check "mul" Tensor.mul (*) a b
            check "div" Tensor.div (/) a b
        Check.forAll "broadcast operators vs scalar" 53UL 300 broadcastArb (fun c -> all c.Left c.Right) |> ignore
        // Sizes that split over the cores: whole rows, and pieces of one long row.
        all (Tensor.random 1 [| 300; 1000 |]) (Tensor.random 2 [| 1000 |])
        all (Tensor.random 3 [| 2; 70000 |]) (Tensor.random 4 [| 2; 1 |])
        all (Tensor.random 5 [| 1; 1 |]) (Tensor.random 6 [| 300000 |])
        all (Tensor.full [| 3; 1; 5 |] 2.5) (Tensor.random 7 [| 4; 1 |])
        Assert.Throws<ShapeException>(fun () -> Tensor.add (Tensor.zeros [| 2; 3 |]) (Tensor.zeros [| 4 |]) |> ignore) |> ignore

    [<Fact>]
    let ``ToString is NumPy-like and elided when large`` () =
        Assert.Equal("tensor([[1, 2, 3],\n        [4, 5, 6]], shape=[2, 3])", t23.ToString())
        let big = (Tensor.zeros [| 2000 |]).ToString()
        Assert.Contains("...", big)
        Assert.True(big.Length < 200)

    [<Fact>]
    let ``ToString writes each element so that it reads back as the same double`` () =
        let values = [| 0.1; 1.0 / 3.0; -0.0; 1e-300; 5e-324; 1.7976931348623157e308; 2.0 / 3.0 * 1e-7; nan; infinity |]
        let text = (Tensor.vector values).ToString()
        let inside = text.Substring("tensor([".Length, text.IndexOf("]") - "tensor([".Length)
        let parsed = inside.Split(", ") |> Array.map (fun s -> Double.Parse(s, Globalization.CultureInfo.InvariantCulture))
        Assert.Equal<int64[]>(values |> Array.map BitConverter.DoubleToInt64Bits, parsed |> Array.map BitConverter.DoubleToInt64Bits)

    [<Fact>]
    let ``printing, hashing and comparing a broadcast or uniform tensor read only the elements they need`` () =
        // 1.2·10⁹ elements: made, 9.6 GB, over the memory limit (MemoryLimitException before).
        let wide = Tensor.broadcastTo [| 600_000_000; 2 |] (Tensor.vector [| 1.5; -2.0 |])
        let text = wide.ToString()
        Assert.StartsWith("tensor([[1.5, -2],", text)
        Assert.EndsWith("shape=[600000000, 2])", text)
        wide.GetHashCode() |> ignore
        let zeros = Tensor.zeros [| 40_000; 40_000 |]
        zeros.GetHashCode() |> ignore
        Assert.True(zeros.Equals(Tensor.full [| 40_000; 40_000 |] 0.0))
        Assert.False(zeros.Equals(Tensor.full [| 40_000; 40_000 |] -0.0))
        // A view against the same values made, element by element, and hashes alike.
        let view = Tensor.broadcastTo [| 1000; 2 |] (Tensor.vector [| 1.5; -2.0 |])
        let made = Tensor.create [| 1000; 2 |] (Array.init 2000 (fun i -> if i % 2 = 0 then 1.5 else -2.0))
        Assert.True(view.Equals(made) && made.Equals(view))
        Assert.Equal(made.GetHashCode(), view.GetHashCode())
        Assert.False(view.Equals(Tensor.create [| 1000; 2 |] (Array.init 2000 (fun i -> if i = 1999 then 0.0 elif i % 2 = 0 then 1.5 else -2.0))))

    [<Fact>]
    let ``permute and select take negative axes and rows; allClose refuses a bad tolerance`` () =
        let x = Value.constant (Tensor.random 3 [| 2; 3; 4 |])
        Assert.Equal<int[]>([| 4; 2; 3 |], (Layout.permute [| -1; 0; -2 |] x).Shape)
        Assert.Equal(Layout.permute [| 2; 0; 1 |] x |> Value.tensor, Layout.permute [| -1; 0; 1 |] x |> Value.tensor)
        Assert.Throws<ShapeException>(fun () -> Layout.permute [| -1; 2; 0 |] x |> ignore) |> ignore
        Assert.Throws<ShapeException>(fun () -> Layout.permute [| -4; 1; 0 |] x |> ignore) |> ignore
        Assert.Equal(Layout.select 1 x |> Value.tensor, Layout.select -1 x |> Value.tensor)
        Assert.Equal(Layout.select 0 x |> Value.tensor, Layout.select -2 x |> Value.tensor)
        Assert.Throws<ShapeException>(fun () -> Layout.select -3 x |> ignore) |> ignore
        let g = Autodiff.grad (fun v -> Reduction.sum (Layout.select -1 v)) x
        Assert.Equal<double[]>(Array.init 24 (fun i -> if i >= 12 then 1.0 else 0.0), Tensor.toArray g.Tensor)
        Assert.Throws<ArgumentException>(fun () -> Tensor.allClose -1.0 0.0 x.Tensor x.Tensor |> ignore) |> ignore
        Assert.Throws<ArgumentException>(fun () -> Tensor.allClose 0.0 nan x.Tensor x.Tensor |> ignore) |> ignore

    [<Fact>]
    let ``equality: every NaN equals every NaN, the zeros' signs count`` () =
        // neg flips a NaN's sign bit: the two are still equal, as documented.
        Assert.Equal(Tensor.scalar nan, Tensor.neg (Tensor.scalar nan))
        Assert.Equal((Tensor.scalar nan).GetHashCode(), (Tensor.neg (Tensor.scalar nan)).GetHashCode())
        Assert.NotEqual(Tensor.scalar 0.0, Tensor.scalar -0.0)
        Assert.NotEqual(Tensor.vector [| 1.0 |], Tensor.scalar 1.0)

    [<Fact>]
    let ``sums over any set of axes equal an element-by-element reference`` () =
        // Every subset of axes of rank-4 tensors: leading, middle and trailing blocks (summed where the data is)
        // and scattered sets (permuted first), with and without kept dimensions.
        for shape in [ [| 3; 4; 5; 6 |]; [| 1; 7; 1; 9 |]; [| 40; 30; 20; 2 |] ] do
            let t = Tensor.random (Array.sum shape) shape
            let strides = Shape.strides shape
            for mask in 1 .. 15 do
                let axes = [| 0 .. 3 |] |> Array.filter (fun a -> mask &&& (1 <<< a) <> 0)
                let r = Tensor.sumAxes axes true t
                let expected = Array.zeroCreate r.Numel
                let rStrides = Shape.strides r.Shape
                let data = t.ToArray()
                for flat in 0 .. data.Length - 1 do
                    let mutable o = 0
                    for a in 0 .. 3 do
                        let i = (flat / strides.[a]) % shape.[a]
                        if not (Array.contains a axes) then o <- o + i * rStrides.[a]
                    expected.[o] <- expected.[o] + data.[flat]
                let e = Tensor.create r.Shape expected
                Assert.True(Tensor.allClose 1e-12 1e-12 r e, sprintf "axes %A of %A differ by %g" axes shape (Tensor.maxAbsDiff r e))
                Assert.Equal<int[]>(shape |> Array.mapi (fun i d -> if Array.contains i axes then 1 else d), r.Shape)
                let dropped = Tensor.sumAxes axes false t
                Assert.Equal<int[]>([| 0 .. 3 |] |> Array.filter (fun a -> not (Array.contains a axes)) |> Array.map (fun a -> shape.[a]), dropped.Shape)
                Assert.Equal<double[]>(r.ToArray(), dropped.ToArray())

    [<Fact>]
    let ``sums over axes of length 1 are each element from +0, and moving axes of length 1 keeps the elements`` () =
        let t = Tensor.create [| 3; 1; 2; 1 |] [| -0.0; 1.5; nan; infinity; -infinity; -2.0 |]
        let bits (x: Tensor) = x.ToArray() |> Array.map System.BitConverter.DoubleToInt64Bits
        let fromZero = t.ToArray() |> Array.map (fun v -> System.BitConverter.DoubleToInt64Bits(0.0 + v))
        for axes in [ [| 1 |]; [| 3 |]; [| 1; 3 |]; [| -1 |] ] do
            Assert.Equal<int64[]>(fromZero, bits (Tensor.sumAxes axes false t))
            Assert.Equal<int64[]>(fromZero, bits (Tensor.sumAxes axes true t))
        Assert.Equal<int[]>([| 3; 2 |], (Tensor.sumAxes [| 1; 3 |] false t).Shape)
        // A permutation that moves only axes of length 1 against one that reorders (gathered element by element).
        let reference (perm: int[]) (x: Tensor) =
            let shape = perm |> Array.map (fun p -> x.Shape.[p])
            let st = Shape.strides x.Shape
            let data = x.ToArray()
            Array.init (Shape.numel shape) (fun flat ->
                let mutable rem = flat
                let mutable o = 0
                for a in shape.Length - 1 .. -1 .. 0 do
                    o <- o + (rem % shape.[a]) * st.[perm.[a]]
                    rem <- rem / shape.[a]
                data.[o])
        for perm in [ [| 1; 0; 2; 3 |]; [| 3; 0; 1; 2 |]; [| 0; 3; 2; 1 |]; [| 2; 1; 0; 3 |]; [| 3; 2; 1; 0 |] ] do
            let r = Tensor.permute perm t
            Assert.Equal<int[]>(perm |> Array.map (fun p -> t.Shape.[p]), r.Shape)
            Assert.Equal<int64[]>(reference perm t |> Array.map System.BitConverter.DoubleToInt64Bits, bits r)
        let column = Tensor.random 5 [| 7; 1 |]
        Assert.Equal<double[]>(column.ToArray(), (Tensor.transpose column).ToArray())
        Assert.Equal<int[]>([| 1; 7 |], (Tensor.transpose column).Shape)

    /// x broadcast to `target`, written out element by element: each broadcast axis read at index 0.
    let private broadcastReference (target: int[]) (x: Tensor) =
        let lead = target.Length - x.Rank
        let xs = x.ToArray()
        let xStrides = Shape.strides x.Shape
        let tStrides = Shape.strides target
        Array.init (Shape.numel target) (fun flat ->
            let mutable o = 0
            for a in 0 .. target.Length - 1 do
                let i = (flat / tStrides.[a]) % target.[a]
                if a >= lead && x.Shape.[a - lead] <> 1 then o <- o + i * xStrides.[a - lead]
            xs.[o])

    [<Fact>]
    let ``a broadcast is a view until read: the operators read it in place, views of views read the first source`` () =
        for source, target in [ [| 1000; 1 |], [| 1000; 1000 |]; [| 3 |], [| 2; 4; 3 |]; [| 2; 1; 3 |], [| 2; 5; 3 |]; [| 1; 4 |], [| 3; 4 |]; [| 5; 1; 1 |], [| 5; 2; 3 |] ] do
            let x = Tensor.random 11 source
            let v = Tensor.broadcastTo target x
            Assert.True(v.ViewOf.IsSome, sprintf "%A to %A is not a view" source target)
            let expected = broadcastReference target x
            let dense = Tensor.create target expected
            let y = Tensor.random 12 target
            // Equals compares bits.
            for op in [ Tensor.add; Tensor.sub; Tensor.mul; Tensor.div ] do
                Assert.Equal(op dense y, op v y)
                Assert.Equal(op y dense, op y v)
                Assert.Equal(op dense dense, op v v)
            // Broadcasting against a smaller operand too.
            let row = Tensor.random 13 [| target.[target.Length - 1] |]
            Assert.Equal(Tensor.mul dense row, Tensor.mul v row)
            Assert.True(v.ViewOf.IsSome, "the operators made the view")
            Assert.Equal<double[]>(expected, v.ToArray())
            Assert.True(v.ViewOf.IsNone, "reading did not make the view")
        let x = Tensor.random 14 [| 4; 1 |]
        let v1 = Tensor.broadcastTo [| 4; 5 |] x
        let v2 = Tensor.broadcastTo [| 3; 4; 5 |] v1
        match v2.ViewOf with
        | ValueSome (struct (s, _, _)) -> Assert.Same(x, s)
        | ValueNone -> Assert.Fail "a view of a view is not a view"
        Assert.Equal<double[]>(broadcastReference [| 3; 4; 5 |] x, v2.ToArray())
        // Many threads making one view at once all read the same elements.
        let big = Tensor.broadcastTo [| 500; 500 |] (Tensor.random 15 [| 500; 1 |])
        let reads = Array.Parallel.init 8 (fun _ -> big.ToArray())
        for r in reads do Assert.Equal<double[]>(broadcastReference [| 500; 500 |] (Tensor.random 15 [| 500; 1 |]), r)

    [<Fact>]
    let ``a broadcast view kept from a scope is made before the scope ends; one not kept reads as released`` () =
        let x = Tensor.random 16 [| 600; 1 |]
        let expected = broadcastReference [| 600; 600 |] x
        let kept, dropped =
            use scope = Tensor.scope ()
            // A source made in the scope, from its pool: it is released when the scope ends.
            let source = Tensor.add x (Tensor.zeros [| 600; 1 |])
            scope.Keep(Tensor.broadcastTo [| 600; 600 |] source), Tensor.broadcastTo [| 600; 600 |] source
        // Another scope reuses the pooled memory.
        do
            use _ = Tensor.scope ()
            Tensor.add (Tensor.random 17 [| 600; 1 |]) (Tensor.zeros [| 600; 1 |]) |> ignore
        Assert.Equal<double[]>(expected, kept.ToArray())
        Assert.Throws<System.ObjectDisposedException>(fun () -> dropped.ToArray() |> ignore) |> ignore

    [<Fact>]
    let ``a row sum's adjoint comes back as a view of the adjoint, equal to the written-out broadcast`` () =
        let x = Value.constant (Tensor.random 18 [| 30; 40 |])
        let _, pullback = Autodiff.vjp (Reduction.sumAxes [| 1 |] false) x
        let adj = Tensor.random 19 [| 30 |]
        let g = (pullback (Value.constant adj)).Tensor
        Assert.True(g.ViewOf.IsSome)
        Assert.Equal<double[]>(broadcastReference [| 30; 40 |] (Tensor.reshape [| 30; 1 |] adj), g.ToArray())

    /// Elements start .. start + length − 1 of x along `axis`, written out.
    let private narrowReference (axis: int) (start: int) (length: int) (x: Tensor) =
        let shape = x.Shape
        let outer = Array.fold (*) 1 shape.[.. axis - 1]
        let n = shape.[axis]
        let inner = Array.fold (*) 1 shape.[axis + 1 ..]
        let xs = x.ToArray()
        Array.init (outer * length * inner) (fun flat -> xs.[((flat / (length * inner)) * n + start + (flat / inner) % length) * inner + flat % inner])

    [<Fact>]
    let ``a slice is a view until read: the operators read it in place at its offset, and slices of views compose`` () =
        let x = Tensor.random 21 [| 30; 40; 5 |]
        for axis, start, length in [ 0, 3, 20; 1, 7, 30; 2, 1, 3 ] do
            let v = Tensor.narrowView axis start length x
            Assert.True(v.ViewOf.IsSome)
            let expected = Tensor.create v.Shape (narrowReference axis start length x)
            let y = Tensor.random 22 v.Shape
            for op in [ Tensor.add; Tensor.sub; Tensor.mul; Tensor.div ] do
                Assert.Equal(op expected y, op v y)
                Assert.Equal(op y expected, op y v)
                Assert.Equal(op expected expected, op v v)
            // A slice broadcast against a smaller operand, and a broadcast of a slice.
            let last = Tensor.random 23 [| v.Shape.[2] |]
            Assert.Equal(Tensor.mul expected last, Tensor.mul v last)
            let wide = Array.append [| 2 |] v.Shape
            Assert.Equal(Tensor.broadcastTo wide expected, Tensor.broadcastTo wide v)
            Assert.True(v.ViewOf.IsSome, "the operators made the view")
            Assert.Equal<double[]>(expected.ToArray(), v.ToArray())
        // A slice of a slice, and of a broadcast view.
        let inner = Tensor.narrowView 1 2 10 (Tensor.narrowView 1 5 30 x)
        Assert.Equal<double[]>(narrowReference 1 7 10 x, inner.ToArray())
        let b = Tensor.broadcastTo [| 4; 30; 40; 5 |] x
        let sliced = Tensor.create [| 30; 10; 5 |] (narrowReference 1 7 10 x)
        Assert.Equal<double[]>((Tensor.broadcastTo [| 4; 30; 10; 5 |] sliced).ToArray(), (Tensor.narrowView 2 7 10 b).ToArray())


/// Scopes taking back their own arrays: alone, since a test running alongside may take an array from the shared pool
/// between two scopes.
[<Collection("process-wide state")>]
module TensorTestsAlone =

    [<Fact>]
    let ``a broadcast view read inside its scope takes the scope's pooled memory and gives it back when the scope ends`` () =
        let x = Tensor.random 20 [| 700; 1 |]
        let xs = x.ToArray()
        let expected = Array.init (700 * 700) (fun f -> xs.[f / 700])
        for round in 0 .. 2 do
            use scope = Tensor.scope ()
            let v = Tensor.broadcastTo [| 700; 700 |] x
            Assert.Equal<double[]>(expected, v.ToArray())
            if round > 0 then Assert.True(scope.State.Reuses > 0, "the next scope did not reuse the view's array")

    [<Fact>]
    let ``a uniform tensor scaled or negated stays uniform, and read inside its scope takes the scope's pooled memory`` () =
        let u = Tensor.full [| 700; 700 |] 2.5
        let scaled, negated = Tensor.scale -0.5 u, Tensor.neg (Tensor.full [| 3 |] 0.0)
        Assert.True(scaled.IsUniform && scaled.Fill = -1.25 && negated.IsUniform)
        Assert.Equal(-0.0, negated.Fill)
        Assert.True(Double.IsNegative negated.Fill)
        for round in 0 .. 2 do
            use scope = Tensor.scope ()
            let v = Tensor.full [| 700; 700 |] (float round)
            Assert.True(v.ToArray() |> Array.forall (fun e -> e = float round))
            if round > 0 then Assert.True(scope.State.Reuses > 0, "the next scope did not reuse the uniform's array")
