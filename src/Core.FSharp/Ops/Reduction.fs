namespace Functional.Core

open System

/// Sums and means over all or some axes.
[<RequireQualifiedAccess>]
module Reduction =

    /// Σ over the given axes. VJP: the adjoint broadcast back along them. JVP: the tangent summed.
    let rec sumAxes (axes: int[]) (keepDims: bool) (x: Value) : Value =
        let src = x.Tensor.ShapeArray
        let axes = Shape.normaliseAxes src.Length axes
        // Loops, not Array.mapi with closures: every loss ends in a sum.
        let kept = Array.copy src
        for a in axes do kept.[a] <- 1
        Op.apply
            (Op.withAttributes [ "axes", box axes; "keepDims", box keepDims ] <| Op.create "sum"
                (fun xs -> Tensor.sumAxes axes keepDims xs.[0])
                (fun _ _ adj _ -> Arithmetic.broadcastTo src (Layout.reshape kept adj))
                (fun _ _ _ t -> sumAxes axes keepDims t))
            [| x |]

    /// Σ of every element, a scalar.
    let sum (x: Value) = sumAxes [| 0 .. x.Tensor.Rank - 1 |] false x

    /// Mean over the given axes.
    let meanAxes (axes: int[]) (keepDims: bool) (x: Value) =
        let shape = x.Shape
        let axes = Shape.normaliseAxes shape.Length axes
        // A float: an empty tensor's other axes may make this product exceed an int (it is exact below 2⁵³, and a
        // non-empty tensor's is below 2³¹).
        let n = axes |> Array.fold (fun acc a -> acc * float shape.[a]) 1.0
        // A mean of nothing is NaN and depends on no element: a constant (a scale by 1/0 would make its tangent NaN).
        if n = 0.0 then Value.constant (Tensor.map (fun _ -> nan) (sumAxes axes keepDims (Value.constant x.Tensor)).Tensor)
        // Divided by n, not scaled by 1/n (rounded): the mean of n equal values is that value, as NumPy and PyTorch
        // give (49·fl(1/49) ≠ 1). The adjoint is divided the same way.
        else
            let count = Value.constant (Tensor.scalar n)
            let mean = Arithmetic.div (sumAxes axes keepDims x) count
            if mean.Tensor.Data |> Array.forall Double.IsFinite then mean
            else
                // Finite values whose sum overflowed (near 1e308): summed scaled by 2⁻ˢ with 2ˢ ≥ 2n, so the sum stays
                // finite, then scaled back, with the same derivative 1/n. Each mean keeps its own value where it is
                // finite (`scaled + (mean − scaled)`: 0 where both agree, exact where the scaling lost a subnormal's
                // bits) and takes the scaled one elsewhere: finite where the values are, ∞ or NaN where they hold one.
                // The correction is an operation of a traced program, computed from both.
                let s = Math.Ceiling(Math.Log2 n) + 1.0
                let scaled = Arithmetic.scale (Math.Pow(2.0, s)) (Arithmetic.div (sumAxes axes keepDims (Arithmetic.scale (Math.Pow(2.0, -s)) x)) count)
                let own =
                    Op.constantResult "meanCorrection" []
                        (fun ts -> Tensor.map2 (fun m sc -> if Double.IsFinite m && Double.IsFinite sc then m - sc else 0.0) ts.[0] ts.[1]) [| mean; scaled |]
                Arithmetic.add scaled own

    /// Mean of every element, a scalar.
    let mean (x: Value) = meanAxes [| 0 .. x.Tensor.Rank - 1 |] false x
