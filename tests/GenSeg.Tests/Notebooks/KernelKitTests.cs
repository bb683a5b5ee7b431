using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using GenSeg.Native;
using GenSeg.Tests.Support;
using Plotly.NET;
using static GenSeg.Tests.Notebooks.NotebookTestSupport;

namespace GenSeg.Tests.Notebooks;

/// <summary>The kit's folder for the .NET Interactive kernel (build/KernelKit.cs) and the reference rewrite it makes.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class KernelKitTests
{
    static readonly Version Kernel = new(10, 0, 0, 0); // FSharp.Core of dotnet-interactive 1.0.712001

    static string KitFolder => Path.Combine(RepoRoot(), "src", "GenSeg.Notebooks", "bin", "Release", "kernel");

    [Fact]
    public void RetargetRewritesOnlyTheReferenceVersion()
    {
        var original = File.ReadAllBytes(typeof(GenericChart).Assembly.Location); // Plotly.NET, built against FSharp.Core 10.1
        Assert.Equal(new Version(10, 1, 0, 0), AssemblyRetarget.ReferencedVersion(original, "FSharp.Core"));
        var bytes = (byte[])original.Clone();
        Assert.True(AssemblyRetarget.Retarget(bytes, "FSharp.Core", Kernel));
        Assert.Equal(Kernel, AssemblyRetarget.ReferencedVersion(bytes, "FSharp.Core"));
        var changed = Enumerable.Range(0, bytes.Length).Count(i => bytes[i] != original[i]);
        Assert.Equal(1, changed); // the minor version's low byte: 1 -> 0
        Assert.False(AssemblyRetarget.Retarget(bytes, "FSharp.Core", Kernel)); // already there
        Assert.False(AssemblyRetarget.Retarget(bytes, "No.Such.Assembly", Kernel));
    }

    [Fact]
    public void MissingMembersFindsWhatATargetLacks()
    {
        var plotly = File.ReadAllBytes(typeof(GenericChart).Assembly.Location);
        var fsharp = File.ReadAllBytes(typeof(Microsoft.FSharp.Core.FSharpFunc<int, int>).Assembly.Location);
        Assert.Empty(AssemblyRetarget.MissingMembers(plotly, "FSharp.Core", fsharp));
        var againstCoreLib = AssemblyRetarget.MissingMembers(plotly, "FSharp.Core", File.ReadAllBytes(typeof(object).Assembly.Location));
        Assert.Contains("Microsoft.FSharp.Core.FSharpFunc`2", againstCoreLib);
        Assert.Contains("Microsoft.FSharp.Core.FSharpOption`1", againstCoreLib);
        Assert.DoesNotContain("System.Object", againstCoreLib); // only what the reference's assembly is asked for
    }

    [SkippableFact]
    public void KernelFolderLeavesFSharpCoreToTheKernelAndHoldsTheRunnersBuild()
    {
        Skip.IfNot(Directory.Exists(KitFolder), $"{KitFolder} is written by a Release build of GenSeg.Notebooks");
        Assert.False(File.Exists(Path.Combine(KitFolder, "FSharp.Core.dll")));
        Assert.True(File.Exists(Path.Combine(KitFolder, "libLibTorchSharp.so")));
        foreach (var dll in Directory.GetFiles(KitFolder, "*.dll"))
        {
            var bytes = File.ReadAllBytes(dll);
            using var pe = new PEReader(new MemoryStream(bytes));
            if (!pe.HasMetadata) continue;
            var v = AssemblyRetarget.ReferencedVersion(bytes, "FSharp.Core");
            Assert.True(v is null || v <= Kernel, $"{dll} references FSharp.Core {v}");
        }
        // the same compilation as the assembly the tests load (only the reference version differs)
        Assert.Equal(Mvid(typeof(GenSeg.Common.Check).Assembly.Location), Mvid(Path.Combine(KitFolder, "GenSeg.dll")));
    }

    static Guid Mvid(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        return md.GetGuid(md.GetModuleDefinition().Mvid);
    }
}
