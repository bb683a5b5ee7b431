using GenSeg.Diffusion.Models;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// DINO ViT patch features: images resized to <see cref="VitFeatures.InputSize"/>, normalised with ImageNet's
/// statistics, the normed output of block <see cref="VitFeatures.Layer"/> (1-based) laid out on the patch grid.
/// </summary>
public sealed class DinoFeatures : VitFeatures
{
    readonly DinoVisionTransformer model;

    /// <summary>Uses <paramref name="model"/>; <paramref name="layer"/> null takes the last block.</summary>
    public DinoFeatures(DinoVisionTransformer model, int? layer = null, int? inputSize = null)
        : base(Checked(model), "DINO", layer ?? model.Config.Depth, 1, model.Config.Depth,
            inputSize ?? model.Config.ImgSize, model.Config.PatchSize, ImageNormalisation.ImageNetMean, ImageNormalisation.ImageNetStd) =>
        this.model = model;

    static DinoVisionTransformer Checked(DinoVisionTransformer model) => model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>Loads a DINO folder (DINO's layout or transformers' ViTModel layout).</summary>
    public static DinoFeatures FromFolder(string folder, int? layer = null, int? inputSize = null, Device? device = null, ScalarType? dtype = null) =>
        new(DinoVisionTransformer.FromFolder(folder, device, dtype), layer, inputSize);

    /// <inheritdoc />
    public override string Name => $"dino:B{Layer}@{InputSize}";

    private protected override Tensor PatchMaps(Tensor pixels, int layer) => model.PatchFeatures(pixels, layer);
}
