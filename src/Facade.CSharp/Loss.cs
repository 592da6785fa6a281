using System;
using System.Globalization;
using System.Collections.Generic;
using System.Linq;
using Core = Functional.Core;

namespace Functional;

/// <summary>
/// Losses, each a scalar mean over the batch (TorchSharp's default reduction; with class weights the weighted mean
/// Σ w[y]·ℓ / Σ w[y] over the rows not ignored, as TorchSharp's), written with numerically stable tensor operations so
/// their gradients of any order follow. A tensor released by its scope throws ObjectDisposedException, as everywhere
/// (<see cref="Tensor"/>).
/// </summary>
public static class Loss
{
    /// <summary>Mean squared error mean((p − t)²). ∂/∂p = 2(p − t)/n.</summary>
    /// <param name="prediction">Predictions.</param>
    /// <param name="target">Targets, broadcast against the predictions.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prediction"/> or <paramref name="target"/> is
    /// null.</exception>
    /// <exception cref="ShapeException">The shapes of <paramref name="prediction"/> and <paramref name="target"/> do
    /// not broadcast, or broadcast to more elements than either has (an [N, 1] prediction against an [N] target would
    /// compare every prediction with every target).</exception>
    public static Tensor Mse(Tensor prediction, Tensor target) => Api.Call("Loss.Mse", "prediction,target", () =>
        // Huber's function with δ = ∞ is ½d², and its fused passes read each operand once each way.
        2.0 * FusedHuber("Loss.Mse", N(prediction), N(target), double.PositiveInfinity));

    /// <summary>Mean absolute error mean(|p − t|). ∂/∂p = sign(p − t)/n, 0 where p = t (as TorchSharp's l1_loss).</summary>
    /// <param name="prediction">Predictions.</param>
    /// <param name="target">Targets.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prediction"/> or <paramref name="target"/> is
    /// null.</exception>
    /// <exception cref="ShapeException">The shapes of <paramref name="prediction"/> and <paramref name="target"/> do
    /// not broadcast, or broadcast to more elements than either has (an [N, 1] prediction against an [N] target would
    /// compare every prediction with every target).</exception>
    public static Tensor L1(Tensor prediction, Tensor target) => Api.Call("Loss.L1", "prediction,target", () =>
    {
        RequirePairs("Loss.L1", N(prediction), N(target));
        return (prediction - target).Abs().Mean();
    });

    /// <summary>Huber loss: ½d² where |d| ≤ δ, δ(|d| − ½δ) beyond, d = p − t; mean. ∂/∂p = clamp(d, −δ, δ)/n
    /// (continuous: no kink convention is needed at |d| = δ, where the second derivative is the midpoint ½/n of its
    /// one-sided values; at d = 0 the derivative is 0). One fused pass each way; operands of different shapes are
    /// broadcast to their common shape first, so every shape has the same derivatives.</summary>
    /// <param name="prediction">Predictions.</param>
    /// <param name="target">Targets.</param>
    /// <param name="delta">δ &gt; 0, where the quadratic turns linear.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prediction"/> or <paramref name="target"/> is
    /// null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is not positive.</exception>
    /// <exception cref="ShapeException">The shapes of <paramref name="prediction"/> and <paramref name="target"/> do
    /// not broadcast, or broadcast to more elements than either has (an [N, 1] prediction against an [N] target would
    /// compare every prediction with every target).</exception>
    public static Tensor Huber(Tensor prediction, Tensor target, double delta)
    {
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), delta.ToString("R", CultureInfo.InvariantCulture), "Huber's δ must be positive.");
        return Api.Call("Loss.Huber", "prediction,target,delta", () => FusedHuber("Loss.Huber", N(prediction), N(target), delta));
    }

    /// <summary>mean h(p − t) by the fused op, the operands broadcast to their common shape first (their gradients
    /// summed back): one formula, and the same derivatives of every order, whatever the shapes.</summary>
    private static Tensor FusedHuber(string member, Tensor prediction, Tensor target, double delta)
    {
        if (!RequirePairs(member, prediction, target))
        {
            var shape = Core.Shape.broadcast(prediction.Shape.ToArray(), target.Shape.ToArray());
            (prediction, target) = (prediction.BroadcastTo(shape), target.BroadcastTo(shape));
        }
        return new Tensor(Core.Losses.huber(delta, prediction.Value, target.Value)).Mean();
    }

    /// <summary>Cross-entropy from logits and integer class labels, −mean_n log softmax(logits)[n, labels[n]], through
    /// log-softmax (stable at any magnitude). ∂/∂logits = (softmax − onehot)/N.</summary>
    /// <param name="logits">[N, C] scores.</param>
    /// <param name="labels">N class indices in 0 .. C − 1.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ShapeException">logits is not [N, C], or labels' length is not N.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside 0 .. C − 1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> or <paramref name="labels"/> is
    /// null.</exception>
    public static Tensor CrossEntropy(Tensor logits, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var (n, c) = Classes("Loss.CrossEntropy", N(logits), nameof(logits), labels.Length, nameof(labels));
        return Api.Call("Loss.CrossEntropy", "logits,labels", () =>
        {
            for (int i = 0; i < labels.Length; i++) Label(labels, i, c);
            // The labelled log-probabilities in one pass per row each way: the bits of LogSoftmax then Nll.
            // Divided by N, as Mean (an empty batch: 0/0, NaN, a mean of nothing as every other loss here gives).
            return -(new Tensor(Core.Softmax.labelledLogSoftmax(labels, logits.Value)).Sum() / n);
        });
    }

    /// <summary>Cross-entropy from logits and class labels with a weight per class, PyTorch's
    /// <c>cross_entropy(weight=w)</c>: Σ_n w[y_n]·ℓ_n / Σ_n w[y_n] with ℓ_n = −log softmax(logits)[n, y_n].
    /// ∂/∂logits[n] = w[y_n]·(softmax − onehot)[n] / Σ_m w[y_m]; ∂/∂w[c] = Σ_{n: y_n = c} (ℓ_n − L) / Σ_m w[y_m] (PyTorch
    /// gives none).</summary>
    /// <param name="logits">[N, C] scores.</param>
    /// <param name="labels">N class indices in 0 .. C − 1.</param>
    /// <param name="weights">[C] weights, one per class.</param>
    /// <returns>A scalar, divided by the labelled weights' sum as PyTorch's: NaN for an empty batch, ±∞ or NaN when
    /// weights of both signs sum to 0.</returns>
    /// <exception cref="ShapeException">logits is not [N, C], labels' length is not N, or weights is not [C].</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside 0 .. C − 1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/>, <paramref name="labels"/> or
    /// <paramref name="weights"/> is null.</exception>
    public static Tensor CrossEntropy(Tensor logits, int[] labels, Tensor weights) =>
        Weighted("Loss.CrossEntropy", "logits,labels,weights", logits, nameof(logits), labels, N(weights), null, LabelledLosses);

    /// <summary>Cross-entropy from logits and class labels, the rows labelled <paramref name="ignoreIndex"/> left out,
    /// PyTorch's <c>cross_entropy(ignore_index=k)</c>: the mean of ℓ_n = −log softmax(logits)[n, y_n] over the other
    /// rows. ∂/∂logits[n] = (softmax − onehot)[n]/K for the K rows kept, 0 for the rows left out.</summary>
    /// <param name="logits">[N, C] scores.</param>
    /// <param name="labels">N class indices in 0 .. C − 1, or <paramref name="ignoreIndex"/>.</param>
    /// <param name="ignoreIndex">The label of rows to leave out (any number; PyTorch's default is −100).</param>
    /// <returns>A scalar; NaN when every row is left out.</returns>
    /// <exception cref="ShapeException">logits is not [N, C], or labels' length is not N.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label other than <paramref name="ignoreIndex"/> is outside
    /// 0 .. C − 1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> or <paramref name="labels"/> is
    /// null.</exception>
    public static Tensor CrossEntropy(Tensor logits, int[] labels, int ignoreIndex) =>
        Weighted("Loss.CrossEntropy", "logits,labels,ignoreIndex", logits, nameof(logits), labels, null, ignoreIndex, LabelledLosses);

    /// <summary>Cross-entropy from logits and class labels, with a weight per class and the rows labelled
    /// <paramref name="ignoreIndex"/> left out, PyTorch's <c>cross_entropy(weight=w, ignore_index=k)</c>:
    /// Σ_n w[y_n]·ℓ_n / Σ_n w[y_n] over the rows kept, ℓ_n = −log softmax(logits)[n, y_n]. ∂/∂logits[n] =
    /// w[y_n]·(softmax − onehot)[n] / Σ_m w[y_m] for the rows kept, 0 for the others.</summary>
    /// <param name="logits">[N, C] scores.</param>
    /// <param name="labels">N class indices in 0 .. C − 1, or <paramref name="ignoreIndex"/>.</param>
    /// <param name="weights">[C] weights, one per class.</param>
    /// <param name="ignoreIndex">The label of rows to leave out.</param>
    /// <returns>A scalar, divided by the kept rows' weights' sum as PyTorch's: NaN when every row is left out, ±∞ or
    /// NaN when weights of both signs sum to 0.</returns>
    /// <exception cref="ShapeException">logits is not [N, C], labels' length is not N, or weights is not [C].</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label other than <paramref name="ignoreIndex"/> is outside
    /// 0 .. C − 1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/>, <paramref name="labels"/> or
    /// <paramref name="weights"/> is null.</exception>
    public static Tensor CrossEntropy(Tensor logits, int[] labels, Tensor weights, int ignoreIndex) =>
        Weighted("Loss.CrossEntropy", "logits,labels,weights,ignoreIndex", logits, nameof(logits), labels, N(weights), ignoreIndex, LabelledLosses);

    /// <summary>Cross-entropy from logits and target probabilities, −mean_n Σ_c p[n, c]·log softmax(logits)[n, c],
    /// with 0·log 0 = 0 (a class of probability 0 adds nothing, even where its logit is −∞: PyTorch's is NaN there).
    /// ∂/∂logits[n, c] = (softmax(logits)[n, c]·Σ_c′ p[n, c′] − p[n, c])/N; ∂/∂p[n, c] = −log softmax(logits)[n, c]/N
    /// (where p[n, c] = 0 and the log-probability is −∞, the largest double over N: its limit, +∞, has no
    /// derivative).</summary>
    /// <param name="logits">[N, C] scores.</param>
    /// <param name="probabilities">[N, C] target distributions (rows summing to 1).</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> or <paramref name="probabilities"/> is
    /// null.</exception>
    /// <exception cref="ShapeException"><paramref name="logits"/> is not [N, C], or <paramref name="probabilities"/>
    /// is not of the same shape.</exception>
    public static Tensor CrossEntropy(Tensor logits, Tensor probabilities)
    {
        N(probabilities);
        var (n, _) = Classes("Loss.CrossEntropy", N(logits), nameof(logits), logits.Rank == 2 ? logits.Shape[0] : 0, nameof(probabilities));
        // One distribution per row over the same classes: [N, 1] probabilities broadcast over C classes were a silent
        // wrong loss (and [N, 1] logits a loss of 0 whatever the targets). Compared whole, so that probabilities of
        // another rank (class indices as a tensor, say) are named by their shape.
        if (!SameShapes(logits, probabilities))
            throw new ShapeException($"Loss.CrossEntropy: probabilities has shape {probabilities.Shape}; it must be the logits' shape {logits.Shape}.", nameof(probabilities));
        return Api.Call("Loss.CrossEntropy", "logits,probabilities", () =>
        {
            var logq = logits.LogSoftmax(1);
            // Where p is 0 a log-probability of −∞ counts as the most negative double, so that p·log q is 0, not NaN;
            // elsewhere (and for every finite log-probability) it is log q itself, the same bits.
            var safe = Tensor.Where(probabilities, logq, logq.Clamp(-double.MaxValue, double.PositiveInfinity));
            return -((safe * probabilities).Sum() / n);
        });
    }

    /// <summary>Negative log-likelihood −mean_n logProbabilities[n, labels[n]], for log-probabilities already computed
    /// (for example by <see cref="Tensor.LogSoftmax"/>). ∂/∂logProbabilities = −onehot/N.</summary>
    /// <param name="logProbabilities">[N, C] log-probabilities.</param>
    /// <param name="labels">N class indices.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="logProbabilities"/> or <paramref name="labels"/> is
    /// null.</exception>
    /// <exception cref="ShapeException"><paramref name="logProbabilities"/> is not [N, C], or the length of
    /// <paramref name="labels"/> is not N.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside 0 .. C − 1.</exception>
    public static Tensor Nll(Tensor logProbabilities, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var (n, c) = Classes("Loss.Nll", N(logProbabilities), nameof(logProbabilities), labels.Length, nameof(labels));
        return Api.Call("Loss.Nll", "logProbabilities,labels", () => Nll(logProbabilities, labels, n, c));
    }

    /// <summary>Negative log-likelihood with a weight per class, PyTorch's <c>nll_loss(weight=w)</c>:
    /// −Σ_n w[y_n]·logProbabilities[n, y_n] / Σ_n w[y_n]. ∂/∂logProbabilities[n] = −w[y_n]·onehot[n] / Σ_m w[y_m].</summary>
    /// <param name="logProbabilities">[N, C] log-probabilities.</param>
    /// <param name="labels">N class indices in 0 .. C − 1.</param>
    /// <param name="weights">[C] weights, one per class.</param>
    /// <returns>A scalar, divided by the labelled weights' sum: NaN for an empty batch, ±∞ or NaN when weights of both
    /// signs sum to 0.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="logProbabilities"/>, <paramref name="labels"/> or
    /// <paramref name="weights"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="logProbabilities"/> is not [N, C], the length of
    /// <paramref name="labels"/> is not N, or weights is not [C].</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside 0 .. C − 1.</exception>
    public static Tensor Nll(Tensor logProbabilities, int[] labels, Tensor weights) =>
        Weighted("Loss.Nll", "logProbabilities,labels,weights", logProbabilities, nameof(logProbabilities), labels, N(weights), null, PickedLosses);

    /// <summary>Negative log-likelihood, the rows labelled <paramref name="ignoreIndex"/> left out, PyTorch's
    /// <c>nll_loss(ignore_index=k)</c>: −mean of logProbabilities[n, y_n] over the other rows. ∂/∂logProbabilities[n] =
    /// −onehot[n]/K for the K rows kept, 0 for the others.</summary>
    /// <param name="logProbabilities">[N, C] log-probabilities.</param>
    /// <param name="labels">N class indices in 0 .. C − 1, or <paramref name="ignoreIndex"/>.</param>
    /// <param name="ignoreIndex">The label of rows to leave out.</param>
    /// <returns>A scalar; NaN when every row is left out.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="logProbabilities"/> or <paramref name="labels"/> is
    /// null.</exception>
    /// <exception cref="ShapeException"><paramref name="logProbabilities"/> is not [N, C], or the length of
    /// <paramref name="labels"/> is not N.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label other than <paramref name="ignoreIndex"/> is outside
    /// 0 .. C − 1.</exception>
    public static Tensor Nll(Tensor logProbabilities, int[] labels, int ignoreIndex) =>
        Weighted("Loss.Nll", "logProbabilities,labels,ignoreIndex", logProbabilities, nameof(logProbabilities), labels, null, ignoreIndex, PickedLosses);

    /// <summary>Negative log-likelihood with a weight per class and the rows labelled <paramref name="ignoreIndex"/>
    /// left out, PyTorch's <c>nll_loss(weight=w, ignore_index=k)</c>: −Σ_n w[y_n]·logProbabilities[n, y_n] / Σ_n w[y_n]
    /// over the rows kept. ∂/∂logProbabilities[n] = −w[y_n]·onehot[n] / Σ_m w[y_m] for the rows kept.</summary>
    /// <param name="logProbabilities">[N, C] log-probabilities.</param>
    /// <param name="labels">N class indices in 0 .. C − 1, or <paramref name="ignoreIndex"/>.</param>
    /// <param name="weights">[C] weights, one per class.</param>
    /// <param name="ignoreIndex">The label of rows to leave out.</param>
    /// <returns>A scalar, divided by the kept rows' weights' sum: NaN when every row is left out, ±∞ or NaN when
    /// weights of both signs sum to 0.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="logProbabilities"/>, <paramref name="labels"/> or
    /// <paramref name="weights"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="logProbabilities"/> is not [N, C], the length of
    /// <paramref name="labels"/> is not N, or weights is not [C].</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label other than <paramref name="ignoreIndex"/> is outside
    /// 0 .. C − 1.</exception>
    public static Tensor Nll(Tensor logProbabilities, int[] labels, Tensor weights, int ignoreIndex) =>
        Weighted("Loss.Nll", "logProbabilities,labels,weights,ignoreIndex", logProbabilities, nameof(logProbabilities), labels, N(weights), ignoreIndex, PickedLosses);

    /// <summary>Binary cross-entropy from logits, mean(softplus(x) − x·y): stable for any finite logit (the σ and log
    /// are never formed, and ln(1 + e^(−|x|)) is added after max(x, 0) − x·y, so it survives where they cancel).
    /// ∂/∂x = (σ(x) − y)/n, ∂/∂y = −x/n. One fused pass each way (operands of broadcast shapes are broadcast first). An
    /// infinite logit gives NaN where x·y is infinite or 0·∞ (x = +∞ with any target, x = −∞ with y = 0) and +∞ at
    /// x = −∞ with y > 0; PyTorch's is +∞ at x = +∞, y = 0.</summary>
    /// <param name="logits">Scores.</param>
    /// <param name="targets">Targets in [0, 1], shaped as the logits.</param>
    /// <returns>A scalar.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> or <paramref name="targets"/> is
    /// null.</exception>
    /// <exception cref="ShapeException">The shapes of <paramref name="logits"/> and <paramref name="targets"/> do not
    /// broadcast, or broadcast to more elements than either has (an [N, 1] against an [N] would compare every logit
    /// with every target).</exception>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor targets) =>
        Api.Call("Loss.BinaryCrossEntropyWithLogits", "logits,targets", () =>
        {
            // One fused op; broadcast shapes are broadcast to one first (their gradients summed back by the broadcast).
            if (!RequirePairs("Loss.BinaryCrossEntropyWithLogits", N(logits), N(targets), "logits", "targets"))
            {
                var shape = Core.Shape.broadcast(logits.Shape.ToArray(), targets.Shape.ToArray());
                (logits, targets) = (logits.BroadcastTo(shape), targets.BroadcastTo(shape));
            }
            return new Tensor(Core.Losses.bceWithLogits(logits.Value, targets.Value)).Mean();
        });

    /// <summary>Rows of zeros with a 1 at each label: [N, classes]. A constant.</summary>
    /// <param name="labels">N class indices.</param>
    /// <param name="classes">The number of classes.</param>
    /// <returns>The one-hot matrix.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is negative, or a label is outside
    /// 0 .. classes − 1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="labels"/> is null.</exception>
    /// <exception cref="MemoryLimitException">The matrix would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor OneHot(int[] labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (classes < 0) throw new ArgumentOutOfRangeException(nameof(classes), classes.ToString(CultureInfo.InvariantCulture), "The number of classes cannot be negative.");
        Core.Limits.check(Microsoft.FSharp.Core.FuncConvert.FromFunc(() => $"OneHot of {labels.Length} labels and {classes} classes"), (double)labels.Length * classes);
        var data = new double[labels.Length * classes];
        for (int i = 0; i < labels.Length; i++) data[i * classes + Label(labels, i, classes)] = 1;
        return Tensor.FromArray(data, labels.Length, classes);
    }

    // The labelled entries gathered (their pullback a scatter into zeros), not a product with a one-hot matrix: that
    // made and multiplied an N×C constant (4096×1000 cross-entropy fwd+bwd 44 ms against TorchSharp's 9.5), and
    // −∞ elsewhere in a row (log 0) times 0 gave NaN.
    private static Tensor Nll(Tensor logProbabilities, int[] labels, int n, int c)
    {
        for (int i = 0; i < labels.Length; i++) Label(labels, i, c);
        var picked = new Tensor(Core.Indexing.gather(1, labels, new[] { n, 1 }, logProbabilities.Value));
        return -(picked.Sum() / n);   // NaN for an empty batch, as CrossEntropy
    }

    /// <summary>ℓ_n = −log softmax(rows)[n, labels[n]] for each row, one pass per row (the bits of CrossEntropy's).</summary>
    private static Tensor LabelledLosses(Tensor rows, int[] labels) => -new Tensor(Core.Softmax.labelledLogSoftmax(labels, rows.Value));

    /// <summary>ℓ_n = −rows[n, labels[n]] for each row.</summary>
    private static Tensor PickedLosses(Tensor rows, int[] labels) =>
        -new Tensor(Core.Indexing.gather(1, labels, new[] { labels.Length, 1 }, rows.Value)).Reshape(labels.Length);

    /// <summary>A classification loss with class weights and an ignored label (PyTorch's weight and ignore_index):
    /// the rows whose label is <paramref name="ignore"/> are left out before anything is computed from them (their
    /// gradient is exactly 0, whatever their scores hold), then Σ w[y]·ℓ / Σ w[y] over the rest, or the mean without
    /// weights.</summary>
    private static Tensor Weighted(string member, string parameters, Tensor scores, string scoresName, int[] labels, Tensor? weights, int? ignore, Func<Tensor, int[], Tensor> losses)
    {
        ArgumentNullException.ThrowIfNull(labels);
        // Read once: the checks, the loss and the weights all see the same labels, whatever another thread does to
        // the caller's array meanwhile.
        labels = (int[])labels.Clone();
        var (n, c) = Classes(member, N(scores, scoresName), scoresName, labels.Length, nameof(labels));
        if (weights is not null && (weights.Rank != 1 || weights.Shape[0] != c))
            throw new ShapeException($"{member}: weights has shape {weights.Shape}; it must be [{c}], one weight per class.", nameof(weights));
        return Api.Call(member, parameters, () =>
        {
            var keep = new List<int>(n);
            for (int i = 0; i < n; i++)
            {
                if (ignore is { } skip && labels[i] == skip) continue;
                Label(labels, i, c);
                keep.Add(i);
            }
            var kept = keep.Count == n ? labels : keep.Select(i => labels[i]).ToArray();
            var l = losses(keep.Count == n ? scores : scores.IndexSelect(0, keep.ToArray()), kept);
            if (weights is null) return l.Sum() / kept.Length;
            var w = weights.IndexSelect(0, kept);
            return (w * l).Sum() / w.Sum();
        });
    }

    /// <summary>labels[i], checked to lie in 0 .. classes − 1.</summary>
    private static int Label(int[] labels, int i, int classes) =>
        labels[i] >= 0 && labels[i] < classes ? labels[i]
        : throw new ArgumentOutOfRangeException(nameof(labels), labels[i].ToString(CultureInfo.InvariantCulture), FormattableString.Invariant($"Loss: label {i} is {labels[i]}; labels must lie in 0 .. {classes - 1}."));

    private static (int N, int C) Classes(string member, Tensor scores, string scoresName, int rows, string rowsName)
    {
        if (scores.Rank != 2)
            throw new ShapeException($"{member}: {scoresName} must have shape [N, C]; it has shape {scores.Shape}.", scoresName);
        if (rows != scores.Shape[0])
            throw new ShapeException($"{member}: {rowsName} has {rows} rows for {scores.Shape[0]} rows of {scoresName}.", rowsName);
        return (scores.Shape[0], scores.Shape[1]);
    }

    private static bool SameShapes(Tensor a, Tensor b) => a.Rank == b.Rank && a.Shape.SequenceEqual(b.Shape);

    /// <summary>Refuses shapes that do not pair elements: a broadcast to more elements than either operand has (an
    /// [N, 1] against an [N] gives [N, N], each prediction against each target, whose mean is a silent wrong loss;
    /// torch.nn.functional warns or refuses there). Returns whether the shapes are the same.</summary>
    private static bool RequirePairs(string member, Tensor prediction, Tensor target, string predictionName = "prediction", string targetName = "target")
    {
        if (SameShapes(prediction, target)) return true;
        var shape = Api.Call(member, predictionName + "," + targetName, () => Core.Shape.broadcast(prediction.Shape.ToArray(), target.Shape.ToArray()));
        double elements = shape.Aggregate(1.0, (p, d) => p * d);
        if (elements > Math.Max(prediction.Count, target.Count))
            throw new ShapeException($"{member}: {predictionName} {prediction.Shape} and {targetName} {target.Shape} broadcast to [{string.Join(", ", shape)}], pairing every element of one with every element of the other; give them one shape (e.g. reshape the {targetName} to {prediction.Shape}).", targetName);
        return false;
    }

    private static Tensor N(Tensor? t, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(t))] string? name = null) => t ?? throw new ArgumentNullException(name);
}
