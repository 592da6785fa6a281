namespace Functional.Tests

open System
open System.Runtime.Intrinsics
open Xunit
open Xunit.Abstractions
open Functional.Core

/// The elementary functions' vector lanes (ln, x^p, sin, cos, tan, eˣ − 1, sinh, cosh, ln(1 + x), tanh, σ, eˣ) against
/// the 2,200-bit reference, Math's values where their formulas do not hold, and each element's result its own.
[<Collection("process-wide state")>]
type SpecialElementaryTests(output: ITestOutputHelper) =

    /// Lanes where the written-out polynomial differs from the loop's, in bits, over xs (eight and four lanes).
    static let flatExpMismatches (xs: double[]) =
        let differ (a: double[]) (b: double[]) =
            Array.fold2 (fun c (x: double) (y: double) -> if BitConverter.DoubleToInt64Bits x = BitConverter.DoubleToInt64Bits y then c else c + 1) 0 a b
        let lanes8 (struct (p: Vector512<double>, n: Vector512<double>)) = Array.init 16 (fun l -> if l < 8 then p.GetElement l else n.GetElement(l - 8))
        let lanes4 (struct (p: Vector256<double>, n: Vector256<double>)) = Array.init 8 (fun l -> if l < 4 then p.GetElement l else n.GetElement(l - 4))
        let mutable bad = 0
        for i in 0 .. 8 .. xs.Length - 8 do
            if Cpu.supported then
                let x = Vector512.Create<double>(ReadOnlySpan(xs, i, 8))
                bad <- bad + differ (lanes8 (ElementaryVector.expSplit x)) (lanes8 (ElementaryVector.expSplitFlat x))
            if Cpu.narrow then
                let x = Vector256.Create<double>(ReadOnlySpan(xs, i, 4))
                bad <- bad + differ (lanes4 (ElementaryVector.expSplit4 x)) (lanes4 (ElementaryVector.expSplitFlat4 x))
        bad

    static let sameBits = Ulps.sameBits

    let reportWithin (maxUlps: double) name (f: double -> double) (exact: double -> double) (xs: double[]) =
        Ulps.reportWithin output maxUlps name f exact xs

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector logarithm is within 1 ulp, Math.Log's wherever its formula does not hold, and each element's own`` () =
        let rng = Random(29)
        // Log-uniform over the normal range, dense around 1 (where ln is small and cancels most), both sides
        // of √2 and of powers of two (where k and m change), and the ends of the range.
        let xs =
            Array.concat [ Array.init 120 (fun _ -> Math.Pow(10.0, -307.0 + 615.0 * rng.NextDouble()))
                           Array.init 300 (fun _ -> 0.5 + 1.5 * rng.NextDouble())
                           Array.init 60 (fun _ -> 1.0 + (rng.NextDouble() - 0.5) * 1e-6)
                           [| for t in [ Math.Sqrt 2.0; Math.Sqrt 0.5; 1.0; 2.0; 0.5; 1024.0; 1.0 / 1024.0 ] do
                                yield Math.BitDecrement t
                                yield t
                                yield Math.BitIncrement t |]
                           [| 2.2250738585072014e-308; Double.MaxValue; Math.E; 10.0 |] ]
        let values = LogVector.log xs
        // ln 1 = 0 exactly; every other point against the reference.
        Assert.Equal(0.0, values.[Array.IndexOf(xs, 1.0)])
        let others = xs |> Array.filter (fun x -> x <> 1.0)
        reportWithin 1.0 "log (vector)" (fun x -> values.[Array.IndexOf(xs, x)]) (fun x -> HighPrecision.toDouble (HighPrecision.ln x)) others
        // Outside the vector range: exactly Math.Log (2 and 3 share vectors with those elements).
        sameBits LogVector.log Math.Log (fun x -> not (x >= 2.2250738585072014e-308 && x <= Double.MaxValue))
            [| 0.0; -0.0; -1.0; infinity; -infinity; nan; 4.9e-324; 1e-310; 2.0; -1e-300; 3.0 |]
            (Array.init 37 (fun i -> if i % 5 = 0 then -1.0 else 100.0 * rng.NextDouble()))

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector x^p is within 1 ulp for |p| ≤ 1024, of either sign of x, Math.Pow's wherever its formula does not hold, and each element's own`` () =
        let rng = Random(37)
        // |x|^p against the reference, with p's parity for a negative x.
        let exact (p: double) (x: double) =
            let y = HighPrecision.mul (HighPrecision.ofDouble p) (HighPrecision.ln (abs x))
            let v = HighPrecision.toDouble (if y.Sign >= 0 then HighPrecision.div HighPrecision.one (HighPrecision.expNeg y) else HighPrecision.expNeg (-y))
            if x < 0.0 && abs (Math.IEEERemainder(p, 2.0)) = 1.0 then -v else v
        for p in [ 0.5; -0.5; 1.5; 2.5; 1.0 / 3.0; -1.75; 0.1; 4.5; 7.9; -8.0; 4.0; 5.0; -3.0; 10.0; 12.5; 16.0; -21.0; 33.0; -64.25; 100.0; 127.0; -255.5; 1000.0; 1024.0 ] do
            let integer = Math.Floor p = p
            // e^u for u over the range where |p·u| ≤ 708 (densest where |p·u| ≤ 40, where the reference is quick),
            // dense around 1, both sides of √2 and of powers of two, and where |p·ln x| nears 708; for an
            // integer p the same negated.
            let uMax = min 708.0 (700.0 / abs p)
            let edge = 707.9 / abs p
            let positive =
                Array.concat [ Array.init 24 (fun _ -> Math.Exp((2.0 * rng.NextDouble() - 1.0) * uMax))
                               Array.init 160 (fun _ -> Math.Exp((2.0 * rng.NextDouble() - 1.0) * min uMax (40.0 / abs p)))
                               Array.init 40 (fun _ -> 1.0 + (rng.NextDouble() - 0.5) * 1e-6)
                               [| for t in [ Math.Sqrt 2.0; Math.Sqrt 0.5; 1.0; 2.0; 0.5; 1024.0; 1.0 / 1024.0 ] do
                                    yield Math.BitDecrement t
                                    yield t
                                    yield Math.BitIncrement t |]
                               (if edge < 708.0 then [| Math.Exp edge; Math.Exp(-edge) |] else [||]) ]
                // Those whose result would be subnormal or infinite go to the check against Math.Pow below.
                |> Array.filter (fun x -> abs (p * Math.Log x) <= 708.0)
            let xs = if integer then Array.append positive (Array.map (fun x -> -x) positive) else positive
            let values = PowVector.pow p xs
            reportWithin 1.0 (sprintf "x^%g (vector)" p) (fun x -> values.[Array.IndexOf(xs, x)]) (exact p) xs
            // A negative x with a p that is not an integer: NaN, as Math.Pow gives.
            if not integer then
                Assert.All(PowVector.pow p (Array.map (fun x -> -x) positive), fun v -> Assert.True(Double.IsNaN v))
            // Outside the formula's range (|x| not normal and finite; |p·ln |x|| > 708): Math.Pow's bits.
            let outside (x: double) = not (abs x >= 2.2250738585072014e-308 && abs x <= Double.MaxValue) || abs (p * Math.Log(abs x)) > 708.5
            sameBits (PowVector.pow p) (fun x -> Math.Pow(x, p)) outside
                [| 0.0; -0.0; -1.0; -2.0; infinity; -infinity; nan; 4.9e-324; -4.9e-324; 1e-310; 2.0; 1e308; -1e308; 1e-307; 3.0; Double.MaxValue |]
                (Array.init 37 (fun i -> if i % 5 = 0 then -1.5 elif i % 7 = 0 then 1e-320 else 100.0 * rng.NextDouble() - 30.0))
            // The fused VJP's x^(p) is the same as pow's.
            let g = Array.init xs.Length (fun _ -> rng.NextDouble() - 0.5)
            let scaled = PowVector.scaled 3.0 p xs g 0.0
            Assert.Equal<double[]>(Array.map2 (fun g v -> g * (3.0 * v)) g values, scaled)
            Assert.Equal<double[]>(Array.map (fun v -> 0.25 * (3.0 * v)) values, PowVector.scaled 3.0 p xs [||] 0.25)

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector sin, cos and tan are within 1 ulp, Math's beyond 2^17, and each element's own`` () =
        let rng = Random(41)
        // Uniform over ±10 and over ±2¹⁷, log-uniform magnitudes from 10⁻³⁰⁰, the doubles nearest multiples
        // of π/2 (where r cancels most) and their neighbours, and small and special values.
        let nearMultiples =
            [| for m in Array.append [| 1; 2; 3; 4; 5; 6; 7; 8; 100; 355; 710; 1000; 52174; 83443 |] (Array.init 40 (fun _ -> rng.Next(1, 83443))) do
                 let t = float m * Math.PI / 2.0
                 for v in [ Math.BitDecrement t; t; Math.BitIncrement t ] do
                     yield v
                     yield -v |]
        let xs =
            Array.concat [ Array.init 600 (fun _ -> 20.0 * rng.NextDouble() - 10.0)
                           Array.init 300 (fun _ -> (2.0 * rng.NextDouble() - 1.0) * 131072.0)
                           Array.init 300 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -300.0 + 305.0 * rng.NextDouble()))
                           nearMultiples
                           [| 1e-8; -1e-8; 1.4901161193847656e-08; 1.5e-8; 0.5; 0.7853981633974483; 0.7853981633974484; 131072.0; -131072.0 |] ]
        let exact = xs |> Array.map (fun x -> let s, c = HighPrecision.sinCos x in x, (HighPrecision.toDouble s, HighPrecision.toDouble c)) |> dict
        let sines = TrigVector.sin xs
        let cosines = TrigVector.cos xs
        reportWithin 1.0 "sin (vector)" (fun x -> sines.[Array.IndexOf(xs, x)]) (fun x -> fst exact.[x]) xs
        reportWithin 1.0 "cos (vector)" (fun x -> cosines.[Array.IndexOf(xs, x)]) (fun x -> snd exact.[x]) xs
        let tangents = TrigVector.tan xs
        let exactTan = xs |> Array.map (fun x -> let s, c = HighPrecision.sinCos x in x, HighPrecision.toDouble (HighPrecision.div s c)) |> dict
        reportWithin 1.0 "tan (vector)" (fun x -> tangents.[Array.IndexOf(xs, x)]) (fun x -> exactTan.[x]) xs
        // sin(±0) = ±0 and cos(±0) = 1 exactly; beyond 2¹⁷ and at ±∞ and NaN, Math's bits.
        let bits (v: double) = BitConverter.DoubleToInt64Bits v
        Assert.Equal(bits -0.0, bits (TrigVector.sin [| -0.0; 1.0; 2.0; 3.0 |]).[0])
        Assert.Equal<double[]>([| 0.0; 1.0; 1.0 |], Array.sub (Array.append (TrigVector.sin [| 0.0 |]) (TrigVector.cos [| 0.0; -0.0 |])) 0 3)
        let outside (x: double) = not (abs x <= 131072.0)
        let odd = [| 131072.5; -131073.0; 1e6; -1e22; 1e308; infinity; -infinity; nan; 2.0; 1e5 |]
        let mixed = Array.init 37 (fun i -> if i % 5 = 0 then 1e7 + float i elif i % 7 = 0 then nan else 200.0 * rng.NextDouble() - 100.0)
        sameBits TrigVector.sin Math.Sin outside odd mixed
        sameBits TrigVector.cos Math.Cos outside odd mixed
        sameBits TrigVector.tan Math.Tan outside odd mixed
        Assert.Equal(bits -0.0, bits (TrigVector.tan [| -0.0 |]).[0])

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector e^x − 1 is within 1 ulp and sinh and cosh within 2, the scalar functions beyond 709, and each element's own`` () =
        let rng = Random(43)
        // e^x and e^(−x) in fixed point, exactly enough for e^x − 1 at any x and sinh at tiny x.
        let expOf (x: double) =
            let xb = HighPrecision.ofDouble (abs x)
            let small = HighPrecision.expNeg xb
            let big = HighPrecision.div HighPrecision.one small
            if x >= 0.0 then big, small else small, big
        let xs =
            Array.concat [ Array.init 300 (fun _ -> 6.0 * rng.NextDouble() - 3.0)
                           Array.init 100 (fun _ -> 100.0 * rng.NextDouble() - 50.0)
                           Array.init 24 (fun _ -> 1416.0 * rng.NextDouble() - 708.0)
                           Array.init 100 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -300.0 + 300.0 * rng.NextDouble()))
                           [| for t in [ 1.0397207708399179; 0.34657359027997264; 40.0; 709.0; 5.551115123125783e-17 ] do
                                for v in [ Math.BitDecrement t; t; Math.BitIncrement t ] do
                                    yield v
                                    yield -v |] ]
        let exact = xs |> Array.map (fun x -> x, expOf x) |> dict
        let one = HighPrecision.one
        let em1 = Expm1Vector.expm1 xs
        let sinh = Expm1Vector.sinh xs
        let cosh = Expm1Vector.cosh xs
        reportWithin 1.0 "e^x − 1 (vector)" (fun x -> em1.[Array.IndexOf(xs, x)]) (fun x -> HighPrecision.toDouble (fst exact.[x] - one)) xs
        reportWithin 2.0 "sinh (vector)" (fun x -> sinh.[Array.IndexOf(xs, x)]) (fun x -> let e, f = exact.[x] in HighPrecision.toDouble ((e - f) >>> 1)) xs
        reportWithin 2.0 "cosh (vector)" (fun x -> cosh.[Array.IndexOf(xs, x)]) (fun x -> let e, f = exact.[x] in HighPrecision.toDouble ((e + f) >>> 1)) xs
        // Signed zeros, −1 below −40; beyond 709, ±∞ and NaN the scalar functions' bits.
        let bits (v: double) = BitConverter.DoubleToInt64Bits v
        Assert.Equal(bits -0.0, bits (Expm1Vector.expm1 [| -0.0 |]).[0])
        Assert.Equal(bits -0.0, bits (Expm1Vector.sinh [| -0.0 |]).[0])
        Assert.Equal<double[]>([| -1.0; -1.0; -1.0 |], Expm1Vector.expm1 [| -40.5; -1e300; -infinity |])
        let odd = [| 709.5; 710.0; -709.5; -710.0; 1e300; infinity; -infinity; nan; 2.0; 700.0 |]
        let mixed = Array.init 37 (fun i -> if i % 5 = 0 then 709.2 + float i elif i % 7 = 0 then nan else 40.0 * rng.NextDouble() - 20.0)
        sameBits Expm1Vector.expm1 (fun x -> Math.Exp x - 1.0) (fun x -> not (x <= 709.0)) odd mixed
        sameBits Expm1Vector.sinh Math.Sinh (fun x -> not (abs x <= 709.0)) odd mixed
        sameBits Expm1Vector.cosh Math.Cosh (fun x -> not (abs x <= 709.0)) odd mixed

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector ln(1 + x) is within 1 ulp, Math.Log(1 + x) where 1 + x is not normal, and each element's own`` () =
        let rng = Random(47)
        let exact (x: double) =
            let s = HighPrecision.one + HighPrecision.ofDouble x
            HighPrecision.toDouble (if s >= HighPrecision.one then HighPrecision.lnFixed s else -(HighPrecision.lnFixed (HighPrecision.div HighPrecision.one s)))
        let xs =
            Array.concat [ Array.init 400 (fun _ -> 4.0 * rng.NextDouble() - 1.0)
                           Array.init 200 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -300.0 + 299.0 * rng.NextDouble()))
                           [| for e in 1 .. 52 -> -1.0 + Math.Pow(2.0, float -e) |]
                           [| for e in 1 .. 10 -> Math.Pow(10.0, float (30 * e)) |]
                           [| for t in [ Math.Sqrt 2.0 - 1.0; Math.Sqrt 0.5 - 1.0; 1.0; 1e-8; 5.551115123125783e-17 ] do
                                for v in [ Math.BitDecrement t; t; Math.BitIncrement t ] do
                                    yield v
                                    yield -v |] ]
            |> Array.filter (fun x -> x > -1.0)
        let values = Log1pVector.log1p xs
        reportWithin 1.0 "ln(1 + x) (vector)" (fun x -> values.[Array.IndexOf(xs, x)]) exact xs
        let bits (v: double) = BitConverter.DoubleToInt64Bits v
        Assert.Equal(bits -0.0, bits (Log1pVector.log1p [| -0.0 |]).[0])
        // Where 1 + x is not positive, normal and finite: Math.Log(1 + x)'s bits.
        let outside (x: double) = not (1.0 + x >= 2.2250738585072014e-308 && 1.0 + x <= Double.MaxValue)
        sameBits Log1pVector.log1p (fun x -> Math.Log(1.0 + x)) outside
            [| -1.0; -1.5; -1e300; infinity; -infinity; nan; Double.MaxValue; 2.0; 0.5 |]
            (Array.init 37 (fun i -> if i % 5 = 0 then -1.0 - float i elif i % 7 = 0 then nan else 10.0 * rng.NextDouble() - 0.99))

    [<FactNeeding(Need.VectorLanes)>]
    member _.``the vector tanh is within 2 ulp, exact at the special values, and each element's own`` () =
        let rng = Random(31)
        let exact (x: double) =
            let e = HighPrecision.expNeg (HighPrecision.ofDouble (2.0 * abs x))
            let t = HighPrecision.toDouble (HighPrecision.div (HighPrecision.one - e) (HighPrecision.one + e))
            if x < 0.0 then -t else t
        // Both branches and the switch between them at 0.55, tiny arguments, and where tanh reaches 1.
        let xs =
            Array.concat [ Array.init 300 (fun _ -> 40.0 * rng.NextDouble() - 20.0)
                           Array.init 300 (fun _ -> 1.2 * rng.NextDouble() - 0.6)
                           Array.init 60 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -300.0 + 299.0 * rng.NextDouble()))
                           [| for t in [ 0.55; 19.0; 0.1 ] do
                                for v in [ Math.BitDecrement t; t; Math.BitIncrement t ] do
                                    yield v
                                    yield -v |] ]
        let values = SigmoidTanhVector.tanh xs
        reportWithin 2.0 "tanh (vector)" (fun x -> values.[Array.IndexOf(xs, x)]) exact xs
        // Special values as Math.Tanh gives them.
        sameBits SigmoidTanhVector.tanh Math.Tanh (fun _ -> true)
            [| 0.0; -0.0; infinity; -infinity; nan; 1e300; -1e300; 5e-324; -5e-324; 400.0; -400.0 |]
            (Array.init 37 (fun i -> if i % 5 = 0 then nan else 4.0 * rng.NextDouble() - 2.0))

    [<FactNeeding(Need.VectorLanes)>]
    member _.``the vector sigmoid is within 3 ulp, exact at the special values, and each element's own`` () =
        let rng = Random(23)
        let exact (z: double) =
            if z >= 0.0 then
                HighPrecision.toDouble (HighPrecision.div HighPrecision.one (HighPrecision.one + HighPrecision.expNeg (HighPrecision.ofDouble z)))
            else
                let e = HighPrecision.expNeg (HighPrecision.ofDouble -z)
                HighPrecision.toDouble (HighPrecision.div e (HighPrecision.one + e))
        // Where σ is normal and not 1: z in [−700, 37], densest around 0, and both sides of 0.
        let zs =
            Array.concat [ Array.init 300 (fun _ -> -700.0 + 737.0 * rng.NextDouble())
                           Array.init 300 (fun _ -> 8.0 * (2.0 * rng.NextDouble() - 1.0))
                           [| 1e-300; -1e-300; 1e-17; -1e-17; 0.5; -0.5; 36.9; -36.9 |] ]
        let values = SigmoidTanhVector.sigmoid zs
        reportWithin 3.0 "sigmoid (vector)" (fun z -> values.[Array.IndexOf(zs, z)]) exact zs
        // Special values as Special.sigmoid gives them.
        sameBits SigmoidTanhVector.sigmoid Special.sigmoid (fun _ -> true)
            [| 0.0; -0.0; infinity; -infinity; nan; 1e300; -1e300; -750.0; 750.0; 40.0; -40.0 |]
            (Array.init 37 (fun i -> if i % 5 = 0 then -800.0 else 20.0 * rng.NextDouble() - 10.0))

    // Without AVX-512 and without AVX2 and FMA flatExpMismatches compares nothing.
    [<FactNeeding(Need.VectorLanes)>]
    member _.``exp's written-out polynomial is bit for bit the loop that GELU's exp(−x²/2) runs`` () =
        let rng = Random(19)
        // The whole vector range, the reduction's half-way points, and GELU's arguments −x²/2 for |x| ≤ 38.
        let xs =
            Array.concat [ Array.init 4000 (fun _ -> -708.0 + 1417.0 * rng.NextDouble())
                           Array.init 4000 (fun _ -> -722.0 * rng.NextDouble())
                           [| for k in -40 .. 40 -> (float k + 0.5) * Math.Log 2.0 |]
                           Array.init 7 (fun k -> float k * 1e-17) ]
        let xs = Array.append xs (Array.zeroCreate (8 - xs.Length % 8))
        Assert.Equal(0, flatExpMismatches xs)

    [<FactNeeding(Need.FourLanes)>]
    member _.``two four-lane exponentials made at once give each vector's own bits and out-of-range mask`` () =
        let rng = Random(41)
        let pick () =
            match rng.Next 16 with
            | 0 -> -708.5
            | 1 -> 709.5
            | 2 -> nan
            | 3 -> -infinity
            | 4 -> (float (rng.Next 81 - 40) + 0.5) * Math.Log 2.0
            | _ -> 1417.0 * rng.NextDouble() - 708.0
        let bits (v: double) = BitConverter.DoubleToInt64Bits v
        for _ in 1 .. 5000 do
            let x = Vector256.Create(pick (), pick (), pick (), pick ())
            let y = Vector256.Create(pick (), pick (), pick (), pick ())
            let struct (ex, ey, bad) = ElementaryVector.expFormula4x2 x y
            let struct (fx, badX) = ElementaryVector.expFormula4 x
            let struct (fy, badY) = ElementaryVector.expFormula4 y
            Assert.Equal(badX ||| (badY <<< 4), bad)
            for l in 0 .. 3 do
                if (badX >>> l) &&& 1u = 0u then Assert.True(bits (fx.GetElement l) = bits (ex.GetElement l), sprintf "e^%.17g" (x.GetElement l))
                if (badY >>> l) &&& 1u = 0u then Assert.True(bits (fy.GetElement l) = bits (ey.GetElement l), sprintf "e^%.17g" (y.GetElement l))

    [<FactNeeding(Need.EightLanes)>]
    member _.``two eight-lane exponentials made at once give each vector's own bits, and the mask is x outside [−708, 709] or NaN`` () =
        let rng = Random(43)
        let pick () =
            match rng.Next 16 with
            | 0 -> -708.0
            | 1 -> 709.0
            | 2 -> Math.BitDecrement -708.0
            | 3 -> Math.BitIncrement 709.0
            | 4 -> nan
            | 5 -> (if rng.Next 2 = 0 then -infinity else infinity)
            | 6 -> (float (rng.Next 81 - 40) + 0.5) * Math.Log 2.0
            | _ -> 1420.0 * rng.NextDouble() - 710.0
        let bits (v: double) = BitConverter.DoubleToInt64Bits v
        let outside (v: Vector512<double>) =
            Seq.fold (fun m l -> let x = v.GetElement l in if x >= -708.0 && x <= 709.0 then m else m ||| (1UL <<< l)) 0UL [ 0 .. 7 ]
        for _ in 1 .. 5000 do
            let x = Vector512.Create<double>(ReadOnlySpan(Array.init 8 (fun _ -> pick ())))
            let y = Vector512.Create<double>(ReadOnlySpan(Array.init 8 (fun _ -> pick ())))
            let struct (ex, ey, bad) = ElementaryVector.expFormula8x2 x y
            let struct (fx, badX) = ElementaryVector.expFormula x
            let struct (fy, badY) = ElementaryVector.expFormula y
            Assert.Equal(outside x, badX)
            Assert.Equal(outside y, badY)
            Assert.Equal(badX ||| (badY <<< 8), bad)
            for l in 0 .. 7 do
                if (badX >>> l) &&& 1UL = 0UL then Assert.True(bits (fx.GetElement l) = bits (ex.GetElement l), sprintf "e^%.17g" (x.GetElement l))
                if (badY >>> l) &&& 1UL = 0UL then Assert.True(bits (fy.GetElement l) = bits (ey.GetElement l), sprintf "e^%.17g" (y.GetElement l))

    [<FactNeeding(Need.VectorLanes)>]
    member _.``the vector exponential is within 1 ulp, and Math.Exp's wherever the result is not normal`` () =
        let rng = Random(11)
        let exact (x: double) =
            if x < 0.0 then HighPrecision.toDouble (HighPrecision.expNeg (HighPrecision.ofDouble -x))
            else HighPrecision.toDouble (HighPrecision.div HighPrecision.one (HighPrecision.expNeg (HighPrecision.ofDouble x)))
        // The whole normal range, both ends of it, the reduction's half-way points n·ln2 ± ln2/2, and small x.
        let xs =
            Array.concat [ Array.init 240 (fun _ -> -708.0 + 1417.0 * rng.NextDouble())
                           Array.init 60 (fun _ -> 4.0 * (2.0 * rng.NextDouble() - 1.0))
                           [| for k in -20 .. 20 -> (float k + 0.5) * Math.Log 2.0 |]
                           [| -708.0; 709.0; -707.99; 708.99; 1e-300; -1e-300; 1e-17; -1e-17; 0.0; -0.0 |] ]
        let values = ElementaryVector.exp xs
        reportWithin 1.0 "exp (vector)" (fun x -> values.[Array.IndexOf(xs, x)]) exact xs
        // Outside the vector range and non-finite: exactly Math.Exp, in any lane and in the tail.
        sameBits ElementaryVector.exp Math.Exp (fun _ -> true)
            [| -708.5; -745.0; -746.0; 709.8; 710.0; nan; infinity; -infinity; -1000.0; 1000.0; 1.0 |]
            (Array.append (Array.init 37 (fun i -> if i % 5 = 0 then -800.0 else 3.0 * rng.NextDouble() - 1.5))
                          (Array.init 45 (fun i -> if i = 29 then 710.0 else 1400.0 * rng.NextDouble() - 700.0)))

    [<Fact>]
    member _.``sin's, cos's, sinh's and cosh's one-pass pullbacks give the two passes' bits`` () =
        // g·f'(x) in one pass against f' on its lanes, then the product (what the pullbacks computed before): in
        // every lane and the tail, beyond the lanes' range (Math's functions there) and for a uniform adjoint.
        let rng = Random(23)
        let xs =
            Array.concat [ Array.init 61 (fun _ -> 20.0 * rng.NextDouble() - 10.0)
                           [| 0.0; -0.0; 1e-300; 131072.5; -2e5; 1e10; 700.0; -709.5; 710.0; nan; infinity; -infinity |]
                           Array.init 7 (fun _ -> 3.0 * rng.NextDouble()) ]
        let gs = Array.init xs.Length (fun _ -> 4.0 * rng.NextDouble() - 2.0)
        let x = Value.constant (Tensor.create [| xs.Length |] xs)
        let bits (v: Value) = v.Tensor.ToArray() |> Array.map BitConverter.DoubleToInt64Bits
        for name, f, derivative in [ "sin", Elementwise.sin, Elementwise.cos
                                     "cos", Elementwise.cos, (fun v -> Arithmetic.neg (Elementwise.sin v))
                                     "sinh", Elementwise.sinh, Elementwise.cosh
                                     "cosh", Elementwise.cosh, Elementwise.sinh ] do
            let _, pullback = Autodiff.vjp f x
            let g = Value.constant (Tensor.create [| xs.Length |] gs)
            Assert.True((bits (Arithmetic.mul g (derivative x)) = bits (pullback g)), name)
            Assert.True((bits (Arithmetic.mul (Value.constant (Tensor.ones [| xs.Length |])) (derivative x)) = bits (Autodiff.grad (fun v -> Reduction.sum (f v)) x)), name + " (uniform adjoint)")
