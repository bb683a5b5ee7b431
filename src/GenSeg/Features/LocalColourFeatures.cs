using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// Each pixel's mean colour over a <see cref="Window"/> x <see cref="Window"/> neighbourhood (RGB in [-1, 1], the window
/// clipped at the border): [B, 3, H, W]. A texture repainted out of phase (stripes shifted, a checkerboard blurred into its
/// mean) keeps its local mean, while a removed or added object changes it; this is the invariance DINO's patch features
/// give PaintSeg's potential (Eq. 1) on natural images, without a learned model. <see cref="Window"/> 1 is plain colour.
/// </summary>
public sealed class LocalColourFeatures : IFeatureExtractor
{
    /// <summary>Side of the averaging window in pixels of the image as given (odd).</summary>
    public int Window { get; }

    /// <summary>Averages over <paramref name="window"/> x <paramref name="window"/> pixels (odd, at least 1).</summary>
    public LocalColourFeatures(int window)
    {
        if (window < 1 || window % 2 == 0)
            throw new ArgumentOutOfRangeException(nameof(window), window, "window: expected an odd number of pixels, at least 1");
        Window = window;
    }

    /// <inheritdoc />
    public string Name => $"local-colour(w={Window})";

    /// <inheritdoc />
    public int? Reach => Window / 2; // the mean over a window centred on the pixel

    /// <inheritdoc />
    public Tensor Extract(Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        var x = images.to_type(ScalarType.Float32);
        if (Window == 1) return x.contiguous().MoveToOuterDisposeScope();
        var mean = nn.functional.avg_pool2d(x, Window, stride: 1, padding: Window / 2, count_include_pad: false);
        return mean.contiguous().MoveToOuterDisposeScope();
    }
}
