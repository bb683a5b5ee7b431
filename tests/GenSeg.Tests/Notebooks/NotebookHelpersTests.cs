using GenSeg.Imaging;
using GenSeg.Notebooks;
using GenSeg.Runtime;
using GenSeg.Tests.Support;
using SkiaSharp;
using TorchSharp;
using static GenSeg.Tests.Notebooks.NotebookTestSupport;

namespace GenSeg.Tests.Notebooks;

[Trait(Categories.Name, Categories.Unit)]
public sealed class NotebookHelpersTests
{
    static SKColor Pixel(PngImage png, int x, int y)
    {
        using var bitmap = SKBitmap.Decode(png.Bytes);
        return bitmap.GetPixel(x, y);
    }

    [Fact]
    public void RowEnlargesPanelsAndPlacesThemApartOnWhite()
    {
        TorchRuntime.EnsureNativeLoaded();
        using var scope = torch.NewDisposeScope();
        var red = torch.full(3, 2, 2, -1f);
        red[0] = torch.ones(2, 2);                                   // [-1, 1] image: pure red
        var grey = torch.full(3, 4, 1, 0.5f);                        // a taller, narrower panel in [0, 1]
        var png = Panels.Grid([Panels.Image(red), grey], columns: 2, scale: 3, gap: 2);
        Assert.Equal((2 * 3 + 2 + 1 * 3, 4 * 3), (png.Width, png.Height));
        Assert.Equal(new SKColor(255, 0, 0), Pixel(png, 5, 5));      // last pixel of the enlarged first panel
        Assert.Equal(new SKColor(255, 255, 255), Pixel(png, 6, 0));  // the gap
        Assert.Equal(new SKColor(255, 255, 255), Pixel(png, 0, 6));  // below the shorter panel
        Assert.Equal(new SKColor(128, 128, 128), Pixel(png, 8, 11)); // the second panel

        var grid = Panels.Grid([red.mean([0]), red.mean([0]), red.mean([0])], columns: 2, scale: 1, gap: 1);
        Assert.Equal((5, 5), (grid.Width, grid.Height));             // two rows of [H, W] maps shown grey
        Assert.Throws<ArgumentException>(() => Panels.Row([]));
    }

    [Fact]
    public void GridDrawsColumnHeadersAboveTheirColumnsAndColourBarsBesideThePanels()
    {
        TorchRuntime.EnsureNativeLoaded();
        using var scope = torch.NewDisposeScope();
        var black = torch.zeros(3, 16, 16);                          // [0, 1] panels, 16 px, shown at scale 2: 32 px
        var plain = Panels.Grid([black, black, black, black], columns: 2, scale: 2, gap: 4);
        var png = Panels.Grid([black, black, black, black], columns: 2, scale: 2, gap: 4, headers: ["x", "x~ with a long name"],
            colourBars: [new ColourBar("cos", -1, 1), new ColourBar("S* - S", -0.5, 0.5, Signed: true)]);
        // a header strip above, two colour bars right of the panels (as tall as the panels: 68 px); the panels unchanged below the strip
        Assert.Equal((plain.Width + 2 * Panels.ColourBarWidth, plain.Height + Panels.HeaderHeight), (png.Width, png.Height));
        Assert.Equal(new SKColor(0, 0, 0), Pixel(png, 0, Panels.HeaderHeight));
        Assert.Equal(new SKColor(255, 255, 255), Pixel(png, 33, Panels.HeaderHeight + 5)); // the gap between the columns
        static bool Inked(SKColor c) => c.Red < 160 && c.Green < 160 && c.Blue < 160;
        int InkIn(PngImage image, int x0, int x1, int y0, int y1) =>
            Enumerable.Range(x0, x1 - x0).Sum(x => Enumerable.Range(y0, y1 - y0).Count(y => Inked(Pixel(image, x, y))));
        Assert.True(InkIn(png, 2, 30, 0, Panels.HeaderHeight) > 5, "no header text above the first column");
        Assert.True(InkIn(png, 38, 66, 0, Panels.HeaderHeight) > 5, "no header text above the second column");
        Assert.Equal(0, InkIn(png, 0, plain.Width, Panels.HeaderHeight + plain.Height, png.Height)); // nothing below the panels
        // the first bar: viridis, its maximum (yellow) at the top and its minimum (dark purple) at the bottom
        int strip = plain.Width + 12 + Panels.ColourBarStrip / 2;
        var topColour = Pixel(png, strip, Panels.HeaderHeight + 1);
        var bottomColour = Pixel(png, strip, png.Height - 2);
        Assert.True(topColour.Red > 200 && topColour.Green > 200 && topColour.Blue < 80, $"top of the heat bar: {topColour}");
        Assert.True(bottomColour.Red < 100 && bottomColour.Green < 40 && bottomColour.Blue > 60, $"bottom of the heat bar: {bottomColour}");
        Assert.True(InkIn(png, plain.Width + 12 + Panels.ColourBarStrip + 4, plain.Width + Panels.ColourBarWidth, Panels.HeaderHeight, png.Height) > 10,
            "no tick labels beside the heat bar");
        // the second bar: signed, red at the top, white in the middle, blue at the bottom
        int signed = strip + Panels.ColourBarWidth;
        static bool Near(Rgb expected, SKColor actual) =>
            Math.Abs(expected.R - actual.Red) <= 8 && Math.Abs(expected.G - actual.Green) <= 8 && Math.Abs(expected.B - actual.Blue) <= 8;
        Assert.True(Near(Panels.OverColour, Pixel(png, signed, Panels.HeaderHeight + 1)), $"top of the signed bar: {Pixel(png, signed, Panels.HeaderHeight + 1)}");
        Assert.True(Near(Panels.UnderColour, Pixel(png, signed, png.Height - 2)), $"bottom of the signed bar: {Pixel(png, signed, png.Height - 2)}");
        var middle = Pixel(png, signed, Panels.HeaderHeight + (png.Height - Panels.HeaderHeight) / 2);
        Assert.True(middle.Red > 235 && middle.Green > 235 && middle.Blue > 235, $"middle of the signed bar: {middle}");

        Assert.Throws<ArgumentException>(() => Panels.Grid([black, black, black], columns: 2, headers: ["one"]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ColourBar("empty range", 1, 1));
    }

    [Fact]
    public void ErrorsColourOverAndUnderSegmentation()
    {
        TorchRuntime.EnsureNativeLoaded();
        using var scope = torch.NewDisposeScope();
        var prediction = torch.tensor(new float[] { 1, 1, 0, 0 }).view(1, 4);
        var truth = torch.tensor(new float[] { 1, 0, 1, 0 }).view(1, 4);
        var e = Panels.Errors(prediction, truth);
        Assert.Equal(new long[] { 3, 1, 4 }, e.shape);
        float[] Rgb(int i) => e[.., 0, i].data<float>().ToArray();
        Assert.Equal([1f, 1f, 1f], Rgb(0));
        Assert.Equal([Panels.OverColour.R / 255f, Panels.OverColour.G / 255f, Panels.OverColour.B / 255f], Rgb(1));
        Assert.Equal([Panels.UnderColour.R / 255f, Panels.UnderColour.G / 255f, Panels.UnderColour.B / 255f], Rgb(2));
        Assert.Equal([0f, 0f, 0f], Rgb(3));
        var ex = Assert.Throws<ArgumentException>(() => Panels.Errors(prediction, torch.zeros(2, 4)));
        Assert.Contains("differ in their spatial size", ex.Message);
    }

    [Fact]
    public void HeatAndSignedMapTheirRangeEnds()
    {
        TorchRuntime.EnsureNativeLoaded();
        using var scope = torch.NewDisposeScope();
        var heat = Panels.Heat(torch.tensor(new float[] { 2, 4, float.NaN }).view(1, 3));
        Assert.Equal(0.267f, heat[0, 0, 0].item<float>(), 3);        // viridis' dark end at the minimum
        Assert.Equal(0.906f, heat[1, 0, 1].item<float>(), 3);        // its yellow end at the maximum
        Assert.Equal(0f, heat[.., 0, 2].abs().sum().item<float>());  // NaN is black
        var signed = Panels.Signed(torch.tensor(new float[] { -2, 0, 1 }).view(1, 3), limit: 1);
        Assert.Equal(Panels.UnderColour.B / 255f, signed[2, 0, 0].item<float>(), 5);
        Assert.Equal(3f, signed[.., 0, 1].sum().item<float>(), 5);   // zero is white
        Assert.Equal(Panels.OverColour.R / 255f, signed[0, 0, 2].item<float>(), 5);
        Assert.Throws<ArgumentException>(() => Panels.Heat(torch.zeros(2, 3, 4)));
    }

    [Fact]
    public void RelativeParameterPathsAreTakenFromTheRepositoryRoot()
    {
        var root = RepoRoot();
        Assert.Equal(root, NotebookPaths.RepositoryRoot(Path.Combine(root, "notebooks")));
        Assert.Equal(Path.Combine(root, "data", "x"), NotebookPaths.Resolve("data/x"));
        Assert.Equal("/tmp/abs", NotebookPaths.Resolve("/tmp/abs"));
        var missing = Assert.Throws<DirectoryNotFoundException>(() => NotebookPaths.ModelFolder("no/such/model"));
        Assert.Contains("modelFolder", missing.Message);
        Assert.Contains(Path.Combine(root, "no", "such", "model"), missing.Message);
        var notModel = Assert.Throws<DirectoryNotFoundException>(() => NotebookPaths.ModelFolder("notebooks"));
        Assert.Contains("model_index.json", notModel.Message);
    }
}
