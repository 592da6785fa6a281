namespace Functional.Core

open System
open Functional

/// Normalisation along the last axis, fused per row.
[<RequireQualifiedAccess>]
module Normalization =

    /// Rows and row length of a tensor normalised along its last axis.
    let private rowsOf (t: Tensor) =
        let shape = t.ShapeArray
        let n = shape.[shape.Length - 1]
        (if n = 0 then 0 else t.Numel / n), n

    /// The VJP op; `saved` may hold each row's r computed by the forward pass from one tensor x (used only for that
    /// very tensor: the same bits as computing r again).
    let rec private vjpWith (saved: struct (Tensor * double[]) voption) (epsilon: float) (x: Value) (y: Value) (g: Value) : Value =
        let axis = x.Shape.Length - 1
        let mean v = Reduction.meanAxes [| axis |] true v
        // The rules' pieces as ops (second order and up): x − μ, var + ε, and h = g − mean g − y·mean(g·y).
        let centred (x: Value) = Arithmetic.sub x (mean x)
        let variance (c: Value) = Arithmetic.addScalar epsilon (mean (Arithmetic.square c))
        let h (y: Value) (g: Value) = Arithmetic.sub (Arithmetic.sub g (mean g)) (Arithmetic.mul y (mean (Arithmetic.mul g y)))
        // Through y: −r·(a + b); through x (r's dependence on it): −r³·s·v.
        let throughY (x: Value) (a: Value) (b: Value) =
            Arithmetic.neg (Arithmetic.mul (Elementwise.pow -0.5 (variance (centred x))) (Arithmetic.add a b))
        let throughX (c: Value) (s: Value) (v: Value) = Arithmetic.neg (Arithmetic.mul (Arithmetic.mul (Elementwise.pow -1.5 (variance c)) s) v)
        Op.apply
            (Op.withAttributes [ "epsilon", box epsilon ] <| Op.create "layerNormVjp"
                (fun xs ->
                    let x, y, g = xs.[0], xs.[1], xs.[2]
                    let rows, n = rowsOf x
                    let z = Strided.fresh x.Numel
                    let rstd = match saved with ValueSome (struct (source, r)) when obj.ReferenceEquals(source, x) -> r | _ -> null
                    Functional.Kernels.LayerNorm.Backward(x.Data, y.Data, g.Data, z, rows, n, epsilon, rstd)
                    Tensor.wrap x.ShapeArray z)
                (fun xs _ u i ->
                    let x, y, g = xs.[0], xs.[1], xs.[2]
                    match i with
                    | 2 -> vjpWith ValueNone epsilon x y u
                    | 1 -> throughY x (Arithmetic.mul u (mean (Arithmetic.mul g y))) (Arithmetic.mul g (mean (Arithmetic.mul u y)))
                    | _ -> let c = centred x in throughX c (mean (Arithmetic.mul u (h y g))) c)
                (fun xs _ i t ->
                    let x, y, g = xs.[0], xs.[1], xs.[2]
                    match i with
                    | 2 -> vjpWith ValueNone epsilon x y t
                    | 1 -> throughY x (Arithmetic.mul t (mean (Arithmetic.mul g y))) (Arithmetic.mul y (mean (Arithmetic.mul g t)))
                    | _ -> let c = centred x in throughX c (mean (Arithmetic.mul c t)) (h y g)))
            [| x; y; g |]

    let internal layerNormVjp (epsilon: float) (x: Value) (y: Value) (g: Value) : Value = vjpWith ValueNone epsilon x y g

    let layerNorm (epsilon: float) (x: Value) : Value =
        if x.Shape.Length = 0 then raise (ShapeException("layerNorm normalises the last axis; a scalar has none.", "x"))
        if not (epsilon >= 0.0) || Double.IsPositiveInfinity epsilon then
            invalidArg "epsilon" (sprintf "layerNorm: epsilon is %g; it must be finite and at least 0." epsilon)
        let keep = match x with Reverse _ -> true | _ -> false
        let saved = ref ValueNone
        Op.apply
            (Op.withAttributes [ "epsilon", box epsilon ] <| Op.create "layerNorm"
                (fun xs ->
                    let x = xs.[0]
                    let rows, n = rowsOf x
                    let y = Strided.fresh x.Numel
                    // Each row's r, kept for the pullback (rows doubles: small beside the rows themselves).
                    let rstd = if keep then Array.zeroCreate rows else null
                    Functional.Kernels.LayerNorm.Forward(x.Data, y, rows, n, epsilon, rstd)
                    if keep then saved.Value <- ValueSome(struct (x, rstd))
                    Tensor.wrap x.ShapeArray y)
                (fun xs out adj _ -> vjpWith saved.Value epsilon xs.[0] out adj)
                (fun xs out _ t -> vjpWith saved.Value epsilon xs.[0] out t))
            [| x |]
