// One source file, two uses: compiled into the GenSeg library (GENSEG_LIBRARY defined) for runtime checks and tests,
// and compiled by MSBuild's RoslynCodeTaskFactory as the post-build task that patches the copied native shim.
using System;
using System.IO;
using System.Text;

namespace GenSeg.Native
{
    /// <summary>What <see cref="ElfVersionPatch.Apply"/> found and did.</summary>
    public enum ElfPatchOutcome
    {
        /// <summary>Both edits were made (file changed).</summary>
        Patched,
        /// <summary>Both edits were already present (file unchanged).</summary>
        AlreadyPatched,
        /// <summary>The file has no reference to the version (nothing to do; file unchanged).</summary>
        NotNeeded,
    }

    /// <summary>
    /// Makes TorchSharp's native shim load with a libstdc++ older than GCC 13 (Debian 12, Ubuntu 22.04).
    /// The shim requires the symbol version GLIBCXX_3.4.32 only for <c>std::ios_base_library_init()</c>, a symbol GCC 13's
    /// &lt;iostream&gt; references but never calls. Two fixed-size edits make the reference optional:
    /// the version's <c>vna_flags</c> in <c>.gnu.version_r</c> gets VER_FLG_WEAK, and the symbol's binding in
    /// <c>.dynsym</c> becomes STB_WEAK. Nothing else in the file changes; applying it twice is a no-op.
    /// </summary>
    public static class ElfVersionPatch
    {
        /// <summary>The symbol version that Debian 12's libstdc++ lacks.</summary>
        public const string MissingVersion = "GLIBCXX_3.4.32";

        /// <summary>The one symbol that carries <see cref="MissingVersion"/>.</summary>
        public const string Symbol = "_ZSt21ios_base_library_initv";

        const ushort VerFlgWeak = 0x2;
        const uint ShtDynsym = 11;
        const uint ShtGnuVerneed = 0x6ffffffe;
        const byte StbWeak = 2;

        /// <summary>Patches <paramref name="path"/> in place (written atomically) and says what it did.</summary>
        public static ElfPatchOutcome Apply(string path)
        {
            var bytes = File.ReadAllBytes(path);
            var outcome = Patch(bytes, path);
            if (outcome == ElfPatchOutcome.Patched)
            {
                var tmp = path + ".genseg-patch.tmp";
                File.WriteAllBytes(tmp, bytes);
                File.Replace(tmp, path, null);
            }
            return outcome;
        }

        /// <summary>Makes the two edits in <paramref name="elf"/>; <paramref name="name"/> is only for error messages.</summary>
        public static ElfPatchOutcome Patch(byte[] elf, string name)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException($"{name}: not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException($"{name}: expected a little-endian ELF64 file (class {elf[4]}, data {elf[5]})");
            ulong shoff = U64(elf, 0x28, name);
            int shentsize = U16(elf, 0x3A, name);
            int shnum = U16(elf, 0x3C, name);
            if (shentsize != 64) throw new InvalidDataException($"{name}: section header size {shentsize}, expected 64");

            bool versionFound = false, versionPatched = false, symbolFound = false, symbolPatched = false;
            bool changed = false;
            for (int i = 0; i < shnum; i++)
            {
                long sh = checked((long)shoff + (long)i * 64);
                uint type = U32(elf, sh + 4, name);
                long offset = (long)U64(elf, sh + 0x18, name);
                long size = (long)U64(elf, sh + 0x20, name);
                int link = (int)U32(elf, sh + 0x28, name);
                uint info = U32(elf, sh + 0x2C, name);
                if (type != ShtGnuVerneed && type != ShtDynsym) continue;
                if (offset < 0 || size < 0 || offset + size > elf.Length)
                    throw new InvalidDataException($"{name}: section {i} lies outside the file");
                long strOffset = (long)U64(elf, checked((long)shoff + (long)link * 64 + 0x18), name);

                if (type == ShtGnuVerneed)
                {
                    long vn = offset;
                    for (uint n = 0; n < info; n++)
                    {
                        int cnt = U16(elf, vn + 2, name);
                        long aux = vn + U32(elf, vn + 8, name);
                        for (int a = 0; a < cnt; a++)
                        {
                            string vname = CString(elf, strOffset + U32(elf, aux + 8, name), name);
                            if (vname == MissingVersion)
                            {
                                versionFound = true;
                                ushort flags = (ushort)U16(elf, aux + 4, name);
                                if ((flags & VerFlgWeak) == 0)
                                {
                                    flags |= VerFlgWeak;
                                    elf[aux + 4] = (byte)flags;
                                    elf[aux + 5] = (byte)(flags >> 8);
                                    changed = true;
                                }
                                versionPatched = true;
                            }
                            uint next = U32(elf, aux + 12, name);
                            if (next == 0) break;
                            aux += next;
                        }
                        uint vnNext = U32(elf, vn + 12, name);
                        if (vnNext == 0) break;
                        vn += vnNext;
                    }
                }
                else
                {
                    for (long s = offset; s + 24 <= offset + size; s += 24)
                    {
                        string sname = CString(elf, strOffset + U32(elf, s, name), name);
                        if (sname != Symbol) continue;
                        symbolFound = true;
                        byte stInfo = elf[s + 4];
                        byte weak = (byte)((StbWeak << 4) | (stInfo & 0xf));
                        if (stInfo != weak) { elf[s + 4] = weak; changed = true; }
                        symbolPatched = true;
                    }
                }
            }
            if (!versionFound && !symbolFound) return ElfPatchOutcome.NotNeeded;
            if (versionFound != symbolFound || !versionPatched || !symbolPatched)
                throw new InvalidDataException($"{name}: found {(versionFound ? MissingVersion : Symbol)} but not {(versionFound ? Symbol : MissingVersion)}; refusing a partial patch");
            return changed ? ElfPatchOutcome.Patched : ElfPatchOutcome.AlreadyPatched;
        }

        /// <summary>True where the libstdc++ that this process would load provides <see cref="MissingVersion"/>.</summary>
        public static bool SystemLibStdCxxHasVersion()
        {
            foreach (var dir in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/lib/aarch64-linux-gnu" })
            {
                var lib = Path.Combine(dir, "libstdc++.so.6");
                if (!File.Exists(lib)) continue;
                var data = File.ReadAllBytes(lib);
                return IndexOf(data, Encoding.ASCII.GetBytes(MissingVersion + "\0")) >= 0;
            }
            return true; // no system libstdc++ found: assume a modern system, do not patch
        }

        static int IndexOf(byte[] hay, byte[] needle)
        {
            for (int i = 0; i + needle.Length <= hay.Length; i++)
            {
                int j = 0;
                while (j < needle.Length && hay[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }

        static void Check(byte[] b, long at, int n, string name)
        {
            if (at < 0 || at + n > b.Length) throw new InvalidDataException($"{name}: truncated ELF (read of {n} bytes at {at}, file is {b.Length})");
        }
        static int U16(byte[] b, long at, string name) { Check(b, at, 2, name); return b[at] | (b[at + 1] << 8); }
        static uint U32(byte[] b, long at, string name) { Check(b, at, 4, name); return BitConverter.ToUInt32(b, (int)at); }
        static ulong U64(byte[] b, long at, string name) { Check(b, at, 8, name); return BitConverter.ToUInt64(b, (int)at); }
        static string CString(byte[] b, long at, string name)
        {
            Check(b, at, 1, name);
            long end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
        }
    }

#if !GENSEG_LIBRARY
    /// <summary>MSBuild task: patches each given libLibTorchSharp.so where the machine's libstdc++ needs it.</summary>
    public sealed class PatchTorchSharpNative : Microsoft.Build.Utilities.Task
    {
        /// <summary>Native shim files in the build output.</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <inheritdoc />
        public override bool Execute()
        {
            if (ElfVersionPatch.SystemLibStdCxxHasVersion()) return true;
            foreach (var item in Files)
            {
                var path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                var outcome = ElfVersionPatch.Apply(path);
                if (outcome == ElfPatchOutcome.Patched)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, $"GenSeg: patched {path} for a libstdc++ without {ElfVersionPatch.MissingVersion}");
            }
            return true;
        }
    }
#endif
}
