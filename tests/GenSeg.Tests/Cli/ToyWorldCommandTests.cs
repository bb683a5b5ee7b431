using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;

namespace GenSeg.Tests.Cli;

[Collection(CliCollection.Name)]
[Trait(Categories.Name, Categories.Integration)]
public sealed class ToyWorldCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("genseg-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static int Run(params string[] args) => GenSeg.Tests.Support.CliRun.Run(args);

    [Fact]
    public void ExportedScenesAgreeWithTheirMasksBoxesCaptionsAndManifest()
    {
        var outDir = Path.Combine(_dir, "a");
        Assert.Equal(0, Run("toyworld", "--split", "val", "--count", "30", "--first-seed", "100050", "--out", outDir));
        var manifest = ToyWorldManifest.Load(Path.Combine(outDir, "manifest.json"));
        Assert.Equal(("val", 100_050, 30, 64, "medium"), (manifest.Split, manifest.FirstSeed, manifest.Count, manifest.Size, manifest.Severity));
        Assert.Equal(Enumerable.Range(100_050, 30), manifest.Scenes.Select(s => s.Seed));
        Assert.Equal(ToyClasses.All, manifest.Classes);
        foreach (var entry in manifest.Scenes)
        {
            var scene = SceneGenerator.Generate(entry.Seed);
            int n = scene.Size;
            Assert.Equal(scene.Rgb, ImageIO.LoadRgb(Path.Combine(outDir, entry.Image)).Rgb);
            var (semantic, _, _) = MaskIO.LoadBytes(Path.Combine(outDir, entry.Semantic));
            Assert.Equal(scene.Semantic, semantic);
            Assert.Equal(scene.Caption, entry.Caption);
            // the caption names exactly the classes present in the masks
            var present = semantic.Where(b => b != 0).Distinct().Select(b => ToyClasses.Name(b)).ToHashSet();
            var named = entry.Caption.Split(' ', ',').Where(w => ToyClasses.All.Skip(1).Contains(w)).ToHashSet();
            Assert.Equal(present, named);
            var union = new byte[n * n];
            foreach (var o in entry.Objects)
            {
                var (instance, _, _) = MaskIO.LoadBytes(Path.Combine(outDir, o.Instance));
                var box = new Box(o.Box[0], o.Box[1], o.Box[2], o.Box[3]);
                Assert.Equal(box, Boxes.BoundingBox(instance, n, n));
                Assert.Equal(o.VisibleArea, instance.Count(b => b == 1));
                for (int i = 0; i < instance.Length; i++)
                {
                    if (instance[i] == 0) continue;
                    Assert.True(box.Contains(i % n, i / n));
                    Assert.Equal(o.Class, semantic[i]);
                    union[i]++;
                }
                Assert.Contains($"{o.Colour} {o.ClassName}", entry.Caption);
                // the coarse mask on disk has the IoU the manifest states
                var (coarse, _, _) = MaskIO.LoadBytes(Path.Combine(outDir, o.Coarse.Probability));
                long inter = 0, uni = 0;
                for (int i = 0; i < coarse.Length; i++)
                {
                    bool c = coarse[i] >= 128, t = instance[i] == 1;
                    if (c && t) inter++;
                    if (c || t) uni++;
                }
                Assert.Equal(o.Coarse.Iou, (double)inter / uni, 9);
                Assert.Equal("blur", o.Coarse.Record[^1].Name);
                // noiseless prompts sit on the object
                Assert.Equal(o.Box, o.Prompts.Box);
                Assert.Equal(1, instance[o.Prompts.Point[1] * n + o.Prompts.Point[0]]);
                Assert.All(o.Prompts.Scribble, p => Assert.Equal(1, instance[p[1] * n + p[0]]));
            }
            for (int i = 0; i < union.Length; i++) Assert.Equal(semantic[i] != 0 ? 1 : 0, union[i]);
        }
    }

    [Fact]
    public void RegeneratingGivesIdenticalBytes()
    {
        string a = Path.Combine(_dir, "x"), b = Path.Combine(_dir, "y");
        Assert.Equal(0, Run("toyworld", "--count", "12", "--first-seed", "40", "--out", a, "--prompt-noise", "0.2"));
        Assert.Equal(0, Run("toyworld", "--count", "12", "--first-seed", "40", "--out", b, "--prompt-noise", "0.2"));
        var filesA = Directory.GetFiles(a, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).Order().ToArray();
        var filesB = Directory.GetFiles(b, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b, f)).Order().ToArray();
        Assert.Equal(filesA, filesB);
        Assert.Equal(1 + 12 * 2 + 2 * ToyWorldManifest.Load(Path.Combine(a, "manifest.json")).Scenes.Sum(s => s.Objects.Count), filesA.Length);
        Assert.DoesNotContain(filesA, f => f.EndsWith(".tmp", StringComparison.Ordinal));
        foreach (var f in filesA) Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)));
    }

    [Theory]
    [InlineData("--count", "0")]
    [InlineData("--split", "dev")]
    [InlineData("--first-seed", "100000")]
    [InlineData("--severity", "extreme")]
    [InlineData("--size", "8")]
    [InlineData("--count", "abc")]
    public void BadArgumentsGiveOneLineNamingTheArgument(string option, string value)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        int code;
        try
        {
            Console.SetError(error);
            code = Run("toyworld", option, value, "--out", Path.Combine(_dir, "bad"));
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.Equal(2, code);
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(option, lines[0]);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")));
    }

    [Fact]
    public void DemoWritesAContactSheet()
    {
        var outDir = Path.Combine(_dir, "demo");
        Assert.Equal(0, Run("demo", "--out", outDir, "--scenes", "3", "--objects", "20", "--g4seg-scenes", "2", "--paintseg-objects", "1"));
        var (_, width, height) = ImageIO.LoadRgb(Path.Combine(outDir, "toyworld-sheet.png"));
        int maxObjects = Enumerable.Range(100_000, 3).Max(s => SceneGenerator.Generate(s).Objects.Count);
        Assert.Equal((3 + maxObjects) * (128 + 4) + 4, width);
        Assert.Equal(3 * (128 + 4) + 4, height);
        // the demo ends with the quickstart notebook: its executed copy (no error output) and HTML report
        var executed = GenSeg.Notebooks.Notebook.Load(Path.Combine(outDir, "01-quickstart.ipynb"));
        Assert.DoesNotContain(executed.Cells.SelectMany(c => c.Outputs), o => o is GenSeg.Notebooks.ErrorOutput);
        Assert.Contains(executed.Cells.SelectMany(c => c.Outputs).OfType<GenSeg.Notebooks.DisplayDataOutput>(), o => o.Data.ContainsKey("image/png"));
        Assert.True(File.Exists(Path.Combine(outDir, "01-quickstart.html")));
        // and ends with the main job: both methods' before and after, as result JSONs
        var g4 = GenSeg.Evaluation.EvaluationResult.Read(Path.Combine(outDir, "g4seg.json"));
        var paint = GenSeg.Evaluation.EvaluationResult.Read(Path.Combine(outDir, "paintseg.json"));
        Assert.Equal(("g4seg", 2, "test"), (g4.Method, g4.Images, g4.Split));
        Assert.Equal(("paintseg", 1, "toyworld"), (paint.Method, paint.Targets, paint.Main.Settings["painter"] == "diffusion" ? "toyworld" : "?"));
        Assert.InRange(g4.Main.After.Value, 0, 100);
        Assert.InRange(paint.Main.After.Value, 0, 100);
    }
}
