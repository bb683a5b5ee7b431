using GenSeg.Imaging;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;

namespace GenSeg.Tests.ToyWorld;

[Trait(Categories.Name, Categories.Unit)]
public class SceneGeneratorTests
{
    static IEnumerable<Scene> Sample(int count, int first = 0, ToyWorldOptions? options = null) =>
        Enumerable.Range(first, count).Select(s => SceneGenerator.Generate(s, options));

    [Fact]
    public void SameSeedGivesIdenticalBytes()
    {
        foreach (int seed in new[] { 0, 7, 123_456, 1_000_003, -5 })
        {
            var a = SceneGenerator.Generate(seed);
            var b = SceneGenerator.Generate(seed);
            Assert.Equal(a.Rgb, b.Rgb);
            Assert.Equal(a.Semantic, b.Semantic);
            Assert.Equal(a.Caption, b.Caption);
            Assert.Equal(a.Objects.Count, b.Objects.Count);
            for (int k = 0; k < a.Objects.Count; k++) Assert.Equal(a.Objects[k].Instance, b.Objects[k].Instance);
        }
    }

    [Fact]
    public void DifferentSeedsGiveDifferentScenes()
    {
        var images = Sample(50).Select(s => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(s.Rgb))).ToHashSet();
        Assert.Equal(50, images.Count);
    }

    [Fact]
    public void MasksBoxesAndSemanticAgree()
    {
        foreach (var scene in Sample(150, first: 100_000))
        {
            int size = scene.Size;
            Assert.InRange(scene.Objects.Count, 1, 3);
            Assert.Equal(size * size, scene.Semantic.Length);
            Assert.Equal(size * size * 3, scene.Rgb.Length);
            var union = new int[size * size];
            foreach (var o in scene.Objects)
            {
                int area = 0;
                for (int i = 0; i < o.Instance.Length; i++)
                {
                    if (o.Instance[i] == 0) continue;
                    area++;
                    union[i]++;
                    Assert.True(o.Box.Contains(i % size, i / size), $"seed {scene.Seed}: pixel outside the box of {o.ClassName}");
                    Assert.Equal(o.ClassIndex, scene.Semantic[i]);
                }
                Assert.Equal(o.VisibleArea, area);
                Assert.Equal(o.Box, Boxes.BoundingBox(o.Instance, size, size));
                // objects are at least ~10% of the image side and keep most of their area visible
                Assert.True(Math.Max(o.Box.Width, o.Box.Height) >= 0.1 * size, $"seed {scene.Seed}: {o.ClassName} box {o.Box} is tiny");
                Assert.True(area >= 0.55 * o.FullArea, $"seed {scene.Seed}: {o.ClassName} is mostly hidden ({area}/{o.FullArea})");
            }
            for (int i = 0; i < union.Length; i++)
            {
                Assert.True(union[i] <= 1, $"seed {scene.Seed}: instances overlap at pixel {i}");
                Assert.Equal(union[i] == 1, scene.Semantic[i] != 0);
            }
        }
    }

    [Fact]
    public void VisiblePixelsLieInsideTheirShapeAndUnoccludedShapePixelsAreVisible()
    {
        foreach (var scene in Sample(60, first: 5000))
        {
            int size = scene.Size;
            for (int k = 0; k < scene.Objects.Count; k++)
            {
                var o = scene.Objects[k];
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++)
                    {
                        bool inside = Inside(o, x, y);
                        bool coveredLater = scene.Objects.Skip(k + 1).Any(later => Inside(later, x, y));
                        Assert.Equal(inside && !coveredLater, o.Instance[y * size + x] == 1);
                    }
            }
        }
    }

    static bool Inside(SceneObject o, int x, int y)
    {
        double dx = x + 0.5 - o.Center.X, dy = y + 0.5 - o.Center.Y;
        double c = Math.Cos(o.Rotation), s = Math.Sin(o.Rotation);
        return ShapeGeometry.Contains(o.ClassIndex, (dx * c + dy * s) / o.Radius, (-dx * s + dy * c) / o.Radius);
    }

    [Fact]
    public void FlatObjectsWithoutNoiseHaveExactlyTheirColour()
    {
        var options = new ToyWorldOptions { PixelNoise = 0 };
        int checkedObjects = 0;
        foreach (var scene in Sample(80, first: 300, options))
            foreach (var o in scene.Objects.Where(o => o.Texture == ObjectTexture.Flat))
            {
                var c = Palettes.ObjectColour(o.ColourName).Value;
                for (int i = 0; i < o.Instance.Length; i++)
                {
                    bool match = scene.Rgb[3 * i] == c.R && scene.Rgb[3 * i + 1] == c.G && scene.Rgb[3 * i + 2] == c.B;
                    if (o.Instance[i] == 1) Assert.True(match, $"seed {scene.Seed}: pixel {i} of the {o.ColourName} {o.ClassName} has another colour");
                }
                checkedObjects++;
            }
        Assert.True(checkedObjects > 20);
    }

    [Fact]
    public void CaptionsNameExactlyThePresentClassesAndColours()
    {
        var classWords = ToyClasses.ObjectClasses.ToDictionary(c => c, c => ToyClasses.Words(c)[0]);
        foreach (var scene in Sample(200, first: 100_000))
        {
            var words = scene.ClassesPresent.Select(c => classWords[c]).ToHashSet();
            var captionWords = scene.Caption.Split(' ', ',').Where(w => w.Length > 0).ToArray();
            var named = captionWords.Where(w => classWords.ContainsValue(w)).ToHashSet();
            Assert.Equal(words, named);
            foreach (var o in scene.Objects)
                Assert.Contains($"{o.ColourName} {o.ClassName}", scene.Caption);
            Assert.StartsWith("a photo of ", scene.Caption);
            var classOnly = scene.CaptionFor(CaptionStyle.ClassOnly);
            Assert.DoesNotContain(Palettes.ObjectColours, c => classOnly.Split(' ', ',').Contains(c.Name));
        }
    }

    [Fact]
    public void CaptionGrammar()
    {
        var two = Sample(400).First(s => s.Objects.Count == 2);
        Assert.Equal($"a photo of {A(two.Objects[0].ClassName)} and {A(two.Objects[1].ClassName)}", two.CaptionFor(CaptionStyle.ClassOnly));
        var three = Sample(400).First(s => s.Objects.Count == 3);
        var o = three.Objects;
        Assert.Equal($"a photo of {A(o[0].ClassName)}, {A(o[1].ClassName)} and {A(o[2].ClassName)}", three.CaptionFor(CaptionStyle.ClassOnly));
        var orange = Sample(600).SelectMany(s => s.Objects.Select(ob => (s, ob))).First(p => p.ob.ColourName == "orange");
        Assert.Contains($"an orange {orange.ob.ClassName}", orange.s.Caption);

        static string A(string noun) => ("aeiou".Contains(noun[0]) ? "an " : "a ") + noun;
    }

    [Fact]
    public void VarietyOfClassesColoursTexturesAndBackgrounds()
    {
        var scenes = Sample(400, first: 1_000_000).ToList();
        var objects = scenes.SelectMany(s => s.Objects).ToList();
        Assert.Equal(ToyClasses.ObjectClasses.ToHashSet(), objects.Select(o => o.ClassIndex).ToHashSet());
        Assert.True(objects.Select(o => o.ColourName).Distinct().Count() >= 8);
        Assert.Equal(Enum.GetValues<ObjectTexture>().ToHashSet(), objects.Select(o => o.Texture).ToHashSet());
        Assert.Equal(Enum.GetValues<BackgroundKind>().ToHashSet(), scenes.Select(s => s.Background).ToHashSet());
        Assert.True(scenes.Select(s => s.BackgroundPalette).Distinct().Count() >= 4);
        for (int n = 1; n <= 3; n++) Assert.Contains(scenes, s => s.Objects.Count == n);
        Assert.Contains(scenes, s => s.Objects.Any(o => o.VisibleArea < o.FullArea)); // occlusion happens
        Assert.All(scenes, s => Assert.Equal(s.Objects.Count, s.ClassesPresent.Count)); // distinct classes by default
    }

    [Theory]
    [InlineData(32)]
    [InlineData(128)]
    public void SizeIsConfigurable(int size)
    {
        var scene = SceneGenerator.Generate(42, new ToyWorldOptions { Size = size });
        Assert.Equal(size, scene.Size);
        Assert.Equal(size * size * 3, scene.Rgb.Length);
        using var image = scene.ImageTensor();
        Assert.Equal(new long[] { 3, size, size }, image.shape);
    }

    [Fact]
    public void TensorViewsMatchTheBytes()
    {
        var scene = SceneGenerator.Generate(11);
        using var image = scene.ImageTensor();
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, image.dtype);
        Assert.True(image.min().item<float>() >= -1f && image.max().item<float>() <= 1f);
        Assert.Equal(scene.Rgb[1] / 127.5f - 1f, image[1, 0, 0].item<float>(), 5);
        using var semantic = scene.SemanticTensor();
        Assert.Equal(TorchSharp.torch.ScalarType.Int64, semantic.dtype);
        Assert.Equal(scene.Semantic.Sum(b => (long)b), semantic.sum().item<long>());
        using var inst = scene.InstanceTensor(0);
        Assert.Equal(scene.Objects[0].VisibleArea, (int)inst.sum().item<float>());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => scene.InstanceTensor(scene.Objects.Count));
        Assert.Contains("object", e.Message);
    }

    [Fact]
    public void BadOptionsNameTheOption()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => SceneGenerator.Generate(0, new ToyWorldOptions { Size = 4 }));
        Assert.Contains("Size", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => SceneGenerator.Generate(0, new ToyWorldOptions { MinObjects = 3, MaxObjects = 2 }));
        Assert.Contains("MaxObjects", e.Message);
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class ToyClassesAndSplitsTests
{
    [Fact]
    public void ClassNamesRoundTrip()
    {
        Assert.Equal(9, ToyClasses.Count);
        Assert.Equal("background", ToyClasses.Name(0));
        string[] expected = { "circle", "square", "triangle", "star", "ring", "cross", "crescent", "hexagon" };
        for (int i = 1; i < ToyClasses.Count; i++)
        {
            Assert.Equal(expected[i - 1], ToyClasses.Name(i));
            Assert.Equal(i, ToyClasses.IndexOf(expected[i - 1].ToUpperInvariant()));
            Assert.Equal(new[] { expected[i - 1] }, ToyClasses.Words(i));
        }
        var e = Assert.Throws<ArgumentException>(() => ToyClasses.IndexOf("dog"));
        Assert.Contains("dog", e.Message);
        Assert.Contains("hexagon", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ToyClasses.Name(9));
    }

    [Fact]
    public void SplitsAreDisjointAndSeedsAreChecked()
    {
        var ranges = Enum.GetValues<Split>().Select(Splits.Range).ToList();
        for (int i = 0; i < ranges.Count; i++)
            for (int j = i + 1; j < ranges.Count; j++)
            {
                long a0 = ranges[i].First, a1 = a0 + ranges[i].Count, b0 = ranges[j].First, b1 = b0 + ranges[j].Count;
                Assert.True(a1 <= b0 || b1 <= a0);
            }
        Assert.Equal(new[] { 100_000, 100_001, 100_002 }, Splits.Seeds(Split.Val, null, 3));
        Assert.Equal(new[] { 10, 11 }, Splits.Seeds(Split.Test, 10, 2));
        Assert.Equal(Split.Train, Splits.Of(Splits.Seeds(Split.Train, null, 1)[0]));
        Assert.Null(Splits.Of(500_000));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Splits.Seeds(Split.Test, 100_000, 1));
        Assert.Contains("test", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Splits.Seeds(Split.Test, 99_999, 2));
        Assert.Equal(Split.Val, Splits.Parse("Validation"));
        Assert.Contains("expected train, val or test", Assert.Throws<ArgumentException>(() => Splits.Parse("dev")).Message);
    }
}
