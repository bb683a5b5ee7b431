using System.CommandLine;
using System.Globalization;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Methods.DenseCrf;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg eval paintseg</c> and <c>genseg eval crf</c>: PaintSeg and DenseCRF as refiners on ToyWorld objects, with
/// bootstrap intervals, per-class and per-step IoU, one-setting sweeps and JSON output.
/// </summary>
public static class EvalPaintSegCommand
{
    /// <summary>The <c>paintseg</c> and <c>crf</c> subcommands of <c>genseg eval</c>.</summary>
    public static IEnumerable<Command> Subcommands()
    {
        yield return PaintSeg();
        yield return Crf();
    }

    static Option<string> SplitOption() => new("--split") { Description = "val (tuning) or test (reporting)", DefaultValueFactory = _ => "test" };
    static Option<int> CountOption() => new("--count") { Description = "Number of objects", DefaultValueFactory = _ => 300 };
    static Option<int?> FirstSeedOption() => new("--first-seed") { Description = "First scene seed (absolute; default: the split's first)" };
    static Option<string?> JsonOption() => new("--json") { Description = "Write the results as JSON to this file" };
    static Option<int> ThreadsOption() => new("--threads") { Description = "Torch intra-op threads (0 = default)", DefaultValueFactory = _ => 0 };

    static Command PaintSeg()
    {
        var split = SplitOption();
        var count = CountOption();
        count.Description = "Number of objects (with --dataset KIND:DIR: the split's first N images; default all)";
        var first = FirstSeedOption();
        var json = JsonOption();
        var threads = ThreadsOption();
        var prompt = new Option<string>("--prompt") { Description = "Prompt type: box, mask, scribble or point", DefaultValueFactory = _ => "box" };
        var model = new Option<string>("--model") { Description = "Model folder with an inpainting UNet", DefaultValueFactory = _ => KitPaths.EmbeddedModel };
        var painter = new Option<string>("--painter") { Description = "diffusion (the model's inpainting UNet) or oracle (ToyWorld's exact renders: the ideal painter)", DefaultValueFactory = _ => "diffusion" };
        var features = new Option<string>("--features") { Description = "E of Eq. 1: colour (pixel RGB), local-colour:W (mean RGB over W x W pixels, W odd: a texture's phase left out), vae (the model's VAE encoder: posterior mean) or dift (the model's UNet up-block features, DIFT)", DefaultValueFactory = _ => "colour" };
        var sweep = new Option<string?>("--sweep") { Description = "Run once per value of one setting: key=v1,v2,... (e.g. k=2,3,4; box-rate=0.9,1.0,1.1,1.2; modules=i,o,io,io+adv; prompt-noise=0,0.15,0.3)" };
        var preset = new Option<string>("--preset") { Description = "Starting settings: paper (the paper's defaults) or toyworld (tuned on ToyWorld val: K = 2 from the first step); flags override", DefaultValueFactory = _ => "paper" };
        var settingOptions = PaintSegEvaluationSettings.All.Where(s => s.Name != "prompt-noise")
            .Select(s => (Setting: s, Option: new Option<string?>("--" + s.Name) { Description = $"{s.Description} [default: {s.Format(new PaintSegEvalSettings())}]" }))
            .ToList();
        var noise = new Option<string?>("--prompt-noise") { Description = PaintSegEvaluationSettings.Find("prompt-noise").Description + " [default: 0]" };

        var cmd = new Command("paintseg", "PaintSeg (AMCP) on ToyWorld objects: IoU of the prompt's mask and of the result, per class and per step");
        foreach (var o in new Option[] { split, count, first, prompt, noise, model, painter, features, sweep, preset, json, threads }) cmd.Options.Add(o);
        foreach (var (_, o) in settingOptions) cmd.Options.Add(o);
        var data = EvalDatasetCommand.Options.Create(coarse: false);
        data.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            bool onDataset = data.Selected(parse);
            PaintSegOptions start;
            try { start = PaintSegOptions.Preset(parse.GetValue(preset)!); }
            catch (ArgumentException e) { throw new ArgumentException($"--preset: {CliCommon.PlainMessage(e)}"); }
            var settings = new PaintSegEvalSettings
            {
                Options = start,
                Split = onDataset ? Split.Test : ParseSplit(parse.GetValue(split)!),
                Count = Positive("--count", parse.GetValue(count)),
                FirstSeed = parse.GetValue(first),
                Prompt = ParsePrompt(parse.GetValue(prompt)!),
            };
            if (parse.GetValue(noise) is { } nz) settings = Apply(settings, "prompt-noise", nz);
            foreach (var (s, o) in settingOptions)
                if (parse.GetValue(o) is { } v) settings = Apply(settings, s.Name, v);
            if (!onDataset) CheckSeeds(settings.Split, settings.FirstSeed);
            var (sweepKey, sweepValues) = parse.GetValue(sweep) is { } sw ? ParseSweep(sw) : (null, null);
            if (onDataset && sweepKey is not null)
                throw new ArgumentException("--sweep runs on ToyWorld; on a dataset run once per value, each with its own --results file");
            // validate every swept value before any long run
            if (sweepKey is not null) foreach (var v in sweepValues!) Apply(settings, sweepKey, v);

            using var th = parse.GetValue(threads) is > 0 and var t ? TorchThreads.Use(t) : null;
            var featureName = parse.GetValue(features)!.Trim().ToLowerInvariant();
            var painterName = parse.GetValue(painter)!.Trim().ToLowerInvariant();
            // the model is loaded when it paints or when its own networks are E
            StableDiffusionPipeline? pipeline = painterName == "diffusion" || featureName is "vae" or "dift"
                ? StableDiffusionPipeline.Load(parse.GetValue(model)!, device, CliCommon.DTypeOf(parse))
                : null;
            using var owned = pipeline;
            IFeatureExtractor extractor = featureName switch
            {
                "colour" or "color" or "rgb" => new ColourPositionFeatures(1.0, 0.0),
                "vae" => new VaeEncoderFeatures(pipeline!),
                "dift" => new DiffusionFeatures(pipeline!),
                var f when f.StartsWith("local-colour:", StringComparison.Ordinal) && int.TryParse(f["local-colour:".Length..], out int w) => new LocalColourFeatures(w),
                var f => throw new ArgumentException($"--features '{f}': expected colour, local-colour:W (mean colour over W x W pixels, W odd), vae (the model's VAE encoder) or dift (the model's UNet features)"),
            };
            using var ownedExtractor = extractor as IDisposable;
            // the painter of each run: one diffusion painter per settings, or an oracle per object
            Func<PaintSegEvalSettings, Func<Scene, int, IPainter>> painters;
            switch (painterName)
            {
                case "diffusion":
                    if (pipeline!.InpaintUnet is null)
                    {
                        throw new ArgumentException($"--model {parse.GetValue(model)}: no inpainting UNet ({StableDiffusionPipeline.InpaintFolder}/ or a 9-channel unet); PaintSeg paints with one");
                    }
                    painters = s =>
                    {
                        var shared = new Painter(pipeline, s.Options);
                        return (_, _) => shared;
                    };
                    break;
                case "oracle" when onDataset:
                    throw new ArgumentException($"--painter oracle paints with ToyWorld's exact renders and runs on ToyWorld only; --dataset {parse.GetValue(data.Dataset)} paints with diffusion");
                case "oracle":
                    painters = s => (scene, k) => new ToyWorldOraclePainter(scene, k, s.Scene);
                    break;
                case var name:
                    throw new ArgumentException($"--painter '{name}': expected diffusion or oracle");
            }
            if (onDataset)
            {
                int? limit = parse.GetResult(count) is { Implicit: false } ? settings.Count : null;
                return EvalDatasetCommand.RunPaintSeg(parse, data, settings, parse.GetValue(split)!, limit, pipeline!.Vae.Config.SampleSize,
                    new Painter(pipeline, settings.Options), extractor, parse.GetValue(json));
            }

            if (sweepKey is not null && parse.GetValue(data.Results) is not null)
                throw new ArgumentException("--sweep with --results: a results file holds one run; run once per value, each with its own --results file");
            if (sweepKey is null)
            {
                var shard = data.ShardOf(parse);
                using var log = data.Log(parse);
                var result = WithProgress($"paintseg {settings.Prompt.ToString().ToLowerInvariant()}", settings.Count,
                    report => PaintSegEvaluation.Run(settings, painters(settings), extractor, report, log, shard));
                PrintPaintSeg(result);
                if (parse.GetValue(json) is { } path) PaintSegEvaluation.WriteJson(result.ToJson(), path);
            }
            else
            {
                var values = sweepValues!;
                foreach (var v in values) Apply(settings, sweepKey, v); // every value checked before the first run
                var order = values.ToList();
                var runs = WithProgress($"sweep {sweepKey} ({values.Count} values)", settings.Count * values.Count,
                    report => PaintSegEvaluation.Sweep(settings, sweepKey, values, painters, extractor,
                        (v, done, total) => report(order.IndexOf(v) * total + done, total * values.Count)));
                PrintSweep(sweepKey, runs);
                if (parse.GetValue(json) is { } path) PaintSegEvaluation.WriteJson(PaintSegEvaluation.SweepJson(sweepKey, runs), path);
            }
            return 0;
        });
        return cmd;
    }

    static Command Crf()
    {
        var split = SplitOption();
        var count = CountOption();
        var first = FirstSeedOption();
        var json = JsonOption();
        var threads = ThreadsOption();
        var severity = new Option<string>("--severity") { Description = "Coarse-mask severity: low, medium, high or a number in [0, 1]", DefaultValueFactory = _ => "medium" };
        var p = DenseCrfOptions.PaintSeg;
        var gSxy = new Option<float>("--gaussian-sxy") { Description = "Gaussian kernel's spatial sigma (px at 512 unless --no-scale)", DefaultValueFactory = _ => p.GaussianSxy };
        var gW = new Option<float>("--gaussian-compat") { Description = "Gaussian kernel's weight", DefaultValueFactory = _ => p.GaussianCompat };
        var bSxy = new Option<float>("--bilateral-sxy") { Description = "Bilateral kernel's spatial sigma (px at 512 unless --no-scale)", DefaultValueFactory = _ => p.BilateralSxy };
        var bRgb = new Option<float>("--bilateral-srgb") { Description = "Bilateral kernel's colour sigma (0..255)", DefaultValueFactory = _ => p.BilateralSrgb };
        var bW = new Option<float>("--bilateral-compat") { Description = "Bilateral kernel's weight", DefaultValueFactory = _ => p.BilateralCompat };
        var iterations = new Option<int>("--iterations") { Description = "Mean-field iterations", DefaultValueFactory = _ => p.Iterations };
        var noScale = new Option<bool>("--no-scale") { Description = "Take the spatial sigmas as pixels of the 64 px image (default: pixels at 512, scaled)" };

        var cmd = new Command("crf", "DenseCRF alone as a refiner of ToyWorld coarse masks (the PaintSeg authors' parameters by default)");
        foreach (var o in new Option[] { split, count, first, severity, gSxy, gW, bSxy, bRgb, bW, iterations, noScale, json, threads }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            var settings = new CrfEvalSettings
            {
                Split = ParseSplit(parse.GetValue(split)!),
                Count = Positive("--count", parse.GetValue(count)),
                FirstSeed = parse.GetValue(first),
                Severity = DemoCommand.ParseSeverity(parse.GetValue(severity)!),
                ScaleToImage = !parse.GetValue(noScale),
                Crf = new DenseCrfOptions
                {
                    GaussianSxy = parse.GetValue(gSxy),
                    GaussianCompat = parse.GetValue(gW),
                    BilateralSxy = parse.GetValue(bSxy),
                    BilateralSrgb = parse.GetValue(bRgb),
                    BilateralCompat = parse.GetValue(bW),
                    Iterations = parse.GetValue(iterations),
                },
            };
            settings.Crf.Validate();
            CheckSeeds(settings.Split, settings.FirstSeed);
            using var th = TorchThreads.Use(parse.GetValue(threads) is > 0 and var t ? t : 1);
            var result = WithProgress("densecrf", settings.Count, report => CrfEvaluation.Run(settings, report));
            var u = result.Used;
            AnsiConsole.MarkupLineInterpolated(
                $"DenseCRF on {result.Summary.Count} {settings.Split.ToString().ToLowerInvariant()} objects, coarse masks at {settings.Severity}; Gaussian {u.GaussianSxy:G3} px x {u.GaussianCompat:G3}, bilateral {u.BilateralSxy:G3} px / {u.BilateralSrgb:G3} x {u.BilateralCompat:G3}, {u.Iterations} iterations");
            PrintSummary(result.Summary, "coarse mask", "DenseCRF");
            if (parse.GetValue(json) is { } path) PaintSegEvaluation.WriteJson(result.ToJson(), path);
            return 0;
        });
        return cmd;
    }

    static T WithProgress<T>(string label, int total, Func<Action<int, int>, T> run)
    {
        T result = default!;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: total);
                result = run((done, _) => task.Value = done);
            });
        return result;
    }

    static string Pct(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture);

    static void PrintSummary(RefinementSummary s, string beforeName, string afterName)
    {
        var table = new Table().AddColumns("", "mean IoU", "95% CI");
        table.AddRow(beforeName, Pct(s.IouBefore.Estimate), $"[[{Pct(s.IouBefore.Lower)}, {Pct(s.IouBefore.Upper)}]]");
        table.AddRow(afterName, Pct(s.IouAfter.Estimate), $"[[{Pct(s.IouAfter.Lower)}, {Pct(s.IouAfter.Upper)}]]");
        table.AddRow("gain", (s.Gain.Estimate >= 0 ? "+" : "") + Pct(s.Gain.Estimate), $"[[{Pct(s.Gain.Lower)}, {Pct(s.Gain.Upper)}]]");
        AnsiConsole.Write(table);
        var classes = new Table().AddColumns("class", "objects", beforeName, afterName, "gain");
        foreach (var (name, c) in s.PerClass)
            classes.AddRow(name, c.Count.ToString(CultureInfo.InvariantCulture), Pct(c.IouBefore), Pct(c.IouAfter), Pct(c.IouAfter - c.IouBefore));
        AnsiConsole.Write(classes);
    }

    static void PrintPaintSeg(PaintSegEvalResult r)
    {
        AnsiConsole.MarkupLineInterpolated(
            $"PaintSeg on {r.Summary.Count} {r.Settings.Split.ToString().ToLowerInvariant()} objects, {r.Settings.Prompt.ToString().ToLowerInvariant()} prompts (noise {r.Settings.PromptNoise:G3}); painter {r.Painter}, features {r.Features}; {r.SecondsPerObject:F2} s per object");
        PrintSummary(r.Summary, "prompt mask", "PaintSeg");
        AnsiConsole.MarkupLineInterpolated($"IoU after each step: {string.Join("  ", r.PerStep.Select((v, i) => $"{i + 1}{(r.Settings.Options.KindAt(i) == StepKind.Inpaint ? "I" : "O")} {Pct(v)}"))}");
    }

    static void PrintSweep(string key, IReadOnlyList<PaintSegSweepRun> runs)
    {
        var table = new Table().AddColumns(key, "prompt mask", "PaintSeg", "gain", "gain 95% CI", "s/object");
        foreach (var r in runs)
        {
            var s = r.Result.Summary;
            table.AddRow(r.Value, Pct(s.IouBefore.Estimate), Pct(s.IouAfter.Estimate), (s.Gain.Estimate >= 0 ? "+" : "") + Pct(s.Gain.Estimate),
                $"[[{Pct(s.Gain.Lower)}, {Pct(s.Gain.Upper)}]]", r.Result.SecondsPerObject.ToString("F2", CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        foreach (var r in runs)
            AnsiConsole.MarkupLineInterpolated($"{key}={r.Value}: IoU after each step {string.Join(" ", r.Result.PerStep.Select(Pct))}");
    }

    static PaintSegEvalSettings Apply(PaintSegEvalSettings settings, string key, string value)
    {
        try { return PaintSegEvaluationSettings.Apply(settings, key, value); }
        catch (ArgumentException e) { throw new ArgumentException($"--{key}: {CliCommon.PlainMessage(e)}"); }
    }

    static (string Key, IReadOnlyList<string> Values) ParseSweep(string text)
    {
        try { return PaintSegEvaluationSettings.ParseSweep(text); }
        catch (ArgumentException e) { throw new ArgumentException($"--sweep: {CliCommon.PlainMessage(e)}"); }
    }

    static Split ParseSplit(string text)
    {
        try { return Splits.Parse(text); }
        catch (ArgumentException e) { throw new ArgumentException($"--split: {CliCommon.PlainMessage(e)}"); }
    }

    static PromptKind ParsePrompt(string text) => text.Trim().ToLowerInvariant() switch
    {
        "box" => PromptKind.Box,
        "mask" => PromptKind.Mask,
        "scribble" => PromptKind.Scribble,
        "point" => PromptKind.Point,
        _ => throw new ArgumentException($"--prompt '{text}': expected box, mask, scribble or point"),
    };

    static int Positive(string name, int value) => value >= 1 ? value : throw new ArgumentException($"{name} {value}: expected at least 1");

    static void CheckSeeds(Split split, int? first)
    {
        try { Splits.Seeds(split, first, 1); }
        catch (ArgumentOutOfRangeException e) { throw new ArgumentException($"--first-seed: {CliCommon.PlainMessage(e)}"); }
    }
}
