using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Runtime;
using GenSeg.ToyWorld.Training;
using Spectre.Console;
using TorchSharp;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg model-card</c>: measures the embedded model's quality figures on ToyWorld val (VAE PSNR, generation
/// rate, inpainting contrast), renders the training loss curves into docs/, and writes the model card
/// (README.md in the model folder) with the figures, the training record and the commands that reproduce them.
/// </summary>
public static class ModelCardCommand
{
    static string Prediction(GenSeg.Diffusion.Schedulers.DDIMScheduler scheduler) => scheduler.Config.PredictionType switch
    {
        "epsilon" => "epsilon prediction",
        "v_prediction" => "v-prediction",
        var other => other + " prediction",
    };

    static readonly Option<string> Model = new("--model") { Description = "Model folder", DefaultValueFactory = _ => KitPaths.EmbeddedModel };
    static readonly Option<string> Runs = new("--runs") { Description = "Training runs folder: a stage's runs/<run>/losses.csv, when present, refreshes its copy beside the record", DefaultValueFactory = _ => "runs" };
    static readonly Option<string> Record = new("--record") { Description = "The training record (stages, commands; loss logs beside it); the loss-curve plot is written beside it", DefaultValueFactory = _ => Path.Combine("docs", "training", "record.json") };
    static readonly Option<int> PerClass = new("--per-class") { Description = "Generated samples per class", DefaultValueFactory = _ => 5 };
    static readonly Option<int> InpaintScenes = new("--inpaint-scenes") { Description = "Val scenes for the inpainting contrast", DefaultValueFactory = _ => 24 };
    static readonly Option<string?> Json = new("--json") { Description = "Also write the figures as JSON" };
    static readonly Option<bool> InpaintOnly = new("--inpaint-only") { Description = "Measure only the inpainting contrast (e.g. of a training checkpoint) and print it; the card and figures.json are left alone" };

    public static Command Create()
    {
        var cmd = new Command("model-card", "Measure the embedded model's quality figures and write its model card");
        foreach (var o in new Option[] { Model, Runs, Record, PerClass, InpaintScenes, Json, InpaintOnly }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            var folder = parse.GetValue(Model)!;
            using var pipeline = StableDiffusionPipeline.Load(folder, device, CliCommon.DTypeOf(parse));
            var figures = new Dictionary<string, object>();
            if (parse.GetValue(InpaintOnly))
            {
                if (pipeline.InpaintUnet is null) throw new ArgumentException($"--model {folder}: no inpainting UNet to measure");
                AddInpainting(figures, pipeline, parse.GetValue(InpaintScenes));
                AnsiConsole.WriteLine(string.Join("  ", figures.Select(kv => $"{kv.Key} {Format(kv.Value)}")));
                if (parse.GetValue(Json) is { } only) AtomicFile.WriteAllText(only, JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            AnsiConsole.Status().Start("VAE reconstruction on 200 val scenes", ctx =>
            {
                figures["vae_psnr_db"] = VaeQuality.Psnr(pipeline, 200);
                ctx.Status("text control: cross-attention segmentation of 200 val scenes");
                var attention = AttentionEvaluation.Run(pipeline, ToyWorld.Split.Val, null, 200, new[] { ("default", new Methods.CrossAttentionOptions()) })[0];
                figures["text_control_miou"] = attention.Miou;
                ctx.Status("training the judging shape classifier");
                var (classifier, accuracy) = ShapeClassifier.Train();
                ctx.Status("generating samples");
                var gen = ModelQuality.Generation(pipeline, parse.GetValue(PerClass), classifier: classifier, classifierAccuracy: accuracy,
                    progress: new Progress<string>(s => ctx.Status(s)));
                figures["generation_rate"] = gen.Rate;
                figures["generation_per_class"] = gen.PerClass;
                figures["shape_classifier_val_accuracy"] = gen.ClassifierValAccuracy;
                if (pipeline.InpaintUnet is not null)
                {
                    ctx.Status("inpainting contrast");
                    AddInpainting(figures, pipeline, parse.GetValue(InpaintScenes));
                }
            });
            var runs = parse.GetValue(Runs)!;
            var record = TrainingRecord.Read(parse.GetValue(Record)!);
            record.RefreshFrom(runs);
            LossPlot.Write(Path.Combine(record.Folder, "losses.png"), record.Curves());
            var table = new Table().AddColumns("figure", "value");
            foreach (var (k, v) in figures) table.AddRow(k, Markup.Escape(Format(v)));
            AnsiConsole.Write(table);
            AtomicFile.WriteAllText(Path.Combine(folder, "figures.json"), JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true }));
            AtomicFile.WriteAllText(Path.Combine(folder, "README.md"), Card(pipeline, figures, record));
            if (parse.GetValue(Json) is { } json) AtomicFile.WriteAllText(json, JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true }));
            AnsiConsole.MarkupLineInterpolated($"figures written to {Path.Combine(folder, "figures.json")}; loss curves in {Path.Combine(record.Folder, "losses.png")}");
            return 0;
        });
        return cmd;
    }

    static void AddInpainting(Dictionary<string, object> figures, StableDiffusionPipeline pipeline, int scenes)
    {
        var inp = ModelQuality.Inpainting(pipeline, new ColourPositionFeatures(1.0, 0.0), scenes);
        figures["inpaint_object_distance"] = inp.ObjectDistance;
        figures["inpaint_background_distance"] = inp.BackgroundDistance;
        figures["inpaint_ratio"] = inp.Ratio;
        figures["inpaint_pairs"] = inp.Pairs;
    }

    static string Card(StableDiffusionPipeline p, Dictionary<string, object> f, TrainingRecord record)
    {
        string Fig(string key, string fmt) => f.TryGetValue(key, out var v) && v is double d ? d.ToString(fmt, CultureInfo.InvariantCulture) : "not measured";
        string Met(string key, Func<double, bool> ok) => f.TryGetValue(key, out var v) && v is double d ? (ok(d) ? "met" : "missed") : "-";
        long Params(TorchSharp.torch.nn.Module m) => m.parameters().Sum(x => x.numel());
        var sb = new StringBuilder();
        sb.AppendLine("# toyworld-sd: GenSeg's embedded default model");
        sb.AppendLine();
        sb.AppendLine("A small latent diffusion model with exactly Stable Diffusion's architecture (AutoencoderKL, CLIPTextModel,");
        sb.AppendLine("UNet2DConditionModel with cross-attention, DDIM), trained from scratch by GenSeg's own code on ToyWorld, the kit's");
        sb.AppendLine("procedural dataset (64x64 images of 1-3 shapes from 8 classes on textured backgrounds, captions naming them). It is in");
        sb.AppendLine("the diffusers folder layout and loads through the same `StableDiffusionPipeline.Load` as a real SD folder. It exists");
        sb.AppendLine("so the kit runs anywhere without downloads; it is not a general image model.");
        sb.AppendLine();
        sb.AppendLine("| component | configuration | parameters |");
        sb.AppendLine("| --- | --- | --- |");
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| vae | AutoencoderKL, 64x64x3 -> 16x16x{p.Vae.Config.LatentChannels}, channels {string.Join("/", p.Vae.Config.BlockOutChannels)}, scaling factor {p.Vae.ScalingFactor} | {Params(p.Vae):N0} |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| text_encoder | CLIPTextModel, {p.TextEncoder.Config.NumHiddenLayers} layers, width {p.TextEncoder.Config.HiddenSize}, vocabulary {p.Tokenizer.Vocabulary} (byte-level BPE with one token per ToyWorld word) | {Params(p.TextEncoder):N0} |"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| unet | UNet2DConditionModel, channels {string.Join("/", p.Unet.Config.BlockOutChannels)}, cross-attention at 16x16, 8x8 and the 4x4 mid block, {Prediction(p.Scheduler)} | {Params(p.Unet):N0} |"));
        if (p.InpaintUnet is not null)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| unet-inpaint | the same UNet with 9 input channels (latent, mask, masked-image latent), initialised from unet, {Prediction(p.InpaintScheduler)}{(p.InpaintScheduler == p.Scheduler ? "" : $" (its own `{StableDiffusionPipeline.InpaintSchedulerFolder}/`)")} | {Params(p.InpaintUnet):N0} |"));
        sb.AppendLine();
        sb.AppendLine("## Training (ToyWorld train split; all runs resumable and deterministic given --seed)");
        sb.AppendLine();
        sb.AppendLine("Stages in order (each continues from the weights the stages before it left):");
        sb.AppendLine();
        foreach (var stage in record.Stages)
            sb.AppendLine($"- {stage.Component} ({stage.Run}): {stage.Summary} - {record.Describe(stage)}.");
        sb.AppendLine();
        var plot = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(record.Folder, "losses.png")).Replace('\\', '/');
        sb.AppendLine($"Loss curves: `{plot}` (one panel per component, stages one after another; the logs are the CSVs beside it). Reproduce:");
        sb.AppendLine();
        sb.AppendLine("```bash");
        foreach (var stage in record.Stages) sb.AppendLine(stage.Command);
        // the folder takes each component's last stage: assemble's defaults (runs/toy-vae, runs/toy-unet) and the last inpainting run
        var inpaint = record.Stages.LastOrDefault(st => st.Component == "unet-inpaint");
        sb.AppendLine("./genseg train-toy assemble" + (inpaint is null ? "" : $" --inpaint runs/{inpaint.Run}") + " --out data/models/toyworld-sd");
        sb.AppendLine("./genseg model-card                                        # measures the figures below, writes this card");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("## Quality on ToyWorld val (measured by `genseg model-card`)");
        sb.AppendLine();
        sb.AppendLine("| figure | value | target | |");
        sb.AppendLine("| --- | --- | --- | --- |");
        sb.AppendLine($"| VAE reconstruction PSNR (200 val scenes) | {Fig("vae_psnr_db", "F2")} dB | >= 28 dB | {Met("vae_psnr_db", d => d >= 28)} |");
        sb.AppendLine($"| 25-step DDIM samples for \"a photo of a {{colour}} {{class}}\" that show the named shape | {Fig("generation_rate", "P0")} | >= 80% | {Met("generation_rate", d => d >= 0.8)} |");
        sb.AppendLine($"| judge: shape classifier accuracy on real one-object val scenes | {Fig("shape_classifier_val_accuracy", "P0")} | | |");
        sb.AppendLine($"| inpainting contrast: painted object region vs painted background region, colour distance ratio | {Fig("inpaint_ratio", "F2")} | >= 3 | {Met("inpaint_ratio", d => d >= 3)} |");
        sb.AppendLine($"| text control: cross-attention segmentation mIoU | {Fig("text_control_miou", "F1")} | >= 40 | {Met("text_control_miou", d => d >= 40)} |");
        sb.AppendLine();
        sb.AppendLine("Figures that miss their targets are reported as measured; what was tried on them and what limits them:");
        sb.AppendLine("`docs/findings.md`.");
        return sb.ToString();
    }

    static string Format(object v) => v switch
    {
        double d => d.ToString("G4", CultureInfo.InvariantCulture),
        IReadOnlyDictionary<string, double> m => string.Join(", ", m.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F2}"))),
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
    };
}
