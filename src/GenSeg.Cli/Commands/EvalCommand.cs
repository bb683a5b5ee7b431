using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Methods;
using GenSeg.Methods.G4Seg;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg eval g4seg|attention</c>: G4Seg's refinement gain on ToyWorld (coarse masks from the perturbation generator
/// or the cross-attention segmenter), and the cross-attention segmenter's own mIoU (the embedded model's "text control").
/// Every G4Seg / segmenter setting is a flag named as in <see cref="G4SegSettings"/>; <c>--sweep name=v1,v2</c> evaluates
/// several values of one setting on the same scenes.
/// </summary>
public static class EvalCommand
{
    const string DefaultModel = KitPaths.EmbeddedModel;

    public static Command Create()
    {
        var cmd = new Command("eval");
        cmd.Subcommands.Add(G4SegCommand());
        cmd.Subcommands.Add(AttentionCommand());
        foreach (var c in EvalPaintSegCommand.Subcommands()) cmd.Subcommands.Add(c);
        cmd.Subcommands.Add(EvalDatasetCommand.Merge());
        // the help lists every subcommand, from the subcommands themselves
        cmd.Description = "Evaluate the methods on ToyWorld (or a dataset with --dataset): " +
                          string.Join("; ", cmd.Subcommands.Select(c => $"{c.Name} ({char.ToLowerInvariant(c.Description![0])}{c.Description[1..]})"));
        return cmd;
    }

    sealed record Common(Option<string> Split, Option<int> Count, Option<int?> FirstSeed, Option<string> Model, Option<string?> Json,
        Option<int> Batch, Option<string?> Sweep, Option<int> Threads)
    {
        public static Common Create() => new(
            new Option<string>("--split") { Description = "val or test (tune on val, report on test)", DefaultValueFactory = _ => "val" },
            new Option<int>("--count") { Description = "Number of scenes", DefaultValueFactory = _ => 50 },
            new Option<int?>("--first-seed") { Description = "First scene seed (absolute; default: the split's first seed)" },
            new Option<string>("--model") { Description = "Diffusers model folder", DefaultValueFactory = _ => DefaultModel },
            new Option<string?>("--json") { Description = "Write the results as JSON to this file (atomically)" },
            new Option<int>("--batch") { Description = "Scenes per UNet batch", DefaultValueFactory = _ => 16 },
            new Option<string?>("--sweep") { Description = "Evaluate several values of one setting: name=v1,v2,..." },
            new Option<int>("--threads") { Description = "Torch intra-op threads (1 measured fastest on a busy 2-core machine)", DefaultValueFactory = _ => 1 });

        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { Split, Count, FirstSeed, Model, Json, Batch, Sweep, Threads }) cmd.Options.Add(o);
        }

        public (Split Split, int Count) Scenes(ParseResult parse)
        {
            Split split;
            try { split = Splits.Parse(parse.GetValue(Split)!); }
            catch (ArgumentException e) { throw new ArgumentException($"--split: {CliCommon.PlainMessage(e)}"); }
            int count = parse.GetValue(Count);
            if (count < 1) throw new ArgumentException($"--count {count}: expected at least 1 scene");
            try { Splits.Seeds(split, parse.GetValue(FirstSeed), count); }
            catch (ArgumentOutOfRangeException e)
            {
                throw new ArgumentException($"{(e.ParamName == "count" ? "--count" : "--first-seed")}: {CliCommon.PlainMessage(e)}");
            }
            if (parse.GetValue(Batch) < 1) throw new ArgumentException($"--batch {parse.GetValue(Batch)}: expected at least 1");
            return (split, count);
        }

        public StableDiffusionPipeline Load(ParseResult parse)
        {
            var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            var folder = parse.GetValue(Model)!;
            if (!Directory.Exists(folder))
                throw new DirectoryNotFoundException($"--model {folder}: model folder not found" + (folder == DefaultModel
                    ? " (the embedded model is not assembled yet: pass a folder from `genseg train-toy assemble --out DIR`)" : ""));
            return StableDiffusionPipeline.Load(folder, device, CliCommon.DTypeOf(parse));
        }
    }

    static Command G4SegCommand()
    {
        var cmd = new Command("g4seg", "G4Seg's refinement of coarse masks: mIoU before and after, the gain's 95% interval, per class and by initial-IoU stratum");
        var common = Common.Create();
        common.AddTo(cmd);
        var coarse = new Option<string>("--coarse") { Description = "Coarse masks: perturb (ToyWorld's generator) or attention (the cross-attention segmenter)", DefaultValueFactory = _ => "perturb" };
        var severity = new Option<string>("--severity") { Description = "Perturbation severity: low, medium, high or a number in [0, 1]", DefaultValueFactory = _ => "medium" };
        var compare = new Option<string?>("--compare") { Description = "crf: add DenseCRF and DenseCRF-then-G4Seg (G4Seg's Table 6)" };
        var preset = new Option<string>("--preset") { Description = "Starting settings: paper (the paper's defaults) or toyworld (tuned on ToyWorld val); flags override", DefaultValueFactory = _ => "paper" };
        foreach (var o in new Option[] { coarse, severity, compare, preset }) cmd.Options.Add(o);
        var flags = new SettingFlags<G4SegOptions>(G4SegSettings.All, G4SegOptions.Paper);
        var attentionFlags = new SettingFlags<CrossAttentionOptions>(CrossAttentionSettings.All, new CrossAttentionOptions(), "attention-", "--coarse attention");
        flags.AddTo(cmd);
        attentionFlags.AddTo(cmd);
        var data = EvalDatasetCommand.Options.Create(coarse: true);
        data.AddTo(cmd);
        common.Count.Description = "Number of scenes (with --dataset KIND:DIR or --coarse-dir: the split's first N images; default all)";
        cmd.SetAction(parse =>
        {
            if (data.Selected(parse))
            {
                G4SegOptions first;
                try { first = G4SegOptions.Preset(parse.GetValue(preset)!); }
                catch (ArgumentException e) { throw new ArgumentException($"--preset: {CliCommon.PlainMessage(e)}"); }
                var rows = flags.Sweep(parse, common.Sweep, flags.Apply(parse, first), "g4seg");
                int? limit = parse.GetResult(common.Count) is { Implicit: false } ? parse.GetValue(common.Count) : null;
                using var dataThreads = TorchThreads.Use(parse.GetValue(common.Threads));
                using var dataPipeline = common.Load(parse);
                return EvalDatasetCommand.RunG4Seg(parse, data, dataPipeline, parse.GetValue(common.Split)!, parse.GetValue(common.FirstSeed), limit, rows,
                    G4SegSettings.Values, parse.GetValue(common.Json));
            }
            var (split, count) = common.Scenes(parse);
            var source = parse.GetValue(coarse)!.Trim().ToLowerInvariant() switch
            {
                "perturb" => CoarseSource.Perturb,
                "attention" => CoarseSource.Attention,
                var other => throw new ArgumentException($"--coarse {other}: expected perturb or attention"),
            };
            var compareCrf = parse.GetValue(compare) switch
            {
                null => false,
                var c when c.Trim().Equals("crf", StringComparison.OrdinalIgnoreCase) => true,
                var c => throw new ArgumentException($"--compare {c}: expected crf"),
            };
            G4SegOptions start;
            try { start = G4SegOptions.Preset(parse.GetValue(preset)!); }
            catch (ArgumentException e) { throw new ArgumentException($"--preset: {CliCommon.PlainMessage(e)}"); }
            var g4 = flags.Apply(parse, start);
            var attention = attentionFlags.Apply(parse, new CrossAttentionOptions());
            var options = new G4SegEvaluationOptions
            {
                Split = split,
                FirstSeed = parse.GetValue(common.FirstSeed),
                Count = count,
                Source = source,
                Severity = DemoCommand.ParseSeverity(parse.GetValue(severity)!),
                Attention = attention,
                Settings = flags.Sweep(parse, common.Sweep, g4, "g4seg"),
                CompareCrf = compareCrf,
                ScenesPerBatch = parse.GetValue(common.Batch),
            };
            using var threads = TorchThreads.Use(parse.GetValue(common.Threads));
            using var pipeline = common.Load(parse);
            var started = DateTime.UtcNow;
            G4SegEvaluationResult result = null!;
            WithProgress($"g4seg on {options.Split.ToString().ToLowerInvariant()}", count, report => result = G4SegEvaluation.Run(pipeline, options, report));
            double wall = (DateTime.UtcNow - started).TotalSeconds;
            Print(result, wall);
            if (parse.GetValue(common.Json) is { } json)
            {
                AtomicFile.WriteAllText(json, G4SegJson(result, options, parse.GetValue(common.Model)!, wall).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                AnsiConsole.MarkupLineInterpolated($"wrote [green]{json}[/]");
            }
            return 0;
        });
        return cmd;
    }

    static Command AttentionCommand()
    {
        var cmd = new Command("attention", "The cross-attention segmenter's mIoU given each scene's class names (the embedded model's text control)");
        var common = Common.Create();
        common.AddTo(cmd);
        var flags = new SettingFlags<CrossAttentionOptions>(CrossAttentionSettings.All, new CrossAttentionOptions());
        flags.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var (split, count) = common.Scenes(parse);
            var options = flags.Apply(parse, new CrossAttentionOptions());
            var settings = flags.Sweep(parse, common.Sweep, options, "attention");
            using var threads = TorchThreads.Use(parse.GetValue(common.Threads));
            using var pipeline = common.Load(parse);
            var started = DateTime.UtcNow;
            IReadOnlyList<AttentionRow> rows = null!;
            WithProgress($"attention on {split.ToString().ToLowerInvariant()}", count,
                report => rows = AttentionEvaluation.Run(pipeline, split, parse.GetValue(common.FirstSeed), count, settings, parse.GetValue(common.Batch), progress: report));
            double wall = (DateTime.UtcNow - started).TotalSeconds;
            var table = new Table().AddColumns("setting", "mIoU", "95% CI", "scenes/s");
            foreach (var r in rows) table.AddRow(Markup.Escape(r.Label), F(r.Miou), Markup.Escape($"[{F(r.Lower)}, {F(r.Upper)}]"), F(r.ScenesPerSecond, 2));
            AnsiConsole.Write(table);
            var classes = new Table().AddColumn("class");
            foreach (var r in rows) classes.AddColumn(Markup.Escape(r.Label));
            foreach (var name in ToyClasses.All) classes.AddRow(new[] { name }.Concat(rows.Select(r => F(r.PerClass[name]))).ToArray());
            AnsiConsole.Write(classes);
            AnsiConsole.MarkupLineInterpolated($"{count} scenes in {wall:F1} s ({1000 * wall / count:F0} ms per scene)");
            if (parse.GetValue(common.Json) is { } json)
            {
                var main = rows[0];
                var root = new JsonObject
                {
                    ["split"] = split.ToString().ToLowerInvariant(),
                    ["scenes"] = count,
                    ["model"] = parse.GetValue(common.Model),
                    ["setting"] = main.Label,
                    ["options"] = Strings(CrossAttentionSettings.Values(settings[0].Options)),
                    ["miou"] = J(main.Miou),
                    ["miou_ci95"] = new JsonArray(J(main.Lower), J(main.Upper)),
                    ["per_class"] = PerClass(main.PerClass),
                    ["seconds"] = J(wall),
                    ["sweep"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                    {
                        ["setting"] = r.Label,
                        ["miou"] = J(r.Miou),
                        ["miou_ci95"] = new JsonArray(J(r.Lower), J(r.Upper)),
                        ["per_class"] = PerClass(r.PerClass),
                        ["seconds"] = J(r.Seconds),
                    }).ToArray()),
                };
                AtomicFile.WriteAllText(json, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                AnsiConsole.MarkupLineInterpolated($"wrote [green]{json}[/]");
            }
            return 0;
        });
        return cmd;
    }

    static void WithProgress(string title, int total, Action<Action<int, int>> run)
    {
        if (Console.IsOutputRedirected)
        {
            run((done, all) => Console.WriteLine($"{title}: {done}/{all} scenes"));
            return;
        }
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: total);
                run((done, _) => task.Value = done);
            });
    }

    static void Print(G4SegEvaluationResult result, double wall)
    {
        AnsiConsole.MarkupLineInterpolated($"coarse masks: {result.Source}; {result.Scenes} {result.Split} scenes from seed {result.FirstSeed}; {result.ImageClasses} image-classes");
        var table = new Table().AddColumns("setting", "mIoU before", "mIoU after", "gain", "gain 95% CI", "<40", "40-80", "80-100", "img-cls/s");
        foreach (var r in result.Rows) table.AddRow(RowCells(r));
        AnsiConsole.Write(table);
        if (result.Comparison is { } comparison)
        {
            var t = new Table().Title("DenseCRF comparison (G4Seg Table 6)").AddColumns("method", "mIoU before", "mIoU after", "gain", "gain 95% CI", "<40", "40-80", "80-100", "img-cls/s");
            foreach (var r in comparison) t.AddRow(RowCells(r));
            AnsiConsole.Write(t);
        }
        var main = result.Main;
        var classes = new Table().Title($"per-class IoU ({Markup.Escape(main.Label)})").AddColumns("class", "before", "after", "gain");
        foreach (var c in main.PerClass) classes.AddRow(c.Name, F(c.Before), F(c.After), F(c.After - c.Before));
        AnsiConsole.Write(classes);
        var strata = new Table().Title($"gain by initial IoU ({Markup.Escape(main.Label)})").AddColumns("stratum", "image-classes", "IoU before", "IoU after", "gain");
        foreach (var s in main.Strata) strata.AddRow(s.Stratum, s.Count.ToString(CultureInfo.InvariantCulture), F(s.Before), F(s.After), F(s.Gain));
        AnsiConsole.Write(strata);
        if (main.StageSeconds.Count > 0)
        {
            double total = main.StageSeconds.Values.Sum();
            AnsiConsole.MarkupLineInterpolated($"time per stage ({main.Label}): {string.Join(", ", main.StageSeconds.Select(kv => $"{kv.Key} {100 * kv.Value / total:F0}%"))}");
        }
        AnsiConsole.MarkupLineInterpolated($"{result.Scenes} scenes in {wall:F1} s ({1000 * wall / result.Scenes:F0} ms per scene; coarse masks {result.CoarseSeconds:F1} s)");
    }

    static string[] RowCells(G4SegRow r)
    {
        string Stratum(int i) => r.Strata.Count > i && r.Strata[i].Count > 0 ? $"{F(r.Strata[i].Gain, 2)} ({r.Strata[i].Count})" : "-";
        return new[]
        {
            Markup.Escape(r.Label), F(r.MiouBefore), F(r.MiouAfter), F(r.Gain, 2), Markup.Escape($"[{F(r.GainLower, 2)}, {F(r.GainUpper, 2)}]"),
            Stratum(0), Stratum(1), Stratum(2), r.Seconds > 0 ? F(r.ImageClassesPerSecond, 1) : "-",
        };
    }

    static string F(double v, int decimals = 1) => double.IsNaN(v) ? "-" : v.ToString("F" + decimals, CultureInfo.InvariantCulture);

    static JsonNode? J(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 4)) : null;

    static JsonObject Strings(IReadOnlyDictionary<string, string> values) =>
        new(values.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));

    static JsonObject PerClass(IReadOnlyDictionary<string, double> perClass)
    {
        var o = new JsonObject();
        foreach (var (name, v) in perClass) o[name] = J(v);
        return o;
    }

    static JsonObject RowJson(G4SegRow r)
    {
        var perClass = new JsonObject();
        foreach (var c in r.PerClass) perClass[c.Name] = new JsonObject { ["before"] = J(c.Before), ["after"] = J(c.After) };
        var stages = new JsonObject();
        foreach (var (stage, s) in r.StageSeconds) stages[stage] = J(s);
        return new JsonObject
        {
            ["setting"] = r.Label,
            ["miou_before"] = J(r.MiouBefore),
            ["miou_after"] = J(r.MiouAfter),
            ["gain"] = J(r.Gain),
            ["gain_ci95"] = new JsonArray(J(r.GainLower), J(r.GainUpper)),
            ["per_class"] = perClass,
            ["strata"] = new JsonArray(r.Strata.Select(s => (JsonNode)new JsonObject
            {
                ["stratum"] = s.Stratum,
                ["count"] = s.Count,
                ["iou_before"] = J(s.Before),
                ["iou_after"] = J(s.After),
                ["gain"] = J(s.Gain),
            }).ToArray()),
            ["seconds"] = J(r.Seconds),
            ["image_classes_per_second"] = J(r.ImageClassesPerSecond),
            ["stage_seconds"] = stages,
        };
    }

    static JsonObject G4SegJson(G4SegEvaluationResult result, G4SegEvaluationOptions options, string model, double wall)
    {
        var root = RowJson(result.Main);
        root["source"] = result.Source;
        root["split"] = result.Split;
        root["first_seed"] = result.FirstSeed;
        root["scenes"] = result.Scenes;
        root["image_classes"] = result.ImageClasses;
        root["model"] = model;
        root["wall_seconds"] = J(wall);
        // every setting, named as the flags are, so the file reruns its result (the first row's, with "rerun")
        var g4 = G4SegSettings.Values(options.Settings[0].Options);
        var attention = options.Source == CoarseSource.Attention ? CrossAttentionSettings.Values(options.Attention) : null;
        root["severity"] = options.Severity.ToString();
        root["batch"] = options.ScenesPerBatch;
        root["options"] = Strings(g4);
        if (attention is not null) root["attention_options"] = Strings(attention);
        var flags = new List<(string, string)>
        {
            ("split", result.Split), ("count", Convert.ToString(result.Scenes, CultureInfo.InvariantCulture)!),
            ("first-seed", Convert.ToString(result.FirstSeed, CultureInfo.InvariantCulture)!), ("model", model),
            ("coarse", options.Source == CoarseSource.Attention ? "attention" : "perturb"), ("severity", options.Severity.ToString()),
            ("batch", Convert.ToString(options.ScenesPerBatch, CultureInfo.InvariantCulture)!),
        };
        if (options.CompareCrf) flags.Add(("compare", "crf"));
        flags.AddRange(g4.Select(kv => (kv.Key, kv.Value)));
        if (attention is not null) flags.AddRange(attention.Select(kv => ("attention-" + kv.Key, kv.Value)));
        root["rerun"] = CliCommon.CommandLine("genseg eval g4seg", flags);
        root["sweep"] = new JsonArray(result.Rows.Select(r => (JsonNode)RowJson(r)).ToArray());
        if (result.Comparison is { } comparison) root["comparison"] = new JsonArray(comparison.Select(r => (JsonNode)RowJson(r)).ToArray());
        return root;
    }
}
