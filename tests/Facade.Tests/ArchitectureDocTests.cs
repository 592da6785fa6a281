using System.Runtime.CompilerServices;
using Xunit;

namespace Functional.Facade.Tests;

/// <summary>docs/ARCHITECTURE.md names every source file, so that a newcomer finds each one's folder and purpose.</summary>
public class ArchitectureDocTests
{
    [Fact]
    public void Every_source_file_is_named_in_the_architecture_document()
    {
        var root = RepoRoot();
        var doc = File.ReadAllText(Path.Combine(root, "docs", "ARCHITECTURE.md"));
        string[] extensions = { ".fs", ".fsi", ".cs" };
        var missing = new[] { "src", "tests", "benchmarks" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*", SearchOption.AllDirectories))
            .Where(f => extensions.Contains(Path.GetExtension(f)))
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj"))
            .Where(f => !doc.Contains("`" + Path.GetFileName(f) + "`"))
            .Select(f => Path.GetRelativePath(root, f))
            .ToList();
        Assert.True(missing.Count == 0, "docs/ARCHITECTURE.md does not name: " + string.Join(", ", missing));
    }

    private static string RepoRoot([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));
}
