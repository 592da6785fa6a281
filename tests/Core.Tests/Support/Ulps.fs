namespace Functional.Tests

open System
open Xunit
open Xunit.Abstractions

/// Errors of doubles against exact values, in relative terms and in units in the last place, for the lane tests.
module Ulps =

    /// Relative error of a double against the exact value.
    let rel (ours: double) (exact: double) = if exact = 0.0 then abs ours else abs (ours - exact) / abs exact

    /// The error in units in the last place of the exact value's double.
    let ulps (ours: double) (exact: double) =
        let a = abs exact
        abs (ours - exact) / (Math.BitIncrement a - a)

    /// Writes f's worst relative and ulp errors against `exact` over xs, and asserts them within 1e-15 and maxUlps.
    let reportWithin (output: ITestOutputHelper) (maxUlps: double) name (f: double -> double) (exact: double -> double) (xs: double[]) =
        let rows = xs |> Array.map (fun x -> let e = exact x in x, rel (f x) e, ulps (f x) e)
        let worstX, worst, _ = rows |> Array.maxBy (fun (_, r, _) -> r)
        let _, _, worstUlps = rows |> Array.maxBy (fun (_, _, u) -> u)
        output.WriteLine(sprintf "%s: max relative error %.3g at x = %g, max %.2f ulp, over %d points" name worst worstX worstUlps xs.Length)
        Assert.True(worst <= 1e-15, sprintf "%s: relative error %.3g at x = %g" name worst worstX)
        Assert.True(worstUlps <= maxUlps, sprintf "%s: %.2f ulp" name worstUlps)

    /// `vector` gives `scalar`'s bits at each of `odd` that `pick` takes (whichever lane it lands in, the tail
    /// too), and every element of `mixed` the bits it gives that element alone (nothing depends on neighbours or
    /// position).
    let sameBits (vector: double[] -> double[]) (scalar: double -> double) (pick: double -> bool) (odd: double[]) (mixed: double[]) =
        let bits (v: double) = BitConverter.DoubleToInt64Bits v
        let r = vector odd
        for i in 0 .. odd.Length - 1 do
            if pick odd.[i] then Assert.Equal(bits (scalar odd.[i]), bits r.[i])
        let whole = vector mixed
        for i in 0 .. mixed.Length - 1 do
            Assert.Equal(bits whole.[i], bits (vector [| mixed.[i] |]).[0])
