namespace Functional.Tests

open System
open System.Threading
open System.Threading.Tasks
open Xunit
open Functional.Core

/// A read racing the end of its tensor's scope: the pool may hand the array to a new tensor at once, so a read
/// must return the tensor's own values or throw ObjectDisposedException, never the new owner's values.
module ScopeRaceTests =

    [<Fact>]
    let ``reads racing a scope's end see the tensor's own values or ObjectDisposedException, never another tensor's`` () =
        let n = 4096
        let trials = 10000 * Check.soak
        let mutable stale = 0
        let mutable disposedReads = 0
        let mutable goodReads = 0
        for trial in 0 .. trials - 1 do
            let v = float (trial % 1000 + 1)
            let scope = Tensor.scope ()
            // A pooled result (an op's output in an open scope), every element v.
            let t = Tensor.scale 1.0 (Tensor.full [| n |] v)
            let started = ref 0
            let stop = ref 0
            let reader =
                // The reader must not run inside the scope (it would flow into the task).
                use _ = ExecutionContext.SuppressFlow()
                Task.Run(fun () ->
                    let mutable fin = false
                    let mutable k = 0
                    while not fin do
                        try
                            // Alternately a raw copy, a differentiable op (through Op.apply) and a raw sum.
                            let ok =
                                match k % 3 with
                                | 0 -> t.ToArray() |> Array.forall (fun x -> x = v)
                                | 1 -> (Reduction.sum (Value.constant t)).Tensor.ToArray().[0] = v * float n
                                | _ -> (Tensor.sum t).ToArray().[0] = v * float n
                            if ok then Interlocked.Increment(&goodReads) |> ignore
                            else Interlocked.Increment(&stale) |> ignore
                        with :? ObjectDisposedException ->
                            Interlocked.Increment(&disposedReads) |> ignore
                            fin <- true
                        k <- k + 1
                        Volatile.Write(&started.contents, 1)
                        if Volatile.Read(&stop.contents) = 1 then fin <- true)
            while Volatile.Read(&started.contents) = 0 do Thread.SpinWait 20
            scope.Dispose()
            // A new owner takes the array from the pool and overwrites it while the reader may still be reading.
            let next = Tensor.scope ()
            let other = Tensor.scale 1.0 (Tensor.full [| n |] -1.0)
            Thread.SpinWait 200
            Volatile.Write(&stop.contents, 1)
            reader.Wait()
            ignore other
            next.Dispose()
        if stale > 0 then
            Check.failf "%d stale reads (another tensor's values) in %d trials; %d good reads, %d ObjectDisposedException" stale trials goodReads disposedReads
        // Both outcomes occurred, so the race was really exercised.
        Assert.True(disposedReads > 0, sprintf "no read saw the release in %d trials" trials)

    /// A uniform tensor read for the first time on a task while its scope ends on the calling thread: its array is
    /// filled before the tensor holds it, so the ended scope gives that rental to the GC, never to the pool, where
    /// the next result would take it while the task still writes it.
    [<Fact>]
    let ``a first read filling a scope's array while the scope ends never writes into the next result`` () =
        let n = 1 <<< 17
        let trials = 400 * Check.soak
        let mutable corrupted = 0
        let mutable disposedReads = 0
        let ones = Tensor.create [| n |] (Array.create n 1.0)
        for trial in 0 .. trials - 1 do
            let v = float (trial % 1000 + 1)
            let scope = Tensor.scope ()
            // Made without its array: the first read fills one from the scope's pool.
            let t = Tensor.full [| n |] v
            let started = ref 0
            // The task runs inside the scope (it flows there), so its fill rents from the scope's pool.
            let reader =
                Task.Run(fun () ->
                    Volatile.Write(&started.contents, 1)
                    try t.ToArray() |> ignore
                    with :? ObjectDisposedException -> Interlocked.Increment(&disposedReads) |> ignore)
            while Volatile.Read(&started.contents) = 0 do Thread.SpinWait 1
            Thread.SpinWait(trial % 64 * 50)
            scope.Dispose()
            // The next result of that length takes an array from the pool at once and writes −1 everywhere.
            let next = Tensor.scope ()
            let other = Tensor.scale -1.0 ones
            reader.Wait()
            if other.ToArray() |> Array.exists (fun x -> x <> -1.0) then corrupted <- corrupted + 1
            next.Dispose()
        if corrupted > 0 then
            Check.failf "%d of %d results written into by a fill racing its scope's end (%d reads saw the release)" corrupted trials disposedReads

    /// An op whose scope ends on another thread while it runs is refused: its temporaries may have been pooled while it
    /// read them, and the result, made after the end, would be a plain live tensor over values computed from them.
    /// The end is forced into the middle of the forward (after a temporary's array was taken), not raced.
    [<Fact>]
    let ``an op whose scope ends on another thread while it runs is refused`` () =
        let n = 4096
        let x = Tensor.create [| n |] (Array.init n float)
        let scope = Tensor.scope ()
        let racy =
            Op.create "racy"
                (fun xs ->
                    let temporary = (Tensor.scale 2.0 xs.[0]).Data
                    (use _ = ExecutionContext.SuppressFlow() in Task.Run(fun () -> scope.Dispose())).Wait()
                    Tensor.create [| n |] (Array.copy temporary))
                (fun _ _ adj _ -> adj)
                (fun _ _ _ t -> t)
        Assert.Throws<ObjectDisposedException>(fun () -> Op.apply racy [| Value.constant x |] |> ignore) |> ignore
        // Ops in a scope that had ended before they began run as plain ones (a task that outlived its scope).
        Assert.Equal(2.0 * float (n - 1), (Op.apply racy [| Value.constant x |]).Tensor.ToArray().[n - 1])
