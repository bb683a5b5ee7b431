using System.Diagnostics;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Features;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>Settings of <see cref="PaintSegDatasetEvaluation.Run"/>.</summary>
public sealed record PaintSegDatasetOptions
{
    /// <summary>The dataset (its split's images in order).</summary>
    public required ISegmentationDataset Dataset { get; init; }

    /// <summary>The prompt, its noise and point mode, the mask prompts' severity, the method's options and the bootstrap resamples.</summary>
    public PaintSegEvalSettings Settings { get; init; } = new();

    /// <summary>The resolution images are processed at (the short side; see <see cref="ModelSize"/>).</summary>
    public required int Resolution { get; init; }

    /// <summary>The images this run takes.</summary>
    public Shard Shard { get; init; } = Shard.All;

    /// <summary>At most this many images of the split (the first ones); all when null.</summary>
    public int? Limit { get; init; }
}

/// <summary>
/// PaintSeg on any dataset. Each class present in an image's truth is one target (with <c>saliency:</c>, the object):
/// a prompt is drawn from its truth as the paper does (box, centroid or random point, scribble, or a perturbed coarse
/// mask; seeded by the image id and class), the image segmented at the model's size (<see cref="ModelSize"/>), the
/// initial and final masks resized back to the image's own size and scored there against the truth, ignore pixels
/// excluded. One record per image (every target's IoUs before, after and per step) is streamed to a
/// <see cref="ResultsLog"/>; <see cref="Summarise"/> computes the summary from records alone, so shards merge.
/// </summary>
public static class PaintSegDatasetEvaluation
{
    /// <summary>The record kind written into every line.</summary>
    public const string Kind = "paintseg";

    static readonly string[] HeaderKeys = { "kind", "dataset", "split", "prompt", "painter", "features", "resamples", "classes", "settings" };

    /// <summary>Runs the evaluation over the shard's images not already in <paramref name="log"/>; returns the summary of all its records.</summary>
    public static JsonObject Run(PaintSegDatasetOptions options, IPainter painter, IFeatureExtractor features, ResultsLog? log = null, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(painter);
        ArgumentNullException.ThrowIfNull(features);
        options.Settings.Options.Validate();
        var dataset = options.Dataset;
        var header = new JsonObject
        {
            ["kind"] = Kind,
            ["dataset"] = dataset.Spec,
            ["split"] = dataset.Split,
            ["prompt"] = options.Settings.Prompt.ToString().ToLowerInvariant(),
            ["painter"] = painter.Name,
            ["features"] = features.Name,
            ["resamples"] = options.Settings.Resamples,
            ["classes"] = new JsonArray(dataset.ClassNames.Select(n => (JsonNode)n).ToArray()),
            ["settings"] = new JsonObject(PaintSegEvaluationSettings.Values(options.Settings).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        var (records, ids, todo) = DatasetRun.Plan(dataset, header, log, options.Shard, options.Limit);
        int total = todo.Length + records.Count;
        progress?.Invoke(records.Count, total);
        var segmenter = new PaintSegSegmenter(painter, features, options.Settings.Options);
        foreach (var i in todo)
        {
            var record = Evaluate(options, segmenter, DatasetRun.NewRecord(header, i, ids[i], ids.Count));
            log?.Append(record);
            records.Add(record);
            progress?.Invoke(records.Count, total);
        }
        return Summarise(records);
    }

    static JsonObject Evaluate(PaintSegDatasetOptions options, PaintSegSegmenter segmenter, JsonObject record)
    {
        var watch = Stopwatch.StartNew();
        var id = (string)record["id"]!;
        var sample = options.Dataset.Load(id);
        int width = sample.Width, height = sample.Height;
        var (w, h) = ModelSize.Fit(width, height, options.Resolution);
        record["width"] = width;
        record["height"] = height;
        record["model_width"] = w;
        record["model_height"] = h;
        var objects = new JsonArray();
        using (var scope = NewDisposeScope())
        {
            var image = Resize.Bilinear(sample.ImageTensor(), h, w);
            var labels = sample.LabelTensor();
            var scored = labels.ne(MaskIO.Ignore);
            foreach (var c in Enumerable.Range(1, options.Dataset.ClassNames.Count - 1).Where(c => sample.Labels.Contains((byte)c)))
            {
                using var objectScope = NewDisposeScope();
                var objectWatch = Stopwatch.StartNew();
                var truth = labels.eq(c);
                var truthAtModel = Resize.Nearest(truth, h, w);
                ulong seed = Pcg32.Derive(DatasetRun.StableHash(id), (ulong)c);
                var prompt = PromptFor(options.Settings, Masks.ToBytes(truthAtModel), truthAtModel, w, h, seed);
                using var result = segmenter.Segment(image, prompt, seed);
                double Iou(Tensor maskAtModel) => IouIgnoring(Resize.Bilinear(maskAtModel, height, width).gt(0.5), truth, scored);
                objects.Add(new JsonObject
                {
                    ["class"] = options.Dataset.ClassNames[c],
                    ["label"] = c,
                    ["iou_before"] = Iou(result.InitialMask),
                    ["iou_after"] = Iou(result.Mask),
                    ["per_step"] = new JsonArray(result.Steps.Select(s => (JsonNode)Iou(s.MaskAfter)).ToArray()),
                    ["notes"] = new JsonArray(result.Steps.Select(s => (JsonNode?)s.Note).ToArray()),
                    ["seconds"] = objectWatch.Elapsed.TotalSeconds,
                });
            }
        }
        record["objects"] = objects;
        record["seconds"] = watch.Elapsed.TotalSeconds;
        return record;
    }

    /// <summary>The prompt of one target drawn from its truth at the model's size, as the ToyWorld evaluation draws it.</summary>
    static Prompt PromptFor(PaintSegEvalSettings s, byte[] truth, Tensor truthTensor, int width, int height, ulong seed) => s.Prompt switch
    {
        PromptKind.Box => Prompts.Box(truth, width, height, s.PromptNoise, seed),
        PromptKind.Point => Prompts.Point(truth, width, height, s.PointMode, s.PromptNoise, seed),
        PromptKind.Scribble => Prompts.Scribble(truth, width, height, s.PromptNoise, seed),
        _ => ScenePrompts.FromCoarse(CoarseMasks.Make(truthTensor.to_type(ScalarType.Float32), s.Severity, seed)),
    };

    /// <summary>IoU of two bool masks [H, W] over the pixels <paramref name="scored"/> (the truth's non-ignore pixels); 1 when both are empty.</summary>
    public static double IouIgnoring(Tensor predicted, Tensor truth, Tensor scored)
    {
        using var scope = NewDisposeScope();
        var p = predicted.logical_and(scored);
        var t = truth.logical_and(scored);
        long inter = p.logical_and(t).sum().item<long>(), union = p.logical_or(t).sum().item<long>();
        return union == 0 ? 1.0 : (double)inter / union;
    }

    /// <summary>
    /// The summary of records (one run, its shards, or a resumed run), in dataset order: <see cref="RefinementSummary"/>'s
    /// keys (means with bootstrap intervals over targets, the paired gain, per class), <c>per_step</c>, the run's header
    /// and counts; times under <c>timing</c>.
    /// </summary>
    public static JsonObject Summarise(IReadOnlyList<JsonObject> records, string? source = null)
    {
        var (header, ordered) = DatasetRun.Ordered(records, HeaderKeys, Kind, source);
        var objects = ordered.SelectMany(r => r["objects"]!.AsArray().Select(o => (Index: (int)r["index"]!, Object: o!))).ToArray();
        if (objects.Length == 0) throw new InvalidDataException($"{source ?? "records"}: no image holds a target class");
        var scores = objects.Select(o => new ObjectScore(o.Index, (int)o.Object["label"]!, (string)o.Object["class"]!,
            (double)o.Object["iou_before"]!, (double)o.Object["iou_after"]!)).ToArray();
        var summary = RefinementSummary.From(scores, (int)header["resamples"]!).ToJson();
        var steps = objects.Select(o => o.Object["per_step"]!.AsArray().Select(v => (double)v!).ToArray()).ToArray();
        int count = steps.Max(s => s.Length);
        summary["per_step"] = new JsonArray(Enumerable.Range(0, count).Select(t => (JsonNode)steps.Where(s => s.Length > t).Average(s => s[t])).ToArray());
        foreach (var (k, v) in header) summary[k] = v?.DeepClone();
        summary["images"] = ordered.Length;
        summary["images_in_split"] = (int)ordered[0]["count"]!;
        summary["timing"] = new JsonObject
        {
            ["image_seconds"] = ordered.Sum(r => (double)r["seconds"]!),
            ["seconds_per_object"] = objects.Average(o => (double)o.Object["seconds"]!),
        };
        return summary;
    }
}
