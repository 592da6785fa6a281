using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using Functional.CrossCheck;
using Functional.Testing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace Functional.Facade.Tests;

/// <summary>The shipped einsum generator: valid by construction, the features it promises, equal to TorchSharp, and
/// shrinking to minimal cases.</summary>
public class EinsumGeneratorTests(ITestOutputHelper output)
{
    [Fact]
    public void Two_thousand_default_problems_are_valid_agree_with_TorchSharp_and_cover_every_feature()
    {
        const int count = 2000;
        var options = new EinsumOptions();
        var sw = Stopwatch.StartNew();
        var cases = Enumerable.Range(0, count).Select(seed => Generators.Build(seed, options)).ToArray();
        double perSecond = count / sw.Elapsed.TotalSeconds;
        var features = new Dictionary<string, int>();
        foreach (var c in cases)
        {
            foreach (var f in c.Features) features[f] = features.GetValueOrDefault(f) + 1;
            var value = Einsum.Contract(c.Equation, c.Operands);
            var report = TorchSharpCheck.Compare(xs => Einsum.Contract(c.Equation, xs), ts => torch.einsum(c.Equation, ts), c.Operands);
            Assert.True(report.Passed, $"{c}: {report}");
            Assert.NotNull(value);
        }
        string Share(string f) => $"{f} {100.0 * features.GetValueOrDefault(f) / count:F1} %";
        output.WriteLine($"{count} problems, generated at {perSecond:F0} per second (with their operands); " +
                         string.Join(", ", new[] { "repeated label", "ellipsis", "size-1 broadcast", "zero-size", "3+ operands", "implicit output" }.Select(Share)));
        foreach (var f in new[] { "repeated label", "ellipsis", "size-1 broadcast", "3+ operands", "implicit output" })
            Assert.True(features.GetValueOrDefault(f) >= count / 10, Share(f));
        Assert.True(features.GetValueOrDefault("zero-size") >= count / 20, Share("zero-size"));
    }

    /// <summary>Runs a property through FsCheck (fixed seed) and returns the case it shrank to.</summary>
    private static EinsumCase ShrunkCounterexample(Func<EinsumCase, bool> holds, EinsumOptions? options = null)
    {
        EinsumCase? last = null;
        var property = Prop.ForAll(Generators.Einsum(options ?? new EinsumOptions()), c =>
        {
            bool ok = holds(c);
            if (!ok) last = c;
            return ok;
        });
        var config = Config.QuickThrowOnFailure.WithMaxTest(1000).WithReplay(12345UL, 6789UL);
        Assert.ThrowsAny<Exception>(() => Check.One(config, property));
        return last ?? throw new InvalidOperationException("The property never failed.");
    }

    [Fact]
    public void A_failure_on_repeated_labels_shrinks_to_one_operand_with_sizes_at_most_2()
    {
        var shrunk = ShrunkCounterexample(c => !c.Features.Contains("repeated label"));
        output.WriteLine("shrunk to: " + shrunk);
        Assert.Single(shrunk.Operands);
        Assert.All(shrunk.Shapes.SelectMany(s => s), d => Assert.True(d <= 2, shrunk.ToString()));
        Assert.Contains("repeated label", shrunk.Features);
    }

    [Fact]
    public void A_failure_on_a_zero_size_dimension_shrinks_to_a_single_zero_size_dimension()
    {
        var shrunk = ShrunkCounterexample(c => !c.Shapes.Any(s => s.Contains(0)));
        output.WriteLine("shrunk to: " + shrunk);
        Assert.Single(shrunk.Operands);
        Assert.Equal(new[] { 0 }, shrunk.Shapes[0]);
    }

    [Fact]
    public void Features_can_be_switched_off()
    {
        var options = new EinsumOptions { RepeatedLabels = false, Ellipsis = false, Broadcasting = false, ImplicitOutput = false, ZeroSize = false, MaxOperands = 2 };
        for (int seed = 0; seed < 500; seed++)
        {
            var c = Generators.Build(seed, options);
            Assert.Empty(c.Features);
            Assert.True(c.Operands.Length <= 2);
            Einsum.Contract(c.Equation, c.Operands);
        }
    }

    [Fact]
    public void Shapes_and_tensors_generate_within_their_bounds()
    {
        var shapes = Gen.Sample(Generators.Shape(3, 4), 200);
        Assert.All(shapes, s => Assert.True(s.Length <= 3 && s.All(d => d is >= 1 and <= 4)));
        var tensors = Gen.Sample(Generators.Tensor(new[] { 2, 3 }, -1, 2), 50);
        Assert.All(tensors, t => Assert.True(t.ToArray().All(v => v is >= -1 and <= 2)));
        var away = Gen.Sample(Generators.Tensor(new[] { 100 }, -1, 1, 0.1, 0.0), 20);
        Assert.All(away, t => Assert.True(t.ToArray().All(v => Math.Abs(v) >= 0.1)));
        // Kept inside [min, max] and away from every avoided point at once (pushing 0.015 off 0.02 gave −0.03, and a
        // push off one point could land near another).
        var inside = Gen.Sample(Generators.Tensor(new[] { 200 }, 0.01, 2, 0.05, 0.02), 20);
        Assert.All(inside, t => Assert.True(t.ToArray().All(v => v is >= 0.01 and <= 2 && Math.Abs(v - 0.02) >= 0.05)));
        var two = Gen.Sample(Generators.Tensor(new[] { 200 }, -1, 1, 0.1, 0.15, 0.0), 20);
        Assert.All(two, t => Assert.True(t.ToArray().All(v => Math.Abs(v - 0.15) >= 0.1 && Math.Abs(v) >= 0.1 && v is >= -1 and <= 1)));
        Assert.Equal("gap", Assert.Throws<ArgumentOutOfRangeException>(() => Generators.Tensor(new[] { 3 }, 0, 1, 0.6, 0.5)).ParamName);
    }

    [Fact]
    public void Shrinking_keeps_a_case_within_its_options()
    {
        // Two labels merged inside one operand make a diagonal, which RepeatedLabels = false excludes.
        var options = new EinsumOptions { RepeatedLabels = false };
        var arb = Generators.Einsum(options);
        foreach (var c in Gen.Sample(arb.Generator, 40))
            foreach (var smaller in arb.Shrinker(c).Take(200))
                Assert.DoesNotContain("repeated label", smaller.Features);
    }

    [Fact]
    public void Every_shrink_changes_the_case_and_no_operand_keeps_a_size_1_showing_of_a_label_it_lost()
    {
        // A size shrink of a label no operand shows, or of an ellipsis dimension none covers, would be the same case:
        // FsCheck would take it as smaller and run the property again for nothing.
        var options = new EinsumOptions();
        var arb = Generators.Einsum(options);
        for (int seed = 0; seed < 300; seed++)
        {
            var c = Generators.Build(seed, options);
            foreach (var smaller in arb.Shrinker(c))
            {
                Assert.NotEqual(c.ToString(), smaller.ToString());
                Assert.All(smaller.Specs, o => Assert.True(o.Ones.All(o.Items.Contains), $"{smaller} from {c}: a size-1 showing of a label the operand lost"));
            }
        }
    }

    [Fact]
    public void MaxSize_above_five_is_reached_and_the_empty_equation_replays_as_its_explicit_form()
    {
        // Sizes reach MaxSize, not only the default's 5.
        var options = new EinsumOptions { MaxSize = 9 };
        var largest = Enumerable.Range(0, 400).Select(seed => Generators.Build(seed, options)).SelectMany(c => c.Shapes.SelectMany(s => s)).Max();
        Assert.InRange(largest, 6, 9);
        // The CLI reads an empty argument as none: "" is replayed as "->".
        var empty = Enumerable.Range(0, 5000).Select(seed => Generators.Build(seed, new EinsumOptions())).First(c => c.Equation.Length == 0);
        Assert.Contains("functional check \"->\" --shapes scalar", empty.ReplayCommand);
        // A case's operands are its own: setting an element of the array read does not change them for others.
        var c0 = Generators.Build(3, new EinsumOptions());
        var before = c0.Operands[0];
        c0.Operands[0] = Tensor.Zeros(1);
        Assert.Same(before, c0.Operands[0]);
    }

    [Fact]
    public void Generated_problems_pass_the_metamorphic_checks()
    {
        int implicitForms = 0;
        for (int seed = 0; seed < 300; seed++)
        {
            var c = Generators.Build(seed, new EinsumOptions());
            var report = EinsumCheck.Metamorphic(c);
            Assert.True(report.Passed, $"{c}: {report}");
            // An implicit output is also checked as written against its explicit form.
            if (!c.Equation.Contains("->"))
            {
                implicitForms++;
                Assert.Contains("written implicitly", report.ToString());
            }
        }
        Assert.True(implicitForms > 0, "no implicit-output case among 300");
    }

    [Fact]
    public void Broadcast_shapes_broadcast_and_shapes_shrink()
    {
        foreach (var shapes in Gen.Sample(Generators.BroadcastShapes(3, 3, 4), 200))
        {
            var sum = shapes.Select(s => Tensor.Zeros(s)).Aggregate((a, b) => a + b);
            Assert.True(sum.Rank == shapes.Max(s => s.Length));
        }
        // A property that fails on any dimension of 3 or more ends at a single dimension of that size.
        int[]? last = null;
        var property = Prop.ForAll(Generators.ShapeArbitrary(4, 5), s => { bool ok = s.All(d => d < 3); if (!ok) last = s; return ok; });
        Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure.WithReplay(5UL, 7UL), property));
        output.WriteLine("shape shrunk to [" + string.Join(", ", last!) + "]");
        Assert.Single(last!);
    }

    [Fact]
    public void Zero_size_shapes_are_optional_and_tensor_values_shrink()
    {
        var shapes = Gen.Sample(Generators.Shape(3, 4, zeroSize: true), 400);
        Assert.Contains(shapes, s => s.Contains(0));
        Assert.DoesNotContain(Gen.Sample(Generators.Shape(3, 4, zeroSize: false), 400), s => s.Contains(0));
        // A property that fails when any element exceeds 1.5 ends with one element above it and the rest at 0.
        Tensor? last = null;
        var property = Prop.ForAll(Generators.TensorArbitrary(new[] { 2, 3 }, -2, 2), t => { bool ok = t.ToArray().All(v => v <= 1.5); if (!ok) last = t; return ok; });
        Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure.WithReplay(3UL, 5UL), property));
        output.WriteLine("tensor shrunk to " + last);
        Assert.Equal(5, last!.ToArray().Count(v => v == 0));
        // 20,000 elements and one that matters: blocks shrink the rest in a few dozen rounds, where one element a
        // round took 20,000 rounds of up to 40,000 candidates.
        Tensor? big = null;
        var wide = Prop.ForAll(Generators.TensorArbitrary(new[] { 20_000 }, -2, 2), t => { bool ok = t.ValueAt(12_345) <= 1.5; if (!ok) big = t; return ok; });
        Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure.WithReplay(3UL, 5UL).WithMaxTest(1000), wide));
        Assert.Equal(19_999, big!.ToArray().Count(v => v == 0));
    }

    [Fact]
    public void Tensors_kept_away_from_kinks_shrink_without_crossing_the_gap()
    {
        // A property that fails when an element exceeds 1.5 (away from the kinks at 0 and ±1): every shrink stays 0.25 or
        // more from them, and the rest go to the allowed value nearest 0.
        var kinks = new[] { 0.0, 1.0, -1.0 };
        bool Away(double v) => kinks.All(k => Math.Abs(v - k) >= 0.25);
        Tensor? last = null;
        var seen = new List<double>();
        var property = Prop.ForAll(Generators.TensorArbitrary(new[] { 2, 3 }, -2, 2, 0.25, kinks), t =>
        {
            seen.AddRange(t.ToArray());
            bool ok = t.ToArray().All(v => v <= 1.5);
            if (!ok) last = t;
            return ok;
        });
        Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure.WithReplay(3UL, 5UL), property));
        output.WriteLine("tensor shrunk to " + last);
        Assert.All(seen, v => Assert.True(Away(v), $"{v} is within 0.25 of a kink"));
        Assert.Equal(5, last!.ToArray().Count(v => Math.Abs(v) == 0.25));
        Assert.Contains(last!.ToArray(), v => v > 1.5);
    }

    [Fact]
    public void The_metamorphic_comparison_looks_at_every_operand_s_gradient()
    {
        // Three operands' gradients, the variant's last one off at its last element only.
        var y = Tensor.Ones(2);
        var grads = new[] { Tensor.Ones(2), Tensor.Ones(3), Tensor.Ones(4) };
        var lastOff = new[] { Tensor.Ones(2), Tensor.Ones(3), Tensor.FromArray(new[] { 1.0, 1, 1, 1.5 }, 4) };
        Assert.Null(EinsumCheck.Compare("operands reordered", "i,j,k->i", "k,j,i->i", y, y, grads, grads, k => k));
        var r = EinsumCheck.Compare("operands reordered", "i,j,k->i", "k,j,i->i", y, y, grads, lastOff, k => k);
        Assert.NotNull(r);
        Assert.False(r!.Passed);
        Assert.Equal("i,j,k->i written as k,j,i->i: the gradient of operand 2 differs at element 3: 1.5 instead of 1", r.Details);
        // The variant's operands in another order: operand k's gradient is read where the variant put it.
        Assert.Null(EinsumCheck.Compare("operands reordered", "i,j,k->i", "k,j,i->i", y, y, grads, grads.Reverse().ToArray(), k => 2 - k));
    }
}
