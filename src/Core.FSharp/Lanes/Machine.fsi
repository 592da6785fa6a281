namespace Functional.Core

/// <summary>
/// What this process runs on and what the library chose for it: the CPU, the vector width of the elementwise lanes,
/// the matrix product's register tile and cache blocks, the size from which results are written around the caches,
/// whether the library's precompiled code is present, and the runtime settings that decide how fast a fresh process
/// warms up. Performance figures hold on the CPU they were measured on; attach this to a performance report.
/// Choices change speed only: every path gives the documented results.
/// </summary>
type MachineReport =
    { /// The processor's brand string from CPUID (e.g. "AMD EPYC 9R14 96-Core Processor"); empty where the CPU
      /// gives none (a virtual machine may shorten it).
      Processor: string
      /// The CPUID vendor ("GenuineIntel", "AuthenticAMD"); empty off x86.
      Vendor: string
      /// The CPUID family (extended family added), 0 off x86.
      Family: int
      /// The CPUID model (extended model included), 0 off x86.
      Model: int
      /// Logical processors this process may use (`Environment.ProcessorCount`).
      LogicalCores: int
      /// The instruction sets the kernels look for and this process may use, e.g. "AVX-512F AVX-512DQ AVX2 FMA"
      /// ("none" where none is available or all are switched off, e.g. by `DOTNET_EnableAVX512=0`).
      InstructionSets: string
      /// Doubles per step of the elementwise lanes (exp, log, GELU, softmax …): 8 with AVX-512, 4 with AVX2 and
      /// FMA, 1 (scalar) otherwise.
      Lanes: int
      /// Whether .NET runs 512-bit vectors at full speed here (`Vector512.IsHardwareAccelerated`); the matrix
      /// product's wide tile needs it.
      Vector512Accelerated: bool
      /// The level-1 data cache of one core in bytes, from CPUID (0 where unknown).
      L1dBytes: int
      /// The level-2 cache of one core in bytes, from CPUID (0 where unknown).
      L2Bytes: int
      /// The level-3 cache in bytes as CPUID gives it (on AMD one core complex's share; 0 where unknown).
      L3Bytes: int64
      /// The packed matrix product's register tile, rows × columns of the result ("8×16" with 512-bit vectors,
      /// "6×8" with AVX2), or "none" where it cannot run and products take the scalar loop.
      GemmTile: string
      /// The packed matrix product's cache blocks, e.g. "KC 512, MC 256, NC 1024" (chosen per CPU; any blocks give
      /// the same bits).
      GemmBlocks: string
      /// Elementwise results of at least this many bytes are written around the caches (an eighth of the L3, at most 4 MB).
      NonTemporalBytes: int64
      /// Whether Functional.Core.dll carries ReadyToRun code (precompiled, so a fresh process starts faster);
      /// None where the assembly's file cannot be read (e.g. a single-file application).
      PrecompiledCode: bool option
      /// Runtime settings that change a fresh process's warm-up and the code that runs, each as it was found:
      /// a runtimeconfig property or a `DOTNET_` environment variable (name, then value and where it came from, or
      /// "default"). In a test project the package sets `System.Runtime.TieredCompilation.CallCountingDelayMs` and
      /// `System.Runtime.TieredPGO`, and its run settings `DOTNET_GCgen0size` (docs/PERFORMANCE.md, warm-up).
      RuntimeSettings: (string * string) list }

/// <summary>
/// Rates measured on this machine (`Machine.measure`): the float64 FMA peak, and a matrix product's rate beside it.
/// Timings move with everything else the machine runs; on a virtual machine, by ±10–20 % from one minute to the next.
/// </summary>
type MachineFigures =
    { /// The CPU the figures were measured on: its brand string (else its vendor), CPUID family and model, and the
      /// logical cores, e.g. "AMD EPYC, family 25 model 17, 2 logical cores" (a rate holds on that kind of CPU).
      MeasuredOn: string
      /// GFLOP/s of independent FMA chains held in registers on one core (the best of several loop shapes, each the
      /// best of three runs): the arithmetic peak a kernel can approach.
      PeakOneCore: float
      /// The same on every core at once.
      PeakAllCores: float
      /// n of the n×n by n×n product timed (1024).
      GemmSize: int
      /// The product's forward rate in GFLOP/s (2n³ flops), in a `TensorScope`, the best of seven calls after warm-up,
      /// on every core.
      GemmGflops: float
      /// `GemmGflops` over the all-core peak measured again right after it (so that both see the same stretch of a
      /// virtual machine's speed).
      GemmShareOfPeak: float }

/// <summary>The machine report: what this process runs on and what the library chose for it.</summary>
/// <example>
/// <code lang="fsharp">
/// let report = Machine.describe ()
/// printfn "%s" (Machine.format report)   // CPU, lanes, GEMM tile and blocks, runtime settings
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Machine =

    /// This process's machine report (read once per call; cheap: CPUID, the kernels' choices, the runtime's
    /// configuration and the assembly's PE header).
    [<CompiledName("Describe")>]
    val describe: unit -> MachineReport

    /// The report as lines of text, one fact per line ("name: value"), for logs and issue reports.
    [<CompiledName("Format")>]
    val format: report: MachineReport -> string

    /// Measures the FMA peak on one core and on all, then a 1024×1024 product's rate and its share of the peak
    /// (about 3 s; run nothing else meanwhile).
    [<CompiledName("Measure")>]
    val measure: unit -> MachineFigures

    /// The figures as lines of text: the CPU they were measured on, then one line per rate.
    [<CompiledName("FormatFigures")>]
    val formatFigures: figures: MachineFigures -> string
