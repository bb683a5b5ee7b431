using GenSeg.Runtime;

namespace GenSeg.Notebooks;

/// <summary>
/// What a notebook's reference cell calls right after its <c>#r</c> lines, the same in the .NET Interactive kernel and in
/// the kit's runner: the kit's native set-up (TorchSharp's shim, the safe CPU kernels, OpenMP's passive waiting, glibc's
/// allocator settings; see <see cref="TorchRuntime"/>) before the first tensor, as the CLI does, and the kit's output
/// formatters (charts, DataFrames, images; see <see cref="OutputFormatter"/>).
/// </summary>
public static class NotebookKit
{
    /// <summary>Sets the kit up (once per process; later calls do nothing more) and describes the runtime.</summary>
    public static string Start()
    {
        TorchRuntime.EnsureNativeLoaded();
        OutputFormatter.EnsureRegistered();
        return TorchRuntime.Describe();
    }
}
