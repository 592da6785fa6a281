namespace Functional.Tests

open System
open Xunit
open Functional.Core

/// Softmax's and log-softmax's fused rows against their unfused passes, their VJP ops' derivatives, and e/Σe's accuracy.
[<Collection("process-wide state")>]
module OpsSoftmaxTests =

    let private bits (a: double[]) = a |> Array.map BitConverter.DoubleToInt64Bits

    /// Both ops, each fused per row along the last axis (`Tuning.FusedSoftmax` on) or as separate passes (off).
    let private ops = [ "softmax", Softmax.softmax; "logSoftmax", Softmax.logSoftmax ]

    let private withFused (fused: bool) (f: unit -> 'a) =
        Functional.Kernels.Tuning.FusedSoftmax <- fused
        try f () finally Functional.Kernels.Tuning.FusedSoftmax <- true

    let private run (fused: bool) (x: Tensor) = withFused fused (fun () -> (Softmax.softmax -1 (Value.constant x)).Tensor.ToArray())

    [<Fact>]
    let ``softmax and log-softmax rows fused are bit-identical to the unfused passes, special values included`` () =
        for name, op in ops do
            // Rows shorter than eight go a block of 1,024 elements at a time (whole blocks, a part, over the cores).
            for rows, n in [ (1, 1); (3, 3); (5, 7); (2, 8); (4, 9); (3, 31); (3, 32); (6, 33); (64, 128); (3, 200); (300, 64)
                             (5, 1); (1000, 2); (700, 3); (300, 5); (20_000, 2); (4, 4) ] do
                let xs = (Tensor.random (rows * 1000 + n) [| rows; n |]).ToArray() |> Array.map (fun v -> 30.0 * v)
                // A row with +∞, one with −∞, one with NaN, one far below the others (every e underflows but one).
                if rows >= 4 && n >= 2 then
                    xs.[0] <- infinity
                    xs.[n] <- -infinity
                    xs.[2 * n + 1] <- nan
                    for j in 0 .. n - 2 do xs.[3 * n + j] <- -800.0
                // Zeros of both signs, the maximum among them.
                if rows >= 5 then
                    for j in 0 .. n - 1 do xs.[4 * n + j] <- (if j % 2 = 0 then -0.0 else 0.0)
                let x = Value.constant (Tensor.create [| rows; n |] xs)
                let y fused = withFused fused (fun () -> (op -1 x).Tensor.ToArray())
                Assert.True((bits (y true) = bits (y false)), sprintf "%s: %d rows of %d" name rows n)

    [<Fact>]
    let ``softmax's and log-softmax's fused VJP rows are bit-identical to their separate passes`` () =
        for name, op in ops do
            // Rows of one summing block (up to 1,056) and of several: the products summed as they are made.
            // Spread 1 and 400: at 400 log-softmax's outputs reach below −708, where e^y leaves the lanes' formula.
            for (rows, n), spread in List.allPairs [ (1, 1); (3, 5); (2, 8); (4, 13); (3, 31); (3, 32); (6, 33); (64, 128); (300, 64); (2, 1000); (3, 1055); (3, 1056); (2, 2100) ] [ 1.0; 400.0 ] do
                let x = Value.constant (Tensor.map (fun v -> spread * v) (Tensor.random (rows + n) [| rows; n |]))
                let g = Tensor.create [| rows; n |] ((Tensor.random (rows * n) [| rows; n |]).ToArray() |> Array.mapi (fun i v -> if i % 9 = 0 then -0.0 else 5.0 * v))
                let vjp fused =
                    withFused fused (fun () ->
                        let _, pullback = Autodiff.vjp (op -1) x
                        (pullback (Value.constant g)).Tensor.ToArray())
                Assert.True((bits (vjp true) = bits (vjp false)), sprintf "%s: %d rows of %d, spread %g" name rows n spread)

    [<Fact>]
    let ``along other axes the fused passes are bit-identical to the separate ones, forward and VJP`` () =
        // Middle axes (segments of up to 2,048 positions across inner, one with a tail), an axis followed by size-1
        // axes (rows), a long axis (where a pairwise sum would differ from the in-order one), and ones large
        // enough for the cores (two whole segments; a whole one and a tail).
        let cases = [ [| 3; 5; 7 |], 1; [| 4; 9; 70 |], 1; [| 2; 3; 4; 5 |], 0; [| 2; 3; 4; 5 |], 2; [| 6; 1 |], 0
                      [| 5; 40; 3 |], 1; [| 7; 33; 1; 1 |], 1; [| 8; 8; 64; 64 |], 1; [| 130; 2 |], 0; [| 2; 3; 2101 |], 1 ]
        for name, op in ops do
            for shape, axis in cases do
                let n = Shape.numel shape
                let xs = (Tensor.random (n + axis) shape).ToArray() |> Array.map (fun v -> 30.0 * v)
                // +∞, −∞ and NaN somewhere, and one position far below the rest.
                if n >= 40 then
                    xs.[1] <- infinity
                    xs.[n / 2] <- -infinity
                    xs.[n / 3] <- nan
                    xs.[n - 2] <- -800.0
                let x = Value.constant (Tensor.create shape xs)
                let g = Value.constant (Tensor.create shape ((Tensor.random (n + 7) shape).ToArray() |> Array.mapi (fun i v -> if i % 9 = 0 then -0.0 else 5.0 * v)))
                let what = sprintf "%s on %A along %d" name shape axis
                let y fused = withFused fused (fun () -> (op axis x).Tensor.ToArray())
                Assert.True((bits (y true) = bits (y false)), what + ": value")
                let vjp fused =
                    withFused fused (fun () ->
                        let _, pullback = Autodiff.vjp (op axis) x
                        (pullback g).Tensor.ToArray())
                Assert.True((bits (vjp true) = bits (vjp false)), what + ": VJP")

    [<Fact>]
    let ``long rows and long middle axes, whose scratch comes from a shared pool, are bit-identical to the separate passes`` () =
        // Rows of a vocabulary's length (the scratch longer than the row: the pool rounds up) and a middle axis of
        // 3,000 (scratch of 3,000 × 64), each twice with different data, so that stale pooled scratch would show.
        for name, op in ops do
            for shape, axis in [ [| 3; 16500 |], 1; [| 2; 40000 |], 1; [| 2; 3000; 70 |], 1 ] do
                for seed in [ 1; 2 ] do
                    let n = Shape.numel shape
                    let x = Value.constant (Tensor.create shape ((Tensor.random (seed * 31 + n) shape).ToArray() |> Array.map (fun v -> 20.0 * v)))
                    let g = Value.constant (Tensor.random (seed * 37 + n) shape)
                    let what = sprintf "%s on %A along %d, data %d" name shape axis seed
                    let both fused =
                        withFused fused (fun () ->
                            let y, pullback = Autodiff.vjp (op axis) x
                            y.Tensor.ToArray(), (pullback g).Tensor.ToArray())
                    let (y1, z1), (y0, z0) = both true, both false
                    Assert.True((bits y1 = bits y0), what + ": value")
                    Assert.True((bits z1 = bits z0), what + ": VJP")

    [<Fact>]
    let ``softmax rows match e over a compensated sum within a few roundings`` () =
        let x = Tensor.create [| 50; 77 |] ((Tensor.random 3 [| 50; 77 |]).ToArray() |> Array.map (fun v -> 40.0 * v))
        let y = run true x
        let xs = x.ToArray()
        for r in 0 .. 49 do
            let row = xs.[r * 77 .. r * 77 + 76]
            let m = Array.max row
            // e^(x − m) by Math.Exp (within half an ulp), summed with compensation: a reference within an ulp.
            let es = row |> Array.map (fun v -> Math.Exp(v - m))
            let total = HighPrecision.compensatedSum es
            for j in 0 .. 76 do
                let expected = es.[j] / total
                let got = y.[r * 77 + j]
                // Ours: e within 1 ulp of its rounded value (tested elsewhere), the sum and the division a few
                // roundings more.
                Assert.True(abs (got - expected) <= 6e-16 * abs expected, sprintf "row %d, %d: %.17g vs %.17g" r j got expected)

    /// The VJP ops' own derivatives (what second order and Hessian-vector products go through) against the same
    /// formula written as a composition of plain ops, at inputs that need not come from a softmax.
    [<Fact>]
    let ``softmax's and log-softmax's VJP ops differentiate like their formulas`` () =
        let cases =
            [ "softmaxVjp", (fun axis (v: Value[]) -> Softmax.softmaxVjp axis v.[0] v.[1]),
              (fun axis (v: Value[]) ->
                  let y, g = v.[0], v.[1]
                  Arithmetic.mul y (Arithmetic.sub g (Reduction.sumAxes [| axis |] true (Arithmetic.mul g y))))
              "logSoftmaxVjp", (fun axis (v: Value[]) -> Softmax.logSoftmaxVjp axis v.[0] v.[1]),
              (fun axis (v: Value[]) ->
                  let y, g = v.[0], v.[1]
                  Arithmetic.sub g (Arithmetic.mul (Elementwise.exp y) (Reduction.sumAxes [| axis |] true g))) ]
        let close (a: Tensor) (b: Tensor) = a.Shape = b.Shape && Tensor.allClose 1e-12 1e-13 a b
        for name, op, formula in cases do
            for shape, axis in [ ([| 4; 9 |], 1); ([| 3; 16 |], 1); ([| 5; 2; 7 |], 0); ([| 2; 3; 4 |], 1) ] do
                let seed = shape.Length * 100 + axis
                let ins = [| Value.constant (Tensor.random seed shape); Value.constant (Tensor.random (seed + 1) shape) |]
                let u = Value.constant (Tensor.random (seed + 2) shape)
                let ts = [| Value.constant (Tensor.random (seed + 3) shape); Value.constant (Tensor.random (seed + 4) shape) |]
                let what = sprintf "%s on %A, axis %d" name shape axis
                let y1, pb1 = Autodiff.vjpMany (op axis) ins
                let y2, pb2 = Autodiff.vjpMany (formula axis) ins
                Assert.True(close y1.Tensor y2.Tensor, what + ": value")
                Array.iteri2 (fun k (a: Value) (b: Value) -> Assert.True(close a.Tensor b.Tensor, sprintf "%s: VJP of input %d" what k)) (pb1 u) (pb2 u)
                let _, j1 = Autodiff.jvpMany (op axis) ins ts
                let _, j2 = Autodiff.jvpMany (formula axis) ins ts
                Assert.True(close j1.Tensor j2.Tensor, what + ": JVP")

    /// The composite the labelled ops fuse: log-softmax's entries at the labels, and log-softmax's VJP of an adjoint
    /// scattered into zeros at the labels.
    let private valueBits (v: Value) = bits (v.Tensor.ToArray())

    let private labelledComposite (labels: int[]) (x: Value) =
        let rows = x.Shape.[0]
        Layout.reshape [| rows |] (Indexing.gather 1 labels [| rows; 1 |] (Softmax.logSoftmax 1 x))

    [<Fact>]
    let ``labelled log-softmax and its VJP op have the bits of log-softmax, gather and scatter composed`` () =
        let rng = Random(41)
        for fused in [ true; false ] do
          for rows, n in [ (1, 1); (3, 3); (5, 7); (2, 8); (4, 9); (3, 31); (6, 33); (64, 128); (3, 200); (300, 64); (1000, 2); (20, 1000) ] do
            let xs = (Tensor.random (rows * 1000 + n) [| rows; n |]).ToArray() |> Array.map (fun v -> 30.0 * v)
            // A row with +∞, one with −∞, one with NaN, one far below the others (every e underflows but one).
            if rows >= 4 && n >= 2 then
                xs.[1] <- infinity
                xs.[n] <- -infinity
                xs.[2 * n + 1] <- nan
                for j in 1 .. n - 1 do xs.[3 * n + j] <- -1e6
            let x = Value.constant (Tensor.create [| rows; n |] xs)
            let labels = Array.init rows (fun _ -> rng.Next n)
            if rows >= 4 && n >= 2 then labels.[0] <- 1; labels.[1] <- 0
            // Adjoints with signed zeros and a NaN, and the uniform one a mean sends back.
            let a = Array.init rows (fun r -> match r % 7 with | 0 -> 0.0 | 1 -> -0.0 | 2 when r > 50 -> nan | _ -> rng.NextDouble() - 0.5)
            let adjoints = [ "array", Value.constant (Tensor.create [| rows |] a); "uniform", Value.constant (Tensor.full [| rows |] (-1.0 / float rows)) ]
            withFused fused (fun () ->
                let what = sprintf "%d×%d, fused %b" rows n fused
                Assert.True((valueBits (Softmax.labelledLogSoftmax labels x) = valueBits (labelledComposite labels x)), what + ": value")
                for name, adj in adjoints do
                    let scattered = Indexing.scatterAdd 1 labels [| rows; n |] (Layout.reshape [| rows; 1 |] adj)
                    let expected = valueBits (Softmax.logSoftmaxVjp 1 (Softmax.logSoftmax 1 x) scattered)
                    // The op alone finds each row's terms again; after the forward it reads them from it.
                    Assert.True((valueBits (Softmax.labelledLogSoftmaxVjp labels x adj) = expected), sprintf "%s: VJP op, %s adjoint" what name)
                    let _, pullback = Autodiff.vjp (Softmax.labelledLogSoftmax labels) x
                    let _, pullbackComposite = Autodiff.vjp (labelledComposite labels) x
                    Assert.True((valueBits (pullback adj) = valueBits (pullbackComposite adj)), sprintf "%s: pullback, %s adjoint" what name))

    [<Fact>]
    let ``labelled log-softmax differentiates like its formula to second order, and replays on TorchSharp`` () =
        let close (a: Tensor) (b: Tensor) = a.Shape = b.Shape && Tensor.allClose 1e-12 1e-13 a b
        for rows, n in [ (4, 9); (3, 16); (1, 1); (5, 2) ] do
            let x = Tensor.random (rows + 10 * n) [| rows; n |]
            let labels = Array.init rows (fun r -> (3 * r + 1) % n)
            let w = Value.constant (Tensor.random 7 [| rows |])
            let w2 = Value.constant (Tensor.random 8 [| rows; n |])
            let t = Value.constant (Tensor.random 9 [| rows; n |])
            let scalar (f: Value -> Value) (v: Value[]) = Reduction.sum (Arithmetic.mul (f v.[0]) w)
            // Gradients, their gradients (the VJP op's own rules) and a JVP, against the composite's.
            let second (f: Value -> Value) (v: Value[]) = Reduction.sum (Arithmetic.mul (Autodiff.grad (fun u -> scalar f [| u |]) v.[0]) w2)
            for what, g in [ "first", scalar; "second", second ] do
                let a = Autodiff.gradMany (g (Softmax.labelledLogSoftmax labels)) [| Value.constant x |]
                let b = Autodiff.gradMany (g (labelledComposite labels)) [| Value.constant x |]
                Assert.True(close a.[0].Tensor b.[0].Tensor, sprintf "%d×%d: %s-order gradient" rows n what)
                let report = GradCheck.run (g (Softmax.labelledLogSoftmax labels)) [| x |]
                Assert.True(report.Passed, sprintf "%d×%d: %s order against finite differences: %A" rows n what report)
                let replay = Functional.CrossCheck.Replay.verify 1e-10 1e-12 (Collections.Generic.Dictionary<_, _>() :> Collections.Generic.IReadOnlyDictionary<_, _>) (g (Softmax.labelledLogSoftmax labels)) [| x |]
                Assert.True(replay.Passed, sprintf "%d×%d: %s order replayed on TorchSharp: %s" rows n what replay.Details)
            let _, j1 = Autodiff.jvp (Softmax.labelledLogSoftmax labels) (Value.constant x) t
            let _, j2 = Autodiff.jvp (labelledComposite labels) (Value.constant x) t
            Assert.True(close j1.Tensor j2.Tensor, sprintf "%d×%d: JVP" rows n)
        let x = Value.constant (Tensor.random 3 [| 2; 3 |])
        Assert.Throws<ArgumentOutOfRangeException>(fun () -> Softmax.labelledLogSoftmax [| 0; 3 |] x |> ignore) |> ignore
        Assert.Throws<Functional.ShapeException>(fun () -> Softmax.labelledLogSoftmax [| 0 |] x |> ignore) |> ignore
        Assert.Throws<Functional.ShapeException>(fun () -> Softmax.labelledLogSoftmax [| 0 |] (Value.constant (Tensor.random 3 [| 3 |])) |> ignore) |> ignore
