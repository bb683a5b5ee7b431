using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Methods;
using GenSeg.Methods.G4Seg;
using GenSeg.Tests.Support;
using static TorchSharp.torch;

namespace GenSeg.Tests.Evaluation;

[Trait(Categories.Name, Categories.Unit)]
public sealed class G4SegEvaluationTests
{
    [Fact]
    public void SettingsParseEveryNamedOptionAndNameTheBadOnes()
    {
        var o = new G4SegOptions();
        Assert.Equal(200, G4SegSettings.Table.Set(o, "timestep", "200").Timestep);
        Assert.Equal(0.9, G4SegSettings.Table.Set(o, "b", "0.9").B);
        Assert.Equal(ConfusionAreaOptions.Everywhere, G4SegSettings.Table.Set(o, "confusion", "none").Confusion);
        Assert.Equal(new ConfusionAreaOptions(0.1, 0.7, 40), G4SegSettings.Table.Set(o, "confusion", "0.1-0.7").Confusion);
        Assert.Equal(new ConfusionAreaOptions(0.2, 0.6, null), G4SegSettings.Table.Set(o, "confusion", "0.2-0.6@none").Confusion);
        Assert.Equal(3.5, G4SegSettings.Table.Set(o, "a", "3.5").Injection.Weight);
        Assert.Equal(InjectionMode.DenseDiffusion, G4SegSettings.Table.Set(o, "injection", "densediffusion").Injection.Mode);
        var self = G4SegSettings.Table.Set(o, "inject", "self").Injection;
        Assert.True(self.Self && !self.Cross);
        Assert.Equal(new[] { 0, 1 }, G4SegSettings.Table.Set(o, "levels", "0+1").Injection.Levels);
        Assert.Equal(FeatureKind.Diffusion, G4SegSettings.Table.Set(o, "features", "diffusion").Features.Kind);
        Assert.True(G4SegSettings.Table.Set(o, "start", "inversion").Inversion);
        Assert.Equal(CorrespondenceDirection.OriginalToGenerated, G4SegSettings.Table.Set(o, "direction", "original").Direction);
        Assert.Equal(16, G4SegSettings.Table.Set(o, "window", "16").CorrespondenceWindowAt512);
        var baseline = G4SegSettings.Table.Set(o, "modules", "baseline");
        Assert.False(baseline.Correspondence);
        var correspondence = G4SegSettings.Table.Set(o, "modules", "correspondence");
        Assert.Equal((InjectionMode.None, ConfusionAreaOptions.Everywhere), (correspondence.Injection.Mode, correspondence.Confusion));
        var emi = G4SegSettings.Table.Set(correspondence, "modules", "emi");
        Assert.Equal((InjectionMode.Additive, ConfusionAreaOptions.Everywhere), (emi.Injection.Mode, emi.Confusion));
        Assert.Equal(new ConfusionAreaOptions(), G4SegSettings.Table.Set(emi, "modules", "full").Confusion);
        Assert.Contains("timestep", Assert.Throws<ArgumentException>(() => G4SegSettings.Table.Set(o, "nonsense", "1")).Message);
        Assert.Contains("b=x", Assert.Throws<ArgumentException>(() => G4SegSettings.Table.Set(o, "b", "x")).Message);
        Assert.Contains("lower bound", Assert.Throws<ArgumentException>(() => G4SegSettings.Table.Set(o, "confusion", "0.7-0.2")).Message);

        var a = new CrossAttentionOptions();
        Assert.Equal(new long[] { 16 }, CrossAttentionSettings.Table.Set(a, "resolutions", "16").Resolutions);
        Assert.Equal(AttentionBackground.Constant, CrossAttentionSettings.Table.Set(a, "background", "constant").Background);
        Assert.Equal(NonObjectTokens.AllOther, CrossAttentionSettings.Table.Set(a, "non-object", "all").NonObject);
        Assert.Throws<ArgumentException>(() => CrossAttentionSettings.Table.Set(a, "background", "x"));
    }

    [Fact]
    public void EveryDocumentedSettingNameIsAccepted()
    {
        var values = new Dictionary<string, string>
        {
            ["timestep"] = "300", ["b"] = "0.5", ["confusion"] = "none", ["a"] = "1", ["injection"] = "none", ["inject"] = "cross",
            ["levels"] = "all", ["features"] = "clip", ["feature-model"] = "/m", ["feature-layer"] = "3", ["feature-size"] = "224",
            ["dift-up-block"] = "2", ["dift-timestep"] = "100", ["dift-samples"] = "2", ["colour-weight"] = "2", ["position-weight"] = "0", ["local-window"] = "7", ["inversion-scheduler"] = "dpm++2m",
            ["start"] = "noise", ["inversion-steps"] = "20", ["direction"] = "generated", ["window"] = "none", ["modules"] = "full",
            ["prompt"] = "a {0}", ["seed"] = "3", ["dd-time-factor"] = "off", ["correspondence"] = "on", ["dd-cross-weight"] = "1",
            ["dd-self-weight"] = "0.3", ["dd-size-reg"] = "1", ["dift-prompt"] = "", ["compose"] = "true", ["decode-window"] = "true", ["decode-margin"] = "3",
        };
        Assert.Equal(G4SegSettings.Table.All.Select(s => s.Name).Order(), values.Keys.Order());
        foreach (var (name, value) in values) G4SegSettings.Table.Set(new G4SegOptions(), name, value);
        var attention = new Dictionary<string, string>
        {
            ["timestep"] = "300", ["resolutions"] = "16+8", ["samples"] = "2", ["background"] = "share", ["threshold"] = "0.3",
            ["background-weight"] = "2", ["non-object"] = "words", ["propagate"] = "1", ["seed"] = "1", ["normalise"] = "mean",
            ["prompt-prefix"] = "a photo of",
        };
        Assert.Equal(CrossAttentionSettings.Table.All.Select(s => s.Name).Order(), attention.Keys.Order());
        foreach (var (name, value) in attention) CrossAttentionSettings.Table.Set(new CrossAttentionOptions(), name, value);
    }

    [Fact]
    public void PresetsStartFromThePaperOrTheToyWorldTuning()
    {
        Assert.Equal(new G4SegOptions(), G4SegSettings.Table.Preset("paper"));
        var toy = G4SegSettings.Table.Preset("ToyWorld");
        Assert.Equal((CorrespondenceDirection.OriginalToGenerated, 0.3, 400L), (toy.Direction, toy.B, toy.Timestep));
        Assert.Equal(new ConfusionAreaOptions(0.1, 0.7, 40), toy.Confusion);
        Assert.Equal((CorrespondenceDirection.GeneratedToOriginal, 0.8), (G4SegOptions.Paper.Direction, G4SegOptions.Paper.B));
        Assert.Contains("toyworld", Assert.Throws<ArgumentException>(() => G4SegSettings.Table.Preset("best")).Message);
    }

    [Fact]
    public void ASweepLabelsEachValue()
    {
        var rows = G4SegSettings.Table.Sweep("timestep=100, 400", new G4SegOptions());
        Assert.Equal(new[] { "timestep=100", "timestep=400" }, rows.Select(r => r.Label));
        Assert.Equal(new long[] { 100, 400 }, rows.Select(r => r.Options.Timestep));
        Assert.Throws<ArgumentException>(() => G4SegSettings.Table.Sweep("timestep", new G4SegOptions()));
        Assert.Throws<ArgumentException>(() => G4SegSettings.Table.Sweep("timestep=", new G4SegOptions()));
    }

    static Tensor Labels(params long[] values) => tensor(values).view(2, 2);

    [Fact]
    public void ScoresGiveTheDatasetMiouAPairedGainIntervalAndStrata()
    {
        var before = new SegmentationScores(3);
        var after = new SegmentationScores(3);
        var truth = Labels(0, 1, 2, 2);
        // image 0: class 2 half found before, fully after; image 1: identical
        before.Add(Labels(0, 1, 2, 0), truth);
        after.Add(Labels(0, 1, 2, 2), truth);
        before.Add(Labels(0, 1, 2, 2), truth);
        after.Add(Labels(0, 1, 2, 2), truth);
        var summed = GenSeg.Evaluation.Metrics.ConfusionMatrix(cat(new[] { Labels(0, 1, 2, 0), Labels(0, 1, 2, 2) }), cat(new[] { truth, truth }), 3);
        Assert.Equal(GenSeg.Evaluation.Metrics.MeanIou(summed).Mean, before.MeanIou().Mean, 12);
        Assert.Equal(1.0, after.MeanIou().Mean, 12);
        var ci = SegmentationScores.GainCi(before, after, resamples: 500);
        Assert.Equal(after.MeanIou().Mean - before.MeanIou().Mean, ci.Estimate, 12);
        Assert.True(ci.Lower >= 0 && ci.Lower <= ci.Estimate && ci.Upper >= ci.Estimate);
        Assert.Equal(0.5, before.ImageClassIou(0, 2), 12);
        var strata = SegmentationScores.StrataGains(before, after);
        Assert.Equal(new[] { "<40", "40-80", "80-100" }, strata.Select(s => s.Stratum));
        Assert.Equal(new[] { 0, 1, 3 }, strata.Select(s => s.Count)); // class 2 of image 0 at 50; classes 1, 2 of image 1 and class 1 of image 0 at 100
        Assert.Equal(50, strata[1].Gain, 9);
        Assert.Equal(0, strata[2].Gain, 9);
        var same = SegmentationScores.GainCi(before, before, resamples: 100);
        Assert.Equal((0.0, 0.0, 0.0), (same.Estimate, same.Lower, same.Upper));
    }
}
