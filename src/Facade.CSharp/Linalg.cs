using System;
using System.Globalization;
using Core = Functional.Core;

namespace Functional;

/// <summary>
/// Linear algebra on square matrices and batches of them (shape [..., n, n]), each with its derivative rules written
/// as tensor operations, so gradients of any order follow. A singular matrix is refused (ArgumentException naming the
/// batch index) wherever a rule needs its inverse: singular meaning a pivot of its LU factorisation (partial pivoting)
/// that is exactly 0; a matrix singular only up to rounding gives huge or non-finite values, as LAPACK's. A NaN
/// anywhere in a matrix makes its determinant, sign, logarithm, <c>Solve</c> and inverse NaN (<c>SolveTriangular</c>
/// reads only its triangle: a NaN there makes NaN the entries of X that depend on it). A tensor released by its
/// scope throws ObjectDisposedException, as everywhere (<see cref="Tensor"/>).
/// </summary>
public static class Linalg
{
    /// <summary>X with A·X = B, leading (batch) dimensions broadcast as in PyTorch. VJP: B̄ = solve(Aᵀ, Ḡ),
    /// Ā = −B̄·Xᵀ (each summed over its broadcast).</summary>
    /// <param name="a">A, [..., n, n].</param>
    /// <param name="b">B, [..., n, k]; or vectors [..., n] when B has one dimension or A's shape without the last.</param>
    /// <returns>X, [batch..., n, k] or [batch..., n], the batch being A's and B's leading dimensions broadcast.</returns>
    /// <exception cref="ShapeException">A is not square, B's rows are not n, or B's leading dimensions do not
    /// broadcast with A's.</exception>
    /// <exception cref="ArgumentException">A is singular.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> or <paramref name="b"/> is null.</exception>
    public static Tensor Solve(Tensor a, Tensor b) => Api.Call("Linalg.Solve", "a,b", () => new Tensor(Core.Linalg.solve(N(a).Value, N(b).Value)));

    /// <summary>X with T·X = B for T the lower (or, with <paramref name="upper"/>, upper) triangle of A, by
    /// substitution; the other part of A is never read. VJP: B̄ = T⁻ᵀ·Ḡ, Ā = −B̄·Xᵀ masked to the triangle.</summary>
    /// <param name="a">A, [..., n, n].</param>
    /// <param name="b">B, [..., n, k], or one vector [n]; leading dimensions broadcast. Unlike <see cref="Solve"/>, a B
    /// shaped as A without its last dimension is read as matrices, as <c>torch.linalg.solve_triangular</c> reads it.</param>
    /// <param name="upper">Read the upper triangle instead of the lower.</param>
    /// <returns>X, [batch..., n, k], or [batch..., n] for a vector.</returns>
    /// <exception cref="ArgumentException">A zero on the triangle's diagonal.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> or <paramref name="b"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="a"/> is not square, <paramref name="b"/>'s rows are not n, or
    /// its leading dimensions do not broadcast with A's.</exception>
    public static Tensor SolveTriangular(Tensor a, Tensor b, bool upper) => Api.Call("Linalg.SolveTriangular", "a,b,upper", () => new Tensor(Core.Linalg.solveTriangular(upper, N(a).Value, N(b).Value)));

    /// <summary>A⁻¹. VJP: −A⁻ᵀ·Ḡ·A⁻ᵀ.</summary>
    /// <param name="a">A, [..., n, n].</param>
    /// <returns>The inverse of each matrix.</returns>
    /// <exception cref="ArgumentException">A is singular.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="a"/> is not a square matrix or a batch of them.</exception>
    public static Tensor Inverse(Tensor a) => Api.Call("Linalg.Inverse", "a", () => new Tensor(Core.Linalg.inverse(N(a).Value)));

    /// <summary>det A, one per matrix. VJP: Ā = ḡ·adj(A)ᵀ, the cofactor matrix (det A·A⁻ᵀ where A is invertible),
    /// also at a singular A (where TorchSharp 0.107's is 0 wherever its det comes out exactly 0); a second derivative (a
    /// Hessian through Det) is tr(A⁻¹·Ȧ)·C − C·Ȧᵀ·A⁻ᵀ, needs A⁻¹ and is refused at a singular A; near one its two
    /// terms are about ‖A⁻¹‖ times larger than their difference, so it loses about log₁₀ of A's condition number in
    /// digits (the true Hessian, a polynomial in A, does not).</summary>
    /// <param name="a">A, [..., n, n].</param>
    /// <returns>The determinants, shaped [...].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="a"/> is not a square matrix or a batch of them.</exception>
    public static Tensor Det(Tensor a) => Api.Call("Linalg.Det", "a", () => new Tensor(Core.Linalg.det(N(a).Value)));

    /// <summary>ln |det A|, one per matrix, without overflow. ∂ ln|det A| / ∂A = A⁻ᵀ. Its sign is
    /// <see cref="SignDet"/>. This is <c>torch.linalg.slogdet</c>'s logabsdet; <c>torch.logdet</c> is NaN where
    /// det A &lt; 0.</summary>
    /// <param name="a">A, [..., n, n].</param>
    /// <returns>ln |det A|, shaped [...] (−∞ at a singular A).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="a"/> is not a square matrix or a batch of them.</exception>
    public static Tensor LogDet(Tensor a) => Api.Call("Linalg.LogDet", "a", () => new Tensor(Core.Linalg.logAbsDet(N(a).Value)));

    /// <summary>The sign of det A (−1, 0 or 1), one per matrix: a constant (no gradient).</summary>
    /// <param name="a">A, [..., n, n].</param>
    /// <returns>The signs, shaped [...].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="a"/> is not a square matrix or a batch of them.</exception>
    public static Tensor SignDet(Tensor a) => Api.Call("Linalg.SignDet", "a", () => new Tensor(Core.Linalg.signDet(N(a).Value)));

    /// <summary>The lower factor L of A = L·Lᵀ (A symmetric positive definite; its lower triangle is read).
    /// VJP: Ā = ½(S + Sᵀ), S = L⁻ᵀ·Φ(Lᵀ·L̄)·L⁻¹, Φ taking the lower triangle with the diagonal halved; JVP:
    /// L̇ = L·Φ(L⁻¹·½(Ȧ + Ȧᵀ)·L⁻ᵀ), the VJP's symmetric convention (PyTorch's VJP is symmetric too; its JVP takes Ȧ
    /// as given, which differs for a non-symmetric Ȧ).</summary>
    /// <param name="a">A, [..., n, n].</param>
    /// <returns>L, shaped as A.</returns>
    /// <exception cref="ArgumentException">A is not positive definite.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="a"/> is not a square matrix or a batch of them.</exception>
    public static Tensor Cholesky(Tensor a) => Api.Call("Linalg.Cholesky", "a", () => new Tensor(Core.Linalg.cholesky(N(a).Value)));

    /// <summary>tr A = Σᵢ Aᵢᵢ, one per matrix. ∂ tr A / ∂A = I.</summary>
    /// <param name="a">A, [..., n, n].</param>
    /// <returns>The traces, shaped [...].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="a"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="a"/> is not a square matrix or a batch of them.</exception>
    public static Tensor Trace(Tensor a)
    {
        if (N(a).Rank < 2 || a.Shape[^1] != a.Shape[^2])
            throw new ShapeException($"Linalg.Trace needs square matrices, shape [..., n, n]; a has shape {a.Shape}.", nameof(a));
        return Einsum.Contract("...ii->...", a);
    }

    /// <summary>The Frobenius norm √(Σ x²) of all elements. ∂/∂x = x/‖x‖ (NaN at x = 0, where it has no derivative).
    /// Computed on x scaled by a power of two near its largest magnitude, so squares neither overflow (‖x‖ up to
    /// the largest double) nor underflow (x near 1e-200 keeps its norm and a finite gradient); the bits are those
    /// of √(Σ x²) wherever that neither overflows nor underflows.</summary>
    /// <param name="x">Any tensor.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> is null.</exception>
    public static Tensor Norm(Tensor x) => Api.Call("Linalg.Norm", "x", () => Scaled(N(x), 2));

    /// <summary>The p-norm (Σ |x|ᵖ)^(1/p) of all elements, p ≥ 1, scaled as <see cref="Norm(Tensor)"/>: PyTorch's
    /// <c>torch.linalg.vector_norm(x, p)</c>. (<c>torch.linalg.norm</c> of a matrix with p = 1, 2 or ∞ is a matrix norm
    /// instead: the largest column sum, singular value or row sum.)
    /// ∂/∂x = sign(x)·|x|ᵖ⁻¹/‖x‖ₚᵖ⁻¹: NaN at x = 0 for 1 &lt; p &lt; ∞, where it has no derivative (as
    /// <see cref="Norm(Tensor)"/>; PyTorch gives 0 there); with p = 1 it is sign(x), |x|'s kink value at 0. With p = ∞
    /// it is max |x|, whose gradient is sign(x) at the largest magnitude, split evenly among ties (as
    /// <see cref="Tensor.Max()"/>). For p other than 1, 2 and ∞ the value is right at any magnitude, but the gradient
    /// of a tensor whose largest magnitude is subnormal underflows to 0 (the adjoint is multiplied by that magnitude
    /// first; PyTorch's value and gradient are both 0 there).</summary>
    /// <param name="x">Any tensor (not empty when p = ∞).</param>
    /// <param name="p">The order, at least 1, or <see cref="double.PositiveInfinity"/>.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentOutOfRangeException">p &lt; 1 or NaN.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> is null.</exception>
    /// <exception cref="ShapeException">p = ∞ and <paramref name="x"/> is empty: it has no largest magnitude.</exception>
    public static Tensor Norm(Tensor x, double p)
    {
        if (!(p >= 1)) throw new ArgumentOutOfRangeException(nameof(p), p.ToString("R", CultureInfo.InvariantCulture), "A p-norm needs p ≥ 1.");
        if (double.IsPositiveInfinity(p) && N(x).Count == 0)
            throw new ShapeException($"Linalg.Norm: the ∞-norm of an empty tensor (shape {x.Shape}) has no largest magnitude.", nameof(x));
        return Api.Call("Linalg.Norm", "x,p", () => double.IsPositiveInfinity(p) ? N(x).Abs().Max() : Scaled(N(x), p));
    }

    /// <summary>m·‖x/m‖ₚ with m held constant: equal to ‖x‖ₚ for every m &gt; 0, so the derivatives taken with m fixed
    /// are the norm's own at every order. For p = 2, m is a power of two near max |x| (at least 2⁻¹⁰²², so 1/m is
    /// finite): x/m is exact, the bits are √(Σ x²)'s wherever that neither overflows nor underflows, and (x/m)² stays
    /// below 4. For other p, m is max |x| itself, divided by: the largest term is 1, so no power of any p overflows
    /// and the largest never underflows. p = 1 needs no scale.</summary>
    private static Tensor Scaled(Tensor x, double p)
    {
        double largest = 0;
        if (x.Count > 0)
        {
            var t = x.Value.Tensor;
            largest = Math.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude<double>(t.Data));
            t.CheckLive();   // read in place: a release racing the read must not leave its values here
        }
        // Zeros, infinities and NaN: the unscaled formula gives their answer (0, ∞, NaN).
        if (p == 1 || !(largest > 0) || !double.IsFinite(largest)) return p == 2 ? x.Square().Sum().Sqrt() : x.Abs().Pow(p).Sum().Pow(1 / p);
        if (p == 2)
        {
            double m = Math.ScaleB(1.0, Math.Max(-1022, Math.ILogB(largest)));
            var y = m == 1.0 ? x : x * (1 / m);
            var norm = y.Square().Sum().Sqrt();
            return m == 1.0 ? norm : norm * m;
        }
        return (x / largest).Abs().Pow(p).Sum().Pow(1 / p) * largest;
    }

    private static Tensor N(Tensor? t, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(t))] string? name = null) => t ?? throw new ArgumentNullException(name);
}
