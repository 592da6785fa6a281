using System.Diagnostics;
using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace Functional.Facade.Tests;

/// <summary>The README's training example, run as printed there: a perceptron on the Iris table (data/iris.csv).</summary>
public class IrisExampleTests(ITestOutputHelper output)
{
    /// <summary>The example, between the markers, is the README's text (checked below).</summary>
    public static (double Accuracy, double Loss) Train(string csvPath)
    {
        // README begin
        // Iris: 150 flowers, 4 measurements, 3 species. Every fifth row is held out for testing.
        string[] species = { "setosa", "versicolor", "virginica" };
        var rows = File.ReadAllLines(csvPath).Skip(1).Select(line => line.Split(',')).ToArray();
        var x = Tensor.FromArray(rows.SelectMany(r => r.Take(4).Select(v => double.Parse(v, CultureInfo.InvariantCulture))).ToArray(), rows.Length, 4);
        int[] labels = rows.Select(r => Array.IndexOf(species, r[4])).ToArray();
        var centred = x - x.Mean(new[] { 0 }, true);
        x = centred / centred.Square().Mean(new[] { 0 }, true).Sqrt();          // standardised columns
        int[] test = Enumerable.Range(0, rows.Length).Where(i => i % 5 == 0).ToArray();
        int[] train = Enumerable.Range(0, rows.Length).Where(i => i % 5 != 0).ToArray();
        var (xTrain, yTrain) = (x.IndexSelect(0, train), train.Select(i => labels[i]).ToArray());
        var (xTest, yTest) = (x.IndexSelect(0, test), test.Select(i => labels[i]).ToArray());

        // A 4 → 16 → 3 perceptron with tanh, trained full-batch with Adam on cross-entropy.
        static Tensor Logits(Tensor[] p, Tensor input) => (input.MatMul(p[0]) + p[1]).Tanh().MatMul(p[2]) + p[3];
        Tensor[] parameters = { Tensor.Normal(new[] { 4, 16 }, seed: 1, 0, 0.5), Tensor.Zeros(16), Tensor.Normal(new[] { 16, 3 }, seed: 2, 0, 0.5), Tensor.Zeros(3) };
        var adam = new Adam(learningRate: 0.05);
        var state = adam.Init(parameters);
        for (int epoch = 0; epoch < 200; epoch++)
        {
            var gradients = Autodiff.Grad(p => Loss.CrossEntropy(Logits(p, xTrain), yTrain), parameters);
            (parameters, state) = adam.Step(parameters, gradients, state);
        }
        double[] predicted = Logits(parameters, xTest).ArgMax(1).ToArray();
        double accuracy = predicted.Where((p, i) => p == yTest[i]).Count() / (double)yTest.Length;
        // README end
        return (accuracy, Loss.CrossEntropy(Logits(parameters, xTrain), yTrain).ToScalar());
    }

    public static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Functional.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Functional.sln not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void The_Iris_perceptron_reaches_its_stated_accuracy_from_its_seeds()
    {
        var clock = Stopwatch.StartNew();
        var (accuracy, loss) = Train(Path.Combine(Root(), "data", "iris.csv"));
        output.WriteLine($"held-out accuracy {accuracy:P1}, training loss {loss:F4}, {clock.ElapsedMilliseconds} ms");
        Assert.True(accuracy >= 29.0 / 30, $"held-out accuracy {accuracy:P1}");
    }

    [Fact]
    public void The_README_prints_the_example_as_it_runs()
    {
        string source = File.ReadAllText(Path.Combine(Root(), "tests", "Facade.Tests", "IrisExampleTests.cs"));
        int i = source.IndexOf("// README begin", StringComparison.Ordinal), j = source.IndexOf("// README end", StringComparison.Ordinal);
        var lines = source[(source.IndexOf('\n', i) + 1)..j].Split('\n').Select(l => l.Length >= 8 ? l[8..] : l.TrimStart()).ToArray();
        string readme = File.ReadAllText(Path.Combine(Root(), "README.md"));
        Assert.Contains(string.Join("\n", lines).TrimEnd(), readme);
    }
}
