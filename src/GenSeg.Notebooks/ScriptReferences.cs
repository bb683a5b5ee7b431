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

    /// <summary>Refuses <c>#r "nuget: ..."</c>, as a notebook that passes here must not fail in the .NET Interactive
    /// kernel: there the line restores the package into the NuGet cache and loads that copy, a second one beside the kit's
    /// (TorchSharp's unpatched native library fails to load on Debian 12 / Ubuntu 22.04; Plotly.NET 6 is built for a newer
    /// FSharp.Core than the kernel's), and a package the kit lacks could not be restored here. The kit's reference cell
    /// brings every package it uses.</summary>
    public static NotSupportedException RefusePackage(NuGetReference package)
    {
        var kit = PackageCatalog.Find(package.Name);
        var why = kit is not null
            ? $"the kit's reference cell already brings {kit.Name} {kit.Version} (its build, with what the kernel needs); in the " +
              ".NET Interactive kernel this line would load a second copy from the NuGet cache"
            : $"{package.Name} is not one of the kit's packages ({string.Join(", ", PackageCatalog.All.Select(p => p.Name))}), and the " +
              "runner restores nothing";
        return new NotSupportedException(
            $"#r \"nuget: {package.Name}\" (line {package.Line}): {why}. Reference the kit as the notebooks do: " +
            $"#r \"{KitFolder}/GenSeg.dll\", #r \"{KitFolder}/GenSeg.Notebooks.dll\", then GenSeg.Notebooks.NotebookKit.Start() (see docs/notebooks.md)");
    }

    /// <summary>Where the notebooks reference the kit from, relative to <c>notebooks/</c>: the build's kernel folder.</summary>
    public const string KitFolder = "../src/GenSeg.Notebooks/bin/Release/kernel";

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
            // The kernel loads the referenced file; the runner uses its own copy, so say when they are different builds.
            return Mvid(full) == loaded.ManifestModule.ModuleVersionId ? [] :
                [$"warning: #r \"{reference.Path}\": {full} is another build of {name.Name} than the runner's ({loaded.Location}); " +
                 "the runner uses its own. Rebuild both with `dotnet build Research.sln -c Release`"];
        }
        if (_added.Add(name.Name!)) Options = Options.AddReferences(MetadataReference.CreateFromFile(full));
        return [];
    }

    static Guid Mvid(string path)
    {
        using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(path));
        var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        return md.GetGuid(md.GetModuleDefinition().Mvid);
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
