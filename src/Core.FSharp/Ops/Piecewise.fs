namespace Functional.Core

open System
open System.Numerics
open System.Runtime.Intrinsics
open Functional

/// Functions with kinks, each taking the KinkConvention that fixes its derivative at the kink: the right
/// derivative, the left one, or their mean. Between kinks each is smooth and its derivative exact.
[<RequireQualifiedAccess>]
module Piecewise =

    /// The derivative at a kink from its one-sided derivatives.
    let kinkValue (convention: KinkConvention) (left: double) (right: double) =
        match convention with
        | KinkConvention.LeftDerivative -> left
        | KinkConvention.Midpoint -> (left + right) / 2.0
        | KinkConvention.RightDerivative -> right
        | c -> raise (ArgumentOutOfRangeException("convention", c, "Not a KinkConvention: RightDerivative, LeftDerivative or Midpoint."))

    /// clamp's slopes at lo and at hi: the convention's value of the one-sided slopes (0 outside, 1 inside); 0 at
    /// both when lo = hi. An infinite bound is no kink (nothing lies beyond it: clamp is x on that side), so its
    /// slope is 1, as PyTorch's.
    let clampKinks (convention: KinkConvention) (lo: double) (hi: double) =
        if lo = hi then kinkValue convention 0.0 0.0, kinkValue convention 0.0 0.0
        else
            (if Double.IsNegativeInfinity lo then 1.0 else kinkValue convention 0.0 1.0),
            (if Double.IsPositiveInfinity hi then 1.0 else kinkValue convention 1.0 0.0)

    /// |x|. d/dx = sign x, and at 0 the convention's value: 1 (right), −1 (left) or 0 (midpoint). NaN gives NaN.
    /// Its slopes are Leaky ReLU's with α = −1 (the same value at the kink under each convention), so it shares
    /// their kernels: one branch-free pass each way, the pullback reading slope bits on a tape.
    let abs (convention: KinkConvention) (x: Value) =
        Activation.leakySlopesOp "abs" [ "convention", box convention ] -1.0 convention Functional.Kernels.SlopeBits.Form.Abs x

    /// min(max(x, lo), hi). d/dx = 1 inside (lo, hi), 0 outside; at x = lo the convention picks 0 (left), 1 (right)
    /// or 1/2, at x = hi 1 (left), 0 (right) or 1/2; at an infinite bound 1 (x = ±∞ there is no kink). NaN gives NaN.
    let clamp (convention: KinkConvention) (lo: double) (hi: double) (x: Value) =
        if Double.IsNaN lo || Double.IsNaN hi || lo > hi then
            invalidArg "lo" (sprintf "clamp needs lo ≤ hi; got lo = %g, hi = %g." lo hi)
        let kinkLow, kinkHigh = clampKinks convention lo hi
        Slopes.clampOp [ "min", box lo; "max", box hi; "convention", box convention ] lo hi kinkLow kinkHigh x

    let tieSlope (isMax: bool) (convention: KinkConvention) =
        if isMax then kinkValue convention 0.0 1.0 else kinkValue convention 1.0 0.0

    /// The weight of a (first = true) or b in max(a, b) or min(a, b), over the broadcast shape: 1 where that side
    /// wins, 0 where it loses, at a tie the convention's value (the one-sided derivatives are 0 and 1), NaN where
    /// either is NaN. One pass, four lanes at a time where the shapes agree.
    let private weights (isMax: bool) (convention: KinkConvention) (first: bool) (a: Value) (b: Value) =
        let tie = tieSlope isMax convention
        let tieV, one, nanV = Vector256.Create(tie), Vector256.Create(1.0), Vector256.Create(nan)
        // Whether this side wins: x for a, y for b, larger (isMax) or smaller.
        let larger = isMax = first
        // An operation of a traced program (computed from a and b there), with no derivative.
        Op.constantResult "extremumWeights" [ "isMax", box isMax; "convention", box convention; "first", box first ] (fun ts ->
            Lanes.zip
                (fun x y ->
                    let wins = if larger then Vector256.GreaterThan(x, y) else Vector256.LessThan(x, y)
                    let numbers = Vector256.Equals(x, x) &&& Vector256.Equals(y, y)
                    Vector256.ConditionalSelect(numbers, Vector256.ConditionalSelect(Vector256.Equals(x, y), tieV, one &&& wins), nanV))
                (fun x y ->
                    if Double.IsNaN x || Double.IsNaN y then nan
                    elif x = y then tie
                    elif (if larger then x > y else x < y) then 1.0
                    else 0.0)
                ts.[0] ts.[1]) [| a; b |]

    /// max or min of two tensors, NaN if either is NaN; at equal values the bitwise and (max) or or (min), so that
    /// max(−0, +0) = +0 and min(−0, +0) = −0, as Math.Max and Math.Min give. Four lanes at a time where the shapes agree.
    let private pickTensor (isMax: bool) (a: Tensor) (b: Tensor) =
        let nanV = Vector256.Create(nan)
        Lanes.zip
            (fun x y ->
                let numbers = Vector256.Equals(x, x) &&& Vector256.Equals(y, y)
                let tied = if isMax then x &&& y else x ||| y
                let larger = if isMax then Vector256.GreaterThan(x, y) else Vector256.LessThan(x, y)
                Vector256.ConditionalSelect(numbers, Vector256.ConditionalSelect(Vector256.Equals(x, y), tied, Vector256.ConditionalSelect(larger, x, y)), nanV))
            (fun x y -> if Double.IsNaN x || Double.IsNaN y then nan elif isMax then Math.Max(x, y) else Math.Min(x, y))
            a b

    let private extremum (isMax: bool) (convention: KinkConvention) (a: Value) (b: Value) =
        // Checked here, not only at the first tie: an undefined convention would take the midpoint's share there.
        tieSlope isMax convention |> ignore
        Op.apply
            (Op.withAttributes [ "convention", box convention ] <| Op.create (if isMax then "maximum" else "minimum")
                (fun xs -> pickTensor isMax xs.[0] xs.[1])
                (fun xs _ adj i -> Arithmetic.sumTo xs.[i].Shape (Arithmetic.mul adj (weights isMax convention (i = 0) xs.[0] xs.[1])))
                (fun xs _ i t -> Arithmetic.mul t (weights isMax convention (i = 0) xs.[0] xs.[1])))
            [| a; b |]

    /// max(a, b) elementwise with broadcasting. The gradient goes to the larger; at a tie each side's derivative
    /// is the convention's: 1/2 each (midpoint, as PyTorch and JAX split it), 1 each (right) or 0 each (left).
    /// NaN in either gives NaN.
    let maximum (convention: KinkConvention) (a: Value) (b: Value) = extremum true convention a b

    /// min(a, b) elementwise with broadcasting. The gradient goes to the smaller; at a tie 1/2 each (midpoint), 0 each
    /// (right: raising one side leaves the min where it is) or 1 each (left). NaN in either gives NaN.
    let minimum (convention: KinkConvention) (a: Value) (b: Value) = extremum false convention a b

    /// ELU: x for x > 0, α·(eˣ − 1) for x ≤ 0. d/dx = 1 (x > 0), α·eˣ (x < 0), and at 0 the convention's value
    /// between α (left) and 1 (right); d²/dx² = α·eˣ below 0, 0 above, and at 0 the same convention's value between
    /// α and 0 (α with the left derivative, as PyTorch's formula for x ≤ 0 gives), as ops, so every order follows. With AVX2 and FMA
    /// `EluVector`'s lanes, fused on a tape (the derivative kept with the value, as GELU's).
    let elu (alpha: double) (convention: KinkConvention) (x: Value) =
        if Double.IsNaN alpha then invalidArg "alpha" "ELU's alpha must be a number; got NaN."
        let kink = kinkValue convention alpha 1.0
        let secondKink = kinkValue convention alpha 0.0
        FusedOp.elementwise
            { FusedOp.Fused.Name = "elu"; ScaledName = "eluScaled"; Attributes = [ "alpha", box alpha; "convention", box convention ]
              Vector = Cpu.fourLanes
              WithDerivative = ValueSome (EluVector.withDerivative alpha kink)
              Value = EluVector.value alpha
              Scalar = Tensor.mapInline (fun v -> if v > 0.0 then v elif Double.IsNaN v then v else alpha * Elementwise.expm1Scalar v)
              Kernel = EluVector.scaled alpha kink
              Derivative = (fun v -> if v > 0.0 then 1.0 elif v < 0.0 then alpha * Math.Exp v elif Double.IsNaN v then v else kink)
              // α·e^min(x, 0) below 0: e^x itself would be ∞ above 709.78, and 0·∞ NaN where the mask is 0.
              Second = (fun x ->
                Arithmetic.mul
                    (Op.constantResult "eluSecondMask" [ "alpha", box alpha; "kink", box secondKink ]
                        (fun ts -> Tensor.mapInline (fun v -> if v < 0.0 then alpha elif v = 0.0 then secondKink else 0.0) ts.[0]) [| x |])
                    (Elementwise.exp (minimum KinkConvention.Midpoint x (Value.constant (Tensor.scalar 0.0))))) }
            x

    /// outer, n, inner around consecutive axes (their lengths multiplied), or none when the axes are not consecutive.
    let private aroundRun (shape: int[]) (axes: int[]) =
        let sorted = Array.sort axes
        if sorted.Length = 0 || sorted.[sorted.Length - 1] - sorted.[0] <> sorted.Length - 1 then ValueNone
        else
            let first, last = sorted.[0], sorted.[sorted.Length - 1]
            let product (xs: int[]) = Array.fold (*) 1 xs
            ValueSome(struct (product shape.[.. first - 1], product shape.[first .. last], product shape.[last + 1 ..]))

    /// The larger (isMax) or smaller of v and best; at equal values the bitwise and (max) or or (min), as
    /// `pickTensor`, so max(−0, +0) = +0 and min(−0, +0) = −0 in either order and a reduction agrees with `maximum`
    /// and `minimum` whatever order its lanes visit the entries in. NaN is the caller's to handle.
    let inline private pickScalar (isMax: bool) (v: double) (best: double) =
        if (if isMax then v > best else v < best) then v
        elif v = best then
            let vb, bb = BitConverter.DoubleToInt64Bits v, BitConverter.DoubleToInt64Bits best
            BitConverter.Int64BitsToDouble(if isMax then vb &&& bb else vb ||| bb)
        else best

    /// The extreme over the middle of [outer, n, inner] (n ≥ 1), +0 above −0 for a max and below it for a min
    /// (`pickScalar`), NaN if any entry is NaN. Four lanes across `inner` at a time; for inner = 1 a row's lanes.
    let private extremeRun (isMax: bool) (data: double[]) (outer: int) (n: int) (inner: int) =
        let out = Storage.uninit (outer * inner)
        let inline pick (v: double) (best: double) = pickScalar isMax v best
        let inline pickV (v: Vector256<double>) (best: Vector256<double>) =
            let beyond = if isMax then Vector256.GreaterThan(v, best) else Vector256.LessThan(v, best)
            let tied = if isMax then v &&& best else v ||| best
            Vector256.ConditionalSelect(beyond, v, Vector256.ConditionalSelect(Vector256.Equals(v, best), tied, best))
        let scalarRow (o: int) (i: int) =
            let mutable best = data.[o * n * inner + i]
            let mutable isNan = Double.IsNaN best
            for k in 1 .. n - 1 do
                let v = data.[(o * n + k) * inner + i]
                if Double.IsNaN v then isNan <- true else best <- pick v best
            if isNan then nan else best
        Strided.chunkedUnits outer (n * inner) (fun o0 o1 ->
            for o in o0 .. o1 - 1 do
                if inner = 1 && n >= 8 && Vector256.IsHardwareAccelerated then
                    let row = o * n
                    let mutable best = Vector256.Create(data, row)
                    let mutable nans = Vector256.Equals(best, best)
                    let mutable k = 4
                    while k <= n - 4 do
                        let v = Vector256.Create(data, row + k)
                        nans <- nans &&& Vector256.Equals(v, v)
                        best <- pickV v best
                        k <- k + 4
                    let mutable b = best.GetElement 0
                    let mutable isNan = Vector256.ExtractMostSignificantBits(nans) <> 0xFu
                    for l in 1 .. 3 do
                        b <- pick (best.GetElement l) b
                    while k < n do
                        let v = data.[row + k]
                        if Double.IsNaN v then isNan <- true else b <- pick v b
                        k <- k + 1
                    out.[o] <- if isNan then nan else b
                elif inner >= 4 && Vector256.IsHardwareAccelerated then
                    let mutable i = 0
                    while i <= inner - 4 do
                        let mutable best = Vector256.Create(data, o * n * inner + i)
                        let mutable nans = Vector256.Equals(best, best)
                        for k in 1 .. n - 1 do
                            let v = Vector256.Create(data, (o * n + k) * inner + i)
                            nans <- nans &&& Vector256.Equals(v, v)
                            best <- pickV v best
                        Vector256.ConditionalSelect(nans, best, Vector256.Create(nan)).CopyTo(out, o * inner + i)
                        i <- i + 4
                    while i < inner do
                        out.[o * inner + i] <- scalarRow o i
                        i <- i + 1
                else
                    for i in 0 .. inner - 1 do out.[o * inner + i] <- scalarRow o i)
        out

    /// A tied extreme's share of the gradient for each of its `ties` entries (1 for a unique one). A one-sided
    /// derivative moves one entry: raising a tied entry moves a max (right derivative 1) but not a min (0), lowering
    /// it the other way round; the midpoint shares 1/ties.
    let private tieShare (isMax: bool) (convention: KinkConvention) (ties: double) =
        if ties = 1.0 then 1.0
        else
            match convention with
            | KinkConvention.RightDerivative | KinkConvention.LeftDerivative -> tieSlope isMax convention
            | _ -> 1.0 / ties

    /// Each entry's share of the gradient of the extreme e over the middle of [outer, n, inner]: `reductionWeights`
    /// for consecutive axes, in two passes (count each extreme's ties, then write the shares), four lanes at a time
    /// along a row (inner = 1) or across `inner`.
    let private weightsRun (isMax: bool) (convention: KinkConvention) (data: double[]) (e: double[]) (outer: int) (n: int) (inner: int) =
        let out = Storage.uninit data.Length
        let inline hit (v: double) (best: double) = v = best || (Double.IsNaN best && Double.IsNaN v)
        let inline hitV (v: Vector256<double>) (best: Vector256<double>) =
            Vector256.Equals(v, best) ||| Vector256.OnesComplement(Vector256.Equals(v, v) ||| Vector256.Equals(best, best))
        let share = tieShare isMax convention
        let vector = Vector256.IsHardwareAccelerated
        Strided.chunkedUnits outer (2 * n * inner) (fun o0 o1 ->
            let ties = Array.zeroCreate<double> inner
            for o in o0 .. o1 - 1 do
                if inner = 1 then
                    let row = o * n
                    let best = e.[o]
                    let bv = Vector256.Create(best)
                    let mutable count = 0
                    let mutable k = 0
                    if vector then
                        while k <= n - 4 do
                            count <- count + BitOperations.PopCount(Vector256.ExtractMostSignificantBits(hitV (Vector256.Create(data, row + k)) bv))
                            k <- k + 4
                    while k < n do
                        if hit data.[row + k] best then count <- count + 1
                        k <- k + 1
                    let w = share (float count)
                    let wv = Vector256.Create(w)
                    k <- 0
                    if vector then
                        while k <= n - 4 do
                            (wv &&& hitV (Vector256.Create(data, row + k)) bv).CopyTo(out, row + k)
                            k <- k + 4
                    while k < n do
                        out.[row + k] <- if hit data.[row + k] best then w else 0.0
                        k <- k + 1
                else
                    Array.Clear ties
                    let step = if vector then inner - inner % 4 else 0
                    for k in 0 .. n - 1 do
                        let row = (o * n + k) * inner
                        let mutable i = 0
                        while i < step do
                            let c = Vector256.Create(ties, i) + (Vector256.Create(1.0) &&& hitV (Vector256.Create(data, row + i)) (Vector256.Create(e, o * inner + i)))
                            c.CopyTo(ties, i)
                            i <- i + 4
                        while i < inner do
                            if hit data.[row + i] e.[o * inner + i] then ties.[i] <- ties.[i] + 1.0
                            i <- i + 1
                    for i in 0 .. inner - 1 do ties.[i] <- share ties.[i]
                    for k in 0 .. n - 1 do
                        let row = (o * n + k) * inner
                        let mutable i = 0
                        while i < step do
                            (Vector256.Create(ties, i) &&& hitV (Vector256.Create(data, row + i)) (Vector256.Create(e, o * inner + i))).CopyTo(out, row + i)
                            i <- i + 4
                        while i < inner do
                            out.[row + i] <- if hit data.[row + i] e.[o * inner + i] then ties.[i] else 0.0
                            i <- i + 1)
        out

    /// The largest (isMax) or smallest entry over `axes` of t, in the kept shape (axes of length 1).
    let private extremeOver (isMax: bool) (axes: int[]) (t: Tensor) =
        let shape = t.ShapeArray
        match aroundRun shape axes with
        | ValueSome (struct (outer, n, inner)) when n > 0 ->
            let kept = shape |> Array.mapi (fun i d -> if Array.contains i axes then 1 else d)
            Tensor.wrap kept (extremeRun isMax t.Data outer n inner)
        | _ ->
            let kept = shape |> Array.mapi (fun i d -> if Array.contains i axes then 1 else d)
            let rest = [| for i in 0 .. shape.Length - 1 do if not (Array.contains i axes) then yield i |]
            // The reduced axes last, so each output entry reads one contiguous run.
            let moved = Tensor.permute (Array.append rest axes) t
            let run = axes |> Array.fold (fun acc a -> acc * shape.[a]) 1
            let data = moved.Data
            Tensor.wrap kept (Array.init (Shape.numel kept) (fun o ->
                if run = 0 then (if isMax then -infinity else infinity)
                else
                    let mutable best = data.[o * run]
                    for k in 1 .. run - 1 do
                        let v = data.[o * run + k]
                        if Double.IsNaN v || Double.IsNaN best then best <- nan
                        else best <- pickScalar isMax v best
                    best))

    /// Each entry's share of the gradient of a max or min over `axes`: 1 for the unique extreme, at a tie of k
    /// entries the convention's (`tieShare`: 1/k each for the midpoint, the centre of the subgradients; for a max 1
    /// each for the right derivative and 0 for the left, for a min the other way round), 0 elsewhere.
    let private reductionWeights (isMax: bool) (convention: KinkConvention) (axes: int[]) (x: Tensor) (kept: Tensor) =
        match aroundRun x.ShapeArray axes with
        | ValueSome (struct (outer, n, inner)) when n > 0 ->
            let weights = weightsRun isMax convention x.Data kept.Data outer n inner
            // Read as raw arrays outside an op's forward: held here, not only by the callers, until the kernel is done.
            GC.KeepAlive x
            GC.KeepAlive kept
            Tensor.wrap x.ShapeArray weights
        | _ ->
        let extreme = Tensor.broadcastTo x.ShapeArray kept
        let hit = Tensor.map2 (fun v e -> if v = e || (Double.IsNaN e && Double.IsNaN v) then 1.0 else 0.0) x extreme
        let ties = Tensor.broadcastTo x.ShapeArray (Tensor.sumAxes axes true hit)
        Tensor.map2 (fun h k -> if h = 0.0 then 0.0 else tieShare isMax convention k) hit ties

    let private extremeAxes (isMax: bool) (convention: KinkConvention) (axes: int[]) (keepDims: bool) (x: Value) =
        tieSlope isMax convention |> ignore
        let src = x.Shape
        let axes = Shape.normaliseAxes src.Length axes
        let kept = src |> Array.mapi (fun i d -> if Array.contains i axes then 1 else d)
        let outShape = if keepDims then kept else [| for i in 0 .. src.Length - 1 do if not (Array.contains i axes) then yield src.[i] |]
        for a in axes do
            if src.[a] = 0 then raise (ShapeException(sprintf "%s over axis %d: the axis is empty, so there is no %s." (if isMax then "max" else "min") a (if isMax then "largest entry" else "smallest entry"), "axes"))
        let weights (xs: Value[]) (out: Value) =
            Op.constantResult "extremaWeights" [ "isMax", box isMax; "convention", box convention; "axes", box axes ]
                (fun ts -> reductionWeights isMax convention axes ts.[0] (Tensor.reshape kept ts.[1])) [| xs.[0]; out |]
        Op.apply
            (Op.withAttributes [ "axes", box axes; "keepDims", box keepDims; "convention", box convention ] <| Op.create (if isMax then "maxAxes" else "minAxes")
                (fun ts -> Tensor.reshape outShape (extremeOver isMax axes ts.[0]))
                (fun xs out adj _ -> Arithmetic.mul (weights xs out) (Arithmetic.broadcastTo src (Layout.reshape kept adj)))
                (fun xs out _ t -> Reduction.sumAxes axes keepDims (Arithmetic.mul t (weights xs out))))
            [| x |]

    /// The largest entry over `axes` (keeping them with length 1 when keepDims). The gradient goes to the largest;
    /// at a tie of k entries each gets the convention's share: 1/k (midpoint, as PyTorch's amax and JAX), 1 (right)
    /// or 0 (left). +0 is larger than −0 (as `maximum`), whatever their order. NaN anywhere in a run gives NaN. An
    /// empty axis is refused.
    let maxAxes (convention: KinkConvention) (axes: int[]) (keepDims: bool) (x: Value) = extremeAxes true convention axes keepDims x

    /// The smallest entry over `axes`; at a tie of k entries each gets 1/k (midpoint), 0 (right: raising one tied entry
    /// leaves the min where it is) or 1 (left). −0 is smaller than +0 (as `minimum`), whatever their order. NaN
    /// anywhere in a run gives NaN. An empty axis is refused.
    let minAxes (convention: KinkConvention) (axes: int[]) (keepDims: bool) (x: Value) = extremeAxes false convention axes keepDims x

