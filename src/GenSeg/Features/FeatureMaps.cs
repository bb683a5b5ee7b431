using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.Features;

/// <summary>Operations on feature maps [B, C, h, w] shared by every extractor and consumer.</summary>
public static class FeatureMaps
{
    /// <summary>
    /// Upsamples feature maps [B, C, h, w] bilinearly to [B, C, height, width] and L2-normalises each pixel's channel
    /// vector, as DIFT does before cosine matching.
    /// </summary>
    public static Tensor ToPixels(Tensor features, long height, long width, bool normalise = true)
    {
        Check.Rank(features, nameof(features), 4, "[B, C, h, w]");
        using var scope = NewDisposeScope();
        var x = features.shape[2] == height && features.shape[3] == width
            ? features
            : F.interpolate(features, new[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: false);
        if (normalise) x = UnitChannels(x);
        return x.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Each pixel's channel vector of [B, C, H, W] divided by its L2 norm (at least <paramref name="eps"/>), as
    /// <c>F.normalize(x, p: 2, dim: 1)</c>. The norm is a sum of squares: libtorch's norm reduction over the channel
    /// dimension of a [B, C, H, W] map takes its slow per-output path (measured here: most of G4Seg's matching time for
    /// 5-channel colour+position features at 64 x 64).
    /// </summary>
    public static Tensor UnitChannels(Tensor x, double eps = 1e-8)
    {
        Check.Rank(x, nameof(x), 4, "[B, C, H, W]");
        using var scope = NewDisposeScope();
        var norm = x.square().sum(1, keepdim: true).sqrt_().clamp_min_(eps);
        return x.div(norm).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Projects feature maps [B, C, h, w] onto their first three principal components (computed over all pixels of the
    /// batch) and rescales each to [0, 1]: [B, 3, h, w], for display as an RGB image.
    /// </summary>
    public static Tensor Pca3(Tensor features)
    {
        Check.Rank(features, nameof(features), 4, "[B, C, h, w]");
        using var scope = NewDisposeScope();
        long b = features.shape[0], c = features.shape[1], h = features.shape[2], w = features.shape[3];
        var x = features.permute(0, 2, 3, 1).reshape(-1, c).to_type(ScalarType.Float32);
        x = x - x.mean(new long[] { 0 }, keepdim: true);
        var (_, _, v) = linalg.svd(x, fullMatrices: false);
        long k = Math.Min(3, v.shape[0]);
        var proj = x.matmul(v[..(int)k].t());
        if (k < 3) proj = cat(new[] { proj, zeros(proj.shape[0], 3 - k) }, 1);
        var lo = proj.amin(new long[] { 0 }, keepdim: true);
        var hi = proj.amax(new long[] { 0 }, keepdim: true);
        proj = (proj - lo) / (hi - lo).clamp_min(1e-8);
        return proj.reshape(b, h, w, 3).permute(0, 3, 1, 2).contiguous().MoveToOuterDisposeScope();
    }
}
