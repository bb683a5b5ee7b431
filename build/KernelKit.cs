// One source file, two uses: compiled into the GenSeg library (GENSEG_LIBRARY defined) for tests, and compiled by MSBuild's
// RoslynCodeTaskFactory as the post-build task that writes the notebook kit's folder for the .NET Interactive kernel.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace GenSeg.Native
{
    /// <summary>
    /// Points a managed assembly's reference to another assembly at a lower version of it, and checks that the lower
    /// version has every type and member the assembly uses from it.
    /// Why: the .NET Interactive kernel (dotnet-interactive 1.0.712001, the last release) runs on its own FSharp.Core 10.0
    /// and compiles every cell against it; Plotly.NET 6.0.0, the only Plotly.NET served, was built against FSharp.Core 10.1,
    /// so a cell that touches a chart fails to compile there (CS1705) and a second FSharp.Core gets loaded beside the
    /// kernel's (MissingMethodException). The kit's kernel folder holds copies whose FSharp.Core reference is the kernel's
    /// version; <see cref="MissingMembers"/> proves the older FSharp.Core has everything they call.
    /// </summary>
    public static class AssemblyRetarget
    {
        /// <summary>The version <paramref name="pe"/> references <paramref name="assembly"/> at, or null.</summary>
        public static Version? ReferencedVersion(byte[] pe, string assembly)
        {
            using var peReader = new PEReader(new MemoryStream(pe));
            var md = peReader.GetMetadataReader();
            foreach (var h in md.AssemblyReferences)
            {
                var r = md.GetAssemblyReference(h);
                if (md.StringComparer.Equals(r.Name, assembly)) return r.Version;
            }
            return null;
        }

        /// <summary>Rewrites, in <paramref name="pe"/>, the version of its reference to <paramref name="assembly"/> to
        /// <paramref name="version"/> when it references a higher one (a fixed-size edit of the AssemblyRef row).
        /// Returns whether it changed anything.</summary>
        public static bool Retarget(byte[] pe, string assembly, Version version)
        {
            using var peReader = new PEReader(new MemoryStream(pe));
            var md = peReader.GetMetadataReader();
            long tableStart = peReader.PEHeaders.MetadataStartOffset + md.GetTableMetadataOffset(TableIndex.AssemblyRef);
            int rowSize = md.GetTableRowSize(TableIndex.AssemblyRef);
            bool changed = false;
            foreach (var h in md.AssemblyReferences)
            {
                var r = md.GetAssemblyReference(h);
                if (!md.StringComparer.Equals(r.Name, assembly) || r.Version <= version) continue;
                long row = tableStart + (long)(MetadataTokens.GetRowNumber(h) - 1) * rowSize;
                // AssemblyRef row (ECMA-335 II.22.5): MajorVersion, MinorVersion, BuildNumber, RevisionNumber (2 bytes each) first
                WriteU16(pe, row, version.Major);
                WriteU16(pe, row + 2, version.Minor);
                WriteU16(pe, row + 4, Math.Max(version.Build, 0));
                WriteU16(pe, row + 6, Math.Max(version.Revision, 0));
                changed = true;
            }
            return changed;
        }

        /// <summary>The types (<c>Namespace.Name</c>) and members (<c>Type::Member</c>) that <paramref name="pe"/> uses from
        /// <paramref name="assembly"/> and that <paramref name="target"/> (an assembly of that name) lacks. Members are
        /// matched by name.</summary>
        public static IReadOnlyList<string> MissingMembers(byte[] pe, string assembly, byte[] target)
        {
            var available = Definitions(target);
            using var peReader = new PEReader(new MemoryStream(pe));
            var md = peReader.GetMetadataReader();
            var missing = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var h in md.TypeReferences)
            {
                var name = TypeReferenceName(md, h, assembly);
                if (name is not null && !available.ContainsKey(name)) missing.Add(name);
            }
            foreach (var h in md.MemberReferences)
            {
                var m = md.GetMemberReference(h);
                string? type = m.Parent.Kind switch
                {
                    HandleKind.TypeReference => TypeReferenceName(md, (TypeReferenceHandle)m.Parent, assembly),
                    HandleKind.TypeSpecification => GenericTypeName(md, (TypeSpecificationHandle)m.Parent, assembly),
                    _ => null,
                };
                if (type is null) continue;
                var member = md.GetString(m.Name);
                if (available.TryGetValue(type, out var members) && !members.Contains(member)) missing.Add($"{type}::{member}");
            }
            return missing.ToList();
        }

        static Dictionary<string, HashSet<string>> Definitions(byte[] pe)
        {
            using var peReader = new PEReader(new MemoryStream(pe));
            var md = peReader.GetMetadataReader();
            var result = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            foreach (var h in md.TypeDefinitions)
            {
                var t = md.GetTypeDefinition(h);
                var members = new HashSet<string>(StringComparer.Ordinal);
                foreach (var m in t.GetMethods()) members.Add(md.GetString(md.GetMethodDefinition(m).Name));
                foreach (var f in t.GetFields()) members.Add(md.GetString(md.GetFieldDefinition(f).Name));
                result[DefinitionName(md, h)] = members;
            }
            return result;
        }

        static string DefinitionName(MetadataReader md, TypeDefinitionHandle h)
        {
            var t = md.GetTypeDefinition(h);
            var declaring = t.GetDeclaringType();
            return declaring.IsNil
                ? Qualified(md.GetString(t.Namespace), md.GetString(t.Name))
                : DefinitionName(md, declaring) + "/" + md.GetString(t.Name);
        }

        static string? TypeReferenceName(MetadataReader md, TypeReferenceHandle h, string assembly)
        {
            var t = md.GetTypeReference(h);
            var scope = t.ResolutionScope;
            if (scope.Kind == HandleKind.TypeReference)
            {
                var outer = TypeReferenceName(md, (TypeReferenceHandle)scope, assembly);
                return outer is null ? null : outer + "/" + md.GetString(t.Name);
            }
            if (scope.Kind != HandleKind.AssemblyReference) return null;
            var r = md.GetAssemblyReference((AssemblyReferenceHandle)scope);
            return md.StringComparer.Equals(r.Name, assembly) ? Qualified(md.GetString(t.Namespace), md.GetString(t.Name)) : null;
        }

        static string? GenericTypeName(MetadataReader md, TypeSpecificationHandle h, string assembly)
        {
            var blob = md.GetBlobReader(md.GetTypeSpecification(h).Signature);
            if (blob.ReadByte() != 0x15) return null; // ELEMENT_TYPE_GENERICINST, then CLASS or VALUETYPE and the generic type
            blob.ReadByte();
            var generic = blob.ReadTypeHandle();
            return generic.Kind == HandleKind.TypeReference ? TypeReferenceName(md, (TypeReferenceHandle)generic, assembly) : null;
        }

        static string Qualified(string ns, string name) => ns.Length == 0 ? name : ns + "." + name;

        static void WriteU16(byte[] b, long at, int value)
        {
            if (value is < 0 or > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(value), value, "an assembly version part is 0..65535");
            b[at] = (byte)value;
            b[at + 1] = (byte)(value >> 8);
        }
    }

#if !GENSEG_LIBRARY
    /// <summary>
    /// Writes the notebook kit's folder for the .NET Interactive kernel: the build output without the assemblies the
    /// kernel itself provides (its FSharp.Core, formatting library, Roslyn), with every reference to FSharp.Core pointed
    /// at the kernel's version after checking that version has all they use. The build output itself is left as it is;
    /// files that did not change are not written again.
    /// </summary>
    public sealed class MakeKernelKit : Microsoft.Build.Utilities.Task
    {
        /// <summary>The build output (with its dependencies copied beside it).</summary>
        [Microsoft.Build.Framework.Required] public string Source { get; set; } = "";

        /// <summary>The kit's kernel folder, written afresh.</summary>
        [Microsoft.Build.Framework.Required] public string Destination { get; set; } = "";

        /// <summary>File names the kernel provides itself (not copied).</summary>
        public string[] HostAssemblies { get; set; } = Array.Empty<string>();

        /// <summary>The kernel's FSharp.Core (the package's lib/netstandard2.1/FSharp.Core.dll of the same version).</summary>
        [Microsoft.Build.Framework.Required] public string HostFSharpCore { get; set; } = "";

        /// <inheritdoc />
        public override bool Execute()
        {
            var host = File.ReadAllBytes(HostFSharpCore);
            Version hostVersion;
            using (var pe = new PEReader(new MemoryStream(host))) hostVersion = pe.GetMetadataReader().GetAssemblyDefinition().Version;
            var skip = new HashSet<string>(HostAssemblies, StringComparer.OrdinalIgnoreCase);
            var source = Path.GetFullPath(Source).TrimEnd('/', '\\') + Path.DirectorySeparatorChar;
            var destination = Path.GetFullPath(Destination).TrimEnd('/', '\\') + Path.DirectorySeparatorChar;
            var written = new HashSet<string>(StringComparer.Ordinal);
            foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
            {
                var relative = file.Substring(source.Length);
                if (skip.Contains(Path.GetFileName(file))) continue;
                var to = Path.Combine(destination, relative);
                written.Add(to);
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                if (!file.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || !IsManaged(file))
                {
                    // unchanged native libraries (libtorch: about 1 GB) are not copied again
                    var from = new FileInfo(file);
                    var existing = new FileInfo(to);
                    if (existing.Exists && existing.Length == from.Length && existing.LastWriteTimeUtc == from.LastWriteTimeUtc) continue;
                    Replace(to, tmp => File.Copy(file, tmp, overwrite: true));
                    File.SetLastWriteTimeUtc(to, from.LastWriteTimeUtc);
                    continue;
                }
                var bytes = File.ReadAllBytes(file);
                var referenced = AssemblyRetarget.ReferencedVersion(bytes, "FSharp.Core");
                if (referenced is not null && referenced > hostVersion)
                {
                    var missing = AssemblyRetarget.MissingMembers(bytes, "FSharp.Core", host);
                    if (missing.Count > 0)
                    {
                        Log.LogError($"GenSeg: {relative} uses FSharp.Core {referenced}; the kernel's FSharp.Core {hostVersion} ({HostFSharpCore}) lacks: {string.Join(", ", missing)}");
                        return false;
                    }
                    AssemblyRetarget.Retarget(bytes, "FSharp.Core", hostVersion);
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal, $"GenSeg: {relative}: FSharp.Core {referenced} -> {hostVersion} (all it uses is there)");
                }
                if (File.Exists(to) && File.ReadAllBytes(to).SequenceEqual(bytes)) continue;
                Replace(to, tmp => File.WriteAllBytes(tmp, bytes));
            }
            foreach (var stale in Directory.GetFiles(destination, "*", SearchOption.AllDirectories))
                if (!written.Contains(stale)) File.Delete(stale);
            return true;
        }

        /// <summary>Writes <paramref name="path"/> through a temporary file and a rename, so a kernel that has the old file
        /// open keeps reading it.</summary>
        static void Replace(string path, Action<string> write)
        {
            var tmp = path + ".genseg-kit.tmp";
            write(tmp);
            if (File.Exists(path)) File.Replace(tmp, path, null);
            else File.Move(tmp, path);
        }

        static bool IsManaged(string path)
        {
            using var s = File.OpenRead(path);
            using var pe = new PEReader(s);
            return pe.HasMetadata;
        }
    }
#endif
}
