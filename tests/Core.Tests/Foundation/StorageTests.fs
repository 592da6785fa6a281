namespace Functional.Tests

open System
open System.Threading
open System.Threading.Tasks
open Xunit
open FsCheck.FSharp
open Functional
open Functional.Core
open Functional.Testing

/// TensorScope: pooled memory for results, released when the scope ends.
module StorageTests =

    let private bits (t: Tensor) = t.ToArray() |> Array.map BitConverter.DoubleToInt64Bits

    let private sameBits (what: string) (expected: Tensor) (actual: Tensor) =
        if expected.Shape <> actual.Shape || bits expected <> bits actual then
            Check.failf "%s: in a scope %O, outside %O (max difference %g)" what actual expected (Tensor.maxAbsDiff actual expected)

    /// The value and gradients of sum(GELU(einsum)) with a random adjoint, and the einsum's own gradients.
    let private work (c: EinsumEngineTests.PermutedCase) =
        let xs = c.Shapes |> Array.mapi (fun k s -> Value.constant (Tensor.random (c.Seed + k) s))
        let f (v: Value[]) = Reduction.sum (Activation.gelu (Linear.einsum c.Equation v))
        let value, grads = Autodiff.valueAndGradMany f xs
        let b = Einsum.bind c.Equation c.Shapes
        let g = Value.constant (Tensor.random (c.Seed + 7) b.OutputShape)
        let y, pullback = Autodiff.vjpMany (fun v -> Linear.einsum c.Equation v) xs
        Array.concat [ [| value.Tensor; y.Tensor |]; grads |> Array.map (fun v -> v.Tensor); pullback g |> Array.map (fun v -> v.Tensor) ]

    [<Fact>]
    let ``results made in scopes, on reused and poisoned memory, equal the unscoped results bit for bit`` () =
        // Twice in a poisoned pool, so that the second run takes the first one's (NaN-filled) arrays.
        // This test's own scopes' reuses: the process-wide count would also take other tests' running alongside.
        let reused = ref 0
        TuningSwitches.withPoisonedPool (fun () ->
          Check.forAll "scoped vs unscoped" 31UL 60 EinsumEngineTests.permutedArb (fun c ->
            let expected = work c
            for round in 1 .. 2 do
                use scope = Tensor.scope ()
                let actual = work c
                Array.iter2 (sameBits (sprintf "%s round %d" c.Equation round)) expected actual
                reused.Value <- reused.Value + scope.State.Reuses)
          |> ignore)
        Assert.True(reused.Value > 0, "no array was taken from the pool")

    [<Fact>]
    let ``a tensor made in a scope is released when the scope ends; reading it throws`` () =
        let a = Tensor.random 1 [| 40; 40 |]
        let mutable inside = Unchecked.defaultof<Tensor>
        let mutable small = Unchecked.defaultof<Tensor>
        let mutable uniform = Unchecked.defaultof<Tensor>
        do
            use _ = Tensor.scope ()
            inside <- Einsum.contract "ij,jk->ik" [| a; a |]
            small <- Tensor.scalar 3.0
            uniform <- Tensor.ones [| 4 |]
            Assert.False inside.IsReleased
        for t in [ inside; small; uniform ] do
            Assert.True t.IsReleased
            let e = Assert.Throws<ObjectDisposedException>(fun () -> t.ToArray() |> ignore)
            Assert.Contains("TensorScope", e.Message)
            Assert.Throws<ObjectDisposedException>(fun () -> Tensor.add t t |> ignore) |> ignore
        // Shape queries need no memory and still answer; the input, made before the scope, is untouched.
        Assert.Equal<int[]>([| 40; 40 |], inside.Shape)
        Assert.False a.IsReleased
        Assert.Equal(a, Tensor.create [| 40; 40 |] (a.ToArray()))

    [<Fact>]
    let ``a kept tensor survives its scope and later scopes that reuse memory`` () =
        let a = Tensor.random 2 [| 64; 64 |]
        let expected = Einsum.contract "ij,jk->ik" [| a; a |]
        let kept =
            use scope = Tensor.scope ()
            scope.Keep(Einsum.contract "ij,jk->ik" [| a; a |])
        for _ in 1 .. 5 do
            use _ = Tensor.scope ()
            Einsum.contract "ij,jk->ik" [| a; a |] |> ignore
            Einsum.contract "ij,kj->ik" [| a; a |] |> ignore
        Assert.False kept.IsReleased
        sameBits "kept" expected kept

    [<Fact>]
    let ``nested scopes: a tensor kept in the inner scope belongs to the outer one`` () =
        let a = Tensor.random 3 [| 32; 32 |]
        let outer = Tensor.scope ()
        let inner = Tensor.scope ()
        let kept = inner.Keep(Einsum.contract "ij,jk->ik" [| a; a |])
        let dropped = Einsum.contract "ij,jk->ik" [| a; a |]
        inner.Dispose()
        Assert.False kept.IsReleased
        Assert.True dropped.IsReleased
        outer.Dispose()
        Assert.True kept.IsReleased

    [<Fact>]
    let ``a view kept alone keeps the shared array; the view's source is released`` () =
        let a = Tensor.random 4 [| 32; 32 |]
        let expected = Tensor.reshape [| 1024 |] (Einsum.contract "ij,jk->ik" [| a; a |])
        let source, view =
            use scope = Tensor.scope ()
            let source = Einsum.contract "ij,jk->ik" [| a; a |]
            let view = Tensor.reshape [| 1024 |] source
            source, scope.Keep view
        Assert.True source.IsReleased
        for _ in 1 .. 3 do
            use _ = Tensor.scope ()
            Einsum.contract "ij,jk->ik" [| a; a |] |> ignore
        sameBits "view" expected view

    [<Fact>]
    let ``a tensor made over a rented array where the scope does not flow pins that array`` () =
        let a = Tensor.random 5 [| 32; 32 |]
        let expected = Tensor.reshape [| 1024 |] (Einsum.contract "ij,jk->ik" [| a; a |])
        let outside =
            use _ = Tensor.scope ()
            let source = Einsum.contract "ij,jk->ik" [| a; a |]
            // No execution context flows into this thread: the view is made outside every scope.
            let mutable view = Unchecked.defaultof<Tensor>
            let thread = Thread(fun () -> view <- Tensor.reshape [| 1024 |] source)
            using (ExecutionContext.SuppressFlow()) (fun _ -> thread.Start())
            thread.Join()
            view
        Assert.False outside.IsReleased
        for _ in 1 .. 3 do
            use _ = Tensor.scope ()
            Einsum.contract "ij,jk->ik" [| a; a |] |> ignore
        sameBits "pinned view" expected outside

    [<Fact>]
    let ``the scope flows into tasks started in it`` () =
        let a = Tensor.random 6 [| 32; 32 |]
        let mutable made = Unchecked.defaultof<Tensor>
        do
            use _ = Tensor.scope ()
            made <- Task.Run(fun () -> Einsum.contract "ij,jk->ik" [| a; a |]).Result
        Assert.True made.IsReleased

    [<Fact>]
    let ``a pullback kept past its scope throws instead of reading reused memory`` () =
        let x = Value.constant (Tensor.random 7 [| 32; 32 |])
        let pullback =
            use _ = Tensor.scope ()
            snd (Autodiff.vjp (fun v -> Activation.gelu (Linear.einsum "ij,jk->ik" [| v; v |])) x)
        Assert.Throws<ObjectDisposedException>(fun () -> pullback (Value.constant (Tensor.ones [| 32; 32 |])) |> ignore) |> ignore

    [<Fact>]
    let ``ending a scope twice does nothing; keeping after the end throws`` () =
        let scope = Tensor.scope ()
        let t = Tensor.random 8 [| 600 |] |> Tensor.map2 (+) (Tensor.ones [| 600 |])
        scope.Dispose()
        scope.Dispose()
        Assert.True t.IsReleased
        Assert.Throws<ObjectDisposedException>(fun () -> scope.Keep t |> ignore) |> ignore
        // A tensor made before the scope is not the scope's to keep or release.
        let before = Tensor.random 9 [| 3 |]
        use s = Tensor.scope ()
        Assert.Same(before, s.Keep before)
        s.Dispose()
        Assert.False before.IsReleased

    [<Fact>]
    let ``repeated scopes of the same work reuse memory instead of growing the pool`` () =
        let x = Value.constant (Tensor.random 10 [| 64; 64 |])
        // Each step's own scope's reuses: the process-wide count would also take other tests' running alongside.
        let step () =
            use scope = Tensor.scope ()
            Autodiff.grad (fun v -> Reduction.sum (Activation.gelu (Linear.einsum "ij,jk->ik" [| v; v |]))) x |> ignore
            scope.State.Reuses
        step () |> ignore
        let reuses = Seq.sum (Seq.init 20 (fun _ -> step ()))
        Assert.True(reuses >= 20, sprintf "%d reuses in 20 steps" reuses)
        Assert.True(Storage.pooled () <= Storage.poolLimitBytes)

    [<Fact>]
    let ``a contraction's temporaries go back to the pool when it returns, not when the scope ends`` () =
        let xs = [| 1 .. 3 |] |> Array.map (fun k -> Tensor.random (20 + k) [| 40; 40 |])
        let expected = Einsum.contract "ij,jk,kl->il" xs
        use scope = Tensor.scope ()
        let first = Einsum.contract "ij,jk,kl->il" xs
        // Only the output is still rented; the intermediate (40×40, no tensor holds it) went back.
        Assert.Equal(1, scope.State.Rented.Count)
        let reuses = scope.State.Reuses
        // The second call takes an array from the pool for its intermediate (the first one's, or another).
        let second = Einsum.contract "ij,jk,kl->il" xs
        Assert.Equal(2, scope.State.Rented.Count)
        Assert.True(scope.State.Reuses > reuses, "no array was taken from the pool")
        sameBits "first" expected first
        sameBits "second" expected second

    [<Fact>]
    let ``scopes on many threads at once share the pool without mixing up arrays`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let case (eq: string) (a: string) (b: string) seed : EinsumEngineTests.PermutedCase =
            let size = dict [ 'b', 2; 'h', 3; 'q', 9; 'd', 6; 'k', 17 ]
            let shape (t: string) = t.ToCharArray() |> Array.map (fun c -> size.[c])
            { Equation = eq; Shapes = [| shape a; shape b |]; Seed = seed }
        let cases =
            [| case "bqhd,bkhd->bhqk" "bqhd" "bkhd" 1
               case "bhqd,bhkd->bhqk" "bhqd" "bhkd" 2
               case "hbqd,dkbh->qbhk" "hbqd" "dkbh" 3
               case "bhqd,bhkd->bqkh" "bhqd" "bhkd" 4 |]
        let expected = cases |> Array.map work
        Parallel.For(0, 64, ParallelOptions(MaxDegreeOfParallelism = 8), fun i ->
            let c = cases.[i % cases.Length]
            use _ = Tensor.scope ()
            let actual = work c
            Array.iter2 (sameBits (sprintf "%s on thread %d" c.Equation Environment.CurrentManagedThreadId)) expected.[i % cases.Length] actual)
        |> ignore

    [<Fact>]
    let ``scopes ended out of order leave no ended scope current`` () =
        let a = Tensor.random 11 [| 32; 32 |]
        let outer = Tensor.scope ()
        let inner = Tensor.scope ()
        outer.Dispose()
        // Still inside inner: its tensors are inner's; keeping one moves it to the GC (outer has ended).
        let kept = inner.Keep(Einsum.contract "ij,jk->ik" [| a; a |])
        inner.Dispose()
        Assert.Null Storage.current.Value
        Assert.False kept.IsReleased
        let after = Einsum.contract "ij,jk->ik" [| a; a |]
        Assert.False after.IsReleased
        sameBits "after" kept after

    [<Fact>]
    let ``a transform whose function or rule throws with a scope of its own open leaves no scope behind`` () =
        let x = Value.constant (Tensor.random 12 [| 4 |])
        let mutable made = Unchecked.defaultof<Tensor>
        // The function opens a scope, makes a tensor in it and throws before ending it: outside every scope, and
        // inside one of the caller's (which stays current, and ends as usual).
        let failing (v: Value) : Value =
            Tensor.scope () |> ignore
            made <- Tensor.map exp v.Tensor
            invalidOp "the function failed"
        for withOuter in [ false; true ] do
            let outer = if withOuter then Some (Tensor.scope ()) else None
            let before = Storage.current.Value
            if not withOuter then Assert.Null(before)
            Assert.Throws<InvalidOperationException>(fun () -> Autodiff.grad failing x |> ignore) |> ignore
            Assert.Same(before, Storage.current.Value)
            Assert.True(made.IsReleased)
            Assert.Throws<InvalidOperationException>(fun () -> Autodiff.jvp failing x x |> ignore) |> ignore
            Assert.Same(before, Storage.current.Value)
            outer |> Option.iter (fun s -> s.Dispose())
        Assert.Null(Storage.current.Value)
        // A custom op's VJP rule that does the same, inside the backward pass.
        let op =
            Op.create "opensScope" (fun xs -> xs.[0]) (fun _ _ _ _ -> (Tensor.scope () |> ignore; invalidOp "the rule failed"))
                (fun _ _ _ t -> t)
        Assert.Throws<InvalidOperationException>(fun () -> Autodiff.grad (fun v -> Reduction.sum (Op.apply op [| v |])) x |> ignore) |> ignore
        Assert.Null(Storage.current.Value)
        // A scope the function ends itself, and one it leaves open on success, are the function's business.
        let mutable kept = Unchecked.defaultof<TensorScope>
        Autodiff.grad (fun v -> kept <- Tensor.scope (); Reduction.sum v) x |> ignore
        Assert.Same(kept.State, Storage.current.Value)
        kept.Dispose()
        Assert.Null(Storage.current.Value)

    [<Fact>]
    let ``an outer scope keeps a tensor made in a scope still open inside it`` () =
        let x = Tensor.random 5 [| 100; 100 |]
        let outer = Tensor.scope ()
        let mutable kept = Unchecked.defaultof<Tensor>
        do
            use _inner = Tensor.scope ()
            kept <- outer.Keep (Tensor.map exp x)
        Assert.False(kept.IsReleased)
        outer.Dispose()
        Assert.False(kept.IsReleased)
        Assert.Equal(exp (x.[[| 3; 4 |]]), kept.[[| 3; 4 |]])
