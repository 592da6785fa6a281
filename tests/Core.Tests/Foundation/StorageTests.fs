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

    // Plain results (made outside every scope) of 85 KB and more are recycled through keepers once the GC finds
    // every tensor over their array unreachable. Keepers' arrays are poisoned with NaN when the GC hands them back.

    /// Lets every unreachable keeper be finalized, so that its array is in the pool for the next result.
    let private collect () =
        GC.Collect()
        GC.WaitForPendingFinalizers()

    /// exp(x) and its VJP against `adj`, as plain tensors: three results of x's size (value, e^x·adj, and the
    /// gradient of a second op on top).
    let private plainWork (x: Tensor) (adj: Tensor) =
        let y, pullback = Autodiff.vjp (fun v -> Arithmetic.mul (Elementwise.exp v) v) (Value.constant x)
        [| y.Tensor; (pullback (Value.constant adj)).Tensor |]

    [<Fact>]
    let ``plain results of 85 KB and more are recycled once unreachable, and a recycled array never changes a result`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let x = Tensor.random 41 [| 120; 120 |]
        let adj = Tensor.random 42 [| 120; 120 |]
        let expected = plainWork x adj |> Array.map bits
        let before = Storage.recycled
        for round in 1 .. 40 do
            if round % 4 = 0 then collect ()
            let actual = plainWork x adj
            Array.iteri2 (fun k e (a: Tensor) -> if e <> bits a then Check.failf "round %d, result %d differs from the first run" round k) expected actual
        Assert.True(Storage.recycled > before, "no plain result reused a recycled array")

    /// The array the backward pass makes for slices' adjoints is made as a result is: recycled once unreachable, and
    /// written in full before it is read (a recycled array comes back poisoned).
    [<Fact>]
    let ``the backward pass's own array for slices' adjoints is recycled once unreachable`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let x = Tensor.random 43 [| 120; 120 |]
        // Two slices, each summed: the only array of x's size is the gradient the backward pass makes.
        let gradient () =
            let _, pullback = Autodiff.vjp (fun v -> Arithmetic.add (Reduction.sum (Indexing.narrow 0 0 50 v)) (Reduction.sum (Indexing.narrow 0 40 80 v))) (Value.constant x)
            (pullback (Value.scalar 1.0)).Tensor
        let expected = bits (gradient ())
        Assert.Equal<double[]>(Array.init (120 * 120) (fun i -> let r = i / 120 in (if r < 50 then 1.0 else 0.0) + (if r >= 40 then 1.0 else 0.0)), (gradient ()).ToArray())
        // The gradients' arrays seen so far, without keeping them reachable (other tests recycle arrays too, so the
        // global count could not tell).
        let seen = System.Runtime.CompilerServices.ConditionalWeakTable<double[], obj>()
        let mutable reused = 0
        for round in 1 .. 40 do
            if round % 4 = 0 then collect ()
            let g = gradient ()
            let raw = g.Data
            match seen.TryGetValue raw with
            | true, _ -> reused <- reused + 1
            | _ -> seen.Add(raw, box round)
            if bits g <> expected then Check.failf "round %d: the gradient differs from the first run" round
        Assert.True(reused > 0, "no gradient reused an earlier gradient's array")

    [<Fact>]
    let ``plain results recycled on many threads at once are never handed on while a thread holds them`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let x = Tensor.random 48 [| 120; 120 |]
        let adj = Tensor.random 49 [| 120; 120 |]
        let expected = plainWork x adj |> Array.map bits
        Parallel.For(0, 64, ParallelOptions(MaxDegreeOfParallelism = 8), fun i ->
            let actual = plainWork x adj
            // Held through a collection while this thread and others make results that take recycled arrays.
            if i % 4 = 0 then collect ()
            plainWork x adj |> ignore
            Array.iteri2 (fun k e (a: Tensor) -> if e <> bits a then Check.failf "iteration %d on thread %d, result %d changed" i Environment.CurrentManagedThreadId k) expected actual)
        |> ignore

    /// A result and a reshape of it, made where the result's own tensor becomes unreachable at once.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let private reshapedResult (x: Tensor) =
        let y = (Elementwise.exp (Value.constant x)).Tensor
        Tensor.reshape [| -1 |] y, (Layout.reshape [| 60; 240 |] (Value.constant (Tensor.scale 2.0 y))).Tensor

    /// A reshape op's result over `x`'s own array (on a tape, so the op runs), dropped at once.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let private dropReshape (x: Tensor) =
        (fst (Autodiff.vjp (Layout.reshape [| -1 |]) (Value.constant x))).Tensor.Numel |> ignore

    [<Fact>]
    let ``a plain result is not recycled while any tensor over its array is reachable`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let x = Tensor.random 43 [| 120; 120 |]
        // An array the library did not make for a result (the caller's tensor): a dropped op result over it
        // must not hand it to the pool.
        let own = Tensor.random 47 [| 120; 120 |]
        let ownBits = bits own
        dropReshape own
        let held = (Elementwise.exp (Value.constant x)).Tensor
        let heldBits = bits held
        let flat, shaped = reshapedResult x
        let flatBits, shapedBits = bits flat, bits shaped
        let before = Storage.recycled
        for round in 1 .. 30 do
            collect ()
            // Churn: results of the same length, taking whatever the pool holds.
            plainWork x x |> ignore
            if bits held <> heldBits then Check.failf "round %d: a held result changed" round
            if bits flat <> flatBits then Check.failf "round %d: a reshape outliving its source changed" round
            if bits shaped <> shapedBits then Check.failf "round %d: a reshape op's result changed" round
            if bits own <> ownBits then Check.failf "round %d: a tensor the caller made changed" round
        Assert.True(Storage.recycled > before, "the churn reused no array, so it tested nothing")

    /// An op whose forward keeps an intermediate (as a custom op keeps a value for its rules) and returns a reshape
    /// of it; the result is dropped at once.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let private keepAndReshape (x: Tensor) (saved: Tensor ref) =
        let op =
            Op.create "keepAndReshape"
                (fun xs ->
                    saved.Value <- Tensor.scale 2.0 xs.[0]
                    Tensor.reshape [| -1 |] saved.Value)
                (fun xs _ adj _ -> Layout.reshape xs.[0].Shape (Arithmetic.scale 2.0 adj))
                (fun _ _ _ t -> Layout.reshape [| -1 |] (Arithmetic.scale 2.0 t))
        (Op.apply op [| Value.constant x |]).Tensor.Numel |> ignore

    [<Fact>]
    let ``an intermediate a forward keeps is not recycled with the result that shares its array`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let x = Tensor.random 44 [| 120; 120 |]
        let saved = ref Unchecked.defaultof<Tensor>
        keepAndReshape x saved
        let savedBits = bits saved.Value
        let before = Storage.recycled
        for round in 1 .. 30 do
            collect ()
            plainWork x x |> ignore
            if bits saved.Value <> savedBits then Check.failf "round %d: the kept intermediate changed" round
        Assert.True(Storage.recycled > before, "the churn reused no array, so it tested nothing")

    /// Adam on one 120×120 parameter for `steps` steps from fixed gradients; `hold` keeps every step's parameters
    /// and moments reachable (nothing of them can be recycled), else only the latest are.
    let private adamSteps (hold: bool) (steps: int) =
        let g = Tensor.random 45 [| 120; 120 |]
        let mutable p = [| Tensor.random 46 [| 120; 120 |] |]
        let mutable state = Optimizers.init p
        let held = ResizeArray<Tensor[]>()
        let seen = ResizeArray<int64[]>()
        for step in 1 .. steps do
            if step % 3 = 0 then collect ()
            let p', s' = Optimizers.adam false 0.01 0.9 0.999 1e-8 0.0 p [| Tensor.scale (float step) g |] state
            p <- p'
            state <- s'
            if hold then held.Add(Array.append p' (Array.append s'.First s'.Second))
            seen.Add(bits p'.[0])
        seen

    [<Fact>]
    let ``the raw Tensor functions' results are recycled too, and an optimizer's steps on recycled arrays are unchanged`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let expected = adamSteps true 24
        let before = Storage.recycled
        let actual = adamSteps false 24
        Seq.iteri2 (fun k (e: int64[]) (a: int64[]) -> if e <> a then Check.failf "step %d differs when earlier steps' arrays are recycled" (k + 1)) expected actual
        Assert.True(Storage.recycled > before, "no array of the raw functions' results was reused")

    /// A GELU on a tape and its pullback: the pullback keeps GELU' of x, computed with the value.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let private geluPullback (x: Tensor) = snd (Autodiff.vjp Activation.gelu (Value.constant x))

    [<Fact>]
    let ``a forward's saved derivative is recycled once its pullback is unreachable, never while it is held`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let x = Tensor.random 65 [| 121; 121 |]
        let adj = Tensor.random 66 [| 121; 121 |]
        let held = geluPullback x
        let expected = bits (held (Value.constant adj)).Tensor
        let keepers = Storage.keepers
        for round in 1 .. 30 do
            if round % 3 = 0 then collect ()
            // Churn: the same work, dropped at once, taking whatever the pool holds.
            (geluPullback x) (Value.constant adj) |> ignore
            if bits (held (Value.constant adj)).Tensor <> expected then Check.failf "round %d: a held pullback's result changed" round
        // The value, the saved derivative and the gradient of each round, and the held pullback's gradient.
        Assert.True(Storage.keepers - keepers >= 120L, sprintf "%d keepers in 30 rounds" (Storage.keepers - keepers))

    /// The value and gradients of a product of three 125×125 matrices on a tape: each contraction keeps a 125×125
    /// intermediate (85 KB and more) that no tensor holds.
    let private chainWork (xs: Tensor[]) (adj: Tensor) =
        let y, pullback = Autodiff.vjpMany (fun v -> Linear.einsum "ij,jk,kl->il" v) (xs |> Array.map Value.constant)
        Array.append [| y.Tensor |] (pullback (Value.constant adj) |> Array.map (fun v -> v.Tensor))

    [<Fact>]
    let ``a plain contraction's temporaries go back to the pool when it returns, and its result keeps its keeper`` () =
        Functional.Kernels.Tuning.PoisonPooledArrays <- true
        let xs = [| 1 .. 3 |] |> Array.map (fun k -> Tensor.random (60 + k) [| 125; 125 |])
        let expected = bits (Einsum.contract "ij,jk,kl->il" xs)
        let keepers, recycled = Storage.keepers, Storage.recycled
        let results = [| for _ in 1 .. 10 -> Einsum.contract "ij,jk,kl->il" xs |]
        // Each call's intermediate went back as it returned, so each later call took one without a collection.
        Assert.True(Storage.recycled - recycled >= 9L, sprintf "%d arrays reused in 10 calls" (Storage.recycled - recycled))
        Assert.True(Storage.keepers - keepers >= 10L, sprintf "%d keepers for 10 results" (Storage.keepers - keepers))
        // Held results never went back: a pooled array is poisoned at once.
        results |> Array.iteri (fun k r -> if bits r <> expected then Check.failf "result %d changed while held" k)
        let adj = Tensor.random 64 [| 125; 125 |]
        let first = chainWork xs adj |> Array.map bits
        for round in 1 .. 10 do
            chainWork xs adj |> Array.iteri (fun k t -> if bits t <> first.[k] then Check.failf "round %d: result %d differs from the first run" round k)
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


/// The recycled results' pool against full collections: alone, since other tests' collections and results would
/// move the pool under it.
[<Collection("process-wide state")>]
module RecycledPoolTests =

    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let private dropResult (n: int) =
        (Elementwise.exp (Value.constant (Tensor.random 44 [| n |]))).Tensor.Numel |> ignore

    [<Fact>]
    let ``arrays of a length nothing takes between two full collections leave the pool`` () =
        // A length no other test uses.
        let n = 10_711
        dropResult n
        GC.Collect()
        GC.WaitForPendingFinalizers()
        Assert.True(Storage.pooledOf n >= 1, "the result's array did not reach the pool")
        // After each full collection the pool drops every length nothing took since the one before (twice: the
        // first may close a period that began before this test).
        for _ in 1 .. 2 do
            GC.Collect()
            GC.WaitForPendingFinalizers()
        Assert.Equal(0, Storage.pooledOf n)

    /// A custom op whose forward loops over library ops (a solver's steps) keeps only what it still reaches: the
    /// arrays its steps made and dropped are the GC's during the forward, as outside one, and the result is right.
    [<Fact>]
    let ``a forward that loops over library ops does not hold every step's arrays until it returns`` () =
        let n = 200_000 // 1.6 MB a result
        let steps = 100 // two results a step: 320 MB if every step's arrays were held
        let liveMB () =
            GC.Collect()
            GC.WaitForPendingFinalizers()
            GC.Collect()
            GC.GetTotalMemory(true) / (1L <<< 20)
        let iterate (x: Tensor) =
            let mutable y = x
            for _ in 1 .. steps do y <- Tensor.scale 0.5 (Tensor.add y x)
            y
        let x = Tensor.random 47 [| n |]
        let expected = iterate x
        let before = liveMB ()
        let inside = ref 0L
        let op =
            Op.create "iterate"
                (fun xs ->
                    let y = iterate xs.[0]
                    inside.Value <- liveMB ()
                    y)
                (fun _ _ g _ -> g) (fun _ _ _ t -> t)
        let result = Op.apply op [| Value.constant x |]
        Assert.True(inside.Value - before < 64L, sprintf "inside the forward the live heap grew by %d MB" (inside.Value - before))
        Assert.Equal(0.0, Tensor.maxAbsDiff expected result.Tensor)

    [<Fact>]
    let ``a plain result written through the caches counts toward the collection budget as if it were half the L3`` () =
        // The 64 MB budget and the 4 MB threshold of a 32 MB L3: results below the threshold count four times.
        let budget, around = 64L <<< 20, 4L <<< 20
        Assert.Equal(4L * 8L * 131_072L, Storage.budgetBytesWith around budget 131_072)
        Assert.Equal(4L * 8L * 10_625L, Storage.budgetBytesWith around budget 10_625)
        // Results written around the caches count their bytes.
        Assert.Equal(8L * 524_288L, Storage.budgetBytesWith around budget 524_288)
        Assert.Equal(8L * 1_000_000L, Storage.budgetBytesWith around budget 1_000_000)
        // A budget under four times the threshold, and thresholds of nothing and of everything, count bytes.
        Assert.Equal(8L * 131_072L, Storage.budgetBytesWith around (8L <<< 20) 131_072)
        Assert.Equal(8L * 131_072L, Storage.budgetBytesWith 0L budget 131_072)
        Assert.Equal(8L * 131_072L, Storage.budgetBytesWith Int64.MaxValue budget 131_072)

    /// Plain results of length n held through two young collections (their keepers reach gen 2), then dropped:
    /// their arrays.
    [<System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
    let private promotedAndDropped (n: int) =
        let held = [| for k in 1 .. 4 -> (Elementwise.exp (Value.constant (Tensor.random (70 + k) [| n |]))).Tensor |]
        GC.Collect(1)
        GC.Collect(1)
        held |> Array.map (fun t -> t.Data)

    [<Fact>]
    let ``results dropped after their keepers reached gen 2 come back once fresh arrays pass the full-collection budget`` () =
        // A length no other test uses; budgets small enough for a few results.
        let n = 16_901
        let bytes = 8L * int64 n
        Storage.setCollectAfterBytes (2L * bytes)
        Storage.setFullAfterBytes (2L * bytes)
        try
            let stuck = promotedAndDropped n
            let isStuck (a: double[]) = stuck |> Array.exists (fun s -> obj.ReferenceEquals(s, a))
            let x = Value.constant (Tensor.random 75 [| n |])
            let fulls = GC.CollectionCount 2
            // Young collections cannot find those keepers; fresh arrays for the misses pass the budget, and the
            // full collection that follows hands the four arrays back.
            let reused = [| for _ in 1 .. 6 -> (Elementwise.exp x).Tensor |] |> Array.filter (fun t -> isStuck t.Data)
            Assert.True(GC.CollectionCount 2 > fulls, "no full collection ran")
            Assert.True(reused.Length >= 1, "no array of the results dropped in gen 2 was reused")
        finally
            Storage.setCollectAfterBytes (64L <<< 20)
            Storage.setFullAfterBytes (128L <<< 20)

    [<Fact>]
    let ``a scope ended while a backward pass adds into its arrays gives them to the GC, not the pool`` () =
        // The backward pass adds later adjoints in place into arrays it made in the open scope (`beginWrites`); a
        // scope ended on another thread meanwhile pooled them, and the next rental, another tensor's, was then
        // written by both.
        let n = 10_753   // a length no other test uses
        let scope = Tensor.scope ()
        let state = Storage.current.Value
        let held = Tensor.wrap [| n |] (Storage.uninit n)
        let writes = Storage.beginWrites ()
        try
            scope.Dispose()
            Assert.True(held.IsReleased)
            Assert.Equal(0, Storage.pooledOf n)
        finally Storage.endWrites writes
        Assert.Equal(0, state.Writers)
        // With no pass writing, the same kind of array goes back to the pool as before.
        let scope2 = Tensor.scope ()
        Tensor.wrap [| n |] (Storage.uninit n) |> ignore
        scope2.Dispose()
        Assert.Equal(1, Storage.pooledOf n)

    [<Fact>]
    let ``an array rented on another thread and not yet held does not go back to the pool when the scope ends`` () =
        // An op in flight on a task the scope flowed to has its output array rented but not yet wrapped; the scope
        // ending under it (a task left running) handed that array to the pool, and a later scope's op wrote into it.
        let n = 10_733   // a length no other test uses
        let scope = Tensor.scope ()
        // A thread of its own (the scope flows into it): a task waited on may run inline on this thread.
        let mutable inFlight = null
        let worker = Thread(fun () -> inFlight <- Storage.uninit n)
        worker.Start()
        worker.Join()
        scope.Dispose()
        Assert.Equal(0, Storage.pooledOf n)
        use later = Tensor.scope ()
        Assert.False(obj.ReferenceEquals(inFlight, Storage.uninit n), "a later scope was lent the array still being written")
        // Rented on the thread that ends the scope and never held (an op's temporary): back to the pool as before.
        let m = 10_739
        let s2 = Tensor.scope ()
        Storage.uninit m |> ignore
        s2.Dispose()
        Assert.Equal(1, Storage.pooledOf m)
