using GenSeg.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace GenSeg.Tests.Docs;

/// <summary>The README's C# example compiles against the kit as built (a program of top-level statements).</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class ReadmeExampleTests
{
    [Fact]
    public void TheReadmeCSharpBlockCompiles()
    {
        var readme = File.ReadAllText(Path.Combine(Parity.RepoRoot(), "README.md"));
        const string open = "```csharp\n";
        int start = readme.IndexOf(open, StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no ```csharp block");
        start += open.Length;
        int end = readme.IndexOf("\n```", start, StringComparison.Ordinal);
        var code = "using System;\nusing System.Linq;\n" + readme[start..end];
        var compilation = CSharpCompilation.Create("ReadmeExample",
            new[] { CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Preview)) },
            RoslynReferences.All(kit: true),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "the README's C# block does not compile:\n" + string.Join("\n", errors));
        // the block is the example the README describes: G4Seg's stages and PaintSeg through the library
        foreach (var call in new[] { "G4SegStages.NoiseAt", "G4SegStages.BuildInjection", "G4SegStages.PredictX0", "G4SegStages.Correspond", "G4SegStages.Mix", "PaintSegSegmenter" })
            Assert.Contains(call, code, StringComparison.Ordinal);
    }
}
