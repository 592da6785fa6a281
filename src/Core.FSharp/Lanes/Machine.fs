namespace Functional.Core

open System
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open Functional.Kernels

type MachineReport =
    { Processor: string
      Vendor: string
      Family: int
      Model: int
      LogicalCores: int
      InstructionSets: string
      Lanes: int
      Vector512Accelerated: bool
      L1dBytes: int
      L2Bytes: int
      L3Bytes: int64
      GemmTile: string
      GemmBlocks: string
      NonTemporalBytes: int64
      PrecompiledCode: bool option
      RuntimeSettings: (string * string) list }

type MachineFigures =
    { MeasuredOn: string
      PeakOneCore: float
      PeakAllCores: float
      GemmSize: int
      GemmGflops: float
      GemmShareOfPeak: float }

[<RequireQualifiedAccess>]
module Machine =

    /// A runtime setting as found in the runtimeconfig and in the environment (DOTNET_ or the older COMPlus_
    /// prefix): both where both are set (which one wins is the runtime's rule), "default" where neither is.
    let private setting (property: string option) (variable: string) =
        let fromConfig =
            match property |> Option.map AppContext.GetData with
            | None | Some null -> None
            | Some v -> Some(sprintf "%O (runtimeconfig)" v)
        let fromEnvironment =
            [ "DOTNET_" + variable; "COMPlus_" + variable ]
            |> List.tryPick (fun name ->
                match Environment.GetEnvironmentVariable name with
                | null -> None
                | v -> Some(sprintf "%s (%s)" v name))
        let value =
            match fromConfig, fromEnvironment with
            | Some c, Some e -> c + "; " + e
            | Some c, None -> c
            | None, Some e -> e
            | None, None -> "default"
        defaultArg property ("DOTNET_" + variable), value

    /// Whether the assembly's file carries ReadyToRun code: its CLI header points at a native manifest.
    let private precompiled () =
        try
            let path = typeof<MachineReport>.Assembly.Location
            if String.IsNullOrEmpty path then None
            else
                use stream = IO.File.OpenRead path
                use reader = new Reflection.PortableExecutable.PEReader(stream)
                let header = reader.PEHeaders.CorHeader
                Some(not (isNull header) && header.ManagedNativeHeaderDirectory.Size > 0)
        with :? IO.IOException | :? UnauthorizedAccessException | :? BadImageFormatException -> None

    let private instructionSets () =
        [ Avx512F.IsSupported, "AVX-512F"; Avx512DQ.IsSupported, "AVX-512DQ"; Avx2.IsSupported, "AVX2"; Fma.IsSupported, "FMA" ]
        |> List.filter fst
        |> List.map snd
        |> function
            | [] -> "none"
            | names -> String.Join(" ", names)

    [<CompiledName("Describe")>]
    let describe () =
        let cpu = CpuInfo.Current
        { Processor = CpuInfo.Brand
          Vendor = cpu.Vendor
          Family = cpu.Family
          Model = cpu.Model
          LogicalCores = Environment.ProcessorCount
          InstructionSets = instructionSets ()
          Lanes = (if Cpu.wide () then 8 elif Cpu.fourLanes then 4 else 1)
          Vector512Accelerated = Vector512.IsHardwareAccelerated
          L1dBytes = cpu.L1dBytes
          L2Bytes = cpu.L2Bytes
          L3Bytes = cpu.L3Bytes
          GemmTile = (if PackedGemm.Supported then sprintf "%d×%d" PackedGemm.Mr PackedGemm.Nr else "none")
          GemmBlocks = string Tuning.GemmBlocks
          NonTemporalBytes = Tuning.NonTemporalBytes
          PrecompiledCode = precompiled ()
          RuntimeSettings =
            [ setting (Some "System.Runtime.TieredCompilation") "TieredCompilation"
              setting (Some "System.Runtime.TieredCompilation.CallCountingDelayMs") "TC_CallCountingDelayMs"
              setting (Some "System.Runtime.TieredPGO") "TieredPGO"
              setting (Some "System.Runtime.TieredCompilation.QuickJitForLoops") "TC_QuickJitForLoops"
              setting (Some "System.GC.Gen0Size") "GCgen0size"
              setting (Some "System.GC.Server") "gcServer"
              setting None "ReadyToRun"
              setting None "EnableAVX512" ] }

    let private bytes (n: int64) =
        if n <= 0L then "unknown"
        elif n % (1L <<< 20) = 0L then sprintf "%d MB" (n >>> 20)
        else sprintf "%d KB" (n >>> 10)

    [<CompiledName("Format")>]
    let format (report: MachineReport) =
        let lines =
            [ "Processor", (if report.Processor = "" then "unknown" else report.Processor)
              "CPUID", sprintf "%s family %d model %d" (if report.Vendor = "" then "unknown" else report.Vendor) report.Family report.Model
              "Logical cores", string report.LogicalCores
              "Instruction sets", report.InstructionSets
              "Elementwise lanes", (match report.Lanes with 1 -> "1 (scalar)" | n -> sprintf "%d doubles a step" n)
              "Vector512 accelerated", (if report.Vector512Accelerated then "yes" else "no")
              "Caches", sprintf "L1d %s, L2 %s, L3 %s" (bytes (int64 report.L1dBytes)) (bytes (int64 report.L2Bytes)) (bytes report.L3Bytes)
              "GEMM register tile", report.GemmTile
              "GEMM cache blocks", report.GemmBlocks
              "Around the caches from", bytes report.NonTemporalBytes
              "Precompiled code", (match report.PrecompiledCode with Some true -> "yes (ReadyToRun)" | Some false -> "no (IL only)" | None -> "unknown") ]
            @ report.RuntimeSettings
        let width = lines |> List.map (fst >> String.length) |> List.max
        lines |> List.map (fun (name, value) -> (name + ":").PadRight(width + 2) + value) |> String.concat Environment.NewLine

    [<CompiledName("Measure")>]
    let measure () =
        let struct (one, all, _) = Peak.Measure 20_000_000L
        let n = 1024
        let a = Tensor.random 1 [| n; n |]
        let b = Tensor.random 2 [| n; n |]
        let call () =
            use _ = Tensor.scope ()
            let watch = Diagnostics.Stopwatch.StartNew()
            Einsum.contract "ij,jk->ik" [| a; b |] |> ignore
            watch.Elapsed.TotalSeconds
        for _ in 1..3 do call () |> ignore
        let best = Seq.init 7 (fun _ -> call ()) |> Seq.min
        let gflops = 2.0 * float n * float n * float n / best / 1e9
        let beside = Peak.AllAgain()
        { MeasuredOn = sprintf "%s, family %d model %d, %d logical cores" CpuInfo.Name CpuInfo.Current.Family CpuInfo.Current.Model Environment.ProcessorCount
          PeakOneCore = one
          PeakAllCores = all
          GemmSize = n
          GemmGflops = gflops
          GemmShareOfPeak = gflops / beside }

    [<CompiledName("FormatFigures")>]
    let formatFigures (figures: MachineFigures) =
        [ "Measured on", figures.MeasuredOn
          "FMA peak", sprintf "%.1f GFLOP/s on one core, %.1f on all" figures.PeakOneCore figures.PeakAllCores
          sprintf "GEMM %d forward" figures.GemmSize,
          sprintf "%.1f GFLOP/s, %.0f %% of the all-core peak measured beside it" figures.GemmGflops (100.0 * figures.GemmShareOfPeak) ]
        |> List.map (fun (label, value) -> (label + ":").PadRight 20 + value)
        |> String.concat Environment.NewLine
