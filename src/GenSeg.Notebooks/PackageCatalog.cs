using System.Reflection;

namespace GenSeg.Notebooks;

/// <summary>A NuGet package the kit builds with, and so brings through its reference cell (the runner names it when it
/// refuses a <c>#r "nuget: ..."</c> line).</summary>
/// <param name="Name">Package id.</param>
/// <param name="Version">The version the kit builds with (from Directory.Packages.props).</param>
/// <param name="Assemblies">Assemblies it brings (empty for formatting extensions the runner supplies itself).</param>
public sealed record SupportedPackage(string Name, string Version, IReadOnlyList<string> Assemblies);

/// <summary>The packages the kit brings to a notebook. Versions come from the kit's central package list, embedded in this
/// assembly at build time, so the runner and the kit cannot disagree.</summary>
public static class PackageCatalog
{
    /// <summary>Every supported package, by id.</summary>
    public static IReadOnlyList<SupportedPackage> All { get; } = Build();

    /// <summary>The package with this id (case-insensitive, as NuGet ids are), or null.</summary>
    public static SupportedPackage? Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    static IReadOnlyList<SupportedPackage> Build()
    {
        var versions = typeof(PackageCatalog).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Where(a => a.Key.StartsWith("nuget:", StringComparison.Ordinal))
            .ToDictionary(a => a.Key[6..], a => a.Value ?? "", StringComparer.OrdinalIgnoreCase);
        string V(string id) => versions.TryGetValue(id, out var v) ? v : "";

        // Formatting extensions release in step with their library, so their version is the library's.
        return
        [
            new("TorchSharp-cpu", V("TorchSharp-cpu"), ["TorchSharp"]),
            new("TorchSharp-cuda-linux", V("TorchSharp-cuda-linux"), ["TorchSharp"]),
            new("TorchSharp", V("TorchSharp-cpu"), ["TorchSharp"]),
            new("Plotly.NET", V("Plotly.NET"), ["Plotly.NET"]),
            new("Plotly.NET.CSharp", V("Plotly.NET.CSharp"), ["Plotly.NET.CSharp"]),
            new("Plotly.NET.Interactive", V("Plotly.NET"), ["Plotly.NET"]),
            new("Microsoft.Data.Analysis", V("Microsoft.Data.Analysis"), ["Microsoft.Data.Analysis"]),
            new("Microsoft.Data.Analysis.Interactive", V("Microsoft.Data.Analysis"), ["Microsoft.Data.Analysis"]),
            new("SkiaSharp", V("SkiaSharp"), ["SkiaSharp"]),
            new("Microsoft.DotNet.Interactive.Formatting", V("Microsoft.DotNet.Interactive.Formatting"), []),
        ];
    }
}
