using System.Diagnostics;
using System.Text.Json.Nodes;
using GenSeg.Diffusion;
using GenSeg.Methods;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>One evaluated read-out of the cross-attention segmenter: mIoU (points) with a bootstrap 95% interval over scenes, and IoU per class (points).</summary>
public sealed record AttentionRow(string Label, double Miou, double Lower, double Upper, IReadOnlyDictionary<string, double> PerClass, double Seconds, int Scenes)
{
    /// <summary>Scenes segmented per second.</summary>
    public double ScenesPerSecond => Seconds > 0 ? Scenes / Seconds : double.NaN;
}

/// <summary>
/// The embedded model's "text control" figure: the cross-attention segmenter's mIoU (background and 8 classes) on
/// ToyWorld scenes, given each scene's class names. Used by <c>genseg eval attention</c>.
/// </summary>
public static class AttentionEvaluation
{
    /// <summary>
    /// The rows as JSON, in the result schema's terms: <c>method</c> attention, <c>metric</c> miou, <c>unit</c>, the
    /// images, the first row's <c>miou</c>, <c>miou_ci95</c>, <c>per_class</c>, <c>settings</c> and <c>command</c>, and every
    /// row under <c>sweep</c>.
    /// </summary>
    public static JsonObject ToJson(IReadOnlyList<AttentionRow> rows, IReadOnlyList<(string Label, CrossAttentionOptions Options)> settings, Split split,
        int firstSeed, int count, string model)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(settings);
        JsonObject Row(AttentionRow r) => new()
        {
            ["label"] = r.Label,
            ["miou"] = EvaluationResult.N(r.Miou),
            ["miou_ci95"] = new JsonArray(EvaluationResult.N(r.Lower), EvaluationResult.N(r.Upper)),
            ["per_class"] = new JsonObject(r.PerClass.Select(kv => KeyValuePair.Create(kv.Key, EvaluationResult.N(kv.Value)))),
            ["timing"] = new JsonObject { ["seconds"] = EvaluationResult.N(r.Seconds) },
        };
        var values = CrossAttentionSettings.Table.Values(settings[0].Options);
        var flags = new JsonObject { ["split"] = split.ToString().ToLowerInvariant(), ["first-seed"] = firstSeed, ["count"] = count, ["model"] = model };
        var json = new JsonObject
        {
            ["schema"] = EvaluationResult.Schema,
            ["method"] = "attention",
            ["metric"] = EvaluationResult.MetricMiou,
            ["unit"] = "IoU points (0-100)",
            ["dataset"] = Datasets.DatasetSpec.ToyWorld,
            ["split"] = split.ToString().ToLowerInvariant(),
            ["first_seed"] = firstSeed,
            ["images"] = count,
            ["model"] = model,
            ["command"] = RerunCommand.For("attention", flags, values),
            ["settings"] = new JsonObject(values.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        foreach (var (k, v) in Row(rows[0])) if (k != "label") json[k] = v?.DeepClone();
        json["sweep"] = new JsonArray(rows.Select(r => (JsonNode)Row(r)).ToArray());
        return json;
    }

    /// <summary>Evaluates each setting on the same scenes; <paramref name="progress"/> receives (scenes done, total).</summary>
    public static IReadOnlyList<AttentionRow> Run(StableDiffusionPipeline pipeline, Split split, int? firstSeed, int count,
        IReadOnlyList<(string Label, CrossAttentionOptions Options)> settings, int scenesPerBatch = 16, ToyWorldOptions? sceneOptions = null,
        int resamples = 2000, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        if (settings.Count == 0) throw new ArgumentException("settings: expected at least one", nameof(settings));
        if (scenesPerBatch < 1) throw new ArgumentOutOfRangeException(nameof(scenesPerBatch), scenesPerBatch, "scenes per batch: expected >= 1");
        foreach (var (_, o) in settings) o.Validate(pipeline.Scheduler.NumTrainTimesteps);
        var seeds = Splits.Seeds(split, firstSeed, count);
        if (seeds.Count == 0) throw new ArgumentException("count: expected at least one scene", nameof(count));
        var scores = settings.Select(_ => new SegmentationScores(ToyClasses.Count)).ToArray();
        var seconds = new double[settings.Count];
        var watch = new Stopwatch();
        for (int start = 0; start < seeds.Count; start += scenesPerBatch)
        {
            using var scope = NewDisposeScope();
            var scenes = seeds.Skip(start).Take(scenesPerBatch).Select(s => SceneGenerator.Generate(s, sceneOptions)).ToArray();
            var images = stack(scenes.Select(s => s.ImageTensor()).ToArray());
            var present = G4SegEvaluation.Present(scenes);
            for (int r = 0; r < settings.Count; r++)
            {
                watch.Restart();
                using var result = CrossAttentionSegmenter.Segment(pipeline, images, G4SegEvaluation.ClassNames, present, settings[r].Options);
                seconds[r] += watch.Elapsed.TotalSeconds;
                var labels = result.Labels.cpu();
                for (int i = 0; i < scenes.Length; i++) scores[r].Add(labels[i], scenes[i].SemanticTensor());
            }
            progress?.Invoke(Math.Min(seeds.Count, start + scenesPerBatch), seeds.Count);
        }
        return settings.Select((s, r) =>
        {
            var m = scores[r].MeanIou();
            var ci = MiouCi(scores[r], resamples);
            var perClass = Enumerable.Range(0, ToyClasses.Count).ToDictionary(ToyClasses.Name, k => 100 * m.PerClass[k]);
            return new AttentionRow(s.Label, 100 * m.Mean, 100 * ci.Lower, 100 * ci.Upper, perClass, seconds[r], seeds.Count);
        }).ToArray();
    }

    /// <summary>Percentile bootstrap interval of a dataset mIoU, resampling images.</summary>
    public static ConfidenceInterval MiouCi(SegmentationScores scores, int resamples = 2000, ulong seed = 0, double confidence = 0.95)
    {
        var rng = new Common.Pcg32(seed, stream: 0xA77E);
        int n = scores.Count;
        var values = new double[resamples];
        var pick = new int[n];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < n; i++) pick[i] = rng.NextInt(n);
            values[r] = scores.MeanIou(pick).Mean;
        }
        Array.Sort(values);
        double alpha = 1 - confidence;
        return new ConfidenceInterval(scores.MeanIou().Mean, Bootstrap.Quantile(values, alpha / 2), Bootstrap.Quantile(values, 1 - alpha / 2), n, confidence);
    }
}
