using System.Diagnostics;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Features;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>
/// The painter of a PaintSeg evaluation, chosen by name (one set of words for the CLI and the notebooks):
/// <c>diffusion</c>, the model's inpainting UNet (<see cref="Painter"/>), or <c>oracle</c>, ToyWorld's exact renders
/// (<see cref="ToyWorldOraclePainter"/>: the ideal painter, ToyWorld only).
/// </summary>
public sealed class PainterChoice
{
    /// <summary>The model's inpainting UNet.</summary>
    public const string Diffusion = "diffusion";

    /// <summary>ToyWorld's exact renders.</summary>
    public const string Oracle = "oracle";

    readonly Func<PaintSegTarget, IPainter> painterFor;

    /// <summary>A painter of each target by <paramref name="painterFor"/>, named <paramref name="name"/> (your own painter: <see cref="Of"/>).</summary>
    public PainterChoice(string name, Func<PaintSegTarget, IPainter> painterFor)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(painterFor);
        Name = name;
        this.painterFor = painterFor;
    }

    /// <summary>The painter's name as the first target's painter gives it (e.g. "inpaint(toyworld-sd, 20 it)").</summary>
    public string Name { get; }

    /// <summary>The painter of <paramref name="target"/>.</summary>
    public IPainter For(PaintSegTarget target) => painterFor(target);

    /// <summary>The one painter of every target when there is one (then several targets can be painted in one batch), else null.</summary>
    public IPainter? Shared { get; private init; }

    /// <summary>One painter for every target (e.g. your own <see cref="IPainter"/>).</summary>
    public static PainterChoice Of(IPainter painter)
    {
        ArgumentNullException.ThrowIfNull(painter);
        return new PainterChoice(painter.Name, _ => painter) { Shared = painter };
    }

    /// <summary>A painter name from text: diffusion or oracle.</summary>
    public static string Parse(string text) => (text ?? "").Trim().ToLowerInvariant() switch
    {
        Diffusion or "model" => Diffusion,
        Oracle or "ideal" => Oracle,
        _ => throw new FormatException("expected diffusion (the model's inpainting UNet) or oracle (ToyWorld's exact renders)"),
    };

    /// <summary>
    /// The painter <paramref name="settings"/> names: one diffusion painter for every target (it needs
    /// <paramref name="pipeline"/> with an inpainting UNet), or an oracle per ToyWorld object.
    /// </summary>
    public static PainterChoice Create(PaintSegEvaluationOptions settings, StableDiffusionPipeline? pipeline)
    {
        ArgumentNullException.ThrowIfNull(settings);
        switch (settings.Painter)
        {
            case Diffusion:
                if (pipeline is null) throw new ArgumentException("painter diffusion: needs the diffusion model (a pipeline)", nameof(pipeline));
                if (pipeline.InpaintUnet is null)
                    throw new ArgumentException($"model {pipeline.Folder}: no inpainting UNet ({StableDiffusionPipeline.InpaintFolder}/ or a 9-channel unet); PaintSeg paints with one", nameof(pipeline));
                return Of(new Painter(pipeline, settings.Options));
            case Oracle:
                var scene = settings.Scene;
                return new PainterChoice("oracle", t => t.Scene is { } s
                    ? new ToyWorldOraclePainter(s, t.ObjectIndex, scene)
                    : throw new ArgumentException($"painter oracle paints with ToyWorld's exact renders; target {t.Id} is not a ToyWorld object (use painter diffusion)"));
            default:
                throw new ArgumentException($"painter '{settings.Painter}': expected diffusion or oracle", nameof(settings));
        }
    }
}

/// <summary>
/// Evaluates PaintSeg on any targets (<see cref="PaintSegTargets"/>: ToyWorld's objects or a dataset's classes) under
/// one or more settings (a sweep): each target is prompted, segmented, and its initial and final masks scored. One
/// record per target (its IoUs before, after and per step under every setting) is streamed to a
/// <see cref="ResultsLog"/>; targets a resumed log holds are read back, not run; <see cref="Summarise"/> computes the
/// result from records alone, so a run split into shards and merged gives the same result as one run. Serves
/// <c>genseg eval paintseg</c> and the notebooks.
/// </summary>
public static class PaintSegEvaluation
{
    /// <summary>The record kind of every line.</summary>
    public const string Kind = "paintseg";

    static readonly string[] HeaderKeys = { "kind", "dataset", "split", "first_seed", "flags", "prompt", "model", "resamples", "rows" };

    /// <summary>
    /// Objects segmented in lockstep when no batch is given, their paints in one batch
    /// (<see cref="PaintSegSegmenter.SegmentAll"/>): <see cref="SmallImageObjectBatch"/> for images of at most 128 x 128
    /// pixels (ToyWorld's scale, where batches gain), else 1 (at 512 px one object's N paints already fill the model's
    /// batch and memory). Results equal one object at a time up to float rounding. Measured: docs/performance.md,
    /// "PaintSeg objects in one batch".
    /// </summary>
    public static int AutoObjectBatch(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return image.shape[^1] * image.shape[^2] <= 128 * 128 ? SmallImageObjectBatch : 1;
    }

    /// <summary>The object batch <see cref="AutoObjectBatch"/> gives small images.</summary>
    public const int SmallImageObjectBatch = 4;

    /// <summary>
    /// Runs every setting of <paramref name="rows"/> on the shard's targets not already in <paramref name="log"/>; the
    /// painters and extractors come from each row's settings (<see cref="PainterChoice.Create"/>, <see cref="FeatureExtractors"/>)
    /// unless <paramref name="painters"/> gives a row's painter; <paramref name="progress"/> gets (images done, images).
    /// Up to <paramref name="objectBatch"/> targets (null: <see cref="AutoObjectBatch"/> of the first image) are
    /// segmented in lockstep with their paints in one batch when a row has one painter for every target (the diffusion
    /// painter); each target's record is the same as one at a time's up to float rounding, and its seconds are its share
    /// of the batch's. Returns the result of all the log's records and this run's.
    /// </summary>
    public static EvaluationResult Run(PaintSegTargets targets, IReadOnlyList<(string Label, PaintSegEvaluationOptions Settings)> rows,
        StableDiffusionPipeline? pipeline, ResultsLog? log = null, Shard? shard = null, Action<int, int>? progress = null,
        Func<PaintSegEvaluationOptions, PainterChoice>? painters = null, int? objectBatch = null)
    {
        if (objectBatch < 1) throw new ArgumentOutOfRangeException(nameof(objectBatch), objectBatch, "object batch: expected >= 1 (objects segmented in one batch)");
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) throw new ArgumentException("rows: expected at least one setting", nameof(rows));
        foreach (var (label, s) in rows)
        {
            try { PaintSegEvaluationSettings.Table.Validate(s); }
            catch (ArgumentException e) { throw new ArgumentException($"setting {label}: {e.Message}", e); }
        }
        shard ??= Shard.All;
        var choices = rows.Select(r => painters?.Invoke(r.Settings) ?? PainterChoice.Create(r.Settings, pipeline)).ToArray();
        var extractors = new List<IFeatureExtractor>();
        try
        {
            foreach (var (_, s) in rows) extractors.Add(FeatureExtractors.Create(s.Features, pipeline));
            var header = Header(targets, rows, choices, extractors, pipeline is null ? "" : KitPaths.Portable(pipeline.Folder));
            var done = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
            foreach (var r in log?.Existing ?? Array.Empty<JsonObject>())
            {
                DatasetRun.CheckSameRun(r, header, log!.Path);
                done[(string)r["id"]!] = r;
            }
            var records = new List<JsonObject>(done.Values);
            var images = Enumerable.Range(0, targets.ImageIds.Count).Where(shard.Includes).ToArray();
            int finished = 0, next = 0;
            progress?.Invoke(0, images.Length);
            while (next < images.Length)
            {
                using var scope = NewDisposeScope();
                // load images until a batch of targets to run is ready (at most a batch of images, so resumed targets
                // are not all held at once); each row draws its own prompts (a sweep of prompt noise or severity changes them)
                var jobs = new List<(int Image, int Target, PaintSegTarget[] PerRow)>();
                int loaded = 0;
                while (next < images.Length && jobs.Count < (objectBatch ?? 1) && loaded < (objectBatch ?? 1))
                {
                    int i = images[next++];
                    loaded++;
                    var perRow = rows.Select(row => targets.Load(i, row.Settings)).ToArray();
                    if (objectBatch is null && perRow[0].Count > 0) objectBatch = AutoObjectBatch(perRow[0][0].Image);
                    for (int k = 0; k < perRow[0].Count; k++)
                        if (!done.ContainsKey(perRow[0][k].Id)) jobs.Add((i, k, perRow.Select(p => p[k]).ToArray()));
                }
                foreach (var batch in jobs.Chunk(objectBatch ?? 1))
                {
                    var results = rows.Select((row, r) => Segment(batch.Select(j => j.PerRow[r]).ToArray(), row.Settings, choices[r], extractors[r])).ToArray();
                    for (int b = 0; b < batch.Length; b++)
                    {
                        var (i, k, perRow) = batch[b];
                        var record = DatasetRun.NewRecord(header, i, perRow[0].Id, targets.ImageIds.Count);
                        record["target"] = k;
                        record["class"] = perRow[0].ClassName;
                        record["results"] = new JsonArray(results.Select(r => (JsonNode)r[b]).ToArray());
                        log?.Append(record);
                        records.Add(record);
                    }
                }
                finished += loaded;
                progress?.Invoke(finished, images.Length);
            }
            return Summarise(records);
        }
        finally
        {
            foreach (var e in extractors) (e as IDisposable)?.Dispose();
        }
    }

    /// <summary>
    /// Runs <paramref name="settings"/> on its ToyWorld objects (its split, count and first seed): the notebooks' one-line call.
    /// </summary>
    public static EvaluationResult Run(PaintSegEvaluationOptions settings, StableDiffusionPipeline? pipeline, ResultsLog? log = null,
        Action<int, int>? progress = null, int? objectBatch = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Run(new ToyWorldTargets(settings.Split, settings.FirstSeed, settings.Count, settings.Scene), new[] { ("paintseg", settings) }, pipeline, log,
            null, progress, objectBatch: objectBatch);
    }

    /// <summary>
    /// Runs one setting of PaintSeg on targets (in one batch when the painter is shared): each target's IoUs (points)
    /// before, after and after each step, its seconds and each step's note.
    /// </summary>
    static JsonObject[] Segment(IReadOnlyList<PaintSegTarget> targets, PaintSegEvaluationOptions settings, PainterChoice painter, IFeatureExtractor features)
    {
        using var scope = NewDisposeScope();
        if (painter.Shared is null && targets.Count > 1)
            return targets.SelectMany(t => Segment(new[] { t }, settings, painter, features)).ToArray();
        var segmenter = new PaintSegSegmenter(painter.Shared ?? painter.For(targets[0]), features, settings.Options);
        var watch = Stopwatch.StartNew();
        var results = segmenter.SegmentAll(targets.Select(t => new PaintSegInput(t.Image, t.Prompt, t.Seed)).ToArray());
        double seconds = watch.Elapsed.TotalSeconds / targets.Count;
        try
        {
            return targets.Select((target, i) => new JsonObject
            {
                ["before"] = 100 * target.Iou(results[i].InitialMask),
                ["after"] = 100 * target.Iou(results[i].Mask),
                ["per_step"] = new JsonArray(results[i].Steps.Select(s => (JsonNode)(100 * target.Iou(s.MaskAfter))).ToArray()),
                ["seconds"] = seconds,
                ["notes"] = new JsonArray(results[i].Steps.Select(s => (JsonNode?)s.Note).ToArray()),
            }).ToArray();
        }
        finally
        {
            foreach (var r in results) r.Dispose();
        }
    }

    /// <summary>The fields every record of a run repeats: kind, dataset, split, first seed, prompt, model, resamples, and each row's label, painter, features and settings.</summary>
    static JsonObject Header(PaintSegTargets targets, IReadOnlyList<(string Label, PaintSegEvaluationOptions Settings)> rows,
        IReadOnlyList<PainterChoice> painters, IReadOnlyList<IFeatureExtractor> extractors, string model) => new()
    {
        ["kind"] = Kind,
        ["dataset"] = targets.Dataset,
        ["split"] = targets.Split,
        ["first_seed"] = targets.FirstSeed,
        ["flags"] = Flags(targets, rows[0].Settings, model),
        ["prompt"] = rows[0].Settings.Prompt.ToString().ToLowerInvariant(),
        ["model"] = model,
        ["resamples"] = rows[0].Settings.Resamples,
        ["rows"] = new JsonArray(rows.Select((r, i) => (JsonNode)new JsonObject
        {
            ["label"] = r.Label,
            ["painter"] = painters[i].Name,
            ["features"] = extractors[i].Name,
            ["settings"] = new JsonObject(PaintSegEvaluationSettings.Table.Values(r.Settings).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        }).ToArray()),
    };

    /// <summary>The run's own flags of <c>genseg eval paintseg</c> (the settings come from the table).</summary>
    static JsonObject Flags(PaintSegTargets targets, PaintSegEvaluationOptions settings, string model)
    {
        var flags = new JsonObject { ["dataset"] = targets.Dataset, ["split"] = targets.Split };
        if (targets.FirstSeed is { } f) flags["first-seed"] = f;
        if (targets.Requested is { } n) flags["count"] = n;
        flags["model"] = model;
        return flags;
    }

    /// <summary>
    /// The result of records (one run, its shards, or a resumed run), in target order: per row the mean IoU before and
    /// after over targets with bootstrap intervals, the paired gain, per class, by stratum and per step
    /// (<see cref="TargetSummary"/>); the first row's targets under <see cref="EvaluationResult.Objects"/>.
    /// </summary>
    public static EvaluationResult Summarise(IReadOnlyList<JsonObject> records, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) throw new InvalidDataException($"{source ?? "records"}: no target evaluated");
        var (header, ordered) = DatasetRun.Ordered(records, HeaderKeys, Kind, source, r => ((int)r["index"]!, (int)r["target"]!));
        int resamples = (int)header["resamples"]!;
        var rowHeaders = header["rows"]!.AsArray();
        var rows = new List<EvaluationRow>();
        IReadOnlyList<TargetResult> first = Array.Empty<TargetResult>();
        for (int r = 0; r < rowHeaders.Count; r++)
        {
            var targets = ordered.Select(rec =>
            {
                var o = rec["results"]![r]!;
                return new TargetResult((string)rec["id"]!, (string)rec["class"]!, (double)o["before"]!, (double)o["after"]!,
                    o["per_step"]!.AsArray().Select(v => (double)v!).ToArray(), (double)o["seconds"]!,
                    o["notes"]!.AsArray().Select(n => (string?)n).ToArray());
            }).ToArray();
            if (r == 0) first = targets;
            var settings = rowHeaders[r]!["settings"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!);
            rows.Add(TargetSummary.Row((string)rowHeaders[r]!["label"]!, settings, targets, resamples, targets.Sum(t => t.Seconds)));
        }
        var prompt = (string)header["prompt"]!;
        var main = rowHeaders[0]!["settings"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!);
        return new EvaluationResult("paintseg", EvaluationResult.MetricMeanIou, (string)header["dataset"]!, (string)header["split"]!,
            (int?)header["first_seed"], ordered.Select(r => (int)r["index"]!).Distinct().Count(), ordered.Length,
            new InputDescription($"prompt:{prompt}" + (prompt == "mask" ? $" ({main["severity"]})" : $" (noise {main["prompt-noise"]})"), InputDescription.Prompt),
            (string)header["model"]!, RerunCommand.For("paintseg", header["flags"]!.AsObject(), main), rows, Array.Empty<EvaluationRow>(), first);
    }
}
