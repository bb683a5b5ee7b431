using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// The plain baseline extractor: each pixel's colour (RGB in [-1, 1], times <see cref="ColourWeight"/>) and its normalised
/// position (x and y in [-1, 1], times <see cref="PositionWeight"/>): [B, 5, H, W]. No learned model.
/// </summary>
public sealed class ColourPositionFeatures : IFeatureExtractor
{
    /// <summary>Weight of the three colour channels.</summary>
    public double ColourWeight { get; }

    /// <summary>Weight of the two position channels.</summary>
    public double PositionWeight { get; }

    /// <summary>Creates the extractor.</summary>
    public ColourPositionFeatures(double colourWeight = 1.0, double positionWeight = 0.5)
    {
        ColourWeight = colourWeight;
        PositionWeight = positionWeight;
    }

    /// <inheritdoc />
    public string Name => $"colour-position(c={ColourWeight},p={PositionWeight})";

    /// <inheritdoc />
    public int? Reach => 0; // each pixel's own colour and position

    /// <inheritdoc />
    public Tensor Extract(Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        long b = images.shape[0], h = images.shape[2], w = images.shape[3];
        var ys = linspace(-1, 1, h, device: images.device).view(1, 1, h, 1).expand(b, 1, h, w);
        var xs = linspace(-1, 1, w, device: images.device).view(1, 1, 1, w).expand(b, 1, h, w);
        var f = cat(new[] { images.to_type(ScalarType.Float32) * ColourWeight, xs * PositionWeight, ys * PositionWeight }, 1);
        return f.contiguous().MoveToOuterDisposeScope();
    }
}
