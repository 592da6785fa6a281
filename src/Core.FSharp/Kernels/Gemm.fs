namespace Functional.Core

open System

/// Batched matrix products on contiguous row-major blocks: the choice of kernel, and the kernels' F# face.
/// The kernels are C# (Functional.Kernels, where AggressiveOptimization is honoured): a packed,
/// cache-blocked FMA micro-kernel (8×16 Vector512 tile, or a 6×8 Vector256 tile with AVX2) spread over the
/// cores for products of 8³ multiply-adds and more; dot products for shapes with fewer columns than half a panel
/// (matrix-vector products among them); an i-k-j loop (Vector512, Vector256 or scalar, whichever the machine runs)
/// for the rest.
/// Every output element is summed in the same order whatever the thread count.
module internal Gemm =

    /// Rows of the packed kernel's register tile.
    let MR = Functional.Kernels.PackedGemm.MR

    /// Multiply-adds below which packing does not pay (measured: packed 0.3 µs vs 0.5 µs unpacked at 8³).
    /// Outer products (k = 1) never pack: one pass of row stores is faster (64 products of 128×1×128 into
    /// a reused output: 75–122 µs unpacked, 117–170 µs packed; from k = 2 on packing wins).
    let packedThreshold = 8L * 8L * 8L

    /// Whether a packed kernel runs on this machine (Vector512, or Vector256 with FMA), and its panel width.
    let usePacked = Functional.Kernels.PackedGemm.Supported
    let private nr = Functional.Kernels.PackedGemm.Nr

    /// Whether a product of this shape goes to the dot-product kernel: fewer columns than half a packed panel
    /// (matrix-vector products among them), where the packed kernel never runs and the simple one would walk C's
    /// rows fewer than four elements wide, one multiply-add waiting on the last; and, where B is read as stored
    /// (`Gemv.ReadsInterleaved`: up to eight columns and a long k), fewer rows than one register tile, which the
    /// packed kernel would mostly waste. On four lanes more than four columns take two passes over B, which a
    /// single row does not repay (1×10⁶×7: 3.6–4.5 ms against the simple kernel's 2.6–3.0).
    let gemvApplies (m: int) (k: int) (n: int) =
        Functional.Kernels.Gemv.Supported && k >= 16 && n >= 1
        && (n < nr / 2 || (m < MR && Functional.Kernels.Gemv.ReadsInterleaved(k, n) && (n <= nr / 2 || m > 1)))

    /// Whether a product of this shape goes to the packed kernel (the only one that reads strided views).
    let packedApplies (m: int) (k: int) (n: int) =
        usePacked && int64 m * int64 k * int64 n >= packedThreshold && k > 1 && n >= nr / 2 && m >= MR / 2

    /// How many rectangles each product is split into: one per core for a large product, else one (many
    /// products then run one task each), so the cores share nothing but the inputs and never wait for each other.
    let private parts (batch: int) (m: int) (k: int) (n: int) =
        let cores = Functional.Kernels.Fork.Cores
        if (int64 m * int64 n * int64 k < (1L <<< 21) || batch >= cores) && cores > 1 then 1 else cores

    /// Batched transposes of contiguous rows×cols blocks.
    let private transposeBlocks (x: double[]) (batch: int) (rows: int) (cols: int) =
        let shape = [| batch; cols; rows |]
        Strided.gather x 0 [| rows * cols; 1; cols |] shape

    /// C[b] = A[b]·Bt[b]ᵀ on the dot-product kernel, for Bt: batch×n×k (B stored transposed; for n = 1 the same
    /// array as B).
    let private columns (a: double[]) (bt: double[]) (batch: int) (m: int) (k: int) (n: int) =
        let c = Strided.fresh (Shape.numel [| batch; m; n |])
        Functional.Kernels.Gemv.MultiplyColumns(a, bt, c, batch, m, k, n)
        c

    /// The same for B: batch×k×n as stored: read interleaved where that runs and pays (two or three columns, a long
    /// k), else through a transposed copy (for n = 1 B is its own transpose).
    let private columnsOfB (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        if n = 1 then columns a b batch m k n
        elif Functional.Kernels.Gemv.ReadsInterleaved(k, n) then
            let c = Strided.fresh (Shape.numel [| batch; m; n |])
            Functional.Kernels.Gemv.MultiplyInterleaved(a, b, c, batch, m, k, n)
            c
        else columns a (transposeBlocks b batch k n) batch m k n

    /// C[b] = A[b]·B[b] for A: batch×m×k, B: batch×k×n, both contiguous.
    /// Every kernel overwrites its output (writing before reading), which therefore starts uninitialised.
    let batched (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        if gemvApplies m k n then columnsOfB a b batch m k n
        else
            let c = Strided.fresh (Shape.numel [| batch; m; n |])
            if packedApplies m k n then Functional.Kernels.PackedGemm.Multiply(false, false, parts batch m k n, a, b, c, batch, m, k, n)
            else Functional.Kernels.SimpleGemm.Multiply(a, b, c, batch, m, k, n)
            c

    /// C[b] = op(A[b])·op(B[b]) where A is stored k×m when transA and B n×k when transB: permuted operands
    /// are packed as they are (no transposed copy) on the packed path.
    let batchedT (transA: bool) (transB: bool) (a: double[]) (b: double[]) (batch: int) (m: int) (k: int) (n: int) =
        // With k = 1 a stored transpose is the same array as the matrix itself.
        if (not transA && not transB) || k = 1 then batched a b batch m k n
        elif gemvApplies m k n then
            // B stored n×k is the transposed B the dot-product kernel reads.
            let a' = if transA then transposeBlocks a batch k m else a
            if transB then columns a' b batch m k n else columnsOfB a' b batch m k n
        elif packedApplies m k n then
            let c = Strided.fresh (Shape.numel [| batch; m; n |])
            Functional.Kernels.PackedGemm.Multiply(transA, transB, parts batch m k n, a, b, c, batch, m, k, n)
            c
        else
            let a' = if transA then transposeBlocks a batch k m else a
            let b' = if transB then transposeBlocks b batch n k else b
            batched a' b' batch m k n

    /// One operand of a strided product: the array, per-product offsets (None: contiguous products), the
    /// leading dimension, and whether it is stored transposed.
    [<Struct>]
    type StridedOperand = { Data: double[]; Offsets: int64[]; Ld: int; Trans: bool }

    /// C[t] = op(A[t])·op(B[t]) with both operands read where they are (packed kernel only; see packedApplies).
    let batchedStrided (a: StridedOperand) (b: StridedOperand) (batch: int) (m: int) (k: int) (n: int) =
        let c = Strided.fresh (Shape.numel [| batch; m; n |])
        Functional.Kernels.PackedGemm.MultiplyStrided(a.Trans, b.Trans, parts batch m k n, a.Data, a.Offsets, a.Ld, b.Data, b.Offsets, b.Ld, c, batch, m, k, n)
        c

    /// C[t] = A[t]·B[t] on the simple path with operands read where they are (untransposed views only; an
    /// operand without offsets that is stored transposed is transposed first). For the shapes that neither the
    /// packed nor the matrix-vector kernel takes.
    let batchedStridedSimple (a: StridedOperand) (b: StridedOperand) (batch: int) (m: int) (k: int) (n: int) =
        let plain (x: StridedOperand) (rows: int) (cols: int) =
            if not x.Trans then x
            elif isNull x.Offsets then { Data = transposeBlocks x.Data batch cols rows; Offsets = null; Ld = cols; Trans = false }
            else invalidArg "a" "The simple kernel reads untransposed views only."
        let a = plain a m k
        let b = plain b k n
        let c = Strided.fresh (Shape.numel [| batch; m; n |])
        Functional.Kernels.SimpleGemm.MultiplyStrided(a.Data, a.Offsets, a.Ld, b.Data, b.Offsets, b.Ld, c, batch, m, k, n)
        c
