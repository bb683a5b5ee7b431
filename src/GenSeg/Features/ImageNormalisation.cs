using GenSeg.Common;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.Features;

/// <summary>Resizing and per-channel normalisation of kit images ([B, 3, H, W] in [-1, 1]) for vision encoders.</summary>
public static class ImageNormalisation
{
    /// <summary>CLIP's pixel mean (OpenAI CLIP image processor).</summary>
    public static readonly double[] ClipMean = { 0.48145466, 0.4578275, 0.40821073 };

    /// <summary>CLIP's pixel standard deviation.</summary>
    public static readonly double[] ClipStd = { 0.26862954, 0.26130258, 0.27577711 };

    /// <summary>ImageNet's pixel mean (DINO).</summary>
    public static readonly double[] ImageNetMean = { 0.485, 0.456, 0.406 };

    /// <summary>ImageNet's pixel standard deviation (DINO).</summary>
    public static readonly double[] ImageNetStd = { 0.229, 0.224, 0.225 };

    /// <summary>
    /// Images [B, 3, H, W] in [-1, 1] resized (bicubic, as the CLIP and DINO processors) to <paramref name="height"/> x
    /// <paramref name="width"/>, mapped to [0, 1] and normalised with <paramref name="mean"/> and <paramref name="std"/>.
    /// </summary>
    public static Tensor Prepare(Tensor images, long height, long width, double[] mean, double[] std, ScalarType dtype = ScalarType.Float32)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        var x = (images.to_type(ScalarType.Float32) + 1) * 0.5;
        if (x.shape[2] != height || x.shape[3] != width)
            x = F.interpolate(x, new[] { height, width }, mode: InterpolationMode.Bicubic, align_corners: false).clamp(0, 1);
        var m = tensor(mean, dtype: ScalarType.Float32, device: x.device).view(1, 3, 1, 1);
        var s = tensor(std, dtype: ScalarType.Float32, device: x.device).view(1, 3, 1, 1);
        return ((x - m) / s).to_type(dtype).MoveToOuterDisposeScope();
    }
}
