namespace Functional.Tests

open System
open System.Threading
open System.Threading.Tasks
open Xunit
open Functional
open Functional.Core
open Functional.Testing

/// Plain results (made outside every scope) of 85 KB and more are recycled through keepers once the GC finds every
/// tensor over their array unreachable; keepers' arrays are poisoned with NaN when the GC hands them back.
module KeeperTests =

    let private bits (t: Tensor) = t.ToArray() |> Array.map BitConverter.DoubleToInt64Bits

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
