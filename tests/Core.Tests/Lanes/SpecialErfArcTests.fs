namespace Functional.Tests

open System
open Xunit
open Xunit.Abstractions
open Functional.Core

/// erf, erfc, atan, asin and acos on vector lanes against the 2,200-bit reference: values and the pullback's
/// derivative, the special values, and each element's result its own.
[<Collection("process-wide state")>]
type SpecialErfArcTests(output: ITestOutputHelper) =

    let reportWithin maxUlps name f exact xs = Ulps.reportWithin output maxUlps name f exact xs
    let at (xs: double[]) (values: double[]) (x: double) = values.[Array.IndexOf(xs, x)]
    let bits (v: double) = BitConverter.DoubleToInt64Bits v

    /// Both sides of each point.
    let around (points: double seq) =
        [| for p in points do
             for v in [ Math.BitDecrement p; p; Math.BitIncrement p ] do
                 yield v
                 yield -v |]

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector erf is within 1 ulp, erfc within 2 and their derivative within 1, with the special values, each element its own`` () =
        let rng = Random(47)
        // Dense near 0 and over the series' and the tail's edges (3/4 for erf, 3/8 for erfc), the Mills fit's
        // octave edges (a√2 = 2ᵉ), tiny magnitudes, and erfc's tail while its value is normal (a ≤ 26.5).
        let xs =
            Array.concat [ Array.init 400 (fun _ -> 12.0 * rng.NextDouble() - 6.0)
                           Array.init 60 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -300.0 + 299.5 * rng.NextDouble()))
                           around [ 0.375; 0.75; 0.5; 1.0 ]
                           around [ for e in -1 .. 5 -> Math.Pow(2.0, float e) / Math.Sqrt 2.0 ] |> Array.filter (fun x -> abs x <= 26.5) ]
        let tail = Array.init 60 (fun _ -> 6.0 + 20.5 * rng.NextDouble())
        let erfs = ErfVector.erf xs
        reportWithin 1.0 "erf (vector)" (at xs erfs) (fun x -> HighPrecision.toDouble (HighPrecision.erf x)) xs
        let all = Array.append xs tail
        let erfcs = ErfVector.erfc all
        reportWithin 2.0 "erfc (vector)" (at all erfcs) (fun x -> HighPrecision.toDouble (HighPrecision.erfc x)) all
        let ones = Array.create all.Length 1.0
        let slopes = ErfVector.erfScaled all ones
        let exactSlope = all |> Array.map (fun x -> x, HighPrecision.toDouble (HighPrecision.erfSlope x)) |> dict
        reportWithin 1.0 "erf' (vector)" (at all slopes) (fun x -> exactSlope.[x]) all
        let minusSlopes = ErfVector.erfcScaled all ones
        for i in 0 .. all.Length - 1 do Assert.Equal(bits -slopes.[i], bits minusSlopes.[i])
        // The pullback is g times the derivative, lane for lane.
        let g = Array.init all.Length (fun _ -> rng.NextDouble() - 0.5)
        Assert.Equal<double[]>(Array.map2 (*) g slopes, ErfVector.erfScaled all g)
        // ±0, ±∞, NaN, the held ends and beyond (erfc subnormal, then 0; the derivative 0 from 27.3 on).
        let special = [| 0.0; -0.0; infinity; -infinity; nan; 27.0; 27.5; 27.6; 30.0; -30.0; 1e300; -1e300 |]
        let e, ec, d = ErfVector.erf special, ErfVector.erfc special, ErfVector.erfScaled special (Array.create special.Length 1.0)
        Assert.Equal<double[]>([| 0.0; -0.0; 1.0; -1.0 |], Array.sub e 0 4)
        Assert.Equal(bits -0.0, bits e.[1])
        Assert.Equal<double[]>([| 1.0; 1.0; 0.0; 2.0 |], Array.sub ec 0 4)
        Assert.True(Double.IsNaN e.[4] && Double.IsNaN ec.[4] && Double.IsNaN d.[4])
        Assert.Equal<double[]>([| 0.0; 0.0; 0.0; 2.0; 0.0; 2.0 |], Array.sub ec 6 6)
        Assert.True(ec.[5] > 0.0 && ec.[5] < 1e-300, sprintf "erfc 27 = %g" ec.[5])
        Assert.Equal<double[]>([| 0.0; 0.0; 0.0; 0.0; 0.0 |], Array.sub d 7 5)
        Assert.Equal<double[]>([| 1.0; -1.0; 1.0; 1.0; 1.0; -1.0; 1.0; -1.0 |], Array.append (Array.sub e 2 2) (Array.sub e 6 6))
        let mixed = Array.init 37 (fun i -> if i % 7 = 0 then nan elif i % 5 = 0 then 40.0 else 8.0 * rng.NextDouble() - 4.0)
        Ulps.sameBits ErfVector.erf Special.erf Double.IsNaN special mixed
        Ulps.sameBits ErfVector.erfc Special.erfc Double.IsNaN special mixed

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector atan is within 1 ulp and its derivative within 1, Math's beyond 2^500, each element its own`` () =
        let rng = Random(53)
        // Dense over the reduction's intervals and both sides of their edges, log-uniform magnitudes from 10⁻³⁰⁰
        // to 10³⁰⁰, and tiny and huge values.
        let xs =
            Array.concat [ Array.init 600 (fun _ -> 8.0 * rng.NextDouble() - 4.0)
                           Array.init 300 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -300.0 + 600.0 * rng.NextDouble()))
                           around [ 0.4375; 0.6875; 1.1875; 2.4375; 0.5; 1.0; 1.5 ]
                           [| 0.0; -0.0; 5e-324; -5e-324; 1e-8; 1.3407807929942596e154; 1e300 |] ]
        let values = ArcVector.atan xs
        reportWithin 1.0 "atan (vector)" (at xs values) (fun x -> HighPrecision.toDouble (HighPrecision.atan x)) (xs |> Array.filter (fun x -> x <> 0.0 && abs x > 1e-300))
        let slopes = ArcVector.atanScaled xs (Array.create xs.Length 1.0)
        let exactSlope (x: double) = let b = HighPrecision.ofDouble x in HighPrecision.toDouble (HighPrecision.div HighPrecision.one (HighPrecision.one + HighPrecision.mul b b))
        reportWithin 1.0 "atan' (vector)" (at xs slopes) exactSlope (xs |> Array.filter (fun x -> abs x < 1e100))
        Assert.Equal<int64[]>([| bits -0.0; bits 0.0 |], Array.map bits (ArcVector.atan [| -0.0; 0.0 |]))
        let odd = [| nan; infinity; -infinity; 1e301; -1e301; Double.MaxValue; 2.0; -0.5 |]
        let mixed = Array.init 37 (fun i -> if i % 7 = 0 then nan elif i % 5 = 0 then 1e302 else 20.0 * rng.NextDouble() - 10.0)
        let outside (x: double) = not (abs x <= Math.Pow(2.0, 500.0))
        Ulps.sameBits ArcVector.atan Math.Atan outside odd mixed
        Ulps.sameBits (fun xs -> ArcVector.atanScaled xs (Array.create xs.Length 1.0)) ArcVector.atanSlopeScalar outside odd mixed

    [<FactNeeding(Need.FourLanes)>]
    member _.``the vector asin and acos are within 1 ulp and their derivative within 2, Math's outside [-1, 1], each element its own`` () =
        let rng = Random(59)
        // Uniform over [−1, 1], both sides of 1/2 and of ±1, log-uniform magnitudes from 10⁻³⁰⁰ and 1 − 10⁻ᵏ.
        let xs =
            Array.concat [ Array.init 600 (fun _ -> 2.0 * rng.NextDouble() - 1.0)
                           Array.init 200 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * Math.Pow(10.0, -300.0 + 300.0 * rng.NextDouble()))
                           Array.init 100 (fun _ -> (if rng.Next(2) = 0 then -1.0 else 1.0) * (1.0 - Math.Pow(10.0, -16.0 * rng.NextDouble())))
                           around [ 0.5; 0.25; 0.75 ]
                           [| 1.0; -1.0; Math.BitDecrement 1.0; -(Math.BitDecrement 1.0); 5e-324; -5e-324 |] ]
        let sines, cosines = ArcVector.asin xs, ArcVector.acos xs
        reportWithin 1.0 "asin (vector)" (at xs sines) (fun x -> HighPrecision.toDouble (HighPrecision.asin x)) (xs |> Array.filter (fun x -> abs x > 1e-300))
        reportWithin 1.0 "acos (vector)" (at xs cosines) (fun x -> HighPrecision.toDouble (HighPrecision.acos x)) xs
        let inside = xs |> Array.filter (fun x -> abs x < 1.0)
        let slopes = ArcVector.asinScaled inside (Array.create inside.Length 1.0)
        let exactSlope (x: double) =
            let b = HighPrecision.ofDouble x
            HighPrecision.toDouble (HighPrecision.div HighPrecision.one (HighPrecision.sqrt (HighPrecision.one - HighPrecision.mul b b)))
        reportWithin 2.0 "asin' (vector)" (at inside slopes) exactSlope inside
        let minus = ArcVector.acosScaled inside (Array.create inside.Length 1.0)
        for i in 0 .. inside.Length - 1 do Assert.Equal(bits -slopes.[i], bits minus.[i])
        // asin(±0) = ±0, asin(±1) = ±π/2, acos(1) = 0, acos(−1) = π, the derivative ∞ at ±1.
        let ends = [| 0.0; -0.0; 1.0; -1.0 |]
        Assert.Equal<int64[]>(Array.map bits [| 0.0; -0.0; Math.PI / 2.0; -Math.PI / 2.0 |], Array.map bits (ArcVector.asin ends))
        Assert.Equal<double[]>([| Math.PI / 2.0; Math.PI / 2.0; 0.0; Math.PI |], ArcVector.acos ends)
        Assert.Equal<double[]>([| 1.0; 1.0; infinity; infinity |], ArcVector.asinScaled ends (Array.create 4 1.0))
        let odd = [| nan; infinity; -infinity; 1.5; -1.0000000000000002; 1e300; 0.3 |]
        let mixed = Array.init 37 (fun i -> if i % 7 = 0 then nan elif i % 5 = 0 then 2.0 else 2.0 * rng.NextDouble() - 1.0)
        let outside (x: double) = not (abs x <= 1.0)
        Ulps.sameBits ArcVector.asin Math.Asin outside odd mixed
        Ulps.sameBits ArcVector.acos Math.Acos outside odd mixed
