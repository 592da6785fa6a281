// Regenerates the Mills-ratio Taylor table in src/Core.FSharp/Special.fs:
//   dotnet fsi tools/gen-mills-anchors.fsx
// For t0 = 0.5, 0.75, …, 8.0: c_k = R^(k)(t0)/k!, k = 0..12, where R(t) = Φ(−t)/φ(t) is the Mills ratio,
// from the tests' 2,200-bit reference; derivatives by R' = tR − 1, R^(k+1) = t·R^(k) + k·R^(k−1), all in
// fixed point, then correctly rounded.
#load "../tests/Core.Tests/Support/HighPrecision.fs"
open System.Numerics
open Functional.Tests
let terms = 13
for j in 0 .. 30 do
    let t = 0.5 + 0.25 * float j
    let tb = HighPrecision.ofDouble t
    let r = HighPrecision.div (HighPrecision.cdf -t) (HighPrecision.pdf t)
    let d = Array.zeroCreate<BigInteger> terms
    d.[0] <- r
    d.[1] <- HighPrecision.mul tb r - HighPrecision.one
    for k in 1 .. terms - 2 do
        d.[k + 1] <- HighPrecision.mul tb d.[k] + BigInteger(k) * d.[k - 1]
    let mutable fact = BigInteger.One
    let coefs =
        [| for k in 0 .. terms - 1 ->
            if k > 0 then fact <- fact * BigInteger(k)
            HighPrecision.toDouble (d.[k] / fact) |]
    let text = coefs |> Array.map (fun c -> c.ToString("R", System.Globalization.CultureInfo.InvariantCulture)) |> String.concat "; "
    printfn "          [| %s |] // t0 = %g" text t
