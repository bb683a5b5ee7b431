using GenSeg.Evaluation;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Evaluation;

[Trait(Categories.Name, Categories.Unit)]
public class CostQualityTests
{
    static CostPoint Point(string setting, int passes, params double[] after) => new(setting, passes,
        new EvaluationResult("paintseg", EvaluationResult.MetricMeanIou, "toyworld", "val", null, after.Length, after.Length,
            new InputDescription("prompt:box", InputDescription.Prompt), "m", "c", Array.Empty<EvaluationRow>(), Array.Empty<EvaluationRow>(),
            after.Select((a, i) => new TargetResult($"o{i}", "c", 50, a, new[] { a }, 1, new string?[] { null })).ToArray()));

    static readonly double[] Reference = Enumerable.Range(0, 40).Select(i => 60.0 + i % 7 * 3).ToArray();

    [Fact]
    public void TheCheapestSettingWithinTheToleranceIsChosen()
    {
        var reference = Point("ddim 50", 50, Reference);
        var candidates = new[]
        {
            Point("a 5", 5, Reference.Select(v => v - 6).ToArray()),                              // clearly worse
            Point("a 10", 10, Reference.Select((v, i) => v - (i % 2 == 0 ? 1.0 : -0.6)).ToArray()), // -0.2 on average, interval spans 0
            Point("b 10", 10, Reference.Select((v, i) => v + (i % 2 == 0 ? 0.5 : -0.3)).ToArray()), // +0.1: same passes, higher mean
            Point("a 20", 20, Reference),
        };
        var v = CostQuality.FewestPassesMatching(reference, candidates);
        Assert.Equal("b 10", v.Choice!.Setting);
        Assert.False(v.Differences[0].Matches);
        Assert.Equal(-6, v.Differences[0].Difference.Value, 9);
        Assert.True(v.Differences[1].Matches);
        Assert.Contains("b 10 (10 passes, 20% of ddim 50's)", v.Text);
    }

    [Fact]
    public void ASmallButCertainLossDoesNotMatchAndNoneIsSaid()
    {
        var reference = Point("ddim 50", 50, Reference);
        // every target 0.5 lower: within the tolerance on average, but the interval excludes 0
        var v = CostQuality.FewestPassesMatching(reference, new[] { Point("a 5", 5, Reference.Select(x => x - 0.5).ToArray()) });
        Assert.Null(v.Choice);
        Assert.True(v.Differences[0].Difference.Upper < 0);
        Assert.StartsWith("no setting matches ddim 50", v.Text);
    }

    [Fact]
    public void DifferentTargetsAreAClearError()
    {
        var reference = Point("ddim 50", 50, Reference);
        var e = Assert.Throws<ArgumentException>(() => CostQuality.FewestPassesMatching(reference, new[] { Point("a 5", 5, Reference.Take(10).ToArray()) }));
        Assert.Contains("a 5: 10 targets", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CostQuality.FewestPassesMatching(reference, Array.Empty<CostPoint>(), tolerance: -1));
    }
}
