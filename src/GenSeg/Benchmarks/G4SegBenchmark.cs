using System.Diagnostics;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Methods.G4Seg;
using GenSeg.ToyWorld;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Benchmarks;

/// <summary>Settings of <see cref="G4SegBenchmark.Run"/>.</summary>
public sealed record G4SegBenchmarkOptions
{
    /// <summary>The G4Seg settings to time (the ToyWorld preset by default).</summary>
    public G4SegOptions G4Seg { get; init; } = G4SegOptions.ToyWorld;

    /// <summary>Scenes per <see cref="G4SegRefiner.Refine"/> call (all their image-classes in one UNet batch).</summary>
    public int ScenesPerBatch { get; init; } = 16;

    /// <summary>Timed batches (after one untimed warm-up batch). Each batch's image-class count differs, and libtorch
    /// prepares its kernels per shape on first use: 4 batches (about 130 image-classes) gave 38.6-58.1 image-classes per
    /// second in five runs; 16 (about 500) come closer to what a long run reaches.</summary>
    public int Batches { get; init; } = 16;

    /// <summary>First scene seed (val split by default; timing does not depend on the scenes' content).</summary>
    public int FirstSeed { get; init; } = Splits.Range(Split.Val).First;

    /// <summary>torch intra-op threads for the run (null: leave the current setting); restored afterwards.</summary>
    public int? Threads { get; init; }

    /// <summary>The refiner's <see cref="G4SegRefiner.Workers"/> (null: its default).</summary>
    public int? Workers { get; init; }
}

/// <summary>Result of <see cref="G4SegBenchmark.Run"/>.</summary>
/// <param name="ImageClasses">Refined image-class pairs in the timed batches.</param>
/// <param name="Seconds">Wall time of the timed batches.</param>
/// <param name="StageShares">Each stage's share of the summed stage times (encode, noise, unet, decode, features, confusion, correspondence, mix, combine).</param>
/// <param name="Threads">torch intra-op threads of the calling thread.</param>
/// <param name="Workers">Groups of images refined side by side (<see cref="G4SegRefiner.Workers"/>).</param>
public sealed record G4SegBenchmarkResult(int ImageClasses, double Seconds, IReadOnlyDictionary<string, double> StageShares, int Threads, int Workers)
{
    /// <summary>Refined image-classes per second (the target is 50 or more with the embedded model).</summary>
    public double ImageClassesPerSecond => ImageClasses / Seconds;
}

/// <summary>The per-class passes and the composed injection timed side by side (<see cref="G4SegBenchmark.CompareCompose"/>).</summary>
/// <param name="PerClass">With <see cref="G4SegOptions.Compose"/> false: one UNet pass per image-class.</param>
/// <param name="Composed">With <see cref="G4SegOptions.Compose"/> true: one UNet pass per image.</param>
public sealed record G4SegComposeComparison(G4SegBenchmarkResult PerClass, G4SegBenchmarkResult Composed)
{
    /// <summary>Composed image-classes per second over per-class ones (the target is 1.6 or more).</summary>
    public double Speedup => Composed.ImageClassesPerSecond / PerClass.ImageClassesPerSecond;
}

/// <summary>Times G4Seg's refinement on ToyWorld scenes with perturbation coarse masks: throughput and the share of each stage.</summary>
public static class G4SegBenchmark
{
    /// <summary>Runs one warm-up batch and <see cref="G4SegBenchmarkOptions.Batches"/> timed ones.</summary>
    public static G4SegBenchmarkResult Run(StableDiffusionPipeline pipeline, G4SegBenchmarkOptions? options = null)
    {
        var o = options ?? new G4SegBenchmarkOptions();
        return Time(pipeline, o, new[] { o.G4Seg })[0];
    }

    /// <summary>
    /// <see cref="G4SegBenchmarkOptions.G4Seg"/> with the per-class passes and with the composed injection, on the same
    /// scenes and coarse masks, batch by batch in alternating order, so that both meet the same machine load.
    /// </summary>
    public static G4SegComposeComparison CompareCompose(StableDiffusionPipeline pipeline, G4SegBenchmarkOptions? options = null)
    {
        var o = options ?? new G4SegBenchmarkOptions();
        var r = Time(pipeline, o, new[] { o.G4Seg with { Compose = false }, o.G4Seg with { Compose = true } });
        return new G4SegComposeComparison(r[0], r[1]);
    }

    /// <summary>One warm-up batch and the timed ones, each batch refined under every setting (in rotating order).</summary>
    static G4SegBenchmarkResult[] Time(StableDiffusionPipeline pipeline, G4SegBenchmarkOptions o, IReadOnlyList<G4SegOptions> settings)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        if (o.ScenesPerBatch < 1) throw new ArgumentOutOfRangeException(nameof(o), o.ScenesPerBatch, "scenes per batch: expected >= 1");
        if (o.Batches < 1) throw new ArgumentOutOfRangeException(nameof(o), o.Batches, "batches: expected >= 1");
        int previous = get_num_threads();
        if (o.Threads is { } t) set_num_threads(t);
        var refiners = new List<G4SegRefiner>();
        try
        {
            foreach (var g in settings) refiners.Add(o.Workers is { } w ? new G4SegRefiner(pipeline, g) { Workers = w } : new G4SegRefiner(pipeline, g));
            var stages = settings.Select(_ => new Dictionary<string, double>()).ToArray();
            var imageClasses = new int[settings.Count];
            var seconds = new double[settings.Count];
            for (int batch = 0; batch <= o.Batches; batch++)
            {
                using var scope = NewDisposeScope();
                var scenes = Enumerable.Range(o.FirstSeed + batch * o.ScenesPerBatch, o.ScenesPerBatch).Select(s => SceneGenerator.Generate(s)).ToArray();
                var images = stack(scenes.Select(s => s.ImageTensor()).ToArray());
                var present = G4SegEvaluation.Present(scenes);
                var coarse = stack(scenes.Select(s => G4SegEvaluation.PerturbedMaps(s, Severity.Medium)).ToArray());
                for (int j = 0; j < settings.Count; j++)
                {
                    int r = (batch + j) % settings.Count;
                    var watch = Stopwatch.StartNew();
                    using var result = refiners[r].Refine(images, coarse, G4SegEvaluation.ClassNames, present, scenes.Select(s => (ulong)s.Seed).ToArray());
                    if (batch == 0) continue; // warm-up
                    seconds[r] += watch.Elapsed.TotalSeconds;
                    imageClasses[r] += result.Items.Count;
                    foreach (var (stage, sec) in result.Seconds) stages[r][stage] = stages[r].GetValueOrDefault(stage) + sec;
                }
            }
            return Enumerable.Range(0, settings.Count).Select(r =>
            {
                double total = stages[r].Values.Sum();
                return new G4SegBenchmarkResult(imageClasses[r], seconds[r], stages[r].ToDictionary(kv => kv.Key, kv => total > 0 ? kv.Value / total : 0),
                    get_num_threads(), refiners[r].Workers);
            }).ToArray();
        }
        finally
        {
            foreach (var r in refiners) r.Dispose();
            set_num_threads(previous);
        }
    }
}
