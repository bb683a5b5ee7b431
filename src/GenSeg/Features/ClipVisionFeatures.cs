using GenSeg.Common;
using GenSeg.Diffusion.Models;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// CLIP vision patch tokens (G4Seg's choice for the correspondence): images resized to <see cref="InputSize"/>,
/// normalised with CLIP's mean and standard deviation, encoded up to hidden state <see cref="Layer"/>; the patch tokens
/// (CLS dropped) as maps [B, C, InputSize/patch, InputSize/patch]. Positions are interpolated for sizes other than the
/// model's native one.
/// </summary>
public sealed class ClipVisionFeatures : IFeatureExtractor
{
    readonly ClipVisionModel model;

    /// <summary>Uses <paramref name="model"/>; <paramref name="layer"/> null takes the last layer.</summary>
    public ClipVisionFeatures(ClipVisionModel model, int? layer = null, int? inputSize = null)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        Layer = layer ?? model.Config.NumHiddenLayers;
        if (Layer < 0 || Layer > model.Config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"CLIP layer: expected 0..{model.Config.NumHiddenLayers}");
        InputSize = inputSize ?? model.Config.ImageSize;
        if (InputSize < model.Config.PatchSize)
            throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, $"CLIP input size: expected at least one {model.Config.PatchSize}-pixel patch");
    }

    /// <summary>Loads a CLIP vision folder (transformers layout).</summary>
    public static ClipVisionFeatures FromFolder(string folder, int? layer = null, int? inputSize = null, Device? device = null) =>
        new(ClipVisionModel.FromFolder(folder, device), layer, inputSize);

    /// <summary>Hidden state index (0 = embeddings, i = output of layer i).</summary>
    public int Layer { get; }

    /// <summary>The side images are resized to.</summary>
    public int InputSize { get; }

    /// <inheritdoc />
    public string Name => $"clip-vision:L{Layer}@{InputSize}";

    /// <inheritdoc />
    public Tensor Extract(Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = model.parameters().First().device;
        var x = ImageNormalisation.Prepare(images.to(device), InputSize, InputSize, ImageNormalisation.ClipMean, ImageNormalisation.ClipStd);
        return model.PatchTokens(x, Layer).MoveToOuterDisposeScope();
    }
}
