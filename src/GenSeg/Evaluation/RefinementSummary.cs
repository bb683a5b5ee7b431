using System.Text.Json.Nodes;

namespace GenSeg.Evaluation;

/// <summary>One object's IoU before and after a refinement (fractions in [0, 1]).</summary>
/// <param name="SceneSeed">The scene's seed.</param>
/// <param name="ObjectIndex">The object's index in the scene.</param>
/// <param name="ClassName">The object's class.</param>
/// <param name="IouBefore">IoU of the input mask.</param>
/// <param name="IouAfter">IoU of the refined mask.</param>
public sealed record ObjectScore(int SceneSeed, int ObjectIndex, string ClassName, double IouBefore, double IouAfter);

/// <summary>Mean IoUs of one class.</summary>
/// <param name="Count">Objects of the class.</param>
/// <param name="IouBefore">Mean input IoU.</param>
/// <param name="IouAfter">Mean refined IoU.</param>
public sealed record ClassScore(int Count, double IouBefore, double IouAfter);

/// <summary>
/// Before/after IoU over objects: means with percentile-bootstrap 95% intervals, the paired gain (after - before) with
/// its interval, and per-class means. Shared by the PaintSeg and DenseCRF evaluations.
/// </summary>
public sealed record RefinementSummary(int Count, ConfidenceInterval IouBefore, ConfidenceInterval IouAfter, ConfidenceInterval Gain,
    IReadOnlyDictionary<string, ClassScore> PerClass)
{
    /// <summary>Summarises per-object scores (bootstrap seeded, so reruns agree).</summary>
    public static RefinementSummary From(IReadOnlyList<ObjectScore> scores, int resamples = Bootstrap.DefaultResamples)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0) throw new ArgumentException("scores: expected at least one evaluated object", nameof(scores));
        var before = scores.Select(o => o.IouBefore).ToArray();
        var after = scores.Select(o => o.IouAfter).ToArray();
        var perClass = scores.GroupBy(o => o.ClassName).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new ClassScore(g.Count(), g.Average(o => o.IouBefore), g.Average(o => o.IouAfter)));
        return new RefinementSummary(scores.Count, Bootstrap.MeanCi(before, 1, resamples), Bootstrap.MeanCi(after, 2, resamples),
            Bootstrap.PairedDifferenceCi(after, before, 3, resamples), perClass);
    }

    /// <summary>
    /// <c>iou_before</c>, <c>iou_after</c>, <c>gain</c>, <c>gain_ci95</c> ([lower, upper]), <c>iou_before_ci95</c>,
    /// <c>iou_after_ci95</c>, <c>per_class</c> ({class: {count, iou_before, iou_after}}) and <c>count</c>.
    /// </summary>
    public JsonObject ToJson() => new()
    {
        ["iou_before"] = IouBefore.Estimate,
        ["iou_after"] = IouAfter.Estimate,
        ["gain"] = Gain.Estimate,
        ["gain_ci95"] = new JsonArray(Gain.Lower, Gain.Upper),
        ["iou_before_ci95"] = new JsonArray(IouBefore.Lower, IouBefore.Upper),
        ["iou_after_ci95"] = new JsonArray(IouAfter.Lower, IouAfter.Upper),
        ["per_class"] = new JsonObject(PerClass.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonObject
        {
            ["count"] = kv.Value.Count,
            ["iou_before"] = kv.Value.IouBefore,
            ["iou_after"] = kv.Value.IouAfter,
        }))),
        ["count"] = Count,
    };
}
