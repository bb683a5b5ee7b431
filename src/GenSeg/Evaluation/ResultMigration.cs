using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.ToyWorld;

namespace GenSeg.Evaluation;

/// <summary>
/// Rewrites result JSONs of the first schema (before <see cref="EvaluationResult.Schema"/>) into the current one
/// without running anything (<c>genseg eval migrate FILE...</c>): G4Seg's (points, settings under <c>options</c>,
/// <c>rerun</c>) and PaintSeg's (fractions, <c>objects</c> with seeds) become one <see cref="EvaluationResult"/>. Every
/// number the old file holds is kept (fractions become points); what the old file did not record stays null (the
/// intervals of the mIoU before and after, per-class counts of G4Seg) or is derived from what it recorded (PaintSeg's
/// strata, from its objects).
/// </summary>
public static class ResultMigration
{
    /// <summary>Whether <paramref name="json"/> is of the current schema.</summary>
    public static bool IsCurrent(JsonObject json) => (string?)json?["schema"] == EvaluationResult.Schema;

    /// <summary>The current form of a first-schema result; an error names the source and what it lacks.</summary>
    public static EvaluationResult FromV1(JsonObject v1, string source = "result")
    {
        ArgumentNullException.ThrowIfNull(v1);
        if (IsCurrent(v1)) return EvaluationResult.FromJson(v1, source);
        if (v1["miou_before"] is not null && v1["options"] is not null) return G4Seg(v1);
        if (v1["iou_before"] is not null && v1["objects"] is not null && v1["settings"] is not null) return PaintSeg(v1);
        throw new InvalidDataException($"{source}: neither a G4Seg nor a PaintSeg result of the first schema (no miou_before with options, or iou_before with objects)");
    }

    /// <summary>Migrates a file in place (atomically); returns false when it already is of the current schema.</summary>
    public static bool MigrateFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"result '{path}': not found", path);
        var json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"result '{path}': not a JSON object");
        if (IsCurrent(json)) return false;
        FromV1(json, path).Write(path);
        return true;
    }

    static EvaluationResult G4Seg(JsonObject v1)
    {
        EvaluationRow Row(JsonObject r, IReadOnlyDictionary<string, string> settings) => new((string)r["setting"]!, settings,
            Estimate.Plain(D(r["miou_before"])), Estimate.Plain(D(r["miou_after"])),
            new Estimate(D(r["gain"]), D(r["gain_ci95"]?[0]), D(r["gain_ci95"]?[1])),
            r["per_class"]!.AsObject().Select(kv => new ClassFigure(kv.Key, null, D(kv.Value!["before"]), D(kv.Value["after"]))).ToArray(),
            r["strata"]!.AsArray().Select(s => new StratumFigure((string)s!["stratum"]!, (int)s["count"]!, D(s["iou_before"]), D(s["iou_after"]),
                Estimate.Plain(D(s["gain"])))).ToArray(),
            Array.Empty<double>(), D(r["seconds"]),
            (r["stage_seconds"]?.AsObject() ?? new JsonObject()).ToDictionary(kv => kv.Key, kv => D(kv.Value)));
        var settings = Strings(v1["options"]!);
        var source = (string)v1["source"]!;
        // the settings of a sweep's other rows were not recorded: each row's label names its one changed setting
        var rows = (v1["sweep"]?.AsArray() ?? new JsonArray(v1.DeepClone())).Select(r => Row(r!.AsObject(), RowSettings(settings, (string)r!["setting"]!))).ToArray();
        var comparison = (v1["comparison"]?.AsArray() ?? new JsonArray()).Select(r => Row(r!.AsObject(), new Dictionary<string, string>())).ToArray();
        var command = ((string?)v1["rerun"] ?? "").Replace(" --scenes ", " --count ", StringComparison.Ordinal);
        return new EvaluationResult("g4seg", EvaluationResult.MetricMiou, DatasetSpec.ToyWorld, (string)v1["split"]!, (int?)v1["first_seed"],
            (int)v1["scenes"]!, (int)v1["image_classes"]!, new InputDescription(source, InputDescription.Soft), (string?)v1["model"] ?? KitPaths.EmbeddedModel,
            command, rows, comparison, Array.Empty<TargetResult>());
    }

    static IReadOnlyDictionary<string, string> RowSettings(IReadOnlyDictionary<string, string> first, string label)
    {
        int eq = label.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) return first;
        var s = new Dictionary<string, string>(first) { [label[..eq]] = label[(eq + 1)..] };
        return s;
    }

    static EvaluationResult PaintSeg(JsonObject v1)
    {
        var split = (string)v1["split"]!;
        var prompt = (string)v1["prompt"]!;
        var old = Strings(v1["settings"]!);
        var start = PaintSegEvaluationSettings.Table.Defaults with
        {
            Painter = (string?)v1["painter"] == "oracle" ? PainterChoice.Oracle : PainterChoice.Diffusion,
            Prompt = Enum.Parse<Methods.Inputs.PromptKind>(prompt, ignoreCase: true),
        };
        var settings = PaintSegEvaluationSettings.Table.Values(PaintSegEvaluationSettings.Table.ApplyAll(start, old));
        var objects = v1["objects"]!.AsArray().Select(o => new TargetResult($"{ToyWorldDataset.IdOf((int)o!["seed"]!)}/{(int)o["object"]!}", (string)o["class"]!,
            100 * D(o["iou_before"]), 100 * D(o["iou_after"]), o["per_step"]!.AsArray().Select(v => 100 * D(v)).ToArray(), D(o["seconds"]),
            (o["notes"]?.AsArray() ?? new JsonArray()).Select(n => (string?)n).ToArray())).ToArray();
        Estimate Fig(string key) => new(100 * D(v1[key]), 100 * D(v1[key + "_ci95"]?[0]), 100 * D(v1[key + "_ci95"]?[1]));
        var perClass = v1["per_class"]!.AsObject().Select(kv => new ClassFigure(kv.Key, (int?)kv.Value!["count"], 100 * D(kv.Value["iou_before"]), 100 * D(kv.Value["iou_after"]))).ToArray();
        var row = new EvaluationRow("paintseg", settings, Fig("iou_before"), Fig("iou_after"), Fig("gain"), perClass,
            TargetSummary.StrataOf(objects.Select(o => (o.Before / 100, o.After / 100)).ToArray(), Bootstrap.DefaultResamples),
            v1["per_step"]!.AsArray().Select(v => 100 * D(v)).ToArray(), objects.Sum(o => o.Seconds), new Dictionary<string, double>());
        int first = Splits.Range(Splits.Parse(split)).First;
        var flags = new JsonObject { ["split"] = split, ["first-seed"] = first, ["count"] = objects.Length, ["prompt"] = prompt, ["model"] = KitPaths.EmbeddedModel };
        return new EvaluationResult("paintseg", EvaluationResult.MetricMeanIou, DatasetSpec.ToyWorld, split, first,
            objects.Select(o => o.Id.Split('/')[0]).Distinct().Count(), objects.Length,
            new InputDescription($"prompt:{prompt}" + (prompt == "mask" ? $" ({settings["severity"]})" : $" (noise {settings["prompt-noise"]})"), InputDescription.Prompt),
            KitPaths.EmbeddedModel, RerunCommand.For("paintseg", flags, settings), new[] { row }, Array.Empty<EvaluationRow>(), objects);
    }

    static Dictionary<string, string> Strings(JsonNode o) => o.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!);

    static double D(JsonNode? n) => n is null ? double.NaN : (double)n;
}
