using GenSeg.Diffusion.Models;

namespace GenSeg.ToyWorld.Training;

/// <summary>
/// The embedded model's component configurations: Stable Diffusion's architecture, scaled to 64x64 ToyWorld images and
/// two CPU cores. The VAE maps 64x64x3 to 16x16x4 latents (SD: 512x512x3 to 64x64x4).
/// </summary>
public static class ToyModelConfigs
{
    /// <summary>AutoencoderKL: three levels (two downsamplings, factor 4), 4 latent channels.</summary>
    public static AutoencoderKLConfig Vae => new()
    {
        InChannels = 3,
        OutChannels = 3,
        DownBlockTypes = new[] { "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D" },
        UpBlockTypes = new[] { "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D" },
        BlockOutChannels = new[] { 16, 32, 64 },
        LayersPerBlock = 1,
        LatentChannels = 4,
        NormNumGroups = 8,
        SampleSize = 64,
        ScalingFactor = 1.0,
    };
}
