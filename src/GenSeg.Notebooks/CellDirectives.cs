using System.Text;
using System.Text.RegularExpressions;

namespace GenSeg.Notebooks;

/// <summary><c>#r "nuget: Name, Version"</c>: a package reference (version null when left out or a wildcard).</summary>
/// <param name="Name">Package id.</param>
/// <param name="Version">Requested version, or null.</param>
/// <param name="Line">1-based line in the cell.</param>
public sealed record NuGetReference(string Name, string? Version, int Line);

/// <summary><c>#r "path.dll"</c>: an assembly reference, as written.</summary>
/// <param name="Path">The path as written (relative paths are relative to the notebook's folder).</param>
/// <param name="Line">1-based line in the cell.</param>
public sealed record AssemblyReference(string Path, int Line);

/// <summary>A magic command the runner does not execute (<c>#!fsharp</c>, <c>#!set</c>...).</summary>
/// <param name="Name">The magic, e.g. <c>#!fsharp</c>.</param>
/// <param name="Line">1-based line in the cell.</param>
public sealed record UnsupportedMagic(string Name, int Line);

/// <summary>A code cell split into what the runner acts on and the C# Roslyn sees. Directive lines and lines of
/// markdown parts are blanked (not removed) so Roslyn's line numbers are the cell's.</summary>
public sealed partial record CellDirectives(
    string Code,
    IReadOnlyList<NuGetReference> Packages,
    IReadOnlyList<AssemblyReference> Assemblies,
    IReadOnlyList<UnsupportedMagic> Unsupported,
    bool Time,
    IReadOnlyList<string> Ignored)
{
    /// <summary>True when no C# remains to run.</summary>
    public bool HasCode => !string.IsNullOrWhiteSpace(Code);

    /// <summary>Kernel names that mean C# (Polyglot accepts these aliases).</summary>
    public static readonly IReadOnlySet<string> CSharpNames = new HashSet<string>(StringComparer.Ordinal) { "csharp", "c#", "C#" };

    /// <summary>Magics that only inform in a real kernel; the runner notes and skips them.</summary>
    static readonly HashSet<string> Informational = ["#!about", "#!lsmagic", "#!who", "#!whos", "#!log"];

    /// <summary>Parses a cell. <paramref name="kernelName"/> is the cell's kernel (from its metadata, or the notebook's
    /// default); <c>#!csharp</c> / <c>#!markdown</c> lines switch the language for the lines after them.</summary>
    public static CellDirectives Parse(string source, string kernelName)
    {
        var packages = new List<NuGetReference>();
        var assemblies = new List<AssemblyReference>();
        var unsupported = new List<UnsupportedMagic>();
        var ignored = new List<string>();
        var time = false;
        var code = new StringBuilder();
        var kernel = kernelName;
        var lines = source.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var trimmed = line.Trim();
            var keep = false;
            if (trimmed.StartsWith("#!", StringComparison.Ordinal))
            {
                var name = trimmed.Split(' ', 2)[0];
                var bare = name[2..];
                if (CSharpNames.Contains(bare) || bare == "markdown") kernel = bare;
                else if (name == "#!time") time = true;
                else if (Informational.Contains(name)) ignored.Add(name);
                else unsupported.Add(new UnsupportedMagic(name, i + 1));
            }
            else if (IsCSharp(kernel) && ReferencePattern().Match(trimmed) is { Success: true } r)
            {
                var target = r.Groups[1].Value.Trim();
                if (target.StartsWith("nuget:", StringComparison.OrdinalIgnoreCase))
                {
                    var parts = target[6..].Split(',', 2, StringSplitOptions.TrimEntries);
                    var version = parts.Length > 1 && parts[1].Length > 0 && !parts[1].Contains('*') ? parts[1] : null;
                    packages.Add(new NuGetReference(parts[0], version, i + 1));
                }
                else assemblies.Add(new AssemblyReference(target, i + 1));
            }
            else if (IsCSharp(kernel) && trimmed.StartsWith("#i ", StringComparison.Ordinal))
                ignored.Add(trimmed); // a package source: the runner resolves packages from the kit itself
            else keep = IsCSharp(kernel);
            if (i > 0) code.Append('\n');
            if (keep) code.Append(line);
        }
        return new CellDirectives(code.ToString(), packages, assemblies, unsupported, time, ignored);
    }

    /// <summary>True when the kernel name means C#.</summary>
    public static bool IsCSharp(string kernelName) => CSharpNames.Contains(kernelName);

    [GeneratedRegex("""^#r\s+"([^"]*)"\s*(//.*)?$""")]
    private static partial Regex ReferencePattern();
}
