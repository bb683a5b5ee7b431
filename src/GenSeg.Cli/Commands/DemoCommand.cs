using System.CommandLine;
using System.Globalization;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Methods.G4Seg;
using GenSeg.Evaluation;
using GenSeg.Imaging;
using GenSeg.Notebooks;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;
using static TorchSharp.torch;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg demo</c>: the kit's showcase, a sequence of small steps: it renders a ToyWorld contact sheet with coarse
/// masks, prints the coarse masks' IoU statistics, runs the quickstart notebook (its executed copy and HTML report go
/// into the output folder), and ends with the main job: G4Seg and PaintSeg (toyworld preset) on a few ToyWorld test
/// scenes, their IoU before and after printed and written as result JSONs.
/// </summary>
public static class DemoCommand
{
    static readonly Option<string> Out = new("--out") { Description = "Output folder", DefaultValueFactory = _ => "out/demo" };
    static readonly Option<int> Scenes = new("--scenes") { Description = "Scenes on the contact sheet", DefaultValueFactory = _ => 16 };
    static readonly Option<int> Objects = new("--objects") { Description = "Objects measured for the coarse-mask statistics", DefaultValueFactory = _ => 500 };
    static readonly Option<string> SeverityOption = new("--severity") { Description = "Coarse-mask severity: low, medium, high or a number in [0, 1]", DefaultValueFactory = _ => "medium" };
    static readonly Option<int> G4SegScenes = new("--g4seg-scenes") { Description = "Test scenes G4Seg refines at the end", DefaultValueFactory = _ => 24 };
    static readonly Option<int> PaintSegObjects = new("--paintseg-objects") { Description = "Test objects PaintSeg segments at the end (box prompts, toyworld preset: 5 Euler iterations per paint)", DefaultValueFactory = _ => 3 };
    static readonly Option<bool> SkipNotebook = new("--skip-notebook") { Description = "Leave out the quickstart notebook" };

    public static Command Create()
    {
        var cmd = new Command("demo", "The kit's demonstration on the embedded model: a ToyWorld contact sheet, coarse-mask statistics, then the " +
            "quickstart notebook (G4Seg stage by stage) run headlessly into --out (executed .ipynb and HTML report)");
        cmd.Options.Add(Out);
        cmd.Options.Add(Scenes);
        cmd.Options.Add(Objects);
        cmd.Options.Add(SeverityOption);
        cmd.Options.Add(G4SegScenes);
        cmd.Options.Add(PaintSegObjects);
        cmd.Options.Add(SkipNotebook);
        cmd.SetAction(async (parse, ct) =>
        {
            TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            var outDir = parse.GetValue(Out)!;
            int scenes = parse.GetValue(Scenes), objects = parse.GetValue(Objects);
            if (scenes < 1 || scenes > 256) throw new ArgumentException($"--scenes {scenes}: expected 1..256");
            if (objects < 1 || objects > 100_000) throw new ArgumentException($"--objects {objects}: expected 1..100000");
            int g4Scenes = parse.GetValue(G4SegScenes), paintObjects = parse.GetValue(PaintSegObjects);
            if (g4Scenes < 1 || paintObjects < 1) throw new ArgumentException($"--g4seg-scenes {g4Scenes}, --paintseg-objects {paintObjects}: expected at least 1 each");
            var severity = CliCommon.Severity(parse.GetValue(SeverityOption)!);
            using (TorchThreads.Use(1)) // tiny 64x64 tensors
            {
                RenderContactSheet(outDir, scenes, severity);
                PrintCoarseMaskStatistics(objects, severity);
            }
            var root = KitPaths.RepositoryRoot() ?? KitPaths.RepositoryRoot(AppContext.BaseDirectory)
                ?? throw new InvalidOperationException($"no repository (a folder with {KitPaths.RootMarker}) above the current directory; run the demo from the clone");
            if (!parse.GetValue(SkipNotebook) && await RunQuickstartAsync(root, outDir, ct) != 0) return 1;
            RunBothMethods(Path.Combine(root, KitPaths.EmbeddedModel), outDir, g4Scenes, paintObjects);
            return 0;
        });
        return cmd;
    }

    /// <summary>The notebook the demo runs, relative to the repository root.</summary>
    const string Quickstart = "notebooks/01-quickstart.ipynb";

    /// <summary>Runs the quickstart notebook through the runner into <paramref name="outDir"/> (its executed copy and
    /// HTML report); 1 when a cell fails.</summary>
    static async Task<int> RunQuickstartAsync(string root, string outDir, CancellationToken ct)
    {
        // The notebook resolves its paths from the repository root, so the process keeps its current directory (other
        // work in the process, e.g. parallel tests, may rely on it).
        var options = new RunOptions { WorkingDirectory = Environment.CurrentDirectory };
        var job = await CliProgress.RunNotebookAsync(Path.Combine(root, Quickstart), outDir, options, ct);
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
        var result = CliProgress.Run("coarse masks", report => CoarseMaskSurvey.Run(Split.Val, objects, severity, progress: n => report(n, objects)));
        string pct(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture);
        var table = new Table().Title($"Coarse-mask IoU, {severity}, {result.Count} val objects");
        table.AddColumns("mean", "median", "min", "max", "<40", "40-80", ">=80");
        table.AddRow(pct(result.Mean), pct(result.Median), pct(result.Min), pct(result.Max),
            pct(result.Share(IouStratum.Below40)) + "%", pct(result.Share(IouStratum.From40To80)) + "%", pct(result.Share(IouStratum.From80)) + "%");
        AnsiConsole.Write(table);
    }

    /// <summary>
    /// The main job on the embedded model: G4Seg (toyworld preset, perturbed coarse masks) on the first test scenes and
    /// PaintSeg (toyworld preset, box prompts) on the first test objects; prints both results
    /// and writes them as g4seg.json and paintseg.json.
    /// </summary>
    static void RunBothMethods(string model, string outDir, int scenes, int objects)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var pipeline = StableDiffusionPipeline.Load(model);
        var g4 = CliProgress.Run("g4seg, scenes", report => G4SegEvaluation.Run(pipeline, new G4SegEvaluationOptions
        {
            Dataset = new ToyWorldDataset(Split.Test, null, scenes),
            Settings = new[] { ("g4seg", G4SegSettings.Table.Preset("toyworld")) },
            Requested = scenes,
        }, progress: report));
        var paintSettings = PaintSegEvaluationSettings.Table.Preset("toyworld") with { Split = Split.Test, Count = objects };
        var paint = CliProgress.Run("paintseg, scenes", report => PaintSegEvaluation.Run(new ToyWorldTargets(Split.Test, null, objects), new[] { ("paintseg", paintSettings) },
            pipeline, progress: report));
        var table = new Table().Title($"The main job on the embedded model ({watch.Elapsed.TotalSeconds:F0} s; IoU points, 95% intervals)")
            .AddColumns("method", "on", "before", "after", "gain");
        table.AddRow("G4Seg, toyworld preset", $"{g4.Images} test scenes ({g4.Targets} image-classes), perturbed coarse masks, mIoU",
            Markup.Escape(g4.Main.Before.ToString()), Markup.Escape(g4.Main.After.ToString()), Markup.Escape(g4.Main.Gain.ToString()));
        table.AddRow("PaintSeg, toyworld preset", $"{paint.Targets} test objects, box prompts, mean IoU",
            Markup.Escape(paint.Main.Before.ToString()), Markup.Escape(paint.Main.After.ToString()), Markup.Escape(paint.Main.Gain.ToString()));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]a handful of scenes: the intervals are wide; docs/results holds 300-500-target runs of the same commands[/]");
        foreach (var (result, name) in new[] { (g4, "g4seg.json"), (paint, "paintseg.json") })
        {
            var path = Path.Combine(outDir, name);
            result.Write(path);
            AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/] (its \"command\" reruns it)");
        }
    }
}
