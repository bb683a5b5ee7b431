using System.CommandLine;
using GenSeg.Evaluation;
using GenSeg.Features;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg eval paintseg</c>: PaintSeg (AMCP) from box, point, scribble or mask prompts on ToyWorld's objects or a
/// dataset's classes: the prompt's and the result's IoU with 95% intervals, per class, per step and by stratum; every
/// setting (the method's, the prompt's, the features' and the painter) a flag of <see cref="PaintSegEvaluationSettings"/>.
/// </summary>
public static class EvalPaintSegCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var cmd = new Command("paintseg", "PaintSeg (AMCP): IoU of the prompt's mask and of the result, per class, per step and by stratum");
        var common = new EvalOptions("test", 300, "objects", 0, PaintSegEvaluationSettings.Table.PresetNames);
        common.AddTo(cmd);
        var flags = new SettingFlags<PaintSegEvaluationOptions>(PaintSegEvaluationSettings.Table, PaintSegEvaluationSettings.Table.Defaults);
        flags.AddTo(cmd);
        var objectBatch = new Option<int>("--object-batch")
        {
            Description = "Objects segmented in lockstep, their paints in one batch (0 = auto: 4 for images up to 128 px, else 1); the same results up to float rounding",
            DefaultValueFactory = _ => 0,
        };
        objectBatch.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0) r.AddError($"--object-batch {r.GetValueOrDefault<int>()}: expected >= 1 objects painted in one batch, or 0 for auto");
        });
        cmd.Options.Add(objectBatch);
        cmd.SetAction(parse =>
        {
            var settings = common.Settings(parse, PaintSegEvaluationSettings.Table, flags);
            bool toy = common.OnToyWorld(parse);
            if (toy) settings = settings with { Split = common.ToyWorldSplit(parse), Count = common.CountOf(parse), FirstSeed = parse.GetValue(common.FirstSeed) };
            var rows = common.Rows(parse, PaintSegEvaluationSettings.Table, settings, "paintseg");
            using var threads = common.UseThreads(parse);
            // the model is loaded when it paints or when its own networks are E
            bool needsModel = rows.Any(r => r.Options.Painter == PainterChoice.Diffusion || FeatureExtractors.NeedsPipeline(r.Options.Features));
            using var pipeline = needsModel ? common.LoadModel(parse) : null;
            PaintSegTargets targets = toy
                ? CliCommon.Flag("--first-seed", () => new ToyWorldTargets(settings.Split, settings.FirstSeed, settings.Count, settings.Scene))
                : new DatasetTargets(common.Images(parse, 0), pipeline?.Vae.Config.SampleSize ?? 512, common.ExplicitCount(parse));
            using var log = common.OpenLog(parse);
            var started = DateTime.UtcNow;
            var result = CliProgress.Run($"paintseg {settings.Prompt.ToString().ToLowerInvariant()} on {targets.Dataset} {targets.Split}, images",
                report => PaintSegEvaluation.Run(targets, rows, pipeline, log, common.ShardOf(parse), report, objectBatch: parse.GetValue(objectBatch) is > 0 and var b ? b : null));
            ResultOutput.Print(result, (DateTime.UtcNow - started).TotalSeconds);
            ResultOutput.Write(result, parse.GetValue(common.Json));
            return 0;
        });
        return cmd;
    }
}
