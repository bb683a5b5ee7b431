using GenSeg.Common;
using GenSeg.Diffusion.Models;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// DINO ViT patch features: images resized to <see cref="InputSize"/>, normalised with ImageNet's statistics, the
/// normed output of block <see cref="Layer"/> laid out on the patch grid, [B, D, InputSize/patch, InputSize/patch].
/// </summary>
public sealed class DinoFeatures : IFeatureExtractor
{
    readonly DinoVisionTransformer model;

    /// <summary>Uses <paramref name="model"/>; <paramref name="layer"/> null takes the last block.</summary>
    public DinoFeatures(DinoVisionTransformer model, int? layer = null, int? inputSize = null)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        Layer = layer ?? model.Config.Depth;
        if (Layer < 1 || Layer > model.Config.Depth)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"DINO block: expected 1..{model.Config.Depth}");
        InputSize = inputSize ?? model.Config.ImgSize;
        if (InputSize < model.Config.PatchSize)
            throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, $"DINO input size: expected at least one {model.Config.PatchSize}-pixel patch");
    }

    /// <summary>Loads a DINO folder (config.json + safetensors with DINO's key names).</summary>
    public static DinoFeatures FromFolder(string folder, int? layer = null, int? inputSize = null, Device? device = null) =>
        new(DinoVisionTransformer.FromFolder(folder, device), layer, inputSize);

    /// <summary>The block whose normed output is taken (1-based).</summary>
    public int Layer { get; }

    /// <summary>The side images are resized to.</summary>
    public int InputSize { get; }

    /// <inheritdoc />
    public string Name => $"dino:B{Layer}@{InputSize}";

    /// <inheritdoc />
    public Tensor Extract(Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = model.parameters().First().device;
        var x = ImageNormalisation.Prepare(images.to(device), InputSize, InputSize, ImageNormalisation.ImageNetMean, ImageNormalisation.ImageNetStd);
        return model.PatchFeatures(x, Layer).MoveToOuterDisposeScope();
    }
}
