using System.Diagnostics;
using GenSeg.Diffusion;
using GenSeg.Methods;
using GenSeg.Methods.DenseCrf;
using GenSeg.Methods.G4Seg;
using GenSeg.ToyWorld;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>Where the coarse masks G4Seg refines come from.</summary>
public enum CoarseSource
{
    /// <summary>ToyWorld's perturbation generator (<see cref="CoarseMasks"/>) at a severity: each object's soft map.</summary>
    Perturb,

    /// <summary>The text-only cross-attention segmenter (<see cref="CrossAttentionSegmenter"/>) with the image's class names.</summary>
    Attention,
}

/// <summary>Settings of <see cref="G4SegEvaluation.Run"/>.</summary>
public sealed record G4SegEvaluationOptions
{
    /// <summary>The ToyWorld split.</summary>
    public Split Split { get; init; } = Split.Val;

    /// <summary>First scene seed (absolute); the split's first seed when null.</summary>
    public int? FirstSeed { get; init; }

    /// <summary>Number of scenes.</summary>
    public int Count { get; init; } = 50;

    /// <summary>The coarse-mask source.</summary>
    public CoarseSource Source { get; init; } = CoarseSource.Perturb;

    /// <summary>Perturbation severity (<see cref="CoarseSource.Perturb"/>).</summary>
    public Severity Severity { get; init; } = Severity.Medium;

    /// <summary>The cross-attention segmenter's settings (<see cref="CoarseSource.Attention"/>).</summary>
    public CrossAttentionOptions Attention { get; init; } = new();

    /// <summary>The G4Seg settings, one per row (a sweep); labels name each row.</summary>
    public IReadOnlyList<(string Label, G4SegOptions Options)> Settings { get; init; } = new[] { ("g4seg", new G4SegOptions()) };

    /// <summary>Also run DenseCRF on the coarse masks and CRF-then-G4Seg (with the first setting), as G4Seg's Table 6.</summary>
    public bool CompareCrf { get; init; }

    /// <summary>DenseCRF settings; null: the kit's defaults with the bilateral sxy scaled from 512 px to the image size.</summary>
    public DenseCrfOptions? Crf { get; init; }

    /// <summary>Scenes per UNet batch (all their image-class pairs go through the UNet together).</summary>
    public int ScenesPerBatch { get; init; } = 16;

    /// <summary>ToyWorld's scene options (default 64 px).</summary>
    public ToyWorldOptions? Scene { get; init; }

    /// <summary>Bootstrap resamples for the gain's interval.</summary>
    public int Resamples { get; init; } = 2000;
}

/// <summary>One evaluated setting: mIoU before and after (in points), the gain with its 95% interval, per class and by stratum.</summary>
public sealed record G4SegRow(string Label, double MiouBefore, double MiouAfter, double Gain, double GainLower, double GainUpper,
    IReadOnlyList<ClassIou> PerClass, IReadOnlyList<StratumGain> Strata, IReadOnlyDictionary<string, double> StageSeconds, double Seconds, int ImageClasses)
{
    /// <summary>Refined image-classes per second of this row's refinement.</summary>
    public double ImageClassesPerSecond => Seconds > 0 ? ImageClasses / Seconds : double.NaN;
}

/// <summary>The result of <see cref="G4SegEvaluation.Run"/>: one row per setting, plus the CRF comparison when asked.</summary>
public sealed record G4SegEvaluationResult(string Source, string Split, int FirstSeed, int Scenes, int ImageClasses, double CoarseSeconds,
    IReadOnlyList<G4SegRow> Rows, IReadOnlyList<G4SegRow>? Comparison)
{
    /// <summary>The first row (the top-level figures of the JSON).</summary>
    public G4SegRow Main => Rows[0];
}

/// <summary>
/// Evaluates G4Seg on ToyWorld: coarse maps from the perturbation generator or the cross-attention segmenter, refined
/// by each setting; mIoU (background and the 8 classes) before and after over all scenes, a paired bootstrap interval of
/// the gain over scenes, per-class IoU and the gain by initial-IoU stratum. The coarse maps are made once and shared by
/// every setting. Used by <c>genseg eval g4seg</c> and the notebooks.
/// </summary>
public static class G4SegEvaluation
{
    /// <summary>The K = 8 ToyWorld object class names (class k is label k + 1).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = ToyClasses.ObjectClasses.Select(ToyClasses.Name).ToArray();

    /// <summary>Runs the evaluation; <paramref name="progress"/> receives (scenes done, total).</summary>
    public static G4SegEvaluationResult Run(StableDiffusionPipeline pipeline, G4SegEvaluationOptions options, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Settings.Count == 0) throw new ArgumentException("settings: expected at least one G4Seg setting", nameof(options));
        if (options.ScenesPerBatch < 1) throw new ArgumentOutOfRangeException(nameof(options), options.ScenesPerBatch, "scenes per batch: expected >= 1");
        var seeds = Splits.Seeds(options.Split, options.FirstSeed, options.Count);
        if (seeds.Count == 0) throw new ArgumentException("count: expected at least one scene", nameof(options));
        options.Attention.Validate(pipeline.Scheduler.NumTrainTimesteps);
        foreach (var (label, o) in options.Settings)
        {
            try { o.Validate(pipeline.Scheduler.NumTrainTimesteps); }
            catch (ArgumentException e) { throw new ArgumentException($"setting {label}: {e.Message}", e); }
        }

        var refiners = new List<G4SegRefiner?>();
        try
        {
            foreach (var (_, o) in options.Settings) refiners.Add(o.Correspondence ? new G4SegRefiner(pipeline, o) : null);
            return RunWith(pipeline, options, seeds, refiners, progress);
        }
        finally
        {
            foreach (var r in refiners) r?.Dispose();
        }
    }

    static G4SegEvaluationResult RunWith(StableDiffusionPipeline pipeline, G4SegEvaluationOptions options, IReadOnlyList<int> seeds,
        List<G4SegRefiner?> refiners, Action<int, int>? progress)
    {
        int classes = ToyClasses.Count;
        var names = ClassNames;
        var before = new SegmentationScores(classes);
        var after = options.Settings.Select(_ => new SegmentationScores(classes)).ToArray();
        var stageSeconds = options.Settings.Select(_ => new Dictionary<string, double>()).ToArray();
        var seconds = new double[options.Settings.Count];
        var crf = options.CompareCrf ? new SegmentationScores(classes) : null;
        var crfG4 = options.CompareCrf ? new SegmentationScores(classes) : null;
        double crfSeconds = 0, crfG4Seconds = 0, coarseSeconds = 0;
        int imageClasses = 0, done = 0;
        var watch = new Stopwatch();

        for (int start = 0; start < seeds.Count; start += options.ScenesPerBatch)
        {
            using var scope = NewDisposeScope();
            var batchSeeds = seeds.Skip(start).Take(options.ScenesPerBatch).ToArray();
            var scenes = batchSeeds.Select(s => SceneGenerator.Generate(s, options.Scene)).ToArray();
            var images = stack(scenes.Select(s => s.ImageTensor()).ToArray());
            var truths = scenes.Select(s => s.SemanticTensor()).ToArray();
            var present = Present(scenes);
            imageClasses += scenes.Sum(s => s.ClassesPresent.Count);

            watch.Restart();
            var coarse = Coarse(pipeline, options, scenes, images, present);
            coarseSeconds += watch.Elapsed.TotalSeconds;
            var sceneSeeds = batchSeeds.Select(s => (ulong)s).ToArray();
            var beforeLabels = G4SegStages.Combine(coarse, present).Labels;
            for (int i = 0; i < scenes.Length; i++) before.Add(beforeLabels[i], truths[i]);

            for (int r = 0; r < options.Settings.Count; r++)
            {
                watch.Restart();
                if (refiners[r] is not { } refiner)
                {
                    for (int i = 0; i < scenes.Length; i++) after[r].Add(beforeLabels[i], truths[i]);
                    continue;
                }
                using var result = refiner.Refine(images, coarse, names, present, sceneSeeds);
                seconds[r] += watch.Elapsed.TotalSeconds;
                foreach (var (stage, s) in result.Seconds) stageSeconds[r][stage] = stageSeconds[r].GetValueOrDefault(stage) + s;
                for (int i = 0; i < scenes.Length; i++) after[r].Add(result.Labels[i], truths[i]);
            }

            if (crf is not null && crfG4 is not null)
            {
                watch.Restart();
                var combined = G4SegStages.Combine(coarse, present).Probabilities; // [B, 1 + K, H, W]
                var crfOptions = options.Crf ?? new DenseCrfOptions { BilateralSxy = 80f * scenes[0].Size / 512f };
                var q = stack(Enumerable.Range(0, scenes.Length).Select(i => DenseCrf.Infer(DenseCrf.ToRgbBytes(images[i]), combined[i], crfOptions)).ToArray());
                var crfLabels = q.argmax(1);
                for (int i = 0; i < scenes.Length; i++) crf.Add(crfLabels[i], truths[i]);
                crfSeconds += watch.Elapsed.TotalSeconds;
                watch.Restart();
                var crfProbabilities = q[.., 1..] * present.to_type(ScalarType.Float32).unsqueeze(2).unsqueeze(3);
                var firstRefiner = refiners[0] ?? throw new ArgumentException("--compare crf needs a first setting that refines (not modules=baseline)");
                using var refined = firstRefiner.Refine(images, crfProbabilities.contiguous(), names, present, sceneSeeds);
                for (int i = 0; i < scenes.Length; i++) crfG4.Add(refined.Labels[i], truths[i]);
                crfG4Seconds += watch.Elapsed.TotalSeconds;
            }
            done += scenes.Length;
            progress?.Invoke(done, seeds.Count);
        }

        var rows = options.Settings.Select((s, r) => Row(s.Label, before, after[r], stageSeconds[r], seconds[r], imageClasses, options.Resamples)).ToArray();
        IReadOnlyList<G4SegRow>? comparison = null;
        if (crf is not null && crfG4 is not null)
        {
            var none = new Dictionary<string, double>();
            comparison = new[]
            {
                Row("coarse", before, before, none, coarseSeconds, imageClasses, options.Resamples),
                rows[0] with { Label = $"g4seg ({options.Settings[0].Label})" },
                Row("densecrf", before, crf, none, crfSeconds, imageClasses, options.Resamples),
                Row("densecrf+g4seg", before, crfG4, none, crfG4Seconds, imageClasses, options.Resamples),
            };
        }
        return new G4SegEvaluationResult(options.Source == CoarseSource.Perturb ? $"perturb:{options.Severity}" : "attention",
            options.Split.ToString().ToLowerInvariant(), seeds[0], seeds.Count, imageClasses, coarseSeconds, rows, comparison);
    }

    /// <summary>[B, K] bool: which object classes each scene holds.</summary>
    public static Tensor Present(IReadOnlyList<Scene> scenes)
    {
        int k = ToyClasses.Count - 1;
        var flags = new bool[scenes.Count * k];
        for (int i = 0; i < scenes.Count; i++)
            foreach (var c in scenes[i].ClassesPresent) flags[i * k + c - 1] = true;
        return tensor(flags, new long[] { scenes.Count, k });
    }

    /// <summary>The coarse maps S [B, K, H, W] of scenes from the chosen source.</summary>
    public static Tensor Coarse(StableDiffusionPipeline pipeline, G4SegEvaluationOptions options, IReadOnlyList<Scene> scenes, Tensor images, Tensor present)
    {
        if (options.Source == CoarseSource.Attention)
        {
            using var segmentation = CrossAttentionSegmenter.Segment(pipeline, images, ClassNames, present, options.Attention);
            return segmentation.Probabilities.cpu().clone();
        }
        using var scope = NewDisposeScope();
        int k = ToyClasses.Count - 1, size = scenes[0].Size;
        var maps = zeros(scenes.Count, k, size, size);
        for (int i = 0; i < scenes.Count; i++)
        {
            for (int j = 0; j < scenes[i].Objects.Count; j++)
            {
                using var truth = scenes[i].InstanceTensor(j);
                using var mask = CoarseMasks.Make(truth, options.Severity, CoarseMasks.SeedFor(scenes[i].Seed, j));
                int c = scenes[i].Objects[j].ClassIndex - 1;
                maps[i, c] = maximum(maps[i, c], mask.Probability);
            }
        }
        return maps.MoveToOuterDisposeScope();
    }

    static G4SegRow Row(string label, SegmentationScores before, SegmentationScores after, IReadOnlyDictionary<string, double> stages, double seconds,
        int imageClasses, int resamples)
    {
        var b = before.MeanIou();
        var a = after.MeanIou();
        var ci = SegmentationScores.GainCi(before, after, resamples);
        var perClass = Enumerable.Range(0, before.NumClasses).Select(k => new ClassIou(ToyClasses.Name(k), 100 * b.PerClass[k], 100 * a.PerClass[k])).ToArray();
        return new G4SegRow(label, 100 * b.Mean, 100 * a.Mean, 100 * (a.Mean - b.Mean), 100 * ci.Lower, 100 * ci.Upper, perClass,
            SegmentationScores.StrataGains(before, after), stages, seconds, imageClasses);
    }
}
