using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// Asks <see cref="UNet2DConditionModel.Forward"/> for the outputs of chosen up blocks (diffusion features, e.g. DIFT's
/// <c>up_blocks[1]</c>) and receives them. The tensors leave the forward pass like its result: into the caller's dispose
/// scope (or unscoped, for the caller to dispose, when it has none). A later call replaces them.
/// </summary>
public sealed class UNetFeatureTaps
{
    readonly Dictionary<int, Tensor> outputs = new();

    /// <summary>Requests the outputs of up blocks <paramref name="upBlocks"/> (indices into <c>up_blocks</c>).</summary>
    public UNetFeatureTaps(params int[] upBlocks)
    {
        if (upBlocks.Length == 0) throw new ArgumentException("UNetFeatureTaps: name at least one up block", nameof(upBlocks));
        UpBlocks = upBlocks.Distinct().ToArray();
    }

    /// <summary>The requested up-block indices.</summary>
    public IReadOnlyList<int> UpBlocks { get; }

    /// <summary>The outputs of the last call, by up-block index, each [B, C, h, w].</summary>
    public IReadOnlyDictionary<int, Tensor> Outputs => outputs;

    /// <summary>The output of up block <paramref name="upBlock"/> from the last call.</summary>
    public Tensor this[int upBlock] => outputs.TryGetValue(upBlock, out var t)
        ? t
        : throw new KeyNotFoundException($"UNetFeatureTaps: no output for up block {upBlock} (requested: {string.Join(", ", UpBlocks)}; has the forward pass run?)");

    internal void Clear() => outputs.Clear();

    internal void Set(int upBlock, Tensor output) => outputs[upBlock] = output;
}
