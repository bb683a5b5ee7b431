using GenSeg.Native;
using GenSeg.Runtime;
using GenSeg.Tests.Support;
using TorchSharp;

namespace GenSeg.Tests.Runtime;

[Trait(Categories.Name, Categories.Unit)]
public class NativePatchTests
{
    static string OriginalShim()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                   ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"expected the restored TorchSharp package at {path}");
        return path;
    }

    [Fact]
    public void PatchChangesExactlyTwoBytesAndIsIdempotent()
    {
        var original = File.ReadAllBytes(OriginalShim());
        var copy = (byte[])original.Clone();

        Assert.Equal(ElfPatchOutcome.Patched, ElfVersionPatch.Patch(copy, "copy"));
        var diffs = Enumerable.Range(0, original.Length).Where(i => original[i] != copy[i]).ToArray();
        Assert.Equal(2, diffs.Length);
        // one byte gained VER_FLG_WEAK (0x2), the other became STB_WEAK (binding in the high nibble = 2)
        Assert.Contains(diffs, i => copy[i] == (original[i] | 0x2));
        Assert.Contains(diffs, i => copy[i] >> 4 == 2 && original[i] >> 4 == 1 && (copy[i] & 0xf) == (original[i] & 0xf));

        var again = (byte[])copy.Clone();
        Assert.Equal(ElfPatchOutcome.AlreadyPatched, ElfVersionPatch.Patch(again, "copy"));
        Assert.Equal(copy, again);
    }

    [Fact]
    public void ApplyOnAFileLeavesTheCacheUntouched()
    {
        var source = OriginalShim();
        var before = File.ReadAllBytes(source);
        var dir = Directory.CreateTempSubdirectory("genseg-elf");
        try
        {
            var copy = Path.Combine(dir.FullName, "libLibTorchSharp.so");
            File.Copy(source, copy);
            Assert.Equal(ElfPatchOutcome.Patched, ElfVersionPatch.Apply(copy));
            Assert.Equal(ElfPatchOutcome.AlreadyPatched, ElfVersionPatch.Apply(copy));
            Assert.Equal(before, File.ReadAllBytes(source));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void NonElfInputIsAClearError()
    {
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionPatch.Patch(new byte[100], "junk.so"));
        Assert.Contains("junk.so", e.Message);
        var truncated = File.ReadAllBytes(OriginalShim()).Take(200).ToArray();
        var t = Assert.Throws<InvalidDataException>(() => ElfVersionPatch.Patch(truncated, "short.so"));
        Assert.Contains("short.so", t.Message);
    }

    [Fact]
    public void TorchSharpInitialisesAndComputes()
    {
        var device = TorchRuntime.Device("cpu");
        using var a = torch.arange(6, dtype: torch.float32, device: device).reshape(2, 3);
        using var b = a.matmul(a.t());
        Assert.Equal(new float[] { 5, 14, 14, 50 }, b.data<float>().ToArray());
    }

    [Fact]
    public void UnknownDeviceNamesTheArgument()
    {
        var e = Assert.Throws<ArgumentException>(() => TorchRuntime.Device("tpu"));
        Assert.Contains("--device tpu", e.Message);
    }
}

/// <summary>The CPU-kernel setting is in the native environment before libtorch dispatches anything.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class CpuKernelTests
{
    [Fact]
    public void SafeKernelsAreTheDefaultAndInTheEnvironment()
    {
        GenSeg.Runtime.TorchRuntime.EnsureNativeLoaded();
        if (!OperatingSystem.IsLinux()) return;
        var chosen = Environment.GetEnvironmentVariable(GenSeg.Runtime.TorchRuntime.CpuKernelsVariable) ?? "safe";
        Assert.Equal(chosen.Trim().ToLowerInvariant(), GenSeg.Runtime.TorchRuntime.CpuKernels);
        if (GenSeg.Runtime.TorchRuntime.CpuKernels == "safe")
            foreach (var (name, _) in GenSeg.Runtime.TorchRuntime.SafeCpuKernelVariables)
                Assert.False(string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)), $"{name} is not set");
        Assert.Contains("CPU kernels", GenSeg.Runtime.TorchRuntime.Describe());
    }
}
