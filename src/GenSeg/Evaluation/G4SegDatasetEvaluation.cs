using System.Diagnostics;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Diffusion;
using GenSeg.Imaging;
using GenSeg.Methods.G4Seg;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>Settings of <see cref="G4SegDatasetEvaluation.Run"/>.</summary>
public sealed record G4SegDatasetOptions
{
    /// <summary>The dataset (its split's images in order).</summary>
    public required ISegmentationDataset Dataset { get; init; }

    /// <summary>The folder of coarse masks named after the images (<see cref="CoarseMaskFiles"/>).</summary>
    public required string CoarseFolder { get; init; }

    /// <summary>The G4Seg settings, one per row (a sweep); labels name each row.</summary>
    public IReadOnlyList<(string Label, G4SegOptions Options)> Settings { get; init; } = new[] { ("g4seg", new G4SegOptions()) };

    /// <summary>Each row's settings as name = value, written into every record and the summary.</summary>
    public required Func<G4SegOptions, IReadOnlyDictionary<string, string>> DescribeSettings { get; init; }

    /// <summary>The images this run takes.</summary>
    public Shard Shard { get; init; } = Shard.All;

    /// <summary>At most this many images of the split (the first ones); all when null.</summary>
    public int? Limit { get; init; }

    /// <summary>Bootstrap resamples for the gain's interval.</summary>
    public int Resamples { get; init; } = 2000;
}

/// <summary>
/// G4Seg on any dataset: each image's coarse masks come from files, the image and masks are resized as the papers do
/// (<see cref="ModelSize"/>: short side to the model's resolution, multiples of 8), refined there, the refined maps
/// resized back to the image's own size and scored there against the truth (ignore pixels excluded). One record per
/// image (its confusion matrices before and after, per-class IoUs, times) is streamed to a
/// <see cref="ResultsLog"/>; the summary is computed from the records alone (<see cref="Summarise"/>), so a run split
/// into shards and merged gives the same summary as one run.
/// </summary>
public static class G4SegDatasetEvaluation
{
    /// <summary>The record kind written into every line.</summary>
    public const string Kind = "g4seg";

    /// <summary>Runs the evaluation over the shard's images not already in <paramref name="log"/>; returns the summary of all its records.</summary>
    public static JsonObject Run(StableDiffusionPipeline pipeline, G4SegDatasetOptions options, ResultsLog? log = null, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Settings.Count == 0) throw new ArgumentException("settings: expected at least one G4Seg setting", nameof(options));
        if (!Directory.Exists(options.CoarseFolder)) throw new DirectoryNotFoundException($"coarse-mask folder '{options.CoarseFolder}': not found");
        foreach (var (label, o) in options.Settings)
        {
            try { o.Validate(pipeline.Scheduler.NumTrainTimesteps); }
            catch (ArgumentException e) { throw new ArgumentException($"setting {label}: {e.Message}", e); }
        }
        var dataset = options.Dataset;
        var header = Header(dataset, options);
        var (records, ids, todo) = DatasetRun.Plan(dataset, header, log, options.Shard, options.Limit);
        int total = todo.Length + records.Count;
        progress?.Invoke(records.Count, total);

        var refiners = new List<G4SegRefiner?>();
        try
        {
            foreach (var (_, o) in options.Settings) refiners.Add(o.Correspondence ? new G4SegRefiner(pipeline, o) : null);
            foreach (var i in todo)
            {
                var record = Evaluate(pipeline, options, refiners, header, i, ids[i], ids.Count);
                log?.Append(record);
                records.Add(record);
                progress?.Invoke(records.Count, total);
            }
        }
        finally
        {
            foreach (var r in refiners) r?.Dispose();
        }
        return Summarise(records);
    }

    /// <summary>The fields every record of one run shares (checked on resume and merge).</summary>
    static JsonObject Header(ISegmentationDataset dataset, G4SegDatasetOptions options) => new()
    {
        ["kind"] = Kind,
        ["dataset"] = dataset.Spec,
        ["split"] = dataset.Split,
        ["coarse"] = options.CoarseFolder,
        ["resamples"] = options.Resamples,
        ["classes"] = new JsonArray(dataset.ClassNames.Select(n => (JsonNode)n).ToArray()),
        ["settings"] = new JsonArray(options.Settings.Select(s => (JsonNode)new JsonObject
        {
            ["label"] = s.Label,
            ["values"] = new JsonObject(options.DescribeSettings(s.Options).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        }).ToArray()),
    };

    static readonly string[] HeaderKeys = { "kind", "dataset", "split", "coarse", "resamples", "classes", "settings" };

    static JsonObject Evaluate(StableDiffusionPipeline pipeline, G4SegDatasetOptions options, List<G4SegRefiner?> refiners, JsonObject header,
        int index, string id, int count)
    {
        using var scope = NewDisposeScope();
        var watch = Stopwatch.StartNew();
        var dataset = options.Dataset;
        var names = dataset.ClassNames;
        int n = names.Count;
        var sample = dataset.Load(id);
        int width = sample.Width, height = sample.Height;
        var truth = sample.LabelTensor();
        var coarse = CoarseMaskFiles.Load(options.CoarseFolder, id, names, width, height); // [K, H, W]
        var present = coarse.amax(new long[] { 1, 2 }).gt(0).unsqueeze(0); // [1, K]
        var before = G4SegStages.Combine(coarse.unsqueeze(0), present).Labels[0];
        var (w, h) = ModelSize.Fit(width, height, pipeline.Vae.Config.SampleSize);
        var image = Resize.Bilinear(sample.ImageTensor(), h, w).unsqueeze(0).to(pipeline.Device);
        var s = Resize.Bilinear(coarse, h, w).clamp_(0, 1).unsqueeze(0).to(pipeline.Device);
        var objectNames = names.Skip(1).ToArray();
        var seed = new[] { Pcg32.Derive(DatasetRun.StableHash(id), 0x64A7A) };

        var record = DatasetRun.NewRecord(header, index, id, count);
        record["width"] = width;
        record["height"] = height;
        record["model_width"] = w;
        record["model_height"] = h;
        record["image_classes"] = present.sum().item<long>();
        record["before"] = Scores(before, truth, n);
        var after = new JsonArray();
        for (int r = 0; r < options.Settings.Count; r++)
        {
            var rowWatch = Stopwatch.StartNew();
            var row = new JsonObject { ["label"] = options.Settings[r].Label };
            if (refiners[r] is not { } refiner)
            {
                foreach (var (k, v) in Scores(before, truth, n)) row[k] = v?.DeepClone();
                row["seconds"] = 0.0;
                after.Add(row);
                continue;
            }
            using var result = refiner.Refine(image, s, objectNames, present.to(pipeline.Device), seed);
            var refined = Resize.Bilinear(result.Refined.cpu(), height, width).clamp_(0, 1); // back to the image's size
            var labels = G4SegStages.Combine(refined, present).Labels[0];
            foreach (var (k, v) in Scores(labels, truth, n)) row[k] = v?.DeepClone();
            row["seconds"] = rowWatch.Elapsed.TotalSeconds;
            row["stage_seconds"] = new JsonObject(result.Seconds.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
            after.Add(row);
        }
        record["after"] = after;
        record["seconds"] = watch.Elapsed.TotalSeconds;
        return record;
    }

    /// <summary>The confusion matrix (flat, rows = truth) and per-class IoUs (null where the class is absent from the truth).</summary>
    static JsonObject Scores(Tensor labels, Tensor truth, int n)
    {
        var c = Metrics.ConfusionMatrix(labels, truth, n).contiguous().data<long>().ToArray();
        return new JsonObject
        {
            ["confusion"] = new JsonArray(c.Select(v => (JsonNode)v).ToArray()),
            ["iou"] = new JsonArray(SegmentationScores.ImageIous(c, n).Select(v => double.IsNaN(v) ? null : (JsonNode)v).ToArray()),
        };
    }

    /// <summary>
    /// The summary of records (one run, its shards, or a resumed run): records are put in dataset order and must be
    /// of one run; per setting mIoU before and after from the summed confusion matrices (points, x100), the gain's
    /// paired bootstrap interval over images (seeded), per class, by initial-IoU stratum; times under <c>timing</c>.
    /// </summary>
    public static JsonObject Summarise(IReadOnlyList<JsonObject> records, string? source = null)
    {
        var (header, ordered) = DatasetRun.Ordered(records, HeaderKeys, Kind, source);
        var first = ordered[0];
        int resamples = (int)header["resamples"]!;
        var names = header["classes"]!.AsArray().Select(n => (string)n!).ToArray();
        int n = names.Length;
        var before = new SegmentationScores(n);
        foreach (var r in ordered) before.Add(Counts(r["before"]!));
        var labels = header["settings"]!.AsArray().Select(s => (string)s!["label"]!).ToArray();
        var rows = new JsonArray();
        var timing = new JsonObject();
        for (int s = 0; s < labels.Length; s++)
        {
            var after = new SegmentationScores(n);
            double seconds = 0;
            var stages = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var r in ordered)
            {
                var row = r["after"]!.AsArray()[s]!;
                after.Add(Counts(row));
                seconds += (double)row["seconds"]!;
                if (row["stage_seconds"] is JsonObject st) foreach (var (k, v) in st) stages[k] = stages.GetValueOrDefault(k) + (double)v!;
            }
            rows.Add(Row(labels[s], names, before, after, resamples));
            timing[labels[s]] = new JsonObject
            {
                ["seconds"] = seconds,
                ["stage_seconds"] = new JsonObject(stages.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            };
        }
        long imageClasses = ordered.Sum(r => (long)r["image_classes"]!);
        var summary = rows[0]!.AsObject().DeepClone().AsObject();
        foreach (var (k, v) in header) summary[k] = v?.DeepClone();
        summary["images"] = ordered.Length;
        summary["images_in_split"] = (int)first["count"]!;
        summary["image_classes"] = imageClasses;
        summary["sweep"] = rows;
        timing["image_seconds"] = ordered.Sum(r => (double)r["seconds"]!);
        summary["timing"] = timing;
        return summary;
    }

    static long[] Counts(JsonNode scores) => scores["confusion"]!.AsArray().Select(v => (long)v!).ToArray();

    static JsonObject Row(string label, IReadOnlyList<string> names, SegmentationScores before, SegmentationScores after, int resamples)
    {
        var b = before.MeanIou();
        var a = after.MeanIou();
        var ci = SegmentationScores.GainCi(before, after, resamples);
        var perClass = new JsonObject();
        for (int k = 0; k < names.Count; k++)
            perClass[names[k]] = new JsonObject { ["before"] = Points(b.PerClass[k]), ["after"] = Points(a.PerClass[k]) };
        return new JsonObject
        {
            ["setting"] = label,
            ["miou_before"] = Points(b.Mean),
            ["miou_after"] = Points(a.Mean),
            ["gain"] = Points(a.Mean - b.Mean),
            ["gain_ci95"] = new JsonArray(Points(ci.Lower), Points(ci.Upper)),
            ["per_class"] = perClass,
            ["strata"] = new JsonArray(SegmentationScores.StrataGains(before, after).Select(s => (JsonNode)new JsonObject
            {
                ["stratum"] = s.Stratum,
                ["count"] = s.Count,
                ["iou_before"] = DatasetRun.Finite(s.Before),
                ["iou_after"] = DatasetRun.Finite(s.After),
                ["gain"] = DatasetRun.Finite(s.Gain),
            }).ToArray()),
        };
    }

    static JsonNode? Points(double fraction) => DatasetRun.Finite(100 * fraction);
}
