using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// What the ViT feature extractors share: images resized to <see cref="InputSize"/> and normalised with the encoder's
/// statistics, encoded up to <see cref="Layer"/>, the patch tokens (CLS dropped) laid out as maps
/// [B, C, InputSize/patch, InputSize/patch], computed on the model's device in its dtype.
/// </summary>
public abstract class VitFeatures : IFeatureExtractor
{
    readonly double[] mean, std;
    readonly TorchSharp.torch.nn.Module encoder;

    /// <summary>Checks <paramref name="layer"/> against [<paramref name="firstLayer"/>, <paramref name="lastLayer"/>] and the input size
    /// against one patch; errors name the encoder <paramref name="what"/>.</summary>
    private protected VitFeatures(TorchSharp.torch.nn.Module encoder, string what, int layer, int firstLayer, int lastLayer, int inputSize, int patchSize,
        double[] mean, double[] std)
    {
        this.encoder = encoder;
        if (layer < firstLayer || layer > lastLayer)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"{what} layer: expected {firstLayer}..{lastLayer}");
        if (inputSize < patchSize)
            throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, $"{what} input size: expected at least one {patchSize}-pixel patch");
        Layer = layer;
        InputSize = inputSize;
        this.mean = mean;
        this.std = std;
    }

    /// <summary>The layer whose output is taken.</summary>
    public int Layer { get; }

    /// <summary>The side images are resized to.</summary>
    public int InputSize { get; }

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <summary>Patch maps [B, C, h, w] of normalised images at hidden state <paramref name="layer"/>.</summary>
    private protected abstract Tensor PatchMaps(Tensor pixels, int layer);

    /// <inheritdoc />
    public Tensor Extract(Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = encoder.parameters().First();
        var x = ImageNormalisation.Prepare(images.to(weight.device), InputSize, InputSize, mean, std, weight.dtype);
        return PatchMaps(x, Layer).MoveToOuterDisposeScope();
    }
}
