using System;

namespace Functional;

/// <summary>
/// One position in a tensor indexer: an element (an <see cref="int"/> or an <see cref="System.Index"/> such as
/// <c>^1</c>; the axis is removed) or a range (<c>..</c>, <c>1..^1</c>; the axis is kept). Written implicitly:
/// <c>t[.., 0]</c>, <c>t[1..^1, ..]</c>, <c>t[^1]</c>. A negative <see cref="int"/> counts from the end, as in
/// NumPy and TorchSharp.
/// </summary>
public readonly struct TensorIndex
{
    internal Index? Element { get; }
    internal int? Integer { get; }
    internal Range? Span { get; }

    private TensorIndex(Index? element, int? integer, Range? span) => (Element, Integer, Span) = (element, integer, span);

    /// <summary>An element by its position (negative counts from the end).</summary>
    /// <param name="index">The element's position along its axis (negative counts from the end).</param>
    /// <returns>The index position.</returns>
    public static implicit operator TensorIndex(int index) => new(null, index, null);

    /// <summary>An element, <c>^1</c> being the last.</summary>
    /// <param name="index">The element's position along its axis (<c>^1</c> is the last).</param>
    /// <returns>The index position.</returns>
    public static implicit operator TensorIndex(Index index) => new(index, null, null);

    /// <summary>A range of elements; the axis is kept.</summary>
    /// <param name="range">The range.</param>
    /// <returns>The index position.</returns>
    public static implicit operator TensorIndex(Range range) => new(null, null, range);

    /// <summary>The index as C# writes it.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Span is { } r ? r.ToString() : Element is { } e ? e.ToString() : Integer?.ToString() ?? "";
}
