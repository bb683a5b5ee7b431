using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Bench;
using GenSeg.Evaluation;
using GenSeg.Methods.PaintSeg;
using GenSeg.Methods.Crf;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;
using TorchSharp;
using GenSeg.Notebooks;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg bench</c>: the kit's speed figures on this machine, each next to its target. Speed targets live here,
/// not in timed tests. Benchmarks are registered in <see cref="Benchmarks"/>; <c>--only</c> picks some.
/// </summary>
public static class BenchCommand
{
    static readonly Option<string[]> Only = new("--only") { Description = "Run only these benchmarks (toyworld, unet, densecrf, g4seg, paintseg)", AllowMultipleArgumentsPerToken = true };
    static readonly Option<int> Threads = new("--threads") { Description = "Torch threads (0 = default)", DefaultValueFactory = _ => 0 };
    static readonly Option<int> Workers = new("--workers") { Description = "G4Seg: groups of images refined side by side, one torch thread each (0 = the refiner's default, the core count)", DefaultValueFactory = _ => 0 };
    static readonly Option<string?> Json = new("--json") { Description = "Also write the figures as JSON" };
    static readonly Option<string?> Model = new("--model") { Description = "Model folder for the method benchmarks (default data/models/toyworld-sd)" };

    /// <summary>One benchmark: a name and a function returning named figures with their targets.</summary>
    public sealed record Benchmark(string Name, string What, Func<BenchContext, IReadOnlyList<Figure>> Run);

    /// <summary>A measured figure: value, unit, and the target it is held against (null: reported only).</summary>
    public sealed record Figure(string Name, double Value, string Unit, string? Target, bool? Met);

    /// <summary>What a benchmark may use.</summary>
    public sealed record BenchContext(torch.Device Device, string ModelFolder, int? Workers = null, torch.ScalarType DType = torch.ScalarType.Float32);

    /// <summary>Every benchmark, in the order they run.</summary>
    public static IReadOnlyList<Benchmark> Benchmarks { get; } = new List<Benchmark>
    {
        new("toyworld", "ToyWorld 64x64 scenes per second (one thread of C#)", _ =>
        {
            var sw = Stopwatch.StartNew();
            int n = 0;
            while (sw.ElapsedMilliseconds < 2000) SceneGenerator.Generate(n++);
            double perSecond = n / sw.Elapsed.TotalSeconds;
            return new[] { new Figure("scenes per second", perSecond, "1/s", "200 scenes in < 10 s", 200 / perSecond < 10) };
        }),
        new("unet", "UNet forward at SD 2.1 widths (latent 32x32, 320/640/1280/1280, batch 1) vs matmul 2048^2", ctx =>
        {
            var r = UNetBenchmark.Run(new UNetBenchmarkOptions { Device = ctx.Device });
            return new[]
            {
                new Figure("UNet forward", r.UNetSeconds, "s", null, null),
                new Figure("UNet throughput", r.UNetGflops, "GFLOP/s", null, null),
                new Figure("matmul throughput", r.MatmulGflops, "GFLOP/s", null, null),
                new Figure("UNet / matmul", r.Ratio, "ratio", ">= 0.50", r.Ratio >= 0.5),
            };
        }),
        new("densecrf", "DenseCRF mean field, 512x512, 10 iterations", _ =>
        {
            double ms21 = DenseCrfBenchmark.Run(512, 21, 10);
            double ms2 = DenseCrfBenchmark.Run(512, 2, 10);
            return new[]
            {
                new Figure("21 labels", ms21, "ms", "< 500 ms", ms21 < 500),
                new Figure("2 labels", ms2, "ms", null, null),
            };
        }),
        new("paintseg", "PaintSeg seconds per object: T = 5, N = 5, 20 painting iterations, box prompts, 64 px", ctx =>
        {
            // painting speed does not depend on the weights: without a trained inpainting model, time random ones
            string? temp = null;
            string folder = ctx.ModelFolder;
            bool trained = File.Exists(Path.Combine(folder, StableDiffusionPipeline.InpaintFolder, "config.json"));
            if (!trained)
            {
                temp = Directory.CreateTempSubdirectory("genseg-bench-paintseg").FullName;
                folder = PaintSegBenchmark.WriteRandomEmbedded(temp);
            }
            try
            {
                using var pipeline = StableDiffusionPipeline.Load(folder, ctx.Device, ctx.DType);
                var r = PaintSegBenchmark.Run(pipeline);
                return new[] { new Figure(trained ? "per object" : "per object (random weights)", r.SecondsPerObject, "s", "< 5 s", r.SecondsPerObject < 5) };
            }
            finally
            {
                if (temp is not null) Directory.Delete(temp, recursive: true);
            }
        }),
        new("g4seg", "G4Seg refinement with the embedded model: image-classes per second and time share per stage", ctx =>
        {
            using var pipeline = StableDiffusionPipeline.Load(ctx.ModelFolder, ctx.Device, ctx.DType);
            var r = G4SegBenchmark.Run(pipeline, new G4SegBenchmarkOptions { Workers = ctx.Workers });
            var figures = new List<Figure>
            {
                new("image-classes per second", r.ImageClassesPerSecond, "1/s", ">= 50", r.ImageClassesPerSecond >= 50),
                new("workers (one torch thread each)", r.Workers, "", null, null),
            };
            figures.AddRange(r.StageShares.Select(kv => new Figure($"share: {kv.Key}", kv.Value * 100, "%", null, null)));
            return figures;
        }),
    };

    public static Command Create()
    {
        var cmd = new Command("bench", "Measure the kit's speed figures on this machine against their targets");
        cmd.Options.Add(Only);
        cmd.Options.Add(Threads);
        cmd.Options.Add(Workers);
        cmd.Options.Add(Json);
        cmd.Options.Add(Model);
        cmd.SetAction(parse =>
        {
            var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            if (parse.GetValue(Threads) is > 0 and var t) torch.set_num_threads(t);
            var only = parse.GetValue(Only) ?? Array.Empty<string>();
            var unknown = only.Where(o => Benchmarks.All(b => b.Name != o)).ToList();
            if (unknown.Count > 0)
                throw new ArgumentException($"--only {string.Join(",", unknown)}: unknown; benchmarks are {string.Join(", ", Benchmarks.Select(b => b.Name))}");
            int workers = parse.GetValue(Workers);
            if (workers < 0) throw new ArgumentException($"--workers {workers}: expected 0 (default) or more");
            var ctx = new BenchContext(device, parse.GetValue(Model) ?? NotebookPaths.EmbeddedModel, workers > 0 ? workers : null, CliCommon.DTypeOf(parse));
            var table = new Table().AddColumns("benchmark", "figure", "value", "target", "met");
            var results = new Dictionary<string, object>();
            foreach (var b in Benchmarks.Where(b => only.Length == 0 || only.Contains(b.Name)))
            {
                IReadOnlyList<Figure> figures = Array.Empty<Figure>();
                AnsiConsole.Status().Start($"{b.Name}: {b.What}", _ => figures = b.Run(ctx));
                foreach (var f in figures)
                    table.AddRow(b.Name, f.Name, string.Create(CultureInfo.InvariantCulture, $"{f.Value:G4} {f.Unit}"), f.Target ?? "-",
                        f.Met is null ? "-" : f.Met.Value ? "[green]yes[/]" : "[red]no[/]");
                results[b.Name] = figures;
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"[grey]{TorchRuntime.Describe()}; {Environment.ProcessorCount} cores[/]");
            if (parse.GetValue(Json) is { } path)
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return cmd;
    }
}
