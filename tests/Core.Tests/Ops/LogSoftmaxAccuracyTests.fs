namespace Functional.Tests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Functional.Core

/// Log-softmax at any magnitude against an exact reference: values within 4 ulp; the pullback g − e^y·Σg within 4
/// ulp of its componentwise scale |g| + p·(1 + |y|)·Σ|g| (it is formed from the output y, as PyTorch's is, and an
/// error of k ulp in y is k·|y| ulp in e^y). It switches the fused softmax off and on (`Tuning.FusedSoftmax`), so it
/// runs with the other tests of process-wide state, not beside them.
[<Collection("process-wide state")>]
module OpsLogSoftmaxAccuracyTests =

    let private ulp (v: double) = let a = abs v in Math.BitIncrement a - a

    let private withFused (fused: bool) (f: unit -> 'a) =
        Functional.Kernels.Tuning.FusedSoftmax <- fused
        try f () finally Functional.Kernels.Tuning.FusedSoftmax <- true

    /// Rows of n laid out along `axis` of a rank-3 tensor (axis 2: contiguous rows; axis 1: the middle kernel).
    let private layout (rows: double[][]) (axis: int) =
        let n = rows.[0].Length
        let r = rows.Length
        if axis = 2 then Tensor.create [| 1; r; n |] (Array.concat rows)
        else Tensor.permute [| 0; 2; 1 |] (Tensor.create [| 1; r; n |] (Array.concat rows)) |> fun t -> Tensor.create [| 1; n; r |] (t.ToArray())

    let private rowsOf (t: Tensor) (axis: int) (r: int) (n: int) =
        let a = (if axis = 2 then t else Tensor.permute [| 0; 2; 1 |] t).ToArray()
        Array.init r (fun i -> a.[i * n .. i * n + n - 1])

    /// Checks every row both ways (fused and separate passes) along both axes.
    let private check (what: string) (rows: double[][]) (adjoints: double[][]) =
        let r, n = rows.Length, rows.[0].Length
        for axis in [ 2; 1 ] do
            for fused in [ true; false ] do
                let x = Value.constant (layout rows axis)
                let g = Value.constant (layout adjoints axis)
                let y, grad =
                    withFused fused (fun () ->
                        let y, pullback = Autodiff.vjp (Softmax.logSoftmax axis) x
                        y.Tensor, (pullback g).Tensor)
                let ys, gs = rowsOf y axis r n, rowsOf grad axis r n
                for i in 0 .. r - 1 do
                    let ry, rp, rg = HighPrecision.logSoftmax rows.[i] adjoints.[i]
                    let sumAbsG = adjoints.[i] |> Array.sumBy abs
                    for j in 0 .. n - 1 do
                        let where = sprintf "%s, row %d (%A), element %d, axis %d, fused %b" what i rows.[i] j axis fused
                        let ey = HighPrecision.toDouble ry.[j]
                        let got = ys.[i].[j]
                        if abs (got - ey) > 4.0 * ulp ey then
                            Check.failf "%s: log-softmax %.17g, exact %.17g (%.1f ulp)" where got ey ((got - ey) / ulp ey)
                        let eg = HighPrecision.toDouble rg.[j]
                        let p = HighPrecision.toDouble rp.[j]
                        let scale = abs adjoints.[i].[j] + p * (1.0 + abs ey) * sumAbsG
                        let gotG = gs.[i].[j]
                        if abs (gotG - eg) > 4.0 * ulp scale + 2e-323 then
                            Check.failf "%s: pullback %.17g, exact %.17g (%.1f ulp of the scale %.3g)" where gotG eg ((gotG - eg) / ulp scale) scale

    [<Fact>]
    let ``the reported rows: four equal entries of 1e20 give −ln 4 and a pullback of 0.75 and −0.25`` () =
        for fused in [ true; false ] do
            withFused fused (fun () ->
                let x = Value.constant (Tensor.create [| 4 |] [| 1e20; 1e20; 1e20; 1e20 |])
                let y, pullback = Autodiff.vjp (Softmax.logSoftmax 0) x
                Assert.Equal<double[]>(Array.create 4 -1.3862943611198906, y.Tensor.ToArray())
                let g = (pullback (Value.constant (Tensor.create [| 4 |] [| 1.0; 0.0; 0.0; 0.0 |]))).Tensor.ToArray()
                Assert.Equal<double[]>([| 0.75; -0.25; -0.25; -0.25 |], g))

    [<Fact>]
    let ``rows with maxima from 1e4 to 1e300, and mixed signs, are exact to 4 ulp`` () =
        let rng = Random(24)
        for m in [ 1e4; 1e10; 1e16; 1e20; 1e300 ] do
            // Neighbours one ulp of m apart (e near 1: Σ near n), a spread around m, far entries, mixed signs, and
            // entries just below m by amounts whose exponentials are near the double range's end.
            let u = ulp m
            let rows =
                [| [| m; m; m; m; m; m; m |]
                   [| m; m - u; m - 2.0 * u; m - 3.0 * u; m - 5.0 * u; m + u; m - 7.0 * u |]
                   [| m; -m; m / 2.0; -m / 3.0; m * 0.999; 0.0; m * (1.0 - 1e-12) |]
                   [| -m; -m; -m * 1.5; -m * 2.0; -m * 1.0000001; -m; -m * 3.0 |]
                   Array.init 7 (fun _ -> m * (1.0 + 0.3 * (rng.NextDouble() - 0.5)))
                   Array.init 7 (fun j -> m - (if m > 1e15 then u * float (j * j) else 40.0 * float j))
                   Array.init 7 (fun j -> if j = 0 then m else m - (if m > 1e15 then u else 1.0) * float (700 + 10 * j)) |]
            let adjoints = rows |> Array.map (fun row -> row |> Array.map (fun _ -> rng.NextDouble() * 2.0 - 1.0))
            check (sprintf "max %g" m) rows adjoints

    [<Fact>]
    let ``log-softmax at random magnitudes up to 1e300 is exact to 4 ulp (fuzz)`` () =
        let row =
            gen {
                let! n = Gen.choose (1, 9)
                let! exponent = Gen.choose (-5, 300)
                let! spread = Gen.elements [ 0.0; 1e-15; 1e-9; 1e-3; 0.5; 2.0 ]
                let! offsets = Gen.arrayOfLength n (Gen.choose (-1000000, 1000000))
                let! signs = Gen.arrayOfLength n (Gen.frequency [ 5, Gen.constant 1.0; 1, Gen.constant -1.0 ])
                let! absolute = Gen.arrayOfLength n (Gen.choose (-800, 800))
                let! kind = Gen.choose (0, 2)
                let m = 10.0 ** float exponent
                return
                    Array.init n (fun j ->
                        match kind with
                        | 0 -> signs.[j] * m * (1.0 + spread * float offsets.[j] / 1e6)   // relative spread around ±m
                        | 1 -> m + float absolute.[j] * (max 1.0 (ulp m))                  // steps of an ulp (or 1) below m
                        | _ -> signs.[j] * m)                                              // ties and mixed signs
            }
        let case = gen { let! r = row in let! g = Gen.arrayOfLength r.Length (Gen.choose (-1000, 1000)) in return r, g |> Array.map (fun v -> float v / 1000.0) }
        Check.forAll "log-softmax fuzz" 2024UL 200 (Arb.fromGen case) (fun (r, g) -> check "fuzz" [| r |] [| g |]) |> ignore
