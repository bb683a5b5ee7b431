using GenSeg.Evaluation;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Evaluation;

/// <summary>The verdicts beside a paper's ablation say what the data show, including what the intervals cannot separate.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class PaperComparisonTests
{
    static AblationPoint P(string s, double? paper, double kit, double half) => new(s, paper, new Estimate(kit, kit - half, kit + half), 100);

    [Fact]
    public void TheSameBestNamesTheSettingsItsIntervalDoesNotSeparate()
    {
        // the paper's Table 6c; the kit's best agrees, but its interval overlaps two others
        var points = new[] { P("10", 77.3, 69.5, 4.8), P("30", 78.7, 69.6, 4.9), P("50", 80.6, 70.7, 4.8) };
        Assert.Equal("same best setting (50) (not separated from 10, 30); +1.00 Kendall tau with the paper's ordering (the same trend)",
            PaperComparison.Verdict(points));
    }

    [Fact]
    public void ASeparatedBestIsSaidPlainly()
    {
        var points = new[] { P("2", 80.6, 69.8, 5), P("3", 72.3, 48.0, 6), P("4", 61.5, 37.1, 5.5) };
        Assert.Equal("same best setting (2); +1.00 Kendall tau with the paper's ordering (the same trend)", PaperComparison.Verdict(points));
    }

    [Fact]
    public void ADifferentBestSaysWhetherTheIntervalsSeparateThePapers()
    {
        var overlapping = new[] { P("5", 80.6, 69.8, 5), P("3", 78.4, 72.2, 4.3) };
        Assert.StartsWith("best: paper 5, kit 3, but the kit's intervals do not separate 5 from it", PaperComparison.Verdict(overlapping));
        var apart = new[] { P("mask", 80.6, 69.8, 2), P("box", 71.0, 82.0, 2) };
        Assert.StartsWith("different best setting: paper mask, kit box (its interval excludes mask)", PaperComparison.Verdict(apart));
        Assert.Contains("-1.00 Kendall tau", PaperComparison.Verdict(apart));
    }

    [Fact]
    public void WithoutPaperFiguresOnlyTheKitsBestAndItsTiesAreReported()
    {
        var points = new[] { P("colour", null, 69.8, 5), P("vae", null, 64.2, 4.7), P("dift", null, 50.0, 3) };
        Assert.Equal("kit best: colour (not separated from vae)", PaperComparison.Verdict(points));
    }

    [Fact]
    public void GainVerdictsSayWhereZeroLies()
    {
        Assert.Equal("+5.97 [+5.57, +6.37]: above 0", PaperComparison.GainVerdict(new Estimate(5.97, 5.57, 6.37)));
        Assert.Equal("-0.28 [-0.41, -0.17]: below 0", PaperComparison.GainVerdict(new Estimate(-0.28, -0.41, -0.17)));
        Assert.Equal("+0.85 [-0.55, +2.31]: 0 within the interval", PaperComparison.GainVerdict(new Estimate(0.85, -0.55, 2.31)));
        Assert.Equal("+1.00 (no interval)", PaperComparison.GainVerdict(Estimate.Plain(1.0)));
    }

    [Fact]
    public void AGainIsPlacedAgainstThePapersRange()
    {
        // G4Seg's +0.4 to +0.9 (Tables 2-3) against the kit's two presets on ToyWorld val (notebook 01)
        Assert.Equal("below the paper's +0.4 to +0.9 (its interval ends below +0.4)",
            PaperComparison.RangeVerdict(new Estimate(-0.23, -0.42, -0.06), 0.4, 0.9));
        Assert.Equal("above the paper's +0.4 to +0.9 (its interval starts above +0.9)",
            PaperComparison.RangeVerdict(new Estimate(6.08, 5.42, 6.81), 0.4, 0.9));
        Assert.Equal("consistent with the paper's +0.4 to +0.9 (its interval overlaps it)",
            PaperComparison.RangeVerdict(new Estimate(0.08, -0.24, 0.41), 0.4, 0.9));
        Assert.Throws<ArgumentException>(() => PaperComparison.RangeVerdict(new Estimate(0, -1, 1), 0.9, 0.4));
    }
}
