using GenSeg.Evaluation;
using GenSeg.Tests.Support;
using static TorchSharp.torch;

namespace GenSeg.Tests.Evaluation;

[Trait(Categories.Name, Categories.Unit)]
public class MetricsTests
{
    [Fact]
    public void IouOfHandMadeMasks()
    {
        using var a = zeros(10, 10);
        using var b = zeros(10, 10);
        a[TensorIndex.Slice(0, 4), TensorIndex.Slice(0, 5)] = 1f; // 20 px
        b[TensorIndex.Slice(2, 6), TensorIndex.Slice(0, 5)] = 1f; // 20 px, 10 shared
        Assert.Equal(10.0 / 30.0, Metrics.Iou(a, b), 12);
        Assert.Equal(1.0, Metrics.Iou(a, a.gt(0.5)), 12);
        Assert.Equal(1.0, Metrics.Iou(zeros(3, 3), zeros(3, 3)));
        Assert.Equal(0.0, Metrics.Iou(a, zeros(10, 10)));
        var e = Assert.Throws<ArgumentException>(() => Metrics.Iou(a, zeros(10, 9)));
        Assert.Contains("[10, 9]", e.Message);
    }

    [Fact]
    public void ConfusionMatrixAndMeanIou()
    {
        using var truth = tensor(new long[] { 0, 0, 1, 1, 2, 255 }, new long[] { 2, 3 });
        using var pred = tensor(new long[] { 0, 1, 1, 1, 0, 2 }, new long[] { 2, 3 });
        using var cm = Metrics.ConfusionMatrix(pred, truth, 4);
        Assert.Equal(new long[] { 1, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 }, cm.data<long>().ToArray());
        var r = Metrics.MeanIou(cm);
        Assert.Equal(1.0 / 3, r.PerClass[0], 12); // tp 1, fn 1, fp 1
        Assert.Equal(2.0 / 3, r.PerClass[1], 12); // tp 2, fp 1
        Assert.Equal(0.0, r.PerClass[2], 12);     // tp 0, fn 1
        Assert.True(double.IsNaN(r.PerClass[3]));  // absent everywhere
        Assert.Equal(3, r.ClassesCounted);
        Assert.Equal((1.0 / 3 + 2.0 / 3 + 0) / 3, r.Mean, 12);
        // matrices add over images
        using var twice = cm.add(cm);
        Assert.Equal(r.Mean, Metrics.MeanIou(twice).Mean, 12);
    }

    [Fact]
    public void ConfusionMatrixRejectsBadLabels()
    {
        using var truth = tensor(new long[] { 0, 5 }, new long[] { 1, 2 });
        using var pred = tensor(new long[] { 0, 1 }, new long[] { 1, 2 });
        var e = Assert.Throws<ArgumentException>(() => Metrics.ConfusionMatrix(pred, truth, 3));
        Assert.Contains("truth", e.Message);
        Assert.Throws<ArgumentException>(() => Metrics.ConfusionMatrix(pred.to_type(ScalarType.Float32), truth, 9));
    }

    [Fact]
    public void BoundaryFScoreToleratesSmallShifts()
    {
        using var a = zeros(32, 32);
        a[TensorIndex.Slice(8, 24), TensorIndex.Slice(8, 24)] = 1f;
        using var shifted = roll(a, 1, 1);
        Assert.Equal(1.0, Metrics.BoundaryFScore(a, a, 0).F, 12);
        Assert.Equal(1.0, Metrics.BoundaryFScore(a, shifted, 1.0).F, 12);
        var strict = Metrics.BoundaryFScore(a, shifted, 0);
        Assert.InRange(strict.F, 0.3, 0.8); // the two horizontal edges still coincide
        using var far = zeros(32, 32);
        far[TensorIndex.Slice(0, 3), TensorIndex.Slice(0, 3)] = 1f;
        Assert.Equal(0.0, Metrics.BoundaryFScore(a, far, 2).F, 12);
        Assert.Equal(1.0, Metrics.BoundaryFScore(zeros(4, 4), zeros(4, 4)).F);
        Assert.Equal(0.0, Metrics.BoundaryFScore(a, zeros(32, 32)).F);
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class BootstrapAndStrataTests
{
    [Fact]
    public void MeanCiIsSeededAndCoversTheMean()
    {
        var rng = new GenSeg.Common.Pcg32(9);
        var values = Enumerable.Range(0, 400).Select(_ => 0.6 + 0.1 * rng.NextGaussian()).ToArray();
        var a = Bootstrap.MeanCi(values, seed: 1, resamples: 2000);
        var b = Bootstrap.MeanCi(values, seed: 1, resamples: 2000);
        Assert.Equal(a, b);
        Assert.True(a.Lower < a.Estimate && a.Estimate < a.Upper);
        double sd = Math.Sqrt(values.Select(v => (v - a.Estimate) * (v - a.Estimate)).Sum() / (values.Length - 1));
        double normalWidth = 2 * 1.96 * sd / Math.Sqrt(values.Length);
        Assert.InRange((a.Upper - a.Lower) / normalWidth, 0.85, 1.15);
        var c = Bootstrap.MeanCi(Enumerable.Repeat(0.5, 10).ToArray());
        Assert.Equal((0.5, 0.5, 0.5), (c.Estimate, c.Lower, c.Upper));
        Assert.Equal("62.0 [61.0, 63.0]", new ConfidenceInterval(0.62, 0.61, 0.63, 1, 0.95).Format(100));
    }

    [Fact]
    public void PairedDifferenceSeesAConsistentGainThatUnpairedNoiseWouldHide()
    {
        var rng = new GenSeg.Common.Pcg32(4);
        var baseline = Enumerable.Range(0, 200).Select(_ => rng.NextDouble()).ToArray();
        var improved = baseline.Select(v => v + 0.02 + 0.005 * rng.NextGaussian()).ToArray();
        var d = Bootstrap.PairedDifferenceCi(improved, baseline, resamples: 2000);
        Assert.True(d.Lower > 0.015 && d.Upper < 0.025, d.Format());
        Assert.Throws<ArgumentException>(() => Bootstrap.PairedDifferenceCi(improved, baseline[..10]));
        Assert.Throws<ArgumentException>(() => Bootstrap.MeanCi(Array.Empty<double>()));
    }

    [Fact]
    public void RatioCiPoolsCountsAndResamplesItemsNotTheirUnits()
    {
        // 100 items of 50 units each; the item's own rate varies (0.2 or 0.8), so units within an item are correlated
        var rng = new GenSeg.Common.Pcg32(5);
        var den = Enumerable.Repeat(50.0, 100).ToArray();
        var num = den.Select(d => rng.NextDouble() < 0.5 ? 0.2 * d : 0.8 * d).ToArray();
        var ci = Bootstrap.RatioCi(num, den, seed: 2, resamples: 2000);
        Assert.Equal(num.Sum() / den.Sum(), ci.Estimate, 12);
        Assert.Equal(ci, Bootstrap.RatioCi(num, den, seed: 2, resamples: 2000));
        Assert.Equal(100, ci.Count);
        // items' rates have sd 0.3, so the item-level interval is about 2 * 1.96 * 0.3 / sqrt(100) wide, far wider than
        // the binomial interval of 5000 independent units (2 * 1.96 * 0.5 / sqrt(5000), about 0.028)
        Assert.InRange(ci.Upper - ci.Lower, 0.09, 0.15);
        Assert.True(ci.Lower < ci.Estimate && ci.Estimate < ci.Upper);
        // the pooled rate weights items by their denominators: one large item dominates
        var pooled = Bootstrap.RatioCi([1.0, 90.0], [10.0, 100.0], resamples: 100);
        Assert.Equal(91.0 / 110.0, pooled.Estimate, 12);
        Assert.Throws<ArgumentException>(() => Bootstrap.RatioCi([1.0], [0.0]));
        Assert.Throws<ArgumentException>(() => Bootstrap.RatioCi([1.0, 2.0], [1.0]));
    }

    [Fact]
    public void StrataEdges()
    {
        Assert.Equal(IouStratum.Below40, Strata.Of(0.3999));
        Assert.Equal(IouStratum.From40To80, Strata.Of(0.4));
        Assert.Equal(IouStratum.From40To80, Strata.Of(0.7999));
        Assert.Equal(IouStratum.From80, Strata.Of(0.8));
        Assert.Equal(IouStratum.From80, Strata.Of(1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Strata.Of(40));
        var groups = Strata.Group(new[] { 0.1, 0.5, 0.9, 0.95 }, v => v);
        Assert.Equal(new[] { 1, 1, 2 }, Strata.All.Select(s => groups[s].Count));
        Assert.Equal(new[] { "<40", "40-80", "80-100" }, Strata.All.Select(Strata.Label));
    }
}
