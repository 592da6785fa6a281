namespace Functional.Tests

open System
open System.Runtime.Intrinsics
open Xunit
open Xunit.Abstractions
open Functional.Core

/// GELU exact against a 2,200-bit reference over [−37, 37] and in the far tail.
[<Collection("process-wide state")>]
type SpecialTests(output: ITestOutputHelper) =

    /// GELU'(x) has a root at x ≈ −0.7518; its relative error is bounded from 0.05 away on.
    static let root = -0.75179

    /// Points 0.05 to 0.3 from that root on both sides, where the cancellation of R(t) − t is strongest.
    static let nearRoot =
        let rng = Random(17)
        Array.init 40 (fun i -> root + float (if i % 2 = 0 then 1 else -1) * (0.0501 + 0.25 * rng.NextDouble()))

    static let grid =
        let rng = Random(2026)
        [| for i in -148 .. 148 -> float i * 0.25 |]
        |> Array.append [| -0.1; 0.1; -1e-3; 1e-3; -3.3; 2.7; -36.9 |]
        |> Array.append (Array.init 100 (fun _ -> -37.0 + 74.0 * rng.NextDouble()))

    static let ulps = Ulps.ulps

    /// `count` values uniform over ±40 and `count` log-uniform in |x| down to subnormals, the octave edges of the
    /// Mills fit on both sides, and special values.
    static let wholeRange (rng: Random) (count: int) =
        Array.concat [ Array.init count (fun _ -> 80.0 * rng.NextDouble() - 40.0)
                       Array.init count (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -310.0 + 311.6 * rng.NextDouble()))
                       [| for e in -2 .. 6 do
                            let edge = Math.Pow(2.0, float e)
                            for t in [ Math.BitDecrement edge; edge; Math.BitIncrement edge ] do
                                yield t
                                yield -t |]
                       [| nan; infinity; -infinity; 0.0; -0.0; 0.5; -0.5; 37.9; -37.9; 38.0; -38.0; 1e300; -1e300 |] ]

    let reportWithin (maxUlps: double) name (f: double -> double) (exact: double -> double) (xs: double[]) =
        Ulps.reportWithin output maxUlps name f exact xs

    let report name f exact xs = reportWithin 4.0 name f exact xs

    /// GELU's tanh form: x from −19 (z ≈ −690, the reference's exponential series grows with |z|) to 12, densest
    /// in [−8, 8], tiny x both ways, and the points where z crosses ±708 do not occur here (tested below).
    static let tanhFormPoints =
        let rng = Random(41)
        Array.concat [ Array.init 160 (fun _ -> 16.0 * rng.NextDouble() - 8.0)
                       Array.init 24 (fun _ -> -19.0 + 11.0 * rng.NextDouble())
                       Array.init 16 (fun _ -> 8.0 + 4.0 * rng.NextDouble())
                       [| 1e-300; -1e-300; 1e-9; -1e-9; 0.5; -0.5; -0.75; -3.0; -10.0 |] ]

    /// Worst errors of a tanh-form path over the points: value in ulps of the exact value, derivative in ulps of
    /// the larger of its two terms (their sum cancels near the derivative's root, at about −0.75).
    let tanhFormErrors name (values: double[]) (derivs: double[]) =
        let mutable worstValue = 0.0
        let mutable worstDerivative = 0.0
        tanhFormPoints |> Array.iteri (fun i x ->
            let v, a, b = HighPrecision.geluTanh x
            let value = HighPrecision.toDouble v
            let derivative = HighPrecision.toDouble (a + b)
            let scale = max (abs (HighPrecision.toDouble a)) (abs (HighPrecision.toDouble b))
            let ev = if value = 0.0 then 0.0 else ulps values.[i] value
            let ed = abs (derivs.[i] - derivative) / (Math.BitIncrement scale - scale)
            worstValue <- max worstValue ev
            worstDerivative <- max worstDerivative ed)
        output.WriteLine(sprintf "%s: value within %.2f ulp, derivative within %.2f ulp of its larger term" name worstValue worstDerivative)
        worstValue, worstDerivative

    [<Fact>]
    member _.``e^x on four lanes scales by one power of two, exactly as the two-step scaling does, wherever a lane is kept`` () =
        // Kept lanes have n in [−1021, 1023] and p within e^±ln2/2: p·2ⁿ in one product must give scale4's bits.
        if Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx2.IsSupported then
            let rng = Random(18)
            let ps = Array.init 400 (fun _ -> Math.Exp((rng.NextDouble() - 0.5) * Math.Log 2.0)) |> Array.append [| Math.Exp(-0.5 * Math.Log 2.0); Math.Exp(0.5 * Math.Log 2.0); 1.0 |]
            for n in -1021 .. 1023 do
                let vn = Vector256.Create(float n)
                for i in 0 .. 4 .. ps.Length - 4 do
                    let p = Vector256.Create(ps.[i], ps.[i + 1], ps.[i + 2], ps.[i + 3])
                    let one = p * ElementaryVector.pow2 vn
                    let two = ElementaryVector.scale4 p vn
                    Assert.True((one = two), sprintf "n = %d: %A against %A" n one two)
        // Through exp itself on the values at the ends of the kept range and around them.
        let xs = [| -708.0; -707.9; -700.0; -1.0; 0.0; 1.0; 700.0; 708.9; 709.0 |]
        let ys = (Tensor.map exp (Tensor.create [| xs.Length |] xs)).ToArray()
        let ours = (Elementwise.exp (Value.constant (Tensor.create [| xs.Length |] xs))).Tensor.ToArray()
        for i in 0 .. xs.Length - 1 do
            Assert.True(abs (ours.[i] - ys.[i]) <= 2.3e-16 * ys.[i], sprintf "e^%g: %.17g against Math.Exp's %.17g" xs.[i] ours.[i] ys.[i])

    [<Fact>]
    member _.``the high-precision reference itself is right where doubles know the answer`` () =
        Assert.Equal(0.5, HighPrecision.toDouble (HighPrecision.cdf 0.0))
        Assert.Equal(Math.PI, HighPrecision.toDouble HighPrecision.pi)
        // Φ(−1) = 0.15865525393145705141476745... (tables)
        Assert.Equal(0.15865525393145705, HighPrecision.toDouble (HighPrecision.cdf -1.0))

    [<Fact>]
    member _.``GELU value is within 1e-15 relative over [-37, 37]`` () =
        report "gelu" Special.gelu (HighPrecision.gelu >> HighPrecision.toDouble) grid

    [<Fact>]
    member _.``GELU first derivative is within 1e-15 relative over [-37, 37] away from its root`` () =
        // Close to the root only the absolute error is small (measured below).
        report "gelu'" Special.geluDerivative (HighPrecision.geluDerivative >> HighPrecision.toDouble) (grid |> Array.filter (fun x -> abs (x - root) > 0.05))
        // There the cancellation in R(t) − t magnifies the last ulp of R (measured: 4 ulp, 6.5e-16), and the
        // scalar path's Math.Exp is the platform's: the documented bound is the relative one.
        reportWithin 8.0 "gelu' (near its root)" Special.geluDerivative (HighPrecision.geluDerivative >> HighPrecision.toDouble) nearRoot
        let near = [| -0.8; -0.76; -0.75; -0.74; -0.7 |]
        let absErr = near |> Array.map (fun x -> abs (Special.geluDerivative x - HighPrecision.toDouble (HighPrecision.geluDerivative x))) |> Array.max
        output.WriteLine(sprintf "gelu' near its root: max absolute error %.3g" absErr)
        Assert.True(absErr <= 2.5e-16)

    [<Fact>]
    member _.``GELU second derivative is within 1e-15 relative over [-37, 37]`` () =
        report "gelu''" (Special.phiPoly [| 2.0; 0.0; -1.0 |]) (HighPrecision.geluSecond >> HighPrecision.toDouble) grid

    [<Fact>]
    member _.``GELU is non-zero in the far tail wherever the true value is a representable double`` () =
        for x in [ -37.0 .. -0.1 .. -38.4 ] do
            Assert.True(Special.gelu x < 0.0, sprintf "gelu(%g) = %g" x (Special.gelu x))
            Assert.True(Special.geluDerivative x < 0.0, sprintf "gelu'(%g) = %g" x (Special.geluDerivative x))
        // Below about −38.6 the true value is under half the smallest subnormal: 0 is the right double.
        Assert.Equal(-0.0, Special.gelu -39.0)

    [<FactNeeding(Need.VectorLanes)>]
    member _.``the vector path is accurate on both sides of every octave edge of its Mills-ratio fit`` () =
        // The fit changes coefficients where t = |x| crosses a power of two; check both neighbours of each
        // edge, both signs, and a random spread over the octaves.
        let rng = Random(5)
        let xs =
            [| for e in -1 .. 5 do
                 let edge = Math.Pow(2.0, float e)
                 for t in [ Math.BitDecrement edge; edge; Math.BitIncrement edge ] do
                     if t >= 0.5 then
                         yield t
                         yield -t
               yield! Array.init 40 (fun _ -> -Math.Pow(2.0, -1.0 + 6.2 * rng.NextDouble()))
               yield! Array.init 10 (fun _ -> Math.Pow(2.0, -1.0 + 6.2 * rng.NextDouble()))
               yield! nearRoot |]
            |> Array.filter (fun x -> abs x <= 38.0)
        let values = GeluVector.gelu xs
        let derivs = GeluVector.scaledDerivative xs (Array.create xs.Length 1.0)
        let at (arr: double[]) (x: double) = arr.[Array.findIndex ((=) x) xs]
        report "gelu (vector, octave edges)" (at values) (HighPrecision.gelu >> HighPrecision.toDouble) xs
        report "gelu' (vector, octave edges)" (at derivs) (HighPrecision.geluDerivative >> HighPrecision.toDouble) (xs |> Array.filter (fun x -> abs (x - root) > 0.05))

    [<FactNeeding(Need.VectorLanes)>]
    member _.``the vector array path is as accurate as the scalar one`` () =
        // Index the grid so that each x is evaluated in its own vector lane position.
        let values = GeluVector.gelu grid
        let derivs = GeluVector.scaledDerivative grid (Array.create grid.Length 1.0)
        let at (arr: double[]) (x: double) = arr.[Array.findIndex ((=) x) grid]
        report "gelu (vector)" (at values) (HighPrecision.gelu >> HighPrecision.toDouble) grid
        report "gelu' (vector)" (at derivs) (HighPrecision.geluDerivative >> HighPrecision.toDouble) (grid |> Array.filter (fun x -> abs (x - root) > 0.05))
        // Far tail through the vector path (|x| ≤ 38) and the scalar fallback beyond: never a spurious zero.
        let tail = [| -37.0 .. -0.1 .. -38.4 |]
        let tv = GeluVector.gelu tail
        let td = GeluVector.scaledDerivative tail (Array.create tail.Length 1.0)
        Array.iteri (fun i x -> Assert.True(tv.[i] < 0.0 && td.[i] < 0.0, sprintf "x = %g: %g, %g" x tv.[i] td.[i])) tail

    [<Fact>]
    member _.``erf and erfc agree with tabulated values`` () =
        // erf(1), erf(0.5), erfc(2), erfc(5): the usual tables (A&S 7.1), to 16 digits.
        let close (expected: double) (actual: double) = Assert.True(abs (actual - expected) <= 1e-15 * abs expected, sprintf "%.17g vs %.17g" actual expected)
        close 0.8427007929497149 (Special.erf 1.0)
        close 0.5204998778130465 (Special.erf 0.5)
        close 0.004677734981047266 (Special.erfc 2.0)
        // erfc(5) rounds 5·√2 first: relative error about 2·25·1e-16, as documented.
        Assert.True(abs (Special.erfc 5.0 - 1.5374597944280349e-12) <= 1e-14 * 1.5374597944280349e-12)
        Assert.Equal(-Special.erf 0.3, Special.erf -0.3)

    [<Fact>]
    member _.``the scalar erf keeps its digits and its sign near 0`` () =
        // The path of machines without AVX2 and FMA: 1 − erfc(z) cancelled there (erf(1e-17) was 0, erf(−0) +0).
        let rng = Random(29)
        let xs =
            Array.concat [ [| 1e-300; 5e-324; 1e-17; 1e-10; 1e-5; 0.01; 0.1; 0.3; 0.4999; 0.5; 0.5000001; 0.7 |]
                           Array.init 200 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -20.0 + 19.7 * rng.NextDouble())) ]
        Ulps.reportWithin output 2.0 "erf (scalar)" Special.erf (fun x -> HighPrecision.toDouble (HighPrecision.erf x)) (xs |> Array.filter (fun x -> abs x > 1e-300))
        Assert.Equal(BitConverter.DoubleToInt64Bits -0.0, BitConverter.DoubleToInt64Bits (Special.erf -0.0))
        Assert.True(Special.erf 5e-324 > 0.0)

    [<Fact>]
    member _.``the scalar expm1 does not overflow below e^709.78`` () =
        // (u − 1)·x overflowed before the division by ln u from x ≈ 703 on.
        for x in [ 703.5; 705.0; 709.0; 709.78 ] do
            let y = Elementwise.expm1Scalar x
            Assert.True(Double.IsFinite y && abs (y - Math.Exp x) <= 2e-15 * Math.Exp x, sprintf "expm1 %g = %g" x y)
        Assert.Equal(infinity, Elementwise.expm1Scalar 710.0)

    [<Fact>]
    member _.``normal CDF tails are accurate`` () =
        report "Phi" Special.normalCdf (HighPrecision.cdf >> HighPrecision.toDouble) grid

    [<Fact>]
    member _.``the tanh form has no NaN, overflow or cancellation for any finite input`` () =
        for x in [ -1e308; -1e150; -1e6; -50.0; -10.0; -1.0; -1e-300; 0.0; 1e-300; 1.0; 10.0; 1e6; 1e150; 1e308 ] do
            let v = Special.geluTanh x
            let d = Special.geluTanhDerivative x
            Assert.False(Double.IsNaN v || Double.IsNaN d, sprintf "x = %g gives %g, %g" x v d)
            Assert.False(Double.IsInfinity v && abs x < 1e308, sprintf "x = %g overflows" x)
        Assert.Equal(1e308, Special.geluTanh 1e308)
        Assert.True(Special.geluTanh -10.0 < 0.0) // no cancellation to 0 in the tail

    [<FactNeeding(Need.VectorLanes)>]
    member _.``the vector path equals the scalar reference path within 1e-12 relative`` () =
        // 200,000 values over the whole range (uniform, and log-uniform in |x| down to subnormals), plus
        // octave edges and special values. Tolerance 1e-12 relative; an absolute 1e-16 floor for GELU'
        // where it crosses zero and 1e-300 where results are subnormal.
        let xs = wholeRange (Random(23)) 100000
        let struct (values, derivs) = GeluVector.geluWithDerivative xs
        let close (ours: double) (reference: double) (floor: double) =
            (Double.IsNaN ours && Double.IsNaN reference) || ours = reference || abs (ours - reference) <= 1e-12 * abs reference + floor
        for i in 0 .. xs.Length - 1 do
            let x = xs.[i]
            Assert.True(close values.[i] (Special.gelu x) 1e-300, sprintf "GELU(%.17g): %.17g vs %.17g" x values.[i] (Special.gelu x))
            Assert.True(close derivs.[i] (Special.geluDerivative x) 1e-16, sprintf "GELU'(%.17g): %.17g vs %.17g" x derivs.[i] (Special.geluDerivative x))

    [<FactNeeding(Need.EightAndFourLanes)>]
    member _.``the four-lane (AVX2) formulas give the eight-lane (AVX-512) ones' bits`` () =
        // Both run on an AVX-512 machine: the switch sends the same arrays through four lanes. (CI also runs
        // the accuracy tests above with AVX-512 off, where four lanes are all there is.)
        let rng = Random(31)
        let xs = Array.append grid (wholeRange rng 20001)
        let g = Array.init xs.Length (fun _ -> 2.0 * rng.NextDouble() - 1.0)
        let es =
            Array.concat [ Array.init 20001 (fun _ -> 1470.0 * rng.NextDouble() - 750.0)
                           [| -708.0; -708.5; -745.0; 709.0; 709.8; 710.0; nan; infinity; -infinity; 0.0; -0.0 |] ]
        let lnInputs =
            Array.concat [ Array.map abs xs; xs; Array.map (fun e -> Math.Exp(e / 2.0)) es
                           [| 0.0; -0.0; 5e-324; 2.2250738585072014e-308; 2.225073858507201e-308; Double.MaxValue; infinity; nan; 1.0; 2.0; 0.5 |] ]
        let run () =
            let struct (v, d) = GeluVector.geluWithDerivative xs
            [ "gelu", GeluVector.gelu xs; "g·gelu'", GeluVector.scaledDerivative xs g; "fused value", v; "fused derivative", d; "exp", ElementaryVector.exp es; "sigmoid", SigmoidTanhVector.sigmoid es; "tanh", SigmoidTanhVector.tanh (Array.append es xs)
              // Rows of 13 and 128 (a tail and none), as softmax and log-softmax and its VJP run them.
              "softmax rows", SoftmaxVector.softmaxRows (Array.sub es 0 (13 * 128)) 13
              "log-softmax rows", SoftmaxVector.logSoftmaxRows (Array.sub es 0 (13 * 128)) 128
              "log-softmax rows of 13", SoftmaxVector.logSoftmaxRows (Array.sub es 0 (13 * 128)) 13
              "log-softmax VJP rows", SoftmaxVector.logSoftmaxVjpRows (Array.sub xs 0 (13 * 128)) (Array.sub g 0 (13 * 128)) 128
              // x^p: every kind of x (zeros, subnormals, ∞ and NaN take Math.Pow; negatives their sign or NaN), results near the ends.
              "x^1.5", PowVector.pow 1.5 (Array.map abs xs)
              "x^-7.5", PowVector.pow -7.5 (Array.map (fun e -> Math.Exp(e / 8.0)) es)
              "x^0.1", PowVector.pow 0.1 xs
              "sin", TrigVector.sin (Array.concat [ xs; es; Array.map (fun e -> e * 177.0) es ])
              "e^x − 1", Expm1Vector.expm1 (Array.append es xs)
              "sinh", Expm1Vector.sinh (Array.append es xs)
              "cosh", Expm1Vector.cosh (Array.append es xs)
              "ln(1 + x)", Log1pVector.log1p (Array.append lnInputs (Array.map (fun x -> x - 1.0) lnInputs))
              "cos", TrigVector.cos (Array.concat [ xs; es; Array.map (fun e -> e * 177.0) es ])
              "tan", TrigVector.tan (Array.concat [ xs; es; Array.map (fun e -> e * 177.0) es ])
              "erf", ErfVector.erf (Array.append xs (Array.map (fun e -> e / 20.0) es))
              "erfc", ErfVector.erfc (Array.append xs (Array.map (fun e -> e / 20.0) es))
              "g·erf'", ErfVector.erfScaled xs g
              "atan", ArcVector.atan (Array.concat [ xs; es; Array.map (fun e -> e * 1e-3) es ])
              "g·atan'", ArcVector.atanScaled xs g
              "asin", ArcVector.asin (Array.append (Array.map (fun x -> x / 40.0) xs) (Array.map (fun e -> e / 750.0) es))
              "acos", ArcVector.acos (Array.append (Array.map (fun x -> x / 40.0) xs) (Array.map (fun e -> e / 750.0) es))
              "g·asin'", ArcVector.asinScaled (Array.map (fun x -> x / 40.0) xs) g
              "x^5", PowVector.pow 5.0 xs
              "x^-21", PowVector.pow -21.0 xs
              "x^100.5", PowVector.pow 100.5 (Array.map (fun e -> Math.Exp(e / 128.0)) es)
              "g·(3·x^0.5)", PowVector.scaled 3.0 0.5 (Array.map abs xs) g 0.0
              // ln over every magnitude, negatives, zeros, subnormals, the ends and the non-finite (Math.Log
              // for those, lane by lane among in-range ones).
              "ln", LogVector.log lnInputs ]
        let eight = run ()
        Functional.Kernels.Tuning.EightLanes <- false
        let four = try run () finally Functional.Kernels.Tuning.EightLanes <- true
        for (name, a), (_, b) in List.zip eight four do
            for i in 0 .. a.Length - 1 do
                if BitConverter.DoubleToInt64Bits a.[i] <> BitConverter.DoubleToInt64Bits b.[i] then
                    Assert.Fail(sprintf "%s, element %d: eight lanes %.17g, four lanes %.17g" name i a.[i] b.[i])

    [<FactNeeding(Need.VectorLanes)>]
    member _.``a vector GELU result depends only on its element, not on its neighbours or its position`` () =
        let rng = Random(37)
        // Out-of-range lanes (scalar functions) scattered among in-range ones, and a tail.
        let xs = Array.init 61 (fun i -> if i % 7 = 3 then 40.0 + float i else if i % 11 = 5 then nan else 12.0 * rng.NextDouble() - 6.0)
        let g = Array.init xs.Length (fun _ -> 2.0 * rng.NextDouble() - 1.0)
        let bits (x: double) = BitConverter.DoubleToInt64Bits x
        let values = GeluVector.gelu xs
        let derivs = GeluVector.scaledDerivative xs g
        let struct (fv, fd) = GeluVector.geluWithDerivative xs
        for i in 0 .. xs.Length - 1 do
            let struct (v1, d1) = GeluVector.geluWithDerivative [| xs.[i] |]
            Assert.True(bits values.[i] = bits (GeluVector.gelu [| xs.[i] |]).[0], sprintf "GELU(%g) at %d" xs.[i] i)
            Assert.True(bits derivs.[i] = bits (GeluVector.scaledDerivative [| xs.[i] |] [| g.[i] |]).[0], sprintf "g·GELU'(%g) at %d" xs.[i] i)
            Assert.True(bits fv.[i] = bits v1.[0] && bits fd.[i] = bits d1.[0], sprintf "fused at %d" i)

    [<FactNeeding(Need.VectorLanes)>]
    member _.``the fused value-and-derivative pass is bit-identical to the two separate passes`` () =
        let rng = Random(7)
        // Every region: central, each octave of the Mills fit, scalar fallback beyond 38, non-finite.
        let xs =
            Array.concat [ grid
                           Array.init 4001 (fun _ -> 12.0 * (2.0 * rng.NextDouble() - 1.0) * (if rng.Next(4) = 0 then 4.0 else 1.0))
                           [| nan; infinity; -infinity; 0.0; -0.0; 38.5; -38.5; 1e300; -1e300 |] ]
        let struct (values, derivs) = GeluVector.geluWithDerivative xs
        let separate = GeluVector.gelu xs
        let separateD = GeluVector.scaledDerivative xs (Array.create xs.Length 1.0)
        for i in 0 .. xs.Length - 1 do
            Assert.True(BitConverter.DoubleToInt64Bits values.[i] = BitConverter.DoubleToInt64Bits separate.[i], sprintf "value at %g" xs.[i])
            Assert.True(BitConverter.DoubleToInt64Bits derivs.[i] = BitConverter.DoubleToInt64Bits separateD.[i], sprintf "derivative at %g" xs.[i])

    [<Fact>]
    member _.``the tanh form is within 3 ulp (value) and 3 ulp (derivative) in every path`` () =
        let scalar = tanhFormErrors "scalar" (Array.map Special.geluTanh tanhFormPoints) (Array.map Special.geluTanhDerivative tanhFormPoints)
        let vector =
            if Cpu.fourLanes then
                let run () =
                    let struct (v, d) = GeluTanhVector.withDerivative tanhFormPoints
                    tanhFormErrors (if Cpu.wide () then "eight lanes" else "four lanes") v d
                let wide = run ()
                Functional.Kernels.Tuning.EightLanes <- false
                [ wide; (try run () finally Functional.Kernels.Tuning.EightLanes <- true) ]
            else []
        for value, derivative in scalar :: vector do
            Assert.True(value <= 3.0 && derivative <= 3.0, sprintf "%.2f ulp, %.2f ulp" value derivative)

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector tanh form gives the same bits on eight lanes and four, in one pass and apart, each element its own`` () =
        let rng = Random(43)
        // Both sides of z = ±708 (x ≈ ±19.5, where e^(−|z|) turns subnormal and the scalar path takes over),
        // overflow of x² and x³, non-finite values, and a tail.
        let xs =
            Array.concat [ wholeRange rng 4001
                           Array.init 400 (fun _ -> 19.0 + rng.NextDouble() * (if rng.Next(2) = 0 then 1.0 else -1.0))
                           Array.init 400 (fun _ -> -20.0 + rng.NextDouble())
                           [| 1e102; -1e102; 1e103; -1e103; 1e154; -1e154; 1e155; -1e155; Double.MaxValue; -Double.MaxValue |] ]
        let g = Array.init xs.Length (fun _ -> 2.0 * rng.NextDouble() - 1.0)
        let run () =
            let struct (v, d) = GeluTanhVector.withDerivative xs
            [ v; d; GeluTanhVector.value xs; GeluTanhVector.scaled xs g ]
        let eight = run ()
        Functional.Kernels.Tuning.EightLanes <- false
        let four = try run () finally Functional.Kernels.Tuning.EightLanes <- true
        let bits (x: double) = BitConverter.DoubleToInt64Bits x
        for a, b in List.zip eight four do
            for i in 0 .. xs.Length - 1 do
                Assert.True(bits a.[i] = bits b.[i], sprintf "x = %.17g: eight lanes %.17g, four %.17g" xs.[i] a.[i] b.[i])
        match eight with
        | [ v; d; value; scaled ] ->
            for i in 0 .. xs.Length - 1 do
                Assert.True(bits v.[i] = bits value.[i], sprintf "value at %.17g" xs.[i])
                Assert.True(bits (g.[i] * d.[i]) = bits scaled.[i], sprintf "g·derivative at %.17g" xs.[i])
                // Each element alone (one lane and three of padding) as in the whole array.
                let struct (v1, d1) = GeluTanhVector.withDerivative [| xs.[i] |]
                Assert.True(bits v1.[0] = bits v.[i] && bits d1.[0] = bits d.[i], sprintf "alone at %.17g" xs.[i])
                // Where the scalar path takes over (e^(−|z|) subnormal, NaN), its bits.
                if GeluTanhVector.scalarOnly xs.[i] then
                    let struct (sv, sd) = Special.geluTanhWithDerivative xs.[i]
                    Assert.True(bits sv = bits v.[i] && bits sd = bits d.[i], sprintf "scalar lane at %.17g" xs.[i])
        | _ -> ()
