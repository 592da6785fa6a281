module Functional.Cli.Check

open System
open Spectre.Console
open TorchSharp
open Functional.Core
open Functional.CrossCheck

/// Forward and gradients: |ours − TorchSharp| ≤ atol + rtol·|TorchSharp|; finite differences to rtol·scale.
let rtol = 1e-10
let atol = 1e-12

let private sci (v: float) = v.ToString("0.00e+00", Globalization.CultureInfo.InvariantCulture)

type TrialResult = { Trial: int; Forward: float; Gradient: float; FiniteDifference: float; Passed: bool }

let private maxErr (ours: Tensor) (theirs: Tensor) = Tensor.maxAbsDiff ours theirs
let private within (ours: Tensor) (theirs: Tensor) = Tensor.allClose rtol atol ours theirs

/// Raised when --timeout has passed; the trials done so far are reported.
exception CheckTimedOut

/// Trial t's seed: trial 0 takes `seed` itself, so that a case printed by the testing kit (`EinsumCase.ReplayCommand`)
/// replays with its own values.
let private trialSeed (seed: int) (t: int) = seed + 1_000_003 * t

/// Trial t's operands and output gradient: operand k from Tensor.random (s + 7919·k), the output gradient from
/// s + 1, s the trial's seed (the testing kit's EinsumCase and EinsumCheck draw theirs the same way).
let trialInputs (equation: string) (shapes: int[][]) (seed: int) (t: int) =
    let s = trialSeed seed t
    let xs = shapes |> Array.mapi (fun k shape -> Tensor.random (s + 7919 * k) shape)
    xs, Tensor.random (s + 1) (Einsum.bind equation shapes).OutputShape

/// One trial: random operands and output gradient from `seed`. `fdElements` bounds the finite-difference
/// elements per operand (each costs a whole contraction); `deadline` is checked between them.
let trial (equation: string) (shapes: int[][]) (seed: int) (fdElements: int) (deadline: DateTime) (t: int) =
    let xs, g = trialInputs equation shapes seed t
    let y = Einsum.contract equation xs
    let grads = Einsum.gradients equation xs g
    // The gradients a program gets: reverse mode through Linear.einsum (stepwise along the plan for three
    // or more operands, reusing the forward's intermediates), checked as well as the derived contractions.
    let _, pullback = Autodiff.vjpMany (fun vs -> Linear.einsum equation vs) (xs |> Array.map Value.constant)
    let autodiff = pullback (Value.constant g) |> Array.map Value.tensor
    let torch = Torch.einsum equation xs g
    let fwd = maxErr y torch.Output
    let grad = Array.append (Array.map2 maxErr grads torch.Gradients) (Array.map2 maxErr autodiff torch.Gradients) |> Array.fold max 0.0
    let okTorch = within y torch.Output && Array.forall2 within grads torch.Gradients && Array.forall2 within autodiff torch.Gradients
    // Einsum is linear in each operand: a step of 1 gives the exact derivative (up to rounding).
    let loss (ys: Tensor[]) = Tensor.dot (Einsum.contract equation ys) g
    let l0 = loss xs
    let mutable fdErr = 0.0
    let mutable okFd = true
    for k in 0 .. xs.Length - 1 do
        let data = xs.[k].ToArray()
        let n = min data.Length fdElements
        for e in 0 .. n - 1 do
            if DateTime.UtcNow > deadline then raise CheckTimedOut
            let bumped = Array.copy data
            bumped.[e] <- bumped.[e] + 1.0
            let fd = loss (Array.updateAt k (Tensor.create xs.[k].Shape bumped) xs) - l0
            let an = grads.[k].ToArray().[e]
            let err = abs (fd - an)
            fdErr <- max fdErr err
            if err > rtol * max 1.0 (max (abs an) (abs l0)) then okFd <- false
    { Trial = t; Forward = fwd; Gradient = grad; FiniteDifference = fdErr; Passed = okTorch && okFd }

/// work () on a worker thread, waited for until `deadline` at most: CheckTimedOut if it is still running then (it is
/// abandoned; the process ends after the report). Without a deadline, on this thread.
let untilDeadline (deadline: DateTime) (work: unit -> 'a) : 'a =
    if deadline = DateTime.MaxValue then work ()
    else
        let task = Threading.Tasks.Task.Run<'a>(Func<'a>(work))
        // In waits of at most ten minutes: a wait takes at most 2³¹ − 1 ms, and --timeout may be longer. (The wait
        // handle, not Task.Wait, which throws for a failed task: its own exception is rethrown below.)
        let finished = (task :> IAsyncResult).AsyncWaitHandle
        while not task.IsCompleted && DateTime.UtcNow < deadline do
            let left = deadline - DateTime.UtcNow
            finished.WaitOne(if left > TimeSpan.FromMinutes 10.0 then TimeSpan.FromMinutes 10.0 elif left > TimeSpan.Zero then left else TimeSpan.Zero) |> ignore
        if not task.IsCompleted then raise CheckTimedOut
        task.GetAwaiter().GetResult()

/// `functional check "<equation>"`: derived gradients (and reverse mode through Linear.einsum) against
/// TorchSharp autograd and finite differences.
let run (equation: string) (shapes: string option) (trials: int) (seed: int) (timeout: int option) =
    if trials < 1 then raise (ArgumentException(sprintf "--trials must be at least 1, not %d" trials))
    match timeout with
    | Some s when s < 1 -> raise (ArgumentException(sprintf "--timeout must be at least 1 second, not %d" s))
    | _ -> ()
    let sh = match shapes with Some s -> Shapes.forEquation equation s | None -> Shapes.defaults equation
    Einsum.bind equation sh |> ignore // validate before any work
    // Each finite-difference element costs one contraction: at most 64 per operand, fewer for large ones, so that a
    // trial's differences stay near 2·10⁹ flops.
    let flops = max 1.0 (Einsum.plan equation sh).Flops
    let fdElements = max 1 (min 64 (int (2e9 / flops / float sh.Length)))
    let deadline = match timeout with Some s -> DateTime.UtcNow.AddSeconds(float s) | None -> DateTime.MaxValue
    let results = Collections.Generic.List<TrialResult>()
    let timedOut =
        try
            if trials <= 10 && flops * float (fdElements * sh.Length + 4) < 1e9 then
                for t in 0 .. trials - 1 do results.Add(untilDeadline deadline (fun () -> trial equation sh seed fdElements deadline t))
            else
                AnsiConsole.Progress().Start(fun ctx ->
                    let task = ctx.AddTask(sprintf "checking %s" (Markup.Escape equation), true, float trials)
                    for t in 0 .. trials - 1 do
                        if DateTime.UtcNow > deadline then raise CheckTimedOut
                        results.Add(untilDeadline deadline (fun () -> trial equation sh seed fdElements deadline t))
                        task.Increment 1.0)
            false
        with CheckTimedOut -> true
    let results = results.ToArray()
    if results.Length = 0 then
        AnsiConsole.MarkupLine(sprintf "[red]stopped[/] at --timeout %d s before the first trial finished" timeout.Value)
        1
    else
        let table = Table().AddColumns("trial", "max |Δ| forward", "max |Δ| gradients", "max |Δ| finite diff.", "verdict")
        for r in results |> Array.truncate 20 do
            table.AddRow(string r.Trial, sci r.Forward, sci r.Gradient, sci r.FiniteDifference, (if r.Passed then "[green]ok[/]" else "[red]MISMATCH[/]")) |> ignore
        if results.Length > 20 then table.AddRow("…", sci (results |> Array.map (fun r -> r.Forward) |> Array.max), sci (results |> Array.map (fun r -> r.Gradient) |> Array.max), sci (results |> Array.map (fun r -> r.FiniteDifference) |> Array.max), "max over all") |> ignore
        AnsiConsole.WriteLine(sprintf "%s with shapes %s, %s, seed %d; against TorchSharp %s autograd and finite differences (%s per operand)" equation (Shapes.format sh) (Shape.count (int64 results.Length) "trial" "trials") seed (torch.__version__) (Shape.count (int64 fdElements) "element" "elements"))
        AnsiConsole.Write(table)
        let failed = results |> Array.filter (fun r -> not r.Passed) |> Array.length
        if timedOut then
            AnsiConsole.MarkupLine(sprintf "[yellow]stopped[/] at --timeout %d s: %d of %d trials checked, %d mismatched" timeout.Value results.Length trials failed)
            1
        elif failed = 0 then
            AnsiConsole.MarkupLine(sprintf "[green]verified[/]: every gradient matches (|Δ| ≤ %g + %g·|ref|)" atol rtol)
            0
        else
            AnsiConsole.MarkupLine(sprintf "[red]mismatch[/] in %d of %d trials" failed results.Length)
            1

/// `functional check --activations`: GELU (both forms) and Leaky ReLU (each convention) against TorchSharp and
/// finite differences. Values and derivatives agree with TorchSharp's to 1e-12·max(1, |TorchSharp's|) (its exact
/// GELU's tail error, −0 at −10 where ours is −7.6e-23, is far below that), and our derivative with a central
/// difference of our value to 1e-6·max(1, |ours|); exit code 1 when any does not.
let activations () =
    let grid = [| -30.0; -20.0; -10.0; -5.0; -2.0; -1.0; -0.5; 0.0; 0.5; 1.0; 2.0; 5.0; 10.0 |]
    let mutable failures = 0
    let agree (tolerance: float) (ours: float) (reference: float) = abs (ours - reference) <= tolerance * max 1.0 (abs reference)
    let torchValueGrad (f: torch.Tensor -> torch.Tensor) (x: float) =
        let r = Torch.valueAndGrad (fun xs -> f xs.[0]) [| Tensor.scalar x |] None
        Tensor.item r.Output, Tensor.item r.Gradients.[0]
    let oursValueGrad (f: Value -> Value) (x: float) =
        let v, g = Autodiff.valueAndGrad (fun v -> Reduction.sum (f v)) (Value.scalar x)
        Tensor.item v.Tensor, Tensor.item g.Tensor
    let show name (grid: float[]) (ours: Value -> Value) (theirs: torch.Tensor -> torch.Tensor) =
        let table = Table().Title(Markup.Escape name).AddColumns("x", "ours", "TorchSharp", "Δ value", "ours d/dx", "TorchSharp d/dx", "Δ d/dx", "Δ finite diff.", "verdict")
        for x in grid do
            let ov, og = oursValueGrad ours x
            let tv, tg = torchValueGrad theirs x
            let h = 1e-6 * max 1.0 (abs x)
            let fd = (fst (oursValueGrad ours (x + h)) - fst (oursValueGrad ours (x - h))) / (2.0 * h)
            let ok = agree 1e-12 ov tv && agree 1e-12 og tg && agree 1e-6 fd og
            if not ok then failures <- failures + 1
            table.AddRow(sprintf "%g" x, sprintf "%.12g" ov, sprintf "%.12g" tv, sci (abs (ov - tv)), sprintf "%.12g" og, sprintf "%.12g" tg, sci (abs (og - tg)),
                         sci (abs (fd - og)), (if ok then "[green]ok[/]" else "[red]MISMATCH[/]")) |> ignore
        AnsiConsole.Write(table)
    show "GELU exact: ours is x·Φ(x) from x itself; TorchSharp's 1 + erf loses the negative tail" grid Activation.gelu (fun t -> torch.nn.functional.gelu(t))
    show "GELU tanh approximation" grid Activation.geluTanh (fun t -> torch.nn.functional.gelu(t, TorchSharp.Modules.GELU.Approximate.tanh))
    let alpha = 0.01
    let kink = Table().Title("Leaky ReLU (α = 0.01): derivative at exactly 0").AddColumns("convention", "ours", "TorchSharp", "JAX", "DiffSharp")
    let _, torchAt0 = torchValueGrad (fun t -> torch.nn.functional.leaky_relu(t, alpha)) 0.0
    for conv, label in [ KinkConvention.RightDerivative, "right derivative (default: the original derivation notes')"; KinkConvention.LeftDerivative, "left derivative"; KinkConvention.Midpoint, "midpoint" ] do
        let _, g = oursValueGrad (Activation.leakyReluWith alpha conv) 0.0
        kink.AddRow(label, sprintf "%g" g, sprintf "%g" torchAt0, "1", sprintf "%g" ((1.0 + alpha) / 2.0)) |> ignore
    AnsiConsole.Write(kink)
    // At 0 the conventions differ by design (the table above); the finite difference there straddles the kink.
    show "Leaky ReLU α = 0.01 away from 0" (grid |> Array.filter (fun x -> x <> 0.0)) (Activation.leakyRelu alpha) (fun t -> torch.nn.functional.leaky_relu(t, alpha))
    if failures = 0 then
        AnsiConsole.MarkupLine("[green]verified[/]: values and derivatives agree with TorchSharp's (|Δ| ≤ 1e-12·max(1, |ref|)) and with finite differences (1e-6)")
        0
    else
        AnsiConsole.MarkupLine(sprintf "[red]mismatch[/] at %d points" failures)
        1
