namespace Functional.Core

open System
open System.Collections.Generic
open System.Threading

/// One array handed out by the pool while a scope was open: how many scoped tensors hold it, and whether it
/// may go back. An array held by a tensor outside every scope is pinned: the GC owns it from then on.
[<Sealed; AllowNullLiteral>]
type internal Lease(array: double[], thread: int) =
    member _.Array = array
    /// The managed thread that rented it (see `recycleSince`).
    member _.Thread = thread
    member val Holders = 0 with get, set
    /// Whether a tensor has ever held it: one never held may still be being written by an op in flight.
    member val Held = false with get, set
    member val OwnerEnded = false with get, set
    member val Pinned = false with get, set
    member val Returned = false with get, set

/// The owner of one large result array made outside every scope, held only by the tensors over that array. The
/// collection that finds it unreachable (when every such tensor is) clears the weak reference `Storage` keeps to
/// it, and the next look at those references, right after that collection, hands the array back for reuse: a plain
/// result's memory is recycled without an explicit owner. Code that reads a tensor's array keeps the tensor
/// reachable until it is done (every read ends with `CheckLive` or `GC.KeepAlive`), so the array cannot be handed
/// on while it is read.
[<Sealed; AllowNullLiteral>]
type internal Keeper() =
    class end

/// Calls `trim` after every collection of the generation it lives in (gen 2 once promoted), for as long as `trim`
/// returns true.
[<Sealed>]
type internal AfterCollections(trim: unit -> bool) =
    override this.Finalize() = if trim () then GC.ReRegisterForFinalize this

/// Per thread: how deep in op forwards it is, the large plain arrays made since the outermost forward began
/// (the candidates for its result's keeper) and the tensors made over them (a forward may keep one, say a value
/// saved for its rules, beside a result that is a reshape of it; each gets the keeper the result gets). Both weakly:
/// a forward that loops over library ops keeps only what it still reaches, as the same loop outside a forward would.
[<AbstractClass; Sealed>]
type internal Forwards =
    [<ThreadStatic; DefaultValue>] static val mutable private depth: int
    [<ThreadStatic; DefaultValue>] static val mutable private fresh: WeakList<double[]>
    [<ThreadStatic; DefaultValue>] static val mutable private sharers: WeakList<obj>
    static member Depth with get () = Forwards.depth and set v = Forwards.depth <- v
    static member Fresh with get () = Forwards.fresh and set v = Forwards.fresh <- v
    static member Sharers with get () = Forwards.sharers and set v = Forwards.sharers <- v

/// What a scope needs of a tensor: where it is registered, the lease of its array, the next registration in
/// that scope's list (the tensor is its own list node: no allocation per tensor), and to drop its elements.
[<AllowNullLiteral>]
type internal IScoped =
    abstract Scope: ScopeState with get, set
    abstract Lease: Lease with get, set
    abstract Next: IScoped with get, set
    abstract Release: unit -> unit
    /// The keeper of its array when that array is a recycled plain result (see `Keeper`), else null.
    abstract Keeper: Keeper with get, set
    /// Its array if made (null for a uniform tensor or an unread view), without making it.
    abstract Raw: double[]

/// A second registration of a kept tensor, in the enclosing scope (its own Next is taken by the first list).
and [<Sealed; AllowNullLiteral>] internal Kept(item: IScoped) =
    [<DefaultValue>] val mutable private next: IScoped
    interface IScoped with
        member _.Scope with get () = item.Scope and set v = item.Scope <- v
        member _.Lease with get () = item.Lease and set v = item.Lease <- v
        member k.Next with get () = k.next and set v = k.next <- v
        member _.Release() = item.Release()
        member _.Keeper with get () = item.Keeper and set v = item.Keeper <- v
        member _.Raw = item.Raw

/// The bookkeeping of one open scope: a lock-free list of the tensors made in it and the arrays rented in it.
and [<Sealed; AllowNullLiteral>] internal ScopeState(parent: ScopeState) =
    [<DefaultValue>] val mutable Head: IScoped
    [<DefaultValue>] val mutable Ended: bool
    /// Arrays this scope took from the pool (diagnostics and tests).
    [<DefaultValue>] val mutable Reuses: int
    /// Passes writing into arrays of this scope that tensors already hold (backward's in-place sums), running now.
    [<DefaultValue>] val mutable Writers: int
    member _.Parent = parent
    member val Rented = List<Lease>()
    /// Adds a registration; safe from any thread the scope flows to.
    member s.Push(item: IScoped) =
        let mutable fin = false
        while not fin do
            let head = Volatile.Read(&s.Head)
            item.Next <- head
            fin <- obj.ReferenceEquals(Interlocked.CompareExchange(&s.Head, item, head), head)

/// Memory for results made inside a scope. Without an open scope every array is a plain GC array. With one,
/// arrays of at least `minPooled` elements come from a pool, and when the scope ends every tensor made in it
/// (not kept) is released and its array goes back to the pool, so a loop of same-shaped work reuses warm
/// memory instead of faulting in fresh pages for every result. An array returns only when its scope has
/// ended and no tensor still holds it: a tensor made outside every scope over a rented array (on a thread
/// the scope does not flow to) pins it for good. A scope that is never ended keeps its arrays.
module internal Storage =

    let private gate = obj ()
    /// The innermost open scope of this execution context (it flows into tasks and Parallel loops).
    let current = AsyncLocal<ScopeState>()

    /// f run outside every scope (what it makes belongs to the garbage collector, not to the caller's scope), the
    /// caller's scope restored after.
    let unscoped (f: Func<'a>) : 'a =
        let s = current.Value
        current.Value <- Unchecked.defaultof<ScopeState>
        try f.Invoke() finally current.Value <- s
    let private leases = Dictionary<double[], Lease>(HashIdentity.Reference)
    let private pool = Dictionary<int, Stack<double[]>>()
    let mutable private pooledBytes = 0L
    /// Rented arrays not yet returned or pinned; read without the lock as a cheap "anything to look up?"
    /// (a thread that holds a rented array learnt of it through a synchronising hand-over).
    let mutable private outstanding = 0

    /// Arrays below this many elements come from the GC even in a scope (a gen-0 allocation is cheaper there).
    let minPooled = 512

    /// The pool keeps at most this many bytes of returned arrays; the rest go to the GC.
    let poolLimitBytes = 512L <<< 20


    /// Arrays handed out again from the pool (diagnostics and tests).
    let mutable reuses = 0L

    /// A GC array for a result a kernel fills completely: small ones zeroed (cheaper, Tuning.ZeroedBelow).
    let private fromGC (n: int) : double[] =
        if n < Functional.Kernels.Tuning.ZeroedBelow then Array.zeroCreate n else GC.AllocateUninitializedArray<double> n

    /// Plain results of at least this many elements (the large-object heap's 85,000 bytes) are recycled through
    /// keepers; smaller ones are gen-0 memory, which the GC reuses itself.
    let recycleFrom = 10_625

    /// Large plain results made under keepers since the last collection; past `collectAfterBytes` the next one
    /// asks for a gen-1 collection, which finds the keepers of the dead ones.
    let mutable private keptBytes = 0L
    let mutable private collectionsSeen = 0
    let mutable private collectAfterBytes = 64L <<< 20
    /// For tests and measurements.
    let setCollectAfterBytes (bytes: int64) = collectAfterBytes <- bytes

    /// What a large plain result of n elements counts toward `collectAfterBytes`. One written around the caches
    /// (`Tuning.NonTemporalBytes`, an eighth of the L3 up to 4 MB, and more) counts its bytes. One written through them comes
    /// back warm from the pool only if what is made between two collections stays in the L3 beside the operands:
    /// it counts as many times its bytes as make its budget four times `NonTemporalBytes` (16 of the 64 MB where
    /// that is 4 MB, half of a 32 MB L3).
    let internal budgetBytesWith (nonTemporalBytes: int64) (budget: int64) (n: int) =
        let bytes = 8L * int64 n
        let around = min nonTemporalBytes (1L <<< 40)
        if bytes >= around then bytes else bytes * max 1L (budget / (4L * max 1L around))

    let private budgetBytes (n: int) = budgetBytesWith Functional.Kernels.Tuning.NonTemporalBytes collectAfterBytes n

    /// Large plain arrays allocated fresh (the pool had none of that length) since the last full collection. A
    /// keeper that outlives two collections (its result held a while) reaches gen 2, which only full collections
    /// look at, and those come rarely when most large results are recycled: its array would wait there while every
    /// miss takes fresh memory (a plain GELU fwd+bwd loop on 10⁷ grew by 80 MB per call). Past `fullAfterBytes`
    /// (twice `collectAfterBytes`) the collection asked for is a full one.
    let mutable private freshBytes = 0L
    let mutable private fullCollectionsSeen = 0
    let mutable private fullAfterBytes = 128L <<< 20
    /// For tests and measurements.
    let setFullAfterBytes (bytes: int64) = fullAfterBytes <- bytes

    /// Plain arrays handed out again from the pool, and keepers made (diagnostics and tests).
    let mutable recycled = 0L
    let mutable keepers = 0L
    /// 1 once the pool's trimmer is registered for collections.
    let mutable private trimmerRegistered = 0

    /// The keeper of each recycled plain array, weakly on both sides: a tensor made over an array that has one
    /// (a reshape, a squeeze) holds it too.
    let private keeperOf = System.Runtime.CompilerServices.ConditionalWeakTable<double[], WeakReference<Keeper>>()

    /// Every keeper's weak reference and array (under `gate`), and the collection count when they were last looked
    /// at (`reclaim`).
    let private watched = List<struct (WeakReference<Keeper> * double[])>()
    let mutable private reclaimedAt = 0

    /// Lengths taken from the pool since the last full collection (under `gate`).
    let private takenLengths = HashSet<int>()

    /// After each full collection: drops the pooled arrays of every length nothing was taken of since the one
    /// before, so memory a finished workload (or a shape no longer used) needs no more goes back to the GC.
    let private trimIdle () =
        lock gate (fun () ->
            let idle = pool.Keys |> Seq.filter (fun n -> not (takenLengths.Contains n)) |> Seq.toArray
            for n in idle do
                pooledBytes <- pooledBytes - 8L * int64 n * int64 pool.[n].Count
                pool.Remove n |> ignore
            takenLengths.Clear())
        true

    // The helpers below run under `gate`.

    /// Puts a free array in the pool if it stays within its limit; `poison` first fills it with NaN.
    let private pushPooled (poison: bool) (a: double[]) =
        let bytes = 8L * int64 a.Length
        if pooledBytes + bytes <= poolLimitBytes then
            if poison then Array.Fill(a, nan)
            match pool.TryGetValue a.Length with
            | true, stack -> stack.Push a
            | _ ->
                let stack = Stack<double[]>()
                stack.Push a
                pool.[a.Length] <- stack
            pooledBytes <- pooledBytes + bytes

    /// A pooled array of length n, or null.
    let private popPooled (n: int) =
        match pool.TryGetValue n with
        | true, stack when stack.Count > 0 ->
            pooledBytes <- pooledBytes - 8L * int64 n
            takenLengths.Add n |> ignore
            stack.Pop()
        | _ -> null

    /// Whether a collection ran since `reclaim` last looked (read without the lock: a stale answer only delays).
    let private collectedSinceReclaim () = watched.Count > 0 && GC.CollectionCount 0 <> reclaimedAt

    /// After a collection: the arrays of the keepers it found unreachable (their weak references cleared) join the
    /// pool, poisoned when tests ask for it. The collection itself clears the references, so the arrays are back
    /// as soon as it returns.
    let private reclaim () =
        let seen = GC.CollectionCount 0
        if seen <> reclaimedAt then
            reclaimedAt <- seen
            let mutable kept = 0
            for i in 0 .. watched.Count - 1 do
                let struct (weak, a) = watched.[i]
                match weak.TryGetTarget() with
                | true, _ ->
                    watched.[kept] <- watched.[i]
                    kept <- kept + 1
                | _ -> pushPooled Functional.Kernels.Tuning.PoisonPooledArrays a
            watched.RemoveRange(kept, watched.Count - kept)

    /// A large array for a result made outside every scope: a recycled one of that length if the pool has one.
    let private plainLarge (n: int) =
        if GC.CollectionCount 2 <> fullCollectionsSeen then
            fullCollectionsSeen <- GC.CollectionCount 2
            freshBytes <- 0L
        let full = freshBytes >= fullAfterBytes
        if keptBytes >= collectAfterBytes || full then
            // Only if no collection has run since the count began (the dead tensors' keepers are found by it), and
            // never inside an application's no-GC region (a collection would end it).
            let ran = if full then GC.CollectionCount 2 <> fullCollectionsSeen else GC.CollectionCount 0 <> collectionsSeen
            if not ran && Runtime.GCSettings.LatencyMode <> Runtime.GCLatencyMode.NoGCRegion then
                GC.Collect((if full then 2 else 1), GCCollectionMode.Forced, true, false)
            collectionsSeen <- GC.CollectionCount 0
            fullCollectionsSeen <- GC.CollectionCount 2
            keptBytes <- 0L
            if full then freshBytes <- 0L
        let mutable a: double[] = null
        if pooledBytes > 0L || collectedSinceReclaim () then
            lock gate (fun () ->
                reclaim ()
                a <- popPooled n
                if not (isNull a) then recycled <- recycled + 1L)
        if isNull a then
            a <- GC.AllocateUninitializedArray<double> n
            Interlocked.Add(&freshBytes, 8L * int64 n) |> ignore
        if Forwards.Depth > 0 then
            let mutable fresh = Forwards.Fresh
            if isNull fresh then
                fresh <- WeakList<double[]>()
                Forwards.Fresh <- fresh
            fresh.Add a
        a

    /// Whether results made on this thread now are plain (no scope open, or it has ended): their arrays come
    /// fresh from the GC or recycled after a collection, in either case not in the caches.
    let plain () =
        let s = current.Value
        isNull s || s.Ended

    /// An array a kernel fills completely (its contents are unspecified).
    let uninit (n: int) : double[] =
        if Limits.exceeds (float n) then Limits.check (fun () -> "A result") (float n)
        let s = current.Value
        if isNull s || s.Ended then (if n >= recycleFrom then plainLarge n else fromGC n)
        elif n < minPooled then fromGC n
        else
            // Under `gate`. A scope that ended meanwhile (on another thread) settled its leases already: the array
            // is then the GC's, as a plain result's.
            let lend (a: double[]) =
                if not s.Ended then
                    let lease = Lease(a, Environment.CurrentManagedThreadId)
                    leases.Add(a, lease)
                    s.Rented.Add lease
                    outstanding <- leases.Count
            let mutable a: double[] = null
            lock gate (fun () ->
                if collectedSinceReclaim () then reclaim ()
                a <- popPooled n
                if not (isNull a) then
                    reuses <- reuses + 1L
                    s.Reuses <- s.Reuses + 1
                    lend a)
            if isNull a then
                // A fresh array is made outside the lock: it may be large.
                a <- GC.AllocateUninitializedArray<double> n
                lock gate (fun () -> lend a)
            a

    // The helpers below run under `gate`.
    let private pin (lease: Lease) =
        lease.Pinned <- true
        leases.Remove lease.Array |> ignore
        outstanding <- leases.Count

    let private tryReturn (lease: Lease) =
        if lease.OwnerEnded && lease.Holders = 0 && not lease.Pinned && not lease.Returned then
            lease.Returned <- true
            leases.Remove lease.Array |> ignore
            outstanding <- leases.Count
            pushPooled Functional.Kernels.Tuning.PoisonPooledArrays lease.Array

    let private leaseOf (data: double[]) =
        match leases.TryGetValue data with
        | true, l -> l
        | _ -> null

    /// Counts t as a holder of its array when that array is rented (under `gate`).
    let private hold (t: IScoped) (data: double[]) =
        let lease = leaseOf data
        if not (isNull lease) then
            lease.Holders <- lease.Holders + 1
            lease.Held <- true
            t.Lease <- lease

    /// Called by every new tensor: registers it with the open scope, and counts it as a holder of its array
    /// when that array is rented (or pins the array when no scope is open here).
    let adopt (t: IScoped) (data: double[]) =
        if keepers > 0L && not (isNull data) && data.Length >= recycleFrom then
            match keeperOf.TryGetValue data with
            | true, weak ->
                match weak.TryGetTarget() with
                | true, k -> t.Keeper <- k
                | _ -> ()
            | _ -> ()
        // A tensor over an array made in this thread's current forward: remembered, so that if the array later gets
        // a keeper (through the forward's result or a kept intermediate), this tensor holds it too.
        if Forwards.Depth > 0 && not (isNull data) && data.Length >= recycleFrom && isNull t.Keeper then
            let fresh = Forwards.Fresh
            if not (isNull fresh) && fresh.Contains data then
                let mutable sharers = Forwards.Sharers
                if isNull sharers then
                    sharers <- WeakList<obj>()
                    Forwards.Sharers <- sharers
                // Weakly, freed when the outermost forward ends: no finalizer per large result.
                sharers.Add t
        let s = current.Value
        // Only arrays of minPooled elements or more are ever rented: smaller ones need no lookup (and no lock).
        let rented = not (isNull data) && data.Length >= minPooled && outstanding > 0
        if not (isNull s) && not s.Ended then
            t.Scope <- s
            if rented then lock gate (fun () -> hold t data)
            s.Push t
        elif rented then
            lock gate (fun () ->
                let lease = leaseOf data
                if not (isNull lease) then pin lease)

    /// An op's forward begins on this thread.
    let enterForward () = Forwards.Depth <- Forwards.Depth + 1

    /// Gives `t`, over `raw`, that array's keeper: the live one if another tensor over it has one (an array is
    /// watched through one keeper at a time), else a new one.
    let private attach (t: IScoped) (raw: double[]) =
        let mutable live = null
        match keeperOf.TryGetValue raw with
        | true, weak -> weak.TryGetTarget(&live) |> ignore
        | _ -> ()
        if not (isNull live) then t.Keeper <- live
        else
            let k = Keeper()
            // One trimmer, however many threads make their first keeper at once (two would empty the pool).
            if Interlocked.CompareExchange(&trimmerRegistered, 1, 0) = 0 then AfterCollections trimIdle |> ignore
            t.Keeper <- k
            let weak = WeakReference<Keeper>(k)
            keeperOf.AddOrUpdate(raw, weak)
            lock gate (fun () -> watched.Add(struct (weak, raw)))
            Interlocked.Increment(&keepers) |> ignore
            let seen = GC.CollectionCount 0
            if seen <> collectionsSeen then
                collectionsSeen <- seen
                keptBytes <- 0L
            Interlocked.Add(&keptBytes, budgetBytes raw.Length) |> ignore
        // Every other tensor over the array made in this forward and still reachable holds the keeper too: the array
        // is recycled only once all of them are unreachable.
        let sharers = Forwards.Sharers
        if not (isNull sharers) then
            sharers.Iterate(fun o ->
                match o with
                | :? IScoped as s when isNull s.Keeper && obj.ReferenceEquals(s.Raw, raw) -> s.Keeper <- t.Keeper
                | _ -> ())

    /// Whether `t`'s array was made outside every scope during this thread's current op forward and has no
    /// keeper yet (`raw` is its array).
    let private madeHere (t: IScoped) (raw: double[]) =
        let fresh = Forwards.Fresh
        not (isNull raw) && isNull t.Keeper && not (isNull fresh) && fresh.Contains raw

    /// An op's forward has ended (returned `out`, or threw with null). When it was the outermost on this thread
    /// and its result's array was made during it outside every scope, the result gets that array's keeper:
    /// results the caller holds are recycled once unreachable, a forward's temporaries never are (one over the
    /// result's own array, say a value the forward kept whose reshape it returned, holds the result's keeper).
    let exitForward (out: IScoped) =
        let depth = Forwards.Depth - 1
        Forwards.Depth <- depth
        if depth = 0 then
            let fresh = Forwards.Fresh
            if not (isNull fresh) && fresh.Count > 0 then
                let raw = if isNull out then null else out.Raw
                if madeHere out raw then attach out raw
                fresh.Clear()
            let sharers = Forwards.Sharers
            if not (isNull sharers) && sharers.Count > 0 then sharers.Clear()

    /// A forward's intermediate that its pullback keeps (a derivative computed with the value): when its array
    /// was made during this forward outside every scope, `t` gets the array's keeper, so the array is recycled
    /// once the pullback and `t` are unreachable. The caller vouches that `t` is the only way to that array and
    /// that every read of it keeps `t` reachable, as for a result.
    let keepIntermediate (t: IScoped) =
        if Forwards.Depth > 0 then
            let raw = t.Raw
            if madeHere t raw then attach t raw

    /// An array for a tensor made before its elements (a view read for the first time), filled by `fill`: from
    /// the pool when that tensor's scope is the open scope here (the tensor then holds the array, as if made with
    /// it), else from the GC. Null when the tensor's scope ended meanwhile (the tensor is released).
    let uninitFor (t: IScoped) (n: int) (fill: double[] -> unit) : double[] =
        let s = current.Value
        if isNull s || n < minPooled || s.Ended || not (obj.ReferenceEquals(t.Scope, s)) then
            let a = fromGC n
            fill a
            a
        else
            let a = uninit n
            // Filled before the tensor holds it: a scope ended meanwhile on another thread then finds a rental of
            // this thread never held, and gives it to the GC, not to the pool, where another result could take it
            // while this fill still writes it.
            fill a
            lock gate (fun () ->
                // The scope may have ended since: its leases are then settled, and this array may be pooled again.
                if s.Ended || not (obj.ReferenceEquals(t.Scope, s)) then null
                else
                    hold t a
                    a)

    /// Opens a scope nested in the current one.
    let enter () =
        let s = ScopeState(current.Value)
        current.Value <- s
        s

    /// Whether `inner` is `s` or a scope opened inside it and still open (under `gate`).
    let private within (s: ScopeState) (inner: ScopeState) =
        let mutable c = inner
        while not (isNull c) && not (obj.ReferenceEquals(c, s)) && not c.Ended do c <- c.Parent
        obj.ReferenceEquals(c, s)

    /// Moves a tensor made in `s`, or in a scope still open inside it, out of `s`: into the scope enclosing `s` if
    /// one is open, else to the GC for good. False when the tensor was made before `s` (or is already kept).
    let keep (s: ScopeState) (t: IScoped) =
        lock gate (fun () ->
            if s.Ended then
                raise (ObjectDisposedException("TensorScope", "This scope has ended; its tensors are released. Keep a tensor before the scope ends."))
            if not (isNull t.Scope) && not t.Scope.Ended && within s t.Scope then
                let p = s.Parent
                if not (isNull p) && not p.Ended then
                    t.Scope <- p
                    p.Push(Kept t)
                else
                    t.Scope <- null
                    let lease = t.Lease
                    if not (isNull lease) then
                        lease.Holders <- lease.Holders - 1
                        t.Lease <- null
                        pin lease
                true
            else false)

    /// A pass that will write into arrays tensors of the open scope hold begins; returns the scope for `endWrites`.
    let beginWrites () : ScopeState =
        let s = current.Value
        if not (isNull s) then Interlocked.Increment(&s.Writers) |> ignore
        s

    let endWrites (s: ScopeState) = if not (isNull s) then Interlocked.Decrement(&s.Writers) |> ignore

    /// Ends a scope: releases its tensors, returns the arrays no one holds any more, and makes the enclosing
    /// scope current again. Ending twice does nothing. While a pass writes into the scope's arrays (`beginWrites`,
    /// on another thread), they go to the GC instead of the pool: pooled, one could be handed to another tensor
    /// while the pass still adds into it.
    let exit (s: ScopeState) =
        lock gate (fun () ->
            if not s.Ended then
                Volatile.Write(&s.Ended, true)
                // Ended is published before Writers is read, as a writer's count is before it rents (under `gate`):
                // either the writer's rentals come from the GC, or this sees it.
                Interlocked.MemoryBarrier()
                let writing = Volatile.Read(&s.Writers) > 0
                let settle (lease: Lease) = if writing && not lease.Returned && not lease.Pinned then pin lease else tryReturn lease
                let mutable e = Interlocked.Exchange(&s.Head, null)
                while not (isNull e) do
                    let t = e
                    let next = e.Next
                    if obj.ReferenceEquals(t.Scope, s) then
                        t.Release()
                        let lease = t.Lease
                        if not (isNull lease) then
                            t.Lease <- null
                            lease.Holders <- lease.Holders - 1
                            settle lease
                    else
                        // Kept since it registered here: it belongs to another scope (or none) now, and is
                        // unlinked so that it does not hold this scope's released tensors alive.
                        e.Next <- null
                    e <- next
                let thread = Environment.CurrentManagedThreadId
                for lease in s.Rented do
                    lease.OwnerEnded <- true
                    // Rented on another thread the scope flowed to and never held: an op there may still be
                    // writing it (the scope ended under a task still running). It goes to the GC, not the pool.
                    if not lease.Held && lease.Thread <> thread && not lease.Returned && not lease.Pinned then pin lease
                    else settle lease
                s.Rented.Clear())
        if obj.ReferenceEquals(current.Value, s) then
            // Scopes ended out of order: skip enclosing scopes that have already ended.
            let mutable p = s.Parent
            while not (isNull p) && p.Ended do p <- p.Parent
            current.Value <- p

    /// f run so that a failure leaves no scope behind: if f throws, every scope it opened in this flow and left open
    /// ends (innermost first, releasing its tensors and returning its arrays) and the scope current before f is
    /// current again, then the exception goes on unchanged. Without this, a scope opened by a function that threw
    /// before ending it stayed current for good: every later result of this flow joined it (and the tasks it
    /// starts), so nothing made after was ever collected or pooled. A scope f ended itself, or one this flow left
    /// by other means, is not touched.
    let abandonOnFailure (f: unit -> 'a) : 'a =
        let saved = current.Value
        try f ()
        with _ ->
            let opened = ResizeArray<ScopeState>()
            let mutable c = current.Value
            while not (isNull c) && not (obj.ReferenceEquals(c, saved)) do
                opened.Add c
                c <- c.Parent
            if obj.ReferenceEquals(c, saved) && opened.Count > 0 then
                for s in opened do exit s
                current.Value <- saved
            reraise ()

    /// A mark for `recycleSince`: how many arrays the open scope has rented, or outside every scope the number the
    /// next large plain array this thread makes in its current op forward gets (-1 where neither applies).
    [<Struct>]
    type Mark = { Rented: int; Fresh: int64 }

    let mark () =
        let s = current.Value
        if isNull s || s.Ended then
            let fresh = Forwards.Fresh
            { Rented = -1; Fresh = (if Forwards.Depth <= 0 then -1L elif isNull fresh then 0L else fresh.Next) }
        else { Rented = lock gate (fun () -> if s.Ended then -1 else s.Rented.Count); Fresh = -1L }

    /// Gives back at once the arrays made on this thread since `m` that no tensor holds, but `result`: a
    /// contraction's temporaries (gathered operands, intermediate products), which never leave it. In a scope,
    /// its rentals no tensor holds (arrays rented on other threads the scope flows to are theirs, possibly not yet
    /// wrapped, and are left alone); outside every scope, the large plain arrays made since, which the caller
    /// vouches no tensor holds (they would otherwise wait for a collection and, being fresh, for the
    /// large-object heap's own).
    let recycleSince (m: Mark) (result: double[]) =
        if m.Rented >= 0 then
            let s = current.Value
            if not (isNull s) then
                let thread = Environment.CurrentManagedThreadId
                lock gate (fun () ->
                    if not s.Ended && m.Rented <= s.Rented.Count then
                        let mutable kept = m.Rented
                        for i in m.Rented .. s.Rented.Count - 1 do
                            let lease = s.Rented.[i]
                            if lease.Thread = thread && lease.Holders = 0 && not lease.Pinned && not lease.Returned then
                                lease.OwnerEnded <- true
                                tryReturn lease
                            else
                                s.Rented.[kept] <- lease
                                kept <- kept + 1
                        s.Rented.RemoveRange(kept, s.Rented.Count - kept))
        elif m.Fresh >= 0L then
            let fresh = Forwards.Fresh
            if not (isNull fresh) && m.Fresh < fresh.Next then
                // The result stays a candidate for the outermost result's keeper (`exitForward`).
                lock gate (fun () -> fresh.TakeSince(m.Fresh, result, pushPooled Functional.Kernels.Tuning.PoisonPooledArrays))

    /// Arrays of length n the pool holds now, counting those whose keepers collections found unreachable (for
    /// tests).
    let pooledOf (n: int) =
        lock gate (fun () ->
            reclaim ()
            match pool.TryGetValue n with
            | true, stack -> stack.Count
            | _ -> 0)

    /// Bytes currently held by the pool (for tests and diagnostics).
    let pooled () = lock gate (fun () -> pooledBytes)

    /// A kernel's scratch row of at least n elements (contents undefined) from the shared array pool, given back by
    /// `returnScratch`: long rows (a vocabulary's logits) run one row a chunk, and fresh scratch of 128 KB per row
    /// landed on the large-object heap (softmax over rows of 16,384 took 6.7 ms instead of 1).
    let rentScratch (n: int) = System.Buffers.ArrayPool<double>.Shared.Rent(max 1 n)

    let returnScratch (a: double[]) = System.Buffers.ArrayPool<double>.Shared.Return a
