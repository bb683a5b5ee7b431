using GenSeg.Evaluation;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Tests.ToyWorld;

[Trait(Categories.Name, Categories.Unit)]
public class CoarseMaskTests
{
    static IEnumerable<(Scene Scene, int Index)> Objects(int firstSeed, int scenes) =>
        Enumerable.Range(firstSeed, scenes).Select(s => SceneGenerator.Generate(s)).SelectMany(s => Enumerable.Range(0, s.Objects.Count).Select(k => (s, k)));

    [Fact]
    public void SameSeedSameMaskAndRecord()
    {
        var scene = SceneGenerator.Generate(100_003);
        using var truth = scene.InstanceTensor(0);
        using var a = CoarseMasks.Make(truth, Severity.Medium, 77);
        using var b = CoarseMasks.Make(truth, Severity.Medium, 77);
        Assert.Equal(a.Probability.data<float>().ToArray(), b.Probability.data<float>().ToArray());
        Assert.Equal(a.Record.Select(o => o.ToString()), b.Record.Select(o => o.ToString()));
        using var c = CoarseMasks.Make(truth, Severity.Medium, 78);
        Assert.NotEqual(a.Probability.data<float>().ToArray(), c.Probability.data<float>().ToArray());
    }

    [Fact]
    public void ProbabilityBinaryAndRecordAreConsistent()
    {
        var names = new HashSet<string>();
        foreach (var (scene, k) in Objects(100_000, 40))
        {
            using var scope = NewDisposeScope();
            var truth = scene.InstanceTensor(k);
            var coarse = CoarseMasks.Make(truth, Severity.Medium, CoarseMasks.SeedFor(scene.Seed, k));
            Assert.Equal(truth.shape, coarse.Probability.shape);
            Assert.True(coarse.Probability.min().item<float>() >= 0f && coarse.Probability.max().item<float>() <= 1f);
            Assert.Equal(coarse.Probability.ge(0.5f).to_type(ScalarType.Float32).data<float>().ToArray(), coarse.Binary.data<float>().ToArray());
            Assert.True(coarse.Binary.sum().item<float>() > 0, $"seed {scene.Seed}: empty coarse mask");
            Assert.Equal("blur", coarse.Record[^1].Name);
            Assert.True(coarse.Record.Count >= 2, $"seed {scene.Seed}: no damage at medium severity");
            foreach (var op in coarse.Record) names.Add(op.Name);
        }
        Assert.Equal(new HashSet<string> { "erode", "dilate", "shift", "lowres", "blob_add", "blob_remove", "cut", "blur" }, names);
    }

    [Fact]
    public void ShiftRecordMovesTheMaskByItsOffset()
    {
        using var m = zeros(20, 20);
        m[TensorIndex.Slice(5, 10), TensorIndex.Slice(6, 9)] = 1f;
        using var shifted = CoarseMasks.Shift(m, 3, -2);
        Assert.Equal(15f, shifted.sum().item<float>());
        Assert.Equal(1f, shifted[3, 9].item<float>());
        Assert.Equal(0f, shifted[5, 6].item<float>());
    }

    [Fact]
    public void MediumSeverityIsCalibrated()
    {
        var result = CoarseMaskSurvey.Run(Split.Val, 300, Severity.Medium);
        Assert.InRange(result.Mean, 0.60, 0.75);
        Assert.True(result.Share(IouStratum.Below40) > 0.03, $"only {result.Share(IouStratum.Below40):P1} below 40");
        Assert.True(result.Share(IouStratum.From80) > 0.1, $"only {result.Share(IouStratum.From80):P1} at or above 80");
        var low = CoarseMaskSurvey.Run(Split.Val, 150, Severity.Low);
        var high = CoarseMaskSurvey.Run(Split.Val, 150, Severity.High);
        Assert.True(low.Mean > result.Mean && result.Mean > high.Mean, $"low {low.Mean:F3}, medium {result.Mean:F3}, high {high.Mean:F3}");
        var none = CoarseMaskSurvey.Run(Split.Val, 60, new Severity(0));
        Assert.True(none.Min > 0.85, $"severity 0 should only blur lightly, min IoU {none.Min:F3}");
    }

    [Fact]
    public void SeverityParsesAndRejects()
    {
        Assert.Equal(Severity.Medium, Severity.Parse("Medium"));
        Assert.Equal(0.3, Severity.Parse("0.3").Level);
        Assert.Equal("medium", Severity.Medium.ToString());
        var e = Assert.Throws<ArgumentException>(() => Severity.Parse("extreme"));
        Assert.Contains("extreme", e.Message);
        Assert.Throws<ArgumentException>(() => Severity.Parse("1.5"));
        Assert.ThrowsAny<ArgumentException>(() => new Severity(-0.1));
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => CoarseMasks.Make(zeros(8, 8), Severity.Low, 1)).Message);
        Assert.Contains("[H, W]", Assert.Throws<ArgumentException>(() => CoarseMasks.Make(zeros(1, 8, 8), Severity.Low, 1)).Message);
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class PromptTests
{
    static IEnumerable<(Scene Scene, SceneObject Obj)> Objects(int first, int count) =>
        Enumerable.Range(first, count).Select(s => SceneGenerator.Generate(s)).SelectMany(s => s.Objects.Select(o => (s, o)));

    static bool On(SceneObject o, int size, PromptPoint p) => o.Instance[p.Y * size + p.X] == 1;

    [Fact]
    public void NoiselessPromptsLieOnTheObject()
    {
        foreach (var (scene, o) in Objects(0, 60))
        {
            int size = scene.Size;
            Assert.Equal(o.Box, ScenePrompts.Box(o, size).Box);
            var c = ScenePrompts.Point(o, size, PointMode.Centroid).Points.Single();
            Assert.True(On(o, size, c), $"seed {scene.Seed}: centroid point off the {o.ClassName}");
            var r = ScenePrompts.Point(o, size, PointMode.RandomInterior, seed: 5).Points.Single();
            Assert.True(On(o, size, r));
            var s = ScenePrompts.Scribble(o, size, seed: 9);
            Assert.Equal(PromptKind.Scribble, s.Kind);
            Assert.True(s.Points.Count >= 3, $"seed {scene.Seed}: scribble of {s.Points.Count} points on the {o.ClassName}");
            Assert.All(s.Points, p => Assert.True(On(o, size, p)));
            for (int i = 1; i < s.Points.Count; i++)
                Assert.True(Math.Max(Math.Abs(s.Points[i].X - s.Points[i - 1].X), Math.Abs(s.Points[i].Y - s.Points[i - 1].Y)) == 1);
        }
    }

    [Fact]
    public void CentroidOfARingIsOnTheRing()
    {
        var (scene, ring) = Objects(0, 300).First(p => p.Obj.ClassIndex == ToyClasses.Ring && p.Obj.VisibleArea == p.Obj.FullArea);
        var p = ScenePrompts.Point(ring, scene.Size).Points.Single();
        Assert.True(On(ring, scene.Size, p));
    }

    [Fact]
    public void NoiseStaysWithinItsFractionOfHalfTheDiagonal()
    {
        foreach (var (scene, o) in Objects(200, 40))
        {
            int size = scene.Size;
            double noise = 0.3, r = noise * o.Box.Diagonal / 2;
            for (ulong seed = 0; seed < 5; seed++)
            {
                var b = ScenePrompts.Box(o, size, noise, seed).Box!.Value;
                Assert.True(Math.Abs(b.X0 - o.Box.X0) <= r + 1 && Math.Abs(b.X1 - o.Box.X1) <= r + 1 && Math.Abs(b.Y0 - o.Box.Y0) <= r + 1 && Math.Abs(b.Y1 - o.Box.Y1) <= r + 1);
                Assert.False(b.IsEmpty);
                Assert.True(new Box(0, 0, size, size).Contains(b));
                var clean = ScenePrompts.Point(o, size).Points.Single();
                var noisy = ScenePrompts.Point(o, size, PointMode.Centroid, noise, seed).Points.Single();
                Assert.True(Math.Sqrt(Math.Pow(clean.X - noisy.X, 2) + Math.Pow(clean.Y - noisy.Y, 2)) <= r + 1.5);
            }
            Assert.Equal(ScenePrompts.Box(o, size, noise, 3), ScenePrompts.Box(o, size, noise, 3) with { });
        }
        // noise actually moves things
        var moved = Objects(200, 40).Count(p => ScenePrompts.Box(p.Obj, p.Scene.Size, 0.3, 1).Box != p.Obj.Box);
        Assert.True(moved > 20);
    }

    [Fact]
    public void TensorOverloadsAgreeWithBytes()
    {
        var scene = SceneGenerator.Generate(12);
        var o = scene.Objects[0];
        using var truth = scene.InstanceTensor(0);
        Assert.Equal(ScenePrompts.Box(o, scene.Size, 0.2, 4).Box, Prompts.Box(truth, 0.2, 4).Box);
        Assert.Equal(ScenePrompts.Scribble(o, scene.Size, 0.1, 2).Points, Prompts.Scribble(truth, 0.1, 2).Points);
        using var coarse = CoarseMasks.Make(truth, Severity.Medium, 3);
        var mask = ScenePrompts.FromCoarse(coarse);
        Assert.Equal(PromptKind.Mask, mask.Kind);
        Assert.Same(coarse.Probability, mask.Mask);
        Assert.Equal(Boxes.BoundingBox(coarse.Binary), mask.Box);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => Prompts.Box(zeros(5, 5))).Message);
    }
}
