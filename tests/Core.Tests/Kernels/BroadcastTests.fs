namespace Functional.Tests

open Xunit
open FsCheck.FSharp
open Functional.Core

/// Products without a contracted label (Functional.Kernels.Broadcast) against an element-by-element loop,
/// bit for bit: each element is +0 + a·b whichever path (vector or scalar, whole rows or pieces of one) forms it.
module KernelsBroadcastTests =

    let private reference (a: double[]) (sa: int[]) (b: double[]) (sb: int[]) (shape: int[]) =
        let count = Array.fold (*) 1 shape
        Array.init count (fun flat ->
            let mutable r = flat
            let mutable oa = 0
            let mutable ob = 0
            for d in shape.Length - 1 .. -1 .. 0 do
                let i = r % shape.[d]
                r <- r / shape.[d]
                oa <- oa + i * sa.[d]
                ob <- ob + i * sb.[d]
            0.0 + a.[oa] * b.[ob])

    let private bits (xs: double[]) = xs |> Array.map System.BitConverter.DoubleToInt64Bits

    [<Fact>]
    let ``products through strides equal the element-by-element loop bit for bit, uninitialised outputs too, stored either way`` () =
        // (shape, strides of a, strides of b): contiguous, broadcast rows and columns, transposed reads,
        // one long row split over the cores, many short rows, rank 0, an empty axis.
        let cases =
            [ [| 5; 7 |], [| 7; 1 |], [| 7; 1 |]
              [| 5; 7 |], [| 7; 1 |], [| 0; 1 |]
              [| 5; 13 |], [| 13; 1 |], [| 1; 0 |]
              [| 9; 6 |], [| 0; 1 |], [| 1; 9 |]
              [| 3; 100003 |], [| 100003; 1 |], [| 0; 1 |]
              [| 1; 300000 |], [| 300000; 1 |], [| 300000; 1 |]
              [| 2; 70001 |], [| 0; 1 |], [| 1; 0 |]
              [| 4096; 3; 5 |], [| 15; 5; 1 |], [| 1; 0; 4096 |]
              [| 600; 128 |], [| 1; 0 |], [| 128; 1 |]
              // bi,bj->bij; rows of nine over tasks that end inside the axis before the last; the same with strided
              // rows and a broadcast block; long rows (1,024 and more) that start off the vectors' alignment.
              [| 64; 128; 128 |], [| 128; 1; 0 |], [| 128; 0; 1 |]
              [| 7; 1000; 9 |], [| 9000; 9; 1 |], [| 0; 0; 1 |]
              [| 5; 3000; 11 |], [| 0; 11; 1 |], [| 1; 0; 5 |]
              [| 2; 3; 1500; 3 |], [| 0; 4500; 3; 1 |], [| 1; 2; 0; 6 |]
              [| 40; 1027 |], [| 1027; 1 |], [| 0; 1 |]
              [| 33; 1024 |], [| 1; 0 |], [| 1024; 1 |]
              [||], [||], [||]
              [| 4; 0; 3 |], [| 0; 3; 1 |], [| 3; 0; 1 |] ]
        for shape, sa, sb in cases do
            let extent (s: int[]) = 1 + Array.fold2 (fun acc n st -> acc + max 0 (n - 1) * st) 0 shape s
            let a = (Tensor.random 1 [| extent sa |]).ToArray()
            let b = (Tensor.random 2 [| extent sb |]).ToArray()
            // −0 products must come out +0, as the reference's sum from +0 gives.
            a.[0] <- -0.0
            let count = Array.fold (*) 1 shape
            // Through the caches, and around them (rows of odd lengths start off the vectors' alignment).
            for stream in [ false; true ] do
                let c = Array.create count nan
                Functional.Kernels.Broadcast.Multiply(a, sa, b, sb, c, shape, stream)
                Assert.True((bits c = bits (reference a sa b sb shape)), sprintf "shape %A, strides %A and %A, around the caches %b" shape sa sb stream)

    [<Fact>]
    let ``merged axes describe the same products`` () =
        Assert.Equal((([| 24 |], [| 1 |], [| 1 |])), Strided.mergeAxes [| 2; 3; 4 |] [| 12; 4; 1 |] [| 12; 4; 1 |])
        // A broadcast block merges with itself; the axis of size 1 is dropped.
        Assert.Equal((([| 6; 4 |], [| 0; 1 |], [| 1; 0 |])), Strided.mergeAxes [| 2; 3; 1; 4 |] [| 0; 0; 9; 1 |] [| 3; 1; 5; 0 |])
        Assert.Equal((([||], [||], [||])), Strided.mergeAxes [| 1; 1 |] [| 4; 1 |] [| 0; 0 |])

    [<Fact>]
    let ``products that leave their arrays or have negative strides are refused`` () =
        let a = Array.zeroCreate<double> 12
        let c = Array.zeroCreate<double> 12
        let run sa sb shape = fun () -> Functional.Kernels.Broadcast.Multiply(a, sa, a, sb, c, shape)
        run [| 4; 1 |] [| 0; 1 |] [| 3; 4 |] ()
        for bad in [ run [| 5; 1 |] [| 0; 1 |] [| 3; 4 |]; run [| 4; -1 |] [| 0; 1 |] [| 3; 4 |]
                     run [| 4 |] [| 0; 1 |] [| 3; 4 |]; run [| 4; 1 |] [| 0; 1 |] [| 4; 4 |] ] do
            Assert.Throws<System.ArgumentException>(fun () -> bad ()) |> ignore

/// The element-wise operators on results large enough for non-temporal stores (`Tuning.NonTemporalBytes`, in
/// chunks of 65,536): every element written, with the scalar operator's bits, at and around the chunk edges.
[<Collection("process-wide state")>]
module KernelsStreamingStoresTests =

    let private bits (a: double[]) = a |> Array.map System.BitConverter.DoubleToInt64Bits

    [<Fact>]
    let ``element-wise operators written around the caches give the scalar operators' bits`` () =
        let saved = Functional.Kernels.Tuning.NonTemporalBytes
        let savedSums = Functional.Kernels.Tuning.StreamSums
        try
            for threshold, sums in [ 0L, true; 0L, false; saved, savedSums ] do
                Functional.Kernels.Tuning.NonTemporalBytes <- threshold
                Functional.Kernels.Tuning.StreamSums <- sums
                for n in [ 1; 7; 65535; 65536; 65537; 200003; 1000000 ] do
                    let x = Tensor.random n [| n |]
                    let y = Tensor.map (fun v -> v + 2.0) (Tensor.random (n + 1) [| n |])
                    let xs, ys = x.ToArray(), y.ToArray()
                    let check name (t: Tensor) (f: int -> double) =
                        Assert.True((bits (t.ToArray()) = bits (Array.init n f)), sprintf "%s, %d elements, threshold %d, sums streamed %b" name n threshold sums)
                    check "add" (Tensor.add x y) (fun i -> xs.[i] + ys.[i])
                    check "sub" (Tensor.sub x y) (fun i -> xs.[i] - ys.[i])
                    check "mul" (Tensor.mul x y) (fun i -> xs.[i] * ys.[i])
                    check "div" (Tensor.div x y) (fun i -> xs.[i] / ys.[i])
                    check "neg" (Tensor.neg x) (fun i -> -xs.[i])
                    check "scale" (Tensor.scale 3.0 x) (fun i -> 3.0 * xs.[i])
                    check "sqrt" (Tensor.sqrtElements y) (fun i -> sqrt ys.[i])
                    // With broadcasting: rows of nine, most starting off the vectors' alignment.
                    let m = Tensor.random (n + 2) [| n; 9 |]
                    let row = Tensor.random (n + 3) [| 9 |]
                    let ms, rs = m.ToArray(), row.ToArray()
                    let checkRows name (t: Tensor) (f: double -> double -> double) =
                        Assert.True((bits (t.ToArray()) = bits (Array.init (9 * n) (fun i -> f ms.[i] rs.[i % 9]))), sprintf "%s, %d rows, threshold %d" name n threshold)
                    checkRows "add, broadcast" (Tensor.add m row) (+)
                    checkRows "div, broadcast" (Tensor.div m row) (/)
                    // The four-lane loops (the activations and their VJPs), from any alignment of the chunk.
                    let three = System.Runtime.Intrinsics.Vector256.Create(3.0)
                    check "Lanes.map" (Lanes.map (fun v -> v * three - v) (fun v -> v * 3.0 - v) x) (fun i -> xs.[i] * 3.0 - xs.[i])
                    check "Lanes.zip" (Lanes.zip (fun a b -> a * b - a) (fun a b -> a * b - a) x y) (fun i -> xs.[i] * ys.[i] - xs.[i])
                    check "Lanes.zip, uniform" (Lanes.zip (fun a b -> a * b - a) (fun a b -> a * b - a) x (Tensor.full [| n |] 3.0)) (fun i -> xs.[i] * 3.0 - xs.[i])
                    let leaky = Activation.leakyRelu 0.01
                    let _, pullback = Autodiff.vjp leaky (Value.constant x)
                    check "leaky ReLU" (leaky (Value.constant x)).Tensor (fun i -> if xs.[i] >= 0.0 then xs.[i] else 0.01 * xs.[i])
                    check "leaky ReLU's VJP" (pullback (Value.constant y)).Tensor (fun i -> ys.[i] * (if xs.[i] >= 0.0 then 1.0 else 0.01))
        finally
            Functional.Kernels.Tuning.NonTemporalBytes <- saved
            Functional.Kernels.Tuning.StreamSums <- savedSums

    /// σ's, tanh's and exp's one-pass loops, softmax's and log-softmax's rows and middle axes and their VJPs write
    /// plain results around the caches (`Strided.streamsPlain`): the bits of
    /// the same loops in a scope, from every alignment the arrays happen to have, with out-of-range lanes
    /// (redone through Math.Exp) among the elements before the first aligned lane and in the tail.
    [<FactNeeding(Need.FourLanes)>]
    let ``plain results written around the caches give the cached loops' bits`` () =
        // Runs of every length, short rows included.
        TuningSwitches.withEveryResultStreamed (fun () ->
            // These loops are the vector lanes' own (AVX2 and FMA).
            for plainStreams in [ true; false ] do
                Functional.Kernels.Tuning.StreamPlainResults <- plainStreams
                for n in [ 1; 3; 5; 8; 13; 64; 65537; 200003 ] do
                    let xs = (Tensor.random n [| n |]).ToArray() |> Array.map (fun v -> 40.0 * v)
                    for k, i in List.indexed [ 0; 1; n / 2; n - 1 ] do if i < n then xs.[i] <- [| 800.0; -800.0; nan; -infinity |].[k]
                    for name, f in [ "sigmoid", SigmoidTanhVector.sigmoid; "tanh", SigmoidTanhVector.tanh; "exp", ElementaryVector.exp ] do
                        let plain = f xs
                        let cached =
                            use _ = Tensor.scope ()
                            Array.copy (f xs)
                        Assert.True((bits plain = bits cached), sprintf "%s, %d elements, plain results streamed %b" name n plainStreams)
                // Softmax along rows and its VJP: rows of odd lengths start at every alignment.
                for rows, n in [ 3, 9; 5, 13; 7, 1000; 2, 4099 ] do
                    let xs = (Tensor.random (rows * n) [| rows * n |]).ToArray() |> Array.map (fun v -> 40.0 * v)
                    let g = Array.init (rows * n) (fun i -> float (i % 5) - 2.0)
                    let run () =
                        let y = SoftmaxVector.softmaxRows xs n
                        let z = Strided.fresh (rows * n)
                        Reductions.softmaxVjpRows y g z rows n
                        Array.append y z
                    let plain = run ()
                    let cached =
                        use _ = Tensor.scope ()
                        run ()
                    Assert.True((bits plain = bits cached), sprintf "softmax and its VJP, %d rows of %d, plain results streamed %b" rows n plainStreams)
                    let runLog () =
                        let y = SoftmaxVector.logSoftmaxRows xs n
                        Array.append y (SoftmaxVector.logSoftmaxVjpRows y g n)
                    let plainLog = runLog ()
                    let cachedLog =
                        use _ = Tensor.scope ()
                        runLog ()
                    Assert.True((bits plainLog = bits cachedLog), sprintf "log-softmax and its VJP, %d rows of %d, plain results streamed %b" rows n plainStreams)
                // Along a middle axis (outer × mid × inner): segments of every alignment, a forward whose e waits in
                // narrower segments of scratch (mid 40), and one too long for that scratch (mid 300); maxima, ties,
                // infinities and NaN among the values.
                for outer, mid, inner in [ 2, 3, 9; 1, 5, 13; 3, 4, 1000; 1, 7, 4099; 2, 40, 3001; 1, 300, 17 ] do
                    let count = outer * mid * inner
                    let xs = (Tensor.random count [| count |]).ToArray() |> Array.map (fun v -> 40.0 * v)
                    for k, i in List.indexed [ 0; 1; count / 2; count - 1 ] do xs.[i] <- [| 800.0; -infinity; nan; xs.[0] |].[k]
                    let g = Array.init count (fun i -> float (i % 7) - 3.0)
                    let run () =
                        let y = SoftmaxMiddleVector.softmaxMiddle xs outer mid inner
                        let l = SoftmaxMiddleVector.logSoftmaxMiddle xs outer mid inner
                        Array.concat [ y; SoftmaxMiddleVector.softmaxVjpMiddle y g outer mid inner; l; SoftmaxMiddleVector.logSoftmaxVjpMiddle l g outer mid inner ]
                    let plain = run ()
                    let cached =
                        use _ = Tensor.scope ()
                        run ()
                    Assert.True((bits plain = bits cached), sprintf "softmax and log-softmax along a middle axis and their VJPs, %dx%dx%d, plain results streamed %b" outer mid inner plainStreams))
