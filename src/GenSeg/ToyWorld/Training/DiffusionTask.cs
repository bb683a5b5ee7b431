using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.Imaging;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.ToyWorld.Training;

/// <summary>How a training caption is chosen for a scene.</summary>
/// <param name="EmptyShare">Share of empty captions (classifier-free guidance needs the unconditional model; SD drops 10%).</param>
/// <param name="ClassOnlyShare">Share of captions that name only the classes ("a photo of a star and a ring"); the rest also
/// name colours. Class-only captions make the class token carry the object (see the kit's measurements).</param>
public sealed record CaptionMix(double EmptyShare = 0.1, double ClassOnlyShare = 0.5)
{
    /// <summary>Picks a caption for <paramref name="scene"/> from a uniform draw <paramref name="u"/> in [0, 1).</summary>
    public string For(Scene scene, double u) =>
        u < EmptyShare ? "" : u < EmptyShare + ClassOnlyShare ? scene.CaptionFor(CaptionStyle.ClassOnly) : scene.CaptionFor(CaptionStyle.WithColour);
}

/// <summary>
/// Trains the embedded model's text-conditioned UNet jointly with its CLIP text encoder (epsilon or v-prediction on VAE
/// latents as the <see cref="DiffusionRecipe"/> says, SD's scaled-linear schedule, uniform timesteps), the VAE frozen.
/// Logged at checkpoints: the loss on a fixed validation batch at fixed timesteps, comparable across checkpoints of one
/// prediction type.
/// </summary>
public sealed class DiffusionTask : ITrainingTask
{
    readonly UNet2DConditionModel unet;
    readonly ClipTextModel text;
    readonly AutoencoderKL vae;
    readonly ClipTokenizer tokenizer;
    readonly DDIMScheduler scheduler;
    readonly CaptionMix captions;
    readonly DiffusionRecipe recipe;
    readonly EmaWeights? ema;
    readonly Tensor valLatents, valIds, valNoise, valT;

    /// <summary>Creates the task. <paramref name="vae"/> is frozen (eval, no gradients); with
    /// <paramref name="freezeText"/> the text encoder is frozen too (it stays in the checkpoint, unchanged), so that an
    /// inpainting UNet can be trained at the same time against the same text encoder. <paramref name="recipe"/>: the loss
    /// weighting, prediction type and an EMA of the UNet's weights (default: none of them, epsilon prediction).</summary>
    public DiffusionTask(UNet2DConditionModel unet, ClipTextModel text, AutoencoderKL vae, ClipTokenizer tokenizer, DDIMScheduler scheduler, CaptionMix? captions = null, bool freezeText = false,
        DiffusionRecipe? recipe = null)
    {
        this.recipe = recipe ?? new DiffusionRecipe();
        this.recipe.Validate();
        ema = this.recipe.EmaOf(unet);
        if (freezeText)
            foreach (var p in text.parameters()) p.requires_grad = false;
        this.unet = unet;
        this.text = text;
        this.vae = vae;
        this.tokenizer = tokenizer;
        this.scheduler = scheduler;
        this.captions = captions ?? new CaptionMix();
        vae.eval();
        foreach (var p in vae.parameters()) p.requires_grad = false;
        var scenes = ToyBatches.Scenes(Splits.Seeds(Split.Val, null, 32));
        using var noGrad = no_grad();
        valLatents = Encode(ToyBatches.Images(scenes), null);
        valIds = Ids(scenes.Select(s => s.CaptionFor(CaptionStyle.ClassOnly)));
        var g = new Generator(12345);
        valNoise = randn(valLatents.shape, generator: g);
        valT = linspace(50, 950, scenes.Length).to_type(ScalarType.Int64);
        unet.train();
        text.train();
    }

    /// <inheritdoc />
    public string Name => "unet";

    /// <inheritdoc />
    /// <remarks>With an EMA its average is checkpointed too, under <see cref="EmaWeights.CheckpointPrefix"/>.</remarks>
    public IReadOnlyDictionary<string, nn.Module> Trainable => ema is null
        ? new Dictionary<string, nn.Module> { ["unet"] = unet, ["text_encoder"] = text }
        : new Dictionary<string, nn.Module> { ["unet"] = unet, ["text_encoder"] = text, [EmaWeights.CheckpointPrefix] = ema.Average };

    Tensor Encode(Tensor images, Generator? g)
    {
        using var noGrad = no_grad();
        var posterior = vae.Encode(images);
        return (g is null ? posterior.Mode() : posterior.Sample(g)) * vae.ScalingFactor;
    }

    Tensor Ids(IEnumerable<string> texts) => stack(texts.Select(t => tensor(tokenizer.EncodePadded(t))).ToArray());

    /// <inheritdoc />
    public Tensor Loss(int step, int batch, Generator generator)
    {
        var scenes = ToyBatches.Scenes(ToyBatches.TrainSeeds(batch, generator));
        var u = rand(batch, generator: generator, dtype: ScalarType.Float64).data<double>().ToArray();
        ema?.Update(step, recipe.EmaDecayAt(step));
        var ids = Ids(scenes.Select((s, i) => captions.For(s, u[i])));
        var latents = Encode(ToyBatches.Images(scenes), generator);
        var noise = randn(latents.shape, generator: generator);
        var t = randint(0, scheduler.NumTrainTimesteps, new long[] { batch }, generator: generator, dtype: ScalarType.Int64);
        var noisy = scheduler.AddNoise(latents, noise, t);
        var context = text.Forward(ids).LastHiddenState;
        var prediction = unet.Forward(noisy, t, context);
        return recipe.Loss(prediction, latents, noise, t, scheduler);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Evaluate()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var noisy = scheduler.AddNoise(valLatents, valNoise, valT);
        var pred = unet.Forward(noisy, valT, text.Forward(valIds).LastHiddenState);
        return new Dictionary<string, double> { ["val_loss"] = F.mse_loss(pred, recipe.Target(valLatents, valNoise, valT, scheduler)).item<float>() };
    }

    /// <inheritdoc />
    public void Export(string folder)
    {
        ((UNet2DConditionModel?)ema?.Average ?? unet).Save(Path.Combine(folder, "unet"));
        text.Save(Path.Combine(folder, "text_encoder"));
    }
}

/// <summary>
/// Trains the embedded inpainting UNet (9 input channels: noisy latent, mask, masked-image latent, as SD-inpainting)
/// with the trained text encoder frozen. Masks: an object's dilated mask with the object REMOVED from the target and the
/// caption (the exact background ToyWorld can render; what PaintSeg's I-step needs), boxes, blobs, the whole image,
/// a ring of background around an object (PaintSeg's O-step) and no mask.
/// </summary>
public sealed class InpaintTask : ITrainingTask
{
    readonly UNet2DConditionModel unet;
    readonly ClipTextModel text;
    readonly AutoencoderKL vae;
    readonly ClipTokenizer tokenizer;
    readonly DDIMScheduler scheduler;
    readonly CaptionMix captions;

    readonly InpaintMasks maskKind;
    readonly DiffusionRecipe recipe;
    readonly EmaWeights? ema;

    /// <summary>Creates the task; <paramref name="text"/> and <paramref name="vae"/> are frozen. <paramref name="masks"/>
    /// chooses the training masks, <paramref name="recipe"/> the loss weighting and the EMA of the weights.</summary>
    public InpaintTask(UNet2DConditionModel unet, ClipTextModel text, AutoencoderKL vae, ClipTokenizer tokenizer, DDIMScheduler scheduler, CaptionMix? captions = null,
        InpaintMasks masks = InpaintMasks.Mixed, DiffusionRecipe? recipe = null)
    {
        if (unet.Config.InChannels != 9) throw new ArgumentException($"inpainting UNet: expected in_channels 9, got {unet.Config.InChannels}");
        maskKind = masks;
        this.recipe = recipe ?? new DiffusionRecipe();
        this.recipe.Validate();
        ema = this.recipe.EmaOf(unet);
        this.unet = unet;
        this.text = text;
        this.vae = vae;
        this.tokenizer = tokenizer;
        this.scheduler = scheduler;
        this.captions = captions ?? new CaptionMix();
        foreach (var m in new nn.Module[] { text, vae })
        {
            m.eval();
            foreach (var p in m.parameters()) p.requires_grad = false;
        }
        unet.train();
    }

    /// <inheritdoc />
    public string Name => "inpaint";

    /// <inheritdoc />
    /// <remarks>With an EMA its average is checkpointed too, under "ema" (frozen, so the optimizer leaves it alone).</remarks>
    public IReadOnlyDictionary<string, nn.Module> Trainable => ema is null
        ? new Dictionary<string, nn.Module> { ["unet"] = unet }
        : new Dictionary<string, nn.Module> { ["unet"] = unet, [EmaWeights.CheckpointPrefix] = ema.Average };

    InpaintExample Make(Scene scene, double u1, double u2, double u3, int blobSeed)
    {
        int size = scene.Size;
        var image = scene.ImageTensor();
        double kind = u1;
        if (kind < 0.4 && scene.Objects.Count > 0)
        {
            // object removal: paint the dilated object region; target = the scene without the object
            int k = (int)(u2 * scene.Objects.Count) % scene.Objects.Count;
            var mask = Morphology.Dilate(scene.InstanceTensor(k), Kernel.Square(3), 1 + (int)(u3 * 3));
            var without = SceneGenerator.Generate(scene.Seed, null, new[] { k });
            return new InpaintExample(image, mask, without.ImageTensor(), captions.For(without, u3 < 0.2 ? 0 : 0.2 + u3 * 0.8));
        }
        if (kind < 0.55 && scene.Objects.Count > 0)
        {
            // PaintSeg's O-step: the background ring around an object is painted, the object kept
            int k = (int)(u2 * scene.Objects.Count) % scene.Objects.Count;
            var obj = scene.InstanceTensor(k);
            var ring = Morphology.Dilate(obj, Kernel.Square(3), 2 + (int)(u3 * 6)) - obj;
            return new InpaintExample(image, ring.clamp(0, 1), image, captions.For(scene, u3));
        }
        if (kind < 0.75)
        {
            // a random box
            int w = 8 + (int)(u2 * (size / 2)), h = 8 + (int)(u3 * (size / 2));
            int x0 = (int)((size - w) * u3), y0 = (int)((size - h) * u2);
            var mask = zeros(size, size);
            mask[TensorIndex.Slice(y0, y0 + h), TensorIndex.Slice(x0, x0 + w)] = tensor(1f);
            return new InpaintExample(image, mask, image, captions.For(scene, u2));
        }
        if (kind < 0.9)
        {
            // random blobs: thresholded smooth noise
            var g = new Generator((ulong)blobSeed);
            var noise = F.interpolate(rand(1, 1, 6, 6, generator: g), new long[] { size, size }, mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
            var mask = (noise > 0.45 + 0.3 * u2).to_type(ScalarType.Float32);
            return new InpaintExample(image, mask, image, captions.For(scene, u3));
        }
        return kind < 0.95
            ? new InpaintExample(image, ones(size, size), image, captions.For(scene, u3))
            : new InpaintExample(image, zeros(size, size), image, captions.For(scene, u3));
    }

    /// <summary>The inpainting UNet's 9-channel input: [noisy latent, mask at latent size, masked-image latent].</summary>
    public static Tensor InpaintInput(Tensor noisyLatents, Tensor maskAtLatent, Tensor maskedImageLatents) =>
        cat(new[] { noisyLatents, maskAtLatent, maskedImageLatents }, 1);

    /// <inheritdoc />
    public Tensor Loss(int step, int batch, Generator generator)
    {
        var scenes = ToyBatches.Scenes(ToyBatches.TrainSeeds(batch, generator));
        var u = rand(batch, 3, generator: generator, dtype: ScalarType.Float64).data<double>().ToArray();
        var blobSeeds = randint(0, int.MaxValue, new long[] { batch }, generator: generator, dtype: ScalarType.Int64).data<long>().ToArray();
        ema?.Update(step, recipe.EmaDecayAt(step));
        var examples = scenes.Select((s, i) => maskKind == InpaintMasks.PaintSeg
            ? PaintSegExamples.Make(s, u[3 * i], u[3 * i + 1], u[3 * i + 2], (ulong)blobSeeds[i], vae.DownsampleFactor)
            : Make(s, u[3 * i], u[3 * i + 1], u[3 * i + 2], (int)blobSeeds[i])).ToArray();
        var images = stack(examples.Select(e => e.Image).ToArray());
        var masks = stack(examples.Select(e => e.Mask).ToArray()).unsqueeze(1);
        var targets = stack(examples.Select(e => e.Target).ToArray());
        Tensor latents, maskedLatents, context;
        using (no_grad())
        {
            latents = vae.Encode(targets).Sample(generator) * vae.ScalingFactor;
            maskedLatents = vae.Encode(images * (1 - masks)).Mode() * vae.ScalingFactor;
            var ids = stack(examples.Select(e => tensor(tokenizer.EncodePadded(e.Caption))).ToArray());
            context = text.Forward(ids).LastHiddenState;
        }
        var maskLatent = F.interpolate(masks, new[] { latents.shape[2], latents.shape[3] }, mode: InterpolationMode.Nearest);
        var noise = randn(latents.shape, generator: generator);
        var t = randint(0, scheduler.NumTrainTimesteps, new long[] { batch }, generator: generator, dtype: ScalarType.Int64);
        var noisy = scheduler.AddNoise(latents, noise, t);
        var prediction = unet.Forward(InpaintInput(noisy, maskLatent, maskedLatents), t, context);
        return recipe.Loss(prediction, latents, noise, t, scheduler);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Evaluate() => new Dictionary<string, double>();

    /// <inheritdoc />
    public void Export(string folder) => ((UNet2DConditionModel?)ema?.Average ?? unet).Save(Path.Combine(folder, "unet-inpaint"));
}
