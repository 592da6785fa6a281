namespace Functional.Tests

open System
open Xunit
open Functional.Core
open Functional.Kernels

/// Leaky ReLU's forward and its pullback from slope bits (Functional.Kernels.SlopeBits) against the scalar
/// formulas on x, bit for bit, over every length class, kink slope, chunking and store path.
module KernelsSlopeBitsTests =

    let private value (alpha: double) (form: SlopeBits.Form) (v: double) =
        match form with
        | SlopeBits.Form.Relu -> if v > 0.0 || Double.IsNaN v then v else 0.0
        | SlopeBits.Form.Abs -> Math.Abs v
        | _ -> if v < 0.0 then alpha * v else v

    let private slope (alpha: double) (kink: double) (v: double) =
        if v > 0.0 then 1.0 elif v < 0.0 then alpha elif Double.IsNaN v then nan else kink

    let private clampValue (lo: double) (hi: double) (v: double) = if v < lo then lo elif v > hi then hi else v

    let private clampSlope (lo: double) (hi: double) (kinkLow: double) (kinkHigh: double) (v: double) =
        if v > lo && v < hi then 1.0 elif v < lo || v > hi then 0.0 elif Double.IsNaN v then nan elif v = lo then kinkLow else kinkHigh

    /// The same bits, or both NaN.
    let private same (what: unit -> string) (expected: double) (actual: double) =
        if not (Double.IsNaN expected && Double.IsNaN actual) && BitConverter.DoubleToInt64Bits expected <> BitConverter.DoubleToInt64Bits actual then
            Assert.Fail(sprintf "%s: expected %.17g, got %.17g" (what ()) expected actual)

    /// n values with ±0, NaN, ±∞ and subnormals in some blocks only (every 5th block of 64 holds one), so that both
    /// flagged and clean blocks occur; a last partial block, which a scalar loop runs, ends in −0 and +0.
    let private input (seed: int) (n: int) =
        let rnd = Random(seed)
        let specials = [| 0.0; -0.0; nan; infinity; -infinity; 5e-324; -5e-324 |]
        Array.init n (fun i ->
            if n % 64 <> 0 && i >= n - 2 && i >= n - n % 64 then (if i = n - 1 then 0.0 else -0.0)
            elif (i / 64) % 5 = 2 && i % 64 = (seed + i / 64) % 64 then specials.[(i / 64) % specials.Length]
            else rnd.NextDouble() * 4.0 - 2.0)

    /// Runs body over [0, n) in ranges of `chunk` elements (a multiple of FlagSpan), as the parallel loops do.
    let private chunked (n: int) (chunk: int) (body: int -> int -> unit) =
        let mutable lo = 0
        while lo < n do
            let hi = min n (lo + chunk)
            body lo hi
            lo <- hi

    [<Fact>]
    let ``forward values and the pullback from the bits match the slope of x, bit for bit`` () =
        for n in [ 1; 7; 63; 64; 65; 1000; 4095; 4096; 4097; 9000; 20000 ] do
            let x = input n n
            let g = Array.init n (fun i -> if i % 97 = 5 then nan elif i % 89 = 3 then -infinity else Math.Sin(float i) * 3.0)
            for alpha in [ 0.0; 0.01; 1.0; -0.5; -1.0 ] do
                for kink in [ 1.0; alpha; (1.0 + alpha) / 2.0 ] do
                    let forms =
                        match alpha with
                        | 0.0 -> [ SlopeBits.Form.Relu; SlopeBits.Form.LeakyRelu ]
                        | -1.0 -> [ SlopeBits.Form.Abs; SlopeBits.Form.LeakyRelu ]
                        | _ -> [ SlopeBits.Form.LeakyRelu ]
                    for form in forms do
                        for chunk in [ SlopeBits.FlagSpan; 4 * SlopeBits.FlagSpan; Int32.MaxValue ] do
                            for stream in [ false; true ] do
                                let what = $"n {n}, α {alpha}, kink {kink}, {form}, chunk {chunk}, stream {stream}"
                                let y = Array.create n 42.0
                                let code = Array.create (SlopeBits.CodeLength n) nan
                                let slopes = SlopeBits.Slopes.Leaky(form, alpha, kink)
                                chunked n chunk (fun lo hi -> SlopeBits.Forward(x, y, slopes, code, lo, hi, stream))
                                for i in 0 .. n - 1 do
                                    same (fun () -> sprintf "%s, y[%d] of %g" what i x.[i]) (value alpha form x.[i]) y.[i]
                                let o = Array.create n 42.0
                                chunked n (chunk / 2 |> max 1) (fun lo hi -> SlopeBits.Backward(code, x, g, 0.0, o, slopes, lo, hi, stream))
                                for i in 0 .. n - 1 do
                                    same (fun () -> sprintf "%s, grad[%d] at %g" what i x.[i]) (g.[i] * slope alpha kink x.[i]) o.[i]
                                // A uniform adjoint (a sum's): one value for every element.
                                SlopeBits.Backward(code, x, null, -2.5, o, slopes, 0, n, stream)
                                for i in 0 .. n - 1 do
                                    same (fun () -> sprintf "%s, uniform grad[%d] at %g" what i x.[i]) (-2.5 * slope alpha kink x.[i]) o.[i]

    [<Fact>]
    let ``clamp's values and its pullback from the bits match the slopes of x, bounds and NaN included`` () =
        for n in [ 1; 63; 65; 4097; 20000 ] do
            // Values on both sides of the bounds, some exactly at them (flagged blocks), NaN and ±∞.
            let x = Array.init n (fun i ->
                match i % 331 with
                | 7 -> -1.0
                | 9 -> 0.5
                | 11 when i % 2 = 0 -> nan
                | 13 -> -infinity
                | 17 -> infinity
                | _ -> Math.Sin(float i) * 2.0)
            let g = Array.init n (fun i -> Math.Cos(float i) * 3.0)
            for lo, hi in [ -1.0, 0.5; 0.0, 0.0; -infinity, 1.0 ] do
                for kinkLow, kinkHigh in [ 0.0, 1.0; 1.0, 0.0; 0.5, 0.5 ] do
                    let kinkLow, kinkHigh = if lo = hi then 0.0, 0.0 else kinkLow, kinkHigh
                    let slopes = SlopeBits.Slopes.Clamp(lo, hi, kinkLow, kinkHigh)
                    for stream in [ false; true ] do
                        let what = $"n {n}, [{lo}, {hi}], kinks {kinkLow} {kinkHigh}, stream {stream}"
                        let y = Array.create n 42.0
                        let code = Array.create (SlopeBits.CodeLength n) nan
                        chunked n SlopeBits.FlagSpan (fun a b -> SlopeBits.Forward(x, y, slopes, code, a, b, stream))
                        for i in 0 .. n - 1 do
                            same (fun () -> sprintf "%s, y[%d] of %g" what i x.[i]) (clampValue lo hi x.[i]) y.[i]
                        let o = Array.create n 42.0
                        SlopeBits.Backward(code, x, g, 0.0, o, slopes, 0, n, stream)
                        for i in 0 .. n - 1 do
                            same (fun () -> sprintf "%s, grad[%d] at %g" what i x.[i]) (g.[i] * clampSlope lo hi kinkLow kinkHigh x.[i]) o.[i]

    [<Fact>]
    let ``the pullback takes clean blocks' slopes from the bits, not from x`` () =
        let n = 10_000
        let x = Array.init n (fun i -> if i % 3 = 0 then -1.0 - float i else 1.0 + float i)
        let y = Array.zeroCreate n
        let code = Array.zeroCreate (SlopeBits.CodeLength n)
        let slopes = SlopeBits.Slopes.Leaky(SlopeBits.Form.LeakyRelu, 0.1, 1.0)
        SlopeBits.Forward(x, y, slopes, code, 0, n, false)
        // x changed after the forward: the bits still give the forward's slopes (no block is flagged).
        let changed = Array.map (fun v -> -v) x
        let o = Array.zeroCreate n
        SlopeBits.Backward(code, changed, null, 1.0, o, slopes, 0, n, false)
        for i in 0 .. n - 1 do
            Assert.Equal((if x.[i] > 0.0 then 1.0 else 0.1), o.[i])

    [<Fact>]
    let ``ranges the code cannot be written over are refused`` () =
        let x = Array.zeroCreate 10_000
        let y = Array.zeroCreate 10_000
        let code = Array.zeroCreate (SlopeBits.CodeLength 10_000)
        let slopes = SlopeBits.Slopes.Leaky(SlopeBits.Form.LeakyRelu, 0.1, 1.0)
        Assert.Throws<ArgumentException>(fun () -> SlopeBits.Forward(x, y, slopes, code, 64, 4096, false)) |> ignore
        Assert.Throws<ArgumentException>(fun () -> SlopeBits.Forward(x, y, slopes, code, 0, 100, false)) |> ignore
        Assert.Throws<ArgumentException>(fun () -> SlopeBits.Forward(x, y, slopes, Array.zeroCreate 10, 0, 10_000, false)) |> ignore
        Assert.Throws<ArgumentOutOfRangeException>(fun () -> SlopeBits.Forward(x, y, slopes, code, 0, 10_001, false)) |> ignore
        Assert.Throws<ArgumentOutOfRangeException>(fun () -> SlopeBits.Backward(code, x, Array.zeroCreate 10, 0.0, y, slopes, 0, 10_000, false)) |> ignore
        // Without a code any range is fine.
        SlopeBits.Forward(x, y, slopes, null, 3, 17, false)
