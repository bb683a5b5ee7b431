using System.CommandLine;
using GenSeg.Evaluation;
using GenSeg.Methods;
using GenSeg.Methods.G4Seg;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg eval g4seg</c>: G4Seg's refinement of coarse masks on ToyWorld or a dataset: mIoU before and after with
/// 95% intervals, the gain by initial-IoU stratum, per class; every setting a flag of <see cref="G4SegSettings"/>.
/// </summary>
public static class EvalG4SegCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var cmd = new Command("g4seg", "G4Seg's refinement of coarse masks: mIoU before and after, the gain's 95% interval, per class and by initial-IoU stratum");
        var common = new EvalOptions("val", 50, "scenes", 1, G4SegSettings.Table.PresetNames);
        common.AddTo(cmd);
        var batch = new Option<int>("--batch") { Description = "Images per UNet batch (images of one size)", DefaultValueFactory = _ => 16 };
        var coarse = new Option<string>("--coarse") { Description = "Coarse masks: perturb (ToyWorld's generator) or attention (the cross-attention segmenter)", DefaultValueFactory = _ => "perturb" };
        var coarseDir = new Option<string?>("--coarse-dir") { Description = "Coarse masks from files, named after the images: DIR/ID/CLASS.png (probability maps: soft) or DIR/ID.png (label maps: hard, little for G4Seg to refine)" };
        var severity = new Option<string>("--severity") { Description = "Perturbation severity: low, medium, high or a number in [0, 1]", DefaultValueFactory = _ => "medium" };
        var compare = new Option<string?>("--compare") { Description = "crf: add DenseCRF and DenseCRF-then-G4Seg (G4Seg's Table 6)" };
        foreach (var o in new Option[] { batch, coarse, coarseDir, severity, compare }) cmd.Options.Add(o);
        var flags = new SettingFlags<G4SegOptions>(G4SegSettings.Table, G4SegSettings.Table.Defaults);
        var attentionFlags = new SettingFlags<CrossAttentionOptions>(CrossAttentionSettings.Table, CrossAttentionSettings.Table.Defaults, "attention-", "--coarse attention");
        flags.AddTo(cmd);
        attentionFlags.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var g4 = common.Settings(parse, G4SegSettings.Table, flags);
            var rows = common.Rows(parse, G4SegSettings.Table, g4, "g4seg");
            var source = parse.GetValue(coarseDir) is not null ? CoarseSource.Files : parse.GetValue(coarse)!.Trim().ToLowerInvariant() switch
            {
                "perturb" => CoarseSource.Perturb,
                "attention" => CoarseSource.Attention,
                var other => throw new ArgumentException($"--coarse {other}: expected perturb or attention (or --coarse-dir DIR)"),
            };
            bool compareCrf = parse.GetValue(compare) switch
            {
                null => false,
                var c when c.Trim().Equals("crf", StringComparison.OrdinalIgnoreCase) => true,
                var c => throw new ArgumentException($"--compare {c}: expected crf"),
            };
            if (parse.GetValue(batch) < 1) throw new ArgumentException($"--batch {parse.GetValue(batch)}: expected at least 1");
            var options = new G4SegEvaluationOptions
            {
                Dataset = common.Images(parse, common.CountOf(parse)),
                Source = source,
                Severity = CliCommon.Severity(parse.GetValue(severity)!),
                Attention = attentionFlags.Apply(parse, CrossAttentionSettings.Table.Defaults),
                CoarseFolder = parse.GetValue(coarseDir),
                Settings = rows,
                CompareCrf = compareCrf,
                ImagesPerBatch = parse.GetValue(batch),
                Shard = common.ShardOf(parse),
                Requested = common.OnToyWorld(parse) ? common.CountOf(parse) : common.ExplicitCount(parse),
            };
            using var threads = common.UseThreads(parse);
            using var pipeline = common.LoadModel(parse);
            using var log = common.OpenLog(parse);
            var started = DateTime.UtcNow;
            var result = CliProgress.Run($"g4seg on {options.Dataset.Spec} {options.Dataset.Split}, images", report => G4SegEvaluation.Run(pipeline, options, log, report));
            ResultOutput.Print(result, (DateTime.UtcNow - started).TotalSeconds);
            ResultOutput.Write(result, parse.GetValue(common.Json));
            return 0;
        });
        return cmd;
    }
}
