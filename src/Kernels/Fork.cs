using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// The parallel loops of every kernel: fork-join over dedicated worker threads (one fewer than the cores) that keep
/// spinning for <see cref="Tuning.SpinMs"/> after a job before they sleep, so that a job following soon starts on
/// every core at once (the thread pool's workers sleep sooner, and on a VM a sleeping core was seen to wake
/// 0.6–4 ms late). The caller runs tasks too. Each thread runs its own contiguous share of the tasks first, then
/// helps with the others': the same chunk of a same-sized job lands on the same core each time, whose caches hold
/// what that thread wrote there before. Tasks run in the caller's execution context (a `TensorScope` flows
/// into them, as into Parallel.For's). One job at a time: a job submitted while another runs (from another thread,
/// or from inside a task) goes to <see cref="Parallel.For(int, int, Action{int})"/>, as every job does when
/// <see cref="Tuning.SpinMs"/> is 0.
/// </summary>
internal static class Fork
{
    private sealed class Job
    {
        public readonly Action<int> Body;
        public readonly int Count;
        public readonly ExecutionContext? Context;
        // Participant p (0 the caller, w + 1 worker w) first claims the tasks of its own share, [count·p/P,
        // count·(p + 1)/P) for P participants, then the rest of the others' shares. The same share of a same-sized job
        // goes to the same thread each time, so the results a thread wrote are in its own caches when the next job
        // reads them. Each share's next task is counted a cache line apart from the others'.
        private readonly int[] _next;
        private readonly int _participants;
        public int Done;
        public Exception? Error;

        public Job(Action<int> body, int count, ExecutionContext? context, int participants)
        {
            Body = body; Count = count; Context = context; _participants = participants;
            _next = new int[participants * 16];
            for (int p = 0; p < participants; p++) _next[p * 16] = ShareStart(p);
        }

        private int ShareStart(int p) => (int)((long)Count * p / _participants);

        /// <summary>Claims and runs tasks until none is left: participant p's share first, then the others'.</summary>
        public void Work(int p)
        {
            for (int k = 0; k < _participants; k++)
            {
                int q = (p + k) % _participants;
                int end = ShareStart(q + 1), i;
                while ((i = Interlocked.Increment(ref _next[q * 16]) - 1) < end)
                {
                    // After a task's failure the rest are counted, not run (as Parallel.For stops): the caller
                    // gets that first error without waiting for the whole job, or for more of the same.
                    if (Volatile.Read(ref Error) is null)
                    {
                        try { Body(i); }
                        catch (Exception e) { Interlocked.CompareExchange(ref Error, e, null); }
                    }
                    Interlocked.Increment(ref Done);
                }
            }
        }
    }

    private static Job? _job;
    private static long _generation;
    private static int _busy;
    private static int _sleepers;
    // Workers spinning or working (not asleep, not yet started): a job handed to a worker still waking waits for it.
    private static int _awake;
    private static int _declined;
    private static long _declinedSince;

    /// <summary>Mid-sized costly calls within one spin period that find the workers asleep before one wakes them
    /// (<see cref="SplitsCostly"/>).</summary>
    internal const int WakeAfterDeclined = 16;
    private static readonly SemaphoreSlim Wake = new(0);
    private static int _started;

    [ThreadStatic] private static int _coresOverride;

    /// <summary>The cores a kernel splits its work for: the machine's (<see cref="Environment.ProcessorCount"/>), or,
    /// on the calling thread, the count a test set with <see cref="SplitFor"/>. Every split decision reads this, so
    /// that a test can run one input as 1, 2, 3 or 8 cores would split it, in one process, and compare the bits; the
    /// workers themselves are the machine's.</summary>
    internal static int Cores => _coresOverride > 0 ? _coresOverride : Environment.ProcessorCount;

    /// <summary>Runs <paramref name="body"/> with <see cref="Cores"/> as <paramref name="cores"/> on this thread
    /// (decisions made on the workers, inside tasks, keep the machine's count).</summary>
    internal static T SplitFor<T>(int cores, Func<T> body)
    {
        int before = _coresOverride;
        _coresOverride = cores;
        try { return body(); }
        finally { _coresOverride = before; }
    }

    /// <summary>How many pieces of <paramref name="per"/> cover <paramref name="count"/>, ⌈count / per⌉, computed in 64
    /// bits: in 32, a count within <paramref name="per"/> of 2³¹ wraps to a negative number of tasks and no work is
    /// done at all.</summary>
    public static int Pieces(int count, int per) => (int)(((long)count + per - 1) / per);

    /// <summary>body(lo, hi) over the pieces [k·per, min(count, (k + 1)·per)) that cover [0, count), over the cores
    /// (<see cref="For(int, Action{int})"/>); the ends are computed without wrapping near 2³¹.</summary>
    public static void ForPieces(int count, int per, Action<int, int> body) =>
        For(Pieces(count, per), k => body(k * per, (int)Math.Min(count, (long)(k + 1) * per)));

    /// <summary>body(0) … body(count − 1), each exactly once, over the cores; returns when all are done and
    /// rethrows the first exception a task raised, as it was (with its stack), so that a typed error raised inside a
    /// kernel's task (a tensor released under it) reaches the caller as that type, not wrapped.</summary>
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
            try { Parallel.For(0, count, body); }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0) { ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw(); }
            return;
        }
        try
        {
            Start();
            var job = new Job(body, count, ExecutionContext.Capture(), Environment.ProcessorCount);
            Volatile.Write(ref _job, job);
            Interlocked.Increment(ref _generation);
            int sleeping = Interlocked.Exchange(ref _sleepers, 0);
            if (sleeping > 0) Wake.Release(sleeping);
            job.Work(0);
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Done) < count) spin.SpinOnce(-1);
            if (job.Error is { } error) ExceptionDispatchInfo.Capture(error).Throw();
        }
        finally
        {
            // The finished job's closure (and the arrays it holds) is not kept until the next job.
            Volatile.Write(ref _job, null);
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Whether a kernel that spends nanoseconds per element goes over the cores with
    /// <paramref name="total"/> elements, fewer than its usual chunks would spread: from
    /// <see cref="Tuning.SplitCostlyFrom"/> elements on, while the workers spin. A sleeping worker wakes later than
    /// such a job takes (GELU fwd+bwd over 4,096 elements 25 ms after the last call: 72–75 µs on one core, 97–101 µs
    /// when that call wakes them), so then the answer is no; <see cref="WakeAfterDeclined"/> such calls within one spin
    /// period wake them for the calls that follow.</summary>
    public static bool SplitsCostly(long total)
    {
        if (Cores < 2 || total < Tuning.SplitCostlyFrom) return false;
        if (Spinning()) return true;
        // A burst of such calls (WakeAfterDeclined within one spin period) wakes the workers for the calls that
        // follow; calls further apart never pay for a wake.
        long now = Stopwatch.GetTimestamp();
        if (now - Volatile.Read(ref _declinedSince) > SpinTicks())
        {
            Volatile.Write(ref _declinedSince, now);
            Volatile.Write(ref _declined, 0);
        }
        if (Interlocked.Increment(ref _declined) >= WakeAfterDeclined)
        {
            Volatile.Write(ref _declined, 0);
            WakeWorkers();
        }
        return false;
    }

    /// <summary>Units of <paramref name="unit"/> elements per task for a kernel that spends nanoseconds per element:
    /// about 16,384 elements, and at least one task per core where <see cref="SplitsCostly"/> says so (each of half
    /// <see cref="Tuning.SplitCostlyFrom"/> at least; elementwise ones a multiple of 64 elements). A chunk of
    /// 16,384 such elements kept one core busy for 20–60 µs where a fork to spinning workers costs about a
    /// microsecond.</summary>
    public static int PerTask(int count, int unit)
    {
        int per = Math.Max(1, 16384 / Math.Max(1, unit));
        long total = (long)count * unit;
        int cores = Cores;
        if (Pieces(count, per) >= cores || count < 2 || !SplitsCostly(total)) return per;
        int parts = (int)Math.Min(Math.Min(cores, count), total / Math.Max(1, Tuning.SplitCostlyFrom / 2));
        if (parts <= 1) return per;
        int split = Pieces(count, parts);
        // Elementwise tasks start on a cache line (64 elements: eight lines), so no two tasks write one line.
        return unit == 1 ? Pieces(split, 64) * 64 : split;
    }

    /// <summary>One spin period (<see cref="Tuning.SpinMs"/>) in Stopwatch ticks.</summary>
    private static long SpinTicks() => (long)(Tuning.SpinMs * Stopwatch.Frequency / 1000.0);

    /// <summary>Whether every worker is up (started, and spinning or working).</summary>
    internal static bool Spinning() => Volatile.Read(ref _awake) == Environment.ProcessorCount - 1;

    /// <summary>Starts the workers, or wakes the sleeping ones to spin again, without a job.</summary>
    private static void WakeWorkers()
    {
        if (Environment.ProcessorCount < 2 || Tuning.SpinMs <= 0) return;
        Start();
        int sleeping = Interlocked.Exchange(ref _sleepers, 0);
        if (sleeping > 0) Wake.Release(sleeping);
    }

    /// <summary><see cref="For(int, Action{int})"/> over a long count (at most int.MaxValue tasks).</summary>
    public static void For(long count, Action<long> body) => For(checked((int)count), i => body(i));

    private static void Start()
    {
        if (Volatile.Read(ref _started) != 0 || Interlocked.Exchange(ref _started, 1) != 0) return;
        for (int w = 0; w < Environment.ProcessorCount - 1; w++)
        {
            int participant = w + 1;
            // UnsafeStart: a worker lives as long as the process and must not keep the starter's async-local state (a trace,
            // a scope) alive; each job runs under its poster's own context.
            new Thread(() => Worker(participant)) { IsBackground = true, Name = "Functional kernels " + w }.UnsafeStart();
        }
    }

    /// <summary>This worker's participant number (see Job), for the context callback without a closure.</summary>
    [ThreadStatic] private static int _participant;

    private static void Worker(int participant)
    {
        _participant = participant;
        static long SpinDeadline() => Stopwatch.GetTimestamp() + SpinTicks();
        long seen = 0;
        Interlocked.Increment(ref _awake);
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
                    Interlocked.Decrement(ref _awake);
                    Interlocked.Increment(ref _sleepers);
                    if (Volatile.Read(ref _generation) == seen) Wake.Wait();
                    Interlocked.Increment(ref _awake);
                    spinUntil = SpinDeadline();
                }
                else spin.SpinOnce(-1);
            }
            seen = Volatile.Read(ref _generation);
            if (Volatile.Read(ref _job) is { } job)
            {
                if (job.Context is { } context) ExecutionContext.Run(context, static j => ((Job)j!).Work(_participant), job);
                else job.Work(participant);
            }
        }
    }
}
