using System.Text.Json;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Diffusion.Attention;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.Diffusion;

/// <summary>A prompt batch: padded token ids [B, L] and the text encoder's last hidden state [B, L, D].</summary>
public sealed record PromptEmbedding(Tensor Ids, Tensor Hidden, IReadOnlyList<string> Prompts);

/// <summary>
/// A loaded diffusers Stable Diffusion folder (<c>model_index.json</c> with unet, vae, text_encoder, tokenizer and
/// scheduler subfolders), with its stages exposed as separate calls so a notebook can run and inspect each one:
/// encode an image, add noise at a timestep, predict noise or x0 with optional attention control, decode, encode a prompt,
/// sample, inpaint. The same class loads the kit's embedded model and a user's SD 1.5 / 2.1 / inpainting folder.
/// The kit's folder may also hold <c>unet-inpaint/</c>, a 9-channel inpainting UNet sharing the other components, and
/// <c>scheduler-inpaint/</c>, the scheduler that UNet was trained for when it differs from <c>scheduler/</c> (e.g.
/// v-prediction beside an epsilon-prediction text-to-image UNet, as diffusers keeps each UNet with its own scheduler);
/// a real SD-inpainting folder's own 9-channel <c>unet</c> serves as both.
/// </summary>
public sealed class StableDiffusionPipeline : IDisposable
{
    /// <summary>Name of the kit's extra inpainting UNet folder.</summary>
    public const string InpaintFolder = "unet-inpaint";

    /// <summary>Name of the kit's optional folder of the inpainting UNet's own scheduler.</summary>
    public const string InpaintSchedulerFolder = "scheduler-inpaint";

    /// <summary>The folder it was loaded from.</summary>
    public string Folder { get; }

    /// <summary>The device every component lives on.</summary>
    public Device Device { get; }

    /// <summary>The floating-point type of every component's weights and of every tensor the pipeline makes (float32,
    /// float16 or bfloat16); images and latents handed in are converted to it.</summary>
    public ScalarType DType { get; }

    /// <summary>The text-conditioned UNet (4 input channels; 9 for a real inpainting folder).</summary>
    public UNet2DConditionModel Unet { get; }

    /// <summary>The autoencoder.</summary>
    public AutoencoderKL Vae { get; }

    /// <summary>The CLIP text encoder.</summary>
    public ClipTextModel TextEncoder { get; }

    /// <summary>The CLIP tokenizer.</summary>
    public ClipTokenizer Tokenizer { get; }

    /// <summary>The DDIM scheduler (built from the folder's scheduler config, whatever scheduler class it names).
    /// <see cref="SchedulerOf"/> gives the other kinds.</summary>
    public DDIMScheduler Scheduler { get; }

    /// <summary>The 9-channel inpainting UNet, when the folder has one.</summary>
    public UNet2DConditionModel? InpaintUnet { get; }

    /// <summary>The scheduler <see cref="Inpaint"/> samples <see cref="InpaintUnet"/> with: the folder's
    /// <c>scheduler-inpaint/</c> when it has one, else <see cref="Scheduler"/>.</summary>
    public DDIMScheduler InpaintScheduler { get; }

    StableDiffusionPipeline(string folder, Device device, ScalarType dtype, UNet2DConditionModel unet, AutoencoderKL vae, ClipTextModel text,
        ClipTokenizer tokenizer, DDIMScheduler scheduler, UNet2DConditionModel? inpaint, DDIMScheduler? inpaintScheduler)
    {
        Folder = folder;
        Device = device;
        DType = dtype;
        Unet = unet;
        Vae = vae;
        TextEncoder = text;
        Tokenizer = tokenizer;
        Scheduler = scheduler;
        InpaintUnet = inpaint;
        InpaintScheduler = inpaintScheduler ?? scheduler;
    }

    /// <summary>
    /// The scheduler of <paramref name="kind"/> (<see cref="Schedulers.Schedulers.Kinds"/>) for <see cref="Unet"/>:
    /// <see cref="Scheduler"/> itself for ddim, else one built from its config's shared keys (diffusers'
    /// <c>Kind.from_config(pipe.scheduler.config)</c>). An unknown kind throws an error listing the kinds.
    /// </summary>
    public IScheduler SchedulerOf(string kind) => OfKind(Scheduler, kind, "scheduler");

    /// <summary>The scheduler of <paramref name="kind"/> for <see cref="InpaintUnet"/>, built from <see cref="InpaintScheduler"/> as <see cref="SchedulerOf"/> does.</summary>
    public IScheduler InpaintSchedulerOf(string kind) => OfKind(InpaintScheduler, kind, InpaintScheduler == Scheduler ? "scheduler" : InpaintSchedulerFolder);

    IScheduler OfKind(DDIMScheduler scheduler, string kind, string folder) =>
        Schedulers.Schedulers.Parse(kind) == Schedulers.Schedulers.Ddim ? scheduler
            : Schedulers.Schedulers.Create(kind, scheduler.Config, $"{Path.Combine(Folder, folder, SchedulerConfig.FileName)} as {Schedulers.Schedulers.ClassNameOf(kind)}");

    /// <summary>The latent size of an image side: image side / the VAE's downsampling factor.</summary>
    public int LatentSide(int imageSide) => imageSide / Vae.DownsampleFactor;

    /// <summary>The inference types <see cref="Load"/> takes, by the names the CLI uses.</summary>
    public static readonly IReadOnlyDictionary<string, ScalarType> InferenceTypes = new Dictionary<string, ScalarType>(StringComparer.Ordinal)
    {
        ["float32"] = ScalarType.Float32,
        ["float16"] = ScalarType.Float16,
        ["bfloat16"] = ScalarType.BFloat16,
    };

    /// <summary>The <see cref="InferenceTypes"/> entry named <paramref name="name"/>; an error names the choices.</summary>
    public static ScalarType ParseDType(string name) =>
        InferenceTypes.TryGetValue(name, out var t) ? t
            : throw new ArgumentException($"dtype '{name}': expected one of {string.Join(", ", InferenceTypes.Keys)}", nameof(name));

    /// <summary>
    /// Loads a diffusers folder on <paramref name="device"/> (default CPU) with every component's weights in
    /// <paramref name="dtype"/> (default float32; see <see cref="InferenceTypes"/>), as diffusers'
    /// <c>from_pretrained(torch_dtype=...)</c>. Errors name the folder and the missing component or file.
    /// </summary>
    public static StableDiffusionPipeline Load(string folder, Device? device = null, ScalarType? dtype = null)
    {
        device ??= CPU;
        var dt = dtype ?? ScalarType.Float32;
        if (!InferenceTypes.Values.Contains(dt))
            throw new ArgumentException($"dtype {dt}: expected one of {string.Join(", ", InferenceTypes.Keys)}", nameof(dtype));
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: model folder not found");
        var index = Path.Combine(folder, "model_index.json");
        if (!File.Exists(index)) throw new FileNotFoundException($"{folder}: no model_index.json (expected a diffusers Stable Diffusion folder)", index);
        using var doc = ConfigJson.ReadDocument(index);
        var components = new[] { "unet", "vae", "text_encoder", "tokenizer", "scheduler" };
        foreach (var key in components)
            if (!doc.RootElement.TryGetProperty(key, out _))
                throw new InvalidDataException($"{index}: component '{key}' is not listed");
        foreach (var key in components)
            if (!Directory.Exists(Path.Combine(folder, key)))
                throw new DirectoryNotFoundException($"{folder}: component folder '{key}/' is missing");
        var unet = UNet2DConditionModel.FromFolder(Path.Combine(folder, "unet"), device, dt);
        var vae = AutoencoderKL.FromFolder(Path.Combine(folder, "vae"), device, dt);
        var text = ClipTextModel.FromFolder(Path.Combine(folder, "text_encoder"), device, dt);
        var tokenizer = ClipTokenizer.FromFolder(Path.Combine(folder, "tokenizer"));
        var scheduler = DDIMScheduler.FromFolder(Path.Combine(folder, "scheduler"));
        UNet2DConditionModel? inpaint = null;
        var inpaintDir = Path.Combine(folder, InpaintFolder);
        if (Directory.Exists(inpaintDir)) inpaint = UNet2DConditionModel.FromFolder(inpaintDir, device, dt);
        else if (unet.Config.InChannels == 9) inpaint = unet;
        if (inpaint is not null && inpaint.Config.InChannels != 9)
            throw new InvalidDataException($"{inpaintDir}: an inpainting UNet needs in_channels 9, got {inpaint.Config.InChannels}");
        var inpaintSchedulerDir = Path.Combine(folder, InpaintSchedulerFolder);
        DDIMScheduler? inpaintScheduler = null;
        if (Directory.Exists(inpaintSchedulerDir))
        {
            if (!Directory.Exists(inpaintDir))
                throw new InvalidDataException($"{folder}: has {InpaintSchedulerFolder}/ but no {InpaintFolder}/ for it to sample");
            inpaintScheduler = DDIMScheduler.FromFolder(inpaintSchedulerDir);
        }
        return new StableDiffusionPipeline(folder, device, dt, unet, vae, text, tokenizer, scheduler, inpaint, inpaintScheduler);
    }

    /// <summary>
    /// A pipeline from components already built (diffusers' <c>StableDiffusionPipeline(vae=..., unet=..., ...)</c>), e.g.
    /// random weights in a real model's configuration; the models are put in eval mode in <paramref name="dtype"/> on
    /// <paramref name="device"/> and owned by the pipeline. <paramref name="folder"/> only names it in messages.
    /// </summary>
    /// <remarks><paramref name="inpaintScheduler"/>: the inpainting UNet's own scheduler, when it differs from <paramref name="scheduler"/>.</remarks>
    public static StableDiffusionPipeline FromComponents(string folder, UNet2DConditionModel unet, AutoencoderKL vae, ClipTextModel text,
        ClipTokenizer tokenizer, DDIMScheduler scheduler, UNet2DConditionModel? inpaint = null, Device? device = null, ScalarType? dtype = null,
        DDIMScheduler? inpaintScheduler = null)
    {
        device ??= CPU;
        var dt = dtype ?? ScalarType.Float32;
        if (!InferenceTypes.Values.Contains(dt))
            throw new ArgumentException($"dtype {dt}: expected one of {string.Join(", ", InferenceTypes.Keys)}", nameof(dtype));
        if (unet.Config.InChannels == 9) inpaint ??= unet;
        if (inpaint is not null && inpaint.Config.InChannels != 9)
            throw new ArgumentException($"inpaint: an inpainting UNet needs in_channels 9, got {inpaint.Config.InChannels}", nameof(inpaint));
        foreach (var m in new nn.Module[] { unet, vae, text }.Concat(inpaint is null ? Array.Empty<nn.Module>() : new nn.Module[] { inpaint }))
        {
            m.to(dt).to(device);
            m.eval();
        }
        if (inpaintScheduler is not null && inpaint is null)
            throw new ArgumentException("inpaintScheduler: given without an inpainting UNet to sample", nameof(inpaintScheduler));
        return new StableDiffusionPipeline(folder, device, dt, unet, vae, text, tokenizer, scheduler, inpaint, inpaintScheduler);
    }

    /// <summary>Writes the pipeline in the diffusers layout (model_index.json and one folder per component).</summary>
    public void Save(string folder) => Save(folder, Unet, Vae, TextEncoder, Path.Combine(Folder, "tokenizer"), Scheduler, InpaintUnet == Unet ? null : InpaintUnet,
        InpaintScheduler == Scheduler ? null : InpaintScheduler);

    /// <summary>Writes components in the diffusers layout; <paramref name="tokenizerFolder"/> is copied. An
    /// <paramref name="inpaintScheduler"/> is written to <c>scheduler-inpaint/</c> (a stale one is removed when none is given).</summary>
    public static void Save(string folder, UNet2DConditionModel unet, AutoencoderKL vae, ClipTextModel text, string tokenizerFolder,
        DDIMScheduler scheduler, UNet2DConditionModel? inpaint, DDIMScheduler? inpaintScheduler = null)
    {
        if (inpaintScheduler is not null && inpaint is null)
            throw new ArgumentException("inpaintScheduler: given without an inpainting UNet", nameof(inpaintScheduler));
        Directory.CreateDirectory(folder);
        unet.Save(Path.Combine(folder, "unet"));
        vae.Save(Path.Combine(folder, "vae"));
        text.Save(Path.Combine(folder, "text_encoder"));
        scheduler.Save(Path.Combine(folder, "scheduler"));
        var tok = Path.Combine(folder, "tokenizer");
        if (Path.GetFullPath(tok) != Path.GetFullPath(tokenizerFolder))
        {
            Directory.CreateDirectory(tok);
            foreach (var f in Directory.GetFiles(tokenizerFolder)) File.Copy(f, Path.Combine(tok, Path.GetFileName(f)), overwrite: true);
        }
        inpaint?.Save(Path.Combine(folder, InpaintFolder));
        var inpaintSchedulerDir = Path.Combine(folder, InpaintSchedulerFolder);
        if (inpaintScheduler is not null) inpaintScheduler.Save(inpaintSchedulerDir);
        else if (Directory.Exists(inpaintSchedulerDir)) Directory.Delete(inpaintSchedulerDir, recursive: true);
        var index = new JsonObject
        {
            ["_class_name"] = "StableDiffusionPipeline",
            ["_diffusers_version"] = "0.21.4",
            ["scheduler"] = new JsonArray("diffusers", "DDIMScheduler"),
            ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
            ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
            ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
            ["vae"] = new JsonArray("diffusers", "AutoencoderKL"),
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "model_index.json"), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Encodes images [B, 3, H, W] in [-1, 1] to scaled latents (the posterior mean, or a sample with <paramref name="generator"/>).</summary>
    public Tensor EncodeImage(Tensor images, Generator? generator = null)
    {
        Check.Shape(images, nameof(images), -1, Vae.Config.InChannels, -1, -1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var posterior = Vae.Encode(images.to(DType, Device));
        var z = generator is null ? posterior.Mode() : posterior.Sample(generator);
        using var scale = Vae.ScalingFactor.ToScalar(); // explicit Scalars throughout: see torchsharp-pitfalls.md
        return z.mul(scale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Output pixels (batch x height x width) the VAE decoder gets per call; a larger batch is decoded in slices. The
    /// decoder's full-resolution activations of a large batch leave the CPU's caches: measured here on the embedded model
    /// (64 px images), 14.5 ms per image at batch 32 against 5.3 at batch 16 and 5.1 at batch 8.
    /// </summary>
    public const long DecodePixelsPerCall = 16 * 64 * 64;

    /// <summary>Decodes scaled latents to images [B, 3, H, W] in [-1, 1] (clamped), in slices of at most
    /// <see cref="DecodePixelsPerCall"/> output pixels.</summary>
    public Tensor Decode(Tensor latents)
    {
        Check.Rank(latents, nameof(latents), 4, "[B, C, h, w]");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var scale = Vae.ScalingFactor.ToScalar();
        using var lo = (-1.0).ToScalar();
        using var hi = 1.0.ToScalar();
        long pixels = latents.shape[2] * latents.shape[3] * Vae.DownsampleFactor * (long)Vae.DownsampleFactor;
        long slice = Math.Max(1, DecodePixelsPerCall / Math.Max(1, pixels));
        var z = latents.to(DType, Device).div(scale);
        var parts = new List<Tensor>();
        for (long i = 0; i < z.shape[0]; i += slice)
            parts.Add(Vae.Decode(z[TensorIndex.Slice(i, Math.Min(i + slice, z.shape[0]))]).clamp(lo, hi));
        return (parts.Count == 1 ? parts[0] : cat(parts, 0)).MoveToOuterDisposeScope();
    }

    /// <summary>Tokenises (padded to the tokenizer's length) and encodes prompts.</summary>
    public PromptEmbedding EncodePrompt(IReadOnlyList<string> prompts)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = stack(prompts.Select(p => tensor(Tokenizer.EncodePadded(p))).ToArray()).to(Device);
        var hidden = TextEncoder.Forward(ids).LastHiddenState;
        return new PromptEmbedding(ids.MoveToOuterDisposeScope(), hidden.MoveToOuterDisposeScope(), prompts.ToArray());
    }

    /// <summary>x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise at timestep <paramref name="t"/>; returns x_t and the noise.</summary>
    public (Tensor Noisy, Tensor Noise) NoiseAt(Tensor latents, long t, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var noise = randn(latents.shape, generator: generator).to(DType, latents.device);
        var noisy = Scheduler.AddNoise(latents, noise, t);
        return (noisy.MoveToOuterDisposeScope(), noise.MoveToOuterDisposeScope());
    }

    /// <summary>The UNet's output (noise or v, per the scheduler's prediction type) for x_t at <paramref name="t"/>.</summary>
    public Tensor PredictModelOutput(Tensor noisy, long t, Tensor context, AttentionControl? control = null, UNetFeatureTaps? taps = null, UNet2DConditionModel? unet = null)
    {
        using var scope = NewDisposeScope();
        var ts = tensor(new[] { t }, device: Device).expand(noisy.shape[0]);
        return ModelOutput(unet ?? Unet, noisy, ts, context, control, taps).MoveToOuterDisposeScope();
    }

    /// <summary>The UNet's output at a sampler's timestep <paramref name="t"/> (fractional for Euler's linspace spacing).</summary>
    public Tensor PredictModelOutput(Tensor noisy, double t, Tensor context, UNet2DConditionModel? unet = null)
    {
        if (t == Math.Floor(t)) return PredictModelOutput(noisy, (long)t, context, unet: unet); // integer timesteps as before
        using var scope = NewDisposeScope();
        var ts = tensor(new[] { (float)t }, device: Device).expand(noisy.shape[0]);
        return ModelOutput(unet ?? Unet, noisy, ts, context, null, null).MoveToOuterDisposeScope();
    }

    Tensor ModelOutput(UNet2DConditionModel model, Tensor noisy, Tensor timesteps, Tensor context, AttentionControl? control, UNetFeatureTaps? taps)
    {
        using var noGrad = no_grad();
        return model.Forward(noisy.to(DType, Device), timesteps, context.to(DType, Device), control, taps);
    }

    /// <summary>x0 predicted in one UNet step from x_t (Eq. 2 of G4Seg; epsilon or v-prediction as the scheduler says).</summary>
    public Tensor PredictX0(Tensor noisy, long t, Tensor context, AttentionControl? control = null)
    {
        using var scope = NewDisposeScope();
        var output = PredictModelOutput(noisy, t, context, control);
        return Scheduler.PredictOriginal(output, t, noisy).MoveToOuterDisposeScope();
    }

    /// <summary>Classifier-free guided model output: uncond + w (cond - uncond).</summary>
    Tensor Guided(UNet2DConditionModel unet, Tensor input, double t, Tensor cond, Tensor? uncond, double guidance)
    {
        if (uncond is null || guidance == 1.0) return PredictModelOutput(input, t, cond, unet: unet);
        var both = PredictModelOutput(cat(new[] { input, input }, 0), t, cat(new[] { uncond, cond }, 0), unet: unet);
        var parts = both.chunk(2, 0);
        using var w = guidance.ToScalar();
        return parts[0] + (parts[1] - parts[0]).mul(w);
    }

    /// <summary>
    /// diffusers' sampling loop over <paramref name="scheduler"/>'s <paramref name="steps"/>-step run from
    /// <paramref name="noise"/>: x = noise * init_noise_sigma, then x = step(model(scale_model_input(x), t), x) per
    /// timestep. <paramref name="model"/> maps (model input, t) to the model's output. Returns the final x.
    /// </summary>
    static Tensor Sample(IScheduler scheduler, int steps, Tensor noise, Func<Tensor, double, Tensor> model)
    {
        using var scope = NewDisposeScope();
        using var sampler = scheduler.Sampler(steps);
        var x = sampler.InitNoiseSigma == 1f ? noise : noise * Schedulers.SchedulerMath.Const(sampler.InitNoiseSigma, noise);
        for (int i = 0; i < sampler.Timesteps.Count; i++)
        {
            using var inner = NewDisposeScope();
            var output = model(sampler.ScaleModelInput(x, i), sampler.Timesteps[i]);
            x = sampler.Step(output, i, x).MoveToOuterDisposeScope();
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Samples images for prompts with <paramref name="scheduler"/> (default <see cref="Scheduler"/>, DDIM with eta 0; see
    /// <see cref="SchedulerOf"/>) and classifier-free guidance: [B, 3, H, W] in [-1, 1].
    /// </summary>
    public Tensor Generate(IReadOnlyList<string> prompts, int steps = 25, double guidance = 7.5, int imageSide = 0, Generator? generator = null,
        IScheduler? scheduler = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int side = imageSide > 0 ? imageSide : Vae.Config.SampleSize;
        int ls = LatentSide(side);
        var cond = EncodePrompt(prompts).Hidden;
        var uncond = guidance == 1.0 ? null : EncodePrompt(prompts.Select(_ => "").ToArray()).Hidden;
        var noise = randn(new long[] { prompts.Count, Unet.Config.OutChannels, ls, ls }, generator: generator).to(DType, Device);
        var x = Sample(scheduler ?? Scheduler, steps, noise, (input, t) => Guided(Unet, input, t, cond, uncond, guidance));
        return Decode(x).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Inpaints: repaints where <paramref name="masks"/> [B, 1, H, W] is 1 and keeps the rest, from the masked image
    /// (SD-inpainting's 9-channel conditioning), with <paramref name="scheduler"/> (default <see cref="InpaintScheduler"/>,
    /// DDIM with eta 0; see <see cref="InpaintSchedulerOf"/>) and classifier-free guidance. Returns [B, 3, H, W] in [-1, 1].
    /// The starting noise is <paramref name="latents"/> when given (as diffusers' pipelines take it, scaled by the
    /// scheduler's initial noise sigma), else drawn from <paramref name="generator"/>: <see cref="InpaintNoiseShape"/>.
    /// </summary>
    public Tensor Inpaint(Tensor images, Tensor masks, IReadOnlyList<string> prompts, int steps = 50, double guidance = 7.5, Generator? generator = null,
        Tensor? latents = null, IScheduler? scheduler = null)
    {
        var unet = InpaintUnet ?? throw new InvalidOperationException($"{Folder}: no inpainting UNet (expected {InpaintFolder}/ or a 9-channel unet)");
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        Check.Shape(masks, nameof(masks), images.shape[0], 1, images.shape[2], images.shape[3]);
        if (prompts.Count != images.shape[0]) throw new ArgumentException($"prompts: {prompts.Count} prompts for {images.shape[0]} images");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var half = 0.5.ToScalar();
        var m = masks.to(Device).gt(half).to_type(DType);
        var keep = ones_like(m).sub_(m);
        var img = images.to(DType, Device);
        var maskedLatents = EncodeImage(img * keep);
        var ls = maskedLatents.shape;
        var maskLatent = F.interpolate(m, new[] { ls[2], ls[3] }, mode: InterpolationMode.Nearest);
        var cond = EncodePrompt(prompts).Hidden;
        var uncond = guidance == 1.0 ? null : EncodePrompt(prompts.Select(_ => "").ToArray()).Hidden;
        var shape = new[] { ls[0], unet.Config.OutChannels, ls[2], ls[3] };
        if (latents is not null) Check.Shape(latents, nameof(latents), shape);
        var noise = (latents ?? randn(shape, generator: generator)).to(DType, Device);
        // diffusers' inpainting pipeline scales the latent part of the input only, then appends the mask and masked image.
        var x = Sample(scheduler ?? InpaintScheduler, steps, noise,
            (input, t) => Guided(unet, cat(new[] { input, maskLatent, maskedLatents }, 1), t, cond, uncond, guidance));
        var painted = Decode(x);
        // keep the unmasked pixels exactly
        return (img * keep + painted * m).MoveToOuterDisposeScope();
    }

    /// <summary>The shape [B, C, h, w] of <see cref="Inpaint"/>'s starting noise for <paramref name="batch"/> images of
    /// <paramref name="height"/> x <paramref name="width"/> pixels.</summary>
    public long[] InpaintNoiseShape(long batch, long height, long width)
    {
        var unet = InpaintUnet ?? throw new InvalidOperationException($"{Folder}: no inpainting UNet (expected {InpaintFolder}/ or a 9-channel unet)");
        return new[] { batch, unet.Config.OutChannels, height / Vae.DownsampleFactor, width / Vae.DownsampleFactor };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Unet.Dispose();
        if (InpaintUnet is not null && InpaintUnet != Unet) InpaintUnet.Dispose();
        Vae.Dispose();
        TextEncoder.Dispose();
    }
}
