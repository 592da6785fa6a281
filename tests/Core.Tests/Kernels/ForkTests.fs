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
    let ``a task's exception reaches the caller, and the next job runs`` () =
        let e = Assert.Throws<AggregateException>(fun () -> Fork.For(16, fun i -> if i = 11 then invalidOp "task 11"))
        Assert.Contains("task 11", e.InnerExceptions.[0].Message)
        let hits = Array.zeroCreate 16
        Fork.For(16, fun i -> hits.[i] <- 1)
        Assert.Equal(16, Array.sum hits)

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
