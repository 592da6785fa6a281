using System.Reflection;
using FsCheck;
using FsCheck.Fluent;
using Functional.CrossCheck;
using Functional.Testing;
using Xunit;
using FsGen = FsCheck.Fluent.Gen;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Functional.Facade.Tests;

/// <summary>
/// Every public member of the facade called with random arguments: random shapes and values (NaN and infinities
/// included), nulls, out-of-range integers, unknown enum values, and functions that return null or the wrong shape.
/// Anything thrown must be Functional's own (<see cref="ShapeException"/>, <see cref="EinsumException"/>,
/// <see cref="MemoryLimitException"/>) or of the <see cref="ArgumentException"/> family: never a
/// NullReferenceException, an IndexOutOfRangeException, an InvalidOperationException or an OutOfMemoryException.
/// The surface is every package's: the facade, optimizers and custom ops (with rules that return null or the wrong
/// shape), traced programs, the TorchSharp cross-checks and the testing kit's generators and rule checks.
/// </summary>
public class FacadeFuzzTests
{
    private static readonly Type[] Surface =
    {
        typeof(Tensor), typeof(TensorShape), typeof(Einsum), typeof(Autodiff), typeof(GradientCheck), typeof(TensorScope), typeof(Limits), typeof(Linalg),
        typeof(Loss), typeof(Gradients), typeof(CustomOp), typeof(Sgd), typeof(Adam), typeof(AdamW), typeof(TracedProgram), typeof(TracedOperation),
        typeof(TorchSharpCheck), typeof(TorchSharpEngine), typeof(RuleCheck), typeof(EinsumCheck), typeof(Generators),
    };

    /// <summary>Every public constructor, method and property getter the packages declare, but none that changes
    /// process-wide state (the memory limit) or opens a scope that would outlive the call.</summary>
    private static readonly MethodBase[] Members = Surface
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly).Cast<MethodBase>()
            .Concat(t.GetConstructors()))
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

        private Func<Tensor[], Tensor>? Many() => rng.Next(8) switch
        {
            0 => null,
            6 => Custom() is var op && rng.Next(2) == 0 ? op : xs => op(xs).Sum(),
            7 => Custom() is var op2 ? xs => xs.Length < 2 ? op2(xs) : op2(new[] { xs[1], xs[0] }) * xs[0].Sum() : null,
            1 => xs => xs.Length == 0 ? Functional.Tensor.Scalar(1) : xs[0].Sum(),
            2 => xs => null!,
            3 => xs => xs.Aggregate(Functional.Tensor.Scalar(0), (a, x) => a + x.Sum()),
            4 => xs => xs.Length == 0 ? Functional.Tensor.Scalar(1) : xs[0],
            _ => xs => xs.Length < 2 ? Functional.Tensor.Scalar(2) : (xs[0] * xs[1]).Sum(),
        };

        /// <summary>A custom op whose forward and rules are each right, wrong in shape, or null-returning.</summary>
        private Func<Tensor[], Tensor> Custom()
        {
            Func<Tensor[], Tensor> forward = rng.Next(4) switch
            {
                0 => xs => xs.Length == 0 ? Functional.Tensor.Scalar(1) : xs[0] * 2,
                1 => xs => null!,
                2 => xs => xs.Length == 0 ? Functional.Tensor.Scalar(1) : xs[0].Sum(),
                _ => xs => xs.Length == 0 ? Functional.Tensor.Scalar(1) : xs[0].Sin(),
            };
            Func<Tensor[], Tensor, Tensor, int, Tensor> vjp = rng.Next(4) switch
            {
                0 => (xs, y, g, i) => g * 2,
                1 => (xs, y, g, i) => null!,
                2 => (xs, y, g, i) => g.Sum(),
                _ => (xs, y, g, i) => g * xs[i].Cos(),
            };
            Func<Tensor[], Tensor, int, Tensor, Tensor> jvp = rng.Next(4) switch
            {
                0 => (xs, y, i, t) => t * 2,
                1 => (xs, y, i, t) => null!,
                2 => (xs, y, i, t) => t.Sum(),
                _ => (xs, y, i, t) => t * xs[i].Cos(),
            };
            return CustomOp.Create(Pick(new[] { "fuzz", "", "two words" }), forward, vjp, jvp);
        }

        /// <summary>A TorchSharp function as a user writes one, with results of the wrong shape or null now and then.</summary>
        private Func<TorchTensor[], TorchTensor>? Theirs() => rng.Next(5) switch
        {
            0 => null,
            1 => ts => ts.Length == 0 ? TorchSharp.torch.tensor(1.0) : ts[0].sum(),
            2 => ts => null!,
            3 => ts => ts.Length == 0 ? TorchSharp.torch.tensor(1.0) : ts[0],
            _ => ts => ts.Length == 0 ? TorchSharp.torch.tensor(1.0) : ts[0].exp().sum(),
        };

        private OptimizerState? State()
        {
            var ps = Enumerable.Range(0, rng.Next(0, 3)).Select(_ => Tensor()).ToArray();
            return rng.Next(4) switch
            {
                0 => null,
                1 => new Sgd(0.1).Init(ps),
                2 => new Sgd(0.1, 0.9, false, 0).Step(ps, ps, new Sgd(0.1, 0.9, false, 0).Init(ps)).State,
                _ => new Adam(0.1).Step(ps, ps, new Adam(0.1).Init(ps)).State,
            };
        }

        private EinsumCase? Case() => rng.Next(8) == 0 ? null : FsGen.Sample(Generators.Einsum().Generator, 1)[0];

        /// <summary>An optimizer made by a random one of its constructors, or null when the hyperparameters are refused.</summary>
        public object? Optimizer(Type type)
        {
            var ctor = Pick(type.GetConstructors());
            try { return ctor.Invoke(ctor.GetParameters().Select(p => rng.Next(3) == 0 ? Argument(p.ParameterType) : Sensible(p.ParameterType)).ToArray()); }
            catch (TargetInvocationException e) when (e.InnerException is ArgumentException) { return null; }
        }

        private object Sensible(Type type) => type == typeof(bool) ? rng.Next(2) == 0 : 0.1;

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
            _ when type == typeof(OptimizerState) => State(),
            _ when type == typeof(OptimizerStep) => rng.Next(6) == 0 ? null : Tensor() is var p ? new Sgd(0.1).Step(new[] { p }, new[] { p }, new Sgd(0.1).Init(p)) : null,
            _ when type == typeof(TensorShape) => rng.Next(10) == 0 ? null : Tensor().Shape,
            _ when type == typeof(Func<Tensor[], Tensor, Tensor, int, Tensor>) => rng.Next(6) == 0 ? null : new Func<Tensor[], Tensor, Tensor, int, Tensor>((xs, y, g, i) => rng.Next(2) == 0 ? g : g.Sum()),
            _ when type == typeof(Func<Tensor[], Tensor, int, Tensor, Tensor>) => rng.Next(6) == 0 ? null : new Func<Tensor[], Tensor, int, Tensor, Tensor>((xs, y, i, t) => rng.Next(2) == 0 ? t : t.Sum()),
            _ when type == typeof(Func<TorchTensor[], TorchTensor>) => Theirs(),
            _ when type == typeof(IReadOnlyDictionary<string, Func<TorchTensor[], TorchTensor>>) => rng.Next(4) switch
            {
                0 => null,
                1 => new Dictionary<string, Func<TorchTensor[], TorchTensor>>(),
                _ => new Dictionary<string, Func<TorchTensor[], TorchTensor>> { [Pick(new[] { "fuzz", "", "two words" })] = Theirs()! },
            },
            _ when type == typeof(RuleCheckOptions) => rng.Next(5) == 0 ? null : new RuleCheckOptions
            {
                RelativeStep = rng.Next(2) == 0 ? Pick(Doubles) : 1e-6, RelativeTolerance = rng.Next(2) == 0 ? Pick(Doubles) : 1e-6,
                AbsoluteTolerance = rng.Next(2) == 0 ? Pick(Doubles) : 1e-8, FullJacobianLimit = rng.Next(2) == 0 ? Pick(Ints) : 64, Seed = Pick(Ints),
            },
            _ when type == typeof(EinsumCase) => Case(),
            _ when type == typeof(EinsumOptions) => rng.Next(5) == 0 ? null : new EinsumOptions
            {
                MaxOperands = Pick(Ints), MaxRank = Pick(Ints), MaxSize = Pick(Ints), Broadcasting = rng.Next(2) == 0, Ellipsis = rng.Next(2) == 0,
                ImplicitOutput = rng.Next(2) == 0, RepeatedLabels = rng.Next(2) == 0, ZeroSize = rng.Next(2) == 0,
            },
            _ when type == typeof(TensorIndex[]) => rng.Next(12) == 0 ? null : Enumerable.Range(0, rng.Next(0, 4)).Select(_ => Index()).ToArray(),
            _ => throw new NotSupportedException($"No generator for {type}."),
        };

        public int Next(int n) => rng.Next(n);

        /// <summary>An int (negative too), a ^-index or a range, some beyond any axis.</summary>
        private TensorIndex Index() => rng.Next(5) switch
        {
            4 => default,
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
        var threw = new Dictionary<MethodBase, Dictionary<Type, string>>();
        for (int i = 0; i < cases; i++)
        {
            int seed = baseSeed + i;
            var gen = new Gen(seed);
            var member = Members[gen.Next(Members.Length)];
            seen.Add(member.DeclaringType!.Name + "." + member);
            object?[] args = member.GetParameters().Select(p => gen.Argument(p.ParameterType)).ToArray();
            TensorScope? scope = null;
            object? receiver = null;
            if (!member.IsStatic && member is MethodInfo)
            {
                receiver = member.DeclaringType switch
                {
                    var t when t == typeof(TensorScope) => scope = Tensor.NewScope(),
                    var t when t == typeof(TensorShape) => gen.Tensor().Shape,
                    var t when t == typeof(TracedProgram) => Traced(gen),
                    var t when t == typeof(TracedOperation) => Traced(gen).Operations[0],
                    var t when typeof(IOptimizer).IsAssignableFrom(t) => gen.Optimizer(t),
                    _ => gen.Tensor(),
                };
                if (receiver is null) continue;   // hyperparameters the constructor refused: a case of the constructor's
            }
            bool followUp = false;
            // A case that kills the process leaves no message: FUNCTIONAL_FUZZ_TRACE=file logs each case before it runs.
            if (Environment.GetEnvironmentVariable("FUNCTIONAL_FUZZ_TRACE") is { } tf) System.IO.File.AppendAllText(tf, $"{seed} {member.DeclaringType!.Name}.{member} {string.Join(", ", args.Select(Describe))}\n");
            try
            {
                calls++;
                var result = member is ConstructorInfo ctor ? ctor.Invoke(args) : member.Invoke(receiver, args);
                followUp = true;
                FollowUp(gen, result);
            }
            catch (TargetInvocationException wrapped) when (wrapped.InnerException is { } e)
            {
                thrown++;
                if (!followUp) (threw.TryGetValue(member, out var ts) ? ts : threw[member] = new()).TryAdd(e.GetType(), $"{e.Message} (case seed {seed})");
                if (!Allowed(e))
                    Assert.Fail($"{member.DeclaringType!.Name}.{member} threw {e.GetType().Name}: {e.Message}\n" +
                                $"arguments: {string.Join(", ", args.Select(Describe))}\nreplay with FUNCTIONAL_SEED=\"{seed}\" (case seed).\n{e}");
                if (InCSharpTerms(member, (ArgumentException)e) is { } problem)
                    Assert.Fail($"{member.DeclaringType!.Name}.{member}: {problem}\nmessage: {e.Message}\n" +
                                $"arguments: {string.Join(", ", args.Select(Describe))}\nreplay with FUNCTIONAL_SEED=\"{seed}\" (case seed).");
            }
            catch (Exception e)
            {
                if (!Allowed(e))
                    Assert.Fail($"after {member.DeclaringType!.Name}.{member}, using its result threw {e.GetType().Name}: {e.Message}\n" +
                                $"arguments: {string.Join(", ", args.Select(Describe))}\nreplay with FUNCTIONAL_SEED=\"{seed}\" (case seed).\n{e}");
                thrown++;
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
        var docs = new Dictionary<Assembly, Dictionary<string, System.Xml.Linq.XElement>>();
        Dictionary<string, System.Xml.Linq.XElement> DocsOf(MethodBase m) =>
            docs.TryGetValue(m.DeclaringType!.Assembly, out var d) ? d : docs[m.DeclaringType!.Assembly] = DocCompletenessTests.Docs(m.DeclaringType!.Assembly.GetName().Name!);
        var undocumented = threw
            .SelectMany(kv => kv.Value.Where(t => !Documents(DocsOf(kv.Key), kv.Key, t.Key)).Select(t => $"{DocCompletenessTests.DocId(kv.Key)}: {t.Key.Name}, e.g. {t.Value}"))
            .Order(StringComparer.Ordinal).ToList();
        Assert.True(undocumented.Count == 0, $"{undocumented.Count} exceptions thrown but not documented:\n" + string.Join("\n", undocumented));
    }

    /// <summary>A small traced program to call a <see cref="TracedProgram"/>'s members on.</summary>
    private static TracedProgram Traced(Gen gen) => Autodiff.TraceGradient(xs => (xs[0] * xs[0]).Sum(), gen.Tensor());

    /// <summary>What a member returns is used as a user would: a pullback called with a random adjoint (null and wrong
    /// shapes included), a custom op applied and differentiated, a generator sampled, a program printed.</summary>
    private static void FollowUp(Gen gen, object? result)
    {
        switch (result)
        {
            case VjpResult vjp: vjp.Pullback(gen.Argument(typeof(Tensor)) as Tensor ?? null!); break;
            case Func<Tensor[], Tensor> op:
                var inputs = (Tensor[]?)gen.Argument(typeof(Tensor[])) ?? Array.Empty<Tensor>();
                if (gen.Next(2) == 0) op(inputs);
                else Autodiff.Grad(xs => op(xs).Sum(), inputs);
                break;
            case Gen<int[]> g: FsGen.Sample(g, 3); break;
            case Gen<int[][]> g: FsGen.Sample(g, 3); break;
            case Gen<Tensor> g: FsGen.Sample(g, 3); break;
            case Arbitrary<int[]> a: FsGen.Sample(a.Generator, 3); break;
            case Arbitrary<Tensor> a: FsGen.Sample(a.Generator, 3); break;
            case Arbitrary<EinsumCase> a: FsGen.Sample(a.Generator, 3); break;
            case TracedProgram p: _ = p.ToString(); break;
        }
    }

    private static bool Documents(Dictionary<string, System.Xml.Linq.XElement> docs, MethodBase member, Type thrown) =>
        docs.TryGetValue(DocCompletenessTests.DocId(Documented(docs, member)), out var d)
        && d.Elements("exception").Select(e => e.Attribute("cref")?.Value).Any(cref => Lineage(thrown).Any(t => cref == "T:" + t.FullName));

    /// <summary>The member whose documentation applies: the interface method an <c>inheritdoc</c> implementation takes it from.</summary>
    private static MethodBase Documented(Dictionary<string, System.Xml.Linq.XElement> docs, MethodBase member)
    {
        if (member is not MethodInfo m || !docs.TryGetValue(DocCompletenessTests.DocId(m), out var d) || d.Element("inheritdoc") is null) return member;
        foreach (var i in m.DeclaringType!.GetInterfaces())
        {
            var map = m.DeclaringType.GetInterfaceMap(i);
            int k = Array.IndexOf(map.TargetMethods, m);
            if (k >= 0) return map.InterfaceMethods[k];
        }
        return member;
    }

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
    private static string? InCSharpTerms(MethodBase member, ArgumentException e)
    {
        if (e is MemoryLimitException) return null;   // about the process's limit, the same words in every API
        // A custom op's rule that returned null or the wrong shape, met wherever the op is used: named by the op's
        // name and the rule, in the terms of CustomOp.Create that defined it.
        if (e.Message.Contains("of custom op '", StringComparison.Ordinal) && e.ParamName is "forward" or "vjp" or "jvp") return null;
        // An error from a facade member that a function given to this one called (a member that runs the function as it
        // is, such as TorchSharpCheck.Verify, passes it on): in the terms of the member the function called.
        if (member.GetParameters().Any(p => typeof(Delegate).IsAssignableFrom(p.ParameterType))
            && e.Data["Functional.Facade.Translated"] is string inner && e.Message.StartsWith(inner + ": ", StringComparison.Ordinal)) return null;
        var parameters = member.GetParameters().Select(p => p.Name!).ToArray();
        string name = member is ConstructorInfo ? member.DeclaringType!.Name
            : member.Name.StartsWith("op_") ? "operator" : member.Name.StartsWith("get_") ? member.Name[4..] : member.Name;
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
