using System.Diagnostics;
using GenSeg.Diffusion;
using GenSeg.ToyWorld;
using TorchSharp;

namespace GenSeg.Benchmarks;

/// <summary>One benchmark of <c>genseg bench</c>: a name and a function returning named figures with their targets;
/// <paramref name="ByDefault"/> false for those run only when named (slow ones).</summary>
public sealed record Benchmark(string Name, string What, Func<BenchContext, IReadOnlyList<BenchFigure>> Run, bool ByDefault = true);

/// <summary>A measured figure: value, unit, and the target it is held against (null: reported only).</summary>
public sealed record BenchFigure(string Name, double Value, string Unit, string? Target, bool? Met);

/// <summary>What a benchmark may use.</summary>
public sealed record BenchContext(torch.Device Device, string ModelFolder, int? Workers = null, torch.ScalarType DType = torch.ScalarType.Float32)
{
    /// <summary>Told the name of each stage of a long benchmark as it starts.</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>The painting sampler a benchmark costs PaintSeg with (null: the toyworld preset's).</summary>
    public string? Scheduler { get; init; }

    /// <summary>The painting iterations a benchmark costs PaintSeg with (null: the toyworld preset's).</summary>
    public int? Iterations { get; init; }
}

/// <summary>
/// Every <c>genseg bench</c> figure with its target, in one place (speed targets live here, not in timed tests).
/// </summary>
public static class BenchmarkSuite
{
    /// <summary>Every benchmark, in the order they run.</summary>
    public static IReadOnlyList<Benchmark> All { get; } = new List<Benchmark>
    {
        new("toyworld", "ToyWorld 64x64 scenes per second (one thread of C#)", _ =>
        {
            var sw = Stopwatch.StartNew();
            int n = 0;
            while (sw.ElapsedMilliseconds < 2000) SceneGenerator.Generate(n++);
            double perSecond = n / sw.Elapsed.TotalSeconds;
            return new[] { new BenchFigure("scenes per second", perSecond, "1/s", "200 scenes in < 10 s", 200 / perSecond < 10) };
        }),
        new("unet", "UNet forward at SD 2.1 widths (latent 32x32, 320/640/1280/1280, batch 1) vs matmul 2048^2", ctx =>
        {
            var r = UNetBenchmark.Run(new UNetBenchmarkOptions { Device = ctx.Device });
            return new[]
            {
                new BenchFigure("UNet forward", r.UNetSeconds, "s", null, null),
                new BenchFigure("UNet throughput", r.UNetGflops, "GFLOP/s", null, null),
                new BenchFigure("matmul throughput", r.MatmulGflops, "GFLOP/s", null, null),
                new BenchFigure("UNet / matmul", r.Ratio, "ratio", ">= 0.50", r.Ratio >= 0.5),
            };
        }),
        new("densecrf", "DenseCRF mean field, 512x512, 10 iterations", _ =>
        {
            double ms21 = DenseCrfBenchmark.Run(512, 21, 10);
            double ms2 = DenseCrfBenchmark.Run(512, 2, 10);
            return new[]
            {
                new BenchFigure("21 labels", ms21, "ms", "< 500 ms", ms21 < 500),
                new BenchFigure("2 labels", ms2, "ms", null, null),
            };
        }),
        new("paintseg", "PaintSeg seconds per object, T = 5, N = 5, box prompts, 64 px: 20 DDIM iterations one object at a time and in object batches, and the toyworld preset, side by side", ctx =>
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
                var r = PaintSegBenchmark.Run(pipeline, progress: ctx.Progress);
                string weights = trained ? "" : " (random weights)";
                var figures = r.Timings.Select((t, i) => new BenchFigure($"per object, {t.Label}{weights}", t.SecondsPerObject, "s",
                    i == 0 ? "< 5 s" : null, i == 0 ? t.SecondsPerObject < 5 : null)).ToList();
                double ratio = r.Preset.SecondsPerObject / r.Baseline.SecondsPerObject;
                figures.Add(new("toyworld preset / ddim 20 one at a time", ratio, "ratio", "<= 0.5", ratio <= 0.5));
                return figures;
            }
            finally
            {
                if (temp is not null) Directory.Delete(temp, recursive: true);
            }
        }),
        new("g4seg", "G4Seg refinement with the embedded model: image-classes per second per class (compose false) and composed (compose true) side by side, and time share per stage", ctx =>
        {
            using var pipeline = StableDiffusionPipeline.Load(ctx.ModelFolder, ctx.Device, ctx.DType);
            var c = G4SegBenchmark.CompareCompose(pipeline, new G4SegBenchmarkOptions { Workers = ctx.Workers });
            var r = c.PerClass;
            var figures = new List<BenchFigure>
            {
                new("image-classes per second", r.ImageClassesPerSecond, "1/s", ">= 50", r.ImageClassesPerSecond >= 50),
                new("image-classes per second, composed", c.Composed.ImageClassesPerSecond, "1/s", null, null),
                new("composed / per class", c.Speedup, "ratio", ">= 1.6", c.Speedup >= 1.6),
                new("workers (one torch thread each)", r.Workers, "", null, null),
            };
            figures.AddRange(r.StageShares.Select(kv => new BenchFigure($"share: {kv.Key}", kv.Value * 100, "%", null, null)));
            figures.AddRange(c.Composed.StageShares.Select(kv => new BenchFigure($"composed share: {kv.Key}", kv.Value * 100, "%", null, null)));
            return figures;
        }),
        new("sd21", "SD 2.1 scale, random weights, 512 px: each stage's time, peak memory, counted GFLOP and GFLOP/s against the same-run matmul; PaintSeg per object (T = 5, N = 5) with the chosen sampler against 50-step DDIM; G4Seg with 2 classes per class, composed and with the decode window", ctx =>
        {
            var r = Sd21Benchmark.Run(new Sd21BenchmarkOptions
            {
                Device = ctx.Device, DType = ctx.DType, Progress = ctx.Progress, Scheduler = ctx.Scheduler, Iterations = ctx.Iterations,
            });
            var figures = new List<BenchFigure>
            {
                new("UNet parameters", r.UNetParameters / 1e6, "M", null, null),
                new("VAE parameters", r.VaeParameters / 1e6, "M", null, null),
                new("text encoder parameters", r.TextParameters / 1e6, "M", null, null),
                new("matmul 2048^2 (median, same run)", r.MatmulGflops, "GFLOP/s", null, null),
            };
            foreach (var s in r.Stages)
            {
                figures.Add(new(s.Runs == 1 ? s.Name : $"{s.Name}, mean of {s.Runs} runs", s.Seconds, "s", null, null));
                if (s.Gflop is { } gflop && s.Gflops is { } rate)
                {
                    figures.Add(new($"{s.Name}: work", gflop, "GFLOP", null, null));
                    figures.Add(new($"{s.Name}: throughput", rate, "GFLOP/s", null, null));
                    figures.Add(new($"{s.Name}: / matmul", rate / r.MatmulGflops, "ratio", null, null));
                }
                figures.Add(new($"{s.Name}: peak RSS", s.PeakRssGiB, "GiB", null, null));
                figures.Add(new($"{s.Name}: peak rise", s.PeakRiseGiB, "GiB", null, null));
            }
            string Label(PaintSegCost c) => $"PaintSeg per object, T = 5, N = 5, {c.Scheduler} {c.Iterations} iterations ({c.UNetPasses} UNet passes per paint)";
            foreach (var c in new[] { r.PaintSegChosen, r.PaintSegPaper })
            {
                figures.Add(new(Label(c), c.Seconds, "s", null, null));
                figures.Add(new($"{Label(c)}: work", c.Gflop, "GFLOP", null, null));
            }
            figures.Add(new("PaintSeg per object: chosen / 50-step DDIM", r.PaintSegRatio, "ratio", "<= 0.5", r.PaintSegRatio <= 0.5));
            figures.Add(new("PaintSeg per object: chosen / 50-step DDIM, counted work", r.PaintSegWorkRatio, "ratio", null, null));
            if (r.ComposedRatio is { } composed) figures.Add(new("G4Seg 2 classes: composed / per class", composed, "ratio", "<= 0.6", composed <= 0.6));
            if (r.ComposedWorkRatio is { } composedWork) figures.Add(new("G4Seg 2 classes: composed / per class, counted work", composedWork, "ratio", null, null));
            if (r.ComposedWindowRatio is { } window) figures.Add(new("G4Seg 2 classes: composed with decode window / per class", window, "ratio", null, null));
            if (r.ComposedWindowWorkRatio is { } windowWork) figures.Add(new("G4Seg 2 classes: composed with decode window / per class, counted work", windowWork, "ratio", null, null));
            return figures;
        }, ByDefault: false),
    };
}
