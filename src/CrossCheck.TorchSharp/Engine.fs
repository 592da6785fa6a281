namespace Functional.CrossCheck

open System
open System.Collections.Generic
open TorchSharp
open Functional
open Functional.Core

/// Runs a traced program (a function's forward program and the gradient program derived from it) on TorchSharp
/// tensors, op by op: our derivation, libtorch's arithmetic, on any device TorchSharp has.
[<RequireQualifiedAccess>]
module Engine =

    /// An attribute of the op, typed; a missing one is NotSupportedException naming it.
    let internal attribute<'T> (op: Op) (key: string) : 'T =
        match op.Attributes |> List.tryFind (fun (k, _) -> k = key) with
        | Some (_, v) -> unbox<'T> v
        | None -> raise (NotSupportedException(sprintf "The op '%s' has no attribute '%s' to replay with." op.Name key))

    let private float' (op: Op) key = attribute<float> op key
    let private ints (op: Op) key = attribute<int[]> op key |> Array.map int64

    /// The slope of leaky ReLU on torch tensors: 1 above 0, α below, the convention's value at 0, NaN at NaN.
    let private slope (x: torch.Tensor) (alpha: float) (convention: KinkConvention) =
        let kink = Activation.leakyReluSlope alpha convention 0.0
        let s = torch.where(x.gt(torch.tensor 0.0), torch.ones_like x, torch.where(x.lt(torch.tensor 0.0), torch.ones_like x * alpha, torch.ones_like x * kink))
        torch.where(x.isnan(), x, s)

    /// The slope of clamp to [lo, hi] on torch tensors: 1 inside, 0 outside, at a bound the convention's value of
    /// the one-sided slopes (0 when lo = hi), NaN at NaN.
    let private clampSlope (x: torch.Tensor) (lo: float) (hi: float) (convention: KinkConvention) =
        let kinkLow, kinkHigh = Piecewise.clampKinks convention lo hi
        let ones = torch.ones_like x
        let inside = x.gt(torch.tensor lo).logical_and(x.lt(torch.tensor hi))
        let outside = x.lt(torch.tensor lo).logical_or(x.gt(torch.tensor hi))
        let s = torch.where(inside, ones, torch.where(outside, ones * 0.0, torch.where(x.eq(torch.tensor lo), ones * kinkLow, ones * kinkHigh)))
        torch.where(x.isnan(), x, s)

    /// ELU's slope on torch tensors: 1 above 0, α·eˣ below, the convention's value between α and 1 at 0, NaN at NaN.
    /// At 0 it is written kink + k₂·x, the value kink with the slope's own derivative there, k₂ the convention's value
    /// between α and 0, as ours (a constant would give autograd 0 for ELU's second derivative at 0).
    let private eluSlope (x: torch.Tensor) (alpha: float) (convention: KinkConvention) =
        let ones = torch.ones_like x
        let kink = Piecewise.kinkValue convention alpha 1.0
        let secondKink = Piecewise.kinkValue convention alpha 0.0
        let s = torch.where(x.gt(torch.tensor 0.0), ones, torch.where(x.lt(torch.tensor 0.0), torch.exp x * alpha, x * secondKink + kink))
        torch.where(x.isnan(), x, s)

    /// A tensor shaped as t, every element v.
    let private filled (t: torch.Tensor) (v: float) = torch.full_like(t, TorchSharp.Scalar.op_Implicit v)

    /// Where a and b are equal, NaN equal to NaN.
    let private sameOrNaN (a: torch.Tensor) (b: torch.Tensor) = a.eq(b).logical_or(a.isnan().logical_and(b.isnan()))

    /// A comparison's mask as float64, computed from its inputs' values (no gradient flows).
    let private mask (compare: torch.Tensor -> torch.Tensor -> torch.Tensor) (xs: torch.Tensor[]) =
        (compare (xs.[0].detach()) (xs.[1].detach())).to_type(torch.ScalarType.Float64)

    /// An index tensor from an op's int[] attribute (TorchSharp's tensor factory refuses an empty array).
    let private indexTensor (values: int[]) (shape: int64[]) (device: torch.Device) =
        if values.Length = 0 then torch.zeros(shape, torch.ScalarType.Int64, device)
        else torch.tensor(values |> Array.map int64, ReadOnlySpan<int64>(shape), device = device)

    /// Whether an op is a user's custom op (CustomOp marks it): never replayed by a built-in op of the same name.
    let internal isCustom (op: Op) = op.Attributes |> List.exists (fun (k, _) -> k = "custom")

    /// x with its infinities (and NaN) replaced by 0, so that a branch torch.where does not take stays finite
    /// forward and backward (a NaN there would reach the gradient through the branch's own derivative).
    let internal finiteOnly (x: torch.Tensor) = torch.where(x.isfinite(), x, torch.zeros_like x)

    /// The cofactor matrix adj(A)ᵀ of each matrix of a, from its SVD A = U·S·Vᵀ: det U·det V·U·diag(pᵢ)·Vᵀ with pᵢ the
    /// product of the other singular values (prefix and suffix products, no division), so it holds at a singular A.
    let internal cofactorsBySvd (a: torch.Tensor) =
        let n = a.shape.[a.shape.Length - 1]
        if n = 0L then torch.zeros_like a
        else
            // Non-finite entries replaced: LibTorch's SVD refuses them, and only matrices whose det is 0 or ∞ use this.
            let struct (u, s, vh) = torch.linalg.svd(finiteOnly a)
            let ones = torch.ones_like(s.narrow(-1L, 0L, 1L))
            let before = torch.cat([| ones; s.narrow(-1L, 0L, n - 1L).cumprod(-1L) |], -1L)
            let after = torch.cat([| ones; s.flip([| -1L |]).narrow(-1L, 0L, n - 1L).cumprod(-1L) |], -1L).flip([| -1L |])
            let sign = (torch.linalg.det(u) * torch.linalg.det(vh)).unsqueeze(-1).unsqueeze(-1)
            sign * torch.matmul(u * (before * after).unsqueeze(-2), vh)

    /// The matrices whose det (`dets`, TorchSharp's) is exactly 0 or overflows: there TorchSharp's det backward
    /// gives 0, ∞ or NaN where the cofactors are finite, and `cofactorsBySvd` stands in for it.
    let internal detBackwardOff (dets: torch.Tensor) = dets.eq(torch.tensor 0.0).logical_or(dets.isinf())

    /// A slope computed by `finite` on x's finite entries only (`finiteOnly`), and at ±∞ its limits: 1 at +∞, 0 at
    /// −∞; NaN stays NaN.
    let private withLimits (x: torch.Tensor) (finite: torch.Tensor -> torch.Tensor) =
        let isFinite = x.isfinite()
        let safe = finiteOnly x
        let atInfinity = torch.where(x.gt(torch.tensor 0.0), torch.ones_like x, torch.zeros_like x)
        torch.where(isFinite, finite safe, torch.where(x.isnan(), x, atInfinity))

    /// Φ(x) + x·φ(x), GELU's derivative, with Φ(x) = erfc(−x/√2)/2 (no cancellation in the negative tail, where
    /// 1 + erf(x/√2) loses its digits) and its limits at ±∞.
    let private geluDerivative (x: torch.Tensor) =
        withLimits x (fun x -> torch.special.erfc(x / -Math.Sqrt 2.0) * 0.5 + x * torch.exp(x * x * -0.5) / Math.Sqrt(2.0 * Math.PI))

    /// An equation of the extended contraction form (Contraction.show) on torch tensors. TorchSharp's einsum takes
    /// letters, each output label once and only labels some input has; the rest is written with it: ellipsis
    /// dimensions ("…0") become unused letters, an output label no input has is a broadcast (a ones vector of the
    /// output's size), a repeated output label is a diagonal write (an identity matrix per repeat).
    let private einsum (equation: string) (outputShape: int[]) (xs: torch.Tensor[]) : torch.Tensor =
        let tokens (side: string) =
            let out = ResizeArray<string>()
            let mutable i = 0
            while i < side.Length do
                if side.[i] = '…' then
                    let mutable j = i + 1
                    while j < side.Length && Char.IsDigit side.[j] do j <- j + 1
                    out.Add(side.Substring(i, j - i))
                    i <- j
                else
                    out.Add(string side.[i])
                    i <- i + 1
            List.ofSeq out
        let sides = equation.Split("->")
        let inputs = sides.[0].Split(',') |> Array.map tokens
        let output = tokens sides.[1]
        let letters = [ 'a' .. 'z' ] @ [ 'A' .. 'Z' ]
        let used = HashSet<char>(equation |> Seq.filter Char.IsLetter)
        let fresh = Queue<char>(letters |> List.filter (used.Contains >> not))
        let next () =
            if fresh.Count = 0 then raise (NotSupportedException(sprintf "einsum %s needs more than 52 labels on TorchSharp." equation))
            fresh.Dequeue()
        let letterOf = Dictionary<string, char>()
        let name (t: string) =
            match letterOf.TryGetValue t with
            | true, c -> c
            | _ ->
                let c = if t.Length = 1 then t.[0] else next ()
                letterOf.[t] <- c
                c
        let inputLetters = inputs |> Array.map (List.map name >> Array.ofList >> String)
        let present = HashSet<string>(Seq.concat inputs)
        let distinct = output |> List.distinct |> List.filter present.Contains
        let direct = torch.einsum(String.Join(",", inputLetters) + "->" + String(distinct |> List.map name |> Array.ofList), xs)
        if List.length (List.distinct output) = output.Length && output |> List.forall present.Contains then direct
        else
            // out[o] = direct[distinct] · Π ones[broadcast label] · Π I[label, its repeat].
            let operands = ResizeArray<torch.Tensor>([ direct ])
            let subscripts = ResizeArray<string>([ String(distinct |> List.map name |> Array.ofList) ])
            let seen = HashSet<string>()
            let final =
                output |> List.mapi (fun position t ->
                    let size = int64 outputShape.[position]
                    if seen.Add t then
                        if not (present.Contains t) then
                            operands.Add(torch.ones([| size |], torch.ScalarType.Float64, direct.device))
                            subscripts.Add(string (name t))
                        name t
                    else
                        let repeat = next ()
                        operands.Add(torch.eye(size, size, torch.ScalarType.Float64, direct.device))
                        subscripts.Add(String [| name t; repeat |])
                        repeat)
            torch.einsum(String.Join(",", subscripts) + "->" + String(Array.ofList final), operands.ToArray())

    /// One op on torch tensors, from its name, its attributes and its result's shape (which every traced operation
    /// records). An op this engine cannot replay (a custom op) raises NotSupportedException naming it.
    let apply (op: Op) (outputShape: int[]) (xs: torch.Tensor[]) : torch.Tensor =
        let x () = xs.[0]
        let sumKeep (t: torch.Tensor) (axis: int64) = t.sum(axis, true)
        if isCustom op then
            raise (NotSupportedException(sprintf "'%s' is a custom op, which has no TorchSharp forward of its own." op.Name))
        match op.Name with
        | "einsum" -> einsum (attribute<string> op "equation") outputShape xs
        | "add" -> xs.[0] + xs.[1]
        | "sub" -> xs.[0] - xs.[1]
        | "mul" -> xs.[0] * xs.[1]
        | "div" -> xs.[0] / xs.[1]
        | "neg" -> -(x ())
        | "scale" -> x () * float' op "k"
        | "square" -> x () * x ()
        | "exp" -> torch.exp(x ())
        | "log" -> torch.log(x ())
        | "sqrt" -> torch.sqrt(x ())
        | "tanh" -> torch.tanh(x ())
        | "sigmoid" -> torch.sigmoid(x ())
        | "relu" -> torch.nn.functional.relu(x ())
        | "leakyRelu" when float' op "alpha" = 0.0 -> torch.nn.functional.relu(x ())   // ours is ReLU's value there
        | "leakyRelu" -> torch.nn.functional.leaky_relu(x (), float' op "alpha")
        | "gelu" -> torch.nn.functional.gelu(x ())
        | "geluTanh" -> torch.nn.functional.gelu(x (), TorchSharp.Modules.GELU.Approximate.tanh)
        // torch's softplus, smooth at 0 (a relu + log1p(e^−|x|) form would have a kink there for autograd): above the
        // threshold it returns x itself, which equals ln(1 + eˣ) in float64 from x = 37 on; 20, its default, would not.
        | "softplus" -> torch.nn.functional.softplus(x (), 1.0, 40.0)
        | "pow" -> torch.pow(x (), torch.tensor (float' op "p"))
        | "softmax" -> torch.nn.functional.softmax(x (), int64 (attribute<int> op "axis"))
        | "logSoftmax" -> torch.nn.functional.log_softmax(x (), int64 (attribute<int> op "axis"))
        | "sum" ->
            let axes = ints op "axes"
            if axes.Length = 0 then x().clone() else x().sum(axes, attribute<bool> op "keepDims")
        | "broadcastTo" -> x().expand(ints op "shape").contiguous()
        | "sumTo" ->
            let target = ints op "shape"
            let t = x ()
            let lead = t.shape.Length - target.Length
            let axes = [| for i in 0 .. t.shape.Length - 1 do if i < lead || (target.[i - lead] = 1L && t.shape.[i] <> 1L) then yield int64 i |]
            (if axes.Length = 0 then t else t.sum(axes, true)).reshape(target)
        | "reshape" -> x().reshape(ints op "shape")
        | "permute" -> x().permute(ints op "permutation").contiguous()
        | "select" -> x().[int64 (attribute<int> op "index")]
        | "embed" ->
            let index, rows = attribute<int> op "index", attribute<int> op "rows"
            torch.stack([| for r in 0 .. rows - 1 -> if r = index then x () else torch.zeros_like(x ()) |], 0L)
        | "stack" -> torch.stack(xs, 0L)
        | "sigmoidScaled" -> xs.[1] * (xs.[0] * (1.0 - xs.[0]))
        | "tanhScaled" -> xs.[1] * (1.0 - xs.[0] * xs.[0])
        | "reciprocalScaled" -> xs.[1] * (float' op "c" / xs.[0])
        | "squareScaled" -> xs.[1] * (xs.[0] * 2.0)
        | "powScaled" ->
            let p = float' op "p"
            // x⁰'s slope is 0 everywhere, as ours (x⁻¹·0 would be NaN at 0 and ±∞).
            if p = 0.0 then torch.zeros_like xs.[1] else xs.[1] * (torch.pow(xs.[0], torch.tensor (p - 1.0)) * p)
        | "slopeScaled" -> xs.[1] * slope xs.[0] (float' op "alpha") (attribute<KinkConvention> op "convention")
        | "geluScaled" -> xs.[1] * geluDerivative xs.[0]
        | "erfScaled" -> xs.[1] * (torch.exp(-(xs.[0] * xs.[0])) * (2.0 / Math.Sqrt Math.PI))
        | "tanScaled" -> xs.[1] * (xs.[0] * xs.[0] + 1.0)
        | "sinScaled" -> xs.[1] * torch.cos xs.[0]
        | "cosScaled" -> -(xs.[1] * torch.sin xs.[0])
        | "sinhScaled" -> xs.[1] * torch.cosh xs.[0]
        | "coshScaled" -> xs.[1] * torch.sinh xs.[0]
        | "expm1Scaled" -> xs.[1] * (xs.[0] + 1.0)
        | "log1pScaled" -> xs.[1] * torch.reciprocal(xs.[0] + 1.0)
        | "atanScaled" -> xs.[1] / (xs.[0] * xs.[0] + 1.0)
        | "asinScaled" -> xs.[1] * torch.rsqrt(1.0 - xs.[0] * xs.[0])
        | "acosScaled" -> -(xs.[1] * torch.rsqrt(1.0 - xs.[0] * xs.[0]))
        | "erfcScaled" -> xs.[1] * (torch.exp(-(xs.[0] * xs.[0])) * (-2.0 / Math.Sqrt Math.PI))
        | "clampScaled" -> xs.[1] * clampSlope xs.[0] (float' op "min") (float' op "max") (attribute<KinkConvention> op "convention")
        | "eluScaled" -> xs.[1] * eluSlope xs.[0] (float' op "alpha") (attribute<KinkConvention> op "convention")
        | "softplusScaled" -> xs.[1] * torch.sigmoid xs.[0]
        | "siluScaled" ->
            // SiLU's slope, 0 at −∞ and 1 at +∞ (the formula is ∞·0 there).
            let s = torch.sigmoid xs.[0]
            let slope = torch.where(xs.[0].isinf(), xs.[0].gt(torch.tensor 0.0).to_type(torch.ScalarType.Float64), s * (xs.[0] * (1.0 - s) + 1.0))
            xs.[1] * slope
        | "phiPoly" ->
            // φ(x)·P(x), P's coefficients from the constant term up (Horner), at x clamped to ±40: φ is 0 in float64
            // beyond (e^−800), where P(x)·φ(x) would be ∞·0 at ±∞ or once P overflows.
            let coefficients = attribute<float[]> op "coefficients"
            let xc = x().clamp(TorchSharp.Scalar.op_Implicit -40.0, TorchSharp.Scalar.op_Implicit 40.0)
            let p = coefficients |> Array.rev |> Array.fold (fun (acc: torch.Tensor) c -> if isNull acc then torch.full_like(xc, c) else acc * xc + c) null
            p * torch.exp(xc * xc * -0.5) / Math.Sqrt(2.0 * Math.PI)
        | "geluTanhScaled" ->
            // d/dx x·σ(2u) = σ(2u) + x·σ(2u)·σ(−2u)·2u′, u = √(2/π)(x + kx³); 1 at +∞, 0 at −∞.
            let c, k = Math.Sqrt(2.0 / Math.PI), 0.044715
            xs.[1] * withLimits xs.[0] (fun x ->
                // σ(2u) is 0 or 1 in float64 beyond |x| = 30: taken at x clamped there, so that autograd does not meet
                // σ′(2u)·u′ = 0·∞ once x³ overflows.
                let xc = x.clamp(TorchSharp.Scalar.op_Implicit -30.0, TorchSharp.Scalar.op_Implicit 30.0)
                let u2 = (xc + xc * xc * xc * k) * (2.0 * c)
                let s = torch.sigmoid u2
                // Beyond |x| = 30 the second term is 0 in float64 (σ(2u)·σ(−2u) < e^(−1900)); computed there it is 0·∞.
                let near = x.abs().lt(torch.tensor 30.0)
                let xn = torch.where(near, x, torch.zeros_like x)
                let un = (xn + xn * xn * xn * k) * (2.0 * c)
                s + torch.where(near, xn * torch.sigmoid un * torch.sigmoid(-un) * ((xn * xn * (3.0 * k) + 1.0) * (2.0 * c)), torch.zeros_like x))
        | "softmaxVjp" ->
            let axis = int64 (attribute<int> op "axis")
            xs.[0] * (xs.[1] - sumKeep (xs.[1] * xs.[0]) axis)
        | "logSoftmaxVjp" ->
            let axis = int64 (attribute<int> op "axis")
            xs.[1] - torch.exp(xs.[0]) * sumKeep xs.[1] axis
        | "layerNorm" ->
            let x = x ()
            torch.nn.functional.layer_norm(x, [| x.shape.[x.shape.Length - 1] |], eps = float' op "epsilon")
        | "layerNormVjp" ->
            let x, y, g = xs.[0], xs.[1], xs.[2]
            let last = [| int64 (x.shape.Length - 1) |]
            let c = x - x.mean(last, true)
            let r = torch.rsqrt((c * c).mean(last, true) + float' op "epsilon")
            r * ((g - g.mean(last, true)) - y * (g * y).mean(last, true))
        | "huber" ->
            let delta = float' op "delta"
            // δ = ∞ is MSE's ½d²: torch's huber_loss takes its linear branch at |d| = ∞ there (d < ∞ is false) and
            // gives ∞·(∞ − ∞) = NaN where ours is ∞.
            if Double.IsPositiveInfinity delta then (xs.[0] - xs.[1]).square() * 0.5
            else torch.nn.functional.huber_loss(xs.[0], xs.[1], reduction = torch.nn.Reduction.None, delta = delta)
        | "huberSlope" ->
            let delta = float' op "delta"
            xs.[2] * (xs.[0] - xs.[1]).clamp(TorchSharp.Scalar.op_Implicit -delta, TorchSharp.Scalar.op_Implicit delta)
        | "bceWithLogits" -> torch.nn.functional.binary_cross_entropy_with_logits(xs.[0], xs.[1], reduction = torch.nn.Reduction.None)
        | "bceSlope" -> xs.[2] * (torch.sigmoid(xs.[0]) - xs.[1])
        | "labelledLogSoftmax" ->
            let x = xs.[0]
            let index = indexTensor (attribute<int[]> op "labels") [| x.shape.[0]; 1L |] x.device
            x.log_softmax(1L).gather(1L, index).reshape([| x.shape.[0] |])
        | "labelledLogSoftmaxVjp" ->
            let x, a = xs.[0], xs.[1]
            let labels = indexTensor (attribute<int[]> op "labels") [| x.shape.[0] |] x.device
            let onehot = torch.nn.functional.one_hot(labels, x.shape.[1]).to_type(torch.ScalarType.Float64)
            a.reshape([| x.shape.[0]; 1L |]) * (onehot - x.softmax(1L))
        | "reciprocal" -> torch.reciprocal(x ())
        | "sin" -> torch.sin(x ())
        | "cos" -> torch.cos(x ())
        | "tan" -> torch.tan(x ())
        | "asin" -> torch.asin(x ())
        | "acos" -> torch.acos(x ())
        | "atan" -> torch.atan(x ())
        | "sinh" -> torch.sinh(x ())
        | "cosh" -> torch.cosh(x ())
        | "log1p" -> torch.log1p(x ())
        | "expm1" -> torch.expm1(x ())
        | "gt" -> mask (fun a b -> a.gt b) xs
        | "ge" -> mask (fun a b -> a.ge b) xs
        | "lt" -> mask (fun a b -> a.lt b) xs
        | "le" -> mask (fun a b -> a.le b) xs
        | "eq" -> mask (fun a b -> a.eq b) xs
        // NaN stays NaN, as ours (TorchSharp's sign gives 0 there).
        | "sign" -> let v = x().detach() in torch.where(v.isnan(), v, v.sign())
        | "erf" -> torch.special.erf(x ())
        | "erfc" -> torch.special.erfc(x ())
        | "silu" -> torch.nn.functional.silu(x ())
        | "abs" -> torch.abs(x ())
        | "elu" -> torch.nn.functional.elu(x (), float' op "alpha")
        | "clamp" -> x().clamp(TorchSharp.Scalar.op_Implicit (float' op "min"), TorchSharp.Scalar.op_Implicit (float' op "max"))
        | "maximum" -> torch.maximum(xs.[0], xs.[1])
        | "minimum" -> torch.minimum(xs.[0], xs.[1])
        | "narrow" -> x().narrow(int64 (attribute<int> op "axis"), int64 (attribute<int> op "start"), int64 (attribute<int> op "length"))
        | "pad" ->
            let axis, start, size = attribute<int> op "axis", attribute<int> op "start", attribute<int> op "size"
            let t = x ()
            let zeros (n: int) = torch.zeros(t.shape |> Array.mapi (fun i d -> if i = axis then int64 n else d), torch.ScalarType.Float64, t.device)
            let after = size - start - int t.shape.[axis]
            torch.cat([| if start > 0 then yield zeros start
                         yield t
                         if after > 0 then yield zeros after |], int64 axis)
        | "concat" -> torch.cat(xs, int64 (attribute<int> op "axis"))
        | "indexSelect" ->
            let ix = attribute<int[]> op "indices"
            x().index_select(int64 (attribute<int> op "axis"), indexTensor ix [| int64 ix.Length |] (x().device))
        // The derivative rules' masks and weights, computed from their inputs as ours are (no gradient flows).
        | "extremumWeights" ->
            let a, b = xs.[0].detach(), xs.[1].detach()
            let isMax = attribute<bool> op "isMax"
            let tie = Piecewise.tieSlope isMax (attribute<KinkConvention> op "convention")
            let wins = (if isMax = attribute<bool> op "first" then a.gt(b) else a.lt(b)).to_type(torch.ScalarType.Float64)
            let w = torch.where(a.eq(b), filled wins tie, wins)
            torch.where(a.isnan().logical_or(b.isnan()), filled w nan, w)
        | "extremaWeights" ->
            let x = xs.[0].detach()
            let axes = attribute<int[]> op "axes"
            let kept = xs.[1].detach().reshape(x.shape |> Array.mapi (fun i d -> if Array.contains i axes then 1L else d))
            let hit = sameOrNaN x kept
            // Over no axes each entry is its own run (TorchSharp's sum over no dimensions would sum them all).
            let ties = if axes.Length = 0 then hit.to_type(torch.ScalarType.Float64) else hit.to_type(torch.ScalarType.Float64).sum(axes |> Array.map int64, true)
            let share =
                match attribute<KinkConvention> op "convention" with
                | KinkConvention.Midpoint -> 1.0 / ties
                | convention ->
                    let one = Piecewise.tieSlope (attribute<bool> op "isMax") convention
                    torch.where(ties.eq(torch.tensor 1.0), torch.ones_like ties, filled ties one)
            torch.where(hit, share.expand_as(x), torch.zeros_like x)
        | "meanCorrection" ->
            let m, sc = xs.[0].detach(), xs.[1].detach()
            torch.where(m.isfinite().logical_and(sc.isfinite()), m - sc, torch.zeros_like m)
        | "eluSecondMask" ->
            let x = xs.[0].detach()
            let alpha, kink = float' op "alpha", float' op "kink"
            torch.where(x.lt(torch.tensor 0.0), filled x alpha, torch.where(x.eq(torch.tensor 0.0), filled x kink, torch.zeros_like x))
        | "huberClampSlope" ->
            let z = xs.[0].detach().abs()
            let delta = torch.tensor (float' op "delta")
            torch.where(z.lt(delta), torch.ones_like z,
                torch.where(z.gt(delta), torch.zeros_like z,
                    torch.where(z.eq(delta), filled z 0.5, filled z nan)))
        | "regionSum" ->
            // The adjoints in the order they came: each added whole, or at the region its reader took it from.
            let whole = attribute<bool[]> op "whole"
            let readers = attribute<Op[]> op "readers"
            let device = xs.[0].device
            let mutable out = torch.zeros(ints op "shape", torch.ScalarType.Float64, device)
            let mutable r = 0
            for k in 0 .. whole.Length - 1 do
                if whole.[k] then out <- out + xs.[k]
                else
                    let reader = readers.[r]
                    r <- r + 1
                    let axis, indices, piece =
                        match reader.Name with
                        | "narrow" ->
                            let start, length = attribute<int> reader "start", attribute<int> reader "length"
                            attribute<int> reader "axis", Array.init length (fun j -> start + j), xs.[k]
                        | "select" -> 0, [| attribute<int> reader "index" |], xs.[k].unsqueeze(0L)
                        | "indexSelect" -> attribute<int> reader "axis", attribute<int[]> reader "indices", xs.[k]
                        | name -> raise (NotSupportedException(sprintf "A region sum read by '%s' is not replayable on TorchSharp." name))
                    out <- out.index_add(int64 axis, indexTensor indices [| int64 indices.Length |] device, piece, TorchSharp.Scalar.op_Implicit 1.0)
            out
        | "indexAdd" ->
            let axis = attribute<int> op "axis"
            let ix = attribute<int[]> op "indices"
            let indices = indexTensor ix [| int64 ix.Length |] (x().device)
            let t = x ()
            let shape = t.shape |> Array.mapi (fun i d -> if i = axis then int64 (attribute<int> op "size") else d)
            torch.zeros(shape, torch.ScalarType.Float64, t.device).index_add(int64 axis, indices, t, TorchSharp.Scalar.op_Implicit 1.0)
        | "gather" ->
            let index = indexTensor (attribute<int[]> op "index") (ints op "indexShape") (x().device)
            x().gather(int64 (attribute<int> op "axis"), index)
        | "scatterAdd" ->
            let shape = ints op "shape"
            let t = x ()
            let index = indexTensor (attribute<int[]> op "index") t.shape t.device
            torch.zeros(shape, torch.ScalarType.Float64, t.device).scatter_add(int64 (attribute<int> op "axis"), index, t)
        | "flip" -> x().flip([| int64 (attribute<int> op "axis") |])
        | "where" -> torch.where(xs.[0].ne(torch.tensor 0.0), xs.[1], xs.[2])
        | "solve" -> torch.linalg.solve(xs.[0], xs.[1])
        | "solveTransposed" -> torch.linalg.solve(xs.[0].transpose(-2L, -1L), xs.[1])
        | "solveTriangular" ->
            // Tᵀ of the stored triangle is the other triangle of the transposed matrix.
            let transpose = attribute<bool> op "transpose"
            let a = if transpose then xs.[0].transpose(-2L, -1L) else xs.[0]
            torch.linalg.solve_triangular(a, xs.[1], upper = (attribute<bool> op "upper" <> transpose))
        | "inverse" -> torch.linalg.inv(x ())
        | "det" -> torch.linalg.det(x ())
        | "cofactor" ->
            // ∂ det A/∂A from TorchSharp's own det backward, itself differentiable when A is on a graph; where
            // TorchSharp's det is exactly 0 or overflows (its backward gives 0, ∞ or NaN there) from the SVD, as a value
            // only.
            let a = x ()
            let byBackward =
                use _ = torch.enable_grad()
                let leaf = if a.requires_grad then a else a.detach().requires_grad_(true)
                let d = torch.linalg.det(leaf)
                let g = torch.autograd.grad([| d |], [| leaf |], [| torch.ones_like d |], a.requires_grad, a.requires_grad, false).[0]
                if a.requires_grad then g else g.detach()
            let zero = detBackwardOff (torch.linalg.det(a.detach()))
            if zero.any().item<bool>() then torch.where(zero.unsqueeze(-1).unsqueeze(-1), cofactorsBySvd (a.detach()), byBackward)
            else byBackward
        | "logAbsDet" -> let struct (_, l) = torch.linalg.slogdet(x ()) in l
        | "signDet" -> let struct (sign, _) = torch.linalg.slogdet(x().detach()) in sign
        | "cholesky" -> torch.linalg.cholesky(x ())
        | "triangular" ->
            let t = x ()
            let ones = torch.ones([| t.shape.[t.shape.Length - 2]; t.shape.[t.shape.Length - 1] |], torch.ScalarType.Float64, t.device)
            let diagonal = ones.tril() - ones.tril(-1L)
            let mask = ones.tril(-1L) * float' op "below" + diagonal * float' op "on" + ones.triu(1L) * float' op "above"
            // A factor 0 clears (ours never reads there), where a product would keep a NaN.
            torch.where(mask.ne(torch.tensor 0.0), t * mask, torch.zeros_like t)
        | "choleskyOuter" ->
            let p = torch.linalg.solve_triangular(xs.[0].tril().transpose(-2L, -1L), xs.[1].tril(), upper = true)
            p.tril() + p.tril(-1L).transpose(-2L, -1L)
        | "choleskyMiddle" ->
            let p = (xs.[0].tril().transpose(-2L, -1L).matmul(xs.[1])).tril()
            0.5 * (p + p.tril(-1L).transpose(-2L, -1L))
        // No axes reduce nothing here; libtorch's amax/amin would reduce every axis.
        | "maxAxes" | "minAxes" when (ints op "axes").Length = 0 -> x().clone()
        | "maxAxes" -> x().amax(ints op "axes", attribute<bool> op "keepDims")
        | "minAxes" -> x().amin(ints op "axes", attribute<bool> op "keepDims")
        | name -> raise (NotSupportedException(sprintf "'%s' is not replayable on TorchSharp." name))

    /// A custom op's TorchSharp forward, given for its name in `customOps`, run on `inputs`: a result that is null, not
    /// shaped as the op's own output, not float64 (a float32 forward would differ by its own rounding, or a bool one be
    /// promoted, and be read as a divergence) or on another device is refused here, before TorchSharp differentiates it;
    /// so is a forward that changed an input in place (the input is another operation's value, which later
    /// operations would read changed: the engine's results would be silently wrong).
    let internal customForward (forward: torch.Tensor[] -> torch.Tensor) (op: Op) (expected: int[]) (inputs: torch.Tensor[]) =
        let before = inputs |> Array.map (fun t -> t.detach().clone())
        // The forward gets an array of its own: the check below reads the inputs through this one.
        let y = forward (Array.copy inputs)
        for k in 0 .. inputs.Length - 1 do
            let now, was = inputs.[k].detach(), before.[k]
            let same = now.shape = was.shape && (sameOrNaN now was).all().item<bool>()
            was.Dispose()
            if not same then
                invalidArg "customOps" (sprintf "The TorchSharp forward for custom op '%s' changed its input %d in place; it must leave its inputs as they are (they are other operations' values) and return a new tensor." op.Name k)
        if isNull y then invalidArg "customOps" (sprintf "The TorchSharp forward for custom op '%s' returned null." op.Name)
        if not (Torch.hasShape expected y) then
            raise (ShapeException(sprintf "The TorchSharp forward for custom op '%s' returned shape [%s]; the op's output has shape %s." op.Name (String.Join(", ", y.shape)) (Shape.show expected), "customOps"))
        if y.dtype <> torch.ScalarType.Float64 then
            invalidArg "customOps" (sprintf "The TorchSharp forward for custom op '%s' returned a %O tensor; it must return float64, as its inputs are." op.Name y.dtype)
        if inputs.Length > 0 && string y.device <> string inputs.[0].device then
            invalidArg "customOps" (sprintf "The TorchSharp forward for custom op '%s' returned a tensor on %O; its inputs are on %O." op.Name y.device inputs.[0].device)
        y

    /// The op on TorchSharp tensors: a custom op through the forward given for its name in `customOps`; a built-in op
    /// through its own replay, or through a forward given for its name where it has none. A custom op may share a
    /// built-in op's name ("mul"): the built-in op still replays as itself.
    let internal applyWith (customOps: IReadOnlyDictionary<string, torch.Tensor[] -> torch.Tensor>) (op: Op) (outputShape: int[]) (xs: torch.Tensor[]) =
        // No dictionary (null from F# or C#) is no custom ops.
        match (if isNull customOps then (false, Unchecked.defaultof<_>) else customOps.TryGetValue op.Name) with
        | true, forward when isCustom op -> customForward forward op outputShape xs
        | true, forward -> (try apply op outputShape xs with :? NotSupportedException -> customForward forward op outputShape xs)
        | _ -> apply op outputShape xs

    /// The value and gradients of f at xs, computed by running f's traced forward program and its derived gradient
    /// program on TorchSharp tensors on `device` ("cpu", or "cuda" with a CUDA build of TorchSharp).
    /// A custom op runs through the TorchSharp forward given for its name in `customOps`; the ops of its VJP rule are
    /// built-in ones.
    let run (customOps: IReadOnlyDictionary<string, torch.Tensor[] -> torch.Tensor>) (f: Value[] -> Value) (device: string) (xs: Tensor[]) : Tensor * Tensor[] =
        if isNull device then nullArg "device"
        // LibTorch would fail on a device this build cannot reach with its own message, when the name is parsed
        // (CUDA in a CPU-only build) or once a tensor is moved there.
        let unavailable (why: string) =
            invalidArg "device" (sprintf "Device '%s' is not available in this TorchSharp build (%s); \"cpu\" is." device why)
        let dev =
            try torch.device device
            with
            | :? ArgumentException | :? FormatException | :? OverflowException ->
                invalidArg "device" (sprintf "'%s' is not a TorchSharp device name (\"cpu\", \"cuda\", \"cuda:1\")." device)
            | :? InvalidOperationException as e -> unavailable (e.Message.Split('\n').[0].TrimEnd('.', ' '))
        match dev.``type`` with
        | DeviceType.CPU -> ()
        | DeviceType.CUDA when (try torch.cuda.is_available () with :? InvalidOperationException -> false) -> ()
        | t -> unavailable (string t)
        let program = Trace.gradient f xs
        Torch.scopedRetryingFreedScalar (fun () ->
            let values = Dictionary<Tensor, torch.Tensor>(HashIdentity.Reference)
            let onDevice (t: Tensor) =
                match values.TryGetValue t with
                | true, v -> v
                | _ ->
                    // An input, the seed or a constant of the program: its values, moved to the device.
                    let v = (Torch.toTorch false t).``to``(dev)
                    values.[t] <- v
                    v
            for e in program.Entries do
                let inputs = e.Inputs |> Array.map onDevice
                let y = applyWith customOps e.Op e.Output.ShapeArray inputs
                // A replay shaped unlike our op would make every later op's value silently wrong.
                if y.shape <> (e.Output.ShapeArray |> Array.map int64) then
                    raise (InvalidOperationException(sprintf "TorchSharp's replay of op '%s' gave shape [%s]; ours has shape %s." e.Op.Name (String.Join(", ", y.shape)) (Shape.show e.Output.ShapeArray)))
                values.[e.Output] <- y
            let back (t: Tensor) = Torch.ofTorch ((onDevice t).cpu())
            back program.Output, program.Gradients |> Array.map back)
