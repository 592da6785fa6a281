namespace Functional.Core

open System
open Functional

/// Which optimizer's steps made a state.
[<RequireQualifiedAccess>]
type OptimizerFamily =
    | Unstepped
    | Sgd
    | Adam

/// What an optimizer carries from one step to the next: a step count, per parameter its moment buffers (zeros for
/// plain SGD, the velocity for momentum, the first and second moments for Adam; both arrays always hold one buffer
/// per parameter), and which optimizer made it.
type OptimizerState =
    { Steps: int
      First: Tensor[]
      Second: Tensor[]
      Family: OptimizerFamily }

/// Optimizers as pure functions: a step takes parameters, gradients and a state, and returns new parameters and a
/// new state; nothing is mutated. The update formulas are PyTorch's (torch.optim), so results can be compared.
[<RequireQualifiedAccess>]
module Optimizers =

    let private familyName (f: OptimizerFamily) =
        match f with
        | OptimizerFamily.Sgd -> "SGD"
        | OptimizerFamily.Adam -> "Adam"
        | OptimizerFamily.Unstepped -> "no"

    let private check (family: OptimizerFamily) (parameters: Tensor[]) (gradients: Tensor[]) (state: OptimizerState) =
        if isNull parameters then nullArg "parameters"
        if isNull gradients then nullArg "gradients"
        if parameters.Length <> gradients.Length then
            invalidArg "gradients" (sprintf "%s for %s." (Shape.count (int64 gradients.Length) "gradient" "gradients") (Shape.count (int64 parameters.Length) "parameter" "parameters"))
        Arguments.noNullElements "parameters" parameters
        Arguments.noNullElements "gradients" gradients
        for i in 0 .. parameters.Length - 1 do
            if not (Shape.same parameters.[i].ShapeArray gradients.[i].ShapeArray) then
                raise (ShapeException(sprintf "Gradient %d has shape %s; parameter %d has shape %s." i (Shape.show gradients.[i].ShapeArray) i (Shape.show parameters.[i].ShapeArray), "gradients"))
        // A state holds both moment buffers for every parameter (`init` makes them), whatever the optimizer.
        if isNull state.First || isNull state.Second then nullArg "state"
        // Another optimizer's moments would be read as this one's (SGD's velocity as Adam's first moment).
        if state.Family <> OptimizerFamily.Unstepped && state.Family <> family then
            invalidArg "state" (sprintf "The state was made by %s steps; %s's moments are not %s's. Start from a new state, or keep one optimizer per state." (familyName state.Family) (familyName family) (familyName state.Family))
        if state.First.Length <> parameters.Length || state.Second.Length <> parameters.Length then
            invalidArg "state" (sprintf "The state was made for %d parameters; %d are given." state.First.Length parameters.Length)
        // A negative count would make Adam's bias corrections 0 or negative (NaN parameters); the last one cannot be
        // followed (the count would wrap, and SGD would take its velocity for a first step's).
        if state.Steps < 0 || state.Steps = Int32.MaxValue then
            invalidArg "state" (sprintf "The state's step count must lie in [0, %d); got %d." Int32.MaxValue state.Steps)
        // Moments made for other shapes (another model's state) would be read as if they were these parameters'.
        for moments, which in [ state.First, "first"; state.Second, "second" ] do
            for i in 0 .. parameters.Length - 1 do
                if isNull (box moments.[i]) then raise (ArgumentNullException("state", sprintf "The state's %s moment %d is null." which i))
                if not (Shape.same moments.[i].ShapeArray parameters.[i].ShapeArray) then
                    raise (ShapeException(sprintf "The state's %s moment %d has shape %s; parameter %d has shape %s: was the state made for other parameters?" which i (Shape.show moments.[i].ShapeArray) i (Shape.show parameters.[i].ShapeArray), "state"))

    /// One parameter's step by a kernel given the element count and the array for the new parameter, run as an
    /// op's forward runs: each result's array (the moments' too, made inside with `Storage.uninit` and wrapped with
    /// `Tensor.wrapKept`) may be recycled once unreachable. Large plain results are written around the caches
    /// (`Strided.streamsPlain`), as the elementwise ops' are.
    let private step (p: Tensor) (kernel: int -> double[] -> unit) =
        Tensor.outermost <| fun () ->
            let po = Storage.uninit p.Numel
            kernel p.Numel po
            Tensor.wrap p.ShapeArray po

    /// The tensors whose arrays a kernel read: reachable until it is done, so none is recycled under it, and refused
    /// (ObjectDisposedException) if a scope of theirs ended on another thread while it read them.
    let private keep (tensors: Tensor[]) = for t in tensors do t.CheckLive()

    /// The state before the first step.
    let init (parameters: Tensor[]) : OptimizerState =
        if isNull parameters then nullArg "parameters"
        Arguments.noNullElements "parameters" parameters
        { Steps = 0
          First = parameters |> Array.map (fun p -> Tensor.zeros p.ShapeArray)
          Second = parameters |> Array.map (fun p -> Tensor.zeros p.ShapeArray)
          Family = OptimizerFamily.Unstepped }

    let private unitInterval (name: string) (v: float) = if not (v >= 0.0 && v < 1.0) then invalidArg name (sprintf "%s must lie in [0, 1); got %g." name v)
    let private nonNegative (name: string) (v: float) = if not (v >= 0.0 && Double.IsFinite v) then invalidArg name (sprintf "%s must be ≥ 0 and finite; got %g." name v)

    /// SGD: g ← g + λ·p; with momentum μ, b ← μ·b + g (b = g at the first step) and g ← b, or g + μ·b with
    /// Nesterov; p ← p − η·g.
    let sgd (learningRate: float) (momentum: float) (nesterov: bool) (weightDecay: float)
            (parameters: Tensor[]) (gradients: Tensor[]) (state: OptimizerState) : Tensor[] * OptimizerState =
        nonNegative "learningRate" learningRate
        nonNegative "momentum" momentum
        nonNegative "weightDecay" weightDecay
        if nesterov && momentum = 0.0 then invalidArg "nesterov" "Nesterov momentum needs a momentum > 0."
        check OptimizerFamily.Sgd parameters gradients state
        let coefficients = Functional.Kernels.OptimizerSteps.Sgd(learningRate, weightDecay, momentum, (state.Steps = 0), nesterov)
        let steps = Array.init parameters.Length (fun i ->
            let p, g = parameters.[i], gradients.[i]
            if momentum = 0.0 then
                step p (fun n po -> Functional.Kernels.OptimizerSteps.SgdStep(coefficients, p.Data, g.Data, null, po, null, n, Strided.streamsPlain n); keep [| p; g |]), state.First.[i]
            else
                let b = state.First.[i]
                let velocity = ref Unchecked.defaultof<Tensor>
                step p (fun n po ->
                    let bo = Storage.uninit n
                    let previous = if state.Steps = 0 then null else b.Data
                    Functional.Kernels.OptimizerSteps.SgdStep(coefficients, p.Data, g.Data, previous, po, bo, n, Strided.streamsPlain n)
                    keep [| p; g; b |]
                    velocity.Value <- Tensor.wrapKept p.ShapeArray bo), velocity.Value)
        steps |> Array.map fst, { state with Steps = state.Steps + 1; First = steps |> Array.map snd; Second = Array.copy state.Second; Family = OptimizerFamily.Sgd }

    /// Adam (decoupled = false: weight decay added to the gradient, as torch.optim.Adam) or AdamW (decoupled:
    /// p ← p·(1 − η·λ) first). m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − η·m̂/(√v̂ + ε) with
    /// m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ).
    let adam (decoupled: bool) (learningRate: float) (beta1: float) (beta2: float) (epsilon: float) (weightDecay: float)
             (parameters: Tensor[]) (gradients: Tensor[]) (state: OptimizerState) : Tensor[] * OptimizerState =
        nonNegative "learningRate" learningRate
        unitInterval "beta1" beta1
        unitInterval "beta2" beta2
        nonNegative "epsilon" epsilon
        nonNegative "weightDecay" weightDecay
        check OptimizerFamily.Adam parameters gradients state
        let t = state.Steps + 1
        let c1 = 1.0 - Math.Pow(beta1, float t)
        let c2 = 1.0 - Math.Pow(beta2, float t)
        let keepFactor = if decoupled then 1.0 - learningRate * weightDecay else 1.0
        let l2 = if decoupled then 0.0 else weightDecay
        let coefficients = Functional.Kernels.OptimizerSteps.Adam(learningRate, beta1, beta2, epsilon, c1, c2, l2, keepFactor)
        let steps = Array.init parameters.Length (fun i ->
            let p, g, m, v = parameters.[i], gradients.[i], state.First.[i], state.Second.[i]
            let moments = ref (Unchecked.defaultof<Tensor>, Unchecked.defaultof<Tensor>)
            let p' =
                step p (fun n po ->
                    let mo, vo = Storage.uninit n, Storage.uninit n
                    Functional.Kernels.OptimizerSteps.AdamStep(coefficients, p.Data, g.Data, m.Data, v.Data, po, mo, vo, n, Strided.streamsPlain n)
                    keep [| p; g; m; v |]
                    moments.Value <- (Tensor.wrapKept p.ShapeArray mo, Tensor.wrapKept p.ShapeArray vo))
            p', moments.Value)
        steps |> Array.map fst, { Steps = t; First = steps |> Array.map (snd >> fst); Second = steps |> Array.map (snd >> snd); Family = OptimizerFamily.Adam }

    /// The gradients scaled by min(1, maxNorm/(‖g‖ + 1e-6)) with ‖g‖ the 2-norm over all of them together, and that norm.
    let clipByNorm (maxNorm: float) (gradients: Tensor[]) : Tensor[] * float =
        if isNull gradients then nullArg "gradients"
        Arguments.noNullElements "gradients" gradients
        // ∞ is allowed (no clipping: the norm alone), as torch allows it.
        if not (maxNorm > 0.0) then invalidArg "maxNorm" (sprintf "maxNorm must be positive; got %g." maxNorm)
        let plain = gradients |> Array.sumBy (fun g -> Tensor.dot g g) |> Math.Sqrt
        // Where Σg² overflowed (|g| from about 1e154: the norm was ∞ and every gradient became 0) or underflowed, the
        // sum is taken again over g divided by its largest magnitude; elsewhere the bits are the plain sum's.
        let norm =
            if Double.IsNaN plain || (plain >= 1e-140 && plain < infinity) then plain
            else
                let largest = gradients |> Array.fold (fun m g -> Tensor.toArray g |> Array.fold (fun a v -> max a (abs v)) m) 0.0
                if largest = 0.0 || Double.IsInfinity largest then largest
                else
                    // A power of two near 1/largest (exact to apply and to undo; finite for subnormal largest).
                    let f = Math.ScaleB(1.0, max -1022 (min 1023 (-(Math.ILogB largest))))
                    (gradients |> Array.sumBy (fun g -> let s = Tensor.scale f g in Tensor.dot s s) |> Math.Sqrt) / f
        // maxNorm = ∞ leaves the gradients as they are, even where the norm is ∞ or NaN (∞/∞ would make every one NaN).
        let k = if Double.IsPositiveInfinity maxNorm then 1.0 else min 1.0 (maxNorm / (norm + 1e-6))
        // A new array either way: the caller's, returned, would change with it.
        (if k = 1.0 then Array.copy gradients else gradients |> Array.map (Tensor.scale k)), norm
