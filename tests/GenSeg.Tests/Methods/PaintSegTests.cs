using GenSeg.Common;
using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.Tests.Imaging;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

static class TensorAssertions
{
    /// <summary>Same shape and the same values everywhere.</summary>
    public static bool SameAs(this Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}

/// <summary>A painter that changes nothing: every paint is the image itself.</summary>
sealed class IdentityPainter : IPainter
{
    public string Name => "identity";

    public PaintBatch Paint(Tensor image, Tensor region, StepKind kind, int count, ulong seed) =>
        new(Masks.Binarize(region), image.unsqueeze(0).expand(count, -1, -1, -1).contiguous());
}

[Trait(Categories.Name, Categories.Unit)]
public class PaintSegPromptMaskTests
{
    static Prompt Box(int x0, int y0, int x1, int y1) => new(PromptKind.Box, Array.Empty<PromptPoint>(), new Box(x0, y0, x1, y1), null);
    static Prompt Points(PromptKind kind, params PromptPoint[] points) => new(kind, points, null, null);

    [Fact]
    public void BoxAndMaskPromptsAreTheInitialMaskPointsAndScribblesTheWholeImage()
    {
        var box = PromptMask.Initial(Box(3, 4, 10, 8), 16, 20);
        Assert.Equal(new long[] { 16, 20 }, box.shape);
        Assert.Equal(7 * 4, Masks.Area(box));
        Assert.Equal(1f, box[4, 3].item<float>());
        Assert.Equal(0f, box[8, 3].item<float>());
        // a box reaching past the image is clamped
        Assert.Equal(2 * 2, Masks.Area(PromptMask.Initial(Box(18, 14, 40, 30), 16, 20)));

        var soft = zeros(16, 20);
        soft[2..6, 5..9] = tensor(0.7f);
        soft[0, 0] = tensor(0.4f);
        var mask = PromptMask.Initial(new Prompt(PromptKind.Mask, Array.Empty<PromptPoint>(), null, soft), 16, 20);
        Assert.Equal(16, Masks.Area(mask));

        foreach (var kind in new[] { PromptKind.Point, PromptKind.Scribble })
            Assert.Equal(16 * 20, Masks.Area(PromptMask.Initial(Points(kind, new PromptPoint(3, 3), new PromptPoint(4, 3)), 16, 20)));
    }

    [Fact]
    public void PriorPointsAreThePointsOrTheBoxCentre()
    {
        Assert.Equal(new[] { new PromptPoint(6, 6) }, PromptMask.PriorPoints(Box(3, 4, 10, 8), 16, 20));
        var scribble = new[] { new PromptPoint(1, 2), new PromptPoint(2, 2) };
        Assert.Equal(scribble, PromptMask.PriorPoints(Points(PromptKind.Scribble, scribble), 16, 20));
        Assert.Empty(PromptMask.PriorPoints(new Prompt(PromptKind.Mask, Array.Empty<PromptPoint>(), null, ones(16, 20)), 16, 20));
    }

    [Fact]
    public void BadPromptsAreClearErrors()
    {
        var outside = Assert.Throws<ArgumentException>(() => PromptMask.Initial(Points(PromptKind.Point, new PromptPoint(20, 3)), 16, 20));
        Assert.Contains("outside the 20x16 image", outside.Message);
        var scribbleOutside = Assert.Throws<ArgumentException>(() => PromptMask.PriorPoints(Points(PromptKind.Scribble, new PromptPoint(1, 1), new PromptPoint(-1, 1)), 16, 20));
        Assert.Contains("(x=-1, y=1)", scribbleOutside.Message);
        Assert.Contains("empty scribble", Assert.Throws<ArgumentException>(() => PromptMask.Initial(Points(PromptKind.Scribble), 16, 20)).Message);
        Assert.Contains("zero area", Assert.Throws<ArgumentException>(() => PromptMask.Initial(Box(5, 5, 5, 9), 16, 20)).Message);
        Assert.Contains("outside", Assert.Throws<ArgumentException>(() => PromptMask.Initial(Box(30, 2, 40, 8), 16, 20)).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => PromptMask.Initial(new Prompt(PromptKind.Mask, Array.Empty<PromptPoint>(), null, zeros(16, 20)), 16, 20)).Message);
        Assert.Contains("[16, 20]", Assert.Throws<ArgumentException>(() => PromptMask.Initial(new Prompt(PromptKind.Mask, Array.Empty<PromptPoint>(), null, ones(8, 8)), 16, 20)).Message);
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class PaintSegStageTests
{
    static Tensor Square(int side, int x0, int y0, int x1, int y1)
    {
        var m = zeros(side, side);
        m[y0..y1, x0..x1] = tensor(1f);
        return m;
    }

    [Fact]
    public void RegionsPaperAndAuthorsForm()
    {
        var m = Square(64, 20, 20, 40, 40);
        var paper = new PaintSegOptions();
        Assert.True(Painter.Region(m, StepKind.Inpaint, paper, PromptKind.Box).SameAs(m));
        Assert.Equal(64 * 64 - 400, Masks.Area(Painter.Region(m, StepKind.Outpaint, paper, PromptKind.Box)));

        var authors = paper with { Painter = PainterForm.Authors };
        var i = Painter.Region(m, StepKind.Inpaint, authors, PromptKind.Box);
        Assert.True((i * m).SameAs(m), "the dilated I-step region covers the mask");
        Assert.True(Masks.Area(i) > 400);
        var ring = Painter.Region(m, StepKind.Outpaint, authors, PromptKind.Box);
        Assert.Equal(0, Masks.Area(ring * m));
        int r = PaintSegOptions.Scaled(authors.OutpaintRingAt512, 64);
        Assert.Equal((20 + 2 * r) * (20 + 2 * r) - 400, Masks.Area(ring));
        // point prompts: the O-step paints the whole background
        Assert.Equal(64 * 64 - 400, Masks.Area(Painter.Region(m, StepKind.Outpaint, authors, PromptKind.Point)));
    }

    [Fact]
    public void AlignUpCoversWholeCells()
    {
        var m = zeros(8, 8);
        m[1, 5] = tensor(1f);
        var a = Painter.AlignUp(m, 4);
        Assert.Equal(16, Masks.Area(a));
        Assert.Equal(1f, a[0, 4].item<float>());
        Assert.Equal(1f, a[3, 7].item<float>());
        Assert.Throws<ArgumentException>(() => Painter.AlignUp(zeros(6, 8), 4));
    }

    [Fact]
    public void PromptPriorPeaksAtThePointsWithTheBoxSigma()
    {
        var prior = ContrastivePotential.PromptPrior(new[] { new PromptPoint(10, 5), new PromptPoint(30, 20) }, new Box(0, 0, 40, 20), 0.1, 32, 48);
        Assert.Equal(1f, prior[5, 10].item<float>(), 5);
        Assert.Equal(1f, prior[20, 30].item<float>(), 5);
        // sigma = 0.1 * width = 4 px along x, 0.1 * height = 2 px along y
        Assert.Equal(Math.Exp(-16.0 / 32), prior[5, 14].item<float>(), 4);
        Assert.Equal(Math.Exp(-4.0 / 8), prior[7, 10].item<float>(), 4);
        Assert.True(prior[12, 20].item<float>() < 1e-3);
        Assert.Equal(0, ContrastivePotential.PromptPrior(Array.Empty<PromptPoint>(), new Box(0, 0, 4, 4), 0.1, 8, 8).sum().item<float>());
    }

    [Fact]
    public void PotentialTermsAreSeparateRescaledAndSigned()
    {
        var image = rand(3, 32, 32, generator: new Generator(1)) * 0.2 - 0.6;
        var mask = Square(32, 8, 8, 20, 20);
        var paints = image.unsqueeze(0).repeat(2, 1, 1, 1);
        paints[.., .., 10..18, 10..18] = tensor(0.9f); // the painted-away object
        var points = new[] { new PromptPoint(14, 14) };
        var o = new PaintSegOptions();
        using var i = ContrastivePotential.Compute(new ColourPositionFeatures(1, 0), image, paints, mask, StepKind.Inpaint, 0, points, o);
        using var oStep = ContrastivePotential.Compute(new ColourPositionFeatures(1, 0), image, paints, mask, StepKind.Outpaint, 0, points, o);
        Assert.Equal(new long[] { 2, 32, 32 }, i.Total.shape);
        Assert.True((i.Total - (i.PaintTerm + i.CrfTerm + i.PromptTerm)).abs().max().item<float>() < 1e-5);
        Assert.True((i.PaintTerm - i.Distance * 0.8).abs().max().item<float>() < 1e-5);
        // the distance is large where the paint changed and zero elsewhere
        Assert.True(i.Distance[0, 14, 14].item<float>() > 1);
        Assert.Equal(0f, i.Distance[0, 2, 2].item<float>());
        // the prompt term is + in I-steps and - in O-steps, as large as 0.2 of the distance's range at the point
        float range = i.Distance[0].max().item<float>();
        Assert.Equal(0.2 * range, i.PromptTerm[0, 14, 14].item<float>(), 3);
        Assert.Equal(-0.2 * range, oStep.PromptTerm[0, 14, 14].item<float>(), 3);
        // the CRF term is 0.2 of the rescaled probability of the painted side: the mask (I) or the background (O)
        Assert.True(i.CrfTerm[0, 14, 14].item<float>() > i.CrfTerm[0, 2, 2].item<float>());
        Assert.True(oStep.CrfTerm[0, 14, 14].item<float>() < oStep.CrfTerm[0, 2, 2].item<float>());
        Assert.True(i.CrfTerm.max().item<float>() <= 0.2 * range + 1e-4);
        Assert.True(i.CrfProbability.min().item<float>() >= 0 && i.CrfProbability.max().item<float>() <= 1);
        // the box is the mask's scaled by 1.1
        Assert.Equal(Boxes.Scale(new Box(8, 8, 20, 20), 1.1, (32, 32)), i.Box);
    }

    [Fact]
    public void OnAPerfectBackgroundFillThePotentialFavoursTheTrueObject()
    {
        // ToyWorld's exact object removal is an ideal I-step paint; from the object's box the changed cluster is the object
        int tested = 0, clustered = 0;
        foreach (int seed in Enumerable.Range(100_000, 10))
        {
            var scene = SceneGenerator.Generate(seed);
            for (int k = 0; k < scene.Objects.Count; k++, tested++)
            {
                using var scope = NewDisposeScope();
                var truth = scene.InstanceTensor(k);
                var image = scene.ImageTensor();
                var fill = SceneGenerator.Generate(seed, null, new[] { k }).ImageTensor();
                var box = Boxes.ToMask(scene.Objects[k].Box, 64, 64);
                var paints = (image * (1 - box) + fill * box).unsqueeze(0);
                var potential = ContrastivePotential.Compute(new ColourPositionFeatures(1, 0), image, paints, box, StepKind.Inpaint, 0,
                    PromptMask.PriorPoints(ScenePrompts.Box(scene.Objects[k], 64), 64, 64), new PaintSegOptions());
                var inBox = box.to_type(ScalarType.Bool);
                double onObject = potential.Total[0].masked_select(truth.to_type(ScalarType.Bool)).mean().item<float>();
                double offObject = potential.Total[0].masked_select(inBox.logical_and(truth.to_type(ScalarType.Bool).logical_not())).mean().item<float>();
                Assert.True(onObject > 2 * offObject && onObject > 0, $"seed {seed} object {k}: potential {onObject:F2} on the object, {offObject:F2} off it");
                // where the removal reveals only background (not another object) and the object is not striped (one
                // stripe shade can lie near the background's colour: a limit of pixel colour as E), K = 2 separates it
                var without = SceneGenerator.Generate(seed, null, new[] { k });
                if (scene.Objects[k].Texture != ObjectTexture.Stripes
                    && scene.Objects[k].Instance.Select((b, i) => b == 0 || without.Semantic[i] == 0).All(x => x))
                {
                    using var clusters = ChangedRegion.Find(potential.Total, potential.Box, 2, StepKind.Inpaint);
                    double iou = Metrics.Iou(clusters.Object[0], truth);
                    Assert.True(iou > 0.8, $"seed {seed} object {k}: changed cluster IoU {iou:F2} with the object");
                    clustered++;
                }
            }
        }
        Assert.True(tested >= 8 && clustered >= 5, $"{tested} objects, {clustered} clustered");
    }

    [Fact]
    public void TheChangedClusterIsTheLargestCentreAndObjectDependsOnTheStep()
    {
        var pot = zeros(2, 8, 8);
        pot[.., 2..5, 2..5] = tensor(5f);
        pot[.., 5..7, 5..7] = tensor(2f);
        var box = new Box(0, 0, 8, 8);
        using var i = ChangedRegion.Find(pot, box, 3, StepKind.Inpaint);
        Assert.Equal(3, i.Clusters);
        Assert.Equal(new[] { 0f, 2f, 5f }, i.Centres.data<float>().ToArray());
        Assert.Equal(2 * 9, i.Changed.sum().item<float>());
        Assert.True(i.Object.SameAs(i.Changed));
        using var o = ChangedRegion.Find(pot, box, 3, StepKind.Outpaint);
        Assert.Equal(2 * (64 - 9), o.Object.sum().item<float>());
        using var smallest = ChangedRegion.Find(pot, box, 3, StepKind.Outpaint, OutpaintObjectRule.SmallestCluster);
        Assert.Equal(2 * (64 - 9 - 4), smallest.Object.sum().item<float>());
        // outside the box: label -1, neither changed nor object
        using var part = ChangedRegion.Find(pot, new Box(0, 0, 6, 6), 2, StepKind.Outpaint);
        Assert.Equal(-1L, part.Labels[0, 7, 7].item<long>());
        Assert.Equal(0f, part.Object[0, 7, 7].item<float>());
    }

    [Fact]
    public void KMeansNeverSilentlyEmptiesAClusterHere()
    {
        // two distinct values cannot make three clusters: K drops to 2, reported
        var pot = zeros(1, 6, 6);
        pot[0, 0..2, ..] = tensor(1f);
        using var c = ChangedRegion.Find(pot, new Box(0, 0, 6, 6), 3, StepKind.Inpaint);
        Assert.Equal(2, c.Clusters);
        Assert.Equal(3, c.RequestedClusters);
        Assert.Equal(12f, c.Changed.sum().item<float>());
        // a constant potential: one cluster, no changed region
        using var flat = ChangedRegion.Find(ones(1, 6, 6), new Box(0, 0, 6, 6), 2, StepKind.Outpaint);
        Assert.Equal(1, flat.Clusters);
        Assert.Equal(0f, flat.Object.sum().item<float>() + flat.Changed.sum().item<float>());
        var labels = c.Labels.flatten();
        Assert.All(bincount(labels, minlength: 2).data<long>().ToArray(), n => Assert.True(n > 0));
    }

    [Fact]
    public void IStepsOnlyRemoveInsideTheInnerBandAndOStepsOnlyAddInsideTheOuterBand()
    {
        var o = new PaintSegOptions();
        int band = AdversarialUpdate.BandWidth(o, 64);
        Assert.Equal(4, band); // 32 px at 512
        for (ulong seed = 0; seed < 12; seed++)
        {
            using var scope = NewDisposeScope();
            var mask = TestMasks.ToTensor(TestMasks.Random(64, 64, seed, speckle: 0), 64, 64);
            if (Masks.Area(mask) == 0 || Masks.Area(mask) == 64 * 64) continue;
            var vote = rand(64, 64, generator: new Generator(seed));
            foreach (int clean in new[] { 0, 5 })
            {
                var opts = o with { CleanKernel = clean };
                var inner = Bands.InnerBand(mask, band);
                var outer = Bands.OuterBand(mask, band);
                var i = AdversarialUpdate.Apply(mask, vote, StepKind.Inpaint, opts);
                Assert.Equal(0, Masks.Area(i * (1 - mask)));                       // nothing added
                Assert.Equal(0, Masks.Area((mask - i).clamp_min(0) * (1 - inner)));  // removals only in the inner band
                var ostep = AdversarialUpdate.Apply(mask, vote, StepKind.Outpaint, opts);
                Assert.Equal(0, Masks.Area(mask * (1 - ostep)));                     // nothing removed
                Assert.Equal(0, Masks.Area((ostep - mask).clamp_min(0) * (1 - outer))); // additions only in the outer band
                if (clean == 0)
                {
                    // within the bounds the vote decides, binarised at 0.5
                    var v = vote.ge(0.5f).to_type(ScalarType.Float32);
                    Assert.True((i * inner).SameAs(v * inner), "I-step: the inner band follows the vote");
                    Assert.True((ostep * outer).SameAs(v * outer), "O-step: the outer band follows the vote");
                }
            }
            // without the constraint an I-step may remove anywhere in the mask and an O-step add anywhere
            var free = o with { AdversarialConstraint = false };
            var fi = AdversarialUpdate.Apply(mask, vote, StepKind.Inpaint, free);
            Assert.True(fi.SameAs(mask * vote.ge(0.5f).to_type(ScalarType.Float32)));
            var fo = AdversarialUpdate.Apply(mask, vote, StepKind.Outpaint, free);
            Assert.True(fo.SameAs(maximum(mask, vote.ge(0.5f).to_type(ScalarType.Float32))));
        }
    }

    [Fact]
    public void AWholeImageMaskHasNoBandAndItsIStepIsUnconstrained()
    {
        var mask = ones(32, 32);
        var vote = zeros(32, 32);
        vote[4..10, 4..10] = tensor(1f);
        Assert.True(AdversarialUpdate.Apply(mask, vote, StepKind.Inpaint, new PaintSegOptions()).SameAs(vote));
        Assert.True(AdversarialUpdate.Apply(mask, vote, StepKind.Outpaint, new PaintSegOptions()).SameAs(mask));
    }

    [Fact]
    public void OStepsMayHaveTheirOwnVoteShare()
    {
        var mask = zeros(32, 32);
        mask[8..24, 8..24] = tensor(1f);
        var vote = full(32, 32, 0.6f);
        var o = new PaintSegOptions();
        Assert.Equal(0.5, o.VoteThresholdFor(StepKind.Outpaint));
        var grown = AdversarialUpdate.Apply(mask, vote, StepKind.Outpaint, o);
        Assert.True(Masks.Area(grown) > Masks.Area(mask));                          // 0.6 >= 0.5: the outer band is added
        var strict = o with { OutpaintVoteThreshold = 0.8 };
        Assert.True(AdversarialUpdate.Apply(mask, vote, StepKind.Outpaint, strict).SameAs(mask)); // 0.6 < 0.8: nothing added
        Assert.True(AdversarialUpdate.Apply(mask, vote, StepKind.Inpaint, strict).SameAs(AdversarialUpdate.Apply(mask, vote, StepKind.Inpaint, o)));
        Assert.Equal("0.8", PaintSegSettings.Table.Values(strict)["vote-outpaint"]);
        Assert.Equal(0.9, PaintSegSettings.Table.Set(o, "vote-outpaint", "0.9").OutpaintVoteThreshold);
        Assert.Contains("OutpaintVoteThreshold", Assert.Throws<ArgumentOutOfRangeException>(() => (o with { OutpaintVoteThreshold = 0 }).Validate()).Message);
    }

    [Fact]
    public void PointAndScribblePromptsMayHaveTheirOwnBand()
    {
        var o = new PaintSegOptions { PointBandWidthAt512 = 128 };
        Assert.Equal(128, o.ForPrompt(PromptKind.Point).BandWidthAt512);
        Assert.Equal(128, o.ForPrompt(PromptKind.Scribble).BandWidthAt512);
        Assert.Equal(32, o.ForPrompt(PromptKind.Box).BandWidthAt512);
        Assert.Equal(32, o.ForPrompt(PromptKind.Mask).BandWidthAt512);
        Assert.Equal(16, AdversarialUpdate.BandWidth(o.ForPrompt(PromptKind.Point), 64));
        Assert.Equal(new PaintSegOptions(), new PaintSegOptions().ForPrompt(PromptKind.Point));
        Assert.Equal("128", PaintSegSettings.Table.Values(o)["band-point"]);
        Assert.Equal("32", PaintSegSettings.Table.Values(new PaintSegOptions())["band-point"]);
        Assert.Contains("PointBandWidthAt512", Assert.Throws<ArgumentOutOfRangeException>(() => (o with { PointBandWidthAt512 = -1 }).Validate()).Message);
    }

    [Fact]
    public void PromptComponentsKeepThePromptedObjectWithinTheBounds()
    {
        var o = new PaintSegOptions { PromptComponents = true };
        var whole = ones(32, 32);
        var result = zeros(32, 32);
        result[2..8, 2..8] = tensor(1f);   // the prompted object
        result[20..30, 20..30] = tensor(1f); // another object the whole-image repaint changed
        var points = new[] { new PromptPoint(4, 5) };
        var kept = AdversarialUpdate.Apply(whole, result, StepKind.Inpaint, o, points);
        Assert.Equal(36, Masks.Area(kept));
        Assert.Equal(1f, kept[5, 4].item<float>());
        Assert.True(AdversarialUpdate.Apply(whole, result, StepKind.Inpaint, o).SameAs(result)); // without points every component stays
        // no component under a point: the result stays
        Assert.True(AdversarialUpdate.Apply(whole, result, StepKind.Inpaint, o, new[] { new PromptPoint(15, 15) }).SameAs(result));
        // an O-step never drops the mask it started from (Eq. 4's lower bound), though the point holds only one of its parts
        var mask = result.clone();
        var grown = AdversarialUpdate.Apply(mask, result, StepKind.Outpaint, o, points);
        Assert.True((grown * mask).SameAs(mask));
        // box and mask prompts run without prompt components
        Assert.False(o.ForPrompt(PromptKind.Box).PromptComponents);
        Assert.True(o.ForPrompt(PromptKind.Scribble).PromptComponents);
    }

    [Fact]
    public void OptionsScheduleKAndValidation()
    {
        var o = new PaintSegOptions();
        Assert.Equal(new[] { StepKind.Inpaint, StepKind.Outpaint, StepKind.Inpaint, StepKind.Outpaint, StepKind.Inpaint }, Enumerable.Range(0, 5).Select(o.KindAt));
        Assert.Equal(new[] { 3, 3, 3, 2, 2 }, Enumerable.Range(0, 5).Select(t => o.ClustersAt(t, PromptKind.Box)));
        Assert.Equal(new[] { 2, 2, 2, 2, 2 }, Enumerable.Range(0, 5).Select(t => o.ClustersAt(t, PromptKind.Mask)));
        Assert.All(Enumerable.Range(0, 4), t => Assert.Equal(StepKind.Outpaint, (o with { Schedule = StepSchedule.OutpaintOnly }).KindAt(t)));
        Assert.Equal(0.12, (o with { PromptWeightDecay = 0.04 }).PromptWeightAt(2), 10);
        Assert.Equal(0.375f, o.CrfAt(64).GaussianSxy);
        Assert.Contains("Clusters", Assert.Throws<ArgumentOutOfRangeException>(() => (o with { Clusters = 1 }).Validate()).Message);
        Assert.Contains("CleanKernel", Assert.Throws<ArgumentOutOfRangeException>(() => (o with { CleanKernel = 4 }).Validate()).Message);
    }

    [Fact]
    public void PresetsAreThePaperOrThePaperTunedOnToyWorldVal()
    {
        Assert.Equal(new PaintSegOptions(), PaintSegSettings.Table.Preset("paper"));
        var toy = PaintSegSettings.Table.Preset(" ToyWorld ");
        Assert.Equal(new PaintSegOptions() with { EarlySteps = 0, PromptComponents = true, PointBandWidthAt512 = 128, Scheduler = "euler", PaintIterations = 5 }, toy);
        Assert.Equal(toy.BandWidthAt512, toy.ForPrompt(PromptKind.Box).BandWidthAt512); // box and mask prompts keep the paper's band
        Assert.Equal(new[] { 2, 2, 2, 2, 2 }, Enumerable.Range(0, 5).Select(t => toy.ClustersAt(t, PromptKind.Box)));
        Assert.Contains("expected paper or toyworld", Assert.Throws<ArgumentException>(() => PaintSegSettings.Table.Preset("best")).Message);
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class PaintSegSegmenterTests
{
    [Fact]
    public void AnIdentityPainterGivesNoEvidenceAndTheMaskIsKept()
    {
        var scene = SceneGenerator.Generate(100_001);
        var prompt = ScenePrompts.Box(scene.Objects[0], 64);
        var seg = new PaintSegSegmenter(new IdentityPainter(), new ColourPositionFeatures(1, 0), new PaintSegOptions { CrfWeight = 0, PromptWeight = 0, Steps = 2 });
        using var r = seg.Segment(scene.ImageTensor(), prompt);
        Assert.All(r.Steps, s => Assert.Equal("constant potential", s.Note));
        Assert.True(r.Mask.SameAs(r.InitialMask));
    }

    [Fact]
    public void AWholeImageMaskPromptIsADefinedStartLikeAPoint()
    {
        var scene = SceneGenerator.Generate(100_002);
        var seg = new PaintSegSegmenter(new ToyWorldOraclePainter(scene, 0), new ColourPositionFeatures(1, 0), new PaintSegOptions { Steps = 1 });
        var prompt = new Prompt(PromptKind.Mask, Array.Empty<PromptPoint>(), null, ones(64, 64));
        using var r = seg.Segment(scene.ImageTensor(), prompt);
        Assert.Equal(64 * 64, Masks.Area(r.InitialMask));
        Assert.True(Masks.Area(r.Mask) < 64 * 64 && Masks.Area(r.Mask) > 0);
        Assert.True(Metrics.Iou(r.Mask, scene.InstanceTensor(0)) > Metrics.Iou(r.InitialMask, scene.InstanceTensor(0)));
    }

    [Fact]
    public void SegmentFreesEverythingItMakes()
    {
        var scene = SceneGenerator.Generate(100_003);
        using var image = scene.ImageTensor();
        var painter = new ToyWorldOraclePainter(scene, 0);
        var seg = new PaintSegSegmenter(painter, new ColourPositionFeatures(1, 0), new PaintSegOptions { Steps = 2, Paints = 2 });
        var prompt = ScenePrompts.Point(scene.Objects[0], 64);
        GenSeg.Tests.Support.Memory.AssertNoTensorGrowth(() =>
        {
            using var r = seg.Segment(image, prompt);
        }, 5);
    }
}

/// <summary>PaintSeg evaluated on ToyWorld val scenes with the oracle painter.</summary>
[Trait(Categories.Name, Categories.Integration)]
public class PaintSegOracleEvaluationTests
{
    [Fact]
    public void WithTheOraclePainterBoxPromptsImprove()
    {
        var settings = new PaintSegEvaluationOptions { Split = Split.Val, Count = 8, Prompt = PromptKind.Box, Resamples = 200, Painter = PainterChoice.Oracle };
        var r = PaintSegEvaluation.Run(settings, null);
        Assert.Equal(8, r.Objects.Count);
        Assert.True(r.Main.Gain.Value > 10, $"oracle gain {r.Main.Gain.Value:F1} points");
        Assert.Equal(5, r.Main.PerStep.Count);
    }

    [Fact]
    public void ASweepBuildsThePaintersOfEachSweptSetting()
    {
        var settings = new PaintSegEvaluationOptions { Split = Split.Val, Count = 2, Prompt = PromptKind.Box, Resamples = 50, Options = new PaintSegOptions { Steps = 1, Paints = 1 } };
        var built = new List<int>();
        var rows = PaintSegEvaluationSettings.Table.Sweep("iterations=7,13", settings);
        var r = PaintSegEvaluation.Run(new ToyWorldTargets(Split.Val, null, 2), rows, null, painters: s =>
        {
            built.Add(s.Options.PaintIterations);
            return new PainterChoice("oracle", t => new ToyWorldOraclePainter(t.Scene!, t.ObjectIndex));
        });
        Assert.Equal(new[] { 7, 13 }, built);
        Assert.Equal(new[] { "iterations=7", "iterations=13" }, r.Rows.Select(x => x.Label));
        Assert.Equal(new[] { "7", "13" }, r.Rows.Select(x => x.Settings["iterations"]));
    }
}
