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

/// One trial: random operands and output gradient from `seed`. `fdElements` bounds the finite-difference
/// elements per operand (each costs a whole contraction); `deadline` is checked between them.
let trial (equation: string) (shapes: int[][]) (seed: int) (fdElements: int) (deadline: DateTime) (t: int) =
    let xs = shapes |> Array.mapi (fun k s -> Tensor.random (seed + 1000 * t + k) s)
    let b = Einsum.bind equation shapes
    let g = Tensor.random (seed + 1000 * t + 999) b.OutputShape
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

/// `functional check "<equation>"`: derived gradients (and reverse mode through Linear.einsum) against
/// TorchSharp autograd and finite differences.
let run (equation: string) (shapes: string option) (trials: int) (seed: int) (timeout: int option) =
    if trials < 1 then raise (ArgumentException(sprintf "--trials must be at least 1, not %d" trials))
    match timeout with
    | Some s when s < 1 -> raise (ArgumentException(sprintf "--timeout must be at least 1 second, not %d" s))
    | _ -> ()
    let sh = match shapes with Some s -> Shapes.parse s | None -> Shapes.defaults equation
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
                for t in 0 .. trials - 1 do results.Add(trial equation sh seed fdElements deadline t)
            else
                AnsiConsole.Progress().Start(fun ctx ->
                    let task = ctx.AddTask(sprintf "checking %s" (Markup.Escape equation), true, float trials)
                    for t in 0 .. trials - 1 do
                        if DateTime.UtcNow > deadline then raise CheckTimedOut
                        results.Add(trial equation sh seed fdElements deadline t)
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

/// `functional check --activations`: GELU (both forms) and Leaky ReLU (each convention) against TorchSharp.
let activations () =
    let grid = [| -30.0; -20.0; -10.0; -5.0; -2.0; -1.0; -0.5; 0.0; 0.5; 1.0; 2.0; 5.0; 10.0 |]
    let torchValueGrad (f: torch.Tensor -> torch.Tensor) (x: float) =
        let r = Torch.valueAndGrad (fun xs -> f xs.[0]) [| Tensor.scalar x |] None
        Tensor.item r.Output, Tensor.item r.Gradients.[0]
    let oursValueGrad (f: Value -> Value) (x: float) =
        let v, g = Autodiff.valueAndGrad (fun v -> Reduction.sum (f v)) (Value.scalar x)
        Tensor.item v.Tensor, Tensor.item g.Tensor
    let show name (ours: Value -> Value) (theirs: torch.Tensor -> torch.Tensor) =
        let table = Table().Title(Markup.Escape name).AddColumns("x", "ours", "TorchSharp", "Δ value", "ours d/dx", "TorchSharp d/dx", "Δ d/dx")
        for x in grid do
            let ov, og = oursValueGrad ours x
            let tv, tg = torchValueGrad theirs x
            table.AddRow(sprintf "%g" x, sprintf "%.12g" ov, sprintf "%.12g" tv, sci (abs (ov - tv)), sprintf "%.12g" og, sprintf "%.12g" tg, sci (abs (og - tg))) |> ignore
        AnsiConsole.Write(table)
    show "GELU exact: ours is x·Φ(x) from x itself; TorchSharp's 1 + erf loses the negative tail" Activation.gelu (fun t -> torch.nn.functional.gelu(t))
    show "GELU tanh approximation" Activation.geluTanh (fun t -> torch.nn.functional.gelu(t, TorchSharp.Modules.GELU.Approximate.tanh))
    let alpha = 0.01
    let kink = Table().Title("Leaky ReLU (α = 0.01): derivative at exactly 0").AddColumns("convention", "ours", "TorchSharp", "JAX", "DiffSharp")
    let _, torchAt0 = torchValueGrad (fun t -> torch.nn.functional.leaky_relu(t, alpha)) 0.0
    for conv, label in [ KinkConvention.RightDerivative, "right derivative (default: the original derivation notes')"; KinkConvention.LeftDerivative, "left derivative"; KinkConvention.Midpoint, "midpoint" ] do
        let _, g = oursValueGrad (Activation.leakyReluWith alpha conv) 0.0
        kink.AddRow(label, sprintf "%g" g, sprintf "%g" torchAt0, "1", sprintf "%g" ((1.0 + alpha) / 2.0)) |> ignore
    AnsiConsole.Write(kink)
    show "Leaky ReLU α = 0.01 away from 0" (Activation.leakyRelu alpha) (fun t -> torch.nn.functional.leaky_relu(t, alpha))
    0
