using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// The parallel loops of every kernel: fork-join over dedicated worker threads (one fewer than the cores) that keep
/// spinning for <see cref="Tuning.SpinMs"/> after a job before they sleep, so that a job following soon starts on
/// every core at once (the thread pool's workers sleep sooner, and on a VM a sleeping core was seen to wake
/// 0.6–4 ms late). The caller runs tasks too. Tasks run in the caller's execution context (a `TensorScope` flows
/// into them, as into Parallel.For's). One job at a time: a job submitted while another runs (from another thread,
/// or from inside a task) goes to <see cref="Parallel.For(int, int, Action{int})"/>, as every job does when
/// <see cref="Tuning.SpinMs"/> is 0.
/// </summary>
internal static class Fork
{
    private sealed class Job(Action<int> body, int count, ExecutionContext? context)
    {
        public readonly Action<int> Body = body;
        public readonly int Count = count;
        public readonly ExecutionContext? Context = context;
        public int Next;
        public int Done;
        public Exception? Error;

        /// <summary>Claims and runs tasks until none is left.</summary>
        public void Work()
        {
            int i;
            while ((i = Interlocked.Increment(ref Next) - 1) < Count)
            {
                try { Body(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref Error, e, null); }
                Interlocked.Increment(ref Done);
            }
        }
    }

    private static Job? _job;
    private static long _generation;
    private static int _busy;
    private static int _sleepers;
    private static readonly SemaphoreSlim Wake = new(0);
    private static int _started;

    /// <summary>body(0) … body(count − 1), each exactly once, over the cores; returns when all are done and
    /// rethrows the first exception a task raised.</summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1)
        {
            body(0);
            return;
        }
        if (Tuning.SpinMs <= 0 || Environment.ProcessorCount < 2 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            Parallel.For(0, count, body);
            return;
        }
        try
        {
            Start();
            var job = new Job(body, count, ExecutionContext.Capture());
            Volatile.Write(ref _job, job);
            Interlocked.Increment(ref _generation);
            int sleeping = Interlocked.Exchange(ref _sleepers, 0);
            if (sleeping > 0) Wake.Release(sleeping);
            job.Work();
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Done) < count) spin.SpinOnce(-1);
            if (job.Error is { } error) throw new AggregateException(error);
        }
        finally
        {
            // The finished job's closure (and the arrays it holds) is not kept until the next job.
            Volatile.Write(ref _job, null);
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary><see cref="For(int, Action{int})"/> over a long count (at most int.MaxValue tasks).</summary>
    public static void For(long count, Action<long> body) => For(checked((int)count), i => body(i));

    private static void Start()
    {
        if (Volatile.Read(ref _started) != 0 || Interlocked.Exchange(ref _started, 1) != 0) return;
        for (int w = 0; w < Environment.ProcessorCount - 1; w++)
            new Thread(Worker) { IsBackground = true, Name = "Functional kernels " + w }.Start();
    }

    private static void Worker()
    {
        static long SpinDeadline() => Stopwatch.GetTimestamp() + (long)(Tuning.SpinMs * Stopwatch.Frequency / 1000.0);
        long seen = 0;
        while (true)
        {
            long spinUntil = SpinDeadline();
            // SpinOnce yields the core after its first few spins, so other threads ready on it still run.
            var spin = new SpinWait();
            while (Volatile.Read(ref _generation) == seen)
            {
                if (Stopwatch.GetTimestamp() > spinUntil)
                {
                    // Counted before the check, so a job posted after it releases this worker; a release that
                    // finds the job already taken only makes a later wait return early.
                    Interlocked.Increment(ref _sleepers);
                    if (Volatile.Read(ref _generation) == seen) Wake.Wait();
                    spinUntil = SpinDeadline();
                }
                else spin.SpinOnce(-1);
            }
            seen = Volatile.Read(ref _generation);
            if (Volatile.Read(ref _job) is { } job)
            {
                if (job.Context is { } context) ExecutionContext.Run(context, static j => ((Job)j!).Work(), job);
                else job.Work();
            }
        }
    }
}
