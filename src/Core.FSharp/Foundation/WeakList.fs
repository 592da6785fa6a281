namespace Functional.Core

open System
open System.Collections.Generic

/// Objects held weakly, in the order added, each with its number in that order; dead entries are dropped as the
/// list grows, so scans stay proportional to what is still reachable.
[<Sealed; AllowNullLiteral>]
type internal WeakList<'T when 'T: not struct>() =
    let entries = List<struct (int64 * Runtime.InteropServices.GCHandle)>(4)
    let mutable next = 0L
    let mutable compactAt = 16

    /// The number the next object added gets (a mark: `TakeSince` takes the objects added from it on).
    member _.Next = next

    member _.Count = entries.Count

    member _.Add(o: 'T) =
        if entries.Count >= compactAt then
            let mutable kept = 0
            for i in 0 .. entries.Count - 1 do
                let struct (_, h) as e = entries.[i]
                if isNull h.Target then h.Free()
                else
                    entries.[kept] <- e
                    kept <- kept + 1
            entries.RemoveRange(kept, entries.Count - kept)
            compactAt <- max 16 (2 * kept)
        entries.Add(struct (next, Runtime.InteropServices.GCHandle.Alloc(o, Runtime.InteropServices.GCHandleType.Weak)))
        next <- next + 1L

    member _.Contains(o: 'T) =
        let mutable found = false
        let mutable i = entries.Count - 1
        while not found && i >= 0 do
            let struct (_, h) = entries.[i]
            if obj.ReferenceEquals(h.Target, o) then found <- true
            i <- i - 1
        found

    /// Calls `f` on each object still reachable.
    member _.Iterate(f: 'T -> unit) =
        for struct (_, h) in entries do
            match h.Target with
            | null -> ()
            | o -> f (o :?> 'T)

    /// Takes out the objects added from `mark` on, but `keep`, and gives each still reachable to `give` (after the
    /// list is settled, so a `give` that throws leaves no freed handle in it).
    member _.TakeSince(mark: int64, keep: 'T, give: 'T -> unit) =
        let taken = List<'T>()
        let mutable kept = 0
        for i in 0 .. entries.Count - 1 do
            let struct (n, h) as e = entries.[i]
            let o = h.Target
            if n < mark || (not (isNull o) && obj.ReferenceEquals(o, keep)) then
                entries.[kept] <- e
                kept <- kept + 1
            else
                h.Free()
                if not (isNull o) then taken.Add(o :?> 'T)
        entries.RemoveRange(kept, entries.Count - kept)
        for o in taken do give o

    member _.Clear() =
        for struct (_, h) in entries do h.Free()
        entries.Clear()
        compactAt <- 16
