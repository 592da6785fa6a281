// Regenerates the Mills-ratio anchors in src/Core.FSharp/Special.fs:
//   dotnet fsi tools/gen-mills-anchors.fsx
// R(t) = Φ(−t)/φ(t) at t = 0.5, 0.75, …, 8.0 from the tests' 2,200-bit reference, correctly rounded.
#load "../tests/Core.Tests/Support/HighPrecision.fs"
open Functional.Tests
for j in 0 .. 30 do
    let t = 0.5 + 0.25 * float j
    let r = HighPrecision.div (HighPrecision.cdf -t) (HighPrecision.pdf t)
    printfn "          %s // R(%g)" ((HighPrecision.toDouble r).ToString("R", System.Globalization.CultureInfo.InvariantCulture)) t
