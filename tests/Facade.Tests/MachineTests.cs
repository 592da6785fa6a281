using Xunit;
using Core = Functional.Core;

namespace Functional.Facade.Tests;

/// <summary>The C# machine report carries the core's, fact for fact, with no F# types.</summary>
public class MachineTests
{
    [Fact]
    public void The_report_is_the_cores()
    {
        var info = Machine.Describe();
        var core = Core.Machine.Describe();
        Assert.Equal(core.Processor, info.Processor);
        Assert.Equal((core.Vendor, core.Family, core.Model), (info.Vendor, info.Family, info.Model));
        Assert.Equal(core.Lanes, info.Lanes);
        Assert.Contains(info.Lanes, new[] { 1, 4, 8 });
        Assert.Equal(core.GemmTile, info.GemmTile);
        Assert.Equal(core.GemmBlocks, info.GemmBlocks);
        Assert.Equal((core.L1dBytes, core.L2Bytes, core.L3Bytes), (info.L1dBytes, info.L2Bytes, info.L3Bytes));
        Assert.Equal(core.NonTemporalBytes, info.NonTemporalBytes);
        Assert.False(info.PrecompiledCode);
        Assert.Equal(core.RuntimeSettings.Select(s => s.Item1), info.RuntimeSettings.Select(s => s.Key));
        Assert.Equal(core.RuntimeSettings.Select(s => s.Item2), info.RuntimeSettings.Select(s => s.Value));
        Assert.Equal(Core.Machine.Format(core), info.ToString());
        Assert.Contains($"Logical cores:", info.ToString());
    }

    [Fact]
    public void Measured_rates_are_the_cores_format()
    {
        var f = Machine.Measure();
        Assert.Equal(1024, f.GemmSize);
        Assert.True(f.PeakOneCore > 0 && f.PeakAllCores > 0 && f.GemmGflops > 0 && f.GemmShareOfPeak > 0);
        var lines = f.ToString().Split(Environment.NewLine);
        Assert.Equal(3, lines.Length);
        Assert.EndsWith(f.MeasuredOn, lines[0]);
        Assert.Contains(f.GemmGflops.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + " GFLOP/s", lines[2]);
    }
}
