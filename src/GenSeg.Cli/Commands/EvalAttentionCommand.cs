using System.CommandLine;
using System.Globalization;
using GenSeg.Evaluation;
using GenSeg.Methods;
using GenSeg.ToyWorld;
using Spectre.Console;

namespace GenSeg.Cli.Commands;

/// <summary><c>genseg eval attention</c>: the cross-attention segmenter's mIoU given each scene's class names (the embedded model's text control).</summary>
public static class EvalAttentionCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var cmd = new Command("attention", "The cross-attention segmenter's mIoU given each scene's class names (the embedded model's text control)");
        var common = new EvalOptions("val", 50, "scenes", 1, CrossAttentionSettings.Table.PresetNames);
        foreach (var o in new Option[] { common.Split, common.Count, common.FirstSeed, common.Model, common.Json, common.Threads, common.Sweep, common.Preset }) cmd.Options.Add(o);
        var batch = new Option<int>("--batch") { Description = "Scenes per UNet batch", DefaultValueFactory = _ => 16 };
        cmd.Options.Add(batch);
        var flags = new SettingFlags<CrossAttentionOptions>(CrossAttentionSettings.Table, CrossAttentionSettings.Table.Defaults);
        flags.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var split = common.ToyWorldSplit(parse);
            int count = common.CountOf(parse);
            var seeds = CliCommon.Flag("--first-seed", () => Splits.Seeds(split, parse.GetValue(common.FirstSeed), count));
            if (parse.GetValue(batch) < 1) throw new ArgumentException($"--batch {parse.GetValue(batch)}: expected at least 1");
            var settings = common.Rows(parse, CrossAttentionSettings.Table, common.Settings(parse, CrossAttentionSettings.Table, flags), "attention");
            using var threads = common.UseThreads(parse);
            using var pipeline = common.LoadModel(parse);
            var started = DateTime.UtcNow;
            var rows = CliProgress.Run($"attention on {split.ToString().ToLowerInvariant()}, scenes",
                report => AttentionEvaluation.Run(pipeline, split, seeds[0], count, settings, parse.GetValue(batch), progress: report));
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
                EvaluationResult.WriteJson(AttentionEvaluation.ToJson(rows, settings, split, seeds[0], count, parse.GetValue(common.Model)!), json);
                AnsiConsole.MarkupLineInterpolated($"wrote [green]{json}[/]");
            }
            return 0;
        });
        return cmd;
    }

    static string F(double v, int decimals = 1) => double.IsNaN(v) ? "-" : v.ToString("F" + decimals, CultureInfo.InvariantCulture);
}
