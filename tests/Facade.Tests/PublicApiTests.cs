using System.Reflection;
using System.Runtime.CompilerServices;
using PublicApiGenerator;
using Xunit;

namespace Functional.Facade.Tests;

/// <summary>
/// The public surface of every shipped assembly, recorded in <c>tests/Facade.Tests/Api/*.txt</c>: a change to it
/// is a reviewed diff. On a difference the test writes <c>*.received.txt</c> beside the approved file and fails;
/// copy it over the approved file when the change is intended.
/// </summary>
public class PublicApiTests
{
    public static TheoryData<string> Assemblies => new()
    {
        "Functional.Core", "Functional.Kernels", "Functional.Facade", "Functional.CrossCheck.TorchSharp", "Functional.CrossCheck.Facade", "Functional.Testing", "Functional.Testing.FSharp",
    };

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void The_public_surface_is_the_approved_one(string name)
    {
        var assembly = Assembly.Load(name);
        var received = $"// {Count(assembly)}\n" + assembly.GeneratePublicApi(new ApiGeneratorOptions { IncludeAssemblyAttributes = false }).Replace("\r\n", "\n") + "\n";
        var approvedPath = Path.Combine(ApiFolder(), name + ".txt");
        var approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath).Replace("\r\n", "\n") : "";
        var receivedPath = Path.Combine(ApiFolder(), name + ".received.txt");
        if (approved != received)
        {
            File.WriteAllText(receivedPath, received);
            Assert.Fail($"The public API of {name} differs from {approvedPath}. Review {receivedPath}; if the change is intended, copy it over the approved file.");
        }
        if (File.Exists(receivedPath)) File.Delete(receivedPath);
    }

    /// <summary>Public types and their public members (declared, not inherited), as the file's first line.</summary>
    private static string Count(Assembly assembly)
    {
        var types = assembly.GetExportedTypes();
        const BindingFlags flags = BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        int members = types.Sum(t => t.GetMembers(flags).Count(m => m is not Type && !(m is MethodInfo mi && mi.IsSpecialName)));
        return $"{types.Length} public types, {members} public members";
    }

    private static string ApiFolder([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Api");
}
