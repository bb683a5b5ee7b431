using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Methods.PaintSeg;
using GenSeg.Methods.G4Seg;
using GenSeg.ToyWorld;
using Spectre.Console;

namespace GenSeg.Cli.Commands;

/// <summary>
/// The dataset side of <c>genseg eval</c>: <c>--dataset KIND:DIR</c>, <c>--coarse-dir</c>, <c>--results FILE.jsonl</c>,
/// <c>--resume</c>, <c>--shard I/N</c> on <c>eval g4seg</c>, and <c>genseg eval merge</c>.
/// </summary>
public static class EvalDatasetCommand
{
    /// <summary>The options <c>eval g4seg</c> and <c>eval paintseg</c> take for datasets and scaled-out runs.</summary>
    public sealed record Options(Option<string> Dataset, Option<string?>? CoarseDir, Option<string?> Results, Option<bool> Resume, Option<string?> Shard)
    {
        /// <summary>Creates the options (<c>--coarse-dir</c> when the method refines coarse masks).</summary>
        public static Options Create(bool coarse) => new(
            new Option<string>("--dataset") { Description = "toyworld (default), or voc:DIR, coco:DIR, saliency:DIR, folder:DIR", DefaultValueFactory = _ => "toyworld" },
            coarse ? new Option<string?>("--coarse-dir") { Description = "Coarse masks from files, named after the images: DIR/ID.png (label map, 255 = ignore) or DIR/ID/CLASS.png (probability maps)" } : null,
            new Option<string?>("--results") { Description = "Stream one JSON line per image to this .jsonl file (confusion counts or IoUs: enough to recompute the summary)" },
            new Option<bool>("--resume") { Description = "Continue --results: skip the images already there" },
            new Option<string?>("--shard") { Description = "I/N: take every N-th image from position I (0-based), for N runs in parallel; merge with `genseg eval merge`" });

        /// <summary>Adds them to a command.</summary>
        public void AddTo(Command cmd)
        {
            foreach (var o in new Option?[] { Dataset, CoarseDir, Results, Resume, Shard }) if (o is not null) cmd.Options.Add(o);
        }

        /// <summary>
        /// Whether the run goes through the dataset path: a folder dataset, or (G4Seg) coarse masks from files. The
        /// scaling options without it are an error.
        /// </summary>
        public bool Selected(ParseResult parse)
        {
            var spec = DatasetSpec.Parse(parse.GetValue(Dataset)!);
            bool dataset = spec.Kind != DatasetSpec.ToyWorld || (CoarseDir is not null && parse.GetValue(CoarseDir) is not null);
            // PaintSeg streams ToyWorld objects too; G4Seg's ToyWorld path does not stream yet
            if (!dataset && CoarseDir is not null && (parse.GetValue(Results) is not null || parse.GetValue(Shard) is not null || parse.GetValue(Resume)))
                throw new ArgumentException("--results, --resume and --shard run over a dataset with coarse masks from files: pass --coarse-dir DIR (and --dataset KIND:DIR, or toyworld written by `genseg toyworld --format`)");
            return dataset;
        }

        /// <summary>The <c>--shard</c> value.</summary>
        public Evaluation.Shard ShardOf(ParseResult parse)
        {
            try { return parse.GetValue(Shard) is { } s ? Evaluation.Shard.Parse(s) : Evaluation.Shard.All; }
            catch (ArgumentException e) { throw new ArgumentException($"--shard: {CliCommon.PlainMessage(e)}"); }
        }

        /// <summary>The <c>--results</c> log, opened (resumed with <c>--resume</c>), or null.</summary>
        public ResultsLog? Log(ParseResult parse)
        {
            var log = parse.GetValue(Results) is { } results ? ResultsLog.Open(results, parse.GetValue(Resume)) : null;
            if (log is { Existing.Count: > 0 }) AnsiConsole.MarkupLineInterpolated($"resuming [green]{log.Path}[/]: {log.Existing.Count} images already done");
            return log;
        }
    }

    /// <summary>G4Seg over a dataset with coarse masks from files; prints the summary and writes it as JSON.</summary>
    public static int RunG4Seg(ParseResult parse, Options o, StableDiffusionPipeline pipeline, string split, int? firstSeed, int? limit,
        IReadOnlyList<(string Label, G4SegOptions Options)> settings, Func<G4SegOptions, IReadOnlyDictionary<string, string>> describe, string? jsonPath)
    {
        var spec = DatasetSpec.Parse(parse.GetValue(o.Dataset)!);
        var coarse = parse.GetValue(o.CoarseDir!) ?? throw new ArgumentException($"--dataset {parse.GetValue(o.Dataset)}: G4Seg refines coarse masks from files; pass --coarse-dir DIR");
        var dataset = spec.Kind == DatasetSpec.ToyWorld
            ? new ToyWorldDataset(ToyWorldSplit(split), firstSeed, limit ?? 50)
            : spec.Open(split);
        var shard = o.ShardOf(parse);
        var options = new G4SegDatasetOptions
        {
            Dataset = dataset,
            CoarseFolder = coarse,
            Settings = settings,
            DescribeSettings = describe,
            Shard = shard,
            Limit = spec.Kind == DatasetSpec.ToyWorld ? null : limit,
        };
        using var log = o.Log(parse);
        var started = DateTime.UtcNow;
        JsonObject summary = null!;
        Progress($"g4seg on {dataset.Spec} {dataset.Split}" + (shard == Evaluation.Shard.All ? "" : $" shard {shard}"),
            report => summary = G4SegDatasetEvaluation.Run(pipeline, options, log, report));
        summary["model"] = pipeline.Folder;
        Print(summary, (DateTime.UtcNow - started).TotalSeconds);
        Write(summary, jsonPath);
        return 0;
    }

    /// <summary>PaintSeg over a folder dataset with prompts drawn from the truth; prints the summary and writes it as JSON.</summary>
    public static int RunPaintSeg(ParseResult parse, Options o, PaintSegEvalSettings settings, string split, int? limit, int resolution,
        IPainter painter, IFeatureExtractor features, string? jsonPath)
    {
        var dataset = DatasetSpec.Parse(parse.GetValue(o.Dataset)!).Open(split);
        var options = new PaintSegDatasetOptions { Dataset = dataset, Settings = settings, Resolution = resolution, Shard = o.ShardOf(parse), Limit = limit };
        using var log = o.Log(parse);
        var started = DateTime.UtcNow;
        JsonObject summary = null!;
        Progress($"paintseg {settings.Prompt.ToString().ToLowerInvariant()} on {dataset.Spec} {dataset.Split}" + (options.Shard == Evaluation.Shard.All ? "" : $" shard {options.Shard}"),
            report => summary = PaintSegDatasetEvaluation.Run(options, painter, features, log, report));
        PrintPaintSeg(summary);
        AnsiConsole.MarkupLineInterpolated($"{(DateTime.UtcNow - started).TotalSeconds:F1} s in this run");
        Write(summary, jsonPath);
        return 0;
    }

    static void PrintPaintSeg(JsonObject summary)
    {
        AnsiConsole.MarkupLineInterpolated($"{summary["dataset"]} {summary["split"]}: {summary["images"]} images, {summary["count"]} targets; prompt {summary["prompt"]}");
        var table = new Table().AddColumns("", "mean IoU", "95% CI");
        foreach (var (name, key) in new[] { ("prompt's mask", "iou_before"), ("PaintSeg", "iou_after"), ("gain", "gain") })
        {
            var ci = summary[key == "gain" ? "gain_ci95" : key + "_ci95"]!.AsArray();
            table.AddRow(name, F(100 * (double)summary[key]!), Markup.Escape($"[{F(100 * (double)ci[0]!)}, {F(100 * (double)ci[1]!)}]"));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"mean IoU after each step: {string.Join(", ", summary["per_step"]!.AsArray().Select(v => F(100 * (double)v!)))}");
    }

    static Split ToyWorldSplit(string split)
    {
        try { return Splits.Parse(split); }
        catch (ArgumentException e) { throw new ArgumentException($"--split: {CliCommon.PlainMessage(e)}"); }
    }

    /// <summary><c>genseg eval merge FILE.jsonl... --json OUT</c>.</summary>
    public static Command Merge()
    {
        var files = new Argument<string[]>("files") { Description = "Results files (.jsonl) of the shards of one run", Arity = ArgumentArity.OneOrMore };
        var json = new Option<string?>("--json") { Description = "Write the summary as JSON to this file (atomically)" };
        var cmd = new Command("merge", "Merge the results files of a sharded run into the summary one unsharded run gives");
        cmd.Arguments.Add(files);
        cmd.Options.Add(json);
        cmd.SetAction(parse =>
        {
            var summary = ResultsMerge.Merge(parse.GetValue(files)!);
            int images = (int)summary["images"]!, inSplit = (int)summary["images_in_split"]!;
            if (images < inSplit)
                AnsiConsole.MarkupLineInterpolated($"[yellow]warning[/]: {images} of the split's {inSplit} images are in these files (a shard missing or unfinished?)");
            if ((string?)summary["kind"] == PaintSegDatasetEvaluation.Kind) PrintPaintSeg(summary);
            else Print(summary, null);
            Write(summary, parse.GetValue(json));
            return 0;
        });
        return cmd;
    }

    static void Write(JsonObject summary, string? path)
    {
        if (path is null) return;
        AtomicFile.WriteAllText(path, summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/]");
    }

    static void Progress(string title, Action<Action<int, int>> run)
    {
        if (Console.IsOutputRedirected)
        {
            run((done, all) => Console.WriteLine($"{title}: {done}/{all} images"));
            return;
        }
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: 1);
                run((done, all) =>
                {
                    task.MaxValue = Math.Max(all, 1);
                    task.Value = done;
                });
            });
    }

    static void Print(JsonObject summary, double? wall)
    {
        AnsiConsole.MarkupLineInterpolated($"{summary["dataset"]} {summary["split"]}: {summary["images"]} images, {summary["image_classes"]} image-classes; coarse masks from {summary["coarse"]}");
        var table = new Table().AddColumns("setting", "mIoU before", "mIoU after", "gain", "gain 95% CI", "<40", "40-80", "80-100");
        foreach (var row in summary["sweep"]!.AsArray())
        {
            var strata = row!["strata"]!.AsArray();
            string Stratum(int i) => (int)strata[i]!["count"]! > 0 ? $"{F(strata[i]!["gain"], 2)} ({strata[i]!["count"]})" : "-";
            var ci = row["gain_ci95"]!.AsArray();
            table.AddRow(Markup.Escape((string)row["setting"]!), F(row["miou_before"]), F(row["miou_after"]), F(row["gain"], 2),
                Markup.Escape($"[{F(ci[0], 2)}, {F(ci[1], 2)}]"), Stratum(0), Stratum(1), Stratum(2));
        }
        AnsiConsole.Write(table);
        var classes = new Table().Title($"per-class IoU ({Markup.Escape((string)summary["setting"]!)})").AddColumns("class", "before", "after");
        foreach (var (name, v) in summary["per_class"]!.AsObject()) classes.AddRow(Markup.Escape(name), F(v!["before"]), F(v["after"]));
        AnsiConsole.Write(classes);
        if (wall is { } w) AnsiConsole.MarkupLineInterpolated($"{w:F1} s in this run");
    }

    static string F(JsonNode? v, int decimals = 1) => v is null ? "-" : F((double)v, decimals);

    static string F(double v, int decimals = 1) => v.ToString("F" + decimals, CultureInfo.InvariantCulture);
}
