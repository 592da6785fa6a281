namespace Functional.Core

open System
open System.Runtime.Intrinsics

/// Activations. Values and derivatives at ±0, ±∞ and NaN are documented per function.
[<RequireQualifiedAccess>]
module Activation =

    /// The slope of Leaky ReLU at v under a convention.
    let leakyReluSlope (alpha: double) (convention: KinkConvention) (v: double) =
        if v > 0.0 then 1.0
        elif v < 0.0 then alpha
        elif Double.IsNaN v then nan
        else
            match convention with
            | KinkConvention.LeftDerivative -> alpha
            | KinkConvention.Midpoint -> (1.0 + alpha) / 2.0
            | KinkConvention.RightDerivative -> 1.0
            | c -> raise (ArgumentOutOfRangeException("convention", c, "Not a KinkConvention: RightDerivative, LeftDerivative or Midpoint."))

    /// g·LeakyReLU'(x) under a convention, one pass (the bits of a slope tensor times g, without its second pass and
    /// temporary): the VJP and JVP of Leaky ReLU, and of ReLU (α = 0, the left derivative at 0:
    /// slopes 1, 0 and 0 at the kink, NaN at NaN) and |x| (α = −1).
    let private slopeScaled (alpha: double) (convention: KinkConvention) (saved: struct (Tensor * Tensor) voption) (x: Value) (g: Value) : Value =
        let kinkSlope = leakyReluSlope alpha convention 0.0
        let slopes = Functional.Kernels.SlopeBits.Slopes.Leaky(Functional.Kernels.SlopeBits.Form.LeakyRelu, alpha, kinkSlope)
        Slopes.piecewiseScaled "slopeScaled" [ "alpha", box alpha; "convention", box convention ] slopes
            (fun x g ->
                let zero = Vector256<double>.Zero
                let one = Vector256.Create(1.0)
                let a = Vector256.Create(alpha)
                let kink = Vector256.Create(kinkSlope)
                let nan4 = Vector256.Create(nan)
                Lanes.zip
                    (fun x g ->
                        g * Vector256.ConditionalSelect(Vector256.GreaterThan(x, zero), one,
                                Vector256.ConditionalSelect(Vector256.LessThan(x, zero), a, Vector256.ConditionalSelect(Vector256.Equals(x, x), kink, nan4))))
                    (fun x g -> g * leakyReluSlope alpha convention x) x g)
            saved x g

    let internal leakySlopesOp (name: string) (attributes: (string * obj) list) (alpha: double) (convention: KinkConvention) (form: Functional.Kernels.SlopeBits.Form) (x: Value) =
        let slopes = Functional.Kernels.SlopeBits.Slopes.Leaky(form, alpha, leakyReluSlope alpha convention 0.0)
        Slopes.piecewiseOp name attributes slopes (slopeScaled alpha convention) x

    let relu (x: Value) = leakySlopesOp "relu" [] 0.0 KinkConvention.LeftDerivative Functional.Kernels.SlopeBits.Form.Relu x

    let leakyReluWith (alpha: double) (convention: KinkConvention) (x: Value) =
        if Double.IsNaN alpha then invalidArg "alpha" "Leaky ReLU's slope must be a number; got NaN."
        // α = 0 is ReLU, whose value is 0 below 0: α·x would give NaN at −∞ (and −0 elsewhere).
        let form = if alpha = 0.0 then Functional.Kernels.SlopeBits.Form.Relu else Functional.Kernels.SlopeBits.Form.LeakyRelu
        leakySlopesOp "leakyRelu" [ "alpha", box alpha; "convention", box convention ] alpha convention form x

    /// Leaky ReLU with the seed's convention at 0 (derivative 1).
    let leakyRelu (alpha: double) (x: Value) = leakyReluWith alpha KinkConvention.RightDerivative x

    /// φ(x)·P(x): closed under differentiation, d/dx = φ(x)·(P'(x) − x·P(x)).
    let rec private phiPoly (coeffs: double[]) (x: Value) : Value =
        Op.elementwiseWith "phiPoly" [ "coefficients", box coeffs ] (fun t -> Tensor.mapInline (Special.phiPoly coeffs) t)
            (fun x _ g -> Arithmetic.mul g (phiPoly (Special.phiPolyDerivative coeffs) x)) x

    let private geluParts : FusedOp.Fused =
        { Name = "gelu"; ScaledName = "geluScaled"; Attributes = []; Vector = Cpu.lanes
          WithDerivative = ValueSome GeluVector.geluWithDerivative; Value = GeluVector.gelu; Scalar = (fun t -> Tensor.mapInline Special.gelu t)
          Kernel = GeluVector.scaledDerivative; Derivative = Special.geluDerivative; Second = phiPoly [| 2.0; 0.0; -1.0 |] }

    /// Exact GELU x·Φ(x), computed from x itself (no 1 + erf): full precision in both tails.
    /// d/dx = Φ(x) + x·φ(x); d²/dx² = φ(x)·(2 − x²).
    /// GELU(±0) = ±0, GELU(+∞) = +∞, GELU(−∞) = −0, GELU(NaN) = NaN; derivative 1/2 at 0, 1 at +∞, 0 at −∞.
    /// On a reverse-mode tape the vector path computes GELU' with the value (sharing exp(−x²/2) and the
    /// Mills ratio) and keeps it for the pullback, which is then one multiplication.
    let gelu (x: Value) =
        FusedOp.elementwise geluParts x

    /// Beyond ±30 every derivative of the tanh form past the first is 0 in float64 (σ(2u)·σ(−2u) < e^(−1900)).
    let private geluTanhFlat = 30.0

    /// The second derivative of the tanh form, as a composite of differentiable ops (so higher orders follow):
    /// with s = σ(2u), s̄ = σ(−2u): s·s̄·(4u' + x·(2u'' + 4u'²·(s̄ − s))). Its argument is clamped to ±30 first,
    /// where the value is already 0: past about 1e77, 4u'² overflows and 0·∞ would make it NaN.
    let private geluTanhSecond (x: Value) =
        let x = Slopes.flatBeyond geluTanhFlat x
        let c = Special.sqrt2OverPi
        let k = Special.geluTanhCubic
        let x2 = Arithmetic.mul x x
        let u = Arithmetic.scale c (Arithmetic.add x (Arithmetic.scale k (Arithmetic.mul x2 x)))
        let du = Arithmetic.scale c (Arithmetic.addScalar 1.0 (Arithmetic.scale (3.0 * k) x2))
        let ddu = Arithmetic.scale (6.0 * c * k) x
        let s = Elementwise.sigmoid (Arithmetic.scale 2.0 u)
        let sc = Elementwise.sigmoid (Arithmetic.scale -2.0 u)
        let inner =
            Arithmetic.add
                (Arithmetic.scale 4.0 du)
                (Arithmetic.mul x (Arithmetic.add (Arithmetic.scale 2.0 ddu) (Arithmetic.mul (Arithmetic.scale 4.0 (Arithmetic.mul du du)) (Arithmetic.sub sc s))))
        Arithmetic.mul (Arithmetic.mul s sc) inner

    let private geluTanhParts : FusedOp.Fused =
        { Name = "geluTanh"; ScaledName = "geluTanhScaled"; Attributes = []; Vector = Cpu.fourLanes
          WithDerivative = ValueSome GeluTanhVector.withDerivative; Value = GeluTanhVector.value; Scalar = (fun t -> Tensor.mapInline Special.geluTanh t)
          Kernel = GeluTanhVector.scaled; Derivative = Special.geluTanhDerivative; Second = geluTanhSecond }

    /// The tanh approximation 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) computed as x·σ(2u) with 2u carried in
    /// two parts: no cancellation, overflow or NaN for finite x, and the tail keeps its digits.
    /// d/dx = σ(2u) + x·σ(2u)·σ(−2u)·2u', u' = √(2/π)(1 + 3·0.044715x²). With AVX2 and FMA four lanes at a time
    /// (the vector exponential); on a reverse-mode tape the derivative comes with the value, as for `gelu`.
    let geluTanh (x: Value) =
        FusedOp.elementwise geluTanhParts x

    /// softplus(x) = ln(1 + eˣ), as max(x, 0) + ln(1 + e^(−|x|)) (no overflow; ln(1 + e) keeps a tiny e's digits).
    let private softplusScalar (x: double) =
        let e = Math.Exp(-abs x)
        let u = 1.0 + e
        // ln(1 + e) from the rounded u, corrected by e/(u − 1) (Goldberg): a few ulp for every e.
        let l = if u = 1.0 then e else Math.Log u * (e / (u - 1.0))
        max x 0.0 + l

    let private softplusParts : FusedOp.Fused =
        { Name = "softplus"; ScaledName = "softplusScaled"; Attributes = []; Vector = Cpu.fourLanes
          WithDerivative = ValueSome LogisticVector.softplusWithDerivative; Value = LogisticVector.softplus
          Scalar = (fun t -> Tensor.mapInline softplusScalar t)
          Kernel = LogisticVector.softplusScaled; Derivative = Special.sigmoid; Second = Elementwise.sigmoidSlope }

    /// softplus(x) = ln(1 + eˣ), a smooth ReLU. d/dx = σ(x), so every order follows from σ's.
    /// softplus(+∞) = +∞, softplus(−∞) = 0, NaN gives NaN.
    let softplus (x: Value) =
        FusedOp.elementwise softplusParts x

    /// SiLU's second derivative σ(x)·(1 − σ(x))·(2 + x·(1 − 2σ(x))) as σ(x)·σ(−x)·(2 + x·(σ(−x) − σ(x))), a
    /// composite of differentiable ops (σ(−x) keeps the digits 1 − σ(x) cancels for large x). Its argument is clamped
    /// to ±800 first, where σ(x)·σ(−x) is already 0: at ±∞ the formula would be 0·∞.
    let private siluSecond (x: Value) =
        let x = Slopes.flatBeyond 800.0 x
        let s = Elementwise.sigmoid x
        let sn = Elementwise.sigmoid (Arithmetic.neg x)
        Arithmetic.mul (Arithmetic.mul s sn) (Arithmetic.addScalar 2.0 (Arithmetic.mul x (Arithmetic.sub sn s)))

    let private siluParts : FusedOp.Fused =
        { Name = "silu"; ScaledName = "siluScaled"; Attributes = []; Vector = Cpu.fourLanes
          WithDerivative = ValueSome LogisticVector.siluWithDerivative; Value = LogisticVector.silu
          // At ±∞ the limits (x·σ(x) and its slope are ∞·0 there), as the lanes' scalar steps give them.
          Scalar = (fun t -> Tensor.mapInline (fun v -> if Double.IsNegativeInfinity v then -0.0 else v * Special.sigmoid v) t)
          Kernel = LogisticVector.siluScaled
          Derivative = (fun v -> if Double.IsInfinity v then (if v > 0.0 then 1.0 else 0.0) else let s = Special.sigmoid v in s * (1.0 + v * (1.0 - s)))
          Second = siluSecond }

    let silu (x: Value) =
        FusedOp.elementwise siluParts x
