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
    static readonly Lazy<string> Loaded = new(() =>
    {
        var shim = LoadNative();
        ApplyNnpack();
        return shim;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

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
        ApplyCpuKernels();
        ApplyMallocTuning();
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
        if (InPackageCache(shim))
        {
            // The NuGet cache is never modified (e.g. a kernel cell's `#r "nuget: TorchSharp-cpu"` loads TorchSharp from it).
            if (ElfVersionPatch.Patch(File.ReadAllBytes(shim), shim) == ElfPatchOutcome.Patched)
                throw new InvalidOperationException(
                    $"TorchSharp was loaded from the NuGet package cache ({dir}), whose {Path.GetFileName(shim)} needs " +
                    $"{ElfVersionPatch.MissingVersion}, which this system's libstdc++ lacks. Load the kit's build instead: in a notebook, " +
                    "drop `#r \"nuget: TorchSharp...\"` and keep the kit's reference cell (see docs/notebooks.md).");
            return "default";
        }
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

    /// <summary>Whether <paramref name="path"/> lies in a NuGet package folder (NUGET_PACKAGES or ~/.nuget/packages).</summary>
    static bool InPackageCache(string path)
    {
        var full = Path.GetFullPath(path);
        var roots = new[]
        {
            Environment.GetEnvironmentVariable("NUGET_PACKAGES"),
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
        };
        return roots.Any(r => !string.IsNullOrEmpty(r) &&
                              full.StartsWith(Path.GetFullPath(r).TrimEnd('/') + "/", StringComparison.Ordinal));
    }

    /// <summary>The environment variable that chooses libtorch's CPU kernels: <c>safe</c> (the default) or <c>native</c>.</summary>
    public const string CpuKernelsVariable = "GENSEG_CPU_KERNELS";

    /// <summary>
    /// The CPU kernels in force: "safe" (ATen's AVX2 kernels, oneDNN up to AVX, MKL up to SSE4.2) or "native"
    /// (whatever libtorch picks for the processor, AVX2 or AVX-512 here).
    /// </summary>
    public static string CpuKernels { get; private set; } = "native";

    /// <summary>
    /// The native variables for <see cref="CpuKernelsVariable"/> = safe; a value the user set for any of them is kept.
    /// Safe is the default because libtorch's vectorised kernels gave wrong numbers on this project's machines
    /// (measurements: docs/performance.md, "Safe CPU kernels by default").
    /// </summary>
    public static IReadOnlyDictionary<string, string> SafeCpuKernelVariables { get; } = new Dictionary<string, string>
    {
        ["ATEN_CPU_CAPABILITY"] = "avx2",
        ["ONEDNN_MAX_CPU_ISA"] = "AVX",
        ["DNNL_MAX_CPU_ISA"] = "AVX",
        ["MKL_ENABLE_INSTRUCTIONS"] = "SSE4_2",
    };

    static void ApplyCpuKernels()
    {
        var mode = (Environment.GetEnvironmentVariable(CpuKernelsVariable) ?? "safe").Trim().ToLowerInvariant();
        if (mode is not ("safe" or "native"))
            throw new ArgumentException($"{CpuKernelsVariable}={mode}: expected safe or native");
        CpuKernels = mode;
        if (mode != "safe") return;
        // Read by libtorch when it first dispatches a kernel, so they must be in the native environment before that.
        foreach (var (name, value) in SafeCpuKernelVariables)
        {
            if (Environment.GetEnvironmentVariable(name) is not null) continue;
            SetNativeEnvironment(name, value, 0);
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    /// <summary>
    /// Why a reduced-precision inference type on the CPU will be slow, or null when it will not: the kernels in force
    /// (<paramref name="cpuKernels"/>) and the processor's flags (<paramref name="cpuFlags"/>, as /proc/cpuinfo lists
    /// them) decide whether oneDNN has bfloat16 / float16 fast paths. Measured here: SD 2.1's benchmark in bfloat16 with the
    /// safe kernels did not finish in 590 s where float32 takes about 30 s per stage (docs/performance.md).
    /// </summary>
    public static string? ReducedPrecisionWarning(string dtype, bool onCpu, string cpuKernels, IReadOnlySet<string> cpuFlags)
    {
        ArgumentNullException.ThrowIfNull(dtype);
        ArgumentNullException.ThrowIfNull(cpuFlags);
        var type = dtype.Trim().ToLowerInvariant();
        if (!onCpu || type is not ("bfloat16" or "float16")) return null;
        bool fastHardware = type == "bfloat16"
            ? cpuFlags.Contains("avx512_bf16") || cpuFlags.Contains("amx_bf16")
            : cpuFlags.Contains("avx512_fp16") || cpuFlags.Contains("amx_fp16");
        if (cpuKernels == "safe")
            return $"--dtype {type} on the CPU: the kernels in force ({CpuKernelsVariable}=safe: oneDNN up to AVX) have no {type} fast paths, so it runs far " +
                   $"slower than float32; use --dtype float32" + (fastHardware ? $", or {CpuKernelsVariable}=native (this CPU has {type} instructions)" : " (this CPU has no " + type + " instructions either)");
        return fastHardware ? null
            : $"--dtype {type} on the CPU: this processor has no {type} instructions (AVX512-{(type == "bfloat16" ? "BF16" : "FP16")} or AMX), so it runs slower than float32; use --dtype float32";
    }

    /// <summary>The processor's feature flags from /proc/cpuinfo (empty where it cannot be read).</summary>
    public static IReadOnlySet<string> CpuFlags()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return line is null ? new HashSet<string>() : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        }
        catch (IOException) { return new HashSet<string>(); }
        catch (UnauthorizedAccessException) { return new HashSet<string>(); }
    }

    /// <summary>The environment variable that turns <see cref="MallocTuning"/> off (<c>off</c>); default <c>on</c>.</summary>
    public const string MallocTuningVariable = "GENSEG_MALLOC_TUNING";

    /// <summary>Whether glibc's allocator keeps freed tensor memory for reuse (see <see cref="ApplyMallocTuning"/>).</summary>
    public static bool MallocTuning { get; private set; }

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int MallOpt(int parameter, int value);

    /// <summary>
    /// glibc serves an allocation above its mmap threshold (128 KiB at first) with fresh pages from the kernel and returns
    /// them on free, and trims the heap's top above 128 KiB; every activation tensor of a forward pass then costs its
    /// pages' first-touch faults again (timed with a scratch program under perf, not in the repository: 10% of a UNet
    /// pass in the kernel's page-fault path; the embedded UNet at batch 16 took 326 ms, 262 ms with the settings below;
    /// <c>genseg bench --only g4seg</c> showed no difference beyond its run-to-run noise). Raising both thresholds keeps freed blocks in the
    /// heap for the next pass: the process's memory stays at its peak instead of falling back between passes.
    /// GENSEG_MALLOC_TUNING=off leaves glibc's defaults.
    /// </summary>
    static void ApplyMallocTuning()
    {
        var mode = (Environment.GetEnvironmentVariable(MallocTuningVariable) ?? "on").Trim().ToLowerInvariant();
        if (mode is not ("on" or "off"))
            throw new ArgumentException($"{MallocTuningVariable}={mode}: expected on or off");
        if (mode == "off") return;
        const int TrimThreshold = -1, MmapThreshold = -3; // malloc.h: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        const int Limit = 1 << 30;
        try
        {
            // glibc caps the mmap threshold at HEAP_MAX_SIZE / 2 (32 MiB on 64-bit) in some versions: fall back to that
            bool mmap = MallOpt(MmapThreshold, Limit) == 1 || MallOpt(MmapThreshold, 32 << 20) == 1;
            MallocTuning = MallOpt(TrimThreshold, Limit) == 1 && mmap;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            MallocTuning = false; // not glibc
        }
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int NnpInitialize();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr GlobalContext();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.I1)] bool enabled);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] [return: MarshalAs(UnmanagedType.I1)] delegate bool UserEnabledNnpack(IntPtr context);

    /// <summary>
    /// NNPACK as libtorch sees it: whether this processor supports it (<c>nnp_initialize</c> succeeds) and whether libtorch
    /// will try it for a convolution (<c>at::Context::userEnabledNNPACK</c>); null where libtorch_cpu's symbols cannot be
    /// found (another build of libtorch).
    /// </summary>
    public static (bool Supported, bool Enabled)? Nnpack()
    {
        EnsureNativeLoaded();
        return NnpackState(TorchContext());
    }

    /// <summary>libtorch's <c>at::globalContext()</c>, or zero where libtorch_cpu's symbols cannot be found.</summary>
    static IntPtr TorchContext() =>
        TryTorchCpuExport("_ZN2at13globalContextEv", out var context) ? Marshal.GetDelegateForFunctionPointer<GlobalContext>(context)() : IntPtr.Zero;

    static (bool Supported, bool Enabled)? NnpackState(IntPtr context)
    {
        if (context == IntPtr.Zero || !TryTorchCpuExport("nnp_initialize", out var init)
            || !TryTorchCpuExport("_ZNK2at7Context17userEnabledNNPACKEv", out var enabled)) return null;
        bool supported = Marshal.GetDelegateForFunctionPointer<NnpInitialize>(init)() == 0; // nnp_status_success
        return (supported, Marshal.GetDelegateForFunctionPointer<UserEnabledNnpack>(enabled)(context));
    }

    /// <summary>
    /// libtorch asks NNPACK for every convolution it might serve and, on a processor NNPACK does not support, logs
    /// "Could not initialize NNPACK! Reason: Unsupported hardware." each time (2602 lines in one 100-object PaintSeg
    /// evaluation here) while computing the convolution another way. Where NNPACK is unsupported it is switched off, as
    /// <c>torch.backends.nnpack.set_flags(False)</c> would: the same kernels run, without the noise. Where it is supported
    /// nothing changes.
    /// </summary>
    static void ApplyNnpack()
    {
        torch.InitializeDeviceType(DeviceType.CPU); // loads libtorch
        var context = TorchContext();
        if (NnpackState(context) is not { Supported: false, Enabled: true }
            || !TryTorchCpuExport("_ZN2at7Context20setUserEnabledNNPACKEb", out var set)) return;
        Marshal.GetDelegateForFunctionPointer<SetUserEnabledNnpack>(set)(context, false);
    }

    static bool TryTorchCpuExport(string name, out IntPtr address)
    {
        address = IntPtr.Zero;
        // already loaded by TorchSharp (a dependency of libtorch), so this finds that copy by its soname
        return RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && NativeLibrary.TryLoad("libtorch_cpu.so", out var lib)
               && NativeLibrary.TryGetExport(lib, name, out address);
    }

    /// <summary>Version strings for diagnostics (TorchSharp assembly and the libtorch it wraps).</summary>
    public static string Describe()
    {
        EnsureNativeLoaded();
        var ts = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        return $"TorchSharp {ts}, threads {torch.get_num_threads()}, CUDA {(torch.cuda.is_available() ? "yes" : "no")}, CPU kernels {CpuKernels} ({CpuKernelsVariable}), malloc tuning {(MallocTuning ? "on" : "off")} ({MallocTuningVariable})";
    }
}
