using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.G4Seg;

/// <summary>G4Seg's probability mixing along correspondences (Eq. 9).</summary>
public static class Mixing
{
    /// <summary>
    /// S*[j] = b * S[j] + (1 - b) * S[d_j] inside <paramref name="area"/> (the confusion area); S*[j] = S[j] elsewhere.
    /// </summary>
    /// <param name="probabilities">S: [B, H, W] foreground probabilities of the original image.</param>
    /// <param name="index">d_j: [B, H*W] flat indices into S (from <see cref="Correspondence.Match"/>).</param>
    /// <param name="area">[B, H, W] bool or 0/1: where mixing applies.</param>
    /// <param name="b">b in Eq. 9: 0.8 open-vocabulary, 0.9 weakly supervised.</param>
    public static Tensor Mix(Tensor probabilities, Tensor index, Tensor area, double b)
    {
        Check.Rank(probabilities, nameof(probabilities), 3, "[B, H, W]");
        long bs = probabilities.shape[0], h = probabilities.shape[1], w = probabilities.shape[2];
        Check.Shape(index, nameof(index), bs, h * w);
        Check.Shape(area, nameof(area), bs, h, w);
        Check.InRange(b, nameof(b), 0, 1);
        using var scope = NewDisposeScope();
        var s = probabilities.reshape(bs, h * w);
        var matched = s.gather(1, index.to_type(ScalarType.Int64));
        var mixed = s * b + matched * (1 - b); // Eq. 9
        var result = where(area.reshape(bs, h * w).to_type(ScalarType.Bool), mixed, s);
        return result.reshape(bs, h, w).MoveToOuterDisposeScope();
    }
}
