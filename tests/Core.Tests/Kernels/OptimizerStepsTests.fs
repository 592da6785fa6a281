namespace Functional.Tests

open System
open Xunit
open Functional.Kernels

/// The optimizers' one-pass kernels (Functional.Kernels.OptimizerSteps) against torch.optim's documented update
/// formulas written as scalar code, element by element and bit for bit (torch's own kernels order some operations
/// differently, so against torch itself the results agree to rounding, as the facade's tests check): every length class (the vector loops and their tails), every form of weight
/// decay, momentum and Nesterov, first and later steps, arrays long enough to be split over the cores, and the new
/// arrays written through the caches and around them (from wherever the arrays happen to be aligned).
module KernelsOptimizerStepsTests =

    let private lengths = [| 0; 1; 3; 4; 7; 8; 9; 17; 63; 130; 70_001 |]

    let private values (seed: int) (n: int) (lo: double) (hi: double) =
        let rnd = Random(seed)
        Array.init n (fun _ -> lo + (hi - lo) * rnd.NextDouble())

    let private same (what: string) (i: int) (expected: double) (actual: double) =
        if BitConverter.DoubleToInt64Bits expected <> BitConverter.DoubleToInt64Bits actual then
            Assert.Fail(sprintf "%s, element %d: expected %.17g, got %.17g" what i expected actual)

    [<Fact>]
    let ``Adam's kernel gives torch.optim's scalar formulas bit for bit`` () =
        // (L2 decay added to the gradient, the factor the parameter is scaled by first): Adam, Adam with decay, AdamW.
        for l2, keep in [ 0.0, 1.0; 0.05, 1.0; 0.0, 1.0 - 0.01 * 0.1 ] do
          for stream in [ false; true ] do
            for t in [ 1; 7 ] do
                for n in lengths do
                    let lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
                    let c1, c2 = 1.0 - Math.Pow(b1, float t), 1.0 - Math.Pow(b2, float t)
                    let p, g = values (n + 1) n -2.0 2.0, values (n + 2) n -3.0 3.0
                    let m, v = values (n + 3) n -1.0 1.0, values (n + 4) n 0.0 2.0
                    let po, mo, vo = Array.zeroCreate n, Array.zeroCreate n, Array.zeroCreate n
                    OptimizerSteps.AdamStep(OptimizerSteps.Adam(lr, b1, b2, eps, c1, c2, l2, keep), p, g, m, v, po, mo, vo, n, stream)
                    let what = sprintf "l2 %g, keep %g, step %d, n %d, streamed %b" l2 keep t n stream
                    for i in 0 .. n - 1 do
                        let gi = if l2 <> 0.0 then g.[i] + l2 * p.[i] else g.[i]
                        let pi = if keep <> 1.0 then p.[i] * keep else p.[i]
                        let mi = b1 * m.[i] + (1.0 - b1) * gi
                        let vi = b2 * v.[i] + (1.0 - b2) * gi * gi
                        same (what + ", m") i mi mo.[i]
                        same (what + ", v") i vi vo.[i]
                        same (what + ", p") i (pi - lr / c1 * mi / (Math.Sqrt(vi) / Math.Sqrt(c2) + eps)) po.[i]

    [<Fact>]
    let ``SGD's kernel gives torch.optim's scalar formulas bit for bit`` () =
        for l2 in [ 0.0; 0.01 ] do
            for momentum, nesterov in [ 0.0, false; 0.9, false; 0.9, true ] do
              for stream in [ false; true ] do
                for first in [ true; false ] do
                    for n in lengths do
                        let lr = 0.1
                        let p, g, b = values (n + 5) n -2.0 2.0, values (n + 6) n -3.0 3.0, values (n + 7) n -1.0 1.0
                        let po, bo = Array.zeroCreate n, Array.zeroCreate n
                        OptimizerSteps.SgdStep(OptimizerSteps.Sgd(lr, l2, momentum, first, nesterov), p, g, (if first then null else b), po, bo, n, stream)
                        let what = sprintf "l2 %g, momentum %g, Nesterov %b, first %b, n %d, streamed %b" l2 momentum nesterov first n stream
                        for i in 0 .. n - 1 do
                            let gi = if l2 <> 0.0 then g.[i] + l2 * p.[i] else g.[i]
                            let d =
                                if momentum = 0.0 then gi
                                else
                                    let bi = if first then gi else momentum * b.[i] + gi
                                    same (what + ", b") i bi bo.[i]
                                    if nesterov then gi + momentum * bi else bi
                            same (what + ", p") i (p.[i] - lr * d) po.[i]

    [<Fact>]
    let ``the kernels refuse arrays too short for the count`` () =
        let a, short = Array.zeroCreate 8, Array.zeroCreate 7
        Assert.Throws<ArgumentException>(fun () -> OptimizerSteps.AdamStep(OptimizerSteps.Adam(0.1, 0.9, 0.99, 1e-8, 0.1, 0.01, 0.0, 1.0), a, a, a, short, a, a, a, 8, false)) |> ignore
        Assert.Throws<ArgumentException>(fun () -> OptimizerSteps.SgdStep(OptimizerSteps.Sgd(0.1, 0.0, 0.9, false, false), a, a, null, a, a, 8, false)) |> ignore

    [<Fact>]
    let ``a step refuses a state whose count is negative or cannot grow, and null elements, by name`` () =
        let ps = [| Functional.Core.Tensor.ones [| 3 |] |]
        let state = Functional.Core.Optimizers.init ps
        let adam s = Functional.Core.Optimizers.adam false 0.01 0.9 0.999 1e-8 0.0 ps ps s |> ignore
        let sgd s = Functional.Core.Optimizers.sgd 0.1 0.9 false 0.0 ps ps s |> ignore
        for bad in [ -1; Int32.MinValue; Int32.MaxValue ] do
            // Before, −1 gave bias corrections of 0 (NaN parameters) and Int32.MaxValue wrapped the count.
            Assert.Equal("state", Assert.Throws<ArgumentException>(fun () -> adam { state with Steps = bad }).ParamName)
            Assert.Equal("state", Assert.Throws<ArgumentException>(fun () -> sgd { state with Steps = bad }).ParamName)
        // Another optimizer's state: SGD's velocity would be read as Adam's first moment, Adam's moments as a velocity.
        let afterSgd = snd (Functional.Core.Optimizers.sgd 0.1 0.9 false 0.0 ps ps state)
        let afterAdam = snd (Functional.Core.Optimizers.adam false 0.01 0.9 0.999 1e-8 0.0 ps ps state)
        Assert.Equal(Functional.Core.OptimizerFamily.Sgd, afterSgd.Family)
        Assert.Equal(Functional.Core.OptimizerFamily.Adam, afterAdam.Family)
        Assert.Equal("state", Assert.Throws<ArgumentException>(fun () -> adam afterSgd).ParamName)
        Assert.Equal("state", Assert.Throws<ArgumentException>(fun () -> sgd afterAdam).ParamName)
        // AdamW takes Adam's state (the same moments).
        Functional.Core.Optimizers.adam true 0.01 0.9 0.999 1e-8 0.1 ps ps afterAdam |> ignore
        Assert.Equal("parameters", Assert.Throws<ArgumentNullException>(fun () -> Functional.Core.Optimizers.init [| Unchecked.defaultof<Functional.Core.Tensor> |] |> ignore).ParamName)
        Assert.Equal("gradients", Assert.Throws<ArgumentNullException>(fun () -> Functional.Core.Optimizers.sgd 0.1 0.0 false 0.0 ps [| Unchecked.defaultof<Functional.Core.Tensor> |] state |> ignore).ParamName)
        Assert.Equal("state", Assert.Throws<ArgumentNullException>(fun () -> adam { state with Second = [| Unchecked.defaultof<Functional.Core.Tensor> |] }).ParamName)
        Assert.Equal("gradients", Assert.Throws<ArgumentNullException>(fun () -> Functional.Core.Optimizers.clipByNorm 1.0 [| Unchecked.defaultof<Functional.Core.Tensor> |] |> ignore).ParamName)
        // Clipping that scales nothing still returns a new array.
        let gs = [| Functional.Core.Tensor.zeros [| 2 |] |]
        Assert.False(obj.ReferenceEquals(gs, fst (Functional.Core.Optimizers.clipByNorm 1.0 gs)))

    /// A gradient of 1e155 at the first step: v = 1e307, and v/(1 − β₂) overflowed, so the update was m/∞ = 0 and the
    /// parameter never moved. In torch.optim's order the denominator is √v/√(1 − β₂) = 1e155 and p moves by η.
    [<Fact>]
    let ``Adam's step stays finite where v divided by its correction would overflow`` () =
        for n in [ 1; 16 ] do
            let ps = [| Functional.Core.Tensor.create [| n |] (Array.create n 1.0) |]
            let gs = [| Functional.Core.Tensor.create [| n |] (Array.create n 1e155) |]
            let stepped, _ = Functional.Core.Optimizers.adam false 0.01 0.9 0.999 1e-8 0.0 ps gs (Functional.Core.Optimizers.init ps)
            for v in stepped.[0].ToArray() do Assert.True(abs (v - 0.99) <= 1e-12, sprintf "n = %d: %.17g" n v)
