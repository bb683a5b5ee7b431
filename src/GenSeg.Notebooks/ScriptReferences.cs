using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.AspNetCore.Html;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.DotNet.Interactive.Formatting;

namespace GenSeg.Notebooks;

/// <summary>The references and imports of one notebook run, growing with each <c>#r</c>. Assemblies the runner has
/// loaded itself (GenSeg, TorchSharp, Plotly.NET...) are referenced as the loaded copies, so a notebook never loads a
/// second GenSeg or TorchSharp.</summary>
internal sealed class ScriptReferences
{
    /// <summary>What the .NET Interactive C# kernel imports by default (its own namespaces aside).</summary>
    static readonly string[] DefaultImports =
    [
        "System", "System.Text", "System.Collections", "System.Collections.Generic", "System.Threading.Tasks", "System.Linq",
        "Microsoft.DotNet.Interactive.Formatting", "Microsoft.DotNet.Interactive.Formatting.PocketViewTags",
    ];

    static readonly string RuntimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;

    static readonly Lazy<ImmutableArray<MetadataReference>> Framework = new(() =>
        [..Directory.GetFiles(RuntimeDirectory, "*.dll").Where(IsManaged).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))]);

    readonly string _baseDirectory;
    readonly HashSet<string> _added = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The options the next cell compiles with.</summary>
    public ScriptOptions Options { get; private set; }

    public ScriptReferences(string baseDirectory)
    {
        _baseDirectory = baseDirectory;
        Options = ScriptOptions.Default
            .WithReferences(Framework.Value)
            .WithImports(DefaultImports)
            .WithLanguageVersion(LanguageVersion.Latest)
            .WithFilePath(Path.Combine(baseDirectory, "notebook.csx"))
            .WithSourceResolver(new SourceFileResolver([], baseDirectory))
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(baseDirectory))
            .WithEmitDebugInformation(false);
        foreach (var a in new[] { typeof(Formatter).Assembly, typeof(HtmlString).Assembly, typeof(NotebookGlobals).Assembly })
            AddLoaded(a, withDependencies: false);
    }

    /// <summary>Satisfies <c>#r "nuget: ..."</c> from the kit's own packages; returns warnings (a version other than the
    /// kit's). An unknown package is an error naming it and listing the supported ones.</summary>
    public IReadOnlyList<string> AddPackage(NuGetReference package)
    {
        var known = PackageCatalog.Find(package.Name) ?? throw new NotSupportedException(
            $"#r \"nuget: {package.Name}\" (line {package.Line}): package {package.Name} is not available in the GenSeg notebook runner; " +
            $"it supplies the packages the kit uses: {string.Join(", ", PackageCatalog.All.Select(p => $"{p.Name} {p.Version}"))}");
        foreach (var name in known.Assemblies) AddLoaded(AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName(name)), withDependencies: true);
        return package.Version is { } v && v != known.Version
            ? [$"warning: #r \"nuget: {package.Name}, {v}\": the runner supplies {known.Name} {known.Version}, the version the kit uses"]
            : [];
    }

    /// <summary>Adds <c>#r "path.dll"</c> (relative to the notebook's folder). When the runner already has an assembly of
    /// that name loaded, the loaded one is used.</summary>
    public IReadOnlyList<string> AddAssembly(AssemblyReference reference)
    {
        var full = Path.GetFullPath(Path.Combine(_baseDirectory, reference.Path));
        if (!File.Exists(full))
            throw new FileNotFoundException($"#r \"{reference.Path}\" (line {reference.Line}): {full} does not exist", full);
        var name = AssemblyName.GetAssemblyName(full);
        if (TryLoadFromRunner(name) is { } loaded)
        {
            AddLoaded(loaded, withDependencies: true);
            var have = loaded.GetName().Version;
            return have == name.Version ? [] :
                [$"warning: #r \"{reference.Path}\": {name.Name} {name.Version} requested, the runner's {name.Name} {have} is used"];
        }
        if (_added.Add(name.Name!)) Options = Options.AddReferences(MetadataReference.CreateFromFile(full));
        return [];
    }

    static Assembly? TryLoadFromRunner(AssemblyName name)
    {
        var already = AppDomain.CurrentDomain.GetAssemblies()
            .FirstOrDefault(a => !a.IsDynamic && AssemblyName.ReferenceMatchesDefinition(new AssemblyName(name.Name!), a.GetName())
                                 && AssemblyLoadContext.GetLoadContext(a) == AssemblyLoadContext.Default);
        if (already is not null) return already;
        try
        {
            return AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName(name.Name!));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return null;
        }
    }

    void AddLoaded(Assembly assembly, bool withDependencies)
    {
        if (assembly.IsDynamic || string.IsNullOrEmpty(assembly.Location)) return;
        if (Path.GetDirectoryName(assembly.Location) == RuntimeDirectory) return; // part of the framework, referenced already
        if (!_added.Add(assembly.GetName().Name!)) return;
        Options = Options.AddReferences(assembly);
        if (!withDependencies) return;
        foreach (var dependency in assembly.GetReferencedAssemblies())
        {
            if (_added.Contains(dependency.Name!)) continue;
            if (TryLoadFromRunner(dependency) is { } d) AddLoaded(d, withDependencies: true);
        }
    }

    static bool IsManaged(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
