using GenSeg.Imaging;
using GenSeg.Notebooks;
using GenSeg.Runtime;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using TorchSharp;
using static GenSeg.Tests.Notebooks.NotebookTestSupport;

namespace GenSeg.Tests.Notebooks;

/// <summary>The kit's notebooks with parameters other than their defaults: the user-files notebook on real files, and
/// the model notebooks with a model folder that does not exist.</summary>
[Collection(NotebookRunnerCollection.Name)]
[Trait(Categories.Name, Categories.Notebook)]
public sealed class KitNotebookParameterTests
{
    const string OwnFiles = "05-your-own-model-and-images.ipynb";

    static async Task<NotebookJobResult> RunKitNotebook(string name, DirectoryInfo output, Dictionary<string, string> parameters) =>
        await NotebookJob.RunAsync(Path.Combine(RepoRoot(), "notebooks", name), output.FullName,
            new RunOptions { Parameters = parameters, WorkingDirectory = Environment.CurrentDirectory });

    static IEnumerable<string> Texts(NotebookCell cell) => cell.Outputs.SelectMany(o => o switch
    {
        StreamOutput s => [s.Text],
        DisplayDataOutput d => d.Data.Values,
        ExecuteResultOutput r => r.Data.Values,
        ErrorOutput e => [e.Value],
        _ => [],
    });

    [Fact]
    public async Task OwnFilesNotebookWithoutFilesRefinesToyWorldScenesAndScoresThemAgainstTheTruth()
    {
        var dir = Directory.CreateTempSubdirectory("genseg-nb-");
        try
        {
            var job = await RunKitNotebook(OwnFiles, dir, []);
            Assert.True(job.Result.Succeeded, job.Result.FailureMessage);
            var texts = job.Result.Notebook.Cells.Where(c => c.IsCode).SelectMany(Texts).ToList();
            Assert.Contains(texts, t => t.Contains("2 image(s) (ToyWorld val scenes: no imageFiles given)"));
            Assert.Contains(texts, t => t.Contains("n = 2 image-classes: mean IoU"));   // scored against the truth, with intervals
            Assert.DoesNotContain(texts, t => t.Contains("<null>"));                    // no cell returns nothing as a result
            var table = job.Result.Notebook.Cells.Last().Outputs.OfType<DisplayDataOutput>().Single().Data["text/html"];
            Assert.Contains("refined IoU, %", table);
            Assert.Equal(2, table.Split("<tr><td><i>").Length - 1);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task OwnFilesNotebookWithImagesButNoClassNamesSaysWhatToPass()
    {
        var dir = Directory.CreateTempSubdirectory("genseg-nb-");
        try
        {
            var job = await RunKitNotebook(OwnFiles, dir, new Dictionary<string, string> { ["imageFiles"] = "my/photo.png" });
            Assert.False(job.Result.Succeeded);
            var error = Assert.IsType<ArgumentException>(job.Result.Exception);
            Assert.Contains("classNames", error.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task OwnFilesNotebookRefinesTheGivenImagesAndMasksWithTheGivenModel()
    {
        TorchRuntime.EnsureNativeLoaded();
        var model = NotebookPaths.ModelFolder(NotebookPaths.EmbeddedModel);
        var dir = Directory.CreateTempSubdirectory("genseg-nb-");
        try
        {
            // two ToyWorld scenes written as a user's files: images, coarse masks of their first objects
            var images = new List<string>();
            var masks = new List<string>();
            var classes = new List<string>();
            foreach (var seed in Splits.Seeds(Split.Val, null, 2))
            {
                var scene = SceneGenerator.Generate(seed);
                var image = Path.Combine(dir.FullName, $"scene {seed}.png");
                ImageIO.SaveRgb(scene.Rgb, scene.Size, scene.Size, image);
                using var truth = scene.InstanceTensor(0);
                using var coarse = CoarseMasks.Make(truth, Severity.Medium, CoarseMasks.SeedFor(seed, 0));
                var mask = Path.Combine(dir.FullName, $"mask-{seed}.png");
                MaskIO.SaveProbability(coarse.Probability, mask);
                (images, masks, classes) = ([.. images, image], [.. masks, mask], [.. classes, scene.Objects[0].ClassName]);
            }
            var outputs = Path.Combine(dir.FullName, "refined");
            var job = await RunKitNotebook(OwnFiles, dir, new Dictionary<string, string>
            {
                ["modelFolder"] = model,
                ["imageFiles"] = string.Join(",", images),
                ["maskFiles"] = string.Join(",", masks),
                ["classNames"] = string.Join(",", classes),
                ["outputFolder"] = outputs,
            });
            Assert.True(job.Result.Succeeded, job.Result.FailureMessage);
            var written = Directory.GetFiles(outputs, "*.png").Select(p => Path.GetFileName(p)).Order().ToArray();
            Assert.Equal(images.Select((p, i) => $"{Path.GetFileNameWithoutExtension(p)}-{classes[i]}-g4seg.png").Order().ToArray(), written);
            using var refined = MaskIO.LoadProbability(Path.Combine(outputs, written[0]));
            Assert.Equal(new long[] { 64, 64 }, refined.shape);
            var table = job.Result.Notebook.Cells.Last().Outputs.OfType<DisplayDataOutput>().Single().Data["text/html"];
            Assert.Equal(2, table.Split("<tr><td><i>").Length - 1); // one row per image
            var pngs = job.Result.Notebook.Cells.SelectMany(c => c.Outputs).OfType<DisplayDataOutput>().Count(d => d.Data.ContainsKey("image/png"));
            Assert.True(pngs >= 3, $"expected the images, coarse masks and refinement as PNG outputs, got {pngs}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("01-quickstart.ipynb")]
    [InlineData("02-g4seg-ablations.ipynb")]
    [InlineData("03-correspondence-maps.ipynb")]
    [InlineData("04-paintseg.ipynb")]
    public async Task ModelNotebookWithAMissingModelFolderFailsWithAClearMessage(string name)
    {
        var dir = Directory.CreateTempSubdirectory("genseg-nb-");
        try
        {
            var job = await RunKitNotebook(name, dir, new Dictionary<string, string> { ["modelFolder"] = "no/such/model" });
            Assert.False(job.Result.Succeeded);
            var error = Assert.IsType<DirectoryNotFoundException>(job.Result.Exception);
            Assert.Contains("model folder not found: no/such/model", error.Message);
            Assert.Contains("-p modelFolder=PATH", error.Message);
            Assert.Contains("Exception encountered at In [", job.Result.FailureMessage);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
