using GenSeg.Notebooks;
using GenSeg.Runtime;
using GenSeg.Tests.Support;
using SkiaSharp;
using TorchSharp;
using static GenSeg.Tests.Notebooks.NotebookTestSupport;

namespace GenSeg.Tests.Notebooks;

[Trait(Categories.Name, Categories.Unit)]
public sealed class NotebookFormattingTests
{
    [Fact]
    public void TensorImagesArePngOnlyThroughTheHelper()
    {
        TorchRuntime.EnsureNativeLoaded();
        using var scope = torch.NewDisposeScope();
        // [3, 2, 3] in [-1, 1]: red top-left, everything else black; then grey [2, 3] in [0, 1]
        var rgb = torch.full(3, 2, 3, -1f);
        rgb[0, 0, 0] = torch.tensor(1f);
        var png = PngImage.FromTensor(rgb, min: -1);
        Assert.Equal((3, 2), (png.Width, png.Height));
        using (var decoded = SKBitmap.Decode(png.Bytes))
        {
            Assert.Equal(new SKColor(255, 0, 0), decoded.GetPixel(0, 0));
            Assert.Equal(new SKColor(0, 0, 0), decoded.GetPixel(2, 1));
        }
        using (var grey = SKBitmap.Decode(PngImage.FromTensor(torch.full(2, 3, 0.5f)).Bytes))
            Assert.Equal(new SKColor(128, 128, 128), grey.GetPixel(1, 1));

        var bundle = OutputFormatter.Format(png);
        Assert.Equal(png.ToBase64(), Assert.Single(bundle, kv => kv.Key == "image/png").Value);
        var tensorText = Assert.Single(OutputFormatter.Format(rgb)); // a tensor itself is text
        Assert.Equal("text/plain", tensorText.Key);
        Assert.Contains("[3, 2, 3]", tensorText.Value);

        var e = Assert.Throws<ArgumentException>(() => PngImage.FromTensor(torch.zeros(4, 2, 2)));
        Assert.Contains("[4, 2, 2]", e.Message);
    }

    [Fact]
    public void HtmlFragmentIsWrittenAsItIsAsHtmlOnly()
    {
        var bundle = OutputFormatter.Format(new HtmlFragment("<p>a &amp; <b>b</b></p>"));
        Assert.Equal(["text/html"], bundle.Keys);
        Assert.Equal("<p>a &amp; <b>b</b></p>", bundle["text/html"]);
        Assert.Throws<ArgumentNullException>(() => new HtmlFragment(null!));
    }

    [Fact]
    public void SkiaImagesArePngAndOtherValuesArePlainText()
    {
        using var bitmap = new SKBitmap(4, 3);
        bitmap.Erase(SKColors.Blue);
        var png = Convert.FromBase64String(OutputFormatter.Format(bitmap)["image/png"]);
        using (var decoded = SKBitmap.Decode(png))
            Assert.Equal((4, 3, SKColors.Blue), (decoded.Width, decoded.Height, decoded.GetPixel(3, 2)));

        Assert.Equal("42", Assert.Single(OutputFormatter.Format(42), kv => kv.Key == "text/plain").Value);
        Assert.Equal("[ 1, 2 ]", OutputFormatter.Format(new[] { 1, 2 })["text/plain"]);
        Assert.Equal("<null>", OutputFormatter.Format(null)["text/plain"]);
        Assert.Equal(["text/html"], OutputFormatter.Format(42, ["text/html"]).Keys);
    }
}

[Collection(NotebookRunnerCollection.Name)]
[Trait(Categories.Name, Categories.Notebook)]
public sealed class KitNotebookTests
{
    public static TheoryData<string> KitNotebooks()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(Path.Combine(RepoRoot(), "notebooks"), "*.ipynb").Order())
            data.Add(Path.GetFileName(path));
        return data;
    }

    /// <summary>Every notebook the kit ships runs with its default (CI-sized) parameters, as nbmake would run it.</summary>
    [Theory]
    [MemberData(nameof(KitNotebooks))]
    public async Task NotebookRunsWithoutCellErrors(string name)
    {
        var dir = Directory.CreateTempSubdirectory("genseg-nb-");
        try
        {
            var parameters = name == "00-runner-selftest.ipynb" ? new Dictionary<string, string> { ["points"] = "4" } : [];
            var job = await NotebookJob.RunAsync(Path.Combine(RepoRoot(), "notebooks", name), dir.FullName,
                new RunOptions { Parameters = parameters, WorkingDirectory = Environment.CurrentDirectory });
            Assert.True(job.Result.Succeeded, job.Result.FailureMessage);
            Assert.Empty(SchemaErrors(File.ReadAllText(job.NotebookPath)));
            Assert.True(File.Exists(job.HtmlPath));
            if (name == "00-runner-selftest.ipynb") CheckSelfTest(Notebook.Load(job.NotebookPath));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    static void CheckSelfTest(Notebook nb)
    {
        var outputs = nb.Cells.SelectMany(c => c.Outputs).ToList();
        Assert.Contains(outputs.OfType<DisplayDataOutput>(), o => o.Data.TryGetValue("text/html", out var h) && h.Contains("Plotly.newPlot"));
        var results = outputs.OfType<ExecuteResultOutput>().ToList();
        Assert.Equal(2, results.Count); // the reference cell's NotebookKit.Start(), then the table
        Assert.Contains($"CPU kernels {GenSeg.Runtime.TorchRuntime.CpuKernels} ", results[0].Data["text/plain"]); // the kit's native set-up ran
        var table = results[1].Data["text/html"];
        Assert.Equal(4, table.Split("<tr><td><i>").Length - 1); // points = 4 rows
        Assert.Contains(new StreamOutput("stdout", "points: 4, seeds: 1, 2\n"), outputs);
        Assert.Contains(outputs.OfType<DisplayDataOutput>(), o => o.Data.GetValueOrDefault("text/html") == "<b>self-test done</b>");
    }
}
