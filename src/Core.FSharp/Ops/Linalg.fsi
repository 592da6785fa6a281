namespace Functional.Core

/// <summary>
/// Linear algebra on square matrices and batches of them (shape [..., n, n]). Each derivative rule is written with
/// ops, among them this module's own (∂ solve uses solve, ∂ det the cofactors, whose own derivative uses the
/// inverse), so every order follows.
/// A singular matrix is refused where the rule needs its inverse (ArgumentException naming the batch index):
/// singular meaning a pivot of its LU factorisation (partial pivoting) that is exactly 0; a matrix singular only up
/// to rounding gives huge or non-finite values, as LAPACK's. A NaN anywhere in a matrix makes everything computed
/// from its LU NaN (det, its sign and logarithm, solves, the inverse), as the determinant's expansion would.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let a = Value.constant (Tensor.create [| 2; 2 |] [| 4.0; 1.0; 2.0; 3.0 |])
/// let g = Autodiff.grad (fun m -&gt; Linalg.logAbsDet m) a   // A⁻ᵀ = [[0.3; -0.2]; [-0.1; 0.4]]
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Linalg =

    /// X with A·X = B: A [..., n, n]; B [..., n, k], or [..., n] (vectors: when B has one dimension or A's shape
    /// without the last); leading dimensions broadcast, as PyTorch's. VJP: B̄ = solve(Aᵀ, Ḡ), Ā = −B̄·Xᵀ (summed over
    /// the broadcast). JVP: solve(A, Ḃ − Ȧ·X). A singular A is refused.
    val solve: a: Value -> b: Value -> Value

    /// X with A·X = B for a triangular A: only A's lower (upper = false) or upper triangle T is read, the other part
    /// treated as 0; by substitution; B [..., n, k] or one vector [n], leading dimensions broadcast (unlike `solve`, a
    /// B shaped as A without its last dimension is matrices, as torch.linalg.solve_triangular reads it). VJP:
    /// B̄ = T⁻ᵀ·Ḡ, Ā = −B̄·Xᵀ masked to the triangle. JVP: T·Ẋ = Ḃ − (Ȧ masked)·X. A zero on T's diagonal is refused.
    val solveTriangular: upper: bool -> a: Value -> b: Value -> Value

    /// A⁻¹. VJP: −A⁻ᵀ·Ḡ·A⁻ᵀ. JVP: −A⁻¹·Ȧ·A⁻¹. A singular A is refused. A lower triangular A (every element right of
    /// the diagonal zero, as a Cholesky factor) is inverted by substitution, without an LU factorisation.
    val inverse: a: Value -> Value

    /// det A, one per matrix. VJP: Ā = ḡ·C with C = adj(A)ᵀ the cofactor matrix (det A·A⁻ᵀ where A is invertible).
    /// JVP: ⟨C, Ȧ⟩. Both hold at a singular A too (TorchSharp 0.107's gradient is 0 wherever its det comes out exactly
    /// 0); det's second derivative, tr(A⁻¹·Ȧ)·C − C·Ȧᵀ·A⁻ᵀ, needs A⁻¹ and is refused at a singular A, and near one
    /// loses about log₁₀ of A's condition number in digits (its two terms cancel).
    val det: a: Value -> Value

    /// ln |det A|, one per matrix, without overflow. VJP: Ā = ḡ·A⁻ᵀ. JVP: tr(A⁻¹·Ȧ). −∞ at a singular A (whose
    /// gradient is refused).
    val logAbsDet: a: Value -> Value

    /// The sign of det A (−1, 0 or 1), one per matrix: a constant (no gradient).
    val signDet: a: Value -> Value

    /// The lower factor L of A = L·Lᵀ (A symmetric positive definite; its lower triangle is read). With
    /// Φ(X) = the lower triangle of X with its diagonal halved: VJP Ā = ½(S + Sᵀ), S = L⁻ᵀ·Φ(Lᵀ·L̄)·L⁻¹ (computed as
    /// L⁻ᵀ·M·L⁻¹, M = ½(Φ(Lᵀ·L̄) + Φ(Lᵀ·L̄)ᵀ), from its lower triangle: exactly symmetric); JVP L̇ = L·Φ(L⁻¹·Ȧₛ·L⁻ᵀ) with Ȧₛ = ½(Ȧ + Ȧᵀ), the VJP's convention (PyTorch's VJP is symmetric too; its JVP takes Ȧ as given, which differs for a non-symmetric Ȧ). A matrix that is not positive
    /// definite is refused.
    val cholesky: a: Value -> Value
