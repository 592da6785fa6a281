namespace Functional.Tests

open System
open Xunit
open Functional.Core
open Functional.Kernels

/// The machine report states the choices the kernels run with, not a copy of the rules that made them: each fact is
/// compared with what the kernels read, and flipping the lanes' switch flips the report.
[<Collection("process-wide state")>]
module LanesMachineTests =

    let private value (report: MachineReport) (name: string) =
        report.RuntimeSettings |> List.find (fun (n, _) -> n = name) |> snd

    [<Fact>]
    let ``The report states the CPU and the kernels' choices`` () =
        let r = Machine.describe ()
        Assert.Equal(CpuInfo.Current.Vendor, r.Vendor)
        Assert.Equal(CpuInfo.Current.Family, r.Family)
        Assert.Equal(CpuInfo.Current.Model, r.Model)
        Assert.Equal(CpuInfo.Brand, r.Processor)
        Assert.Equal(CpuInfo.Current.L2Bytes, r.L2Bytes)
        Assert.Equal(Environment.ProcessorCount, r.LogicalCores)
        Assert.Equal((if Cpu.wide () then 8 elif Cpu.fourLanes then 4 else 1), r.Lanes)
        Assert.Equal((if PackedGemm.Supported then sprintf "%d×%d" PackedGemm.Mr PackedGemm.Nr else "none"), r.GemmTile)
        Assert.Equal(string Tuning.GemmBlocks, r.GemmBlocks)
        Assert.Equal(Tuning.NonTemporalBytes, r.NonTemporalBytes)
        Assert.Equal(Runtime.Intrinsics.X86.Avx2.IsSupported, r.InstructionSets.Contains "AVX2")
        if CpuInfo.Current.Vendor <> "" then Assert.NotEqual<string>("", r.Processor)

    [<Fact>]
    let ``Large results go around the caches from an eighth of the L3, at most 4 MB`` () =
        // 32 MB (the AMD machines measured): 4 MB; a VM told a 260 MB socket L3 (an Intel Xeon 6/207): still 4 MB;
        // a small L3 its eighth; unknown: 4 MB.
        Assert.Equal(4L <<< 20, Tuning.NonTemporalBytesFor(32L <<< 20))
        Assert.Equal(4L <<< 20, Tuning.NonTemporalBytesFor(260L <<< 20))
        Assert.Equal(1L <<< 20, Tuning.NonTemporalBytesFor(8L <<< 20))
        Assert.Equal(4L <<< 20, Tuning.NonTemporalBytesFor(0L))

    [<Fact>]
    let ``Sums in a scope go around the caches on Intel only`` () =
        // Measured around faster on an Intel Xeon 6/207, through faster on AMD Zen 5 and mostly on Zen 4.
        Assert.True(Tuning.StreamSumsFor(CpuInfo("GenuineIntel", 6, 207, 48 * 1024, 2048 * 1024, 260L <<< 20)))
        Assert.False(Tuning.StreamSumsFor(CpuInfo("AuthenticAMD", 25, 17, 32 * 1024, 1024 * 1024, 32L <<< 20)))
        Assert.False(Tuning.StreamSumsFor(CpuInfo("AuthenticAMD", 26, 2, 48 * 1024, 1024 * 1024, 32L <<< 20)))
        Assert.False(Tuning.StreamSumsFor(CpuInfo("", 0, 0, 0, 0)))

    [<FactNeeding(Need.EightLanes)>]
    let ``Four lanes forced show as four`` () =
        Tuning.EightLanes <- false
        try Assert.Equal(4, (Machine.describe ()).Lanes) finally Tuning.EightLanes <- true
        Assert.Equal(8, (Machine.describe ()).Lanes)

    [<Fact>]
    let ``Runtime settings are read from the runtimeconfig and the environment`` () =
        let r = Machine.describe ()
        // This test project's runtimeconfig carries the package's test-project settings (Functional.Core.targets).
        Assert.Equal("false (runtimeconfig)", value r "System.Runtime.TieredPGO")
        Assert.Equal("0 (runtimeconfig)", value r "System.Runtime.TieredCompilation.CallCountingDelayMs")
        Assert.Equal("default", value r "System.Runtime.TieredCompilation.QuickJitForLoops")
        let gen0 =
            match Environment.GetEnvironmentVariable "DOTNET_GCgen0size" with
            | null -> "default"
            | v -> v + " (DOTNET_GCgen0size)"
        Assert.Equal(gen0, value r "System.GC.Gen0Size")
        // CI's fallback runs set DOTNET_EnableAVX512=0 and DOTNET_EnableHWIntrinsic=0; the report names the first.
        let avx512 =
            match Environment.GetEnvironmentVariable "DOTNET_EnableAVX512" with
            | null -> "default"
            | v -> v + " (DOTNET_EnableAVX512)"
        Assert.Equal(avx512, value r "DOTNET_EnableAVX512")

    [<Fact>]
    let ``The test build's core assembly is IL only, and the text has one fact a line`` () =
        let r = Machine.describe ()
        Assert.Equal(Some false, r.PrecompiledCode)
        let lines = (Machine.format r).Split(Environment.NewLine)
        Assert.Equal(11 + r.RuntimeSettings.Length, lines.Length)
        Assert.Contains(lines, fun l -> l.StartsWith "Elementwise lanes:" && l.Contains(string r.Lanes))
        Assert.Contains(lines, fun l -> l.StartsWith "GEMM cache blocks:" && l.EndsWith r.GemmBlocks)
        Assert.Contains(lines, fun l -> l.StartsWith "Precompiled code:" && l.EndsWith "no (IL only)")

    [<Fact>]
    let ``The kernels are optimised in every build, and the measured rates are consistent`` () =
        // A Debug build marks its assembly for unoptimised JIT code; the kernels' project opts out (20× slower).
        let debuggable =
            typeof<Tuning>.Assembly.GetCustomAttributes(typeof<Diagnostics.DebuggableAttribute>, false)
            |> Array.map (fun a -> a :?> Diagnostics.DebuggableAttribute)
        Assert.All(debuggable, fun a -> Assert.False(a.IsJITOptimizerDisabled))
        let f = Machine.measure ()
        Assert.Equal(1024, f.GemmSize)
        for rate in [ f.PeakOneCore; f.PeakAllCores; f.GemmGflops; f.GemmShareOfPeak ] do
            Assert.True(rate > 0.0 && Double.IsFinite rate, sprintf "rate %g" rate)
        Assert.True(f.PeakAllCores >= 0.5 * f.PeakOneCore, sprintf "peaks %g and %g" f.PeakOneCore f.PeakAllCores)
        let lines = (Machine.formatFigures f).Split(Environment.NewLine)
        Assert.Equal(3, lines.Length)
        Assert.EndsWith(f.MeasuredOn, lines.[0])
        Assert.Contains(sprintf "family %d model %d" CpuInfo.Current.Family CpuInfo.Current.Model, f.MeasuredOn)
        Assert.Contains(sprintf "%.1f GFLOP/s on one core" f.PeakOneCore, lines.[1])
        Assert.Contains(sprintf "%.0f %%" (100.0 * f.GemmShareOfPeak), lines.[2])
