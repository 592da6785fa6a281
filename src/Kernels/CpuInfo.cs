using System;
using System.Runtime.Intrinsics.X86;

namespace Functional.Kernels;

/// <summary>What the kernels need to know of the CPU they run on, from CPUID (x86; elsewhere everything unknown).</summary>
internal readonly record struct CpuInfo(string Vendor, int Family, int Model, int L1dBytes, int L2Bytes, long L3Bytes = 0)
{
    public bool IsIntel => Vendor == "GenuineIntel";

    public bool IsAmd => Vendor == "AuthenticAMD";

    public static readonly CpuInfo Current = Read();

    /// <summary>The processor's brand string (CPUID 0x80000002–4, e.g. "AMD EPYC 9R14 96-Core Processor"), trimmed;
    /// empty where the CPU gives none.</summary>
    public static readonly string Brand = ReadBrand();

    /// <summary>The CPU as a figure names it: its brand string, else its vendor, else "an unidentified CPU".</summary>
    public static string Name => Brand.Length > 0 ? Brand : Current.Vendor.Length > 0 ? Current.Vendor : "an unidentified CPU";

    private static string ReadBrand()
    {
        if (!X86Base.IsSupported || (uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax < 0x80000004u) return "";
        Span<byte> text = stackalloc byte[48];
        for (int i = 0; i < 3; i++)
        {
            var (a, b, c, d) = X86Base.CpuId(unchecked((int)0x80000002) + i, 0);
            BitConverter.TryWriteBytes(text[(16 * i)..], a);
            BitConverter.TryWriteBytes(text[(16 * i + 4)..], b);
            BitConverter.TryWriteBytes(text[(16 * i + 8)..], c);
            BitConverter.TryWriteBytes(text[(16 * i + 12)..], d);
        }
        return System.Text.Encoding.ASCII.GetString(text).Replace("\0", "").Trim();
    }

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
        long l3 = 0;
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
                if (level == 3 && type is 2 or 3) l3 = bytes;
            }
        }
        return new CpuInfo(vendor, family, model, l1d, l2, l3);
    }

    public override string ToString() =>
        $"{(Vendor.Length > 0 ? Vendor : "unknown")} family {Family} model {Model}, L1d {L1dBytes / 1024} KB, L2 {L2Bytes / 1024} KB, L3 {L3Bytes / (1024 * 1024)} MB";
}
