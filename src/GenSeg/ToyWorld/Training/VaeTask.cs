using GenSeg.Diffusion.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.ToyWorld.Training;

/// <summary>
/// Trains the embedded model's AutoencoderKL on ToyWorld train images: mean squared reconstruction error plus a small
/// KL term (as SD's autoencoder, without its perceptual and adversarial terms). Validation PSNR is logged at each
/// checkpoint. On export the latent scaling factor is set to 1 / std of validation latents, as SD's 0.18215 was chosen.
/// </summary>
public sealed class VaeTask : ITrainingTask
{
    readonly AutoencoderKL vae;
    readonly double klWeight;
    readonly Tensor valImages;
    readonly int crop;
    readonly bool decoderOnly;

    /// <summary>Creates the task around a fresh or resumed VAE.</summary>
    /// <param name="crop">Train on random square crops of this side (the VAE is convolutional, so it applies to full
    /// images unchanged; 32 px crops cost a quarter of full 64 px images); 0 trains on full images.</param>
    /// <param name="decoderOnly">Fine-tune only <c>post_quant_conv</c> and the decoder, the encoder and <c>quant_conv</c>
    /// frozen, as SD's ft-MSE autoencoder was made: the latent space (and its scaling factor) stays exactly as it was, so
    /// a UNet trained on it stays valid while reconstructions improve.</param>
    public VaeTask(AutoencoderKL vae, double klWeight = 1e-6, int valCount = 64, int crop = 32, bool decoderOnly = false)
    {
        this.vae = vae;
        this.klWeight = klWeight;
        this.crop = crop;
        this.decoderOnly = decoderOnly;
        if (decoderOnly)
            foreach (var (name, p) in vae.named_parameters())
                if (name.StartsWith("encoder.", StringComparison.Ordinal) || name.StartsWith("quant_conv.", StringComparison.Ordinal))
                    p.requires_grad = false;
        var seeds = Splits.Seeds(Split.Val, null, valCount);
        valImages = ToyBatches.Images(ToyBatches.Scenes(seeds));
        vae.train();
    }

    /// <inheritdoc />
    public string Name => "vae";

    /// <summary>The model being trained.</summary>
    public AutoencoderKL Model => vae;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, nn.Module> Trainable => new Dictionary<string, nn.Module> { ["vae"] = vae };

    /// <inheritdoc />
    public Tensor Loss(int step, int batch, Generator generator)
    {
        var x = ToyBatches.Images(ToyBatches.Scenes(ToyBatches.TrainSeeds(batch, generator)));
        if (crop > 0 && crop < x.shape[2])
        {
            var offsets = randint(0, x.shape[2] - crop + 1, new long[] { 2 }, generator: generator, dtype: ScalarType.Int64).data<long>().ToArray();
            x = x[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(offsets[0], offsets[0] + crop), TensorIndex.Slice(offsets[1], offsets[1] + crop)];
        }
        if (decoderOnly)
        {
            Tensor zFixed;
            using (no_grad()) zFixed = vae.Encode(x).Sample(generator);
            var decoded = vae.Decode(zFixed);
            return F.mse_loss(decoded, x) + F.l1_loss(decoded, x) * 0.1;
        }
        var posterior = vae.Encode(x);
        var z = posterior.Sample(generator);
        var recon = vae.Decode(z);
        var rec = F.mse_loss(recon, x) + F.l1_loss(recon, x) * 0.1;
        return rec + posterior.Kl().mean() * klWeight;
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Evaluate()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var recon = vae.Decode(vae.Encode(valImages).Mode()).clamp(-1, 1);
        return new Dictionary<string, double> { ["val_psnr"] = Psnr(recon, valImages) };
    }

    /// <summary>PSNR in dB of images in [-1, 1] (peak-to-peak 2).</summary>
    public static double Psnr(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var mse = (a - b).pow(2).mean(new long[] { 1, 2, 3 });             // per image
        return (10 * torch.log10(4.0 / mse.clamp_min(1e-12))).mean().item<float>();
    }

    /// <summary>1 / std of the validation latents' means: the scaling factor that gives unit-variance diffusion latents.</summary>
    public double LatentScalingFactor()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return 1.0 / vae.Encode(valImages).Mean.std().item<float>();
    }

    /// <inheritdoc />
    public void Export(string folder)
    {
        // A decoder-only fine-tune keeps the latent space, so it keeps the scaling factor the UNet was trained with.
        double factor = decoderOnly ? vae.Config.ScalingFactor : Math.Round(LatentScalingFactor(), 5);
        var scaled = AutoencoderKL.FromConfig(vae.Config with { ScalingFactor = factor });
        using (no_grad())
            foreach (var (k, v) in vae.state_dict()) scaled.state_dict()[k].copy_(v);
        scaled.Save(folder);
    }
}
