using System.Collections.Immutable;
using GenSeg.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace GenSeg.Tests.Architecture;

/// <summary>
/// The layers hold: every type or member a source file of the kit names (resolved by Roslyn over the sources of
/// GenSeg, GenSeg.Notebooks and GenSeg.Cli, so unused usings do not count and fully qualified names do) lives in the
/// file's own layer or one below. The methods (G4Seg, PaintSeg, the cross-attention baseline in <c>GenSeg.Methods</c>)
/// are siblings: none names another; what they share lives below them in <c>Methods.Inputs</c> (prompts),
/// <c>Methods.Shared</c> (class tokens, multi-class combination) and <c>Methods.DenseCrf</c> (the CRF PaintSeg uses).
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class LayerTests
{
    /// <summary>The layers, lowest first: a namespace belongs to the longest prefix listed here.</summary>
    public static readonly IReadOnlyList<(string Prefix, int Layer)> Layers = new[]
    {
        ("GenSeg.Common", 0), ("GenSeg.Runtime", 0), ("GenSeg.Native", 0),
        ("GenSeg.Imaging", 1),
        ("GenSeg.Diffusion", 2),
        ("GenSeg.Features", 3),
        ("GenSeg.Methods.Inputs", 4), ("GenSeg.Methods.Shared", 4), ("GenSeg.Methods.DenseCrf", 4),
        ("GenSeg.Methods", 5), // GenSeg.Methods itself and each method's namespace below it: siblings
        ("GenSeg.Datasets", 6),
        ("GenSeg.ToyWorld", 7),
        ("GenSeg.Evaluation", 8),
        ("GenSeg.Benchmarks", 9),
        ("GenSeg.Notebooks", 10),
        ("GenSeg.Cli", 11),
    };

    const int MethodsLayer = 5;

    static readonly Lazy<CSharpCompilation> Kit = new(CompileKit);

    [Fact]
    public void EveryReferenceGoesToTheSameLayerOrBelow()
    {
        var compilation = Kit.Value;
        // CS8795: a [GeneratedRegex] method's body comes from a source generator, which this compilation does not run.
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795").Take(5).ToList();
        Assert.True(errors.Count == 0, "the kit's sources did not compile for the layer check: " + string.Join("; ", errors));
        var violations = compilation.SyntaxTrees.SelectMany(t => Violations(compilation, t)).Distinct().ToList();
        Assert.True(violations.Count == 0, "upward or sideways references:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void AnInjectedUpwardReferenceIsCaught()
    {
        var upward = Parse("namespace GenSeg.Imaging; static class Upward { static readonly object Case = typeof(GenSeg.Evaluation.Metrics); }", "Upward.cs");
        var sideways = Parse("using GenSeg.Methods.PaintSeg;\nnamespace GenSeg.Methods.G4Seg; static class Sideways { static readonly object Case = new PaintSegOptions(); }", "Sideways.cs");
        var compilation = Kit.Value.AddSyntaxTrees(upward, sideways);
        var found = Violations(compilation, upward).Concat(Violations(compilation, sideways)).ToList();
        Assert.Contains(found, v => v.Contains("GenSeg.Imaging -> GenSeg.Evaluation", StringComparison.Ordinal));
        Assert.Contains(found, v => v.Contains("GenSeg.Methods.G4Seg -> GenSeg.Methods.PaintSeg", StringComparison.Ordinal));
        // A compiling, downward-only file passes.
        var downward = Parse("namespace GenSeg.Evaluation; static class Downward { static readonly object Case = GenSeg.Imaging.Masks.ToBytes(TorchSharp.torch.zeros(2, 2)); }", "Downward.cs");
        Assert.Empty(Violations(Kit.Value.AddSyntaxTrees(downward), downward));
    }

    /// <summary>The layer of a namespace: the longest listed prefix it starts with, or null outside the kit.</summary>
    public static int? LayerOf(string ns)
    {
        var match = Layers.Where(l => ns == l.Prefix || ns.StartsWith(l.Prefix + ".", StringComparison.Ordinal))
            .OrderByDescending(l => l.Prefix.Length).Select(l => (int?)l.Layer).FirstOrDefault();
        if (match is null && (ns == "GenSeg" || ns.StartsWith("GenSeg.", StringComparison.Ordinal)))
            throw new InvalidOperationException($"namespace {ns} is in no layer: add it to {nameof(LayerTests)}.{nameof(Layers)} (and the README's layer list)");
        return match;
    }

    static IEnumerable<string> Violations(CSharpCompilation compilation, SyntaxTree tree)
    {
        var model = compilation.GetSemanticModel(tree);
        var root = tree.GetRoot();
        foreach (var node in root.DescendantNodes().OfType<SimpleNameSyntax>())
        {
            if (node.Ancestors().Any(a => IsInHeader(a, node))) continue;
            var symbol = model.GetSymbolInfo(node).Symbol;
            var target = NamespaceOf(symbol);
            if (target is null) continue;
            var from = EnclosingNamespace(model, node);
            if (from is null || from == target) continue;
            int? fromLayer = LayerOf(from), toLayer = LayerOf(target);
            if (fromLayer is null || toLayer is null) continue;
            bool upward = toLayer > fromLayer;
            bool sideways = fromLayer == MethodsLayer && toLayer == MethodsLayer && MethodOf(from) != MethodOf(target);
            if (upward || sideways)
                yield return $"{from} -> {target} ({symbol!.ToDisplayString()} in {Path.GetFileName(tree.FilePath)}:{node.GetLocation().GetLineSpan().StartLinePosition.Line + 1})";
        }
    }

    // A name inside a using directive or a namespace declaration's own name is not a reference.
    static bool IsInHeader(SyntaxNode ancestor, SyntaxNode node) =>
        ancestor is UsingDirectiveSyntax || (ancestor is BaseNamespaceDeclarationSyntax ns && ns.Name.Span.Contains(node.Span));

    // GenSeg.Methods.G4Seg.X -> "GenSeg.Methods.G4Seg"; GenSeg.Methods -> "GenSeg.Methods".
    static string MethodOf(string ns) => string.Join('.', ns.Split('.').Take(3));

    static string? NamespaceOf(ISymbol? symbol)
    {
        var type = symbol switch
        {
            ITypeSymbol t => t,
            IMethodSymbol { ReducedFrom: { } r } => r.ContainingType,
            { ContainingType: { } c } => c,
            _ => null,
        };
        while (type is IArrayTypeSymbol a) type = a.ElementType;
        while (type?.ContainingType is { } outer) type = outer;
        var ns = type?.ContainingNamespace;
        return ns is null || ns.IsGlobalNamespace ? null : ns.ToDisplayString();
    }

    static string? EnclosingNamespace(SemanticModel model, SyntaxNode node)
    {
        var decl = node.Ancestors().OfType<BaseNamespaceDeclarationSyntax>().FirstOrDefault();
        if (decl is null) return node.SyntaxTree.FilePath.Contains("GenSeg.Cli", StringComparison.Ordinal) ? "GenSeg.Cli" : null; // top-level Program.cs
        return model.GetDeclaredSymbol(decl)?.ToDisplayString();
    }

    static SyntaxTree Parse(string text, string path) =>
        CSharpSyntaxTree.ParseText(text, new CSharpParseOptions(LanguageVersion.Preview), path);

    static CSharpCompilation CompileKit()
    {
        var root = Parity.RepoRoot();
        var projects = new[] { "src/GenSeg", "src/GenSeg.Notebooks", "src/GenSeg.Cli" }.Select(p => Path.Combine(root, p)).ToArray();
        // each project's own files and the files its project links in (<Compile Include="../../build/X.cs" />)
        var linked = projects.SelectMany(p => Directory.EnumerateFiles(p, "*.csproj").SelectMany(csproj =>
            System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(csproj), "<Compile Include=\"([^\"]+)\"")
                .Select(m => Path.GetFullPath(Path.Combine(p, m.Groups[1].Value)))));
        var files = projects
            .SelectMany(p => Directory.EnumerateFiles(p, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Concat(linked).Distinct()
            .Order(StringComparer.Ordinal);
        var globalUsings = "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic; " +
                           "global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;";
        var options = new CSharpParseOptions(LanguageVersion.Preview, preprocessorSymbols: new[] { "GENSEG_LIBRARY" });
        var trees = files.Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), options, f))
            .Append(CSharpSyntaxTree.ParseText(globalUsings, options, "GlobalUsings.cs"));
        // Every assembly beside the tests except the kit's own (whose sources are compiled here).
        var references = RoslynReferences.All(kit: false);
        return CSharpCompilation.Create("GenSeg.LayerCheck", trees, references,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
    }
}
