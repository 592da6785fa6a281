using System;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using Core = Functional.Core;

namespace Functional;

/// <summary>What an optimizer carries between steps (moment buffers and the step count). Immutable: each step returns
/// a new one.</summary>
public sealed class OptimizerState
{
    /// <summary>The core's state, which records the optimizer family whose steps made it (SGD, or Adam for Adam and
    /// AdamW, whose moments are the same), so that a step refuses another family's.</summary>
    internal Core.OptimizerState Value { get; }

    internal OptimizerState(Core.OptimizerState value) => Value = value;

    /// <summary>How many steps have been taken.</summary>
    public int Steps => Value.Steps;
}

/// <summary>One optimizer step's result: the new parameters and the state for the next step.</summary>
/// <param name="Parameters">The updated parameters, in the order given.</param>
/// <param name="State">The state to pass to the next step.</param>
public sealed record OptimizerStep(Tensor[] Parameters, OptimizerState State)
{
    /// <summary>The parameters and the step count, printed.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => $"OptimizerStep {{ Parameters = [{string.Join(", ", (Parameters ?? []).Select(p => p?.ToString() ?? "null"))}], Steps = {State?.Steps.ToString() ?? "null"} }}";
}

/// <summary>An optimizer as a pure function: <see cref="Step"/> returns new parameters and a new state; nothing is
/// mutated, so a step can be repeated, compared or undone.</summary>
public interface IOptimizer
{
    /// <summary>The state before the first step.</summary>
    /// <param name="parameters">The parameters to be optimised.</param>
    /// <returns>Zero moment buffers shaped as the parameters.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> or one of its elements is null.</exception>
    OptimizerState Init(params Tensor[] parameters);

    /// <summary>One update.</summary>
    /// <param name="parameters">The current parameters. Each entry is its own parameter with its own moments, even when
    /// two entries are the same tensor (tensors are values: two parameters may start from one <c>Zeros</c>); torch.optim,
    /// whose parameters are mutable objects, would step a repeated one twice.</param>
    /// <param name="gradients">Their gradients, in the same order and shapes.</param>
    /// <param name="state">The state from <see cref="Init"/> or the previous step.</param>
    /// <returns>The new parameters and state.</returns>
    /// <exception cref="ArgumentNullException">An argument or one of its elements is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="gradients"/> does not have one gradient per parameter, or
    /// <paramref name="state"/> was made for another number of parameters or by another kind of optimizer (SGD's
    /// velocity is not Adam's moments; Adam and AdamW may continue each other's). (Hyperparameters are checked by the
    /// optimizer's constructor.)</exception>
    /// <exception cref="ShapeException">A gradient's shape differs from its parameter's, or a moment in
    /// <paramref name="state"/> does (a state made for other parameters).</exception>
    OptimizerStep Step(Tensor[] parameters, Tensor[] gradients, OptimizerState state);
}

/// <summary>Stochastic gradient descent, torch.optim.SGD's update: g ← g + λp; with momentum μ, b ← μb + g and
/// g ← b (or g + μb, Nesterov); p ← p − ηg.</summary>
public sealed class Sgd : IOptimizer
{
    private readonly double lr, momentum, weightDecay;
    private readonly bool nesterov;

    /// <summary>Plain SGD, p ← p − ηg.</summary>
    /// <param name="learningRate">η ≥ 0 (0 at the start of a warm-up schedule: the moments and the step count still advance).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> is negative, NaN or infinite.</exception>
    public Sgd(double learningRate) : this(learningRate, 0, false, 0) { }

    /// <summary>SGD with momentum, optionally Nesterov's, and L2 weight decay.</summary>
    /// <param name="learningRate">η ≥ 0 (0 at the start of a warm-up schedule: the moments and the step count still advance).</param>
    /// <param name="momentum">μ ≥ 0.</param>
    /// <param name="nesterov">Nesterov's momentum (needs μ &gt; 0).</param>
    /// <param name="weightDecay">λ ≥ 0, added to the gradient as λp.</param>
    /// <exception cref="ArgumentOutOfRangeException">A coefficient is out of its range (or NaN or infinite).</exception>
    /// <exception cref="ArgumentException"><paramref name="nesterov"/> is true and <paramref name="momentum"/> is 0.</exception>
    public Sgd(double learningRate, double momentum, bool nesterov, double weightDecay)
    {
        (lr, this.momentum, this.nesterov, this.weightDecay) =
            (Hyperparameter.NonNegative(learningRate), Hyperparameter.NonNegative(momentum), nesterov, Hyperparameter.NonNegative(weightDecay));
        if (nesterov && momentum == 0) throw new ArgumentException("Nesterov's momentum needs a momentum > 0.", nameof(nesterov));
    }

    /// <inheritdoc/>
    public OptimizerState Init(params Tensor[] parameters) => Optimizer.Init(parameters);

    /// <inheritdoc/>
    public OptimizerStep Step(Tensor[] parameters, Tensor[] gradients, OptimizerState state) =>
        Optimizer.Run((p, g, s) => Core.Optimizers.sgd(lr, momentum, nesterov, weightDecay, p, g, s), parameters, gradients, state);
}

/// <summary>Adam, torch.optim.Adam's update: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − η·m̂/(√v̂ + ε), with
/// bias corrections m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ); weight decay λ is added to the gradient (L2).</summary>
public sealed class Adam : IOptimizer
{
    private readonly double lr, beta1, beta2, epsilon, weightDecay;

    /// <summary>Adam with β₁ = 0.9, β₂ = 0.999, ε = 1e-8 and no weight decay.</summary>
    /// <param name="learningRate">η ≥ 0 (0 at the start of a warm-up schedule: the moments and the step count still advance).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> is negative, NaN or infinite.</exception>
    public Adam(double learningRate) : this(learningRate, 0.9, 0.999, 1e-8, 0) { }

    /// <summary>Adam with every coefficient given.</summary>
    /// <param name="learningRate">η ≥ 0 (0 at the start of a warm-up schedule: the moments and the step count still advance).</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε ≥ 0.</param>
    /// <param name="weightDecay">λ ≥ 0 (L2, added to the gradient).</param>
    /// <exception cref="ArgumentOutOfRangeException">A coefficient is out of its range (or NaN or infinite).</exception>
    public Adam(double learningRate, double beta1, double beta2, double epsilon, double weightDecay) =>
        (lr, this.beta1, this.beta2, this.epsilon, this.weightDecay) = (Hyperparameter.NonNegative(learningRate), Hyperparameter.Unit(beta1),
            Hyperparameter.Unit(beta2), Hyperparameter.NonNegative(epsilon), Hyperparameter.NonNegative(weightDecay));

    /// <inheritdoc/>
    public OptimizerState Init(params Tensor[] parameters) => Optimizer.Init(parameters);

    /// <inheritdoc/>
    public OptimizerStep Step(Tensor[] parameters, Tensor[] gradients, OptimizerState state) =>
        Optimizer.Run((p, g, s) => Core.Optimizers.adam(false, lr, beta1, beta2, epsilon, weightDecay, p, g, s), parameters, gradients, state);
}

/// <summary>AdamW, torch.optim.AdamW's update: Adam with decoupled weight decay, p ← p·(1 − ηλ) before the Adam step.</summary>
public sealed class AdamW : IOptimizer
{
    private readonly double lr, beta1, beta2, epsilon, weightDecay;

    /// <summary>AdamW with β₁ = 0.9, β₂ = 0.999, ε = 1e-8.</summary>
    /// <param name="learningRate">η ≥ 0 (0 at the start of a warm-up schedule: the moments and the step count still advance).</param>
    /// <param name="weightDecay">λ ≥ 0 (decoupled).</param>
    /// <exception cref="ArgumentOutOfRangeException">A coefficient is out of its range (or NaN or infinite).</exception>
    public AdamW(double learningRate, double weightDecay) : this(learningRate, 0.9, 0.999, 1e-8, weightDecay) { }

    /// <summary>AdamW with every coefficient given.</summary>
    /// <param name="learningRate">η ≥ 0 (0 at the start of a warm-up schedule: the moments and the step count still advance).</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε ≥ 0.</param>
    /// <param name="weightDecay">λ ≥ 0 (decoupled).</param>
    /// <exception cref="ArgumentOutOfRangeException">A coefficient is out of its range (or NaN or infinite).</exception>
    public AdamW(double learningRate, double beta1, double beta2, double epsilon, double weightDecay) =>
        (lr, this.beta1, this.beta2, this.epsilon, this.weightDecay) = (Hyperparameter.NonNegative(learningRate), Hyperparameter.Unit(beta1),
            Hyperparameter.Unit(beta2), Hyperparameter.NonNegative(epsilon), Hyperparameter.NonNegative(weightDecay));

    /// <inheritdoc/>
    public OptimizerState Init(params Tensor[] parameters) => Optimizer.Init(parameters);

    /// <inheritdoc/>
    public OptimizerStep Step(Tensor[] parameters, Tensor[] gradients, OptimizerState state) =>
        Optimizer.Run((p, g, s) => Core.Optimizers.adam(true, lr, beta1, beta2, epsilon, weightDecay, p, g, s), parameters, gradients, state);
}

/// <summary>Gradients scaled so their joint 2-norm is at most a bound, and the norm before scaling.</summary>
/// <param name="Gradients">The scaled gradients.</param>
/// <param name="Norm">‖g‖ over all the gradients together, before scaling.</param>
public sealed record ClippedGradients(Tensor[] Gradients, double Norm)
{
    /// <summary>The norm and the gradients, printed (culture-invariant).</summary>
    /// <returns>The text.</returns>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"ClippedGradients {{ Norm = {Norm:R}, Gradients = [{string.Join(", ", (Gradients ?? []).Select(g => g?.ToString() ?? "null"))}] }}");
}

/// <summary>Operations on lists of gradients.</summary>
public static class Gradients
{
    /// <summary>Scales the gradients by min(1, maxNorm/(‖g‖ + 1e-6)), ‖g‖ their joint 2-norm
    /// (torch.nn.utils.clip_grad_norm_'s rule). A finite bound scales by 0 where the norm is ∞ (an ∞ element becomes
    /// NaN) and by NaN where it is NaN, as torch's default does.</summary>
    /// <param name="gradients">The gradients.</param>
    /// <param name="maxNorm">The bound, &gt; 0; <see cref="double.PositiveInfinity"/> clips nothing, whatever the
    /// gradients hold.</param>
    /// <returns>The scaled gradients and the norm before scaling.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="gradients"/> or an element of it is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="maxNorm"/> is not positive.</exception>
    public static ClippedGradients ClipByNorm(Tensor[] gradients, double maxNorm)
    {
        var r = Core.Optimizers.clipByNorm(maxNorm, Array.ConvertAll(Interop.Values(gradients, nameof(gradients)), v => v.Tensor));
        return new(Array.ConvertAll(r.Item1, t => new Tensor(Core.ValueModule.constant(t))), r.Item2);
    }
}

/// <summary>Hyperparameters checked where they are given, so a bad one is reported by the constructor that took it
/// (as torch.optim does), not by a later step.</summary>
internal static class Hyperparameter
{
    // ≥ 0 as torch.optim checks (a warm-up schedule's first rate is 0), and finite: an infinite rate, momentum, ε or
    // decay turns the first step's parameters into ±∞ or NaN.
    public static double NonNegative(double v, [CallerArgumentExpression(nameof(v))] string name = "") =>
        v >= 0 && double.IsFinite(v) ? v : throw new ArgumentOutOfRangeException(name, v.ToString("R", CultureInfo.InvariantCulture), Text($"{name} must be ≥ 0 and finite; got {v}."));

    public static double Unit(double v, [CallerArgumentExpression(nameof(v))] string name = "") =>
        v is >= 0 and < 1 ? v : throw new ArgumentOutOfRangeException(name, v.ToString("R", CultureInfo.InvariantCulture), Text($"{name} must lie in [0, 1); got {v}."));

    private static string Text(FormattableString s) => FormattableString.Invariant(s);
}

internal static class Optimizer
{
    public static OptimizerState Init(Tensor[] parameters) =>
        new(Core.Optimizers.init(Array.ConvertAll(Interop.Values(parameters, nameof(parameters)), v => v.Tensor)));

    public static OptimizerStep Run(Func<Core.Tensor[], Core.Tensor[], Core.OptimizerState, Tuple<Core.Tensor[], Core.OptimizerState>> step,
        Tensor[] parameters, Tensor[] gradients, OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var r = step(Array.ConvertAll(Interop.Values(parameters, nameof(parameters)), v => v.Tensor),
                     Array.ConvertAll(Interop.Values(gradients, nameof(gradients)), v => v.Tensor), state.Value);
        return new(Array.ConvertAll(r.Item1, t => new Tensor(Core.ValueModule.constant(t))), new OptimizerState(r.Item2));
    }
}
