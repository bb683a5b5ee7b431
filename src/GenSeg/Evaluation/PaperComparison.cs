using System.Globalization;

namespace GenSeg.Evaluation;

/// <summary>One setting of an ablation: its value, the paper's figure (null where the paper gives none) and the kit's, with its n.</summary>
/// <param name="Setting">The setting's value as the paper names it, e.g. "400" or "I + O".</param>
/// <param name="Paper">The paper's figure (its metric, its data), or null.</param>
/// <param name="Kit">The kit's figure with its 95% interval (points).</param>
/// <param name="N">How many targets the kit's figure averages.</param>
public sealed record AblationPoint(string Setting, double? Paper, Estimate Kit, int N);

/// <summary>
/// The verdicts a notebook prints beside a paper's ablation, computed from the figures so no sentence can go stale:
/// whether the kit's best setting is the paper's, whether the two order the settings alike (Kendall's tau over the
/// settings both report), and whether each kit interval excludes 0 (for gains). The papers' data and models differ from
/// ToyWorld and the embedded model, so these compare trends and orderings, not absolute numbers.
/// </summary>
public static class PaperComparison
{
    /// <summary>The setting with the highest paper figure, or null when the paper gives fewer than two.</summary>
    public static string? PaperBest(IReadOnlyList<AblationPoint> points) =>
        points.Count(p => p.Paper is not null) < 2 ? null : points.Where(p => p.Paper is not null).MaxBy(p => p.Paper!.Value)!.Setting;

    /// <summary>The setting with the highest kit figure.</summary>
    public static string KitBest(IReadOnlyList<AblationPoint> points) =>
        (points ?? throw new ArgumentNullException(nameof(points))).MaxBy(p => p.Kit.Value)?.Setting ?? throw new ArgumentException("points: none", nameof(points));

    /// <summary>
    /// The settings whose kit interval overlaps the best setting's: those the data cannot tell apart from the best
    /// (the kit's "best" is only as sharp as this set).
    /// </summary>
    public static IReadOnlyList<string> TiedWithBest(IReadOnlyList<AblationPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var best = points.MaxBy(p => p.Kit.Value)!;
        return points.Where(p => double.IsNaN(best.Kit.Lower) || double.IsNaN(p.Kit.Upper) || p.Kit.Upper >= best.Kit.Lower).Select(p => p.Setting).ToArray();
    }

    /// <summary>Kendall's tau-a between the paper's and the kit's figures over the settings both report; null with fewer than two.</summary>
    public static double? KendallTau(IReadOnlyList<AblationPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var both = points.Where(p => p.Paper is not null).ToArray();
        if (both.Length < 2) return null;
        int concordant = 0, discordant = 0;
        for (int i = 0; i < both.Length; i++)
            for (int j = i + 1; j < both.Length; j++)
            {
                double a = Math.Sign(both[i].Paper!.Value - both[j].Paper!.Value), b = Math.Sign(both[i].Kit.Value - both[j].Kit.Value);
                if (a * b > 0) concordant++;
                else if (a * b < 0) discordant++;
            }
        return (concordant - discordant) / (double)(both.Length * (both.Length - 1) / 2);
    }

    /// <summary>
    /// The verdict in one line: the paper's and the kit's best setting and whether they agree (with the settings the
    /// kit's intervals cannot separate from its best), and the ordering agreement. <paramref name="paperBestClaim"/>
    /// names the paper's best where it states one without numbers (G4Seg's Figure 5).
    /// </summary>
    public static string Verdict(IReadOnlyList<AblationPoint> points, string? paperBestClaim = null)
    {
        ArgumentNullException.ThrowIfNull(points);
        var parts = new List<string>();
        var paperBest = PaperBest(points) ?? paperBestClaim;
        var kitBest = KitBest(points);
        var tied = TiedWithBest(points);
        if (paperBest is not null)
        {
            bool same = paperBest == kitBest;
            bool within = tied.Contains(paperBest);
            parts.Add(same ? $"same best setting ({kitBest})" + NotSeparated(tied, kitBest)
                : within ? $"best: paper {paperBest}, kit {kitBest}, but the kit's intervals do not separate {paperBest} from it"
                : $"different best setting: paper {paperBest}, kit {kitBest} (its interval excludes {paperBest})");
        }
        else parts.Add($"kit best: {kitBest}" + NotSeparated(tied, kitBest));
        if (KendallTau(points) is { } tau)
            parts.Add(tau.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " Kendall tau with the paper's ordering" +
                      (tau >= 0.6 ? " (the same trend)" : tau <= -0.6 ? " (the opposite trend)" : " (no clear common ordering)"));
        return string.Join("; ", parts);
    }

    static string NotSeparated(IReadOnlyList<string> tied, string best) =>
        tied.Count > 1 ? $" (not separated from {string.Join(", ", tied.Where(t => t != best))})" : "";

    /// <summary>"+5.97 [5.57, 6.37]: above 0" for a gain, saying whether its interval excludes 0.</summary>
    public static string GainVerdict(Estimate gain)
    {
        ArgumentNullException.ThrowIfNull(gain);
        string f(double v) => v.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture);
        if (double.IsNaN(gain.Lower)) return $"{f(gain.Value)} (no interval)";
        var side = gain.Lower > 0 ? "above 0" : gain.Upper < 0 ? "below 0" : "0 within the interval";
        return $"{f(gain.Value)} [{f(gain.Lower)}, {f(gain.Upper)}]: {side}";
    }

    /// <summary>
    /// Where a kit figure's interval lies against the range a paper reports (e.g. G4Seg's +0.4 to +0.9 mIoU over its
    /// baselines): "below the paper's +0.4 to +0.9 (its interval ends below +0.4)", "above ...", or "consistent with
    /// ... (its interval overlaps it)".
    /// </summary>
    public static string RangeVerdict(Estimate kit, double paperLow, double paperHigh)
    {
        ArgumentNullException.ThrowIfNull(kit);
        if (!(paperLow <= paperHigh)) throw new ArgumentException($"paper range [{paperLow}, {paperHigh}]: expected low <= high", nameof(paperLow));
        string f(double v) => v.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);
        var range = paperLow == paperHigh ? $"the paper's {f(paperLow)}" : $"the paper's {f(paperLow)} to {f(paperHigh)}";
        if (double.IsNaN(kit.Lower)) return $"{f(kit.Value)} against {range} (no interval)";
        return kit.Upper < paperLow ? $"below {range} (its interval ends below {f(paperLow)})"
            : kit.Lower > paperHigh ? $"above {range} (its interval starts above {f(paperHigh)})"
            : $"consistent with {range} (its interval overlaps it)";
    }
}
