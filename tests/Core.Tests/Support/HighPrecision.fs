namespace Functional.Tests

open System
open System.Numerics

/// Honest high-precision references: fixed-point BigInteger arithmetic with 2,200 fraction bits,
/// enough for Φ(−37) ≈ 6e-300 to 1e-30 relative: φ must be known to about 1e-620 absolute because the series for Φ cancels from about 2^990 down to it.
module HighPrecision =

    let bits = 2200
    let one = BigInteger.One <<< bits

    /// An exact fixed-point image of a double.
    let ofDouble (x: double) =
        if x = 0.0 then BigInteger.Zero
        else
            let raw = BitConverter.DoubleToInt64Bits x
            let exp = int ((raw >>> 52) &&& 0x7FFL)
            let frac = raw &&& 0xFFFFFFFFFFFFFL
            let mant, e = if exp = 0 then frac, -1074 else (frac ||| (1L <<< 52)), exp - 1075
            let m = BigInteger(mant) <<< (bits + e)
            if x < 0.0 then -m else m

    /// Neumaier's compensated sum of doubles: a reference far more accurate than any summation order.
    let compensatedSum (xs: double seq) =
        let mutable s = 0.0
        let mutable c = 0.0
        for x in xs do
            let t = s + x
            c <- c + (if abs s >= abs x then (s - t) + x else (x - t) + s)
            s <- t
        s + c

    let mul (a: BigInteger) (b: BigInteger) = (a * b) >>> bits
    let div (a: BigInteger) (b: BigInteger) = (a <<< bits) / b

    /// Correctly rounded (to nearest, ties to even) double of a fixed-point value in the normal range.
    let toDouble (a: BigInteger) =
        if a.IsZero then 0.0
        else
            let neg = a.Sign < 0
            let m = BigInteger.Abs a
            let len = int (m.GetBitLength())
            let shift = len - 53
            let top, rem, half =
                if shift > 0 then m >>> shift, m - ((m >>> shift) <<< shift), BigInteger.One <<< (shift - 1)
                else m <<< -shift, BigInteger.Zero, BigInteger.One
            let top = if shift > 0 && (rem > half || (rem = half && not top.IsEven)) then top + BigInteger.One else top
            let v = Math.ScaleB(float top, shift - bits)
            if neg then -v else v

    let private arctanInv (k: int) =
        // arctan(1/k) = Σ (−1)^n / ((2n+1)·k^(2n+1))
        let k2 = BigInteger(k * k)
        let mutable power = one / BigInteger(k)
        let mutable sum = BigInteger.Zero
        let mutable n = 0
        while not power.IsZero do
            let term = power / BigInteger(2 * n + 1)
            sum <- if n % 2 = 0 then sum + term else sum - term
            power <- power / k2
            n <- n + 1
        sum

    let pi = BigInteger(16) * arctanInv 5 - BigInteger(4) * arctanInv 239

    let sqrt (a: BigInteger) =
        // Integer square root of a·2^bits by Newton's method.
        let n = a <<< bits
        let mutable x = BigInteger.One <<< (int (n.GetBitLength() / 2L) + 1)
        let mutable fin = false
        while not fin do
            let y = (x + n / x) >>> 1
            if y >= x then fin <- true else x <- y
        x

    let invSqrt2Pi = div one (sqrt (BigInteger(2) * pi))

    /// e^(−y) for y ≥ 0, as 1/e^y with e^y from its all-positive series.
    let expNeg (y: BigInteger) =
        let mutable term = one
        let mutable sum = one
        let mutable n = 1
        while not term.IsZero do
            term <- mul term y / BigInteger(n)
            sum <- sum + term
            n <- n + 1
        div one sum

    /// sin x and cos x for a double x: x = k·π/2 + r with the 2,200-bit π (|r| ≤ π/4), both Taylor series of r to
    /// below the last bit, then the quadrant k mod 4.
    let sinCos (x: double) =
        let xb = ofDouble x
        let halfPi = pi >>> 1
        let two = BigInteger(2)
        let k = if xb.Sign >= 0 then (two * xb + halfPi) / (two * halfPi) else -((two * -xb + halfPi) / (two * halfPi))
        let r = xb - k * halfPi
        let r2 = mul r r
        let mutable sinR = r
        let mutable cosR = one
        let mutable term = r
        let mutable n = 1
        // term = (−1)^j r^n / n!, n running through the odd (sin) and even (cos) powers in turn.
        let mutable cterm = one
        while not term.IsZero || not cterm.IsZero do
            cterm <- -(mul cterm r2) / BigInteger((n + 1) * n)
            term <- -(mul term r2) / BigInteger((n + 2) * (n + 1))
            cosR <- cosR + cterm
            sinR <- sinR + term
            n <- n + 2
        match int (((k % BigInteger(4)) + BigInteger(4)) % BigInteger(4)) with
        | 0 -> sinR, cosR
        | 1 -> cosR, -sinR
        | 2 -> -sinR, -cosR
        | _ -> -cosR, sinR

    /// ln x for a positive double x: Newton's method on x·e^(−y) = 1 from Math.Log's value (each step squares
    /// the relative error, 1e-16 → 1e-32 → 1e-64 → 1e-128).
    let ln (x: double) =
        let xb = ofDouble x
        let mutable y = ofDouble (Math.Log x)
        for _ in 1 .. 3 do
            let eNegY = if y.Sign >= 0 then expNeg y else div one (expNeg (-y))
            y <- y + mul xb eNegY - one
        y

    /// φ(x) = e^(−x²/2)/√(2π) at a fixed-point x.
    let pdfFixed (xb: BigInteger) = mul invSqrt2Pi (expNeg (mul xb xb >>> 1))

    /// φ(x) = e^(−x²/2)/√(2π).
    let pdf (x: double) = pdfFixed (ofDouble x)

    /// Φ(x) = 1/2 + φ(x)·Σ x^(2n+1)/(2n+1)!! at a fixed-point x (the series converges everywhere).
    let cdfFixed (xb: BigInteger) =
        let x2 = mul xb xb
        let mutable term = xb
        let mutable sum = xb
        let mutable n = 1
        while not term.IsZero do
            term <- mul term x2 / BigInteger(2 * n + 1)
            sum <- sum + term
            n <- n + 1
        (one >>> 1) + mul (pdfFixed xb) sum

    /// Φ(x) for a double x.
    let cdf (x: double) = cdfFixed (ofDouble x)

    /// erfc z = 2Φ(−z√2) for a double z, z√2 in fixed point (nothing rounded on the way).
    let erfc (z: double) = BigInteger(2) * cdfFixed (-(mul (ofDouble z) (sqrt (BigInteger(2) * one))))

    /// erf z = 1 − erfc z.
    let erf (z: double) = one - erfc z

    /// erf'(z) = (2/√π)·e^(−z²).
    let erfSlope (z: double) =
        let zb = ofDouble z
        div (BigInteger(2) * expNeg (mul zb zb)) (sqrt pi)

    /// arctan of a fixed-point y: halved five times by atan y = 2·atan(y/(1 + √(1 + y²))) (|y| ≤ 1 then gives
    /// |y| ≤ 0.025), then its Taylor series to below the last bit.
    let rec atanFixed (y: BigInteger) =
        // On |y| (a shift of a negative value rounds toward −∞: its powers would never reach 0).
        if y.Sign < 0 then -(atanFixed (-y)) else
        let mutable v = y
        for _ in 1 .. 5 do
            v <- div v (one + sqrt (one + mul v v))
        let v2 = mul v v
        let mutable power = v
        let mutable sum = BigInteger.Zero
        let mutable n = 0
        while not power.IsZero do
            let term = power / BigInteger(2 * n + 1)
            sum <- if n % 2 = 0 then sum + term else sum - term
            power <- mul power v2
            n <- n + 1
        BigInteger(32) * sum

    /// atan x for a double x (π/2 − atan(1/x) beyond 1).
    let atan (x: double) =
        let xb = ofDouble x
        if BigInteger.Abs xb <= one then atanFixed xb
        else
            let r = atanFixed (div one (BigInteger.Abs xb))
            let v = (pi >>> 1) - r
            if xb.Sign < 0 then -v else v

    /// asin x for a double x in [−1, 1]: atan(x/√(1 − x²)), or π/2 − atan(√(1 − x²)/|x|) with the sign of x where
    /// |x| > 1/2.
    let asin (x: double) =
        let xb = ofDouble x
        if abs x = 1.0 then (if x > 0.0 then pi >>> 1 else -(pi >>> 1)) else
        let c = sqrt (one - mul xb xb)
        if abs x <= 0.5 then atanFixed (div xb c)
        else
            let v = (pi >>> 1) - atanFixed (div c (BigInteger.Abs xb))
            if xb.Sign < 0 then -v else v

    /// acos x = π/2 − asin x.
    let acos (x: double) = (pi >>> 1) - asin x

    let gelu (x: double) = mul (ofDouble x) (cdf x)
    let geluDerivative (x: double) = cdf x + mul (ofDouble x) (pdf x)
    let geluSecond (x: double) =
        let xb = ofDouble x
        mul (pdf x) ((BigInteger(2) * one) - mul xb xb)

    /// √(2/π).
    let sqrt2OverPi = sqrt (div (BigInteger(2) * one) pi)

    /// GELU's tanh form x·σ(z), z = 2√(2/π)·x·(1 + kx²) with k the double 0.044715, and its derivative's two
    /// terms σ(z) and x·σ(z)·σ(−z)·2√(2/π)(1 + 3kx²) (their sum is the derivative; |a| + |b| is the scale its
    /// rounding errors are measured against).
    let geluTanh (x: double) =
        let xb = ofDouble x
        let k = ofDouble 0.044715
        let x2 = mul xb xb
        let z = BigInteger(2) * mul sqrt2OverPi (mul xb (one + mul k x2))
        let e = expNeg (BigInteger.Abs z)
        let big = div one (one + e)
        let small = div e (one + e)
        let s, sc = if z.Sign >= 0 then big, small else small, big
        let du = BigInteger(2) * mul sqrt2OverPi (one + BigInteger(3) * mul k x2)
        mul xb s, s, mul (mul xb (mul s sc)) du

    /// e^(−y) for y ≥ 0 of any size: the series at y/1024, squared ten times (each squaring doubles the relative
    /// error: ten bits of 2,200 are lost).
    let expNegLarge (y: BigInteger) =
        let mutable r = expNeg (y >>> 10)
        for _ in 1 .. 10 do r <- mul r r
        r

    /// ln s for a fixed-point s ≥ 1: Newton's method on s·e^(−y) = 1 from Math.Log's value, six steps (the error
    /// squares each step; from y = 0 the first step gives s − 1 itself, so a tiny ln s keeps its relative precision).
    let lnFixed (s: BigInteger) =
        let mutable y = ofDouble (Math.Log(toDouble s))
        for _ in 1 .. 6 do
            y <- y + mul s (expNeg y) - one
        y

    /// Log-softmax of a row of finite doubles, exact to far below an ulp: its values y, the probabilities
    /// p = e^(x − m)/Σ and the pullback g − p·Σg of an adjoint g (all fixed point).
    let logSoftmax (xs: double[]) (g: double[]) =
        let m = ofDouble (Array.max xs)
        let d = xs |> Array.map (fun x -> m - ofDouble x)
        // e^(−800) is below 2^−1150: it cannot move a result that is rounded to a double.
        let cutoff = BigInteger(800) * one
        let e = d |> Array.map (fun di -> if di > cutoff then BigInteger.Zero else expNegLarge di)
        let total = Array.fold (+) BigInteger.Zero e
        let l = lnFixed total
        let ys = d |> Array.map (fun di -> -di - l)
        let ps = e |> Array.map (fun ei -> div ei total)
        let sg = g |> Array.sumBy ofDouble
        let grads = Array.map2 (fun (gi: double) p -> ofDouble gi - mul p sg) g ps
        ys, ps, grads
