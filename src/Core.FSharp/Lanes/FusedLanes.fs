namespace Functional.Core

#nowarn "9" // pointers into pinned arrays inside the loops only

open System.Runtime.Intrinsics
open Microsoft.FSharp.NativeInterop

/// Drivers for activations whose value and derivative come from one formula on lanes (ELU, SiLU, softplus): one
/// pass over x gives the value, the value and the derivative, or an adjoint times the derivative. Eight lanes at a
/// time where `Cpu.wide ()`, then four, the tail padded through the same lanes, so every element gets the same
/// operations wherever it sits; elements the formula cannot do (its mask) are redone by a scalar formula.
module internal FusedLanes =

    /// Runs `step8` over src[lo..hi) eight lanes at a time where `wide ()`, then `step` four at a time, the tail
    /// padded with zeros through the same lanes; `step i count x` stores the first `count` lanes of its results at
    /// i. Each step returns a mask of lanes its formula cannot do; whether any was met.
    let inline internal lanePass (src: nativeptr<float>) (lo: int) (hi: int) ([<InlineIfLambda>] step8: int -> Vector512<double> -> uint32) ([<InlineIfLambda>] step: int -> int -> Vector256<double> -> uint32) =
        let mutable i = lo
        let mutable bad = 0u
        if Cpu.wide () then
            while i <= hi - 8 do
                bad <- bad ||| step8 i (Vector512.Load(NativePtr.add src i))
                i <- i + 8
        while i <= hi - 4 do
            bad <- bad ||| step i 4 (Vector256.Load(NativePtr.add src i))
            i <- i + 4
        if i < hi then
            let count = hi - i
            let inline at j = if j < count then NativePtr.get src (i + j) else 0.0
            bad <- bad ||| step i count (Vector256.Create(at 0, at 1, at 2, at 3))
        bad <> 0u

    /// The first `count` lanes of v at dst + i.
    let inline internal storeLanes (v: Vector256<double>) (dst: nativeptr<float>) (i: int) (count: int) =
        if count = 4 then Vector256.Store(v, NativePtr.add dst i)
        else for j in 0 .. count - 1 do NativePtr.set dst (i + j) (v.GetElement j)

    /// `f8`/`f4` (value, derivative, mask of lanes they cannot do) over src[lo..hi), each lane's results to
    /// `store8 i`/`store4 i count`; then the elements `outside` picks through `scalar` to `redo i`, if a mask met any.
    let inline private pass (src: double[]) (lo: int) (hi: int)
                            ([<InlineIfLambda>] f8: Vector512<double> -> struct (Vector512<double> * Vector512<double> * uint32))
                            ([<InlineIfLambda>] f4: Vector256<double> -> struct (Vector256<double> * Vector256<double> * uint32))
                            ([<InlineIfLambda>] store8: int -> Vector512<double> -> Vector512<double> -> unit)
                            ([<InlineIfLambda>] store4: int -> int -> Vector256<double> -> Vector256<double> -> unit)
                            ([<InlineIfLambda>] outside: double -> bool) (scalar: double -> struct (double * double))
                            ([<InlineIfLambda>] redo: int -> double -> double -> unit) =
        use px = fixed src
        if lanePass px lo hi
            (fun i x -> let struct (v, d, bad) = f8 x in store8 i v d; bad)
            (fun i count x -> let struct (v, d, bad) = f4 x in store4 i count v d; bad) then
            for i in lo .. hi - 1 do
                let x = src.[i]
                if outside x then
                    let struct (v, d) = scalar x
                    redo i v d

    /// f and f' of every element, in one pass (over the cores for large arrays).
    let inline internal both ([<InlineIfLambda>] f8) ([<InlineIfLambda>] f4) ([<InlineIfLambda>] outside) (scalar: double -> struct (double * double)) (src: double[]) =
        let values = Strided.fresh src.Length
        let derivs = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (fun lo hi ->
            use pv = fixed values
            use pd = fixed derivs
            pass src lo hi f8 f4
                (fun i v d -> Vector512.Store(v, NativePtr.add pv i); Vector512.Store(d, NativePtr.add pd i))
                (fun i count v d -> storeLanes v pv i count; storeLanes d pd i count)
                outside scalar (fun i v d -> values.[i] <- v; derivs.[i] <- d))
        struct (values, derivs)

    /// f of every element.
    let inline internal value ([<InlineIfLambda>] f8) ([<InlineIfLambda>] f4) ([<InlineIfLambda>] outside) (scalar: double -> struct (double * double)) (src: double[]) =
        let values = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (fun lo hi ->
            use pv = fixed values
            pass src lo hi f8 f4
                (fun i v _ -> Vector512.Store(v, NativePtr.add pv i))
                (fun i count v _ -> storeLanes v pv i count)
                outside scalar (fun i v _ -> values.[i] <- v))
        values

    /// g·f'(x) elementwise for same-length arrays: f's VJP and JVP.
    let inline internal scaled ([<InlineIfLambda>] f8) ([<InlineIfLambda>] f4) ([<InlineIfLambda>] outside) (scalar: double -> struct (double * double)) (src: double[]) (g: double[]) =
        let result = Strided.fresh src.Length
        Strided.chunkedCostly src.Length (fun lo hi ->
            use pg = fixed g
            use pr = fixed result
            pass src lo hi f8 f4
                (fun i _ d -> Vector512.Store(Vector512.Load(NativePtr.add pg i) * d, NativePtr.add pr i))
                (fun i count _ d ->
                    let inline at j = if j < count then NativePtr.get pg (i + j) else 0.0
                    let gv = if count = 4 then Vector256.Load(NativePtr.add pg i) else Vector256.Create(at 0, at 1, at 2, at 3)
                    storeLanes (gv * d) pr i count)
                outside scalar (fun i _ d -> result.[i] <- g.[i] * d))
        result
