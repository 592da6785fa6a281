namespace Functional.Tests

open System
open System.Numerics
open Xunit
open Functional.Core

/// The one-pass activations (ELU, SiLU, softplus): the same bits on eight lanes and four, in one pass and apart,
/// each element on its own; ELU against a 2,200-bit reference; SiLU and softplus with the bits of σ's, exp's and
/// ln's own lanes; Math.Exp's bits where the lanes hand over.
[<Collection("process-wide state")>]
module LanesFusedLanesTests =

    let private bits (x: double) = BitConverter.DoubleToInt64Bits x

    /// Every region: each side of the series/exponential split (|r| ≤ ln2/2, so n = 0 up to about −0.35),
    /// tiny magnitudes, the lanes' end at −708 and beyond, large positives, the non-finite, zeros of both signs.
    let private points (rng: Random) (count: int) =
        Array.concat [ Array.init count (fun _ -> 45.0 * rng.NextDouble() - 40.0)
                       Array.init count (fun _ -> -Math.Pow(10.0, -310.0 + 311.0 * rng.NextDouble()))
                       Array.init count (fun _ -> -0.7 * rng.NextDouble())
                       Array.init 200 (fun _ -> -707.0 - 2.0 * rng.NextDouble())
                       [| for t in [ 0.34657359027997264; 0.5; 1.0; 708.0; 709.0; 745.0; 746.0 ] do
                            yield Math.BitDecrement -t
                            yield -t
                            yield Math.BitIncrement -t |]
                       [| nan; infinity; -infinity; 0.0; -0.0; 1e-300; -1e-300; 5e-324; -5e-324; 1e300; Double.MaxValue; -Double.MaxValue |] ]

    /// |got − want| in units of want's last place.
    let private ulps (got: double) (want: double) =
        if got = want then 0.0
        else abs (got - want) / (Math.BitIncrement(abs want) - abs want)

    [<FactNeeding(Need.FourLanes)>]
    let ``eˣ − 1 and eˣ on the lanes are within 1 ulp of a 2,200-bit reference`` () =
        let rng = Random(61)
        let xs =
            Array.concat [ Array.init 1500 (fun _ -> -40.0 * rng.NextDouble())
                           Array.init 1500 (fun _ -> -Math.Pow(10.0, -300.0 + 300.0 * rng.NextDouble()))
                           Array.init 1500 (fun _ -> -0.7 * rng.NextDouble())
                           Array.init 20 (fun _ -> -700.0 - 8.0 * rng.NextDouble()) ]
        let run () = EluVector.withDerivative 1.0 1.0 xs
        let widths =
            let wide = run ()
            Functional.Kernels.Tuning.EightLanes <- false
            [ wide; (try run () finally Functional.Kernels.Tuning.EightLanes <- true) ]
        for struct (values, derivs) in widths do
            let mutable worstValue, worstDeriv = 0.0, 0.0
            for i in 0 .. xs.Length - 1 do
                let e = HighPrecision.expNeg (HighPrecision.ofDouble -xs.[i])
                let wantValue = HighPrecision.toDouble (e - HighPrecision.one)
                let wantDeriv = HighPrecision.toDouble e
                let uv, ud = ulps values.[i] wantValue, ulps derivs.[i] wantDeriv
                Assert.True(uv <= 1.0, sprintf "eˣ − 1 at %.17g: %.17g against %.17g (%.2f ulp)" xs.[i] values.[i] wantValue uv)
                Assert.True(ud <= 1.0, sprintf "eˣ at %.17g: %.17g against %.17g (%.2f ulp)" xs.[i] derivs.[i] wantDeriv ud)
                worstValue <- max worstValue uv
                worstDeriv <- max worstDeriv ud
            // The split's both sides were met, not only easy points.
            Assert.True(worstValue > 0.0 && worstDeriv > 0.0)

    /// Runs value-and-derivative, value and g·derivative on eight lanes and on four: the same bits, and within one
    /// width the value pass gives the fused pass's value, the scaled pass g times its derivative, and each element
    /// alone what it gets in the array. Returns (values, derivatives) on the widest lanes here.
    let private sameEverywhere (name: string) (both: double[] -> struct (double[] * double[])) (value: double[] -> double[])
                               (scaled: double[] -> double[] -> double[]) (xs: double[]) (g: double[]) =
        let run () =
            let struct (v, d) = both xs
            struct (v, d, value xs, scaled xs g)
        let struct (v, d, values, products) as eight = run ()
        Functional.Kernels.Tuning.EightLanes <- false
        let four = try run () finally Functional.Kernels.Tuning.EightLanes <- true
        let arrays (struct (a, b, c, e)) = [ a; b; c; e ]
        for a, b in List.zip (arrays eight) (arrays four) do
            for i in 0 .. xs.Length - 1 do
                Assert.True(bits a.[i] = bits b.[i], sprintf "%s at x = %.17g: eight lanes %.17g, four %.17g" name xs.[i] a.[i] b.[i])
        for i in 0 .. xs.Length - 1 do
            let x = xs.[i]
            Assert.True(bits v.[i] = bits values.[i], sprintf "%s: value at %.17g" name x)
            Assert.True(bits (g.[i] * d.[i]) = bits products.[i], sprintf "%s: g·derivative at %.17g" name x)
            let struct (v1, d1) = both [| x |]
            Assert.True(bits v1.[0] = bits v.[i] && bits d1.[0] = bits d.[i], sprintf "%s: alone at %.17g" name x)
        v, d

    [<FactNeeding(Need.FourLanes)>]
    let ``ELU's lanes give the same bits on eight lanes and four, in one pass and apart, and each element alone`` () =
        let rng = Random(67)
        let xs = points rng 3000
        let g = Array.init xs.Length (fun _ -> 4.0 * rng.NextDouble() - 2.0)
        let alpha, kink = 0.7, 0.85
        let v, d = sameEverywhere "ELU" (EluVector.withDerivative alpha kink) (EluVector.value alpha) (EluVector.scaled alpha kink) xs g
        for i in 0 .. xs.Length - 1 do
            let x = xs.[i]
            // The definition's cases, exactly where they are exact.
            if x > 0.0 then Assert.True(bits v.[i] = bits x && d.[i] = 1.0, sprintf "above 0 at %.17g" x)
            elif x = 0.0 then Assert.True(bits v.[i] = bits (alpha * x) && d.[i] = kink, sprintf "at %.17g" x)
            elif Double.IsNaN x then Assert.True(Double.IsNaN v.[i] && Double.IsNaN d.[i])
            elif x < -708.0 then
                // Handed to Math.Exp: eˣ − 1 is −1 there.
                Assert.True(v.[i] = -alpha && bits d.[i] = bits (alpha * Math.Exp x), sprintf "below −708 at %.17g" x)
            else
                // α·(eˣ − 1) and α·eˣ, each one rounding from the lanes' eˣ − 1 and eˣ (α = 1 there).
                let struct (e1, e) = EluVector.withDerivative 1.0 1.0 [| x |] |> fun (struct (a, b)) -> struct (a.[0], b.[0])
                Assert.True(bits v.[i] = bits (alpha * e1) && bits d.[i] = bits (alpha * e), sprintf "α times the lanes at %.17g" x)
                // eˣ is the vector exponential's own bits.
                Assert.True(bits e = bits (ElementaryVector.exp [| x |]).[0], sprintf "eˣ at %.17g" x)

    [<FactNeeding(Need.FourLanes)>]
    let ``SiLU's and softplus's one-pass lanes give the bits of σ's, exp's and ln's lanes, the same on eight lanes and four`` () =
        let rng = Random(71)
        // Both sides of −|x| = −708 (Math.Exp takes over), the series and log paths, the non-finite.
        let xs =
            Array.concat [ points rng 3000
                           Array.init 400 (fun _ -> (if rng.Next(2) = 0 then 1.0 else -1.0) * (707.0 + 2.0 * rng.NextDouble()))
                           [| 36.0; -36.0; 37.5; -37.5; 745.0; 746.0 |] ]
        let g = Array.init xs.Length (fun _ -> 4.0 * rng.NextDouble() - 2.0)
        let sv, sd = sameEverywhere "SiLU" LogisticVector.siluWithDerivative LogisticVector.silu LogisticVector.siluScaled xs g
        let pv, pd = sameEverywhere "softplus" LogisticVector.softplusWithDerivative LogisticVector.softplus LogisticVector.softplusScaled xs g
        // What the separate passes give: σ by its own lanes, e^(−|x|) by exp's, ln(1 + e) by ln's.
        let s = SigmoidTanhVector.sigmoid xs
        let e = ElementaryVector.exp (Array.map (fun x -> -(abs x)) xs)
        let u = Array.map (fun e -> 1.0 + e) e
        let ln = LogVector.log u
        for i in 0 .. xs.Length - 1 do
            let x = xs.[i]
            // At ±∞ the limits (x·σ(x) and its slope are ∞·0 there): −0 and 0 at −∞, ∞ and 1 at +∞.
            let value, slope =
                if Double.IsNegativeInfinity x then -0.0, 0.0
                elif Double.IsPositiveInfinity x then x, 1.0
                else x * s.[i], s.[i] * (1.0 + x * (1.0 - s.[i]))
            Assert.True(bits sv.[i] = bits value && bits sd.[i] = bits slope, sprintf "SiLU at %.17g" x)
            let l = if u.[i] = 1.0 then e.[i] else ln.[i] * (e.[i] / (u.[i] - 1.0))
            Assert.True(bits pv.[i] = bits ((if x < 0.0 then 0.0 else x) + l), sprintf "softplus at %.17g: %.17g" x pv.[i])
            Assert.True(bits pd.[i] = bits s.[i], sprintf "softplus' at %.17g" x)
