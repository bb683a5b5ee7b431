using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;

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

    /// <summary>CLIPTextModel: 3 layers of width 128 over the toy vocabulary, SD's 77-token context.</summary>
    public static ClipTextConfig TextEncoder(int vocabSize, int endToken) => new()
    {
        VocabSize = vocabSize,
        HiddenSize = 128,
        IntermediateSize = 512,
        ProjectionDim = 128,
        NumHiddenLayers = 3,
        NumAttentionHeads = 4,
        MaxPositionEmbeddings = 77,
        HiddenAct = "quick_gelu",
        LayerNormEps = 1e-5,
        EosTokenId = endToken,
    };

    /// <summary>
    /// UNet2DConditionModel on 16x16x4 latents: three levels of 64/128/128 channels, cross-attention at 16x16 and 8x8
    /// (and the 4x4 mid block), SD 2.x style linear projections with 32-dim heads; <paramref name="inChannels"/> 9 for inpainting.
    /// </summary>
    public static UNet2DConditionConfig Unet(int inChannels = 4) => new()
    {
        SampleSize = 16,
        InChannels = inChannels,
        OutChannels = 4,
        DownBlockTypes = new[] { "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" },
        UpBlockTypes = new[] { "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" },
        BlockOutChannels = new[] { 64, 128, 128 },
        LayersPerBlock = 1,
        NormNumGroups = 32,
        CrossAttentionDim = 128,
        AttentionHeadDim = new[] { 2, 4, 4 },
        UseLinearProjection = true,
    };

    /// <summary>SD's DDIM scheduler settings (scaled-linear betas 0.00085..0.012, epsilon prediction).</summary>
    public static DDIMSchedulerConfig Scheduler => DDIMSchedulerConfig.StableDiffusion("epsilon");
}
