using GenSeg.Common;
using GenSeg.Diffusion;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// The model's own VAE encoder as E: the posterior mean of each image's latent (scaled as the UNet sees it),
/// [B, 4, H/f, W/f]. A learned, patch-level description of local colour and texture (each latent cell summarises an
/// f x f patch and its surroundings), the closest thing the embedded model has to a ViT's patch tokens at no extra
/// training; used as a stand-in for DINO in PaintSeg's potential (Eq. 1) on ToyWorld.
/// </summary>
public sealed class VaeEncoderFeatures : IFeatureExtractor
{
    readonly StableDiffusionPipeline pipeline;

    /// <summary>Features of <paramref name="pipeline"/>'s VAE encoder.</summary>
    public VaeEncoderFeatures(StableDiffusionPipeline pipeline) =>
        this.pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));

    /// <inheritdoc />
    public string Name => "vae-encoder";

    /// <inheritdoc />
    public Tensor Extract(Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var latents = pipeline.Vae.Encode(images.to(pipeline.Device).to_type(ScalarType.Float32)).Mode() * pipeline.Vae.ScalingFactor;
        return latents.to_type(ScalarType.Float32).contiguous().MoveToOuterDisposeScope();
    }
}
