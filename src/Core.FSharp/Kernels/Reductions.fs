namespace Functional.Core

/// The door to the C# reduction kernels (src/Kernels/Reductions): sums in one fixed order on every vector width
/// (so results do not depend on the hardware path), and softmax's fused VJP rows.
module internal Reductions =

    /// Sums contiguous runs of `inner` elements: out[i] = Σ_r src[i·inner + r].
    let sumRuns (src: double[]) (outer: int) (inner: int) =
        // Every element is written (a sum from +0): the array may start uninitialised.
        let out = Storage.uninit outer
        Functional.Kernels.Reduce.SumRuns(src, outer, inner, out)
        out

    /// The sum of src[offset .. offset + n), in the order `sumRuns` sums each run.
    let sum (src: double[]) (offset: int) (n: int) = Functional.Kernels.Reduce.Sum(src, offset, n)

    /// Sums over a middle axis: out[o, t] = Σ_m src[o, m, t] for src outer×mid×inner, without a transposing copy.
    let sumMiddle (src: double[]) (outer: int) (mid: int) (inner: int) =
        // Every element is written (a sum from +0): the array may start uninitialised.
        let out = Storage.uninit (outer * inner)
        Functional.Kernels.Reduce.SumMiddle(src, outer, mid, inner, out)
        out

    /// Sums over one block of axes where the data is: src is before×within×after, out[o, t] = Σ_m src[o, m, t]
    /// (runs when the block is innermost, rows added as vectors otherwise).
    let sumBlock (src: double[]) (before: int) (within: int) (after: int) =
        if after = 1 then sumRuns src before within else sumMiddle src before within after

    /// Sums a tensor of `shape` over the ascending axes `summed` (several blocks, as all but a channel axis) one block
    /// at a time where the data is, with no permuting copy: the axes (size 1 dropped) merged into alternating kept and
    /// summed blocks, the largest summed block first (the later one on a tie) by `sumBlock`, then the next on that
    /// result, until the kept axes remain, in order. Each stage sums in a fixed order, the same on every vector width,
    /// so the whole does; the error is one stage's log growth added to the next's. (Through a copy, `nchw->c` over 4×4
    /// maps ran at a fifth of TorchSharp's speed; reading each run in place as pieces, 7×7 to 32×32 maps at half.)
    let sumStaged (src: double[]) (shape: int[]) (summed: int[]) =
        if Array.contains 0 shape then
            Array.zeroCreate (Shape.numel (shape |> Array.indexed |> Array.filter (fun (a, _) -> not (Array.contains a summed)) |> Array.map snd))
        else
            let blocks = ResizeArray<struct (int * bool)>()
            for a in 0 .. shape.Length - 1 do
                if shape.[a] <> 1 then
                    let isSummed = Array.contains a summed
                    match (if blocks.Count = 0 then ValueNone else ValueSome blocks.[blocks.Count - 1]) with
                    | ValueSome(struct (size, s)) when s = isSummed -> blocks.[blocks.Count - 1] <- struct (size * shape.[a], s)
                    | _ -> blocks.Add(struct (shape.[a], isSummed))
            let mutable data = src
            let largest () =
                let mutable j = -1
                for i in 0 .. blocks.Count - 1 do
                    let struct (size, s) = blocks.[i]
                    if s && (j < 0 || size >= (let struct (best, _) = blocks.[j] in best)) then j <- i
                j
            let mutable j = largest ()
            while j >= 0 do
                let sizeOf i = let struct (size, _) = blocks.[i] in size
                let before = Seq.fold (fun acc i -> acc * sizeOf i) 1 (seq { 0 .. j - 1 })
                let after = Seq.fold (fun acc i -> acc * sizeOf i) 1 (seq { j + 1 .. blocks.Count - 1 })
                data <- sumBlock data before (sizeOf j) after
                blocks.RemoveAt j
                // Its kept neighbours are now adjacent: one block.
                if j > 0 && j < blocks.Count then
                    blocks.[j - 1] <- struct (sizeOf (j - 1) * sizeOf j, false)
                    blocks.RemoveAt j
                j <- largest ()
            // Only size-1 axes summed: nothing staged, and the result must not share the input's array.
            if obj.ReferenceEquals(data, src) then Array.copy src else data

    /// Softmax's VJP z = y·(g − Σ(g·y)) over `rows` contiguous rows of n, one pass per row; a large plain z goes
    /// around the caches (`Strided.streamsPlain`).
    let softmaxVjpRows (y: double[]) (g: double[]) (z: double[]) (rows: int) (n: int) =
        Functional.Kernels.SoftmaxBackward.Rows(y, g, z, rows, n, Strided.streamsPlainRuns z.Length n)
