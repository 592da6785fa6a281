namespace Functional.Tests

open Functional.Core

/// An independent einsum for the engine's tests: no plan, no kernels.
module EinsumReference =

    /// The unoptimised reference: a loop over every assignment of every label.
    let contract (c: Contraction) (xs: Tensor[]) : Tensor =
        let outShape = Contraction.outputShape c
        let data = xs |> Array.map (fun x -> x.ToArray())
        let all = Array.concat (Array.append c.Inputs [| c.Output |]) |> Array.distinct
        let dims = all |> Array.map (fun l -> c.Sizes.[l])
        let out = Array.zeroCreate (Shape.numel outShape)
        let total = Shape.numel dims
        let value = Array.zeroCreate (if all.Length = 0 then 1 else Array.max all + 1)
        let offset (labels: int[]) =
            let mutable off = 0
            for l in labels do off <- off * c.Sizes.[l] + value.[l]
            off
        for flat in 0 .. total - 1 do
            let mutable r = flat
            for i in all.Length - 1 .. -1 .. 0 do
                value.[all.[i]] <- r % dims.[i]
                r <- r / dims.[i]
            let mutable prod = 1.0
            for k in 0 .. xs.Length - 1 do prod <- prod * data.[k].[offset c.Inputs.[k]]
            let o = offset c.Output
            out.[o] <- out.[o] + prod
        Tensor.wrap outShape out
