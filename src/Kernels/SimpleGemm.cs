using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// The unpacked product for shapes too small or too thin to pack, and for machines without AVX-512:
/// C[b] += A[b]·B[b] in i-k-j order (rows of B streamed), with Vector512, Vector256 or scalar arithmetic,
/// whichever the machine runs natively. Each element is summed in order p = 0, 1, …, k−1.
/// </summary>
internal static unsafe class SimpleGemm
{
    /// <summary>C[b] += A[b]·B[b] for A: batch×m×k, B: batch×k×n, C: batch×m×n (contiguous).</summary>
    public static void Multiply(double[] a, double[] b, double[] c, int batch, int m, int k, int n)
    {
        if (batch == 0 || m == 0 || n == 0 || k == 0) return;
        long work = (long)batch * m * k * n;
        fixed (double* pa = a, pb = b, pc = c)
        {
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            if (work < (1L << 16) || (long)batch * m < 2)
            {
                for (int bi = 0; bi < batch; bi++)
                    Rows((double*)ia + (long)bi * m * k, (double*)ib + (long)bi * k * n, (double*)ic + (long)bi * m * n, k, n, 0, m);
            }
            else
            {
                int block = (int)Math.Max(1L, (1L << 16) / ((long)k * n));
                int blocksPerBatch = (m + block - 1) / block;
                Parallel.For(0, batch * blocksPerBatch, t =>
                {
                    int bi = t / blocksPerBatch, r0 = t % blocksPerBatch * block;
                    Rows((double*)ia + (long)bi * m * k, (double*)ib + (long)bi * k * n, (double*)ic + (long)bi * m * n, k, n, r0, Math.Min(m, r0 + block));
                });
            }
        }
    }

    /// <summary>Rows r0..r1−1 of one product: C[i, :] += A[i, p]·B[p, :].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(double* a, double* b, double* c, int k, int n, int r0, int r1)
    {
        for (int i = r0; i < r1; i++)
        {
            double* cRow = c + (long)i * n;
            for (int p = 0; p < k; p++)
            {
                double av = a[(long)i * k + p];
                double* bRow = b + (long)p * n;
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    var va = Vector512.Create(av);
                    for (; j <= n - 8; j += 8) Vector512.Store(Vector512.FusedMultiplyAdd(va, Vector512.Load(bRow + j), Vector512.Load(cRow + j)), cRow + j);
                }
                else if (Vector256.IsHardwareAccelerated)
                {
                    var va = Vector256.Create(av);
                    for (; j <= n - 4; j += 4) Vector256.Store(Vector256.Load(cRow + j) + va * Vector256.Load(bRow + j), cRow + j);
                }
                for (; j < n; j++) cRow[j] += av * bRow[j];
            }
        }
    }
}
