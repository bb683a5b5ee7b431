using GenSeg.Common;
using GenSeg.Diffusion.Models;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// ViT patch features, from CLIP's vision tower (<see cref="Clip"/>) or DINO (<see cref="Dino"/>): images resized to
/// <see cref="InputSize"/> and normalised with the encoder's statistics, encoded up to <see cref="Layer"/>, the patch
/// tokens (CLS dropped) laid out as maps [B, C, InputSize/patch, InputSize/patch], computed on the model's device in its
/// dtype.
/// </summary>
public sealed class VitFeatures : IFeatureExtractor
{
    /// <summary>What the features need of an encoder.</summary>
    /// <param name="Family">The encoder's name in errors ("CLIP", "DINO").</param>
    /// <param name="NameTag">The start of <see cref="Name"/>, followed by the layer, '@' and the input size.</param>
    /// <param name="FirstLayer">The lowest layer that may be taken.</param>
    /// <param name="LastLayer">The highest layer that may be taken, and the default.</param>
    /// <param name="NativeSize">The default input size.</param>
    /// <param name="PatchSize">Side of a patch: the smallest input size.</param>
    /// <param name="Mean">Per-channel mean the images are normalised with.</param>
    /// <param name="Std">Per-channel standard deviation the images are normalised with.</param>
    /// <param name="Module">The encoder (its first parameter gives the device and dtype).</param>
    /// <param name="PatchMaps">Patch maps [B, C, h, w] of normalised images at a layer.</param>
    sealed record Encoder(string Family, string NameTag, int FirstLayer, int LastLayer, int NativeSize, int PatchSize,
        double[] Mean, double[] Std, nn.Module Module, Func<Tensor, int, Tensor> PatchMaps);

    readonly Encoder encoder;

    /// <summary>Checks <paramref name="layer"/> (default the last) against the encoder's layers and
    /// <paramref name="inputSize"/> (default the native size) against one patch; errors name the encoder's family.</summary>
    VitFeatures(Encoder encoder, int? layer, int? inputSize)
    {
        this.encoder = encoder;
        Layer = layer ?? encoder.LastLayer;
        InputSize = inputSize ?? encoder.NativeSize;
        if (Layer < encoder.FirstLayer || Layer > encoder.LastLayer)
            throw new ArgumentOutOfRangeException(nameof(layer), Layer, $"{encoder.Family} layer: expected {encoder.FirstLayer}..{encoder.LastLayer}");
        if (InputSize < encoder.PatchSize)
            throw new ArgumentOutOfRangeException(nameof(inputSize), InputSize, $"{encoder.Family} input size: expected at least one {encoder.PatchSize}-pixel patch");
    }

    /// <summary>
    /// CLIP vision patch tokens (G4Seg's choice for the correspondence): images resized to <see cref="InputSize"/>
    /// (default the model's image_size), normalised with CLIP's mean and standard deviation, encoded up to hidden state
    /// <see cref="Layer"/> (0 = embeddings, i = output of layer i; default the last layer); the patch tokens as maps.
    /// Positions are interpolated for sizes other than the model's native one. <see cref="Name"/> is
    /// "clip-vision:L{Layer}@{InputSize}".
    /// </summary>
    public static VitFeatures Clip(ClipVisionModel model, int? layer = null, int? inputSize = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        return new(new("CLIP", "clip-vision:L", 0, c.NumHiddenLayers, c.ImageSize, c.PatchSize, ImageNormalisation.ClipMean,
            ImageNormalisation.ClipStd, model, model.PatchTokens), layer, inputSize);
    }

    /// <summary>
    /// DINO ViT patch features: images resized to <see cref="InputSize"/> (default the model's img_size), normalised with
    /// ImageNet's statistics, the normed output of block <see cref="Layer"/> (1-based; default the last block) laid out
    /// on the patch grid. <see cref="Name"/> is "dino:B{Layer}@{InputSize}".
    /// </summary>
    public static VitFeatures Dino(DinoVisionTransformer model, int? layer = null, int? inputSize = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        return new(new("DINO", "dino:B", 1, c.Depth, c.ImgSize, c.PatchSize, ImageNormalisation.ImageNetMean,
            ImageNormalisation.ImageNetStd, model, (x, l) => model.PatchFeatures(x, l)), layer, inputSize);
    }

    /// <summary><see cref="Clip"/> of a CLIP vision folder (transformers layout, or a full CLIP model's).</summary>
    public static VitFeatures ClipFromFolder(string folder, int? layer = null, int? inputSize = null, Device? device = null, ScalarType? dtype = null) =>
        Clip(ClipVisionModel.FromFolder(folder, device, dtype), layer, inputSize);

    /// <summary><see cref="Dino"/> of a DINO folder (DINO's layout or transformers' ViTModel layout).</summary>
    public static VitFeatures DinoFromFolder(string folder, int? layer = null, int? inputSize = null, Device? device = null, ScalarType? dtype = null) =>
        Dino(DinoVisionTransformer.FromFolder(folder, device, dtype), layer, inputSize);

    /// <summary>The layer whose output is taken.</summary>
    public int Layer { get; }

    /// <summary>The side images are resized to.</summary>
    public int InputSize { get; }

    /// <inheritdoc />
    public string Name => $"{encoder.NameTag}{Layer}@{InputSize}";

    /// <inheritdoc />
    public Tensor Extract(Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = encoder.Module.parameters().First();
        var x = ImageNormalisation.Prepare(images.to(weight.device), InputSize, InputSize, encoder.Mean, encoder.Std, weight.dtype);
        return encoder.PatchMaps(x, Layer).MoveToOuterDisposeScope();
    }
}
