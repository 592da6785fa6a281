using System;
using System.Runtime.Intrinsics;

namespace Functional.Kernels;

/// <summary>
/// The packed product's cache blocks: <see cref="KC"/> (the k extent of one packed panel), <see cref="MC"/> (rows of
/// A packed together) and <see cref="NC"/> (columns of B packed together). They change speed only: each element of C
/// is summed over p = 0, 1, …, k−1 in order from +0 (a later k block resumes from the C tile the earlier one left),
/// so every blocking gives the same bits, and the blocks can follow the CPU.
/// </summary>
internal readonly record struct GemmBlocking(int KC, int MC, int NC)
{
    /// <summary>Measured on AMD Zen 4 (32 KB L1d, 1 MB L2 per core): KC 512 / MC 256 beat 256 / 128 by 5–10 %, the
    /// long KC amortising the C tile's load and store although a 512×16 panel of B (64 KB) exceeds L1d.</summary>
    public static readonly GemmBlocking Measured = new(512, 256, 1024);

    /// <summary>Throws unless the blocks are usable: KC ≥ 1, MC a positive multiple of the tile's 8 rows, NC a
    /// positive multiple of its 16 columns.</summary>
    public GemmBlocking Checked()
    {
        if (KC < 1 || KC > 1 << 16) throw new ArgumentOutOfRangeException(nameof(KC), KC, "KC must be in 1..65536.");
        if (MC < PackedGemm.MR || MC % PackedGemm.MR != 0 || MC > 1 << 16) throw new ArgumentOutOfRangeException(nameof(MC), MC, $"MC must be a positive multiple of {PackedGemm.MR}, at most 65536.");
        if (NC < PackedGemm.NR || NC % PackedGemm.NR != 0 || NC > 1 << 16) throw new ArgumentOutOfRangeException(nameof(NC), NC, $"NC must be a positive multiple of {PackedGemm.NR}, at most 65536.");
        return this;
    }

    /// <summary>
    /// The blocks for this process's CPU. AMD Zen 5 (family 26) with Vector512 keeps KC 512 but takes an MC whose
    /// block of A fills a quarter of L2 (64 rows for its 1 MB): measured there, 2–11 % faster than MC 256 (the
    /// benchmarks' <c>gemmtune</c> mode, blockings alternating). Intel cores that run Vector512 at full width take
    /// KC 256 and an MC whose block of A fills an eighth of L2 (128 rows for 2 MB): measured on a Xeon of family 6
    /// model 207, 1.2–1.4× faster than KC 384 with MC 472 (BLIS's Skylake-X rule) at n = 1024. What its runs agree
    /// on is a small MC (64–192); KC 192–512 and NC 1024 or 2048 traded places from run to run. Every other CPU gets
    /// <see cref="Measured"/>.
    /// </summary>
    public static GemmBlocking ForThisMachine() => For(CpuInfo.Current, Vector512.IsHardwareAccelerated);

    /// <summary>The blocks <see cref="ForThisMachine"/> gives a CPU, whether or not Vector512 runs at full width.</summary>
    public static GemmBlocking For(CpuInfo cpu, bool vector512)
    {
        if (!vector512 || cpu.L2Bytes <= 0) return Measured;
        if (cpu.IsAmd && cpu.Family >= 26) return InL2(cpu, 0.25, Measured.KC, 32, 256);
        if (cpu.IsIntel) return InL2(cpu, 0.125, 256, 32, 256);
        return Measured;
    }

    /// <summary>KC <paramref name="kc"/> and an MC (a multiple of the tile's rows, within min..max) whose block of A,
    /// MC × KC doubles, fills <paramref name="share"/> of this CPU's L2.</summary>
    private static GemmBlocking InL2(CpuInfo cpu, double share, int kc, int min, int max)
    {
        int mc = Math.Clamp((int)(share * cpu.L2Bytes / (kc * 8)) / PackedGemm.MR * PackedGemm.MR, min, max);
        return new GemmBlocking(kc, mc, Measured.NC).Checked();
    }

    public override string ToString() => $"KC {KC}, MC {MC}, NC {NC}";
}
