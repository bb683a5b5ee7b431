using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
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
    /// <summary>The options <c>eval g4seg</c> takes for datasets and scaled-out runs.</summary>
    public sealed record Options(Option<string> Dataset, Option<string?> CoarseDir, Option<string?> Results, Option<bool> Resume, Option<string?> Shard)
    {
        /// <summary>Creates the options.</summary>
        public static Options Create() => new(
            new Option<string>("--dataset") { Description = "toyworld (default), or voc:DIR, coco:DIR, saliency:DIR, folder:DIR", DefaultValueFactory = _ => "toyworld" },
            new Option<string?>("--coarse-dir") { Description = "Coarse masks from files, named after the images: DIR/ID.png (label map, 255 = ignore) or DIR/ID/CLASS.png (probability maps)" },
            new Option<string?>("--results") { Description = "Stream one JSON line per image to this .jsonl file (confusion counts and IoUs)" },
            new Option<bool>("--resume") { Description = "Continue --results: skip the images already there" },
            new Option<string?>("--shard") { Description = "I/N: take every N-th image from position I (0-based), for N runs in parallel; merge with `genseg eval merge`" });

        /// <summary>Adds them to a command.</summary>
        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { Dataset, CoarseDir, Results, Resume, Shard }) cmd.Options.Add(o);
        }

        /// <summary>Whether the run goes through the dataset path (a folder dataset or coarse masks from files).</summary>
        public bool Selected(ParseResult parse)
        {
            var spec = DatasetSpec.Parse(parse.GetValue(Dataset)!);
            bool dataset = spec.Kind != DatasetSpec.ToyWorld || parse.GetValue(CoarseDir) is not null;
            if (!dataset && (parse.GetValue(Results) is not null || parse.GetValue(Shard) is not null || parse.GetValue(Resume)))
                throw new ArgumentException("--results, --resume and --shard run over a dataset with coarse masks from files: pass --coarse-dir DIR (and --dataset KIND:DIR, or toyworld written by `genseg toyworld --format`)");
            return dataset;
        }
    }

    /// <summary>G4Seg over a dataset with coarse masks from files; prints the summary and writes it as JSON.</summary>
    public static int RunG4Seg(ParseResult parse, Options o, StableDiffusionPipeline pipeline, string split, int? firstSeed, int? limit,
        IReadOnlyList<(string Label, G4SegOptions Options)> settings, Func<G4SegOptions, IReadOnlyDictionary<string, string>> describe, string? jsonPath)
    {
        var spec = DatasetSpec.Parse(parse.GetValue(o.Dataset)!);
        var coarse = parse.GetValue(o.CoarseDir) ?? throw new ArgumentException($"--dataset {parse.GetValue(o.Dataset)}: G4Seg refines coarse masks from files; pass --coarse-dir DIR");
        var dataset = spec.Kind == DatasetSpec.ToyWorld
            ? new ToyWorldDataset(ToyWorldSplit(split), firstSeed, limit ?? 50)
            : spec.Open(split);
        Shard shard;
        try { shard = parse.GetValue(o.Shard) is { } s ? Evaluation.Shard.Parse(s) : Evaluation.Shard.All; }
        catch (ArgumentException e) { throw new ArgumentException($"--shard: {CliCommon.PlainMessage(e)}"); }
        var options = new G4SegDatasetOptions
        {
            Dataset = dataset,
            CoarseFolder = coarse,
            Settings = settings,
            DescribeSettings = describe,
            Shard = shard,
            Limit = spec.Kind == DatasetSpec.ToyWorld ? null : limit,
        };
        using var log = parse.GetValue(o.Results) is { } results ? ResultsLog.Open(results, parse.GetValue(o.Resume)) : null;
        if (log is { Existing.Count: > 0 }) AnsiConsole.MarkupLineInterpolated($"resuming [green]{log.Path}[/]: {log.Existing.Count} images already done");
        var started = DateTime.UtcNow;
        JsonObject summary = null!;
        Progress($"g4seg on {dataset.Spec} {dataset.Split}" + (shard == Evaluation.Shard.All ? "" : $" shard {shard}"),
            report => summary = G4SegDatasetEvaluation.Run(pipeline, options, log, report));
        summary["model"] = pipeline.Folder;
        Print(summary, (DateTime.UtcNow - started).TotalSeconds);
        Write(summary, jsonPath);
        return 0;
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
            Print(summary, null);
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

    static string F(JsonNode? v, int decimals = 1) => v is null ? "-" : ((double)v).ToString("F" + decimals, CultureInfo.InvariantCulture);
}
