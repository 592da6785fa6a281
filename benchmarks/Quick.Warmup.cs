using System.Diagnostics;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>A fresh process's warm-up, one process per run (benchmarks/warmup.sh).</summary>
public static partial class Quick
{
    /// <summary>One fresh process's warm-up (env ENGINE = functional or torch, N = 16): value and gradient of
    /// sum(GELU(A·B)) called 50,000 times; prints the first call and the means of calls 2–10, 11–1,000, 1,001–10,000
    /// and 40,001–50,000 (the steady state). Run it in several processes (benchmarks/warmup.sh) and quote medians.
    /// JITLOG=1 lists each method the JIT compiles, its tier flags and how long it took; DETAIL=1 the JIT time,
    /// collections and bytes of each range; PERFCTL=FIFO enables a `perf record --control fifo:FIFO -D -1` around
    /// calls 11–1,000 only.</summary>
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
            call = () => Workloads.SmallGeluRead(a, b);
        }
        var (from, to) = (new[] { 1, 2, 11, 1_001, 40_001 }, new[] { 1, 10, 1_000, 10_000, 50_000 });
        var means = new double[from.Length];
        var jit = new string[from.Length];
        var sw = new Stopwatch();
        using var perfControl = Environment.GetEnvironmentVariable("PERFCTL") is string fifo ? new StreamWriter(fifo) : null;
        double sink = 0;
        for (int k = 0, call1 = 1; k < from.Length; k++)
        {
            for (; call1 < from[k]; call1++) sink += call();
            if (jitLog is not null) Console.WriteLine($"== calls {from[k]}-{to[k]}");
            long methods = System.Runtime.JitInfo.GetCompiledMethodCount(), bytes = GC.GetAllocatedBytesForCurrentThread();
            var jitTime = System.Runtime.JitInfo.GetCompilationTime();
            int gcs = GC.CollectionCount(0);
            bool profiled = perfControl is not null && from[k] == 11;
            if (profiled) { perfControl!.Write("enable\n"); perfControl.Flush(); }
            sw.Restart();
            for (; call1 <= to[k]; call1++) sink += call();
            if (profiled) { perfControl!.Write("disable\n"); perfControl.Flush(); }
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
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTime> _started = new();

        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
                EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x10);
        }

        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
        {
            var names = e.PayloadNames!;
            string Get(string n) => names.IndexOf(n) is var k and >= 0 ? e.Payload![k]?.ToString() ?? "" : "";
            if (e.EventName is "MethodJittingStarted_V1" or "MethodJittingStarted")
            {
                _started[Get("MethodID")] = e.TimeStamp;
                return;
            }
            if (e.EventName != "MethodLoadVerbose_V2" && e.EventName != "MethodLoadVerbose_V1" && e.EventName != "MethodLoadVerbose") return;
            // The time since this method's compilation began (0 when it was not seen beginning).
            double us = _started.TryRemove(Get("MethodID"), out var t0) ? (e.TimeStamp - t0).TotalMicroseconds : 0;
            Console.WriteLine($"JIT {Get("MethodFlags")} {us:F0}us {Get("MethodNamespace")}::{Get("MethodName")}");
        }
    }
}
