using System.Diagnostics;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>A fresh process's warm-up, one process per run (benchmarks/warmup.sh).</summary>
public static partial class Quick
{
    /// <summary>One fresh process's warm-up (env ENGINE = functional or torch, N = 16): value and gradient of
    /// sum(GELU(A·B)) called 50,000 times; prints the first call and the means of calls 2–10, 11–1,000, 1,001–10,000
    /// and 40,001–50,000 (the steady state). Run it in several processes (benchmarks/warmup.sh) and quote medians.</summary>
    public static void Warmup()
    {
        using var jitLog = Environment.GetEnvironmentVariable("JITLOG") == "1" ? new JitLog() : null;
        string engine = Environment.GetEnvironmentVariable("ENGINE") ?? "functional";
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 16;
        Func<double> call;
        if (engine == "torch")
        {
            var ta = Workloads.Leaf(Core.TensorModule.random(1, new[] { n, n }), true);
            var tb = Workloads.Leaf(Core.TensorModule.random(2, new[] { n, n }), true);
            call = () => Workloads.TorchSmallGelu(ta, tb);
        }
        else
        {
            var a = Tensor.Random(1, n, n);
            var b = Tensor.Random(2, n, n);
            call = () => Workloads.SmallGelu(a, b).Value.ToScalar();
        }
        var (from, to) = (new[] { 1, 2, 11, 1_001, 40_001 }, new[] { 1, 10, 1_000, 10_000, 50_000 });
        var means = new double[from.Length];
        var jit = new string[from.Length];
        var sw = new Stopwatch();
        double sink = 0;
        for (int k = 0, call1 = 1; k < from.Length; k++)
        {
            for (; call1 < from[k]; call1++) sink += call();
            if (jitLog is not null) Console.WriteLine($"== calls {from[k]}-{to[k]}");
            long methods = System.Runtime.JitInfo.GetCompiledMethodCount(), bytes = GC.GetAllocatedBytesForCurrentThread();
            var jitTime = System.Runtime.JitInfo.GetCompilationTime();
            int gcs = GC.CollectionCount(0);
            sw.Restart();
            for (; call1 <= to[k]; call1++) sink += call();
            means[k] = sw.Elapsed.TotalSeconds / (to[k] - from[k] + 1);
            jit[k] = $"{System.Runtime.JitInfo.GetCompiledMethodCount() - methods} jitted in {(System.Runtime.JitInfo.GetCompilationTime() - jitTime).TotalMilliseconds:F1} ms, " +
                     $"{GC.CollectionCount(0) - gcs} gen0 GCs, {(GC.GetAllocatedBytesForCurrentThread() - bytes) / (to[k] - from[k] + 1)} B/call";
        }
        if (Environment.GetEnvironmentVariable("DETAIL") == "1")
            for (int k = 0; k < from.Length; k++) Console.WriteLine($"  calls {from[k]}-{to[k]}: {jit[k]}");
        Console.WriteLine($"warmup {engine} n={n}: first {means[0] * 1e3:F2} ms; calls 2-10 {means[1] * 1e6:F1} us; " +
                          $"11-1000 {means[2] * 1e6:F1} us; 1001-10000 {means[3] * 1e6:F1} us; steady {means[4] * 1e6:F1} us ({(sink == 0 ? "" : ".")})");
    }

    /// <summary>Prints each method the JIT compiles and at which tier (env JITLOG=1 in the warmup mode): which code
    /// a fresh process runs unoptimised.</summary>
    private sealed class JitLog : System.Diagnostics.Tracing.EventListener
    {
        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
                EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x10);
        }

        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
        {
            if (e.EventName != "MethodLoadVerbose_V2" && e.EventName != "MethodLoadVerbose_V1" && e.EventName != "MethodLoadVerbose") return;
            var names = e.PayloadNames!;
            string Get(string n) => names.IndexOf(n) is var k and >= 0 ? e.Payload![k]?.ToString() ?? "" : "";
            Console.WriteLine($"JIT {Get("MethodFlags")} {Get("MethodNamespace")}::{Get("MethodName")}");
        }
    }
}
