namespace Functional.Core

open System

/// The standard normal density and distribution computed from x itself, to full double precision:
/// no 1 + erf (which loses everything in the negative tail) and no rounded x/√2 (which the tail
/// amplifies by about x²). The lower tail is Φ(x) = φ(x)·R(−x) with R the Mills ratio, which
/// satisfies R' = t·R − 1; R comes from Laplace's continued fraction beyond t = 8 and from Taylor
/// series (derivatives from that ODE) at correctly rounded anchors every 0.25 below.
[<RequireQualifiedAccess>]
module Special =

    /// 1/√(2π)
    let invSqrt2Pi = 0.3989422804014326779399460599343818684758586311649

    /// exp(−x²/2) with x² split exactly (hi + lo) so the rounding of x² is not amplified.
    let expHalfSquare (x: double) =
        let hi = x * x
        let lo = Math.FusedMultiplyAdd(x, x, -hi)
        Math.Exp(-0.5 * hi) * (1.0 - 0.5 * lo)

    /// φ(x), the standard normal density.
    let normalPdf (x: double) = invSqrt2Pi * expHalfSquare x

    /// Laplace's continued fraction R(t) = 1/(t + 1/(t + 2/(t + …))), evaluated backward.
    let private millsContinued (t: double) (terms: int) =
        let mutable acc = t
        for n in terms .. -1 .. 1 do
            acc <- t + float n / acc
        1.0 / acc

    /// Σ_k R^(k)(t0)·h^k/k! with the derivatives from R' = tR − 1, R^(k+1) = t·R^(k) + k·R^(k−1).
    let private millsTaylor (t0: double) (r0: double) (h: double) (terms: int) =
        let mutable dPrev = r0
        let mutable d = t0 * r0 - 1.0
        let mutable sum = r0
        let mutable coef = h
        sum <- sum + d * coef
        for k in 1 .. terms - 1 do
            let next = t0 * d + float k * dPrev
            dPrev <- d
            d <- next
            coef <- coef * h / float (k + 1)
            sum <- sum + d * coef
        sum

    let private anchorStart = 0.5
    let private anchorStep = 0.25
    let private anchorEnd = 8.0

    /// R(t) at t = 0.5, 0.75, …, 8.0, correctly rounded from a 2,200-bit computation
    /// (tools/gen-mills-anchors.fsx regenerates them from the tests' reference).
    let private anchors =
        [|
          0.8763644564536923 // R(0.5)
          0.7525711790634081 // R(0.75)
          0.6556795424187984 // R(1)
          0.5784303460476311 // R(1.25)
          0.5158156382179634 // R(1.5)
          0.4643069280394422 // R(1.75)
          0.4213692292880545 // R(2)
          0.3851482907984346 // R(2.25)
          0.35426511132979366 // R(2.5)
          0.32767831469055203 // R(2.75)
          0.3045902987101033 // R(3)
          0.28438214674849294 // R(3.25)
          0.26656776896822376 // R(3.5)
          0.250761111443965 // R(3.75)
          0.23665238291356067 // R(4)
          0.2239905946538288 // R(4.25)
          0.21257058044203178 // R(4.5)
          0.20222323663305466 // R(4.75)
          0.19280810471531576 // R(5)
          0.1842076773079702 // R(5.25)
          0.1763229857571027 // R(5.5)
          0.16907015040769408 // R(5.75)
          0.16237766089686745 // R(6)
          0.15618421503397592 // R(6.25)
          0.1504369887362691 // R(6.5)
          0.14509024128913092 // R(6.75)
          0.14010418345305023 // R(7)
          0.13544405309676344 // R(7.25)
          0.13107935580449176 // R(7.5)
          0.12698323748543697 // R(7.75)
          0.1231319632579323 // R(8)
        |]

    /// The Mills ratio R(t) = (1 − Φ(t))/φ(t), for t ≥ 0.375.
    let millsRatio (t: double) =
        if t > anchorEnd then millsContinued t 60
        else
            let j = int (Math.Round((t - anchorStart) / anchorStep))
            let j = max 0 j
            let t0 = anchorStart + float j * anchorStep
            millsTaylor t0 anchors.[j] (t - t0) 30

    /// Φ(x) − 1/2 for |x| ≤ 0.5 by its Taylor series (no cancellation there).
    let private centralSeries (x: double) =
        let z = -0.5 * x * x
        let mutable term = 1.0
        let mutable sum = 1.0
        let mutable n = 1
        while abs term > 1e-18 do
            term <- term * z / float n
            sum <- sum + term / float (2 * n + 1)
            n <- n + 1
        invSqrt2Pi * x * sum

    /// Φ(x), the standard normal distribution function, accurate in both tails.
    let normalCdf (x: double) =
        if Double.IsNaN x then nan
        elif x < -0.5 then
            let t = -x
            if t > 40.0 then 0.0 else millsRatio t * invSqrt2Pi * expHalfSquare x
        elif x <= 0.5 then 0.5 + centralSeries x
        elif x > 40.0 then 1.0
        else 1.0 - millsRatio x * invSqrt2Pi * expHalfSquare x

    /// erfc(z) = 2·Φ(−z·√2). Accurate to the rounding of z·√2 (amplified by about 2z² for large z).
    let erfc (z: double) = 2.0 * normalCdf (-z * 1.4142135623730950488016887242097)

    /// erf(z) = 1 − erfc(z), computed from the side that does not cancel.
    let erf (z: double) = if z < 0.0 then erfc (-z) - 1.0 else 1.0 - erfc z

    /// GELU(x) = x·Φ(x). In the lower tail the factors are ordered so that only the last product can
    /// underflow: the result is non-zero wherever the true value is a representable double.
    let gelu (x: double) =
        if Double.IsNaN x then nan
        elif Double.IsNegativeInfinity x then -0.0
        elif Double.IsPositiveInfinity x then x
        elif x < -0.5 then
            let t = -x
            if t > 40.0 then
                // Here R(t)·t ≈ 1: x·Φ(x) = −(t·R(t))·φ(x).
                -(t * millsContinued t 60) * invSqrt2Pi * expHalfSquare x
            else -(t * millsRatio t * invSqrt2Pi) * expHalfSquare x
        else x * normalCdf x

    /// GELU'(x) = Φ(x) + x·φ(x); in the lower tail φ(x)·(R(t) − t), t = −x, where nothing cancels
    /// except near the derivative's root x ≈ −0.7518 (there the error is absolute, about 1e-17).
    let geluDerivative (x: double) =
        if Double.IsNaN x then nan
        elif Double.IsNegativeInfinity x then 0.0
        elif Double.IsPositiveInfinity x then 1.0
        elif x < -0.5 then
            let t = -x
            let r = if t > anchorEnd then millsContinued t 60 else millsRatio t
            (r - t) * invSqrt2Pi * expHalfSquare x
        else normalCdf x + x * normalPdf x

    /// φ(x)·P(x) for the polynomial with coefficients c0 + c1·x + c2·x² + …, by FMA Horner (one rounding
    /// where P has a simple root such as 2 − x²).
    let phiPoly (coeffs: double[]) (x: double) =
        if Double.IsNaN x then nan
        elif Double.IsInfinity x then 0.0
        else
            let mutable p = 0.0
            for k in coeffs.Length - 1 .. -1 .. 0 do
                p <- Math.FusedMultiplyAdd(p, x, coeffs.[k])
            let e = expHalfSquare x
            if e = 0.0 then 0.0 else p * invSqrt2Pi * e

    /// The coefficients of d/dx [φ(x)·P(x)] = φ(x)·(P'(x) − x·P(x)).
    let phiPolyDerivative (coeffs: double[]) =
        let n = coeffs.Length
        Array.init (n + 1) (fun k ->
            let fromDeriv = if k + 1 < n then float (k + 1) * coeffs.[k + 1] else 0.0
            let fromShift = if k >= 1 && k - 1 < n then coeffs.[k - 1] else 0.0
            fromDeriv - fromShift)

    /// σ(z) = 1/(1 + e^(−z)) without overflow for any z.
    let sigmoid (z: double) =
        if z >= 0.0 then 1.0 / (1.0 + Math.Exp(-z))
        else
            let e = Math.Exp z
            e / (1.0 + e)

    /// √(2/π) and the cubic coefficient of the tanh approximation.
    let sqrt2OverPi = 0.79788456080286535587989211986876
    let geluTanhCubic = 0.044715

    /// The tanh approximation 0.5·x·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), as x·σ(2u):
    /// no cancellation, no overflow, no NaN for finite x.
    let geluTanh (x: double) =
        if Double.IsNaN x then nan
        elif Double.IsInfinity x then (if x > 0.0 then x else -0.0)
        else
            let u = sqrt2OverPi * (x + geluTanhCubic * x * x * x)
            x * sigmoid (2.0 * u)

    /// d/dx of geluTanh: σ(2u) + x·σ(2u)·(1 − σ(2u))·2u', u' = √(2/π)(1 + 3·0.044715x²).
    let geluTanhDerivative (x: double) =
        if Double.IsNaN x then nan
        elif Double.IsInfinity x then (if x > 0.0 then 1.0 else 0.0)
        else
            let u = sqrt2OverPi * (x + geluTanhCubic * x * x * x)
            let s = sigmoid (2.0 * u)
            let sc = sigmoid (-2.0 * u) // 1 − s without cancellation
            let du = sqrt2OverPi * (1.0 + 3.0 * geluTanhCubic * x * x)
            let xs = x * s * sc
            if Double.IsInfinity du || xs = 0.0 then s else s + xs * 2.0 * du
