using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Support;

/// <summary>
/// Locates the reference vectors: $GENSEG_PARITY_DIR when set, else ../shared/parity beside the repository root.
/// Tests call <see cref="Folder"/> inside a [SkippableFact]; with neither present they are skipped with a visible reason.
/// </summary>
public static class Parity
{
    /// <summary>The repository root (the folder holding Research.sln).</summary>
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Research.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Research.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The parity root folder, or null.</summary>
    public static string? Root()
    {
        var env = Environment.GetEnvironmentVariable("GENSEG_PARITY_DIR");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? env : throw new DirectoryNotFoundException($"GENSEG_PARITY_DIR={env} does not exist");
        var beside = Path.GetFullPath(Path.Combine(RepoRoot(), "..", "shared", "parity"));
        return Directory.Exists(beside) ? beside : null;
    }

    /// <summary>The folder of one reference model (e.g. "unet_sd21"); skips the test when no parity data is present.</summary>
    public static string Folder(string name)
    {
        var root = Root();
        Skip.If(root is null, "no parity vectors: set GENSEG_PARITY_DIR or place shared/parity beside the repository");
        var dir = Path.Combine(root!, name);
        Skip.IfNot(Directory.Exists(dir), $"parity folder {dir} is absent");
        return dir;
    }

    /// <summary>Loads a folder's io.safetensors as float32/int64 tensors.</summary>
    public static Dictionary<string, Tensor> Io(string folder) => SafeTensors.Load(Path.Combine(folder, "io.safetensors"), floatType: null);

    /// <summary>Asserts two tensors agree element-wise to <paramref name="atol"/>, reporting the max difference.</summary>
    public static double AssertClose(Tensor expected, Tensor actual, double atol, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape {GenSeg.Common.Check.Format(actual.shape)}, expected {GenSeg.Common.Check.Format(expected.shape)}");
        using var scope = torch.NewDisposeScope();
        double max = (expected.to_type(ScalarType.Float64) - actual.detach().cpu().to_type(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(max <= atol, $"{what}: max abs difference {max:E3} exceeds {atol:E1}");
        return max;
    }
}
