using System.Reflection;
using System.Runtime.InteropServices;
using GenSeg.Native;
using TorchSharp;

namespace GenSeg.Runtime;

/// <summary>
/// Device selection and the one-time native set-up TorchSharp needs on older Linux systems.
/// Call <see cref="Device"/> (or <see cref="EnsureNativeLoaded"/>) before the first tensor when the host is not a GenSeg
/// build output, e.g. a .NET Interactive kernel that referenced GenSeg.dll.
/// </summary>
public static class TorchRuntime
{
    static readonly Lazy<string> Loaded = new(LoadNative, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Where the native shim was loaded from (or "default" where TorchSharp loaded it by itself).</summary>
    public static string EnsureNativeLoaded() => Loaded.Value;

    /// <summary>
    /// Parses a device name: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c> (CUDA where available, else CPU).
    /// Asking for CUDA on a build or machine without it is an error that says how to get it.
    /// </summary>
    public static torch.Device Device(string name = "cpu")
    {
        EnsureNativeLoaded();
        var n = name.Trim().ToLowerInvariant();
        if (n == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (n == "cpu") return torch.CPU;
        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new ArgumentException($"--device {name}: CUDA is not available in this build or on this machine; " +
                                            "build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU (see README), or use --device cpu");
            return new torch.Device(n);
        }
        throw new ArgumentException($"--device {name}: expected cpu, cuda, cuda:N or auto");
    }

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetNativeEnvironment(string name, string value, int overwrite);

    static string LoadNative()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return "default";
        // OpenMP's busy-waiting makes every small multi-threaded op wait for a second thread whenever another process
        // uses a core (measured here: the UNet ran 3x slower on 2 threads than on 1). Passive waiting fixes it. The
        // variable must be in the native environment before libgomp loads; a value the user set is kept.
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
        {
            SetNativeEnvironment("OMP_WAIT_POLICY", "PASSIVE", 0);
            Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
        }
        if (ElfVersionPatch.SystemLibStdCxxHasVersion()) return "default";
        // Find the shim beside TorchSharp.dll (GenSeg build outputs keep it flat) or in runtimes/<rid>/native.
        var dir = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? AppContext.BaseDirectory;
        var candidates = new[]
        {
            Path.Combine(dir, "libLibTorchSharp.so"),
            Path.Combine(dir, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", "libLibTorchSharp.so"),
            Path.Combine(dir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
        };
        var shim = candidates.FirstOrDefault(File.Exists);
        if (shim is null) return "default";
        try
        {
            ElfVersionPatch.Apply(shim);
        }
        catch (UnauthorizedAccessException)
        {
            // read-only location: patch a private copy next to the other native libraries is not possible; let TorchSharp report
            return "default";
        }
        catch (IOException)
        {
            return "default";
        }
        // Load it by full path so that TorchSharp's later load by soname resolves to this already patched copy.
        NativeLibrary.Load(shim);
        return shim;
    }

    /// <summary>Version strings for diagnostics (TorchSharp assembly and the libtorch it wraps).</summary>
    public static string Describe()
    {
        EnsureNativeLoaded();
        var ts = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        return $"TorchSharp {ts}, threads {torch.get_num_threads()}, CUDA {(torch.cuda.is_available() ? "yes" : "no")}";
    }
}
