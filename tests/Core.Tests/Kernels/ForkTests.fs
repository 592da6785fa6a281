namespace Functional.Tests

open System
open System.Threading
open Xunit
open Functional.Core
open Functional.Kernels

/// Fork.For, the kernels' parallel loop on spinning workers: every task once, errors and the caller's context
/// carried over, nested and concurrent jobs, and kernels giving the same bits on the workers as on the pool.
[<Collection("process-wide state")>]
module KernelsForkTests =

    [<Fact>]
    let ``every task runs exactly once, job after job`` () =
        for count in [ 1; 2; 3; 7; 64; 1000 ] do
            for _ in 1 .. 50 do
                let hits: int[] = Array.zeroCreate count
                Fork.For(count, fun i -> Interlocked.Increment(&hits.[i]) |> ignore)
                Assert.True(hits |> Array.forall ((=) 1), sprintf "%d tasks: %A" count hits)

    [<Fact>]
    let ``pieces cover counts up to the largest array exactly, without wrapping near 2^31`` () =
        // (n + per − 1) / per in 32 bits is negative for these counts, and Fork.For runs no task at all.
        for n in [ Shape.maxElements; Int32.MaxValue; Int32.MaxValue - 65535 ] do
            for per in [ 1 <<< 15; 1 <<< 16; n / 16; n / 2 + 1 ] do
                Assert.Equal(int ((int64 n + int64 per - 1L) / int64 per), Fork.Pieces(n, per))
                let pieces = Collections.Concurrent.ConcurrentBag<int * int>()
                Fork.ForPieces(n, per, fun lo hi -> pieces.Add((lo, hi)))
                let sorted = pieces.ToArray() |> Array.sort
                Assert.Equal(Fork.Pieces(n, per), sorted.Length)
                Assert.Equal(0, fst sorted.[0])
                Assert.Equal(n, snd sorted.[sorted.Length - 1])
                for k in 1 .. sorted.Length - 1 do Assert.Equal(snd sorted.[k - 1], fst sorted.[k])
            Assert.InRange(Fork.PerTask(n, 1), 1, n)
        Assert.Equal(0, Fork.Pieces(0, 64))

    [<Fact>]
    let ``a task's exception reaches the caller as it was, and the next job runs`` () =
        let saved = Tuning.SpinMs
        try
            // On the spinning workers, and on the thread pool (no spinning).
            for spin in [ saved; 0.0 ] do
                Tuning.SpinMs <- spin
                let e = Assert.Throws<InvalidOperationException>(fun () -> Fork.For(16, fun i -> if i = 11 then invalidOp "task 11"))
                Assert.Contains("task 11", e.Message)
                let disposed = Assert.Throws<ObjectDisposedException>(fun () -> Fork.For(4, fun i -> if i = 2 then raise (ObjectDisposedException("tensor"))))
                Assert.Contains("tensor", disposed.Message)
                let hits = Array.zeroCreate 16
                Fork.For(16, fun i -> hits.[i] <- 1)
                Assert.Equal(16, Array.sum hits)
            // After the first failure the remaining tasks are counted, not run: 10,000 failing tasks ran every one
            // (each throwing) before the caller saw the first error.
            Tuning.SpinMs <- saved
            let ran = ref 0
            Assert.Throws<InvalidOperationException>(fun () ->
                Fork.For(10_000, fun _ -> Interlocked.Increment(&ran.contents) |> ignore; invalidOp "every task fails")) |> ignore
            // Each participant may start one task before the first error is visible.
            Assert.True(ran.Value < 100 + Environment.ProcessorCount, sprintf "%d tasks ran" ran.Value)
        finally Tuning.SpinMs <- saved

    [<Fact>]
    let ``tasks see the caller's async-local values, such as an open TensorScope`` () =
        let local = AsyncLocal<int>()
        local.Value <- 42
        let seen = Array.zeroCreate 64
        Fork.For(64, fun i ->
            Thread.Sleep(i % 3)
            seen.[i] <- local.Value)
        Assert.True(seen |> Array.forall ((=) 42), sprintf "%A" seen)

    [<Fact>]
    let ``a job from inside a task, and jobs from two threads at once, all complete`` () =
        let total = ref 0L
        Fork.For(8, fun _ -> Fork.For(8, fun _ -> Interlocked.Increment(&total.contents) |> ignore))
        Assert.Equal(64L, total.Value)
        let counts: int[] = Array.zeroCreate 2
        let run k = Thread(fun () -> for _ in 1 .. 200 do Fork.For(10, fun _ -> Interlocked.Increment(&counts.[k]) |> ignore))
        let threads = [| run 0; run 1 |]
        for t in threads do t.Start()
        for t in threads do t.Join()
        Assert.Equal<int[]>([| 2000; 2000 |], counts)

    [<Fact>]
    let ``kernels give the same bits on the spinning workers and on the thread pool`` () =
        let x = Tensor.random 5 [| 700; 900 |]
        let w = Tensor.random 6 [| 900; 600 |]
        let run () =
            let v = Value.constant x
            let y, pullback = Autodiff.vjp (fun v -> Softmax.logSoftmax 1 (Activation.gelu (Linear.matmul v (Value.constant w)))) v
            let g = (pullback (Value.constant (Tensor.random 7 [| 700; 600 |]))).Tensor
            Array.append (y.Tensor.ToArray()) (g.ToArray()) |> Array.map BitConverter.DoubleToInt64Bits
        let spinning = run ()
        let before = Tuning.SpinMs
        Tuning.SpinMs <- 0.0
        let pool = try run () finally Tuning.SpinMs <- before
        Assert.Equal<int64[]>(pool, spinning)

    [<Fact>]
    let ``the public spin setting takes 0 to 1,000 milliseconds and reaches the workers`` () =
        let before = Limits.workerSpinMilliseconds ()
        try
            for bad in [ -1.0; 1000.5; nan; infinity ] do
                Assert.Throws<ArgumentOutOfRangeException>(fun () -> Limits.setWorkerSpinMilliseconds bad) |> ignore
            Limits.setWorkerSpinMilliseconds 0.0
            Assert.Equal(0.0, Tuning.SpinMs)
        finally
            Limits.setWorkerSpinMilliseconds before

    /// Runs f with the workers spinning for a second after each job (mid-sized costly kernels split only while
    /// they spin), a job first to wake them.
    let private withSpinningWorkers (f: unit -> unit) =
        let before = Tuning.SpinMs
        Tuning.SpinMs <- 1000.0
        try
            Fork.For(2, fun _ -> ())
            // The job returns before a worker it woke is up.
            Assert.True(SpinWait.SpinUntil((fun () -> Fork.Spinning()), 10_000), "the workers did not wake")
            f ()
        finally
            Tuning.SpinMs <- before

    [<Fact>]
    let ``costly kernels' tasks cover every row, keep 16,384-element chunks for large inputs and split mid-sized ones over the cores`` () =
        let cores = Environment.ProcessorCount
        withSpinningWorkers <| fun () ->
        for rows, n in [ (1, 1); (129, 127); (64, 127); (24, 127); (16, 127); (1000, 127); (8256, 127); (3, 5000); (1, 100_000); (100_000, 1); (3072, 1); (5000, 1); (20_000, 1); (40_000, 1) ] do
            let per = Fork.PerTask(rows, n)
            let tasks = (rows + per - 1) / per
            Assert.True(per >= 1 && (tasks - 1) * per < rows, sprintf "%d rows of %d: %d per task" rows n per)
            let total = int64 rows * int64 n
            if total >= int64 (2 * 16384) && n <= 16384 then
                Assert.True(int64 per * int64 n <= 16384L, sprintf "%d rows of %d: %d per task" rows n per)
            if cores >= 2 && total >= int64 Tuning.SplitCostlyFrom && rows >= 2 then
                Assert.True(tasks >= 2, sprintf "%d rows of %d: one task" rows n)
            if total < int64 Tuning.SplitCostlyFrom && total <= 16384L then
                Assert.Equal(1, tasks)
            if n = 1 && tasks > 1 then
                Assert.True(per % 64 = 0, sprintf "%d elements: tasks of %d" rows per)

    [<Fact>]
    let ``costly kernels give the same bits however their elements and rows are split over tasks`` () =
        let ops : (string * (Value -> Value)) list =
            [ "exp", Elementwise.exp; "log", (fun v -> Elementwise.log (Elementwise.exp v)); "tanh", Elementwise.tanh
              "sigmoid", Elementwise.sigmoid; "gelu", Activation.gelu; "geluTanh", Activation.geluTanh
              "pow 1.5", (fun v -> Elementwise.pow 1.5 (Elementwise.exp v)); "softmax", Softmax.softmax -1
              "logSoftmax", Softmax.logSoftmax -1 ]
        let run (x: Tensor) (g: Tensor) (op: Value -> Value) =
            let y, pullback = Autodiff.vjp op (Value.constant x)
            Array.append (y.Tensor.ToArray()) ((pullback (Value.constant g)).Tensor.ToArray()) |> Array.map BitConverter.DoubleToInt64Bits
        let before = Tuning.SplitCostlyFrom
        withSpinningWorkers <| fun () ->
        try
            for shape in [ [| 3001 |]; [| 9_999 |]; [| 40_003 |]; [| 77; 61 |]; [| 300; 129 |] ] do
                let x = Tensor.map (fun v -> 8.0 * v) (Tensor.random 11 shape)
                let g = Tensor.random 12 shape
                for name, op in ops do
                    Tuning.SplitCostlyFrom <- Int32.MaxValue
                    let whole = run x g op
                    for from in [ 130; 3072 ] do
                        Tuning.SplitCostlyFrom <- from
                        Assert.True((whole = run x g op), sprintf "%s on %A split from %d" name shape from)
            // Softmax along a middle axis: segments of positions per task.
            for shape in [ [| 8; 64; 16 |]; [| 3; 50; 40 |]; [| 2; 9; 2100 |] ] do
                let x = Tensor.map (fun v -> 8.0 * v) (Tensor.random 13 shape)
                let g = Tensor.random 14 shape
                for name, op in [ "softmax", Softmax.softmax 1; "logSoftmax", Softmax.logSoftmax 1 ] do
                    Tuning.SplitCostlyFrom <- Int32.MaxValue
                    let whole = run x g op
                    for from in [ 130; 3072 ] do
                        Tuning.SplitCostlyFrom <- from
                        Assert.True((whole = run x g op), sprintf "%s along axis 1 of %A split from %d" name shape from)
        finally
            Tuning.SplitCostlyFrom <- before

    [<FactNeeding(Need.TwoCores)>]
    let ``a mid-sized costly kernel stays on one core while the workers sleep, and a burst of such calls wakes them`` () =
        let before = Tuning.SpinMs
        try
            Tuning.SpinMs <- 1.0
            Fork.For(2, fun _ -> ())
            Assert.True(SpinWait.SpinUntil((fun () -> not (Fork.Spinning())), 10_000), "the workers did not sleep")
            // Asleep for good: a wake-up released for a job an earlier test's caller ran itself returns a later
            // wait early (Fork's documented lost release), and such a worker spins one period before it sleeps.
            let mutable settled = 0
            while settled < 200 && (Thread.Sleep 20; Fork.Spinning()) do
                SpinWait.SpinUntil((fun () -> not (Fork.Spinning())), 10_000) |> ignore
                settled <- settled + 1
            Assert.False(Fork.Spinning(), "the workers kept waking")
            Tuning.SpinMs <- 1000.0
            // Until the calls add up to a burst, each runs whole; then the workers are woken for the next.
            let mutable whole = 0
            while whole < Fork.WakeAfterDeclined && Fork.PerTask(129, 127) = 129 do whole <- whole + 1
            Assert.InRange(whole, 1, Fork.WakeAfterDeclined)
            Assert.True(SpinWait.SpinUntil((fun () -> Fork.Spinning()), 10_000), "the workers were not woken")
            Assert.True(Fork.PerTask(129, 127) < 129, "no split with the workers up")
        finally
            Tuning.SpinMs <- before
