using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    /// The blocks for this process's CPU. Intel cores that run Vector512 at full width take BLIS's Skylake-X
    /// blocks (KC 384, and an MC whose block of A fills 70 % of L2: 240 for its 1 MB), scaled to this CPU's L2;
    /// not yet measured on such a machine, which the benchmarks' <c>gemmtune</c> mode does. Every other CPU gets
    /// <see cref="Measured"/>.
    /// </summary>
    public static GemmBlocking ForThisMachine() => For(CpuInfo.Current, Vector512.IsHardwareAccelerated);

    /// <summary>The blocks <see cref="ForThisMachine"/> gives a CPU, whether or not Vector512 runs at full width.</summary>
    public static GemmBlocking For(CpuInfo cpu, bool vector512)
    {
        if (!cpu.IsIntel || !vector512 || cpu.L2Bytes <= 0) return Measured;
        const int kc = 384;
        int mc = Math.Clamp((int)(0.7 * cpu.L2Bytes / (kc * 8)) / PackedGemm.MR * PackedGemm.MR, 64, 512);
        return new GemmBlocking(kc, mc, Measured.NC).Checked();
    }

    public override string ToString() => $"KC {KC}, MC {MC}, NC {NC}";
}

/// <summary>What the kernels need to know of the CPU they run on, from CPUID (x86; elsewhere everything unknown).</summary>
internal readonly record struct CpuInfo(string Vendor, int Family, int Model, int L1dBytes, int L2Bytes)
{
    public bool IsIntel => Vendor == "GenuineIntel";

    public static readonly CpuInfo Current = Read();

    private static CpuInfo Read()
    {
        if (!X86Base.IsSupported) return new CpuInfo("", 0, 0, 0, 0);
        var (max, b, c, d) = X86Base.CpuId(0, 0);
        Span<byte> name = stackalloc byte[12];
        BitConverter.TryWriteBytes(name, b);
        BitConverter.TryWriteBytes(name[4..], d);
        BitConverter.TryWriteBytes(name[8..], c);
        string vendor = System.Text.Encoding.ASCII.GetString(name);
        int family = 0, model = 0;
        if (max >= 1)
        {
            int eax = X86Base.CpuId(1, 0).Eax;
            int baseFamily = (eax >> 8) & 0xF, baseModel = (eax >> 4) & 0xF;
            family = baseFamily == 0xF ? baseFamily + ((eax >> 20) & 0xFF) : baseFamily;
            model = baseFamily >= 6 ? baseModel | (((eax >> 16) & 0xF) << 4) : baseModel;
        }
        // Intel describes its caches in leaf 4, AMD in leaf 0x8000001D, in the same layout.
        int leaf = vendor == "GenuineIntel" ? 4 : vendor == "AuthenticAMD" ? unchecked((int)0x8000001D) : 0;
        int l1d = 0, l2 = 0;
        if (leaf != 0 && (leaf > 0 ? max >= leaf : (uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax >= (uint)leaf))
        {
            for (int i = 0; i < 8; i++)
            {
                var (ea, eb, ec, _) = X86Base.CpuId(leaf, i);
                int type = ea & 0x1F, level = (ea >> 5) & 0x7;
                if (type == 0) break;
                long bytes = (long)(((eb >> 22) & 0x3FF) + 1) * (((eb >> 12) & 0x3FF) + 1) * ((eb & 0xFFF) + 1) * ((long)(uint)ec + 1);
                if (level == 1 && type == 1) l1d = (int)Math.Min(bytes, int.MaxValue);
                if (level == 2 && type is 2 or 3) l2 = (int)Math.Min(bytes, int.MaxValue);
            }
        }
        return new CpuInfo(vendor, family, model, l1d, l2);
    }

    public override string ToString() =>
        $"{(Vendor.Length > 0 ? Vendor : "unknown")} family {Family} model {Model}, L1d {L1dBytes / 1024} KB, L2 {L2Bytes / 1024} KB";
}
