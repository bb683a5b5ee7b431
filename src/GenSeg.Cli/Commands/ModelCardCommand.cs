using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Runtime;
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
    static readonly Option<string> Model = new("--model") { Description = "Model folder", DefaultValueFactory = _ => Path.Combine("data", "models", "toyworld-sd") };
    static readonly Option<string> Runs = new("--runs") { Description = "Training runs folder (toy-vae, toy-unet, toy-inpaint with losses.csv)", DefaultValueFactory = _ => "runs" };
    static readonly Option<string> Docs = new("--docs") { Description = "Where the loss-curve plot goes", DefaultValueFactory = _ => "docs" };
    static readonly Option<int> PerClass = new("--per-class") { Description = "Generated samples per class", DefaultValueFactory = _ => 5 };
    static readonly Option<int> InpaintScenes = new("--inpaint-scenes") { Description = "Val scenes for the inpainting contrast", DefaultValueFactory = _ => 24 };
    static readonly Option<string?> Json = new("--json") { Description = "Also write the figures as JSON" };

    public static Command Create()
    {
        var cmd = new Command("model-card", "Measure the embedded model's quality figures and write its model card");
        foreach (var o in new Option[] { Model, Runs, Docs, PerClass, InpaintScenes, Json }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            var folder = parse.GetValue(Model)!;
            using var pipeline = StableDiffusionPipeline.Load(folder, device);
            var figures = new Dictionary<string, object>();
            AnsiConsole.Status().Start("VAE reconstruction on 200 val scenes", ctx =>
            {
                figures["vae_psnr_db"] = VaeQuality.Psnr(pipeline, 200);
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
                    var inp = ModelQuality.Inpainting(pipeline, new ColourPositionFeatures(1.0, 0.0), parse.GetValue(InpaintScenes));
                    figures["inpaint_object_distance"] = inp.ObjectDistance;
                    figures["inpaint_background_distance"] = inp.BackgroundDistance;
                    figures["inpaint_ratio"] = inp.Ratio;
                    figures["inpaint_pairs"] = inp.Pairs;
                }
            });
            var runs = parse.GetValue(Runs)!;
            var curves = new[] { "toy-vae", "toy-unet", "toy-inpaint" }
                .Select(r => (Name: r, Csv: Path.Combine(runs, r, "losses.csv")))
                .Where(r => File.Exists(r.Csv)).Select(r => (r.Name, LossPlot.Read(r.Csv))).ToList();
            var docs = parse.GetValue(Docs)!;
            if (curves.Count > 0)
            {
                LossPlot.Write(Path.Combine(docs, "embedded-model-losses.png"), curves);
                foreach (var (name, _) in curves) File.Copy(Path.Combine(runs, name, "losses.csv"), Path.Combine(docs, $"{name}-losses.csv"), overwrite: true);
            }
            var table = new Table().AddColumns("figure", "value");
            foreach (var (k, v) in figures) table.AddRow(k, Markup.Escape(Format(v)));
            AnsiConsole.Write(table);
            AtomicFile.WriteAllText(Path.Combine(folder, "figures.json"), JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true }));
            if (parse.GetValue(Json) is { } json) AtomicFile.WriteAllText(json, JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true }));
            AnsiConsole.MarkupLineInterpolated($"figures written to {Path.Combine(folder, "figures.json")}; loss curves in {docs}");
            return 0;
        });
        return cmd;
    }

    static string Format(object v) => v switch
    {
        double d => d.ToString("G4", CultureInfo.InvariantCulture),
        IReadOnlyDictionary<string, double> m => string.Join(", ", m.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F2}"))),
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
    };
}
