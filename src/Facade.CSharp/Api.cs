using System;
using System.Runtime.ExceptionServices;
using System.Text.RegularExpressions;

namespace Functional;

/// <summary>
/// The facade's error boundary: a bad argument found by the F# core comes back in the terms of the C# member the user
/// called (its name first, its parameter's name), never the core's function and parameter names.
/// </summary>
internal static partial class Api
{
    private const string Translated = "Functional.Facade.Translated";

    /// <summary>Runs <paramref name="body"/>; an <see cref="ArgumentException"/> from the core is rethrown, of the same
    /// type, as "<paramref name="member"/>: …" with a parameter of <paramref name="parameters"/> (comma-separated).</summary>
    public static T Call<T>(string member, string parameters, Func<T> body)
    {
        try { return body(); }
        // An error already in the terms of this member passes; one from a member it called (or from a user's function
        // it ran) is said again in this member's terms, the inner member's words kept.
        catch (ArgumentException e) when (!member.Equals(e.Data[Translated]) && e is not ArgumentNullException && e is not MemoryLimitException)
        {
            throw Translate(member, parameters, e);
        }
    }

    private static ArgumentException Translate(string member, string parameters, ArgumentException e)
    {
        string text = e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
        // ArgumentOutOfRangeException's message ends with "Actual value was …", which the rebuilt one adds again.
        if (e is ArgumentOutOfRangeException { ActualValue: not null } range)
            text = text.Replace(Environment.NewLine + $"Actual value was {range.ActualValue}.", "").Replace($"\nActual value was {range.ActualValue}.", "");
        // The core's messages may open with the core function's name ("narrow: …"); the C# member replaces it.
        text = CoreName().Replace(text, "");
        text = text.Replace("grad needs", "needs").Replace("Use vjp or jacobian", "Use Autodiff.Vjp or Autodiff.Jacobian")
                   .Replace("item needs", "needs");
        string message = $"{member}: {text}";
        string? parameter = Parameter(e.ParamName, parameters);
        // Only the core's own exception types are rebuilt; any other (an EinsumException, a user's) keeps its type.
        ArgumentException r =
            e.GetType() == typeof(ShapeException) ? new ShapeException(message, parameter!)
            : e.GetType() == typeof(ArgumentOutOfRangeException) ? new ArgumentOutOfRangeException(parameter, ((ArgumentOutOfRangeException)e).ActualValue, message)
            : e.GetType() == typeof(ArgumentException) ? new ArgumentException(message, parameter, e)
            : e;
        // A rebuilt exception without the core's as its inner one keeps the core's frames in its stack trace.
        if (!ReferenceEquals(r, e) && r.InnerException is null && e.StackTrace is { } trace)
            ExceptionDispatchInfo.SetRemoteStackTrace(r, trace);
        r.Data[Translated] = member;
        return r;
    }

    /// <summary>The C# parameter the core's names (each entry of <paramref name="parameters"/> a C# name, optionally
    /// followed by the core's names for it: <c>"v|vs"</c>); the member's only parameter; or none.</summary>
    private static string? Parameter(string? core, string parameters)
    {
        if (parameters.Length == 0) return null;
        var names = parameters.Split(',');
        foreach (var entry in names)
        {
            var aliases = entry.Split('|');
            if (core is not null && Array.IndexOf(aliases, core) >= 0) return aliases[0];
        }
        return names.Length == 1 ? names[0].Split('|')[0] : null;
    }

    [GeneratedRegex(@"^[a-z][A-Za-z]*: ")]
    private static partial Regex CoreName();
}
