namespace Functional.Core

open System
open Functional

/// Elementwise losses fused into one pass each way.
[<RequireQualifiedAccess>]
module Losses =

    /// clamp(d, −δ, δ)'s derivative: 1 inside, 0 outside, ½ at ±δ; NaN for NaN.
    let private clampSlope (delta: double) (d: double) =
        let z = Math.Abs d
        if z < delta then 1.0 elif z > delta then 0.0 elif z = delta then 0.5 else nan

    /// The negation for the target's part (index 1), the value itself for the prediction's.
    let private signed (i: int) (v: Value) = if i = 1 then Arithmetic.neg v else v

    let rec internal huberSlope (delta: double) (prediction: Value) (target: Value) (g: Value) : Value =
        // Input i's part of an adjoint or tangent v (the op is linear in g; through d it is g·clamp′(d)·v), the same
        // for the VJP and the JVP: the Jacobian in each input is diagonal.
        let rule (xs: Value[]) (i: int) (v: Value) =
            if i = 2 then huberSlope delta xs.[0] xs.[1] v
            else
                let slope = Op.constantResult "huberClampSlope" [ "delta", box delta ] (fun ts -> Tensor.mapInline (clampSlope delta) ts.[0]) [| Arithmetic.sub xs.[0] xs.[1] |]
                signed i (Arithmetic.mul v (Arithmetic.mul xs.[2] slope))
        Op.apply
            (Op.withAttributes [ "delta", box delta ] <| Op.create "huberSlope"
                (fun xs ->
                    let p, t, g = xs.[0], xs.[1], xs.[2]
                    let out = Strided.fresh p.Numel
                    let gs = if g.IsUniform then null else g.Data
                    Functional.Kernels.Huber.Slope(p.Data, t.Data, gs, (if g.IsUniform then g.Fill else 0.0), out, p.Numel, delta)
                    GC.KeepAlive xs
                    Tensor.wrap p.ShapeArray out)
                (fun xs _ u i -> rule xs i u)
                (fun xs _ i v -> rule xs i v))
            [| prediction; target; g |]

    let huber (delta: double) (prediction: Value) (target: Value) : Value =
        if not (delta > 0.0) then invalidArg "delta" (sprintf "huber: delta is %g; it must be positive." delta)
        if not (Shape.same prediction.Shape target.Shape) then
            raise (ShapeException(sprintf "huber: the prediction has shape %s, the target %s; they must be the same." (Shape.show prediction.Shape) (Shape.show target.Shape), "target"))
        Op.apply
            (Op.withAttributes [ "delta", box delta ] <| Op.create "huber"
                (fun xs ->
                    let p, t = xs.[0], xs.[1]
                    let out = Strided.fresh p.Numel
                    Functional.Kernels.Huber.Value(p.Data, t.Data, out, p.Numel, delta)
                    GC.KeepAlive xs
                    Tensor.wrap p.ShapeArray out)
                (fun xs _ adj i -> signed i (huberSlope delta xs.[0] xs.[1] adj))
                (fun xs _ i v -> signed i (huberSlope delta xs.[0] xs.[1] v)))
            [| prediction; target |]

    let rec internal bceSlope (logits: Value) (targets: Value) (g: Value) : Value =
        // Input i's part of an adjoint or tangent v (the op is linear in g; the Jacobian in each input is diagonal):
        // through the logits g·σ(x)σ(−x)·v, through the targets −g·v, through g this op again.
        let rule (xs: Value[]) (i: int) (v: Value) =
            match i with
            | 2 -> bceSlope xs.[0] xs.[1] v
            | 1 -> Arithmetic.neg (Arithmetic.mul v xs.[2])
            | _ ->
                Arithmetic.mul v (Arithmetic.mul xs.[2] (Elementwise.sigmoidSlope xs.[0]))
        Op.apply
            (Op.create "bceSlope"
                (fun xs ->
                    let x, t, g = xs.[0], xs.[1], xs.[2]
                    // Without the four-lane kernels, the ops it fuses (their scalar paths), for the same bits.
                    if not Cpu.fourLanes then (Arithmetic.mul (Value.constant g) (Arithmetic.sub (Elementwise.sigmoid (Value.constant x)) (Value.constant t))).Tensor
                    else
                        let out = LogisticVector.sigmoidMinusScaled x.Data t.Data (if g.IsUniform then null else g.Data) (if g.IsUniform then g.Fill else 0.0)
                        GC.KeepAlive xs
                        Tensor.wrap x.ShapeArray out)
                (fun xs _ u i -> rule xs i u)
                (fun xs _ i v -> rule xs i v))
            [| logits; targets; g |]

    /// (relu x − x·t) + softplus(−|x|): softplus(x) − x·t with ln(1 + e^(−|x|)) added last (`bceWithLogits`).
    let private composedBce (x: Value) (t: Value) =
        Arithmetic.add (Arithmetic.sub (Activation.relu x) (Arithmetic.mul x t)) (Activation.softplus (Arithmetic.neg (Piecewise.abs KinkConvention.Midpoint x)))

    let bceWithLogits (logits: Value) (targets: Value) : Value =
        if not (Shape.same logits.Shape targets.Shape) then
            raise (ShapeException(sprintf "bceWithLogits: the logits have shape %s, the targets %s; they must be the same." (Shape.show logits.Shape) (Shape.show targets.Shape), "targets"))
        // The targets' part of an adjoint or tangent v: −x·v.
        let ofTargets (xs: Value[]) (v: Value) = Arithmetic.neg (Arithmetic.mul v xs.[0])
        Op.apply
            (Op.create "bceWithLogits"
                (fun xs ->
                    let x, t = xs.[0], xs.[1]
                    if not Cpu.fourLanes then
                        let xv = Value.constant x
                        (composedBce xv (Value.constant t)).Tensor
                    else
                        let out = LogisticVector.softplusMinusProduct x.Data t.Data
                        GC.KeepAlive xs
                        Tensor.wrap x.ShapeArray out)
                (fun xs _ adj i -> if i = 0 then bceSlope xs.[0] xs.[1] adj else ofTargets xs adj)
                (fun xs _ i v -> if i = 0 then bceSlope xs.[0] xs.[1] v else ofTargets xs v))
            [| logits; targets |]
