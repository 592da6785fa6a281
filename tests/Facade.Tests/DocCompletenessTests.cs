using System.Reflection;
using System.Xml.Linq;
using Xunit;

namespace Functional.Facade.Tests;

/// <summary>Every public method of the C# packages documents each parameter and what it returns (IntelliSense shows
/// them), as the house style asks; compiler-made record members are left out.</summary>
public class DocCompletenessTests
{
    private static readonly string[] Generated = { "Equals", "GetHashCode", "Deconstruct", "<Clone>$", "PrintMembers", "op_Equality", "op_Inequality" };

    /// <summary>The XML documentation's id of a method (<c>M:Namespace.Type.Name(ParamTypes)</c>).</summary>
    public static string DocId(MethodBase m)
    {
        var ps = m.GetParameters();
        if (m is ConstructorInfo)
            return $"M:{m.DeclaringType!.FullName!.Replace('+', '.')}.#ctor" + (ps.Length == 0 ? "" : "(" + string.Join(",", ps.Select(p => TypeId(p.ParameterType))) + ")");
        // A property's getter is documented on the property (an indexer with its parameters).
        if (m.IsSpecialName && m.Name.StartsWith("get_"))
            return $"P:{m.DeclaringType!.FullName!.Replace('+', '.')}.{m.Name[4..]}" + (ps.Length == 0 ? "" : "(" + string.Join(",", ps.Select(p => TypeId(p.ParameterType))) + ")");
        string id = $"M:{m.DeclaringType!.FullName!.Replace('+', '.')}.{m.Name}" + (ps.Length == 0 ? "" : "(" + string.Join(",", ps.Select(p => TypeId(p.ParameterType))) + ")");
        return m.Name == "op_Implicit" ? id + "~" + TypeId(((MethodInfo)m).ReturnType) : id;
    }

    /// <summary>The XML documentation of an assembly, by member id.</summary>
    public static Dictionary<string, XElement> Docs(string assemblyName) =>
        XDocument.Load(Path.Combine(AppContext.BaseDirectory, assemblyName + ".xml")).Descendants("member").ToDictionary(m => m.Attribute("name")!.Value);

    private static string TypeId(Type t) =>
        t.IsArray ? TypeId(t.GetElementType()!) + (t.GetArrayRank() == 1 ? "[]" : "[" + string.Join(",", Enumerable.Repeat("0:", t.GetArrayRank())) + "]")
        : t.IsGenericType ? t.GetGenericTypeDefinition().FullName!.Split('`')[0] + "{" + string.Join(",", t.GetGenericArguments().Select(TypeId)) + "}"
        : t.FullName!.Replace('+', '.');

    public static IEnumerable<object[]> Assemblies() => new[]
    {
        new object[] { typeof(Tensor).Assembly.GetName().Name! },
        new object[] { typeof(Functional.CrossCheck.TorchSharpCheck).Assembly.GetName().Name! },
        new object[] { typeof(Functional.Testing.RuleCheck).Assembly.GetName().Name! },
    };

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Every_public_method_documents_its_parameters_and_result(string assemblyName)
    {
        var assembly = AppDomain.CurrentDomain.GetAssemblies().Single(a => a.GetName().Name == assemblyName);
        var docs = Docs(assemblyName);
        var missing = new List<string>();
        foreach (var t in assembly.GetExportedTypes())
            foreach (var m in t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                if ((m.IsSpecialName && !m.Name.StartsWith("op_")) || Generated.Contains(m.Name) || m.Name == "get_EqualityContract"
                    || m.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute))) continue;
                var ps = m.GetParameters();
                string id = DocId(m);
                if (!docs.TryGetValue(id, out var d)) { missing.Add(id + " (undocumented)"); continue; }
                if (d.Element("inheritdoc") is not null) continue;
                var absent = ps.Where(p => !d.Elements("param").Any(e => e.Attribute("name")?.Value == p.Name)).Select(p => p.Name).ToList();
                if (m.ReturnType != typeof(void) && d.Element("returns") is null) absent.Add("<returns>");
                if (absent.Count > 0) missing.Add($"{id}: {string.Join(", ", absent)}");
            }
        Assert.True(missing.Count == 0, $"{missing.Count} members lack documentation:\n" + string.Join("\n", missing));
    }
}
