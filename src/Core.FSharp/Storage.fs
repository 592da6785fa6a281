namespace Functional.Core

open System
open System.Collections.Generic
open System.Threading

/// What a scope needs of a tensor: to drop its elements when the scope ends.
type internal IScoped =
    abstract Release: unit -> unit

/// One array handed out by the pool while a scope was open: who rented it, how many scoped tensors hold it,
/// and whether it may go back. An array held by a tensor outside every scope is pinned: the GC owns it.
[<Sealed; AllowNullLiteral>]
type internal Lease(array: double[]) =
    member _.Array = array
    member val Holders = 0 with get, set
    member val OwnerEnded = false with get, set
    member val Pinned = false with get, set
    member val Returned = false with get, set

/// The bookkeeping of one open scope: the tensors made in it (with the lease each holds, or null) and the
/// arrays rented in it.
[<Sealed; AllowNullLiteral>]
type internal ScopeState(parent: ScopeState) =
    member _.Parent = parent
    member val Tensors = Dictionary<IScoped, Lease>(HashIdentity.Reference)
    member val Rented = List<Lease>()
    member val Ended = false with get, set

/// Memory for results made inside a scope. Without an open scope every array is a plain GC array. With one,
/// arrays of at least `minPooled` elements come from a pool, and when the scope ends every tensor made in it
/// (not kept) is released and its array goes back to the pool, so a loop of same-shaped work reuses warm
/// memory instead of faulting in fresh pages for every result. An array returns only when its scope has
/// ended and no tensor still holds it: a tensor made outside every scope over a rented array (on a thread
/// the scope does not flow to) pins it for good.
module internal Storage =

    let private gate = obj ()
    /// The innermost open scope of this execution context (it flows into tasks and Parallel loops).
    let current = AsyncLocal<ScopeState>()
    let private leases = Dictionary<double[], Lease>(HashIdentity.Reference)
    let private pool = Dictionary<int, Stack<double[]>>()
    let mutable private pooledBytes = 0L
    /// Rented arrays not yet returned or pinned; read without the lock as a cheap "anything to look up?".
    let mutable private outstanding = 0

    /// Arrays below this many elements come from the GC even in a scope (a gen-0 allocation is cheaper there).
    let minPooled = 512

    /// The pool keeps at most this many bytes of returned arrays; the rest go to the GC.
    let poolLimitBytes = 512L <<< 20

    /// Tests set this so that a returned array is filled with NaN: a kernel that reads an output before
    /// writing it then shows up as a wrong answer.
    let mutable poisonReturned = false

    /// Arrays handed out again from the pool (diagnostics and tests).
    let mutable reuses = 0L

    /// An array a kernel fills completely (its contents are unspecified).
    let uninit (n: int) : double[] =
        let s = current.Value
        if isNull s || n < minPooled || s.Ended then GC.AllocateUninitializedArray<double> n
        else
            let mutable a: double[] = null
            lock gate (fun () ->
                match pool.TryGetValue n with
                | true, stack when stack.Count > 0 ->
                    a <- stack.Pop()
                    pooledBytes <- pooledBytes - 8L * int64 n
                    reuses <- reuses + 1L
                | _ -> ())
            // A fresh array is made outside the lock: it may be large.
            if isNull a then a <- GC.AllocateUninitializedArray<double> n
            lock gate (fun () ->
                let lease = Lease(a)
                leases.Add(a, lease)
                s.Rented.Add lease
                outstanding <- leases.Count)
            a

    let private pin (lease: Lease) =
        lease.Pinned <- true
        leases.Remove lease.Array |> ignore
        outstanding <- leases.Count

    let private tryReturn (lease: Lease) =
        if lease.OwnerEnded && lease.Holders = 0 && not lease.Pinned && not lease.Returned then
            lease.Returned <- true
            leases.Remove lease.Array |> ignore
            outstanding <- leases.Count
            let bytes = 8L * int64 lease.Array.Length
            if pooledBytes + bytes <= poolLimitBytes then
                if poisonReturned then Array.Fill(lease.Array, nan)
                match pool.TryGetValue lease.Array.Length with
                | true, stack -> stack.Push lease.Array
                | _ ->
                    let stack = Stack<double[]>()
                    stack.Push lease.Array
                    pool.[lease.Array.Length] <- stack
                pooledBytes <- pooledBytes + bytes

    /// Called by every new tensor: registers it with the open scope, and counts it as a holder of its array
    /// when that array is rented.
    let adopt (t: IScoped) (data: double[]) =
        let s = current.Value
        if not (isNull s) || outstanding > 0 then
            lock gate (fun () ->
                let lease =
                    if isNull data then null
                    else
                        match leases.TryGetValue data with
                        | true, l -> l
                        | _ -> null
                if isNull s || s.Ended then
                    if not (isNull lease) then pin lease
                else
                    s.Tensors.[t] <- lease
                    if not (isNull lease) then lease.Holders <- lease.Holders + 1)

    /// Opens a scope nested in the current one.
    let enter () =
        let s = ScopeState(current.Value)
        current.Value <- s
        s

    /// Moves a tensor made in `s` out of it: into the enclosing scope if one is open, else to the GC for good.
    /// False when the tensor was not made in `s` (made before it, or already kept).
    let keep (s: ScopeState) (t: IScoped) =
        lock gate (fun () ->
            if s.Ended then
                raise (ObjectDisposedException("TensorScope", "This scope has ended; its tensors are released. Keep a tensor before the scope ends."))
            match s.Tensors.TryGetValue t with
            | true, lease ->
                s.Tensors.Remove t |> ignore
                let p = s.Parent
                if not (isNull p) && not p.Ended then p.Tensors.[t] <- lease
                elif not (isNull lease) then
                    lease.Holders <- lease.Holders - 1
                    pin lease
                true
            | _ -> false)

    /// Ends a scope: releases its tensors, returns the arrays no one holds any more, and makes the enclosing
    /// scope current again. Ending twice does nothing.
    let exit (s: ScopeState) =
        lock gate (fun () ->
            if not s.Ended then
                s.Ended <- true
                for KeyValue (t, lease) in s.Tensors do
                    t.Release()
                    if not (isNull lease) then
                        lease.Holders <- lease.Holders - 1
                        tryReturn lease
                s.Tensors.Clear()
                for lease in s.Rented do
                    lease.OwnerEnded <- true
                    tryReturn lease
                s.Rented.Clear())
        if obj.ReferenceEquals(current.Value, s) then current.Value <- s.Parent

    /// Bytes currently held by the pool (for tests and diagnostics).
    let pooled () = lock gate (fun () -> pooledBytes)
