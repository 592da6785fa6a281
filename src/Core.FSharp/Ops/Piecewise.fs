namespace Functional.Core

open System

/// Functions with kinks, each taking the KinkConvention that fixes its derivative at the kink: the right
/// derivative, the left one, or their mean. Between kinks each is smooth and its derivative exact.
[<RequireQualifiedAccess>]
module Piecewise =

    /// The derivative at a kink from its one-sided derivatives.
    let kinkValue (convention: KinkConvention) (left: double) (right: double) =
        match convention with
        | KinkConvention.LeftDerivative -> left
        | KinkConvention.Midpoint -> (left + right) / 2.0
        | _ -> right

    /// g·slope(x) with a slope that is constant between kinks: the VJP and JVP of a piecewise-linear op.
    let private slopeTimes (slope: double -> double) (x: Value) (g: Value) = Arithmetic.mul g (Elementwise.constantOf slope x)

    /// |x|. d/dx = sign x, and at 0 the convention's value: 1 (right), −1 (left) or 0 (midpoint). NaN gives NaN.
    let abs (convention: KinkConvention) (x: Value) =
        let slope (v: double) = if v > 0.0 then 1.0 elif v < 0.0 then -1.0 elif Double.IsNaN v then v else kinkValue convention -1.0 1.0
        Op.elementwiseWith "abs" [ "convention", box convention ] (fun t -> Tensor.mapInline Math.Abs t) (fun x _ g -> slopeTimes slope x g) x

    /// min(max(x, lo), hi). d/dx = 1 inside (lo, hi), 0 outside; at x = lo the convention picks 0 (left), 1 (right)
    /// or 1/2, at x = hi 1 (left), 0 (right) or 1/2. NaN gives NaN.
    let clamp (convention: KinkConvention) (lo: double) (hi: double) (x: Value) =
        if Double.IsNaN lo || Double.IsNaN hi || lo > hi then
            invalidArg "lo" (sprintf "clamp needs lo ≤ hi; got lo = %g, hi = %g." lo hi)
        let slope (v: double) =
            if v > lo && v < hi then 1.0
            elif v < lo || v > hi then 0.0
            elif Double.IsNaN v then v
            elif lo = hi then kinkValue convention 0.0 0.0
            elif v = lo then kinkValue convention 0.0 1.0
            else kinkValue convention 1.0 0.0
        Op.elementwiseWith "clamp" [ "min", box lo; "max", box hi; "convention", box convention ]
            (fun t -> Tensor.mapInline (fun v -> if v < lo then lo elif v > hi then hi else v) t) (fun x _ g -> slopeTimes slope x g) x

    /// The weight of a (first = true) or b in max(a, b) or min(a, b), over the broadcast shape: 1 where that side
    /// wins, 0 where it loses, at a tie the convention's value (the one-sided derivatives are 0 and 1), NaN where
    /// either is NaN.
    let private weights (isMax: bool) (convention: KinkConvention) (first: bool) (a: Value) (b: Value) =
        let tie = kinkValue convention 0.0 1.0
        Value.constant (
            Tensor.map2
                (fun x y ->
                    if Double.IsNaN x || Double.IsNaN y then nan
                    elif x = y then tie
                    else
                        let aWins = if isMax then x > y else x < y
                        if aWins = first then 1.0 else 0.0)
                a.Tensor b.Tensor)

    let private extremum (isMax: bool) (convention: KinkConvention) (a: Value) (b: Value) =
        let pick (x: double) (y: double) = if Double.IsNaN x || Double.IsNaN y then nan elif isMax then Math.Max(x, y) else Math.Min(x, y)
        Op.apply
            (Op.withAttributes [ "convention", box convention ] <| Op.create (if isMax then "maximum" else "minimum")
                (fun xs -> Tensor.map2 pick xs.[0] xs.[1])
                (fun xs _ adj i -> Arithmetic.sumTo xs.[i].Shape (Arithmetic.mul adj (weights isMax convention (i = 0) xs.[0] xs.[1])))
                (fun xs _ i t -> Arithmetic.mul t (weights isMax convention (i = 0) xs.[0] xs.[1])))
            [| a; b |]

    /// max(a, b) elementwise with broadcasting. The gradient goes to the larger; at a tie each side's derivative
    /// is the convention's: 1/2 each (midpoint, as PyTorch and JAX split it), 1 each (right) or 0 each (left).
    /// NaN in either gives NaN.
    let maximum (convention: KinkConvention) (a: Value) (b: Value) = extremum true convention a b

    /// min(a, b) elementwise with broadcasting; ties as in `maximum`.
    let minimum (convention: KinkConvention) (a: Value) (b: Value) = extremum false convention a b

    /// ELU: x for x > 0, α·(eˣ − 1) for x ≤ 0. d/dx = 1 (x > 0), α·eˣ (x < 0), and at 0 the convention's value
    /// between α (left) and 1 (right). The slope is written with ops below 0, so every order follows.
    let elu (alpha: double) (convention: KinkConvention) (x: Value) =
        let constantPart (v: double) = if v > 0.0 then 1.0 elif v < 0.0 then 0.0 elif Double.IsNaN v then v else kinkValue convention alpha 1.0
        let below (v: double) = if v < 0.0 then alpha else 0.0
        Op.elementwiseWith "elu" [ "alpha", box alpha; "convention", box convention ]
            (fun t -> Tensor.mapInline (fun v -> if v > 0.0 then v elif Double.IsNaN v then v else alpha * Elementwise.expm1Scalar v) t)
            (fun x _ g ->
                // slope = c(x) + [x < 0]·α·eˣ, with c the constant part (1 above 0, the kink's value at 0).
                let slope = Arithmetic.add (Elementwise.constantOf constantPart x) (Arithmetic.mul (Elementwise.constantOf below x) (Elementwise.exp x))
                Arithmetic.mul g slope)
            x
