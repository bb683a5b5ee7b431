using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Features;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>One evaluated object (IoUs as fractions in [0, 1]).</summary>
/// <param name="SceneSeed">The scene's seed.</param>
/// <param name="ObjectIndex">The object's index in the scene.</param>
/// <param name="ClassName">The object's class.</param>
/// <param name="IouBefore">IoU of the prompt's initial mask (the whole image for points and scribbles).</param>
/// <param name="IouAfter">IoU of PaintSeg's result.</param>
/// <param name="StepIous">IoU after each step.</param>
/// <param name="Seconds">Wall-clock seconds of the segmentation.</param>
/// <param name="Notes">Each step's note (null when the step updated normally).</param>
public sealed record PaintSegObjectResult(int SceneSeed, int ObjectIndex, string ClassName, double IouBefore, double IouAfter,
    IReadOnlyList<double> StepIous, double Seconds, IReadOnlyList<string?> Notes);

/// <summary>
/// A PaintSeg evaluation (IoUs as fractions in [0, 1]): the initial masks' and the results' IoUs with bootstrap 95%
/// intervals, the paired gain and per-class means (<see cref="Summary"/>), and the mean IoU after each step.
/// </summary>
public sealed record PaintSegEvalResult(PaintSegEvalSettings Settings, string Painter, string Features, IReadOnlyList<PaintSegObjectResult> Objects,
    RefinementSummary Summary, IReadOnlyList<double> PerStep)
{
    /// <summary>Mean wall-clock seconds per object.</summary>
    public double SecondsPerObject => Objects.Average(o => o.Seconds);

    /// <summary>
    /// The result as JSON: the summary's keys (<c>iou_before</c>, <c>iou_after</c>, <c>gain</c>, <c>gain_ci95</c>,
    /// <c>iou_before_ci95</c>, <c>iou_after_ci95</c>, <c>per_class</c>, <c>count</c>), <c>per_step</c>, <c>prompt</c>,
    /// <c>split</c>, <c>painter</c>, <c>features</c>, <c>seconds_per_object</c>, <c>settings</c> and <c>objects</c>.
    /// </summary>
    public JsonObject ToJson()
    {
        var json = Summary.ToJson();
        json["per_step"] = new JsonArray(PerStep.Select(v => (JsonNode)v).ToArray());
        json["prompt"] = Settings.Prompt.ToString().ToLowerInvariant();
        json["split"] = Settings.Split.ToString().ToLowerInvariant();
        json["painter"] = Painter;
        json["features"] = Features;
        json["seconds_per_object"] = SecondsPerObject;
        json["settings"] = new JsonObject(PaintSegEvaluationSettings.Values(Settings).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        json["objects"] = new JsonArray(Objects.Select(o => (JsonNode)new JsonObject
        {
            ["seed"] = o.SceneSeed,
            ["object"] = o.ObjectIndex,
            ["class"] = o.ClassName,
            ["iou_before"] = o.IouBefore,
            ["iou_after"] = o.IouAfter,
            ["per_step"] = new JsonArray(o.StepIous.Select(v => (JsonNode)v).ToArray()),
            ["seconds"] = o.Seconds,
            ["notes"] = new JsonArray(o.Notes.Select(n => (JsonNode?)n).ToArray()),
        }).ToArray());
        return json;
    }
}

/// <summary>One run of a sweep: the value and its result.</summary>
public sealed record PaintSegSweepRun(string Value, PaintSegEvalResult Result);

/// <summary>
/// Evaluates PaintSeg on ToyWorld objects: each object of consecutive scenes of a split gets a prompt (made as
/// <c>genseg toyworld</c> makes it), is segmented, and its initial and final masks are scored against the truth.
/// Serves <c>genseg eval paintseg</c> and the notebooks.
/// </summary>
public static class PaintSegEvaluation
{
    /// <summary>The seed ToyWorld's export uses for object <paramref name="objectIndex"/>'s prompts.</summary>
    public static ulong PromptSeed(int sceneSeed, int objectIndex) => Pcg32.Derive(CoarseMasks.SeedFor(sceneSeed, objectIndex), 0x9807);

    /// <summary>The first <paramref name="count"/> objects (scene, object index) of the split from <paramref name="firstSeed"/>.</summary>
    public static IEnumerable<(Scene Scene, int ObjectIndex)> Objects(Split split, int? firstSeed, int count, ToyWorldOptions? scene = null)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count: expected at least one object");
        var (start, size) = Splits.Range(split);
        int seed = firstSeed ?? start;
        Splits.Seeds(split, seed, 1); // checks the first seed lies in the split
        int produced = 0;
        while (produced < count)
        {
            if (seed - (long)start >= size)
                throw new ArgumentOutOfRangeException(nameof(count), count, $"count: the {split} split has too few scenes after seed {firstSeed ?? start}");
            var s = SceneGenerator.Generate(seed, scene);
            for (int k = 0; k < s.Objects.Count && produced < count; k++, produced++) yield return (s, k);
            seed++;
        }
    }

    /// <summary>The prompt of one object under <paramref name="settings"/> (prompt type, noise, severity, point mode).</summary>
    public static Prompt PromptFor(Scene scene, int objectIndex, PaintSegEvalSettings settings)
    {
        ArgumentNullException.ThrowIfNull(scene);
        var o = scene.Objects[objectIndex];
        ulong seed = PromptSeed(scene.Seed, objectIndex);
        switch (settings.Prompt)
        {
            case PromptKind.Box: return ScenePrompts.Box(o, scene.Size, settings.PromptNoise, seed);
            case PromptKind.Point: return ScenePrompts.Point(o, scene.Size, settings.PointMode, settings.PromptNoise, seed);
            case PromptKind.Scribble: return ScenePrompts.Scribble(o, scene.Size, settings.PromptNoise, seed);
            default:
                // the caller's dispose scope owns the coarse mask's tensors
                return ScenePrompts.FromCoarse(CoarseMasks.Make(scene.InstanceTensor(objectIndex), settings.Severity, CoarseMasks.SeedFor(scene.Seed, objectIndex)));
        }
    }

    /// <summary>
    /// Runs the evaluation. <paramref name="painterFor"/> gives the painter of an object (the same diffusion painter for
    /// all, or a <see cref="ToyWorldOraclePainter"/> per object); <paramref name="progress"/> gets (done, total).
    /// With <paramref name="log"/> every object's record (<see cref="Record"/>) is streamed to it as it finishes, and the
    /// objects a resumed log already holds are read back instead of run, so a killed run loses at most one object;
    /// <paramref name="shard"/> takes every N-th object. The result is the same as one uninterrupted run's.
    /// </summary>
    public static PaintSegEvalResult Run(PaintSegEvalSettings settings, Func<Scene, int, IPainter> painterFor, IFeatureExtractor features,
        Action<int, int>? progress = null, ResultsLog? log = null, Shard? shard = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(painterFor);
        ArgumentNullException.ThrowIfNull(features);
        settings.Options.Validate();
        shard ??= Shard.All;
        var objects = Objects(settings.Split, settings.FirstSeed, settings.Count, settings.Scene).ToArray();
        var results = new PaintSegObjectResult?[objects.Length];
        string painterName = painterFor(objects[0].Scene, objects[0].ObjectIndex).Name;
        var header = Header(settings, painterName, features.Name);
        foreach (var r in log?.Existing ?? Array.Empty<JsonObject>())
        {
            DatasetRun.CheckSameRun(r, header, log!.Path);
            int i = (int)r["index"]!;
            if (i < 0 || i >= objects.Length || (string)r["id"]! != IdOf(objects[i].Scene.Seed, objects[i].ObjectIndex))
                throw new InvalidDataException($"results file '{log.Path}': record '{r["id"]}' at position {i} is not object {i} of this run's objects; resume with the same split and first seed");
            results[i] = FromRecord(r);
        }
        int total = Enumerable.Range(0, objects.Length).Count(shard.Includes), done = results.Count(r => r is not null);
        progress?.Invoke(done, total);
        for (int i = 0; i < objects.Length; i++)
        {
            if (!shard.Includes(i) || results[i] is not null) continue;
            var (scene, k) = objects[i];
            using var scope = NewDisposeScope();
            var painter = painterFor(scene, k);
            var segmenter = new PaintSegSegmenter(painter, features, settings.Options);
            var truth = scene.InstanceTensor(k);
            var prompt = PromptFor(scene, k, settings);
            var image = scene.ImageTensor();
            var watch = Stopwatch.StartNew();
            using var result = segmenter.Segment(image, prompt, Pcg32.Derive(unchecked((ulong)scene.Seed), (ulong)k));
            double seconds = watch.Elapsed.TotalSeconds;
            results[i] = new PaintSegObjectResult(scene.Seed, k, scene.Objects[k].ClassName,
                Metrics.Iou(result.InitialMask, truth), Metrics.Iou(result.Mask, truth),
                result.Steps.Select(s => Metrics.Iou(s.MaskAfter, truth)).ToArray(), seconds,
                result.Steps.Select(s => s.Note).ToArray());
            log?.Append(Record(header, i, objects.Length, results[i]!));
            progress?.Invoke(++done, total);
        }
        return Summarise(settings, painterName, features.Name, results.Where((r, i) => shard.Includes(i) && r is not null).Select(r => r!).ToArray());
    }

    /// <summary>The record kind of a ToyWorld PaintSeg run's lines.</summary>
    public const string Kind = "paintseg-toyworld";

    /// <summary>The id of object <paramref name="objectIndex"/> of scene <paramref name="sceneSeed"/>: the scene's id, a slash, the index.</summary>
    public static string IdOf(int sceneSeed, int objectIndex) => $"{ToyWorldDataset.IdOf(sceneSeed)}/{objectIndex}";

    /// <summary>The fields every record of a run repeats: kind, dataset, split, prompt, painter, features, resamples and every setting.</summary>
    public static JsonObject Header(PaintSegEvalSettings settings, string painter, string features)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new JsonObject
        {
            ["kind"] = Kind,
            ["dataset"] = DatasetSpec.ToyWorld,
            ["split"] = settings.Split.ToString().ToLowerInvariant(),
            ["first_seed"] = settings.FirstSeed ?? Splits.Range(settings.Split).First,
            ["prompt"] = settings.Prompt.ToString().ToLowerInvariant(),
            ["painter"] = painter,
            ["features"] = features,
            ["resamples"] = settings.Resamples,
            ["settings"] = new JsonObject(PaintSegEvaluationSettings.Values(settings).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
    }

    /// <summary>One object's line: its position among the run's <paramref name="count"/> objects, its id and result, and the header.</summary>
    public static JsonObject Record(JsonObject header, int index, int count, PaintSegObjectResult o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var record = DatasetRun.NewRecord(header, index, IdOf(o.SceneSeed, o.ObjectIndex), count);
        record["seed"] = o.SceneSeed;
        record["object"] = o.ObjectIndex;
        record["class"] = o.ClassName;
        record["iou_before"] = o.IouBefore;
        record["iou_after"] = o.IouAfter;
        record["per_step"] = new JsonArray(o.StepIous.Select(v => (JsonNode)v).ToArray());
        record["seconds"] = o.Seconds;
        record["notes"] = new JsonArray(o.Notes.Select(n => (JsonNode?)n).ToArray());
        return record;
    }

    /// <summary>The object result a record holds.</summary>
    public static PaintSegObjectResult FromRecord(JsonObject r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new PaintSegObjectResult((int)r["seed"]!, (int)r["object"]!, (string)r["class"]!, (double)r["iou_before"]!, (double)r["iou_after"]!,
            r["per_step"]!.AsArray().Select(v => (double)v!).ToArray(), (double)r["seconds"]!, r["notes"]!.AsArray().Select(n => (string?)n).ToArray());
    }

    /// <summary>Means, bootstrap intervals (paired for the gain), per class and per step, from per-object results.</summary>
    public static PaintSegEvalResult Summarise(PaintSegEvalSettings settings, string painter, string features, IReadOnlyList<PaintSegObjectResult> objects)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var summary = RefinementSummary.From(objects.Select(o => new ObjectScore(o.SceneSeed, o.ObjectIndex, o.ClassName, o.IouBefore, o.IouAfter)).ToArray(), settings.Resamples);
        int steps = objects.Max(o => o.StepIous.Count);
        var perStep = Enumerable.Range(0, steps).Select(t => objects.Where(o => o.StepIous.Count > t).Average(o => o.StepIous[t])).ToArray();
        return new PaintSegEvalResult(settings, painter, features, objects, summary, perStep);
    }

    /// <summary>
    /// Runs the evaluation once per value of the setting <paramref name="key"/>. <paramref name="paintersFor"/> builds the
    /// painters for each swept setting, so painter settings (iterations, paints, guidance, painter form) are swept too.
    /// </summary>
    public static IReadOnlyList<PaintSegSweepRun> Sweep(PaintSegEvalSettings settings, string key, IReadOnlyList<string> values,
        Func<PaintSegEvalSettings, Func<Scene, int, IPainter>> paintersFor, IFeatureExtractor features, Action<string, int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(paintersFor);
        if (values.Count == 0) throw new ArgumentException("values: expected at least one value to sweep", nameof(values));
        var runs = new List<PaintSegSweepRun>();
        foreach (var v in values)
        {
            var s = PaintSegEvaluationSettings.Apply(settings, key, v);
            runs.Add(new PaintSegSweepRun(v, Run(s, paintersFor(s), features, (done, total) => progress?.Invoke(v, done, total))));
        }
        return runs;
    }

    /// <summary>
    /// A sweep as JSON: <c>sweep</c> (the key) and <c>runs</c> (each run's JSON with its <c>value</c>); the top-level
    /// result keys repeat the first run's, so a reader of single runs reads a sweep too.
    /// </summary>
    public static JsonObject SweepJson(string key, IReadOnlyList<PaintSegSweepRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0) throw new ArgumentException("runs: expected at least one run", nameof(runs));
        var json = runs[0].Result.ToJson();
        json.Remove("objects");
        json["sweep"] = key;
        json["runs"] = new JsonArray(runs.Select(r =>
        {
            var j = r.Result.ToJson();
            j["value"] = r.Value;
            return (JsonNode)j;
        }).ToArray());
        return json;
    }

    /// <summary>Writes JSON atomically, indented.</summary>
    public static void WriteJson(JsonObject json, string path) =>
        AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
