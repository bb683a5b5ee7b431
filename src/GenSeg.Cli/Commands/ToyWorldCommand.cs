using System.CommandLine;
using System.Diagnostics;
using GenSeg.Methods.Inputs;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;

namespace GenSeg.Cli.Commands;

/// <summary><c>genseg toyworld</c>: writes ToyWorld scenes with their truths, coarse masks, prompts and a manifest.</summary>
public static class ToyWorldCommand
{
    static readonly Option<string> SplitOption = new("--split") { Description = "train, val or test", DefaultValueFactory = _ => "test" };
    static readonly Option<int> Count = new("--count") { Description = "Number of scenes", DefaultValueFactory = _ => 200 };
    static readonly Option<int?> FirstSeed = new("--first-seed") { Description = "First seed (absolute; default: the split's first seed)" };
    static readonly Option<string> Out = new("--out") { Description = "Output folder", Required = true };
    static readonly Option<int> Size = new("--size") { Description = "Image side in pixels", DefaultValueFactory = _ => 64 };
    static readonly Option<string> SeverityOption = new("--severity") { Description = "Coarse-mask severity: low, medium, high or a number in [0, 1]", DefaultValueFactory = _ => "medium" };
    static readonly Option<double> PromptNoise = new("--prompt-noise") { Description = "Prompt noise as a fraction of half the box diagonal", DefaultValueFactory = _ => 0.0 };
    static readonly Option<string> Format = new("--format") { Description = "Layout: manifest (the kit's own), or voc, coco, saliency, folder (a dataset reader's layout, with coarse/ID/CLASS.png)", DefaultValueFactory = _ => "manifest" };

    public static Command Create()
    {
        var cmd = new Command("toyworld", "Write ToyWorld scenes: images, semantic and instance masks, coarse masks, prompts and manifest.json");
        foreach (var o in new Option[] { SplitOption, Count, FirstSeed, Out, Size, SeverityOption, PromptNoise, Format }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            var options = ParseOptions(parse);
            var outDir = parse.GetValue(Out)!;
            DatasetLayout layout;
            try { layout = ToyWorldLayouts.Parse(parse.GetValue(Format)!); }
            catch (ArgumentException e) { throw new ArgumentException($"--format: {CliCommon.PlainMessage(e)}"); }
            var watch = Stopwatch.StartNew();
            if (layout != DatasetLayout.Manifest)
            {
                using var layoutThreads = TorchThreads.Use(1);
                var ids = ToyWorldLayouts.Write(outDir, layout, options);
                var kind = layout.ToString().ToLowerInvariant();
                AnsiConsole.MarkupLineInterpolated(
                    $"wrote {ids.Count} {options.Split.ToString().ToLowerInvariant()} scenes in the {kind} layout to [green]{outDir}[/] in {watch.Elapsed.TotalSeconds:F1} s; read it with --dataset {kind}:{outDir} --split {options.Split.ToString().ToLowerInvariant()} --coarse-dir {Path.Combine(outDir, "coarse")}");
                return 0;
            }
            using var threads = TorchThreads.Use(1); // scenes run in parallel; each one's tensors are tiny
            var manifest = CliProgress.Run("scenes", report => ToyWorldExport.Write(outDir, options, progress: n => report(n, options.Count)));
            int objects = manifest.Scenes.Sum(s => s.Objects.Count);
            double meanIou = objects == 0 ? double.NaN : manifest.Scenes.SelectMany(s => s.Objects).Average(o => o.Coarse.Iou);
            AnsiConsole.MarkupLineInterpolated(
                $"wrote {manifest.Count} {manifest.Split} scenes ({objects} objects; coarse-mask mean IoU {100 * meanIou:F1} at {manifest.Severity}) to [green]{Path.Combine(outDir, "manifest.json")}[/] in {watch.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return cmd;
    }

    static ToyWorldExportOptions ParseOptions(ParseResult parse)
    {
        Split split;
        try { split = Splits.Parse(parse.GetValue(SplitOption)!); }
        catch (ArgumentException e) { throw new ArgumentException($"--split: {CliCommon.PlainMessage(e)}"); }
        int count = parse.GetValue(Count);
        if (count < 1) throw new ArgumentException($"--count {count}: expected at least 1 scene");
        int size = parse.GetValue(Size);
        if (size < 16 || size > 4096) throw new ArgumentException($"--size {size}: expected 16..4096 pixels");
        double noise = parse.GetValue(PromptNoise);
        if (!(noise >= 0 && noise <= 10)) throw new ArgumentException($"--prompt-noise {noise}: expected a fraction in [0, 10]");
        int? first = parse.GetValue(FirstSeed);
        try { Splits.Seeds(split, first, count); }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException($"{(e.ParamName == "count" ? "--count" : "--first-seed")}: {CliCommon.PlainMessage(e)}");
        }
        return new ToyWorldExportOptions
        {
            Split = split,
            FirstSeed = first,
            Count = count,
            Scene = new ToyWorldOptions { Size = size },
            Severity = CliCommon.Severity(parse.GetValue(SeverityOption)!),
            PromptNoise = noise,
        };
    }
}
