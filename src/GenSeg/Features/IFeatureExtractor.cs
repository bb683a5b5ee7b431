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
}
