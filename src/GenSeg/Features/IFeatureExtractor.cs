using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// A per-pixel feature extractor E: images [B, 3, H, W] in [-1, 1] to feature maps [B, C, h, w]. The map may be coarser
/// than the image (ViT patch tokens, UNet up-block outputs); <see cref="FeatureMaps.ToPixels"/> brings it to image size.
/// Used by G4Seg's correspondence (Eq. 8) and PaintSeg's contrastive potential (Eq. 1).
/// </summary>
public interface IFeatureExtractor
{
    /// <summary>A short name for tables and plots (e.g. "clip-vision:L6", "dino-vits8", "dift:up1@t261", "colour-position").</summary>
    string Name { get; }

    /// <summary>Feature maps [B, C, h, w] of <paramref name="images"/> [B, 3, H, W] in [-1, 1].</summary>
    Tensor Extract(Tensor images);

    /// <summary>
    /// How far a pixel's feature reaches in the image: the feature of pixel j, brought to image size by
    /// <see cref="FeatureMaps.ToPixels"/>, depends only on the pixels within this many pixels of j along each axis; null
    /// when it may depend on the whole image (ViT and UNet features). G4Seg's decode window
    /// (<c>G4SegOptions.DecodeWindow</c>) decodes the generated image only as far as the correspondence reads it.
    /// </summary>
    int? Reach => null;
}
