namespace Functional.Testing;

/// <summary>What generated einsum problems may contain. Every feature is on by default.</summary>
public sealed record EinsumOptions
{
    /// <summary>The most operands in one equation (1 to 8; default 4).</summary>
    public int MaxOperands { get; init; } = 4;

    /// <summary>The most subscripted dimensions of one operand, besides its ellipsis (0 to 6; default 4).</summary>
    public int MaxRank { get; init; } = 4;

    /// <summary>The largest dimension size (1 or more; default 5). Sizes are drawn up to it, so a large one makes
    /// operands of up to MaxSize to the power of their rank elements.</summary>
    public int MaxSize { get; init; } = 5;

    /// <summary>A label may repeat inside one operand (a diagonal or trace).</summary>
    public bool RepeatedLabels { get; init; } = true;

    /// <summary>Operands may carry an ellipsis <c>...</c> (with fewer dimensions than others: right-aligned).</summary>
    public bool Ellipsis { get; init; } = true;

    /// <summary>A labelled or ellipsis dimension may be 1 in one operand and larger in another.</summary>
    public bool Broadcasting { get; init; } = true;

    /// <summary>The equation may omit <c>-&gt;</c> (the output is every label seen once, in alphabetical order, uppercase
    /// before lowercase, as NumPy's and PyTorch's).</summary>
    public bool ImplicitOutput { get; init; } = true;

    /// <summary>Dimensions may be 0.</summary>
    public bool ZeroSize { get; init; } = true;

    /// <summary>Throws, naming the caller's parameter, when a bound is out of its range.</summary>
    internal void Validate(string parameter)
    {
        if (MaxOperands is < 1 or > 8) throw new System.ArgumentOutOfRangeException(parameter, MaxOperands.ToString(System.Globalization.CultureInfo.InvariantCulture), System.FormattableString.Invariant($"EinsumOptions.MaxOperands must be 1 to 8; got {MaxOperands}."));
        if (MaxRank is < 0 or > 6) throw new System.ArgumentOutOfRangeException(parameter, MaxRank.ToString(System.Globalization.CultureInfo.InvariantCulture), System.FormattableString.Invariant($"EinsumOptions.MaxRank must be 0 to 6; got {MaxRank}."));
        if (MaxSize < 1) throw new System.ArgumentOutOfRangeException(parameter, MaxSize.ToString(System.Globalization.CultureInfo.InvariantCulture), System.FormattableString.Invariant($"EinsumOptions.MaxSize must be at least 1; got {MaxSize}."));
    }
}
