namespace Functional.Tests

/// Single GEMM paths forced, for tests that compare them with the path the library chooses.
module GemmPaths =

    /// The simple i-k-j kernel alone.
    let simple (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let c = Array.zeroCreate (batch * m * n)
        Functional.Kernels.SimpleGemm.Multiply(a, b, c, batch, m, k, n)
        c

    /// The packed kernel with each product split into `parts` rectangles, as if there were that many cores. Always
    /// that kernel, never a stand-in: its tests need `Need.PackedGemm`, so that a machine without it skips them
    /// instead of comparing the simple kernel with itself.
    let packedWithParts (parts: int) (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let c = Array.zeroCreate (batch * m * n)
        Functional.Kernels.PackedGemm.Multiply(false, false, parts, a, b, c, batch, m, k, n)
        c
