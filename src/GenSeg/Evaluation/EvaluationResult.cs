using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GenSeg.Common;

namespace GenSeg.Evaluation;

/// <summary>A figure in IoU points (0-100) with its 95% interval; the bounds are NaN where no interval was computed.</summary>
/// <param name="Value">The estimate.</param>
/// <param name="Lower">Lower end of the 95% interval.</param>
/// <param name="Upper">Upper end of the 95% interval.</param>
public sealed record Estimate(double Value, double Lower, double Upper)
{
    /// <summary>A figure without an interval.</summary>
    public static Estimate Plain(double value) => new(value, double.NaN, double.NaN);

    /// <summary>An interval of fractions in [0, 1] as points.</summary>
    public static Estimate Points(ConfidenceInterval ci)
    {
        ArgumentNullException.ThrowIfNull(ci);
        return new(100 * ci.Estimate, 100 * ci.Lower, 100 * ci.Upper);
    }

    /// <summary>Whether the interval lies wholly above or wholly below 0 (false without one).</summary>
    public bool ExcludesZero => Lower > 0 || Upper < 0;

    /// <summary>"62.1 [58.3, 65.9]" (the value alone without an interval).</summary>
    public override string ToString() => double.IsNaN(Lower)
        ? F(Value)
        : $"{F(Value)} [{F(Lower)}, {F(Upper)}]";

    static string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
}

/// <summary>One class's figures in one row, in points.</summary>
/// <param name="Name">The class.</param>
/// <param name="Count">Targets of the class (PaintSeg: objects; G4Seg: images holding it); null where a migrated result did not record it.</param>
/// <param name="Before">IoU before (G4Seg: the dataset IoU of the class; PaintSeg: the mean over its objects).</param>
/// <param name="After">IoU after.</param>
public sealed record ClassFigure(string Name, int? Count, double Before, double After);

/// <summary>
/// The figures of one initial-IoU stratum (&lt;40, 40-80, 80-100: G4Seg's Appendix I), in points: the mean IoU before
/// and after over its targets (image-classes or objects) and the mean gain with its 95% interval.
/// </summary>
public sealed record StratumFigure(string Stratum, int Count, double Before, double After, Estimate Gain);

/// <summary>
/// One evaluated setting: IoU before and after with 95% intervals and the paired gain, per class, by initial-IoU
/// stratum, after each step (PaintSeg), its settings and its time. IoU in points.
/// </summary>
/// <param name="Label">"g4seg", "paintseg", or the swept "name=value".</param>
/// <param name="Settings">Every setting of the row by name (the table's values: they rerun it).</param>
/// <param name="Before">The input's IoU (coarse masks or the prompt's initial mask).</param>
/// <param name="After">The refined IoU.</param>
/// <param name="Gain">After minus before, its interval from a paired bootstrap.</param>
/// <param name="PerClass">Per class, in the dataset's class order (G4Seg) or by name (PaintSeg).</param>
/// <param name="Strata">The gain by initial IoU.</param>
/// <param name="PerStep">PaintSeg: the mean IoU after each step; empty for one-pass methods.</param>
/// <param name="Seconds">Seconds this row's method took over all targets.</param>
/// <param name="StageSeconds">Seconds by stage (G4Seg).</param>
public sealed record EvaluationRow(string Label, IReadOnlyDictionary<string, string> Settings, Estimate Before, Estimate After, Estimate Gain,
    IReadOnlyList<ClassFigure> PerClass, IReadOnlyList<StratumFigure> Strata, IReadOnlyList<double> PerStep, double Seconds,
    IReadOnlyDictionary<string, double> StageSeconds);

/// <summary>
/// An evaluation of a refinement or segmentation method, the one result every method's evaluation returns
/// (<c>genseg eval g4seg|paintseg|crf</c>, the notebooks) and its one JSON schema (<see cref="ToJson"/>,
/// <see cref="FromJson"/>): IoU in points, every setting under <c>settings</c>, the command that reruns it under
/// <c>command</c>, intervals as <c>*_ci95</c> pairs, strata as G4Seg's Appendix I bins.
/// </summary>
/// <param name="Method">g4seg, paintseg or densecrf.</param>
/// <param name="Metric">
/// miou (the dataset mIoU over the classes and background, from summed confusion matrices; intervals by a bootstrap
/// over images) or mean-iou (the mean IoU over targets; intervals by a bootstrap over targets).
/// </param>
/// <param name="Dataset">toyworld, or the dataset spec (voc:DIR, ...).</param>
/// <param name="Split">The split.</param>
/// <param name="FirstSeed">ToyWorld: the first scene seed; null for datasets.</param>
/// <param name="Images">Images evaluated.</param>
/// <param name="Targets">Targets evaluated: image-classes (G4Seg) or objects (PaintSeg).</param>
/// <param name="Input">What is refined: its source (perturb:medium, attention, files:DIR, prompt:box) and kind.</param>
/// <param name="Model">The model folder.</param>
/// <param name="Command">The command line that reruns the first row.</param>
/// <param name="Rows">One row per setting (a sweep); the first is the result's headline.</param>
/// <param name="Comparison">Other methods on the same inputs (G4Seg's Table 6: DenseCRF, DenseCRF + G4Seg), or empty.</param>
/// <param name="Objects">Per-target results (PaintSeg), or empty.</param>
public sealed record EvaluationResult(string Method, string Metric, string Dataset, string Split, int? FirstSeed, int Images, int Targets,
    InputDescription Input, string Model, string Command, IReadOnlyList<EvaluationRow> Rows, IReadOnlyList<EvaluationRow> Comparison,
    IReadOnlyList<TargetResult> Objects)
{
    /// <summary>The schema's name, written as <c>schema</c>.</summary>
    public const string Schema = "genseg-result/2";

    /// <summary>The headline row (the first).</summary>
    public EvaluationRow Main => Rows[0];

    /// <summary>The unit of <see cref="Targets"/>: image-classes (miou) or objects (mean-iou).</summary>
    public string TargetUnit => Metric == MetricMiou ? "image-classes" : "objects";

    /// <summary>The dataset mIoU metric.</summary>
    public const string MetricMiou = "miou";

    /// <summary>The mean-over-targets metric.</summary>
    public const string MetricMeanIou = "mean-iou";

    /// <summary>
    /// The JSON: <c>schema</c>, <c>method</c>, <c>metric</c>, <c>unit</c>, the data (<c>dataset</c>, <c>split</c>,
    /// <c>first_seed</c>, <c>images</c>, <c>count</c>, <c>count_of</c>), <c>input</c> {source, kind}, <c>model</c>,
    /// <c>command</c>, the headline row's figures at the top (<c>before</c>, <c>before_ci95</c>, <c>after</c>,
    /// <c>after_ci95</c>, <c>gain</c>, <c>gain_ci95</c>, <c>per_class</c>, <c>strata</c>, <c>per_step</c>,
    /// <c>settings</c>, <c>timing</c>), every row under <c>sweep</c> (each with its <c>label</c>), <c>comparison</c>
    /// and <c>objects</c>. Numbers are rounded to 4 decimals; NaN is null.
    /// </summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["schema"] = Schema,
            ["method"] = Method,
            ["metric"] = Metric,
            ["unit"] = "IoU points (0-100)",
            ["dataset"] = Dataset,
            ["split"] = Split,
            ["first_seed"] = FirstSeed,
            ["images"] = Images,
            ["count"] = Targets,
            ["count_of"] = TargetUnit,
            ["input"] = new JsonObject { ["source"] = Input.Source, ["kind"] = Input.Kind, ["note"] = Input.Note },
            ["model"] = Model,
            ["command"] = Command,
        };
        foreach (var (k, v) in RowJson(Main)) if (k != "label") json[k] = v?.DeepClone();
        json["sweep"] = new JsonArray(Rows.Select(r => (JsonNode)RowJson(r)).ToArray());
        json["comparison"] = new JsonArray(Comparison.Select(r => (JsonNode)RowJson(r)).ToArray());
        json["objects"] = new JsonArray(Objects.Select(o => (JsonNode)o.ToJson()).ToArray());
        return json;
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically, indented.</summary>
    public void Write(string path) => WriteJson(ToJson(), path);

    /// <summary>Writes JSON atomically, indented, with a final newline.</summary>
    public static void WriteJson(JsonObject json, string path)
    {
        ArgumentNullException.ThrowIfNull(json);
        AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Reads a result JSON of this schema; an error names the source and what is missing.</summary>
    public static EvaluationResult FromJson(JsonObject json, string source = "result")
    {
        ArgumentNullException.ThrowIfNull(json);
        if ((string?)json["schema"] != Schema)
            throw new InvalidDataException($"{source}: schema '{json["schema"]}', expected '{Schema}' (older files: `genseg eval migrate FILE`)");
        try
        {
            var input = json["input"]!;
            return new EvaluationResult((string)json["method"]!, (string)json["metric"]!, (string)json["dataset"]!, (string)json["split"]!,
                (int?)json["first_seed"], (int)json["images"]!, (int)json["count"]!,
                new InputDescription((string)input["source"]!, (string)input["kind"]!, (string?)input["note"]),
                (string)json["model"]!, (string)json["command"]!,
                json["sweep"]!.AsArray().Select(r => RowFromJson(r!.AsObject())).ToArray(),
                (json["comparison"]?.AsArray() ?? new JsonArray()).Select(r => RowFromJson(r!.AsObject())).ToArray(),
                (json["objects"]?.AsArray() ?? new JsonArray()).Select(o => TargetResult.FromJson(o!.AsObject())).ToArray());
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: not a complete {Schema} result ({e.Message})", e);
        }
    }

    /// <summary>Reads a result JSON file.</summary>
    public static EvaluationResult Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"result '{path}': not found", path);
        return FromJson(JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new InvalidDataException($"result '{path}': not a JSON object"), path);
    }

    /// <summary>A row's JSON (its figures under the same keys as the result's top level, and its <c>label</c>).</summary>
    public static JsonObject RowJson(EvaluationRow r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new JsonObject
        {
            ["label"] = r.Label,
            ["before"] = N(r.Before.Value),
            ["before_ci95"] = Ci(r.Before),
            ["after"] = N(r.After.Value),
            ["after_ci95"] = Ci(r.After),
            ["gain"] = N(r.Gain.Value),
            ["gain_ci95"] = Ci(r.Gain),
            ["per_class"] = new JsonObject(r.PerClass.Select(c => KeyValuePair.Create(c.Name,
                (JsonNode?)new JsonObject { ["count"] = c.Count, ["before"] = N(c.Before), ["after"] = N(c.After) }))),
            ["strata"] = new JsonArray(r.Strata.Select(s => (JsonNode)new JsonObject
            {
                ["stratum"] = s.Stratum,
                ["count"] = s.Count,
                ["before"] = N(s.Before),
                ["after"] = N(s.After),
                ["gain"] = N(s.Gain.Value),
                ["gain_ci95"] = Ci(s.Gain),
            }).ToArray()),
            ["per_step"] = new JsonArray(r.PerStep.Select(v => N(v)).ToArray()),
            ["settings"] = new JsonObject(r.Settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["timing"] = new JsonObject
            {
                ["seconds"] = N(r.Seconds),
                ["stage_seconds"] = new JsonObject(r.StageSeconds.Select(kv => KeyValuePair.Create(kv.Key, N(kv.Value)))),
            },
        };
    }

    static EvaluationRow RowFromJson(JsonObject r)
    {
        Estimate Fig(string key) => new(D(r[key]), D(r[key + "_ci95"]?[0]), D(r[key + "_ci95"]?[1]));
        return new EvaluationRow((string)r["label"]!,
            r["settings"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!),
            Fig("before"), Fig("after"), Fig("gain"),
            r["per_class"]!.AsObject().Select(kv => new ClassFigure(kv.Key, (int?)kv.Value!["count"], D(kv.Value["before"]), D(kv.Value["after"]))).ToArray(),
            r["strata"]!.AsArray().Select(s => new StratumFigure((string)s!["stratum"]!, (int)s["count"]!, D(s["before"]), D(s["after"]),
                new Estimate(D(s["gain"]), D(s["gain_ci95"]?[0]), D(s["gain_ci95"]?[1])))).ToArray(),
            r["per_step"]!.AsArray().Select(D).ToArray(),
            D(r["timing"]?["seconds"]),
            (r["timing"]?["stage_seconds"]?.AsObject() ?? new JsonObject()).ToDictionary(kv => kv.Key, kv => D(kv.Value)));
    }

    /// <summary>A number rounded to 4 decimals, null for NaN or infinity.</summary>
    public static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 4)) : null;

    static JsonNode? Ci(Estimate f) => double.IsNaN(f.Lower) ? null : new JsonArray(N(f.Lower), N(f.Upper));

    static double D(JsonNode? n) => n is null ? double.NaN : (double)n;
}

/// <summary>What an evaluation refines: where the inputs come from and their kind.</summary>
/// <param name="Source">perturb:SEVERITY, attention, files:DIR (G4Seg); prompt:KIND (PaintSeg); coarse:SEVERITY (DenseCRF).</param>
/// <param name="Kind">soft (probability maps), hard (label maps: 0/1 per class), mixed or prompt.</param>
/// <param name="Note">What the kind means for the method, when it matters (null otherwise).</param>
public sealed record InputDescription(string Source, string Kind, string? Note = null)
{
    /// <summary>Soft maps (probabilities).</summary>
    public const string Soft = "soft";

    /// <summary>Hard label maps.</summary>
    public const string Hard = "hard";

    /// <summary>Some images' inputs soft, some hard.</summary>
    public const string Mixed = "mixed";

    /// <summary>A prompt (box, point, scribble or a coarse mask).</summary>
    public const string Prompt = "prompt";
}

/// <summary>One target's result (PaintSeg: one object), IoU in points.</summary>
/// <param name="Id">The target's id: the image id, a slash, the object index (ToyWorld) or class label.</param>
/// <param name="ClassName">Its class.</param>
/// <param name="Before">IoU of the prompt's initial mask.</param>
/// <param name="After">IoU of the result.</param>
/// <param name="PerStep">IoU after each step.</param>
/// <param name="Seconds">Seconds it took.</param>
/// <param name="Notes">Each step's note (null when the step updated normally).</param>
public sealed record TargetResult(string Id, string ClassName, double Before, double After, IReadOnlyList<double> PerStep, double Seconds,
    IReadOnlyList<string?> Notes)
{
    /// <summary>The JSON of one target (<c>id</c>, <c>class</c>, <c>before</c>, <c>after</c>, <c>per_step</c>, <c>seconds</c>, <c>notes</c>).</summary>
    public JsonObject ToJson() => new()
    {
        ["id"] = Id,
        ["class"] = ClassName,
        ["before"] = EvaluationResult.N(Before),
        ["after"] = EvaluationResult.N(After),
        ["per_step"] = new JsonArray(PerStep.Select(v => EvaluationResult.N(v)).ToArray()),
        ["seconds"] = EvaluationResult.N(Seconds),
        ["notes"] = new JsonArray(Notes.Select(n => (JsonNode?)n).ToArray()),
    };

    /// <summary>Reads <see cref="ToJson"/>.</summary>
    public static TargetResult FromJson(JsonObject o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return new TargetResult((string)o["id"]!, (string)o["class"]!, (double)o["before"]!, (double)o["after"]!,
            o["per_step"]!.AsArray().Select(v => (double)v!).ToArray(), (double?)o["seconds"] ?? double.NaN,
            (o["notes"]?.AsArray() ?? new JsonArray()).Select(n => (string?)n).ToArray());
    }
}
