using System.Reflection.PortableExecutable;
using Microsoft.CodeAnalysis;

namespace GenSeg.Tests.Support;

/// <summary>Metadata references for compiling C# in a test: the runtime's assemblies and the managed ones beside the tests.</summary>
public static class RoslynReferences
{
    /// <summary>The references; the kit's own assemblies (GenSeg*.dll) only when <paramref name="kit"/>.</summary>
    public static IReadOnlyList<MetadataReference> All(bool kit) =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
            .Where(p => kit ? !Path.GetFileName(p).StartsWith("GenSeg.Tests", StringComparison.Ordinal) : !Path.GetFileName(p).StartsWith("GenSeg", StringComparison.Ordinal))
            .GroupBy(Path.GetFileName).Select(g => g.First())
            .Where(IsManaged)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList();

    static bool IsManaged(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            return pe.HasMetadata;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
