namespace GenSeg.Evaluation;

/// <summary>
/// The figures of a mean-over-targets evaluation (PaintSeg's objects, DenseCRF's objects), in points: the mean IoU
/// before and after with percentile-bootstrap 95% intervals over targets, the paired gain, per class, by initial-IoU
/// stratum (each with its gain's interval) and the mean IoU after each step. Bootstraps are seeded, so reruns agree.
/// </summary>
public static class TargetSummary
{
    /// <summary>
    /// The row of <paramref name="targets"/> (IoU in points); <paramref name="resamples"/> bootstrap resamples. The
    /// intervals are those of <see cref="RefinementSummary"/> (seeds 1, 2, 3), the strata's gains use seed 4.
    /// </summary>
    public static EvaluationRow Row(string label, IReadOnlyDictionary<string, string> settings, IReadOnlyList<TargetResult> targets, int resamples,
        double seconds)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Count == 0) throw new ArgumentException($"{label}: no target evaluated", nameof(targets));
        var summary = RefinementSummary.From(targets.Select(t => new ObjectScore(0, 0, t.ClassName, t.Before / 100, t.After / 100)).ToArray(), resamples);
        var perClass = summary.PerClass.Select(kv => new ClassFigure(kv.Key, kv.Value.Count, 100 * kv.Value.IouBefore, 100 * kv.Value.IouAfter)).ToArray();
        int steps = targets.Max(t => t.PerStep.Count);
        var perStep = Enumerable.Range(0, steps).Select(s => targets.Where(t => t.PerStep.Count > s).Average(t => t.PerStep[s])).ToArray();
        return new EvaluationRow(label, settings, Estimate.Points(summary.IouBefore), Estimate.Points(summary.IouAfter), Estimate.Points(summary.Gain),
            perClass, StrataOf(targets.Select(t => (t.Before / 100, t.After / 100)).ToArray(), resamples), perStep, seconds, new Dictionary<string, double>());
    }

    /// <summary>
    /// The strata of (before, after) pairs of fractions: per stratum its count, mean before and after in points, and
    /// the mean gain with a paired-bootstrap interval (seed 4; none for an empty stratum).
    /// </summary>
    public static IReadOnlyList<StratumFigure> StrataOf(IReadOnlyList<(double Before, double After)> items, int resamples)
    {
        ArgumentNullException.ThrowIfNull(items);
        var groups = Strata.Group(items, i => i.Before);
        return Strata.All.Select(s =>
        {
            var g = groups[s];
            if (g.Count == 0) return new StratumFigure(Strata.Label(s), 0, double.NaN, double.NaN, Estimate.Plain(double.NaN));
            var gain = Bootstrap.PairedDifferenceCi(g.Select(x => x.After).ToArray(), g.Select(x => x.Before).ToArray(), 4, resamples);
            return new StratumFigure(Strata.Label(s), g.Count, 100 * g.Average(x => x.Before), 100 * g.Average(x => x.After), Estimate.Points(gain));
        }).ToArray();
    }
}
