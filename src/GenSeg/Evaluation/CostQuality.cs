using System.Globalization;

namespace GenSeg.Evaluation;

/// <summary>One setting of a cost sweep: its label, its model passes per paint (or per image) and its result.</summary>
/// <param name="Setting">E.g. "dpm++2m 10".</param>
/// <param name="Passes">Model passes the setting costs per unit (e.g. UNet evaluations per paint).</param>
/// <param name="Result">Its evaluation on the same targets as the reference.</param>
public sealed record CostPoint(string Setting, int Passes, EvaluationResult Result);

/// <summary>A setting against the reference: the paired difference of the result (points, 95% interval) and whether it matches.</summary>
public sealed record CostDifference(CostPoint Point, Estimate Difference, bool Matches);

/// <summary>The cheapest setting that matches the reference's quality, and every setting's paired difference.</summary>
/// <param name="Reference">The setting whose quality is to be matched (e.g. the paper's 50-step DDIM).</param>
/// <param name="Choice">The matching setting with the fewest passes (the higher mean on a tie), or null.</param>
/// <param name="Differences">Every candidate against the reference, in the candidates' order.</param>
/// <param name="Tolerance">Largest loss in points a match may show.</param>
public sealed record CostVerdict(CostPoint Reference, CostPoint? Choice, IReadOnlyList<CostDifference> Differences, double Tolerance)
{
    /// <summary>The verdict in one sentence, from the figures alone.</summary>
    public string Text => Choice is null
        ? string.Create(CultureInfo.InvariantCulture, $"no setting matches {Reference.Setting} ({Reference.Passes} passes) within {Tolerance:0.#} point(s)")
        : string.Create(CultureInfo.InvariantCulture, $"{Choice.Setting} ({Choice.Passes} passes, {100.0 * Choice.Passes / Reference.Passes:0}% of {Reference.Setting}'s) matches it: ") +
          string.Create(CultureInfo.InvariantCulture, $"{Differences.First(d => d.Point == Choice).Difference} points against it (a match: mean loss at most {Tolerance:0.#}, interval reaching 0)");
}

/// <summary>Which setting of a cost sweep (sampler steps, batch, ...) gives a reference's quality at the fewest passes.</summary>
public static class CostQuality
{
    /// <summary>
    /// Compares each candidate with <paramref name="reference"/> target by target (paired bootstrap of the final IoU,
    /// first row): a candidate matches when its mean loss is at most <paramref name="tolerance"/> points and its 95%
    /// interval reaches 0 (no loss shown); the choice is the matching candidate with the fewest passes.
    /// </summary>
    public static CostVerdict FewestPassesMatching(CostPoint reference, IReadOnlyList<CostPoint> candidates, double tolerance = 1.0, int resamples = 2000)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(candidates);
        if (!(tolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "tolerance: expected >= 0 points");
        var byId = reference.Result.Objects.ToDictionary(o => o.Id, o => o.After, StringComparer.Ordinal);
        var differences = candidates.Select(c =>
        {
            var pairs = c.Result.Objects.Where(o => byId.ContainsKey(o.Id)).Select(o => (Candidate: o.After, Reference: byId[o.Id])).ToArray();
            if (pairs.Length != byId.Count || pairs.Length != c.Result.Objects.Count)
                throw new ArgumentException($"{c.Setting}: {c.Result.Objects.Count} targets, {pairs.Length} shared with {reference.Setting}'s {byId.Count}; a paired comparison needs the same targets");
            var ci = Bootstrap.PairedDifferenceCi(pairs.Select(p => p.Candidate).ToArray(), pairs.Select(p => p.Reference).ToArray(), resamples: resamples);
            var d = new Estimate(ci.Estimate, ci.Lower, ci.Upper);
            return new CostDifference(c, d, d.Value >= -tolerance && d.Upper >= 0);
        }).ToArray();
        var choice = differences.Where(d => d.Matches).OrderBy(d => d.Point.Passes).ThenByDescending(d => d.Difference.Value).FirstOrDefault()?.Point;
        return new CostVerdict(reference, choice, differences, tolerance);
    }
}
