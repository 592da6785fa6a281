namespace Functional.CrossCheck

open System
open System.Collections.Generic
open System.Text
open TorchSharp
open Functional
open Functional.Core

/// What replaying a function's traced program under TorchSharp autograd found.
type ReplayResult =
    { /// The value and every gradient agree, every operation's forward value and VJP agree (documented
      /// differences aside), and every operation could be replayed.
      Passed: bool
      /// Forward operations replayed on TorchSharp and checked one by one (forward value and VJP).
      OperationsReplayed: int
      /// The first operation, in program order, whose forward value or VJP differs beyond tolerance; starts with
      /// its name.
      FirstDivergence: string option
      /// Everything found, one finding per line: tolerances, the end-to-end comparison, documented differences,
      /// operations that could not be replayed.
      Details: string }

/// Write once, cross-check op by op: a function traced with Functional, replayed on TorchSharp.
[<RequireQualifiedAccess>]
module Replay =

    let private invariant (x: float) = x.ToString("R", Globalization.CultureInfo.InvariantCulture)

    /// Below this, TorchSharp's GELU (exact and tanh form) computes 1 + erf(·) or 1 + tanh(·) by cancellation and
    /// loses the negative tail (−0 from about −6 on for the exact form); ours keeps it.
    let private geluTailBelow = -5.0

    /// Whether a and b agree: |a − b| ≤ atol + rtol·|b| (b TorchSharp's), NaN with NaN, an infinity with itself
    /// only (the bound atol + rtol·∞ would admit any value).
    let private close rtol atol (a: float) (b: float) =
        (Double.IsNaN a && Double.IsNaN b) || Tensor.closeTo rtol atol a b

    /// The elements that disagree, as flat indices, and the worst of them (the largest excess over tolerance).
    let private disagreements rtol atol (ours: float[]) (theirs: float[]) =
        let bad = List<int>()
        let mutable worst, excess = -1, -1.0
        for e in 0 .. ours.Length - 1 do
            if not (close rtol atol ours.[e] theirs.[e]) then
                bad.Add e
                let d = abs (ours.[e] - theirs.[e]) - (atol + rtol * abs theirs.[e])
                let d = if Double.IsNaN d || not (Double.IsFinite ours.[e] && Double.IsFinite theirs.[e]) then infinity else d
                if d > excess then
                    worst <- e
                    excess <- d
        bad, worst

    let private multiIndex (shape: int[]) (flat: int) =
        let idx = Array.zeroCreate shape.Length
        let mutable r = flat
        for k in shape.Length - 1 .. -1 .. 0 do
            idx.[k] <- r % shape.[k]
            r <- r / shape.[k]
        "[" + String.Join(", ", idx) + "]"

    let private describeOp (op: Op) (inputs: Tensor[]) =
        let attributes = Op.showAttributes op |> List.map (fun (k, v) -> k + "=" + v)
        let shapes = inputs |> Array.map (fun t -> Shape.show t.ShapeArray)
        (if attributes.IsEmpty then "" else "attributes " + String.Join(", ", attributes) + "; ")
        + "inputs' shapes " + String.Join(", ", shapes)

    /// A documented difference between our rule and TorchSharp's, for one op and one comparison: which elements it
    /// explains, and the note that reports it.
    type private Documented = { Explains: int -> bool; Note: string }

    /// TorchSharp's derivative at each kink it has (from its autograd formulas): Leaky ReLU and ELU take α, abs 0,
    /// clamp 1 at both bounds, maximum and minimum ½ to each side of a tie.
    let private kinkNote (op: Op) (where: string) (ours: float) (theirs: float) =
        if ours = theirs then None
        else Some (sprintf "its derivative at the kink (%s) is %s by our convention (KinkConvention.%A) and %s by TorchSharp's" where (invariant ours) (Engine.attribute<KinkConvention> op "convention") (invariant theirs))

    /// Which elements of input `input`'s VJP sit at a kink of a broadcasting binary op: those tied with the other
    /// side anywhere they meet.
    let private ties (inputs: Tensor[]) (input: int) =
        let tied = Tensor.map2 (fun a b -> if a = b then 1.0 else 0.0) inputs.[0] inputs.[1]
        let counts = (Tensor.sumTo inputs.[input].ShapeArray tied).ToArray()
        fun e -> counts.[e] > 0.0

    /// The documented difference that explains elements of a comparison: the forward value (input = None) or the
    /// VJP for one input.
    let private documented (op: Op) (inputs: Tensor[]) (input: int option) : Documented option =
        // Copies: the explanations outlive this call, and a tensor's array may be recycled once it is unreachable.
        let x () = inputs.[0].ToArray()
        let at (explains: int -> bool) (note: string option) = note |> Option.map (fun n -> { Explains = explains; Note = n })
        match (if Engine.isCustom op then "" else op.Name), input with
        | "leakyRelu", Some _ ->
            let alpha = Engine.attribute<float> op "alpha"
            let d = x ()
            at (fun e -> d.[e] = 0.0) (kinkNote op "x = 0" (Activation.leakyReluSlope alpha (Engine.attribute<KinkConvention> op "convention") 0.0) alpha)
        | "elu", Some _ ->
            let alpha = Engine.attribute<float> op "alpha"
            let d = x ()
            at (fun e -> d.[e] = 0.0) (kinkNote op "x = 0" (Piecewise.kinkValue (Engine.attribute<KinkConvention> op "convention") alpha 1.0) alpha)
        | "abs", Some _ ->
            let d = x ()
            at (fun e -> d.[e] = 0.0) (kinkNote op "x = 0" (Piecewise.kinkValue (Engine.attribute<KinkConvention> op "convention") -1.0 1.0) 0.0)
        | "clamp", Some _ ->
            // Each bound its own slope (a convention's values at lo and hi differ); TorchSharp's is 1 at both.
            let lo, hi = Engine.attribute<float> op "min", Engine.attribute<float> op "max"
            let kLo, kHi = Piecewise.clampKinks (Engine.attribute<KinkConvention> op "convention") lo hi
            let d = x ()
            let atLo, atHi = kLo <> 1.0, kHi <> 1.0
            let where = if atLo && atHi then (if lo = hi then "x = min = max" else "x = min or max") elif atLo then "x = min" else "x = max"
            let ours = if atLo && atHi && kLo <> kHi then sprintf "%s at min, %s at max" (invariant kLo) (invariant kHi) else invariant (if atLo then kLo else kHi)
            at (fun e -> (atLo && d.[e] = lo) || (atHi && d.[e] = hi))
               (if not (atLo || atHi) then None
                else Some (sprintf "its derivative at the kink (%s) is %s by our convention (KinkConvention.%A) and 1 by TorchSharp's" where ours (Engine.attribute<KinkConvention> op "convention")))
        | ("maximum" | "minimum"), Some i ->
            at (ties inputs i) (kinkNote op "a tie" (Piecewise.tieSlope (op.Name = "maximum") (Engine.attribute<KinkConvention> op "convention")) 0.5)
        | ("maxAxes" | "minAxes"), Some _ ->
            // Entries tied for the extreme of their run: TorchSharp's amax / amin give each 1/k.
            let out = Tensor.reshape (inputs.[0].ShapeArray |> Array.mapi (fun i d -> if Array.contains i (Engine.attribute<int[]> op "axes") then 1 else d)) (op.Forward inputs)
            let x, e = inputs.[0].ToArray(), (Tensor.broadcastTo inputs.[0].ShapeArray out).ToArray()
            let hits = Tensor.create inputs.[0].ShapeArray (Array.init x.Length (fun i -> if x.[i] = e.[i] then 1.0 else 0.0))
            let counts = (Tensor.broadcastTo inputs.[0].ShapeArray (Tensor.sumAxes (Engine.attribute<int[]> op "axes") true hits)).ToArray()
            let c = Engine.attribute<KinkConvention> op "convention"
            at (fun i -> x.[i] = e.[i] && counts.[i] > 1.0)
               (if c = KinkConvention.Midpoint then None
                else Some (sprintf "its derivative at a tie of k entries is %s each by our convention (KinkConvention.%A) and 1/k each by TorchSharp's" (string (Piecewise.tieSlope (op.Name = "maxAxes") c)) c))
        | "huberSlope", Some i when i < 2 ->
            // The slope clamp(d, −δ, δ) of d = prediction − target: ours ½ at |d| = δ (the midpoint), TorchSharp's clamp 1.
            let delta = Engine.attribute<float> op "delta"
            let p, t = inputs.[0].ToArray(), inputs.[1].ToArray()
            at (fun e -> abs (p.[e] - t.[e]) = delta)
               (Some "the slope of its clamp at |prediction − target| = δ is 1/2 by our convention (the midpoint) and 1 by TorchSharp's")
        | "det", Some _ ->
            // TorchSharp's det backward solves against det·I: 0 for a matrix whose det it finds exactly 0, ∞ or NaN
            // where its det overflows.
            let shape = inputs.[0].ShapeArray
            let n = shape.[shape.Length - 1]
            let zero =
                Torch.scoped (fun () ->
                    let off = Engine.detBackwardOff (torch.linalg.det(Torch.toTorch false inputs.[0]))
                    (Torch.ofTorch (off.to_type(torch.ScalarType.Float64))).ToArray() |> Array.map (fun d -> d = 1.0))
            let singular = zero |> Array.contains true
            at (fun e -> zero.[e / (n * n)])
               (if singular then Some "TorchSharp's gradient of det is 0 where its det is exactly 0 and ∞ or NaN where it overflows; ours is the cofactor matrix adj(A)ᵀ" else None)
        | "silu", _ ->
            let d = x ()
            at (fun e -> Double.IsInfinity d.[e]) (Some "TorchSharp's SiLU is NaN at −∞ and its slope NaN at ±∞ (x·σ(x) is ∞·0 there); ours takes the limits: −0 with slope 0 at −∞, ∞ with slope 1 at +∞")
        | ("gelu" | "geluTanh"), _ ->
            let d = x ()
            Some { Explains = (fun e -> d.[e] < geluTailBelow)
                   Note = sprintf "TorchSharp's GELU loses the negative tail below %s (it cancels towards −0); ours keeps it" (invariant geluTailBelow) }
        | _ -> None

    /// The op on TorchSharp tensors (`Engine.applyWith`): a custom op through the user's TorchSharp forward for its
    /// name, a built-in op through its own replay.
    let private torchForward (customOps: IReadOnlyDictionary<string, torch.Tensor[] -> torch.Tensor>) (e: TraceEntry) =
        Engine.applyWith customOps e.Op e.Output.ShapeArray

    /// `plain` except at x = p exactly, where it is v + d·(x − p): the value v with derivative d. An infinite p
    /// (a clamp's open side) has no such point: x − p would be NaN there.
    let private atPoint (x: torch.Tensor) (p: float) (v: float) (d: float) (plain: torch.Tensor) =
        if Double.IsInfinity p then plain else torch.where(x.eq(torch.tensor p), (x - p) * d + v, plain)

    /// GELU or its tanh form aligned with ours: below the tail threshold from `tail` (erfc / σ, which keep the tail),
    /// elsewhere TorchSharp's `plain`. Beyond ±40 both forms are x (slope 1) or −0 (slope 0) in float64, and are written
    /// so (TorchSharp's own backward gives NaN at |x| ≈ 1e200, where x³ overflows); ±∞ likewise; NaN stays NaN. Each
    /// branch gets inputs from its own range only, so that no branch it does not take makes NaN forward or backward.
    let private alignedGelu (x: torch.Tensor) (tail: torch.Tensor -> torch.Tensor) (plain: torch.Tensor -> torch.Tensor) =
        let safe = Engine.finiteOnly x
        let low, high = safe.lt(torch.tensor -40.0), safe.gt(torch.tensor 40.0)
        let inTail = safe.lt(torch.tensor geluTailBelow)
        let tailIn = torch.where(inTail.logical_and(low.logical_not()), safe, torch.full_like(x, -10.0))
        let plainIn = torch.where(inTail.logical_not().logical_and(high.logical_not()), safe, torch.zeros_like x)
        let negativeZero = torch.full_like(x, -0.0)
        let finite = torch.where(low, negativeZero, torch.where(high, safe, torch.where(inTail, tail tailIn, plain plainIn)))
        let infinite = torch.where(x.gt(torch.tensor 0.0), x, negativeZero)
        torch.where(x.isfinite(), finite, torch.where(x.isnan(), x, infinite))

    /// The op as the end-to-end replay runs it: TorchSharp's own op, except where a documented difference would
    /// otherwise hide real ones downstream (a kink takes our convention's derivative; GELU's tail is computed from
    /// erfc / σ; SiLU takes its limits at ±∞).
    let private aligned (customOps: IReadOnlyDictionary<string, torch.Tensor[] -> torch.Tensor>) (e: TraceEntry) (xs: torch.Tensor[]) : torch.Tensor =
        let op = e.Op
        let plain () = torchForward customOps e xs
        if Engine.isCustom op then plain ()
        else
            match op.Name with
            | "leakyRelu" ->
                let alpha = Engine.attribute<float> op "alpha"
                atPoint xs.[0] 0.0 0.0 (Activation.leakyReluSlope alpha (Engine.attribute<KinkConvention> op "convention") 0.0) (plain ())
            | "elu" -> atPoint xs.[0] 0.0 0.0 (Piecewise.kinkValue (Engine.attribute<KinkConvention> op "convention") (Engine.attribute<float> op "alpha") 1.0) (plain ())
            | "abs" -> atPoint xs.[0] 0.0 0.0 (Piecewise.kinkValue (Engine.attribute<KinkConvention> op "convention") -1.0 1.0) (plain ())
            | "clamp" ->
                let lo, hi = Engine.attribute<float> op "min", Engine.attribute<float> op "max"
                let kLo, kHi = Piecewise.clampKinks (Engine.attribute<KinkConvention> op "convention") lo hi
                let atHi = atPoint xs.[0] hi hi kHi (plain ())
                if lo = hi then atHi else atPoint xs.[0] lo lo kLo atHi
            | "maxAxes" | "minAxes" when (Engine.attribute<int[]> op "axes").Length = 0 -> plain ()
            | "maxAxes" | "minAxes" ->
                // The extreme's value, with each entry's share of the gradient by our convention: 1/k, 1 or 0 at a tie.
                let axes = Engine.attribute<int[]> op "axes" |> Array.map int64
                let keep = Engine.attribute<bool> op "keepDims"
                let x = xs.[0]
                let extreme = if op.Name = "maxAxes" then x.detach().amax(axes, true) else x.detach().amin(axes, true)
                let hit = x.detach().eq(extreme).to_type(torch.ScalarType.Float64)
                let k = hit.sum(axes, true)
                let w =
                    match Engine.attribute<KinkConvention> op "convention" with
                    | KinkConvention.Midpoint -> hit / k
                    | c when Piecewise.tieSlope (op.Name = "maxAxes") c = 1.0 -> hit
                    | _ -> hit * k.eq(torch.tensor 1.0).to_type(torch.ScalarType.Float64)
                let value = if keep then extreme else (if op.Name = "maxAxes" then x.detach().amax(axes, false) else x.detach().amin(axes, false))
                // Only the extreme's entries carry a gradient path: x − x.detach() elsewhere would be NaN at an
                // infinite entry (a −∞ mask) and 0·NaN NaN. An infinite extreme itself keeps its value, slope 0.
                let path = torch.where(w.gt(torch.tensor 0.0).logical_and(x.isfinite()), x - x.detach(), torch.zeros_like x)
                value + (w * path).sum(axes, keep)
            | "maximum" | "minimum" ->
                // At a tie: t·a + t·b + (1 − 2t)·a (detached): the tie's value, derivative t to each side.
                let t = Piecewise.tieSlope (op.Name = "maximum") (Engine.attribute<KinkConvention> op "convention")
                let a, b = xs.[0], xs.[1]
                // Finite ties only: at a tie of infinities the sum would be ∞ − ∞.
                let tie = a.eq(b).logical_and(a.isfinite())
                let fa, fb = Engine.finiteOnly a, Engine.finiteOnly b
                torch.where(tie, fa * t + fb * t + fa.detach() * (1.0 - 2.0 * t), plain ())
            | "silu" ->
                // At ±∞ our limits: −0 (slope 0) at −∞, x itself (slope 1) at +∞. TorchSharp's SiLU reads finite
                // entries only: its backward at ±∞ would be 0·NaN even where `where` passes it no gradient.
                let t = xs.[0]
                let finite = torch.where(t.isinf(), torch.zeros_like t, t)
                torch.where(t.isneginf(), torch.zeros_like(t).neg(), torch.where(t.isposinf(), t, torch.nn.functional.silu finite))
            | "gelu" ->
                alignedGelu xs.[0] (fun x -> x * torch.special.erfc(x / -Math.Sqrt 2.0) * 0.5) (fun x -> torch.nn.functional.gelu x)
            | "geluTanh" ->
                alignedGelu xs.[0] (fun x -> x * torch.sigmoid((x + x * x * x * 0.044715) * (2.0 * Math.Sqrt(2.0 / Math.PI))))
                    (fun x -> torch.nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh))
            | "det" ->
                // Where TorchSharp's det is exactly 0 or overflows, the cofactor matrix (from the SVD) as the gradient;
                // TorchSharp's own det there runs on I instead, so that its backward (0·∞) adds no NaN.
                let a = xs.[0]
                let value = plain ()
                let off = Engine.detBackwardOff (value.detach())
                if not (off.any().item<bool>()) then value
                else
                    let n = a.shape.[a.shape.Length - 1]
                    let offMatrix = off.unsqueeze(-1).unsqueeze(-1)
                    let safe = torch.linalg.det(torch.where(offMatrix, torch.eye(n, n, torch.ScalarType.Float64, a.device).expand_as(a), a))
                    let path = (Engine.cofactorsBySvd (a.detach()) * (a - a.detach())).sum([| -2L; -1L |])
                    torch.where(off, value.detach() + path, safe)
            | "huberSlope" ->
                // g·clamp(d, −δ, δ) with slope 1/2 in d at |d| = δ (ours) instead of clamp's 1.
                let delta = Engine.attribute<float> op "delta"
                if Double.IsInfinity delta then plain ()
                else
                    let d, g = xs.[0] - xs.[1], xs.[2]
                    let bound = d.detach().clamp(TorchSharp.Scalar.op_Implicit -delta, TorchSharp.Scalar.op_Implicit delta)
                    torch.where(d.detach().abs().eq(torch.tensor delta), g * bound + g.detach() * (d - d.detach()) * 0.5, plain ())
            | _ -> plain ()

    /// A fixed pseudo-random adjoint for operation k: each VJP is checked as a linear map in a generic direction, so
    /// a wrong rule shows even where the function's own adjoint would hide it.
    let private adjointFor (k: int) (shape: int[]) = Tensor.random (7919 * (k + 1)) shape

    /// What to add to a "not replayable" line: how to give a custom op a forward (an einsum past TorchSharp's 52 labels
    /// has no such remedy).
    let private customHint (op: Op) = if op.Name = "einsum" then "" else "; supply a TorchSharp forward for it by name (the customOps argument)"

    /// Replays f's traced program on TorchSharp (float64). Op by op: each forward operation runs on TorchSharp from
    /// our inputs, and its VJP (TorchSharp autograd of that one op) is compared with ours for a fixed adjoint.
    /// End to end: the forward program replayed under autograd gives the value and gradients, compared with ours
    /// (the traced program's, and the VJPs for a pseudo-random adjoint computed outside a trace, as Autodiff does).
    let verify (rtol: float) (atol: float) (customOps: IReadOnlyDictionary<string, torch.Tensor[] -> torch.Tensor>) (f: Value[] -> Value) (xs: Tensor[]) : ReplayResult =
        // TorchSharp loaded first: a missing native library fails here, as itself, not as every op "not replayable".
        Torch.scopedRetryingFreedScalar (fun () -> (torch.zeros([| 1L |], torch.ScalarType.Float64)).Dispose())
        let program = Trace.gradient f xs
        let forward = program.Entries.[0 .. program.ForwardCount - 1]
        let details = StringBuilder()
        let line (s: string) = details.AppendLine s |> ignore
        let mutable first : string option = None
        let mutable replayed = 0
        let notReplayable = List<string>()
        let notes = Dictionary<string, string * int>()
        let note (op: Op) (text: string) (count: int) =
            let key = op.Name + ": " + text
            match notes.TryGetValue key with
            | true, (t, n) -> notes.[key] <- (t, n + count)
            | _ -> notes.[key] <- (text, count)
        /// Compares ours with TorchSharp's for operation k; a documented difference explains its elements.
        let check (k: int) (e: TraceEntry) (what: string) (input: int option) (ours: Tensor) (plain: Tensor) (theirs: Tensor) =
            if ours.ShapeArray <> theirs.ShapeArray then
                Some (sprintf "%s (operation %d of %d): the %s has shape %s here and %s on TorchSharp; %s" e.Op.Name (k + 1) forward.Length what (Shape.show ours.ShapeArray) (Shape.show theirs.ShapeArray) (describeOp e.Op e.Inputs))
            else
                let a, b = ours.ToArray(), theirs.ToArray()
                // Documented elements are noted whenever TorchSharp's own op differs there at all, even within
                // tolerance; they are checked against the op aligned to our convention, never excused.
                match documented e.Op e.Inputs input with
                | Some d ->
                    let p = plain.ToArray()
                    let differing = [| for i in 0 .. a.Length - 1 do if d.Explains i && not (close rtol 0.0 a.[i] p.[i]) then yield i |]
                    if differing.Length > 0 then note e.Op d.Note differing.Length
                | None -> ()
                let bad, worst = disagreements rtol atol a b
                if bad.Count = 0 then None
                else
                    Some (sprintf "%s (operation %d of %d): the %s differs at %d of %d elements; worst at %s: ours %s, TorchSharp %s; %s"
                            e.Op.Name (k + 1) forward.Length what bad.Count a.Length (multiIndex ours.ShapeArray worst) (invariant a.[worst]) (invariant b.[worst]) (describeOp e.Op e.Inputs))
        // Op by op. Each step makes its own leaves and keeps only Functional tensors, so it is self-contained
        // and may run once more when LibTorch reads a freed Scalar (Torch.scopedRetryingFreedScalar).
        forward |> Array.iteri (fun k e ->
            let g = adjointFor k e.Output.ShapeArray
            let step =
                Torch.scopedRetryingFreedScalar (fun () ->
                    // TorchSharp's own op (for the notes of documented differences), and where it has one, the op
                    // aligned to our convention at its kinks and tails (what ours is checked against).
                    let run (forward: torch.Tensor[] -> torch.Tensor) =
                        let leaves = e.Inputs |> Array.map (Torch.toTorch true)
                        let y = forward (Array.copy leaves)
                        let vjp =
                            // LibTorch aborts the process on an output gradient that does not fit the result: a
                            // replayed op of another shape (custom ops' are refused before) is reported by the value's
                            // comparison instead.
                            if not y.requires_grad || not (Torch.hasShape e.Output.ShapeArray y) then e.Inputs |> Array.map (fun t -> Tensor.zeros t.ShapeArray)
                            else
                                let gs = torch.autograd.grad([| y |], leaves, [| Torch.toTorch false g |], false, false, true)
                                Array.init leaves.Length (fun i -> Torch.gradOrZero e.Inputs.[i].ShapeArray gs.[i])
                        Torch.ofTorch y, vjp
                    match (try Ok (run (torchForward customOps e)) with :? NotSupportedException as ex -> Error ex.Message) with
                    | Error m -> Error m
                    | Ok plain ->
                        let hasDocumented = (documented e.Op e.Inputs None).IsSome || (e.Inputs.Length > 0 && (documented e.Op e.Inputs (Some 0)).IsSome)
                        Ok (plain, (if hasDocumented && not (Engine.isCustom e.Op) then run (aligned customOps e) else plain)))
            match step with
            | Error m -> notReplayable.Add (sprintf "%s (operation %d of %d): %s%s." e.Op.Name (k + 1) forward.Length (m.TrimEnd '.') (customHint e.Op))
            | Ok ((plainValue, plainVjp), (theirValue, theirVjp)) ->
                replayed <- replayed + 1
                let forwardDiff = check k e "forward value" None e.Output plainValue theirValue
                let vjpDiff () =
                    let inputs = e.Inputs |> Array.map Value.constant
                    Array.init inputs.Length (fun i ->
                        let ours = (e.Op.Vjp inputs (Value.constant e.Output) (Value.constant g) i).Tensor
                        check k e (sprintf "VJP for input %d" i) (Some i) ours plainVjp.[i] theirVjp.[i])
                    |> Array.tryPick id
                let diff = match forwardDiff with Some d -> Some d | None -> vjpDiff ()
                if first.IsNone then first <- diff)
        line (sprintf "Replayed %d of %d forward operations on TorchSharp (float64), each checked alone: forward value and VJP (for a fixed adjoint); tolerance |ours − TorchSharp| ≤ %s + %s·|TorchSharp|." replayed forward.Length (invariant atol) (invariant rtol))
        // The gradient program's operations (the VJP rules' ops: geluScaled, slopeScaled, the index-set rule's einsums,
        // broadcasts and sums), each run alone on TorchSharp from our inputs and its value compared: a wrong kernel in a
        // rule is named here rather than seen only end to end.
        let gradientOps = program.Entries.[program.ForwardCount ..]
        let mutable gradientChecked = 0
        gradientOps |> Array.iteri (fun j e ->
            let k = program.ForwardCount + j
            let theirs =
                Torch.scopedRetryingFreedScalar (fun () ->
                    try Ok (Torch.ofTorch (torchForward customOps e (e.Inputs |> Array.map (Torch.toTorch false))))
                    with :? NotSupportedException as ex -> Error ex.Message)
            match theirs with
            | Error m ->
                // A custom op that only a VJP rule uses is as unchecked as a forward one: the report fails.
                notReplayable.Add (sprintf "%s (gradient operation %d of %d, program operation %d): %s%s." e.Op.Name (j + 1) gradientOps.Length (k + 1) (m.TrimEnd '.') (customHint e.Op))
            | Ok t ->
                gradientChecked <- gradientChecked + 1
                let diff =
                    if e.Output.ShapeArray <> t.ShapeArray then
                        Some (sprintf "%s (gradient operation %d of %d): its value has shape %s here and %s on TorchSharp; %s" e.Op.Name (j + 1) gradientOps.Length (Shape.show e.Output.ShapeArray) (Shape.show t.ShapeArray) (describeOp e.Op e.Inputs))
                    else
                        let a, b = e.Output.ToArray(), t.ToArray()
                        let bad, worst = disagreements rtol atol a b
                        if bad.Count = 0 then None
                        else
                            Some (sprintf "%s (gradient operation %d of %d, program operation %d): its value differs at %d of %d elements; worst at %s: ours %s, TorchSharp %s; %s"
                                    e.Op.Name (j + 1) gradientOps.Length (k + 1) bad.Count a.Length (multiIndex e.Output.ShapeArray worst) (invariant a.[worst]) (invariant b.[worst]) (describeOp e.Op e.Inputs))
                if first.IsNone then first <- diff)
        line (sprintf "Replayed %d of %d gradient-program operations the same way (their values)." gradientChecked gradientOps.Length)
        // End to end, when every operation could be replayed.
        let mutable endToEnd = true
        if notReplayable.Count = 0 then
            // The gradients as `Autodiff` computes them outside a trace (the tracer turns off in-place and region
            // adjoints), for a pseudo-random adjoint: a uniform one (the program's seed) would hide a rule that is
            // wrong only where its adjoint varies, and take kernels' uniform-adjoint paths.
            let endToEndAdjoint = Tensor.random 6151 program.Output.ShapeArray
            let untracedValue, untraced =
                let y, pullback = Autodiff.vjpMany f (xs |> Array.map Value.constant)
                y.Tensor, pullback (Value.constant endToEndAdjoint) |> Array.map (fun v -> v.Tensor)
            // f run again must give the traced run's value: one that draws random numbers or keeps state computes
            // another function each call, and its VJPs would be compared with the replay of a different one.
            let sameRun =
                untracedValue.ShapeArray = program.Output.ShapeArray
                && (fst (disagreements rtol atol (untracedValue.ToArray()) (program.Output.ToArray()))).Count = 0
            let replayedEndToEnd =
                Torch.scopedRetryingFreedScalar (fun () ->
                    let values = Dictionary<Tensor, torch.Tensor>(HashIdentity.Reference)
                    // The program's own inputs (a tensor each, even where the caller passed one tensor twice).
                    let leaves = program.Inputs |> Array.map (fun x -> let t = Torch.toTorch true x in values.[x] <- t; t)
                    let onTorch (t: Tensor) =
                        match values.TryGetValue t with
                        | true, v -> v
                        | _ -> let v = Torch.toTorch false t in values.[t] <- v; v
                    // Stops at the first result shaped unlike ours (already reported op by op): the ops after it, and
                    // autograd's output gradient, would meet a shape LibTorch may abort the process on.
                    let misshapen =
                        forward |> Array.tryFindIndex (fun e ->
                            let t = aligned customOps e (e.Inputs |> Array.map onTorch)
                            values.[e.Output] <- t
                            not (Torch.hasShape e.Output.ShapeArray t))
                    match misshapen with
                    | Some k -> Error (sprintf "End to end: not run, since operation %d of %d (%s) returns shape %s on TorchSharp and %s here." (k + 1) forward.Length forward.[k].Op.Name (Shape.show (values.[forward.[k].Output].shape |> Array.map int)) (Shape.show forward.[k].Output.ShapeArray))
                    | None ->
                    let y = onTorch program.Output
                    let gradsFor (seed: torch.Tensor) (retain: bool) =
                        if y.requires_grad then
                            let gs = torch.autograd.grad([| y |], leaves, [| seed |], retain, false, true)
                            Array.init leaves.Length (fun i -> Torch.gradOrZero xs.[i].ShapeArray gs.[i])
                        else xs |> Array.map (fun x -> Tensor.zeros x.ShapeArray)
                    let ones = gradsFor (torch.ones_like y) true
                    Ok (Torch.ofTorch y, ones, gradsFor (Torch.toTorch false endToEndAdjoint) false))
            match replayedEndToEnd with
            | Error m ->
                line m
                endToEnd <- false
            | Ok (theirValue, theirGrads, theirRandom) ->
                // Shaped as ours: every forward result was checked above, and the gradients take their inputs' shapes.
                let compare (what: string) (ours: Tensor) (theirs: Tensor) =
                    let a, b = ours.ToArray(), theirs.ToArray()
                    let bad, worst = disagreements rtol atol a b
                    if bad.Count = 0 then true
                    else
                        line (sprintf "End to end, the %s differs at %d of %d elements; worst at %s: ours %s, TorchSharp %s." what bad.Count a.Length (multiIndex ours.ShapeArray worst) (invariant a.[worst]) (invariant b.[worst]))
                        false
                let valueOk = compare "value" program.Output theirValue
                let gradsOk = Array.init xs.Length (fun i -> compare (sprintf "gradient of input %d" i) program.Gradients.[i] theirGrads.[i]) |> Array.forall id
                let randomOk =
                    if not sameRun then
                        let d = "f gave another value when run again: it is not a function of its inputs alone (random draws or state); Verify replays one run, so f must compute the same each call"
                        line ("End to end: " + d + ".")
                        if first.IsNone then first <- Some d
                        false
                    else
                    Array.init xs.Length (fun i -> compare (sprintf "VJP of input %d for a pseudo-random adjoint (untraced, as Autodiff runs it)" i) untraced.[i] theirRandom.[i])
                    |> Array.forall id
                endToEnd <- valueOk && gradsOk && randomOk
                if endToEnd then
                    line (sprintf "End to end under TorchSharp autograd: the value and %s agree, and the VJPs for a pseudo-random adjoint as Autodiff computes them outside a trace." (Shape.count (int64 xs.Length) "gradient" "gradients"))
                elif first.IsNone then
                    line "No single operation differs beyond tolerance: the difference accumulates through the program (rounding); a looser tolerance may be apt."
        else
            line "End to end: not run, since not every operation could be replayed."
        for m in notReplayable do line ("Not replayable: " + m)
        for KeyValue(key, (_, n)) in notes do
            line (sprintf "Documented difference, not a failure: %s, at %s." key (Shape.count (int64 n) "element" "elements"))
        match first with
        | Some d -> line ("First divergence: " + d)
        | None -> ()
        { Passed = first.IsNone && notReplayable.Count = 0 && endToEnd
          OperationsReplayed = replayed
          FirstDivergence = first
          Details = details.ToString().TrimEnd() }
