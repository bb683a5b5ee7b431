using GenSeg.Common;
using GenSeg.Diffusion.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.Shared;

/// <summary>Multi-class combination: background and class probabilities and the label map.</summary>
/// <param name="Probabilities">[B, 1 + K, H, W]: background first, then each class; each pixel sums to 1.</param>
/// <param name="Labels">[B, H, W] int64: 0 = background, k + 1 = class k.</param>
public sealed record CombinedLabels(Tensor Probabilities, Tensor Labels) : IDisposable
{
    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Probabilities.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Per-class helpers the methods share: a class's token positions in a prompt (for attention injection and reading)
/// and the multi-class combination of per-class foreground maps into one label map.
/// </summary>
public static class ClassMaps
{
    /// <summary>
    /// Positions of <paramref name="className"/>'s tokens in <paramref name="prompt"/>. A class the model's vocabulary
    /// does not know (its name falls apart into single characters, as an unknown word does with a byte-level BPE
    /// vocabulary) or that the prompt does not contain is an error naming the class and the prompt.
    /// </summary>
    public static int[] ClassTokens(ClipTokenizer tokenizer, string prompt, string className)
    {
        ArgumentNullException.ThrowIfNull(className);
        if (string.IsNullOrWhiteSpace(className)) throw new ArgumentException("class name: empty", nameof(className));
        var positions = tokenizer.TokenPositions(prompt, className);
        var ids = tokenizer.EncodePadded(prompt);
        var pieces = positions.Select(p => tokenizer.Decode(new[] { (int)ids[p] }).Trim()).ToArray();
        if (className.Trim().Length > 1 && pieces.All(p => p.Length <= 1))
            throw new ArgumentException($"class '{className}': not in the model's vocabulary (it tokenises into single characters: {string.Join(" ", pieces)}); " +
                                        "the text encoder has no word for it", nameof(className));
        return positions;
    }

    /// <summary>
    /// Multi-class combination: each class's map S_k [B, K, H, W] is its foreground probability against all others as
    /// background; the background score is 1 - max_k S_k, the scores [background, S_1..S_K] are normalised to sum to
    /// one per pixel, and the label is their argmax (so a pixel takes the most probable class when that class has
    /// S_k &gt; 0.5). Classes not present (<paramref name="present"/> [B, K] false) score 0.
    /// </summary>
    public static CombinedLabels Combine(Tensor probabilities, Tensor? present = null)
    {
        Check.Rank(probabilities, nameof(probabilities), 4, "[B, K, H, W]");
        long b = probabilities.shape[0], k = probabilities.shape[1];
        if (present is not null) Check.Shape(present, nameof(present), b, k);
        using var scope = NewDisposeScope();
        var s = probabilities.to_type(ScalarType.Float32).clamp(0, 1);
        if (present is not null) s = s * present.to_type(ScalarType.Float32).view(b, k, 1, 1);
        var background = k == 0 ? ones(b, 1, s.shape[2], s.shape[3], device: s.device) : 1 - s.amax(new long[] { 1 }, keepdim: true);
        var scores = cat(new[] { background, s }, 1);
        var probs = scores / scores.sum(1, keepdim: true).clamp_min(1e-12);
        var labels = scores.argmax(1);
        return new CombinedLabels(probs.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }
}
