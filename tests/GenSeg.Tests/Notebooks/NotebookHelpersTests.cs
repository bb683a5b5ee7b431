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
