using GenSeg.Diffusion.Models;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// CLIP vision patch tokens (G4Seg's choice for the correspondence): images resized to <see cref="VitFeatures.InputSize"/>,
/// normalised with CLIP's mean and standard deviation, encoded up to hidden state <see cref="VitFeatures.Layer"/>
/// (0 = embeddings, i = output of layer i); the patch tokens as maps. Positions are interpolated for sizes other than
/// the model's native one.
/// </summary>
public sealed class ClipVisionFeatures : VitFeatures
{
    readonly ClipVisionModel model;

    /// <summary>Uses <paramref name="model"/>; <paramref name="layer"/> null takes the last layer.</summary>
    public ClipVisionFeatures(ClipVisionModel model, int? layer = null, int? inputSize = null)
        : base(Checked(model), "CLIP", layer ?? model.Config.NumHiddenLayers, 0, model.Config.NumHiddenLayers,
            inputSize ?? model.Config.ImageSize, model.Config.PatchSize, ImageNormalisation.ClipMean, ImageNormalisation.ClipStd) =>
        this.model = model;

    static ClipVisionModel Checked(ClipVisionModel model) => model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>Loads a CLIP vision folder (transformers layout, or a full CLIP model's).</summary>
    public static ClipVisionFeatures FromFolder(string folder, int? layer = null, int? inputSize = null, Device? device = null, ScalarType? dtype = null) =>
        new(ClipVisionModel.FromFolder(folder, device, dtype), layer, inputSize);

    /// <inheritdoc />
    public override string Name => $"clip-vision:L{Layer}@{InputSize}";

    private protected override Tensor PatchMaps(Tensor pixels, int layer) => model.PatchTokens(pixels, layer);
}
