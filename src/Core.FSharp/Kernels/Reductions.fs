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

    /// Softmax's VJP z = y·(g − Σ(g·y)) over `rows` contiguous rows of n, one pass per row.
    let softmaxVjpRows (y: double[]) (g: double[]) (z: double[]) (rows: int) (n: int) =
        Functional.Kernels.SoftmaxBackward.Rows(y, g, z, rows, n)
