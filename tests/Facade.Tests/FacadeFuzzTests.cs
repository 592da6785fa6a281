using System.Reflection;
using Xunit;

namespace Functional.Facade.Tests;

/// <summary>
/// Every public member of the facade called with random arguments: random shapes and values (NaN and infinities
/// included), nulls, out-of-range integers, unknown enum values, and functions that return null or the wrong shape.
/// Anything thrown must be Functional's own (<see cref="ShapeException"/>, <see cref="EinsumException"/>,
/// <see cref="MemoryLimitException"/>) or of the <see cref="ArgumentException"/> family: never a
/// NullReferenceException, an IndexOutOfRangeException, an InvalidOperationException or an OutOfMemoryException.
/// </summary>
public class FacadeFuzzTests
{
    private static readonly Type[] Surface = { typeof(Tensor), typeof(Einsum), typeof(Autodiff), typeof(GradientCheck), typeof(TensorScope), typeof(Limits), typeof(Linalg), typeof(Loss), typeof(Gradients) };

    /// <summary>Every public method and property getter the facade declares, but none that changes process-wide
    /// state (the memory limit) or opens a scope that would outlive the call.</summary>
    private static readonly MethodInfo[] Members = Surface
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        .Where(m => m.Name != "set_MemoryLimitBytes" && m.Name != "set_WorkerSpinMilliseconds" && m.Name != nameof(Tensor.NewScope) && !m.IsGenericMethodDefinition)
        // Spans cannot be passed by reflection; FromSpan and CopyTo are covered by TensorTests.
        .Where(m => m.GetParameters().All(p => !p.ParameterType.IsByRefLike))
        .OrderBy(m => m.DeclaringType!.Name + "." + m.ToString(), StringComparer.Ordinal)
        .ToArray();

    private static readonly string[] Equations =
        { "ij,jk->ik", "bij,bjk->bik", "ii->i", "ij->", "i,i->", "...ij,...jk->...ik", "ij,jk", "i->ii", "ab,cd,bd,ac->", "", "->", "i,j->ij", "ij->ji", "a..b", "ij,,k->", "iJ->Ji", "ij->k", "é->" };

    private static readonly int[] Ints = { -3, -2, -1, 0, 1, 2, 3, 4, 5, int.MinValue, int.MaxValue, 2147483591, 2147483592 };

    private static readonly double[] Doubles = { 0, -0.0, 1, -1, 0.5, 1e-300, 1e300, double.NaN, double.PositiveInfinity, double.NegativeInfinity, -2.5, 1e-6 };

    private sealed class Gen(int seed)
    {
        private readonly Random rng = new(seed);

        private T Pick<T>(IReadOnlyList<T> xs) => xs[rng.Next(xs.Count)];

        private int Dim() => rng.Next(8) == 0 ? 0 : rng.Next(1, 5);

        public int[] Shape() => Enumerable.Range(0, rng.Next(0, 4)).Select(_ => Dim()).ToArray();

        public Tensor Tensor()
        {
            var shape = Shape();
            var values = Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b))
                .Select(_ => rng.Next(10) == 0 ? Pick(Doubles) : rng.NextDouble() * 4 - 2).ToArray();
            return Functional.Tensor.FromArray(values, shape);
        }

        private Tensor? MaybeTensor() => rng.Next(10) == 0 ? null : Tensor();

        private Tensor?[]? Tensors() => rng.Next(12) == 0 ? null : Enumerable.Range(0, rng.Next(0, 4)).Select(_ => MaybeTensor()).ToArray();

        private int[]? IntArray() => rng.Next(12) == 0 ? null : Enumerable.Range(0, rng.Next(0, 4)).Select(_ => rng.Next(3) == 0 ? Pick(Ints) : Dim()).ToArray();

        private Func<Tensor, Tensor>? Unary() => rng.Next(7) switch
        {
            0 => null,
            1 => x => x.Sum(),
            2 => x => x * x,
            3 => x => x.Exp().Sum(),
            4 => x => null!,
            5 => x => x.Tanh(),
            _ => x => x.Gelu().Sum(),
        };

        private Func<Tensor[], Tensor>? Many() => rng.Next(6) switch
        {
            0 => null,
            1 => xs => xs.Length == 0 ? Functional.Tensor.Scalar(1) : xs[0].Sum(),
            2 => xs => null!,
            3 => xs => xs.Aggregate(Functional.Tensor.Scalar(0), (a, x) => a + x.Sum()),
            4 => xs => xs.Length == 0 ? Functional.Tensor.Scalar(1) : xs[0],
            _ => xs => xs.Length < 2 ? Functional.Tensor.Scalar(2) : (xs[0] * xs[1]).Sum(),
        };

        public object? Argument(Type type) => type switch
        {
            _ when type == typeof(Tensor) => MaybeTensor(),
            _ when type == typeof(Tensor[]) => Tensors(),
            _ when type == typeof(int) => rng.Next(2) == 0 ? Pick(Ints) : rng.Next(-2, 4),
            _ when type == typeof(int[]) => IntArray(),
            _ when type == typeof(int[][]) => rng.Next(12) == 0 ? null : Enumerable.Range(0, rng.Next(0, 4)).Select(_ => IntArray()).ToArray(),
            _ when type == typeof(double) => rng.Next(2) == 0 ? Pick(Doubles) : rng.NextDouble() * 2,
            _ when type == typeof(double[]) => rng.Next(12) == 0 ? null : Enumerable.Range(0, rng.Next(0, 7)).Select(_ => rng.NextDouble()).ToArray(),
            _ when type == typeof(string) => rng.Next(10) == 0 ? null : Pick(Equations),
            _ when type == typeof(Func<Tensor, Tensor>) => Unary(),
            _ when type == typeof(Func<Tensor[], Tensor>) => Many(),
            _ when type.IsEnum => Enum.ToObject(type, rng.Next(-1, 4)),
            _ when type == typeof(object) => rng.Next(2) == 0 ? null : Tensor(),
            _ when type == typeof(bool) => rng.Next(2) == 0,
            _ when type == typeof(float[]) => rng.Next(12) == 0 ? null : Enumerable.Range(0, rng.Next(0, 7)).Select(_ => (float)rng.NextDouble()).ToArray(),
            _ when type == typeof(double[,]) => rng.Next(12) == 0 ? null : new double[rng.Next(0, 4), rng.Next(0, 4)],
            _ when type == typeof(double[,,]) => rng.Next(12) == 0 ? null : new double[rng.Next(0, 3), rng.Next(0, 3), rng.Next(0, 3)],
            _ when type == typeof(double[][]) => rng.Next(12) == 0 ? null : Enumerable.Range(0, rng.Next(0, 4)).Select(_ => rng.Next(10) == 0 ? null! : new double[rng.Next(0, 3)]).ToArray(),
            _ when type == typeof(TensorIndex[]) => rng.Next(12) == 0 ? null : Enumerable.Range(0, rng.Next(0, 4)).Select(_ => Index()).ToArray(),
            _ => throw new NotSupportedException($"No generator for {type}."),
        };

        public int Next(int n) => rng.Next(n);

        /// <summary>An int (negative too), a ^-index or a range, some beyond any axis.</summary>
        private TensorIndex Index() => rng.Next(4) switch
        {
            0 => rng.Next(-5, 6),
            1 => ^rng.Next(0, 6),
            2 => rng.Next(0, 4)..^rng.Next(0, 4),
            _ => ..,
        };
    }

    private static bool Allowed(Exception e) => e is ArgumentException;

    [Fact]
    public void Every_facade_member_with_random_and_invalid_arguments_throws_only_typed_argument_errors()
    {
        int baseSeed = Environment.GetEnvironmentVariable("FUNCTIONAL_SEED") is { Length: > 0 } s ? int.Parse(s.Split(',')[0]) : 2412;
        int cases = 4000 * Soak;
        int calls = 0, thrown = 0;
        var seen = new HashSet<string>();
        var threw = new Dictionary<MethodInfo, HashSet<Type>>();
        for (int i = 0; i < cases; i++)
        {
            int seed = baseSeed + i;
            var gen = new Gen(seed);
            var member = Members[gen.Next(Members.Length)];
            seen.Add(member.DeclaringType!.Name + "." + member);
            object?[] args = member.GetParameters().Select(p => gen.Argument(p.ParameterType)).ToArray();
            TensorScope? scope = null;
            object? receiver = null;
            if (!member.IsStatic)
            {
                if (member.DeclaringType == typeof(TensorScope)) receiver = scope = Tensor.NewScope();
                else receiver = gen.Tensor();
            }
            bool inPullback = false;
            // A case that kills the process leaves no message: FUNCTIONAL_FUZZ_TRACE=file logs each case before it runs.
            if (Environment.GetEnvironmentVariable("FUNCTIONAL_FUZZ_TRACE") is { } tf) System.IO.File.AppendAllText(tf, $"{seed} {member.DeclaringType!.Name}.{member} {string.Join(", ", args.Select(Describe))}\n");
            try
            {
                calls++;
                var result = member.Invoke(receiver, args);
                inPullback = true;
                // A pullback is a member too: call it with a random adjoint (null and wrong shapes included).
                if (result is VjpResult vjp) vjp.Pullback(gen.Argument(typeof(Tensor)) as Tensor ?? null!);
            }
            catch (TargetInvocationException wrapped) when (wrapped.InnerException is { } e)
            {
                thrown++;
                if (!inPullback) (threw.TryGetValue(member, out var ts) ? ts : threw[member] = new()).Add(e.GetType());
                if (!Allowed(e))
                    Assert.Fail($"{member.DeclaringType!.Name}.{member} threw {e.GetType().Name}: {e.Message}\n" +
                                $"arguments: {string.Join(", ", args.Select(Describe))}\nreplay with FUNCTIONAL_SEED=\"{seed}\" (case seed).\n{e}");
                if (InCSharpTerms(member, (ArgumentException)e) is { } problem)
                    Assert.Fail($"{member.DeclaringType!.Name}.{member}: {problem}\nmessage: {e.Message}\n" +
                                $"arguments: {string.Join(", ", args.Select(Describe))}\nreplay with FUNCTIONAL_SEED=\"{seed}\" (case seed).");
            }
            catch (Exception e) when (Allowed(e))
            {
                thrown++;
                if (!inPullback) (threw.TryGetValue(member, out var ts) ? ts : threw[member] = new()).Add(e.GetType());
            }
            finally
            {
                scope?.Dispose();
            }
        }
        // The property really ran: most members were reached and both outcomes occurred.
        Assert.True(seen.Count >= Members.Length * 9 / 10, $"only {seen.Count} of {Members.Length} members were called");
        Assert.True(thrown > 0 && thrown < calls, $"{thrown} of {calls} calls threw");
        // What a member was seen to throw, its documentation says (an <exception> of that type or a base type).
        var docs = DocCompletenessTests.Docs(typeof(Tensor).Assembly.GetName().Name!);
        var undocumented = threw
            .SelectMany(kv => kv.Value.Where(type => !Documents(docs, kv.Key, type)).Select(type => $"{DocCompletenessTests.DocId(kv.Key)}: {type.Name}"))
            .Order(StringComparer.Ordinal).ToList();
        Assert.True(undocumented.Count == 0, $"{undocumented.Count} exceptions thrown but not documented:\n" + string.Join("\n", undocumented));
    }

    private static bool Documents(Dictionary<string, System.Xml.Linq.XElement> docs, MethodInfo member, Type thrown) =>
        docs.TryGetValue(DocCompletenessTests.DocId(member), out var d)
        && d.Elements("exception").Select(e => e.Attribute("cref")?.Value).Any(cref => Lineage(thrown).Any(t => cref == "T:" + t.FullName));

    private static IEnumerable<Type> Lineage(Type t)
    {
        for (Type? a = t; a is not null; a = a.BaseType) yield return a;
    }

    /// <summary>Words of the F# core's API that a C# user never wrote: function names that differ from the C# member's.</summary>
    private static readonly string[] CoreWords =
        { "sumAxes", "meanAxes", "maxAxes", "minAxes", "item needs", "grad needs", "Use vjp", "gradMany", "vjpMany", "jvpMany", "valueAndGradMany",
          "logAbsDet", "leakyReluWith", "broadcastTo", "sumTo", "indexAdd:", "indexSelect:", "solveTriangular", "Layout.", "Reduction.", "Arithmetic." };

    /// <summary>Why the message of an exception from <paramref name="member"/> is not in C# terms, or null: it must name
    /// the member (or, where the facade checked an argument itself, the parameter) and name no parameter the member does
    /// not have and no core function.</summary>
    private static string? InCSharpTerms(MethodInfo member, ArgumentException e)
    {
        if (e is MemoryLimitException) return null;   // about the process's limit, the same words in every API
        var parameters = member.GetParameters().Select(p => p.Name!).ToArray();
        string name = member.Name.StartsWith("op_") ? "operator" : member.Name.StartsWith("get_") ? member.Name[4..] : member.Name;
        if (name == "Item") name = "this[]";
        bool namesMember = e.Message.Contains(name, StringComparison.Ordinal) || e.Message.Contains("Tensor.", StringComparison.Ordinal)
                           || e.Message.Contains("Einsum", StringComparison.Ordinal) || e.Message.Contains("Autodiff.", StringComparison.Ordinal);
        bool namesParameter = e.ParamName is { } pn && parameters.Any(p => pn == p || pn.StartsWith(p + "["));
        if (!namesMember && !namesParameter) return "names neither the member nor one of its parameters";
        if (e.ParamName is { } q && q != "this" && !parameters.Any(p => q == p || q.StartsWith(p + "[")))
            return $"names parameter '{q}', which {name} does not have";
        return CoreWords.FirstOrDefault(w => e.Message.Contains(w, StringComparison.Ordinal)) is { } word ? $"uses the core's '{word}'" : null;
    }

    private static int Soak => int.TryParse(Environment.GetEnvironmentVariable("FUNCTIONAL_SOAK"), out var n) && n > 0 ? n : 1;

    private static string Describe(object? a) => a switch
    {
        null => "null",
        Tensor t => $"tensor[{string.Join("x", t.Shape)}]",
        int[] xs => $"[{string.Join(", ", xs)}]",
        int[][] xss => "[" + string.Join(", ", xss.Select(x => x is null ? "null" : $"[{string.Join(", ", x)}]")) + "]",
        Tensor?[] ts => "[" + string.Join(", ", ts.Select(Describe)) + "]",
        Delegate d => "a function",
        _ => a.ToString() ?? "?",
    };
}
