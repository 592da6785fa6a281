using System;
using System.Collections.Generic;
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

    /// <summary>The mark of an exception a user's delegate raised itself: passed on untouched.</summary>
    private const string UsersOwn = "Functional.Facade.UsersOwn";

    /// <summary>Runs <paramref name="body"/>; an <see cref="ArgumentException"/> from the core is rethrown, of the same
    /// type, as "<paramref name="member"/>: …" with a parameter of <paramref name="parameters"/> (comma-separated).</summary>
    public static T Call<T>(string member, string parameters, Func<T> body)
    {
        try { return body(); }
        // An error already in the terms of this member passes; one from a member it called (or from a user's function
        // it ran) is said again in this member's terms, the inner member's words kept.
        catch (ArgumentException e) when (!member.Equals(e.Data[Translated]) && !UsersOwn.Equals(e.Data[Translated]) && e is not ArgumentNullException && e is not MemoryLimitException)
        {
            var r = Translate(member, parameters, e);
            // Passed on as it is: rethrown in place, its stack trace kept.
            if (ReferenceEquals(r, e)) throw;
            throw r;
        }
    }

    /// <summary>Runs a user's delegate: an argument error it raised itself (not one this library raised in it: a facade
    /// member's carries that member's mark, and the few raised outside <see cref="Call"/> come from this library's
    /// code) is marked as the user's, so that no member it passes through rewords it, renames its parameter or
    /// rebuilds it.</summary>
    public static T User<T>(Func<T> call)
    {
        try { return call(); }
        catch (ArgumentException e) when (e.Data[Translated] is null && RaisedByUser(e))
        {
            e.Data[Translated] = UsersOwn;
            throw;
        }
    }

    /// <summary>This library's assemblies, by name.</summary>
    private static readonly HashSet<string> Ours = new(StringComparer.Ordinal)
    {
        "Functional.Facade", "Functional.Core", "Functional.Kernels", "Functional.Testing", "Functional.Testing.FSharp",
        "Functional.CrossCheck.TorchSharp", "Functional.CrossCheck.Facade", "functional",
    };

    /// <summary>Whether the innermost frame of <paramref name="e"/>'s stack outside the runtime's and FSharp.Core's
    /// code belongs to neither this library nor them: the user's own code threw it.</summary>
    private static bool RaisedByUser(Exception e)
    {
        foreach (var frame in new System.Diagnostics.StackTrace(e, false).GetFrames())
        {
            string? name = frame.GetMethod()?.DeclaringType?.Assembly.GetName().Name;
            if (name is null || name is "System" or "mscorlib" or "netstandard" or "FSharp.Core"
                || name.StartsWith("System.", StringComparison.Ordinal) || name.StartsWith("Microsoft.", StringComparison.Ordinal)) continue;
            return !Ours.Contains(name);
        }
        return false;
    }

    /// <summary>Marks <paramref name="e"/> as already in the terms of the C# member <paramref name="member"/> (a
    /// custom op's rule named by CustomOp.Create's parameter): a member that meets it later keeps its parameter name.</summary>
    public static T InTermsOf<T>(string member, T e) where T : Exception
    {
        e.Data[Translated] = member;
        return e;
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
        // A core parameter is mapped to this member's; one already in a C# member's terms (an inner member's, a custom
        // op rule's) is kept unless this member has it too.
        string? parameter = e.Data[Translated] is null ? Parameter(e.ParamName, parameters) : Alias(e.ParamName, parameters) ?? e.ParamName;
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
        return Alias(core, parameters) ?? (names.Length == 1 ? names[0].Split('|')[0] : null);
    }

    /// <summary>The C# parameter of <paramref name="parameters"/> that <paramref name="name"/> is, or one of its core
    /// names; else null.</summary>
    private static string? Alias(string? name, string parameters)
    {
        if (name is null || parameters.Length == 0) return null;
        foreach (var entry in parameters.Split(','))
        {
            var aliases = entry.Split('|');
            if (Array.IndexOf(aliases, name) >= 0) return aliases[0];
        }
        return null;
    }

    [GeneratedRegex(@"^[a-z][A-Za-z]*: ")]
    private static partial Regex CoreName();
}
