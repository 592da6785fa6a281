module Functional.Cli.Program

open System
open System.CommandLine
open Functional

let private equationArg (required: bool) =
    let a = Argument<string>("equation")
    a.Description <- "An einsum equation, e.g. \"bij,bjk->bik\" (quote it)"
    if not required then a.Arity <- ArgumentArity.ZeroOrOne
    a

let private build () =
    let root = RootCommand("functional: derive and verify gradients of einsum contractions and activations")

    let derive = Command("derive", "Derive each operand's gradient by the index-set rule: index sets, formula, gradient contraction")
    let eq = equationArg true
    let latex = Option<bool>("--latex", Description = "Print the gradient formulas as LaTeX")
    let order = Option<int>("--order", Description = "1: gradients; 2: also the second-order blocks as contractions", DefaultValueFactory = (fun _ -> 1))
    let plan = Option<bool>("--plan", Description = "Print the contraction plan with flop counts (needs --shapes)")
    let shapes = Option<string>("--shapes", Description = "Operand shapes for --plan, e.g. 2x3,3x4 (a scalar operand: scalar)")
    derive.Arguments.Add eq
    for o in [ latex :> Option; order; plan; shapes ] do derive.Options.Add o
    derive.SetAction(fun (r: ParseResult) ->
        Derive.run (r.GetValue eq) (r.GetValue latex) (r.GetValue order) (r.GetValue plan) (Option.ofObj (r.GetValue shapes)))

    let check = Command("check", "Verify derived gradients against TorchSharp autograd and finite differences")
    let ceq = equationArg false
    let cshapes = Option<string>("--shapes", Description = "Operand shapes, e.g. 2x3,3x4 (default: a distinct size per label, 2, 3, 4, …, while the operands stay small)")
    let trials = Option<int>("--trials", Description = "Random trials", DefaultValueFactory = (fun _ -> 5))
    let seed = Option<int>("--seed", Description = "Seed of the first trial", DefaultValueFactory = (fun _ -> 1))
    let acts = Option<bool>("--activations", Description = "Check GELU (both forms) and Leaky ReLU (each convention) instead: ours against finite differences and TorchSharp")
    let timeout = Option<Nullable<int>>("--timeout", Description = "Stop after about this many seconds (a trial still running then is abandoned), report the trials done and exit with 1")
    check.Arguments.Add ceq
    for o in [ cshapes :> Option; trials; seed; acts; timeout ] do check.Options.Add o
    check.SetAction(fun (r: ParseResult) ->
        let equation = r.GetValue ceq
        if r.GetValue acts then
            // --activations checks fixed points: an equation or einsum options would be silently unused.
            if not (String.IsNullOrEmpty equation) then raise (ArgumentException("check takes an equation or --activations, not both"))
            for o in [ cshapes :> Option; trials; seed; timeout ] do
                let given = r.GetResult o
                if not (isNull given) && not given.Implicit then raise (ArgumentException(sprintf "%s applies to an equation's check, not to --activations" o.Name))
            Check.activations ()
        else
            match equation with
            | null | "" -> raise (ArgumentException("check needs an equation, or --activations"))
            | e -> Check.run e (Option.ofObj (r.GetValue cshapes)) (r.GetValue trials) (r.GetValue seed) (Option.ofNullable (r.GetValue timeout)))

    let trace = Command("trace", "Print the forward program of an expression and the gradient program derived from it")
    let expression = Argument<string>("expression")
    expression.Description <- "E.g. \"sum(gelu(einsum('ij,jk->ik', A, B)))\"; functions: " + String.Join(", ", Trace.functions |> List.map snd)
    let vars = Option<string>("--shapes", Description = "Each variable's shape, e.g. A=2x3,B=3x4", Required = true)
    trace.Arguments.Add expression
    trace.Options.Add vars
    trace.SetAction(fun (r: ParseResult) -> Trace.run (r.GetValue expression) (r.GetValue vars))

    let machine = Command("machine", "Print what this machine runs and what the library chose for it: CPU, vector lanes, GEMM tile and blocks, precompiled code, runtime settings (attach it to a performance report)")
    let measure = Option<bool>("--measure", Description = "Also measure the FMA peak and a 1024×1024 product's share of it (about 3 s)")
    machine.Options.Add measure
    machine.SetAction(fun (r: ParseResult) ->
        printfn "%s" (Functional.Core.Machine.format (Functional.Core.Machine.describe ()))
        if r.GetValue measure then printfn "%s" (Functional.Core.Machine.formatFigures (Functional.Core.Machine.measure ())))

    root.Subcommands.Add derive
    root.Subcommands.Add check
    root.Subcommands.Add trace
    root.Subcommands.Add machine
    root

/// An exception's message on one line: .NET's " (Parameter 'x')" and "Actual value was" parts dropped (the parameter
/// is the library's, not an option of this command), line breaks as spaces.
let private oneLine (e: exn) =
    let text =
        match e with
        | :? ArgumentException as a when not (isNull a.ParamName) -> e.Message.Replace(sprintf " (Parameter '%s')" a.ParamName, "")
        | _ -> e.Message
    text.Split([| '\r'; '\n' |], StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
    |> Array.filter (fun line -> not (line.StartsWith("Actual value was", StringComparison.Ordinal)))
    |> String.concat " "

/// Whether an exception says TorchSharp's native libraries are absent (the installed tool does not carry them).
let private missingTorch (e: exn) =
    let rec chain (e: exn) = seq { if not (isNull e) then yield e; yield! chain e.InnerException }
    chain e |> Seq.exists (fun x ->
        x :? DllNotFoundException || ((x :? NotSupportedException || x :? TypeInitializationException) && (x.Message.Contains "libtorch" || x.Message.Contains "TorchSharp")))

/// Parses and runs one command line: the exit code.
let private run (argv: string[]) =
    // Render to the current Console.Out (callers may redirect it); wide tables stay whole in files and pipes.
    Spectre.Console.AnsiConsole.Console <- Spectre.Console.AnsiConsole.Create(Spectre.Console.AnsiConsoleSettings(Out = Spectre.Console.AnsiConsoleOutput(Console.Out)))
    if Console.IsOutputRedirected then Spectre.Console.AnsiConsole.Profile.Width <- 160
    let root = build ()
    let parsed = root.Parse(argv)
    // An option given twice would silently take its last value.
    let repeated =
        parsed.CommandResult.Children |> Seq.tryPick (function
            | :? Parsing.OptionResult as o when o.IdentifierTokenCount > 1 -> Some o.Option.Name
            | _ -> None)
    if parsed.Errors.Count > 0 then
        eprintfn "error: %s (see --help)" parsed.Errors.[0].Message
        2
    elif repeated.IsSome then
        eprintfn "error: %s is given more than once; give it once (see --help)" repeated.Value
        2
    else
        // Exceptions are ours to report (one line, exit code 2), not the parser's stack trace.
        try parsed.Invoke(InvocationConfiguration(EnableDefaultExceptionHandler = false))
        with
        | :? ArgumentException as e ->
            // Bad input (an invalid equation, shapes that do not fit): one line, exit code 2.
            eprintfn "error: %s" (oneLine e)
            2
        | e when missingTorch e ->
            eprintfn "error: check needs TorchSharp's native libraries (0.5 GB), which could not be loaded here: the installed tool does not carry them, and a clone has them only where TorchSharp-cpu ships them (run from a clone: dotnet run --project src/Cli -- check ...)"
            2
        | :? OutOfMemoryException ->
            eprintfn "error: out of memory: this command needs more memory than this process can have (give smaller --shapes, or a shorter equation)"
            2
        | :? InsufficientExecutionStackException ->
            eprintfn "error: the expression is nested too deeply"
            2
        | :? IO.IOException as e ->
            // The output could not be written (a full disk, a closed pipe): the environment's, not ours to report.
            eprintfn "error: could not write the output: %s" (oneLine e)
            2
        | e ->
            // Anything else is a defect of ours: one line naming it, and a distinct exit code.
            eprintfn "internal error (%s): %s; please report it with the command line" (e.GetType().Name) (oneLine e)
            3

[<EntryPoint>]
let main argv =
    // The derivations print ∂, ∇, Σ and ×: a Windows console's default code page would show them as '?'. The
    // console's own setting is put back on exit (it belongs to the window, not to this process).
    let consoleEncoding = if OperatingSystem.IsWindows() then Some Console.OutputEncoding else None
    if consoleEncoding.IsSome then Console.OutputEncoding <- Text.UTF8Encoding(false)
    try run argv
    finally consoleEncoding |> Option.iter (fun e -> Console.OutputEncoding <- e)
