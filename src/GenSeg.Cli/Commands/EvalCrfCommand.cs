using System.CommandLine;
using GenSeg.Evaluation;

namespace GenSeg.Cli.Commands;

/// <summary><c>genseg eval crf</c>: DenseCRF alone as a refiner of ToyWorld's coarse masks; every setting a flag of <see cref="CrfEvaluationSettings"/>.</summary>
public static class EvalCrfCommand
{
    /// <summary>The command.</summary>
    public static Command Create()
    {
        var cmd = new Command("crf", "DenseCRF alone as a refiner of ToyWorld coarse masks (the PaintSeg authors' parameters by default)");
        var split = new Option<string>("--split") { Description = "val (tuning) or test (reporting)", DefaultValueFactory = _ => "test" };
        var count = new Option<int>("--count") { Description = "Number of objects", DefaultValueFactory = _ => 300 };
        var first = new Option<int?>("--first-seed") { Description = "First scene seed (absolute; default: the split's first)" };
        var json = new Option<string?>("--json") { Description = "Write the result as JSON to this file (atomically)" };
        var preset = new Option<string>("--preset") { Description = $"Starting settings: {string.Join(" or ", CrfEvaluationSettings.Table.PresetNames)}; flags override", DefaultValueFactory = _ => CrfEvaluationSettings.Table.PresetNames[0] };
        foreach (var o in new Option[] { split, count, first, json, preset }) cmd.Options.Add(o);
        var flags = new SettingFlags<CrfEvaluationOptions>(CrfEvaluationSettings.Table, CrfEvaluationSettings.Table.Defaults);
        flags.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var settings = flags.Apply(parse, CliCommon.Flag("--preset", () => CrfEvaluationSettings.Table.Preset(parse.GetValue(preset)!))) with
            {
                Split = CliCommon.Flag("--split", () => ToyWorld.Splits.Parse(parse.GetValue(split)!)),
                Count = parse.GetValue(count) >= 1 ? parse.GetValue(count) : throw new ArgumentException($"--count {parse.GetValue(count)}: expected at least 1"),
                FirstSeed = parse.GetValue(first),
            };
            Runtime.TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            using var threads = TorchThreads.Use(1); // tiny 64x64 tensors
            var result = CliProgress.Run("densecrf", report => CrfEvaluation.Run(settings, report));
            ResultOutput.Print(result);
            ResultOutput.Write(result, parse.GetValue(json));
            return 0;
        });
        return cmd;
    }
}
