using GenSeg.Diffusion;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld.Training;

/// <summary>Builds the embedded model's training tasks and assembles the trained parts into a diffusers folder.</summary>
public static class ToyTraining
{
    /// <summary>
    /// The text-to-image task: a fresh UNet and text encoder (or, with <paramref name="initFolder"/>, the UNet and text
    /// encoder of a diffusers folder to continue training from, e.g. the shipped model), the trained VAE from
    /// <paramref name="vaeFolder"/>, and the toy tokenizer (written into the run's export folder so the export is complete).
    /// </summary>
    public static DiffusionTask TextToImage(string runDir, string vaeFolder, Device device, bool freezeText = false, string? initFolder = null,
        DiffusionRecipe? recipe = null)
    {
        var vae = AutoencoderKL.FromFolder(vaeFolder, device);
        var tokFolder = Path.Combine(runDir, "export", "tokenizer");
        if (!File.Exists(Path.Combine(tokFolder, "vocab.json"))) ToyVocabulary.Write(tokFolder);
        var tokenizer = ClipTokenizer.FromFolder(tokFolder);
        var text = ClipTextModel.FromConfig(ToyModelConfigs.TextEncoder(tokenizer.Vocabulary, tokenizer.EndToken));
        var unet = UNet2DConditionModel.FromConfig(ToyModelConfigs.Unet());
        if (initFolder is not null)
        {
            RequireSameVocabulary(tokFolder, Path.Combine(initFolder, "tokenizer"));
            LoadWeights(unet, Path.Combine(initFolder, "unet"));
            LoadWeights(text, Path.Combine(initFolder, "text_encoder"));
        }
        text.to(device);
        unet.to(device);
        return new DiffusionTask(unet, text, vae, tokenizer, new DDIMScheduler(ToyModelConfigs.Scheduler), freezeText: freezeText, recipe: recipe);
    }

    /// <summary>Copies a diffusers component folder's weights into <paramref name="module"/> (strict: every key, every shape;
    /// float16 files are converted to the module's float32).</summary>
    public static void LoadWeights(nn.Module module, string componentFolder)
    {
        var path = Diffusion.Checkpoints.ModelFiles.Weights(componentFolder);
        using var scope = NewDisposeScope();
        Diffusion.Checkpoints.StateDict.Load(module, Diffusion.Checkpoints.SafeTensors.Load(path, ScalarType.Float32), path);
    }

    static void RequireSameVocabulary(string tokenizerFolder, string initTokenizerFolder)
    {
        var mine = File.ReadAllText(Path.Combine(tokenizerFolder, "vocab.json"));
        var path = Path.Combine(initTokenizerFolder, "vocab.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"--init: {initTokenizerFolder} has no vocab.json", path);
        if (File.ReadAllText(path) != mine)
            throw new ArgumentException($"--init: {path} is not ToyWorld's vocabulary; the text encoder to continue from must use the same tokenizer");
    }

    /// <summary>
    /// The inpainting task: a 9-channel UNet initialised from the trained text-to-image UNet in <paramref name="fromFolder"/>
    /// (the extra mask and masked-latent input channels start at zero, as SD-inpainting was initialised), with that
    /// run's text encoder and tokenizer frozen. With <paramref name="initFolder"/> the UNet instead continues from that
    /// diffusers folder's <c>unet-inpaint</c> (e.g. the shipped model's).
    /// </summary>
    /// <param name="masks">The training masks (<see cref="InpaintMasks"/>).</param>
    /// <param name="recipe">Loss weighting and EMA (default: neither).</param>
    public static InpaintTask Inpainting(string vaeFolder, string fromFolder, Device device, string? initFolder = null,
        InpaintMasks masks = InpaintMasks.Mixed, DiffusionRecipe? recipe = null)
    {
        if (initFolder is not null)
        {
            var vaeModel = AutoencoderKL.FromFolder(vaeFolder, device);
            var tok = ClipTokenizer.FromFolder(Path.Combine(fromFolder, "tokenizer"));
            var textModel = ClipTextModel.FromFolder(Path.Combine(fromFolder, "text_encoder"), device);
            var inpaint = UNet2DConditionModel.FromFolder(Path.Combine(initFolder, StableDiffusionPipeline.InpaintFolder), device, ScalarType.Float32);
            if (inpaint.Config.InChannels != 9)
                throw new ArgumentException($"--init {initFolder}: {StableDiffusionPipeline.InpaintFolder} has in_channels {inpaint.Config.InChannels}, expected 9");
            return new InpaintTask(inpaint, textModel, vaeModel, tok, new DDIMScheduler(ToyModelConfigs.Scheduler), masks: masks, recipe: recipe);
        }
        var vae = AutoencoderKL.FromFolder(vaeFolder, device);
        var tokenizer = ClipTokenizer.FromFolder(Path.Combine(fromFolder, "tokenizer"));
        var text = ClipTextModel.FromFolder(Path.Combine(fromFolder, "text_encoder"), device);
        var source = UNet2DConditionModel.FromFolder(Path.Combine(fromFolder, "unet"), device);
        var unet = UNet2DConditionModel.FromConfig(source.Config with { InChannels = 9 });
        unet.to(device);
        using (no_grad())
        {
            var target = unet.state_dict();
            foreach (var (key, value) in source.state_dict())
            {
                if (key == "conv_in.weight")
                {
                    target[key].zero_();
                    target[key][TensorIndex.Colon, TensorIndex.Slice(0, value.shape[1])].copy_(value);
                }
                else
                {
                    target[key].copy_(value);
                }
            }
        }
        source.Dispose();
        return new InpaintTask(unet, text, vae, tokenizer, new DDIMScheduler(ToyModelConfigs.Scheduler), masks: masks, recipe: recipe);
    }

    /// <summary>The scheduler a UNet trained with <paramref name="recipe"/> is sampled with.</summary>
    public static DDIMScheduler SchedulerFor(DiffusionRecipe recipe) => new(ToyModelConfigs.Scheduler with { PredictionType = recipe.PredictionType });

    /// <summary>
    /// Records in a UNet run's folder the scheduler its UNet is trained for (<c>scheduler/</c>), which <see cref="Assemble"/>
    /// ships with it; a run without one (older runs) is epsilon prediction. A run resumed with another prediction type is
    /// refused.
    /// </summary>
    public static void RecordScheduler(string runDir, DiffusionRecipe recipe)
    {
        var folder = Path.Combine(runDir, "scheduler");
        if (Directory.Exists(folder) && DDIMScheduler.FromFolder(folder).Config.PredictionType is var recorded && recorded != recipe.PredictionType)
            throw new InvalidOperationException($"{folder}: the run trains for prediction_type {recorded}, not {recipe.PredictionType}; start a new --out for this recipe");
        SchedulerFor(recipe).Save(folder);
    }

    /// <summary>The scheduler a run's UNet was trained for: its recorded <c>scheduler/</c>, else SD's epsilon prediction.</summary>
    public static DDIMScheduler RecordedScheduler(string runDir)
    {
        var folder = Path.Combine(runDir, "scheduler");
        return Directory.Exists(folder) ? DDIMScheduler.FromFolder(folder) : new DDIMScheduler(ToyModelConfigs.Scheduler);
    }

    /// <summary>
    /// Assembles trained parts into the diffusers layout at <paramref name="outFolder"/>: the VAE export, the
    /// text-to-image run (<paramref name="unetRun"/>) and optionally the inpainting run, each UNet with the scheduler it was
    /// trained for (<see cref="RecordScheduler"/>; the inpainting one in <c>scheduler-inpaint/</c> when it differs). A run
    /// that has not finished is taken from its latest checkpoint (its EMA weights when it keeps them).
    /// </summary>
    public static void Assemble(string vaeFolder, string unetRun, string? inpaintRun, string outFolder)
    {
        using var vae = AutoencoderKL.FromFolder(vaeFolder);
        var tokenizerFolder = Path.Combine(unetRun, "export", "tokenizer");
        var tokenizer = ClipTokenizer.FromFolder(tokenizerFolder);
        using var unet = UNet2DConditionModel.FromConfig(ToyModelConfigs.Unet());
        using var text = ClipTextModel.FromConfig(ToyModelConfigs.TextEncoder(tokenizer.Vocabulary, tokenizer.EndToken));
        LoadRun(unetRun, (UNetPrefix(unetRun), unet, "unet"), ("text_encoder", text, "text_encoder"));
        using var inpaint = inpaintRun is null ? null : UNet2DConditionModel.FromConfig(ToyModelConfigs.Unet(9));
        // a run with an EMA of its weights is assembled from the average (a finished run exports the average anyway)
        if (inpaint is not null) LoadRun(inpaintRun!, (UNetPrefix(inpaintRun!), inpaint, StableDiffusionPipeline.InpaintFolder));
        // float16 on disk halves the shipped size; loading converts back to float32. The small VAE stays float32.
        unet.to(ScalarType.Float16);
        text.to(ScalarType.Float16);
        inpaint?.to(ScalarType.Float16);
        var scheduler = RecordedScheduler(unetRun);
        var inpaintScheduler = inpaintRun is null ? null : RecordedScheduler(inpaintRun);
        StableDiffusionPipeline.Save(outFolder, unet, vae, text, tokenizerFolder, scheduler, inpaint,
            inpaintScheduler is null || inpaintScheduler.Config == scheduler.Config ? null : inpaintScheduler);
    }

    /// <summary>The checkpoint prefix of a run's UNet weights: its EMA average when it keeps one, else the raw weights.</summary>
    static string UNetPrefix(string runDir) => CheckpointHas(runDir, EmaWeights.CheckpointPrefix) ? EmaWeights.CheckpointPrefix : "unet";

    /// <summary>True when the run's checkpoint holds weights under <paramref name="prefix"/>.</summary>
    static bool CheckpointHas(string runDir, string prefix)
    {
        var ckpt = Path.Combine(runDir, "checkpoint", "weights.safetensors");
        if (!File.Exists(ckpt)) return false;
        using var scope = NewDisposeScope();
        return Diffusion.Checkpoints.SafeTensors.Load(ckpt).Keys.Any(k => k.StartsWith(prefix + ".", StringComparison.Ordinal));
    }

    /// <summary>True when a run folder has an export or a checkpoint to assemble from.</summary>
    public static bool HasWeights(string runDir) =>
        Directory.Exists(Path.Combine(runDir, "export")) || File.Exists(Path.Combine(runDir, "checkpoint", "weights.safetensors"));

    /// <summary>Loads modules from a run's export (when finished) or its checkpoint (prefix-keyed weights).</summary>
    static void LoadRun(string runDir, params (string Prefix, nn.Module Module, string ExportFolder)[] parts)
    {
        var export = Path.Combine(runDir, "export");
        if (parts.All(p => Directory.Exists(Path.Combine(export, p.ExportFolder))))
        {
            foreach (var (_, module, folder) in parts)
            {
                var path = Diffusion.Checkpoints.ModelFiles.Weights(Path.Combine(export, folder));
                Diffusion.Checkpoints.StateDict.Load(module, Diffusion.Checkpoints.SafeTensors.Load(path), path);
            }
            return;
        }
        var ckpt = Path.Combine(runDir, "checkpoint", "weights.safetensors");
        if (!File.Exists(ckpt)) throw new FileNotFoundException($"{runDir}: neither an export nor a checkpoint to assemble from", ckpt);
        var weights = Diffusion.Checkpoints.SafeTensors.Load(ckpt);
        foreach (var (prefix, module, _) in parts)
        {
            var mine = weights.Where(kv => kv.Key.StartsWith(prefix + ".", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[(prefix.Length + 1)..], kv => kv.Value);
            Diffusion.Checkpoints.StateDict.Load(module, mine, $"{ckpt} ({prefix})");
        }
    }
}
