namespace Functional.Core

open System

/// Softmax and log-softmax along an axis, shifted by the maximum so nothing overflows.
[<RequireQualifiedAccess>]
module Softmax =

    /// Max along `axis`, kept as size 1; infinite maxima become 0 so the shift never makes NaN itself.
    let private maxKeep (axis: int) (t: Tensor) =
        let shape = t.ShapeArray
        let kept = Array.init t.Rank id |> Array.filter ((<>) axis)
        let moved = Tensor.permute (Array.append kept [| axis |]) t
        let n = shape.[axis]
        let outer = Shape.numel (kept |> Array.map (fun a -> shape.[a]))
        let data = moved.Data
        let res =
            Array.init outer (fun i ->
                let mutable mx = Double.NegativeInfinity
                for j in 0 .. n - 1 do
                    let v = data.[i * n + j]
                    if v > mx then mx <- v
                if Double.IsInfinity mx then 0.0 else mx)
        // A size-1 axis in place keeps the row-major order of the other axes.
        Tensor.wrap (shape |> Array.mapi (fun i d -> if i = axis then 1 else d)) res

    /// Log-softmax as separate passes: (x − m) − ln(c + Σ'), c the count of maxima along the axis and Σ' the sum of
    /// the other e^(x − m), refined for the rounding of x − m (`SoftmaxVector.lnCountPlus`). The shift m is never added back: m + ln Σ would round
    /// ln Σ away once m is large (at m = 1e16 the result was −2 instead of −1.386).
    let private logSoftmaxPasses (axis: int) (t: Tensor) =
        let m = maxKeep axis t
        let shifted = Tensor.sub t m
        let e = Elementwise.expTensor shifted
        // e^(x − m)·(1 + lo) for x − m = shifted + lo exactly (TwoSum), as SoftmaxVector.refined computes it.
        let bb = Tensor.sub shifted t
        let lo = Tensor.add (Tensor.sub t (Tensor.sub shifted bb)) (Tensor.sub (Tensor.neg m) bb)
        let corr = Tensor.mul e lo
        let refined = Tensor.map2 (fun e c -> if c = c then e + c else e) e corr
        let others = Tensor.map2 (fun s v -> if s = 0.0 then 0.0 else v) shifted refined
        let counts = Tensor.sumAxes [| axis |] true (Tensor.map (fun s -> if s = 0.0 then 1.0 else 0.0) shifted)
        Tensor.sub shifted (Tensor.map2 SoftmaxVector.lnCountPlus counts (Tensor.sumAxes [| axis |] true others))


    let private normAxis (x: Value) (axis: int) = (Shape.normaliseAxesAs "axis" x.Tensor.Rank [| axis |]).[0]

    /// The tensor as outer × mid × inner around `axis`. With inner = 1 the axis runs along contiguous rows of mid
    /// (the fused row passes); otherwise the middle-axis passes reduce across inner, lane by lane.
    let private around (axis: int) (shape: int[]) =
        struct (Shape.numel shape.[.. axis - 1], shape.[axis], Shape.numel shape.[axis + 1 ..])

    /// Whether an op's passes are fused (vector lanes here and the switch on).
    let private fused () = Cpu.lanes && Functional.Kernels.Tuning.FusedSoftmax

    /// Whether a VJP op of an output y and an adjoint g runs fused: same shapes and an adjoint that is made (a
    /// uniform one, a sum's, stays unmade on the separate passes).
    let private fusedPair (y: Tensor) (g: Tensor) =
        fused () && Shape.same y.ShapeArray g.ShapeArray && not g.IsUniform

    /// Log-softmax's VJP as one op, z = g − e^y·Σg from its output y and an adjoint g, so that along the last axis
    /// it is one pass per row (`SoftmaxVector.logSoftmaxVjpRows`, bit-identical to the separate passes, tested)
    /// and still differentiable: VJP ȳ = −u·e^y·Σg, ḡ = u − Σ(u·e^y); JVP dg − e^y·(dy·Σg + Σdg).
    let rec internal logSoftmaxVjp (axis: int) (y: Value) (g: Value) : Value =
        let sumKeep v = Reduction.sumAxes [| axis |] true v
        Op.apply
            (Op.withAttributes [ "axis", box axis ] <| Op.create "logSoftmaxVjp"
                (fun xs ->
                    let y = xs.[0]
                    let g = xs.[1]
                    if fusedPair y g then
                        let struct (outer, mid, inner) = around axis y.ShapeArray
                        Tensor.wrap y.ShapeArray (if inner = 1 then SoftmaxVector.logSoftmaxVjpRows y.Data g.Data mid else SoftmaxMiddleVector.logSoftmaxVjpMiddle y.Data g.Data outer mid inner)
                    else
                        Tensor.sub g (Tensor.mul (Elementwise.expTensor y) (Tensor.sumAxes [| axis |] true g)))
                (fun xs _ u i ->
                    let y, g = xs.[0], xs.[1]
                    let p = Elementwise.exp y
                    if i = 0 then Arithmetic.neg (Arithmetic.mul (Arithmetic.mul u p) (sumKeep g))
                    else Arithmetic.sub u (sumKeep (Arithmetic.mul u p)))
                (fun xs _ i t ->
                    let y, g = xs.[0], xs.[1]
                    if i = 0 then Arithmetic.neg (Arithmetic.mul (Arithmetic.mul t (Elementwise.exp y)) (sumKeep g))
                    else logSoftmaxVjp axis y t))
            [| y; g |]

    /// log softmax(x) = (x − m) − ln Σe^(x − m) along `axis`, m the maximum (exact to a few ulp at any magnitude). VJP: adj − softmax·Σadj.
    /// JVP: t − Σ(softmax·t).
    let logSoftmax (axis: int) (x: Value) : Value =
        let axis = normAxis x axis
        // No elements: the result is x's empty shape, and the passes' row counts (products of the other axes, which
        // may exceed an array's size) are never formed.
        if x.Tensor.Numel = 0 then x else
        Op.apply
            (Op.withAttributes [ "axis", box axis ] <| Op.create "logSoftmax"
                (fun xs ->
                    let x = xs.[0]
                    // The same operations fused per row or per block across a middle axis (bit-identical, tested).
                    if fused () then
                        let struct (outer, mid, inner) = around axis x.ShapeArray
                        Tensor.wrap x.ShapeArray (if inner = 1 then SoftmaxVector.logSoftmaxRows x.Data mid else SoftmaxMiddleVector.logSoftmaxMiddle x.Data outer mid inner)
                    else logSoftmaxPasses axis x)
                (fun _ out adj _ -> logSoftmaxVjp axis out adj)
                (fun _ out _ t ->
                    let p = Elementwise.exp out
                    Arithmetic.sub t (Reduction.sumAxes [| axis |] true (Arithmetic.mul p t))))
            [| x |]

    /// Softmax's VJP as one op, z = y·(g − Σ(g·y)) from its output y and an adjoint g, so that along the last
    /// axis it is one pass per row (`Reductions.softmaxVjpRows`, bit-identical to the four separate passes, tested) and
    /// still differentiable: VJP ȳ = u·(g − Σ(g·y)) − g·Σ(u·y), ḡ = y·(u − Σ(u·y)) (this op again);
    /// JVP dy·(g − Σ(g·y)) − y·Σ(g·dy) + y·(dg − Σ(dg·y)).
    let rec internal softmaxVjp (axis: int) (y: Value) (g: Value) : Value =
        let sumKeep v = Reduction.sumAxes [| axis |] true v
        Op.apply
            (Op.withAttributes [ "axis", box axis ] <| Op.create "softmaxVjp"
                (fun xs ->
                    let y = xs.[0]
                    let g = xs.[1]
                    let struct (outer, mid, inner) = around axis y.ShapeArray
                    // Rows run in C# wherever the switch is on (scalar loops without vectors).
                    if inner = 1 && Functional.Kernels.Tuning.FusedSoftmax && Shape.same y.ShapeArray g.ShapeArray && not g.IsUniform then
                        let z = Strided.fresh y.Numel
                        Reductions.softmaxVjpRows y.Data g.Data z (if mid = 0 then 0 else y.Numel / mid) mid
                        Tensor.wrap y.ShapeArray z
                    elif inner > 1 && fusedPair y g then Tensor.wrap y.ShapeArray (SoftmaxMiddleVector.softmaxVjpMiddle y.Data g.Data outer mid inner)
                    else
                        let s = Tensor.sumAxes [| axis |] true (Tensor.mul g y)
                        Tensor.mul y (Tensor.sub g s))
                (fun xs _ u i ->
                    let y, g = xs.[0], xs.[1]
                    if i = 0 then Arithmetic.sub (Arithmetic.mul u (Arithmetic.sub g (sumKeep (Arithmetic.mul g y)))) (Arithmetic.mul g (sumKeep (Arithmetic.mul u y)))
                    else softmaxVjp axis y u)
                (fun xs _ i t ->
                    let y, g = xs.[0], xs.[1]
                    if i = 0 then Arithmetic.sub (Arithmetic.mul t (Arithmetic.sub g (sumKeep (Arithmetic.mul g y)))) (Arithmetic.mul y (sumKeep (Arithmetic.mul g t)))
                    else softmaxVjp axis y t))
            [| y; g |]

    /// softmax(x) along `axis` = e/Σe with e = e^(x − max). VJP: y·(adj − Σ(adj·y)). JVP: y·(t − Σ(y·t)).
    let softmax (axis: int) (x: Value) : Value =
        let axis = normAxis x axis
        // As logSoftmax: nothing to compute, and no row counts formed.
        if x.Tensor.Numel = 0 then x else
        Op.apply
            (Op.withAttributes [ "axis", box axis ] <| Op.create "softmax"
                (fun xs ->
                    let x = xs.[0]
                    // The same operations fused per row or per block across a middle axis (bit-identical, tested).
                    if fused () then
                        let struct (outer, mid, inner) = around axis x.ShapeArray
                        Tensor.wrap x.ShapeArray (if inner = 1 then SoftmaxVector.softmaxRows x.Data mid else SoftmaxMiddleVector.softmaxMiddle x.Data outer mid inner)
                    else
                        // e / Σe: one exponential per element, and more accurate than e^(x − logΣe), whose rounded
                        // logΣe is magnified by the exponential.
                        let e = Elementwise.expTensor (Tensor.sub x (maxKeep axis x))
                        Tensor.div e (Tensor.sumAxes [| axis |] true e))
                (fun _ out adj _ -> softmaxVjp axis out adj)
                (fun _ out _ t -> softmaxVjp axis out t))
            [| x |]

    /// Each row's shift and log term from `labelledLogSoftmax`'s forward, by its input, for the pullback (which finds
    /// them again when they are not here).
    let private rowTerms = System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, double[] * double[]>()

    /// x's rows and columns and the labels checked against them.
    let private labelled (name: string) (labels: int[]) (x: Value) =
        if isNull labels then nullArg "labels"
        if x.Shape.Length <> 2 then
            raise (Functional.ShapeException(sprintf "%s: x must be a matrix [N, C]; it has shape %s." name (Shape.show x.Shape), "x"))
        let rows, n = x.Shape.[0], x.Shape.[1]
        if labels.Length <> rows then
            raise (Functional.ShapeException(sprintf "%s: %d labels for %d rows." name labels.Length rows, "labels"))
        for r in 0 .. rows - 1 do
            if labels.[r] < 0 || labels.[r] >= n then
                raise (ArgumentOutOfRangeException("labels", labels.[r].ToString(Globalization.CultureInfo.InvariantCulture), sprintf "%s: label %d is %d; labels must lie in 0 .. %d." name r labels.[r] (n - 1)))
        rows, n

    /// The labelled entries of u (N×C), one per row, as a vector.
    let private pick (labels: int[]) (u: Value) =
        let rows = u.Shape.[0]
        Layout.reshape [| rows |] (Indexing.gather 1 labels [| rows; 1 |] u)

    /// Σ_j u·(onehot − softmax(x)) along each row: the labelled entry of u less its mean under softmax(x) (the
    /// forward's tangent, and the VJP op's adjoint through a).
    let private labelledLessExpected (labels: int[]) (x: Value) (u: Value) =
        Arithmetic.sub (pick labels u) (Reduction.sumAxes [| 1 |] false (Arithmetic.mul (softmax 1 x) u))

    let rec internal labelledLogSoftmaxVjp (labels: int[]) (x: Value) (a: Value) : Value =
        let rows, n = labelled "labelledLogSoftmaxVjp" labels x
        // z = a·(onehot − p) row by row: through x −a·J·v (J the softmax's Jacobian, symmetric: `softmaxVjp`), through
        // a the labelled entry of v less Σ p·v (for an adjoint), this op again (for a tangent).
        let throughX (xs: Value[]) (v: Value) =
            Arithmetic.neg (Arithmetic.mul (Layout.reshape [| rows; 1 |] xs.[1]) (softmaxVjp 1 (softmax 1 xs.[0]) v))
        Op.apply
            (Op.withAttributes [ "labels", box labels ] <| Op.create "labelledLogSoftmaxVjp"
                (fun (xs: Tensor[]) ->
                    let x, a = xs.[0], xs.[1]
                    if fused () && rows > 0 && n > 0 then
                        let m, l =
                            match rowTerms.TryGetValue x with
                            | true, terms -> terms
                            | _ -> let struct (_, m, l) = SoftmaxVector.labelledLogSoftmaxRows x.Data n labels in (m, l)
                        let z = SoftmaxVector.labelledLogSoftmaxVjpRows x.Data n labels m l (if a.IsUniform then null else a.Data) (if a.IsUniform then a.Fill else 0.0)
                        GC.KeepAlive xs
                        Tensor.wrap x.ShapeArray z
                    else
                        // The ops it fuses: log-softmax's VJP of the adjoint scattered into zeros.
                        let scattered = Indexing.scatterAdd 1 labels [| rows; n |] (Layout.reshape [| rows; 1 |] (Value.constant a))
                        (logSoftmaxVjp 1 (logSoftmax 1 (Value.constant x)) scattered).Tensor)
                (fun xs _ u i -> if i = 0 then throughX xs u else labelledLessExpected labels xs.[0] u)
                (fun xs _ i t -> if i = 0 then throughX xs t else labelledLogSoftmaxVjp labels xs.[0] t))
            [| x; a |]

    let internal labelledLogSoftmax (labels: int[]) (x: Value) : Value =
        if isNull labels then nullArg "labels"
        // Checked on the op's own copy: the caller's array may change after the check (another thread).
        let labels = Array.copy labels
        let rows, n = labelled "labelledLogSoftmax" labels x
        Op.apply
            (Op.withAttributes [ "labels", box labels ] <| Op.create "labelledLogSoftmax"
                (fun (xs: Tensor[]) ->
                    let x = xs.[0]
                    if fused () && rows > 0 && n > 0 then
                        let struct (picked, m, l) = SoftmaxVector.labelledLogSoftmaxRows x.Data n labels
                        rowTerms.AddOrUpdate(x, (m, l))
                        GC.KeepAlive xs
                        Tensor.wrap [| rows |] picked
                    else (pick labels (logSoftmax 1 (Value.constant x))).Tensor)
                (fun xs _ adj _ -> labelledLogSoftmaxVjp labels xs.[0] adj)
                (fun xs _ _ t -> labelledLessExpected labels xs.[0] t))
            [| x |]
