using System.CommandLine;
using System.Globalization;
using GenSeg.Common;
using GenSeg.Evaluation;
using GenSeg.Imaging;
using GenSeg.Notebooks;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;
using static TorchSharp.torch;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg demo</c>: the kit's showcase, a sequence of small steps. Each stage of the kit appends its step: it renders
/// a ToyWorld contact sheet with coarse masks, prints the coarse masks' IoU statistics, and ends by running the
/// quickstart notebook, writing its executed copy and HTML report into the output folder.
/// </summary>
public static class DemoCommand
{
    static readonly Option<string> Out = new("--out") { Description = "Output folder", DefaultValueFactory = _ => "out/demo" };
    static readonly Option<int> Scenes = new("--scenes") { Description = "Scenes on the contact sheet", DefaultValueFactory = _ => 16 };
    static readonly Option<int> Objects = new("--objects") { Description = "Objects measured for the coarse-mask statistics", DefaultValueFactory = _ => 500 };
    static readonly Option<string> SeverityOption = new("--severity") { Description = "Coarse-mask severity: low, medium, high or a number in [0, 1]", DefaultValueFactory = _ => "medium" };

    public static Command Create()
    {
        var cmd = new Command("demo", "The kit's demonstration on the embedded model: a ToyWorld contact sheet, coarse-mask statistics, then the " +
            "quickstart notebook (G4Seg stage by stage) run headlessly into --out (executed .ipynb and HTML report)");
        cmd.Options.Add(Out);
        cmd.Options.Add(Scenes);
        cmd.Options.Add(Objects);
        cmd.Options.Add(SeverityOption);
        cmd.SetAction(async (parse, ct) =>
        {
            TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            var outDir = parse.GetValue(Out)!;
            int scenes = parse.GetValue(Scenes), objects = parse.GetValue(Objects);
            if (scenes < 1 || scenes > 256) throw new ArgumentException($"--scenes {scenes}: expected 1..256");
            if (objects < 1 || objects > 100_000) throw new ArgumentException($"--objects {objects}: expected 1..100000");
            var severity = ParseSeverity(parse.GetValue(SeverityOption)!);
            using (TorchThreads.Use(1)) // tiny 64x64 tensors
            {
                RenderContactSheet(outDir, scenes, severity);
                PrintCoarseMaskStatistics(objects, severity);
            }
            return await RunQuickstartAsync(outDir, ct);
        });
        return cmd;
    }

    internal static Severity ParseSeverity(string text)
    {
        try
        {
            return Severity.Parse(text);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--severity: {CliCommon.PlainMessage(e)}");
        }
    }

    /// <summary>The notebook the demo ends with, relative to the repository root.</summary>
    const string Quickstart = "notebooks/01-quickstart.ipynb";

    /// <summary>Runs the quickstart notebook through the runner into <paramref name="outDir"/> (its executed copy and
    /// HTML report); 1 when a cell fails.</summary>
    static async Task<int> RunQuickstartAsync(string outDir, CancellationToken ct)
    {
        var root = KitPaths.RepositoryRoot() ?? KitPaths.RepositoryRoot(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException($"{Quickstart}: no repository (a folder with {KitPaths.RootMarker}) above the current directory; run the demo from the clone");
        // The notebook resolves its paths from the repository root, so the process keeps its current directory (other
        // work in the process, e.g. parallel tests, may rely on it).
        var options = new RunOptions { WorkingDirectory = Environment.CurrentDirectory };
        var job = await NotebookCommand.RunOneAsync(Path.Combine(root, Quickstart), outDir, options, ct);
        return job.Result.Succeeded ? 0 : 1;
    }

    /// <summary>Writes toyworld-sheet.png: the first val scenes with their truths and coarse masks.</summary>
    static void RenderContactSheet(string outDir, int count, Severity severity)
    {
        var scenes = Splits.Seeds(Split.Val, null, count).Select(s => SceneGenerator.Generate(s)).ToList();
        var path = Path.Combine(outDir, "toyworld-sheet.png");
        var sheet = Preview.ContactSheet(scenes, coarse: (r, k) =>
        {
            using var scope = NewDisposeScope();
            var truth = scenes[r].InstanceTensor(k);
            using var coarse = CoarseMasks.Make(truth, severity, CoarseMasks.SeedFor(scenes[r].Seed, k));
            return (coarse.Probability.contiguous().data<float>().ToArray(), Masks.ToBytes(coarse.Binary));
        });
        sheet.Save(path);
        AnsiConsole.MarkupLineInterpolated($"ToyWorld contact sheet ({count} val scenes: image | truth | outlines | coarse masks at {severity}): [green]{path}[/]");
    }

    /// <summary>Prints mean, median and the strata shares of coarse-mask IoU over val objects.</summary>
    static void PrintCoarseMaskStatistics(int objects, Severity severity)
    {
        CoarseMaskSurveyResult result = null!;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("coarse masks", maxValue: objects);
                result = CoarseMaskSurvey.Run(Split.Val, objects, severity, progress: n => task.Value = n);
            });
        string pct(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture);
        var table = new Table().Title($"Coarse-mask IoU, {severity}, {result.Count} val objects");
        table.AddColumns("mean", "median", "min", "max", "<40", "40-80", ">=80");
        table.AddRow(pct(result.Mean), pct(result.Median), pct(result.Min), pct(result.Max),
            pct(result.Share(IouStratum.Below40)) + "%", pct(result.Share(IouStratum.From40To80)) + "%", pct(result.Share(IouStratum.From80)) + "%");
        AnsiConsole.Write(table);
    }
}
