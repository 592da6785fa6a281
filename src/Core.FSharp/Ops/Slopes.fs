namespace Functional.Core

/// The derivative assigned where a function has a kink (Leaky ReLU and ELU at 0, |x| at 0, clamp at its bounds, a
/// tie in maximum or minimum): the right derivative, the left one, or their mean.
type KinkConvention =
    /// The right derivative (Leaky ReLU: 1, the original derivation notes' and JAX's choice; |x|: 1, JAX's).
    | RightDerivative = 0
    /// The left derivative (Leaky ReLU and ELU: α, TorchSharp's choice; |x|: −1).
    | LeftDerivative = 1
    /// The mean of both sides (Leaky ReLU: (1 + α)/2, DiffSharp's; |x|: 0 and a tie: ½ each, TorchSharp's).
    | Midpoint = 2

/// Ops whose slopes are constant between kinks (SlopeBits' family: ReLU, Leaky ReLU, |x|, clamp), and clamp, which
/// the second derivatives of the elementwise functions and activations use to keep ∞·0 out of their limits at ±∞.
[<RequireQualifiedAccess>]
module internal Slopes =

    /// Tensors from this many elements keep their slopes as bits on a reverse-mode tape (`SlopeBits`); below it
    /// the pullback reads x, and the code would cost more to make than it saves.
    let private slopeBitsFrom = 4096

    /// g·slope(x) as one op for an op of SlopeBits' family (slopes constant between kinks: ∂/∂x = 0, ∂/∂g = the
    /// slope). `saved` may hold the slope bits of one tensor, made by its forward: for that tensor the slopes come
    /// from them instead of from x (the same bits, a third less memory read); elsewhere `fromX x g`.
    let piecewiseScaled (name: string) (attributes: (string * obj) list) (slopes: Functional.Kernels.SlopeBits.Slopes)
                        (fromX: Tensor -> Tensor -> Tensor) (saved: struct (Tensor * Tensor) voption) (x: Value) (g: Value) : Value =
        Op.scaledWith name attributes
            (fun x g ->
                match saved with
                | ValueSome (struct (source, code)) when obj.ReferenceEquals(source, x) && (g.IsUniform || Shape.same x.ShapeArray g.ShapeArray) ->
                    let xs = x.Data
                    let n = xs.Length
                    let gs = if g.IsUniform then null else g.Data
                    let dst = Strided.fresh n
                    let streaming = Strided.streams n
                    let bits = code.Data
                    Strided.chunkedStreaming streaming n (fun lo hi ->
                        Functional.Kernels.SlopeBits.Backward(bits, xs, gs, g.Fill, dst, slopes, lo, hi, streaming))
                    x.CheckLive()
                    g.CheckLive()
                    code.CheckLive()
                    Tensor.wrap x.ShapeArray dst
                | _ -> fromX x g)
            (fun x _ _ -> Value.constant (Tensor.zeros x.Shape))
            x g

    /// An op of SlopeBits' family (its value and slopes in `slopes`) as an elementwise op whose forward, on a
    /// reverse-mode tape and from `slopeBitsFrom` elements, keeps the slopes as bits for its pullback `scaled saved`
    /// (the saved bits are used only for the very tensor they were made from).
    let piecewiseOp (name: string) (attributes: (string * obj) list) (slopes: Functional.Kernels.SlopeBits.Slopes)
                    (scaled: struct (Tensor * Tensor) voption -> Value -> Value -> Value) (x: Value) =
        let keep = (match x with Reverse _ -> true | _ -> false)
        let saved = ref ValueNone
        let forward (t: Tensor) =
            let xs = t.Data
            let n = xs.Length
            let y = Strided.fresh n
            let code = if keep && n >= slopeBitsFrom then Strided.fresh (Functional.Kernels.SlopeBits.CodeLength n) else null
            let streaming = Strided.streams n
            Strided.chunkedStreaming streaming n (fun lo hi ->
                Functional.Kernels.SlopeBits.Forward(xs, y, slopes, code, lo, hi, streaming))
            t.CheckLive()
            if not (isNull code) then saved.Value <- ValueSome(struct (t, Tensor.wrapKept [| code.Length |] code))
            Tensor.wrap t.ShapeArray y
        Op.elementwiseWith name attributes forward (fun x _ g -> scaled saved.Value x g) x

    /// min(max(x, lo), hi) with the slopes kinkLow at lo and kinkHigh at hi (1 inside, 0 outside): `Piecewise.clamp`
    /// checks the bounds and names the convention; the tanh form's second derivative clamps its argument with it.
    let clampOp (attributes: (string * obj) list) (lo: double) (hi: double) (kinkLow: double) (kinkHigh: double) (x: Value) =
        let slopes = Functional.Kernels.SlopeBits.Slopes.Clamp(lo, hi, kinkLow, kinkHigh)
        piecewiseOp "clamp" attributes slopes
            (piecewiseScaled "clampScaled" attributes slopes (fun x g -> Tensor.map2Inline (fun v g -> g * slopes.Of v) x g))
            x

    /// x clamped to [−bound, bound] (the right derivative at each bound), for a higher derivative that is already 0
    /// in float64 beyond ±bound but whose formula meets ∞·0 as x grows: clamped, the formula gives that 0 at ±∞ too,
    /// and its derivatives (0 beyond the bound) follow.
    let flatBeyond (bound: double) (x: Value) =
        clampOp [ "min", box -bound; "max", box bound; "convention", box KinkConvention.RightDerivative ] -bound bound 1.0 0.0 x
