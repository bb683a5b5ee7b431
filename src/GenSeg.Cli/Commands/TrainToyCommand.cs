using System.CommandLine;
using System.Globalization;
using GenSeg.Common;
using GenSeg.Diffusion.Models;
using GenSeg.Runtime;
using GenSeg.ToyWorld.Training;
using Spectre.Console;
using TorchSharp;

namespace GenSeg.Cli.Commands;

/// <summary><c>genseg train-toy vae|unet|inpaint</c>: trains a component of the embedded model on ToyWorld.</summary>
public static class TrainToyCommand
{
    static readonly Argument<string> Component = new("component") { Description = "vae, unet, inpaint, or assemble (write the diffusers folder from finished or checkpointed runs)" };
    static readonly Option<int> Steps = new("--steps") { Description = "Total optimizer steps", DefaultValueFactory = _ => 4000 };
    static readonly Option<int> Batch = new("--batch") { Description = "Images per step", DefaultValueFactory = _ => 16 };
    static readonly Option<double> Lr = new("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 1e-3 };
    static readonly Option<int> Seed = new("--seed") { Description = "Seed of data, noise and initialisation", DefaultValueFactory = _ => 0 };
    static readonly Option<int> CheckpointEvery = new("--checkpoint-every") { Description = "Steps between resumable checkpoints", DefaultValueFactory = _ => 200 };
    static readonly Option<string?> Out = new("--out") { Description = "Run folder (default runs/toy-<component>)" };
    static readonly Option<bool> Resume = new("--resume") { Description = "Continue from the run folder's checkpoint" };
    static readonly Option<string?> Vae = new("--vae") { Description = "Trained VAE folder (unet, inpaint; default runs/toy-vae/export)" };
    static readonly Option<string?> From = new("--from") { Description = "inpaint: the trained text-to-image run's export folder or a model folder (text encoder, tokenizer, UNet to start from; default runs/toy-unet/export); assemble: the text-to-image run folder (default runs/toy-unet)" };
    static readonly Option<string?> InpaintRun = new("--inpaint") { Description = "assemble: the inpainting run folder (default runs/toy-inpaint when it has weights)" };
    static readonly Option<bool> FreezeText = new("--freeze-text") { Description = "unet: keep the text encoder fixed (e.g. on resuming, so an inpainting run can share it)" };
    static readonly Option<string?> Init = new("--init") { Description = "Continue training from the weights of this diffusers folder (e.g. data/models/toyworld-sd): vae from its vae/, unet from unet/ and text_encoder/, inpaint from unet-inpaint/. A fresh optimizer; the run's own --resume still works." };
    static readonly Option<string?> Config = new("--config") { Description = "vae: build the fresh model from this diffusers config.json (default: the embedded model's configuration; not with --init)" };
    static readonly Option<bool> DecoderOnly = new("--decoder-only") { Description = "vae: fine-tune only the decoder (the latent space and scaling factor stay, so a UNet trained on them stays valid)" };
    static readonly Option<int> Crop = new("--crop") { Description = "vae: train on random square crops of this side (0 = full images)", DefaultValueFactory = _ => 32 };
    static readonly Option<string> Masks = new("--masks") { Description = "inpaint: training masks, mixed (the first recipe) or paintseg (the masks PaintSeg's I- and O-steps make, ideal painter's targets, mostly empty captions)", DefaultValueFactory = _ => "mixed" };
    static readonly Option<double> MinSnr = new("--min-snr") { Description = "unet, inpaint: Min-SNR-gamma loss weighting (0 = off; the paper's gamma 5)", DefaultValueFactory = _ => 0 };
    static readonly Option<double> Ema = new("--ema") { Description = "unet, inpaint: EMA decay of the weights, exported and assembled instead of the raw weights (0 = off)", DefaultValueFactory = _ => 0 };
    static readonly Option<string> Prediction = new("--prediction-type") { Description = "unet, inpaint: what the UNet predicts, epsilon or v_prediction (recorded in the run's scheduler/, which assemble ships with the UNet)", DefaultValueFactory = _ => "epsilon" };
    static readonly Option<int> Warmup = new("--warmup") { Description = "Linear learning-rate warm-up steps (then cosine decay to 10%)", DefaultValueFactory = _ => 100 };
    static readonly Option<int> Threads = new("--threads") { Description = "Torch intra-op threads (0 = default)", DefaultValueFactory = _ => 0 };

    public static Command Create()
    {
        var cmd = new Command("train-toy", "Train a component of the embedded model on ToyWorld (resumable, deterministic given --seed)");
        cmd.Arguments.Add(Component);
        foreach (var o in new Option[] { Steps, Batch, Lr, Seed, CheckpointEvery, Out, Resume, Vae, From, InpaintRun, FreezeText, Init, Config, DecoderOnly, Crop, Masks, MinSnr, Ema, Prediction, Warmup, Threads }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            if (parse.GetValue(Threads) is > 0 and var t) torch.set_num_threads(t);
            var component = parse.GetValue(Component)!.Trim().ToLowerInvariant();
            if (component == "assemble")
            {
                var target = parse.GetValue(Out) ?? KitPaths.EmbeddedModel;
                var inpaintRun = parse.GetValue(InpaintRun)
                                 ?? (ToyTraining.HasWeights(Path.Combine("runs", "toy-inpaint")) ? Path.Combine("runs", "toy-inpaint") : null);
                if (inpaintRun is not null && !ToyTraining.HasWeights(inpaintRun))
                    throw new DirectoryNotFoundException($"--inpaint {inpaintRun}: neither an export nor a checkpoint there");
                ToyTraining.Assemble(parse.GetValue(Vae) ?? Path.Combine("runs", "toy-vae", "export"),
                    parse.GetValue(From) ?? Path.Combine("runs", "toy-unet"), inpaintRun, target);
                AnsiConsole.MarkupLineInterpolated($"[green]assembled[/] {target}");
                return 0;
            }
            var options = new TrainingOptions
            {
                Steps = parse.GetValue(Steps),
                Batch = parse.GetValue(Batch),
                LearningRate = parse.GetValue(Lr),
                Seed = parse.GetValue(Seed),
                CheckpointEvery = parse.GetValue(CheckpointEvery),
                OutDir = parse.GetValue(Out) ?? Path.Combine("runs", "toy-" + component),
                Resume = parse.GetValue(Resume),
                WarmupSteps = parse.GetValue(Warmup),
            };
            options.Validate();
            torch.manual_seed(options.Seed);
            var init = parse.GetValue(Init);
            if (init is not null && !Directory.Exists(init)) throw new DirectoryNotFoundException($"--init {init}: no such folder (expected a diffusers model folder)");
            if (parse.GetValue(Config) is not null && (component != "vae" || init is not null)) throw new ArgumentException("--config: applies to a fresh vae only (not with --init)");
            if (parse.GetValue(DecoderOnly) && component != "vae") throw new ArgumentException("--decoder-only: applies to the vae component only");
            var recipe = new DiffusionRecipe(parse.GetValue(MinSnr), parse.GetValue(Ema), parse.GetValue(Prediction)!.Trim());
            ITrainingTask task = component switch
            {
                "vae" => new VaeTask(init is null ? AutoencoderKL.FromConfig(FreshVaeConfig(parse.GetValue(Config)), device) : AutoencoderKL.FromFolder(Path.Combine(init, "vae"), device),
                                     crop: parse.GetValue(Crop), decoderOnly: parse.GetValue(DecoderOnly)),
                "unet" => ToyTraining.TextToImage(options.OutDir, parse.GetValue(Vae) ?? Path.Combine("runs", "toy-vae", "export"), device, parse.GetValue(FreezeText), init, recipe),
                "inpaint" => ToyTraining.Inpainting(parse.GetValue(Vae) ?? Path.Combine("runs", "toy-vae", "export"),
                                                    parse.GetValue(From) ?? Path.Combine("runs", "toy-unet", "export"), device, init,
                                                    ParseMasks(parse.GetValue(Masks)!), recipe),
                _ => throw new ArgumentException($"component '{component}': expected vae, unet or inpaint"),
            };
            if (task is InpaintTask or DiffusionTask) ToyTraining.RecordScheduler(options.OutDir, recipe);
            Train(task, options);
            AnsiConsole.MarkupLineInterpolated($"[green]done[/]: {task.Name} exported to {Path.Combine(options.OutDir, "export")}; losses in {Path.Combine(options.OutDir, "losses.csv")}");
            return 0;
        });
        return cmd;
    }

    static AutoencoderKLConfig FreshVaeConfig(string? path)
    {
        if (path is null) return ToyModelConfigs.Vae;
        if (!File.Exists(path)) throw new FileNotFoundException($"--config {path}: no such file (expected an AutoencoderKL config.json)", path);
        var config = Diffusion.Checkpoints.ConfigJson.Read<AutoencoderKLConfig>(path);
        config.Validate(path);
        return config;
    }

    static InpaintMasks ParseMasks(string value) => value.Trim().ToLowerInvariant() switch
    {
        "mixed" => InpaintMasks.Mixed,
        "paintseg" => InpaintMasks.PaintSeg,
        _ => throw new ArgumentException($"--masks '{value}': expected mixed or paintseg"),
    };

    static void Train(ITrainingTask task, TrainingOptions options) =>
        CliProgress.Run<bool>($"train {task.Name}", (Action<int, int, string?> report) =>
        {
            TrainingLoop.Run(task, options, new Progress(p => report(p.Step, p.Steps, Describe(task, p))));
            return true;
        });

    static string Describe(ITrainingTask task, TrainingProgress p)
    {
        var extra = string.Join(" ", p.Extra.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F2}")));
        var rollbacks = p.Recoveries + p.RepeatedSteps > 0 ? $" repeated {p.RepeatedSteps} rollbacks {p.Recoveries} (last: {p.LastFault})" : "";
        return string.Create(CultureInfo.InvariantCulture, $"{task.Name} step {p.Step}/{p.Steps} loss {p.Loss:F4} (avg {p.AverageLoss:F4}) {p.ImagesPerSecond:F1} img/s {extra}{rollbacks}");
    }

    /// <summary>Synchronous IProgress (System.Progress posts to the thread pool and reorders reports).</summary>
    sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
