using System.Collections.Generic;
using System.Linq;
using Core = Functional.Core;

namespace Functional;

/// <summary>
/// What this process runs on and what the library chose for it: the CPU, the vector width of the elementwise
/// operations, the matrix product's register tile and cache blocks, whether the library's precompiled code is
/// present, and the runtime settings that decide how fast a fresh process warms up. Performance figures hold on the
/// CPU they were measured on: attach <see cref="MachineInfo.ToString"/> to a performance report. The choices change speed only;
/// every path gives the documented results.
/// </summary>
/// <example><code>
/// Console.WriteLine(Machine.Describe());   // in a test: output.WriteLine(Machine.Describe().ToString());
/// </code></example>
public static class Machine
{
    /// <summary>Reads this process's machine report (CPUID, the kernels' choices, the runtime's configuration and
    /// the library assembly's header; cheap).</summary>
    /// <returns>The report; its <see cref="MachineInfo.ToString"/> is one fact per line.</returns>
    public static MachineInfo Describe() => new(Core.Machine.Describe());

    /// <summary>Measures the float64 FMA peak on one core and on all, then a 1024×1024 product's rate and its share
    /// of the peak (about 3 s; run nothing else meanwhile).</summary>
    /// <returns>The measured rates and the CPU they were measured on.</returns>
    public static MachineFigures Measure() => new(Core.Machine.Measure());
}

/// <summary>A machine report (<see cref="Machine.Describe"/>).</summary>
public sealed class MachineInfo
{
    private readonly Core.MachineReport report;

    internal MachineInfo(Core.MachineReport report)
    {
        this.report = report;
        RuntimeSettings = report.RuntimeSettings.Select(s => new KeyValuePair<string, string>(s.Item1, s.Item2)).ToArray();
    }

    /// <summary>The processor's brand string from CPUID (e.g. "AMD EPYC 9R14 96-Core Processor"); empty where the
    /// CPU gives none.</summary>
    public string Processor => report.Processor;

    /// <summary>The CPUID vendor ("GenuineIntel", "AuthenticAMD"); empty off x86.</summary>
    public string Vendor => report.Vendor;

    /// <summary>The CPUID family (extended family added); 0 off x86.</summary>
    public int Family => report.Family;

    /// <summary>The CPUID model (extended model included); 0 off x86.</summary>
    public int Model => report.Model;

    /// <summary>Logical processors this process may use.</summary>
    public int LogicalCores => report.LogicalCores;

    /// <summary>The instruction sets the kernels look for and this process may use, e.g. "AVX-512F AVX-512DQ AVX2
    /// FMA"; "none" where none is available or all are switched off (e.g. by <c>DOTNET_EnableAVX512=0</c>).</summary>
    public string InstructionSets => report.InstructionSets;

    /// <summary>Doubles per step of the elementwise operations: 8 with AVX-512, 4 with AVX2 and FMA, 1 (scalar)
    /// otherwise.</summary>
    public int Lanes => report.Lanes;

    /// <summary>Whether .NET runs 512-bit vectors at full speed here; the matrix product's wide tile needs it.</summary>
    public bool Vector512Accelerated => report.Vector512Accelerated;

    /// <summary>The level-1 data cache of one core in bytes (0 where unknown).</summary>
    public int L1dBytes => report.L1dBytes;

    /// <summary>The level-2 cache of one core in bytes (0 where unknown).</summary>
    public int L2Bytes => report.L2Bytes;

    /// <summary>The level-3 cache in bytes as CPUID gives it (on AMD one core complex's share; 0 where unknown).</summary>
    public long L3Bytes => report.L3Bytes;

    /// <summary>The matrix product's register tile, rows × columns ("8×16" with 512-bit vectors, "6×8" with AVX2),
    /// or "none" where products take the scalar loop.</summary>
    public string GemmTile => report.GemmTile;

    /// <summary>The matrix product's cache blocks, e.g. "KC 512, MC 256, NC 1024".</summary>
    public string GemmBlocks => report.GemmBlocks;

    /// <summary>Elementwise results of at least this many bytes are written around the caches.</summary>
    public long NonTemporalBytes => report.NonTemporalBytes;

    /// <summary>Whether the library's core assembly carries ReadyToRun (precompiled) code; null where its file cannot
    /// be read (e.g. a single-file application).</summary>
    public bool? PrecompiledCode => report.PrecompiledCode is { } p ? p.Value : null;

    /// <summary>Runtime settings that change a fresh process's warm-up and the code that runs, in a fixed order: the
    /// setting's name, then its value and where it came from (runtimeconfig or environment), or "default". In a
    /// test project the package sets <c>System.Runtime.TieredCompilation.CallCountingDelayMs</c> and
    /// <c>System.Runtime.TieredPGO</c>, and its run settings <c>DOTNET_GCgen0size</c>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RuntimeSettings { get; }

    /// <summary>The report, one fact per line ("name: value").</summary>
    /// <returns>The report as text.</returns>
    public override string ToString() => Core.Machine.Format(report);
}

/// <summary>Rates measured on this machine (<see cref="Machine.Measure"/>). Timings move with everything else the
/// machine runs; on a virtual machine, by ±10–20 % from one minute to the next.</summary>
public sealed class MachineFigures
{
    private readonly Core.MachineFigures figures;

    internal MachineFigures(Core.MachineFigures figures) => this.figures = figures;

    /// <summary>The CPU the figures were measured on: its brand string (else its vendor), CPUID family and model, and
    /// the logical cores (a rate holds on that kind of CPU).</summary>
    public string MeasuredOn => figures.MeasuredOn;

    /// <summary>GFLOP/s of independent float64 FMA chains held in registers on one core (the best of several loop
    /// shapes): the arithmetic peak a kernel can approach.</summary>
    public double PeakOneCore => figures.PeakOneCore;

    /// <summary>The same on every core at once.</summary>
    public double PeakAllCores => figures.PeakAllCores;

    /// <summary>n of the n×n by n×n product timed (1024).</summary>
    public int GemmSize => figures.GemmSize;

    /// <summary>The product's forward rate in GFLOP/s (2n³ flops) in a scope, the best of seven calls, on every core.</summary>
    public double GemmGflops => figures.GemmGflops;

    /// <summary><see cref="GemmGflops"/> over the all-core peak measured again right after it.</summary>
    public double GemmShareOfPeak => figures.GemmShareOfPeak;

    /// <summary>The figures: the CPU they were measured on, then one rate per line.</summary>
    /// <returns>The figures as text.</returns>
    public override string ToString() => Core.Machine.FormatFigures(figures);
}
