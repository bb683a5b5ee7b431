using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Models;
using static TorchSharp.torch;

namespace GenSeg.Features;

/// <summary>
/// Diffusion features (DIFT, Tang et al. 2023): the image is encoded to a latent, noised to <see cref="Timestep"/>, and
/// the UNet's <c>up_blocks[<see cref="UpBlock"/>]</c> output is taken from one pass conditioned on
/// <see cref="Prompt"/>, averaged over <see cref="Samples"/> noise draws (DIFT: SD 2.1, t = 261, up_blocks[1], 8
/// samples, empty prompt). Deterministic: the noise comes from <see cref="Seed"/>, the same for every image.
/// </summary>
public sealed class DiffusionFeatures : IFeatureExtractor, IDisposable
{
    readonly StableDiffusionPipeline pipeline;
    readonly Tensor context;

    /// <summary>Features of <paramref name="pipeline"/>'s UNet.</summary>
    public DiffusionFeatures(StableDiffusionPipeline pipeline, int upBlock = 1, long timestep = 261, int samples = 8, string prompt = "", ulong seed = 0)
    {
        this.pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        int blocks = pipeline.Unet.UpBlocks.Count;
        if (upBlock < 0 || upBlock >= blocks) throw new ArgumentOutOfRangeException(nameof(upBlock), upBlock, $"up block: the UNet has up_blocks 0..{blocks - 1}");
        if (timestep < 0 || timestep >= pipeline.Scheduler.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"timestep must lie in [0, {pipeline.Scheduler.NumTrainTimesteps - 1}]");
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), samples, "samples: expected >= 1");
        UpBlock = upBlock;
        Timestep = timestep;
        Samples = samples;
        Prompt = prompt ?? "";
        Seed = seed;
        using var scope = NewDisposeScope();
        context = pipeline.EncodePrompt(new[] { Prompt }).Hidden.DetachFromDisposeScope();
    }

    /// <summary>Disposes the encoded prompt.</summary>
    public void Dispose() => context.Dispose();

    /// <summary>The up block whose output is the feature map.</summary>
    public int UpBlock { get; }

    /// <summary>The timestep the latent is noised to.</summary>
    public long Timestep { get; }

    /// <summary>Noise draws averaged.</summary>
    public int Samples { get; }

    /// <summary>The prompt of the UNet pass.</summary>
    public string Prompt { get; }

    /// <summary>Seed of the noise.</summary>
    public ulong Seed { get; }

    /// <inheritdoc />
    public string Name => $"dift:up{UpBlock}@t{Timestep}x{Samples}";

    /// <inheritdoc />
    public Tensor Extract(Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        return FromLatents(pipeline.EncodeImage(images)).MoveToOuterDisposeScope();
    }

    /// <summary>The features of latents [B, C, h, w] (skipping the VAE encoder when the latent is at hand).</summary>
    public Tensor FromLatents(Tensor latents)
    {
        Check.Rank(latents, nameof(latents), 4, "[B, C, h, w]");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long b = latents.shape[0];
        // every sample of every image in one UNet batch: [S * B, C, h, w]
        var shape = latents.shape[1..];
        var noise = stack(Enumerable.Range(0, Samples).Select(s =>
        {
            using var g = new Generator(Pcg32.Derive(Seed, (ulong)s));
            return randn(shape, dtype: ScalarType.Float32, generator: g);
        }).ToArray()).to(latents.device).to_type(latents.dtype);                  // [S, C, h, w]
        var x = latents.unsqueeze(0).expand(Samples, b, shape[0], shape[1], shape[2]).reshape(Samples * b, shape[0], shape[1], shape[2]);
        var n = noise.unsqueeze(1).expand(Samples, b, shape[0], shape[1], shape[2]).reshape(Samples * b, shape[0], shape[1], shape[2]);
        var noisy = pipeline.Scheduler.AddNoise(x, n, Timestep);
        var taps = new UNetFeatureTaps(UpBlock);
        var ctx = context.expand(Samples * b, context.shape[1], context.shape[2]);
        var ts = tensor(new[] { Timestep }, device: pipeline.Device).expand(Samples * b);
        // the UNet directly (its tap outputs land in this scope)
        pipeline.Unet.Forward(noisy.to(pipeline.Device), ts, ctx, null, taps);
        var f = taps[UpBlock];
        f = f.reshape(Samples, b, f.shape[1], f.shape[2], f.shape[3]).mean(new long[] { 0 });
        return f.MoveToOuterDisposeScope();
    }
}
