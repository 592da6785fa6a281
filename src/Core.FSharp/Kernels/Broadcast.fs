namespace Functional.Core

/// The door to the C# broadcasting kernels (src/Kernels/Elementwise): binary operators through strides, so the
/// smaller operand is never copied to the broadcast shape.
module internal Broadcast =

    /// Which operator `apply` runs.
    type Op = Functional.Kernels.Broadcast.Op

    /// c[idx] = a[oa + Σ idx·sa] op b[ob + Σ idx·sb] for every index over `shape` (c contiguous, written in full;
    /// around the caches when it is a large plain result, `Strided.streamsPlain`).
    let apply (op: Op) (a: double[]) (oa: int) (sa: int[]) (b: double[]) (ob: int) (sb: int[]) (c: double[]) (shape: int[]) =
        Functional.Kernels.Broadcast.Apply(op, a, oa, sa, b, ob, sb, c, shape, Strided.streamsPlain c.Length)

    /// The products of `apply` for einsum steps with no contracted label, each written from +0 (so a zero product
    /// is +0, as the GEMM kernels store it).
    let multiply (a: double[]) (sa: int[]) (b: double[]) (sb: int[]) (c: double[]) (shape: int[]) =
        Functional.Kernels.Broadcast.Multiply(a, sa, b, sb, c, shape, Strided.streamsPlain c.Length)
