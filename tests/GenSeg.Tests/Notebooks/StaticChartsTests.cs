using GenSeg.Notebooks;
using GenSeg.Tests.Support;
using SkiaSharp;
using Chart = Plotly.NET.CSharp.Chart;

namespace GenSeg.Tests.Notebooks;

[Trait(Categories.Name, Categories.Unit)]
public sealed class StaticChartsTests
{
    sealed class RecordingRenderer : IChartRenderer
    {
        public List<(string Html, int Width, int Height)> Calls { get; } = [];

        public byte[] RenderPng(string chartHtml, int width, int height)
        {
            Calls.Add((chartHtml, width, height));
            return [(byte)Calls.Count];
        }
    }

    static string ChartHtml() => OutputFormatter.ChartHtml(Chart.Line<int, int, string>(x: new[] { 1, 2, 3 }, y: new[] { 1, 4, 9 }));

    static Notebook WithChart(string html)
    {
        var nb = Notebook.NewPolyglot();
        var cell = NotebookCell.Code("chart");
        cell.Outputs.Add(new StreamOutput("stdout", "before\n"));
        cell.Outputs.Add(new DisplayDataOutput(new Dictionary<string, string> { ["text/html"] = html }));
        cell.Outputs.Add(new ExecuteResultOutput(new Dictionary<string, string> { ["text/html"] = "<table></table>" }, 1));
        nb.Cells.Add(cell);
        nb.Cells.Add(NotebookCell.Markdown("# no outputs"));
        return nb;
    }

    [Fact]
    public void AStaticImageFollowsEachChartAndIsReplacedOnTheNextRun()
    {
        var html = ChartHtml();
        var nb = WithChart(html);
        var renderer = new RecordingRenderer();
        Assert.Equal(1, StaticCharts.AddTo(nb, renderer));
        var outputs = nb.Cells[0].Outputs;
        Assert.Equal(4, outputs.Count);
        var image = Assert.IsType<DisplayDataOutput>(outputs[2]);
        Assert.Equal(Convert.ToBase64String([1]), image.Data["image/png"]);
        Assert.Equal(StaticCharts.Caption, image.Data["text/plain"]);
        Assert.IsType<ExecuteResultOutput>(outputs[3]); // the table stays after it
        Assert.Equal((html, 600, 600), renderer.Calls.Single()); // Plotly.NET's default layout size

        Assert.Equal(1, StaticCharts.AddTo(nb, renderer)); // again: replaced, not added
        Assert.Equal(4, nb.Cells[0].Outputs.Count);
        Assert.Equal(Convert.ToBase64String([2]), ((DisplayDataOutput)nb.Cells[0].Outputs[2]).Data["image/png"]);
    }

    [Fact]
    public void SizeIsTheLayoutsOrPlotlysDefault()
    {
        Assert.Equal((600, 600), StaticCharts.Size(ChartHtml()));
        Assert.Equal((700, 450), StaticCharts.Size("<script>var layout = {\"template\":{\"width\":5}};</script>"));
        Assert.Equal((900, 320), StaticCharts.Size("var layout = {\"title\":\"t\",\"width\":900,\"height\":320.4};"));
    }

    [SkippableFact]
    public void ChromiumDrawsTheChartOffline()
    {
        Skip.IfNot(ChromiumChartRenderer.Available, "no Chromium (Debian's chromium) on this machine");
        var png = new ChromiumChartRenderer().RenderPng(ChartHtml(), 600, 600);
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal((600, 600), (bitmap.Width, bitmap.Height));
        // a drawn chart: Plotly's grey plot area and a line of another colour, not a blank page
        var colours = new HashSet<SKColor>();
        for (var y = 0; y < bitmap.Height; y += 3)
            for (var x = 0; x < bitmap.Width; x += 3) colours.Add(bitmap.GetPixel(x, y));
        Assert.Contains(new SKColor(229, 236, 246), colours);
        Assert.True(colours.Count > 20, $"{colours.Count} colours");
    }
}
