using System.Diagnostics;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Diffusion;
using GenSeg.Imaging;
using GenSeg.Methods;
using GenSeg.Methods.DenseCrf;
using GenSeg.Methods.G4Seg;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>Where the coarse masks G4Seg refines come from.</summary>
public enum CoarseSource
{
    /// <summary>ToyWorld's perturbation generator (<see cref="CoarseMasks"/>) at a severity: each object's soft map.</summary>
    Perturb,

    /// <summary>The text-only cross-attention segmenter (<see cref="CrossAttentionSegmenter"/>) with the image's class names.</summary>
    Attention,

    /// <summary>Files named after the images (<see cref="CoarseMaskFiles"/>): label maps (hard) or probability maps (soft).</summary>
    Files,
}

/// <summary>Settings of <see cref="G4SegEvaluation.Run"/>.</summary>
public sealed record G4SegEvaluationOptions
{
    /// <summary>The images: ToyWorld (<see cref="ToyWorldDataset"/>) or any dataset.</summary>
    public required ISegmentationDataset Dataset { get; init; }

    /// <summary>The coarse-mask source.</summary>
    public CoarseSource Source { get; init; } = CoarseSource.Perturb;

    /// <summary>Perturbation severity (<see cref="CoarseSource.Perturb"/>, ToyWorld only).</summary>
    public Severity Severity { get; init; } = Severity.Medium;

    /// <summary>The cross-attention segmenter's settings (<see cref="CoarseSource.Attention"/>).</summary>
    public CrossAttentionOptions Attention { get; init; } = new();

    /// <summary>The folder of coarse masks (<see cref="CoarseSource.Files"/>).</summary>
    public string? CoarseFolder { get; init; }

    /// <summary>The G4Seg settings, one per row (a sweep); labels name each row.</summary>
    public IReadOnlyList<(string Label, G4SegOptions Options)> Settings { get; init; } = new[] { ("g4seg", new G4SegOptions()) };

    /// <summary>Also run DenseCRF on the coarse masks and CRF-then-G4Seg (with the first setting), as G4Seg's Table 6.</summary>
    public bool CompareCrf { get; init; }

    /// <summary>DenseCRF settings; null: the kit's defaults with the bilateral sxy scaled from 512 px to the image size.</summary>
    public DenseCrfOptions? Crf { get; init; }

    /// <summary>Images per UNet batch (images of one size go through the UNet together).</summary>
    public int ImagesPerBatch { get; init; } = 16;

    /// <summary>The images this run takes.</summary>
    public Shard Shard { get; init; } = Shard.All;

    /// <summary>What <c>--count</c> asked for (recorded to rerun; the dataset already holds only those images).</summary>
    public int? Requested { get; init; }

    /// <summary>Bootstrap resamples for the intervals.</summary>
    public int Resamples { get; init; } = 2000;
}

/// <summary>
/// Evaluates G4Seg on any dataset (ToyWorld included): each image's coarse maps come from the chosen source, the image
/// and maps are resized as the papers do (<see cref="ModelSize"/>: short side to the model's resolution), refined there
/// by every setting (images of one size batched through the UNet), resized back and scored at the image's own size
/// (ignore pixels excluded). One record per image (its confusion matrices before and after each setting and times) is
/// streamed to a <see cref="ResultsLog"/>; images a resumed log holds are not run again; <see cref="Summarise"/>
/// computes the result from records alone, so shards merge. Serves <c>genseg eval g4seg</c> and the notebooks.
/// </summary>
public static class G4SegEvaluation
{
    /// <summary>The record kind of every line.</summary>
    public const string Kind = "g4seg";

    /// <summary>What hard (label-map) coarse masks do to G4Seg, written into results that refine them.</summary>
    public const string HardMaskNote =
        "hard label maps: every pixel is 0 or 1 (0.5 where ignored), so the confusion area ([lo, hi] of the class maximum) holds almost " +
        "nothing and G4Seg changes little; pass the segmenter's probability maps (DIR/ID/CLASS.png) instead";

    /// <summary>The K = 8 ToyWorld object class names (class k is label k + 1).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = ToyClasses.ObjectClasses.Select(ToyClasses.Name).ToArray();

    /// <summary>[B, K] bool: which object classes each scene holds.</summary>
    public static Tensor Present(IReadOnlyList<Scene> scenes)
    {
        ArgumentNullException.ThrowIfNull(scenes);
        int k = ToyClasses.Count - 1;
        var flags = new bool[scenes.Count * k];
        for (int i = 0; i < scenes.Count; i++)
            foreach (var c in scenes[i].ClassesPresent) flags[i * k + c - 1] = true;
        return tensor(flags, new long[] { scenes.Count, k });
    }

    static readonly string[] HeaderKeys = { "kind", "dataset", "split", "flags", "coarse", "model", "resamples", "classes", "rows", "compare" };

    /// <summary>Runs the evaluation over the shard's images not already in <paramref name="log"/>; <paramref name="progress"/> gets (images done, images).</summary>
    public static EvaluationResult Run(StableDiffusionPipeline pipeline, G4SegEvaluationOptions options, ResultsLog? log = null, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Settings.Count == 0) throw new ArgumentException("settings: expected at least one G4Seg setting", nameof(options));
        if (options.ImagesPerBatch < 1) throw new ArgumentOutOfRangeException(nameof(options), options.ImagesPerBatch, "images per batch: expected >= 1");
        if (options.Source == CoarseSource.Perturb && options.Dataset is not ToyWorldDataset)
            throw new ArgumentException($"coarse perturb: ToyWorld's perturbation generator needs ToyWorld's scenes; dataset {options.Dataset.Spec} takes coarse masks from files (--coarse-dir) or the attention segmenter");
        if (options.Source == CoarseSource.Files && !Directory.Exists(options.CoarseFolder))
            throw new DirectoryNotFoundException($"coarse-mask folder '{options.CoarseFolder}': not found");
        options.Attention.Validate(pipeline.Scheduler.NumTrainTimesteps);
        foreach (var (label, o) in options.Settings)
        {
            try { o.Validate(pipeline.Scheduler.NumTrainTimesteps); }
            catch (ArgumentException e) { throw new ArgumentException($"setting {label}: {e.Message}", e); }
        }
        if (options.CompareCrf && !options.Settings[0].Options.Correspondence)
            throw new ArgumentException("compare crf: the first setting must refine (not modules=baseline), since DenseCRF + G4Seg runs it");

        var header = Header(pipeline, options);
        var (records, ids, todo) = DatasetRun.Plan(options.Dataset, header, log, options.Shard, null);
        int total = todo.Length + records.Count;
        progress?.Invoke(records.Count, total);
        var refiners = new List<G4SegRefiner?>();
        try
        {
            foreach (var (_, o) in options.Settings) refiners.Add(o.Correspondence ? new G4SegRefiner(pipeline, o) : null);
            for (int start = 0; start < todo.Length; start += options.ImagesPerBatch)
            {
                var chunk = todo.Skip(start).Take(options.ImagesPerBatch).ToArray();
                foreach (var record in EvaluateChunk(pipeline, options, refiners, header, chunk, ids))
                {
                    log?.Append(record);
                    records.Add(record);
                }
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
    static JsonObject Header(StableDiffusionPipeline pipeline, G4SegEvaluationOptions options)
    {
        var dataset = options.Dataset;
        var toy = dataset as ToyWorldDataset;
        var flags = new JsonObject { ["dataset"] = dataset.Spec, ["split"] = dataset.Split };
        if (toy is not null) flags["first-seed"] = toy.Seeds[0];
        if (options.Requested is { } n) flags["count"] = n;
        string coarse;
        switch (options.Source)
        {
            case CoarseSource.Perturb:
                coarse = $"perturb:{options.Severity}";
                flags["coarse"] = "perturb";
                flags["severity"] = options.Severity.ToString();
                break;
            case CoarseSource.Attention:
                coarse = "attention";
                flags["coarse"] = "attention";
                foreach (var (k, v) in CrossAttentionSettings.Table.Values(options.Attention)) flags["attention-" + k] = v;
                break;
            default:
                coarse = $"files:{options.CoarseFolder}";
                flags["coarse-dir"] = options.CoarseFolder;
                break;
        }
        if (options.CompareCrf) flags["compare"] = "crf";
        flags["batch"] = options.ImagesPerBatch;
        flags["model"] = KitPaths.Portable(pipeline.Folder);
        return new JsonObject
        {
            ["kind"] = Kind,
            ["dataset"] = dataset.Spec,
            ["split"] = dataset.Split,
            ["flags"] = flags,
            ["coarse"] = coarse,
            ["model"] = KitPaths.Portable(pipeline.Folder),
            ["resamples"] = options.Resamples,
            ["classes"] = new JsonArray(dataset.ClassNames.Select(c => (JsonNode)c).ToArray()),
            ["rows"] = new JsonArray(options.Settings.Select(s => (JsonNode)new JsonObject
            {
                ["label"] = s.Label,
                ["settings"] = new JsonObject(G4SegSettings.Table.Values(s.Options).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            }).ToArray()),
            ["compare"] = options.CompareCrf ? "crf" : null,
        };
    }

    /// <summary>One image loaded: its sample, coarse maps [K, H, W] and present classes [K] at its own size.</summary>
    sealed record Loaded(int Index, string Id, Sample Sample, Tensor Truth, Tensor? Coarse, Tensor Present, ulong Seed, int ModelWidth, int ModelHeight, string CoarseKind);

    static IEnumerable<JsonObject> EvaluateChunk(StableDiffusionPipeline pipeline, G4SegEvaluationOptions options, List<G4SegRefiner?> refiners,
        JsonObject header, int[] chunk, IReadOnlyList<string> ids)
    {
        using var scope = NewDisposeScope();
        var watch = Stopwatch.StartNew();
        var dataset = options.Dataset;
        var names = dataset.ClassNames;
        var objectNames = names.Skip(1).ToArray();
        int n = names.Count;
        var loaded = chunk.Select(i => Load(options, pipeline, i, ids[i])).ToArray();
        double loadSeconds = watch.Elapsed.TotalSeconds / chunk.Length;
        var records = new List<JsonObject>();
        // images of one model size go through the UNet together
        foreach (var group in loaded.GroupBy(l => (l.ModelWidth, l.ModelHeight)))
        {
            var g = group.ToArray();
            var (w, h) = group.Key;
            var images = stack(g.Select(l => ToModel(l.Sample.ImageTensor(), h, w)).ToArray()).to(pipeline.Device);
            var present = stack(g.Select(l => l.Present).ToArray()).to(pipeline.Device);
            var coarseWatch = Stopwatch.StartNew();
            Tensor coarse; // [B, K, h, w] at the model's size
            if (options.Source == CoarseSource.Attention)
            {
                using var segmentation = CrossAttentionSegmenter.Segment(pipeline, images, objectNames, present, options.Attention);
                coarse = segmentation.Probabilities.clone();
            }
            else coarse = stack(g.Select(l => ToModel(l.Coarse!, h, w).clamp_(0, 1)).ToArray()).to(pipeline.Device);
            double coarseSeconds = coarseWatch.Elapsed.TotalSeconds / g.Length + loadSeconds;
            var seeds = g.Select(l => l.Seed).ToArray();
            var perImage = g.Select(l => DatasetRun.NewRecord(header, l.Index, l.Id, ids.Count)).ToArray();
            var coarseAtImage = g.Select((l, i) => ToImage(coarse[i].cpu(), l)).ToArray();
            for (int i = 0; i < g.Length; i++)
            {
                perImage[i]["width"] = g[i].Sample.Width;
                perImage[i]["height"] = g[i].Sample.Height;
                perImage[i]["model_width"] = w;
                perImage[i]["model_height"] = h;
                perImage[i]["image_classes"] = g[i].Present.sum().item<long>();
                perImage[i]["coarse_seconds"] = coarseSeconds;
                perImage[i]["coarse_kind"] = g[i].CoarseKind;
                perImage[i]["before"] = Scores(Labels(coarseAtImage[i], g[i].Present), g[i].Truth, n);
                perImage[i]["after"] = new JsonArray();
            }
            for (int r = 0; r < options.Settings.Count; r++)
            {
                var rowWatch = Stopwatch.StartNew();
                if (refiners[r] is not { } refiner)
                {
                    for (int i = 0; i < g.Length; i++)
                    {
                        var row = perImage[i]["before"]!.DeepClone().AsObject();
                        row["seconds"] = 0.0;
                        perImage[i]["after"]!.AsArray().Add(row);
                    }
                    continue;
                }
                using var result = refiner.Refine(images, coarse, objectNames, present, seeds);
                double seconds = rowWatch.Elapsed.TotalSeconds / g.Length;
                for (int i = 0; i < g.Length; i++)
                {
                    var row = Scores(Labels(ToImage(result.Refined[i].cpu(), g[i]), g[i].Present), g[i].Truth, n);
                    row["seconds"] = seconds;
                    row["stage_seconds"] = new JsonObject(result.Seconds.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)(kv.Value / g.Length))));
                    perImage[i]["after"]!.AsArray().Add(row);
                }
            }
            if (options.CompareCrf) CompareCrf(options, refiners[0]!, images, coarse, present, objectNames, seeds, g, perImage, n);
            records.AddRange(perImage);
        }
        foreach (var r in records) r["seconds"] = watch.Elapsed.TotalSeconds / chunk.Length;
        return records.OrderBy(r => (int)r["index"]!).ToArray();
    }

    /// <summary>DenseCRF on the coarse maps and DenseCRF then G4Seg (the first setting), as G4Seg's Table 6.</summary>
    static void CompareCrf(G4SegEvaluationOptions options, G4SegRefiner refiner, Tensor images, Tensor coarse, Tensor present, string[] objectNames,
        ulong[] seeds, Loaded[] g, JsonObject[] records, int n)
    {
        var watch = Stopwatch.StartNew();
        var combined = G4SegStages.Combine(coarse, present).Probabilities; // [B, 1 + K, H, W]
        var crfOptions = options.Crf ?? new DenseCrfOptions { BilateralSxy = 80f * (float)images.shape[3] / 512f };
        var q = stack(Enumerable.Range(0, g.Length).Select(i => DenseCrf.Infer(DenseCrf.ToRgbBytes(images[i].cpu()), combined[i].cpu(), crfOptions)).ToArray());
        double crfSeconds = watch.Elapsed.TotalSeconds / g.Length;
        watch.Restart();
        var crfProbabilities = (q[.., 1..].to(coarse.device) * present.to_type(ScalarType.Float32).unsqueeze(2).unsqueeze(3)).contiguous();
        using var refined = refiner.Refine(images, crfProbabilities, objectNames, present, seeds);
        double bothSeconds = watch.Elapsed.TotalSeconds / g.Length;
        for (int i = 0; i < g.Length; i++)
        {
            var crf = Scores(ToImage(q[i], g[i]).argmax(0), g[i].Truth, n); // the CRF's most probable label
            crf["seconds"] = crfSeconds;
            var both = Scores(Labels(ToImage(refined.Refined[i].cpu(), g[i]), g[i].Present), g[i].Truth, n);
            both["seconds"] = bothSeconds;
            records[i]["densecrf"] = crf;
            records[i]["densecrf+g4seg"] = both;
        }
    }

    static Loaded Load(G4SegEvaluationOptions options, StableDiffusionPipeline pipeline, int index, string id)
    {
        var sample = options.Dataset.Load(id);
        var truth = sample.LabelTensor();
        int k = options.Dataset.ClassNames.Count - 1;
        var (w, h) = ModelSize.Fit(sample.Width, sample.Height, pipeline.Vae.Config.SampleSize);
        // the classes the image holds (its image-level labels), or those its coarse file maps
        var inTruth = new bool[k];
        foreach (var b in sample.Labels) if (b >= 1 && b <= k) inTruth[b - 1] = true;
        Tensor? coarse = null;
        Tensor present = tensor(inTruth);
        string kind = InputDescription.Soft;
        ulong seed;
        var toy = options.Dataset as ToyWorldDataset;
        if (toy is not null) seed = (ulong)int.Parse(id, System.Globalization.CultureInfo.InvariantCulture);
        else seed = Pcg32.Derive(DatasetRun.StableHash(id), 0x64A7A);
        switch (options.Source)
        {
            case CoarseSource.Perturb:
                coarse = PerturbedMaps(SceneGenerator.Generate((int)seed, toy!.SceneOptions), options.Severity);
                break;
            case CoarseSource.Files:
                coarse = CoarseMaskFiles.Load(options.CoarseFolder!, id, options.Dataset.ClassNames, sample.Width, sample.Height);
                if (CoarseMaskFiles.IsLabelMap(options.CoarseFolder!, id)) kind = InputDescription.Hard;
                present = coarse.amax(new long[] { 1, 2 }).gt(0);
                break;
        }
        return new Loaded(index, id, sample, truth, coarse, present, seed, w, h, kind);
    }

    /// <summary>Each class's coarse map [K, H, W] of a scene: the maximum of its objects' perturbed masks at <paramref name="severity"/>.</summary>
    public static Tensor PerturbedMaps(Scene scene, Severity severity)
    {
        ArgumentNullException.ThrowIfNull(scene);
        using var scope = NewDisposeScope();
        var maps = zeros(ToyClasses.Count - 1, scene.Size, scene.Size);
        for (int j = 0; j < scene.Objects.Count; j++)
        {
            using var truth = scene.InstanceTensor(j);
            using var mask = CoarseMasks.Make(truth, severity, CoarseMasks.SeedFor(scene.Seed, j));
            int c = scene.Objects[j].ClassIndex - 1;
            maps[c] = maximum(maps[c], mask.Probability);
        }
        return maps.MoveToOuterDisposeScope();
    }

    static Tensor ToModel(Tensor x, int h, int w) => x.shape[^2] == h && x.shape[^1] == w ? x : Resize.Bilinear(x, h, w);

    static Tensor ToImage(Tensor maps, Loaded l) =>
        maps.shape[^2] == l.Sample.Height && maps.shape[^1] == l.Sample.Width ? maps : Resize.Bilinear(maps, l.Sample.Height, l.Sample.Width).clamp_(0, 1);

    static Tensor Labels(Tensor maps, Tensor present) => G4SegStages.Combine(maps.unsqueeze(0), present.unsqueeze(0).cpu()).Labels[0];

    /// <summary>The confusion matrix (flat, rows = truth) and per-class IoUs (null where the class is absent from the truth).</summary>
    static JsonObject Scores(Tensor labels, Tensor truth, int n)
    {
        var c = Metrics.ConfusionMatrix(labels, truth, n).cpu().contiguous().data<long>().ToArray();
        return new JsonObject
        {
            ["confusion"] = new JsonArray(c.Select(v => (JsonNode)v).ToArray()),
            ["iou"] = new JsonArray(SegmentationScores.ImageIous(c, n).Select(v => double.IsNaN(v) ? null : (JsonNode)v).ToArray()),
        };
    }

    /// <summary>
    /// The result of records (one run, its shards, or a resumed run), in dataset order: per setting the dataset mIoU
    /// before and after (from summed confusion matrices) with bootstrap intervals over images, the paired gain, per
    /// class, by initial-IoU stratum; the DenseCRF comparison when the run made one.
    /// </summary>
    public static EvaluationResult Summarise(IReadOnlyList<JsonObject> records, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        var (header, ordered) = DatasetRun.Ordered(records, HeaderKeys, Kind, source);
        int resamples = (int)header["resamples"]!;
        var names = header["classes"]!.AsArray().Select(c => (string)c!).ToArray();
        int n = names.Length;
        var before = Scores(ordered.Select(r => r["before"]!), n);
        var rowHeaders = header["rows"]!.AsArray();
        var rows = new List<EvaluationRow>();
        for (int s = 0; s < rowHeaders.Count; s++)
        {
            var after = ordered.Select(r => r["after"]!.AsArray()[s]!).ToArray();
            var stages = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var a in after)
                if (a["stage_seconds"] is JsonObject st) foreach (var (k, v) in st) stages[k] = stages.GetValueOrDefault(k) + (double)v!;
            rows.Add(Row((string)rowHeaders[s]!["label"]!, Settings(rowHeaders[s]!), names, before, Scores(after, n), resamples,
                after.Sum(a => (double)a["seconds"]!), stages));
        }
        var comparison = new List<EvaluationRow>();
        if ((string?)header["compare"] == "crf")
        {
            var none = new Dictionary<string, double>();
            var main = Settings(rowHeaders[0]!);
            comparison.Add(Row("coarse", new Dictionary<string, string>(), names, before, before, resamples, ordered.Sum(r => (double)r["coarse_seconds"]!), none));
            comparison.Add(rows[0] with { Label = $"g4seg ({rows[0].Label})" });
            foreach (var method in new[] { "densecrf", "densecrf+g4seg" })
            {
                var m = ordered.Select(r => r[method]!).ToArray();
                comparison.Add(Row(method, method == "densecrf" ? new Dictionary<string, string>() : main, names, before, Scores(m, n), resamples,
                    m.Sum(x => (double)x["seconds"]!), none));
            }
        }
        var kinds = ordered.Select(r => (string)r["coarse_kind"]!).ToArray();
        int hard = kinds.Count(k => k == InputDescription.Hard);
        var kind = hard == 0 ? InputDescription.Soft : hard == kinds.Length ? InputDescription.Hard : InputDescription.Mixed;
        string? note = hard == 0 ? null : hard == kinds.Length ? HardMaskNote : $"{hard} of {kinds.Length} images have {HardMaskNote}";
        var flags = header["flags"]!.AsObject();
        var firstSeed = flags["first-seed"] is { } f ? (int?)f : null;
        return new EvaluationResult("g4seg", EvaluationResult.MetricMiou, (string)header["dataset"]!, (string)header["split"]!, firstSeed,
            ordered.Length, (int)ordered.Sum(r => (long)r["image_classes"]!),
            new InputDescription((string)header["coarse"]!, kind, note), (string)header["model"]!,
            RerunCommand.For("g4seg", flags, Settings(rowHeaders[0]!)), rows, comparison, Array.Empty<TargetResult>());
    }

    static IReadOnlyDictionary<string, string> Settings(JsonNode row) =>
        row["settings"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!);

    static SegmentationScores Scores(IEnumerable<JsonNode> scores, int n)
    {
        var s = new SegmentationScores(n);
        foreach (var x in scores) s.Add(x["confusion"]!.AsArray().Select(v => (long)v!).ToArray());
        return s;
    }

    static EvaluationRow Row(string label, IReadOnlyDictionary<string, string> settings, IReadOnlyList<string> names, SegmentationScores before,
        SegmentationScores after, int resamples, double seconds, IReadOnlyDictionary<string, double> stages)
    {
        var b = before.MeanIou();
        var a = after.MeanIou();
        var gain = SegmentationScores.GainCi(before, after, resamples);
        var bCi = SegmentationScores.MeanIouCi(before, resamples, 1);
        var aCi = SegmentationScores.MeanIouCi(after, resamples, 2);
        var perClass = Enumerable.Range(0, names.Count)
            .Select(k => new ClassFigure(names[k], before.ImagesHolding(k), 100 * b.PerClass[k], 100 * a.PerClass[k])).ToArray();
        return new EvaluationRow(label, settings, Estimate.Points(bCi), Estimate.Points(aCi), Estimate.Points(gain), perClass,
            TargetSummary.StrataOf(SegmentationScores.StrataItems(before, after), resamples), Array.Empty<double>(), seconds, stages);
    }
}
