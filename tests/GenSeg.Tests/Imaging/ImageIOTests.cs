using GenSeg.Imaging;
using GenSeg.Tests.Support;
using static TorchSharp.torch;

namespace GenSeg.Tests.Imaging;

[Trait(Categories.Name, Categories.Unit)]
public sealed class ImageIOTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("genseg-io-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static byte[] RandomRgb(int n, ulong seed)
    {
        var rng = new GenSeg.Common.Pcg32(seed);
        return Enumerable.Range(0, n).Select(_ => (byte)rng.NextInt(256)).ToArray();
    }

    [Fact]
    public void PngRoundTripsExactlyInBothRanges()
    {
        var rgb = RandomRgb(9 * 7 * 3, 1);
        var path = Path.Combine(_dir, "a.png");
        ImageIO.SaveRgb(rgb, 9, 7, path);
        using var t = ImageIO.Load(path);
        Assert.Equal(new long[] { 3, 7, 9 }, t.shape);
        Assert.Equal(rgb[0] / 127.5f - 1f, t[0, 0, 0].item<float>(), 5);
        Assert.Equal(rgb, ImageIO.ToRgbBytes(t));
        using var z = ImageIO.Load(path, PixelRange.ZeroToOne);
        Assert.Equal(rgb[5] / 255f, z[2, 0, 1].item<float>(), 5);
        var path2 = Path.Combine(_dir, "b.png");
        ImageIO.Save(z, path2, PixelRange.ZeroToOne);
        Assert.Equal(rgb, ImageIO.LoadRgb(path2).Rgb);
    }

    [Fact]
    public void ExtremesMapToTheRangeEnds()
    {
        using var t = ImageIO.FromRgbBytes(new byte[] { 0, 255, 128 }, 1, 1);
        Assert.Equal(new[] { -1f, 1f, 128 / 127.5f - 1f }, t.data<float>().ToArray());
        using var z = ImageIO.FromRgbBytes(new byte[] { 0, 255, 51 }, 1, 1, PixelRange.ZeroToOne);
        Assert.Equal(new[] { 0f, 1f, 0.2f }, z.data<float>().ToArray());
    }

    [Fact]
    public void JpegIsClose()
    {
        var rgb = new byte[32 * 32 * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i % 3 == 0 ? 200 : 60);
        var path = Path.Combine(_dir, "a.jpg");
        ImageIO.SaveRgb(rgb, 32, 32, path);
        var (back, w, h) = ImageIO.LoadRgb(path);
        Assert.Equal((32, 32), (w, h));
        Assert.True(back.Zip(rgb, (a, b) => Math.Abs(a - b)).Max() < 12);
    }

    [Fact]
    public void ErrorsNameTheFile()
    {
        var missing = Path.Combine(_dir, "nope.png");
        Assert.Contains("nope.png", Assert.Throws<FileNotFoundException>(() => ImageIO.Load(missing)).Message);
        var junk = Path.Combine(_dir, "junk.png");
        File.WriteAllText(junk, "not an image");
        Assert.Contains("junk.png", Assert.Throws<InvalidDataException>(() => ImageIO.Load(junk)).Message);
        Assert.Contains(".bmp", Assert.Throws<ArgumentException>(() => ImageIO.SaveRgb(new byte[3], 1, 1, Path.Combine(_dir, "x.bmp"))).Message);
        Assert.Contains("[3, *, *]", Assert.Throws<ArgumentException>(() => ImageIO.Save(zeros(4, 2, 2), Path.Combine(_dir, "y.png"))).Message);
    }

    [Fact]
    public void PaletteAndGrayMasksRoundTrip()
    {
        var labels = new byte[] { 0, 1, 2, 3, 255, 8, 0, 1, 7, 20, 0, 0 };
        using var t = tensor(labels, new long[] { 3, 4 }).to_type(ScalarType.Int64);
        foreach (var enc in new[] { MaskEncoding.Palette, MaskEncoding.Gray })
        {
            var path = Path.Combine(_dir, $"m-{enc}.png");
            MaskIO.Save(t, path, enc);
            using var back = MaskIO.Load(path);
            Assert.Equal(ScalarType.Int64, back.dtype);
            Assert.Equal(t.data<long>().ToArray(), back.data<long>().ToArray());
        }
        // a palette PNG shows VOC colours
        var (rgb, _, _) = ImageIO.LoadRgb(Path.Combine(_dir, "m-Palette.png"));
        Assert.Equal(new byte[] { 128, 0, 0 }, rgb[3..6]);
        Assert.Equal(new byte[] { 224, 224, 192 }, rgb[12..15]);
    }

    [Fact]
    public void RgbMasksAreReadThroughTheVocPalette()
    {
        var labels = new byte[] { 0, 1, 15, 255 };
        var path = Path.Combine(_dir, "rgb.png");
        ImageIO.SaveRgb(Render.Colorize(labels), 2, 2, path);
        using var back = MaskIO.Load(path);
        Assert.Equal(new long[] { 0, 1, 15, 255 }, back.data<long>().ToArray());
        var bad = Path.Combine(_dir, "bad.png");
        ImageIO.SaveRgb(new byte[] { 1, 2, 3 }, 1, 1, bad);
        var e = Assert.Throws<InvalidDataException>(() => MaskIO.Load(bad));
        Assert.Contains("bad.png", e.Message);
        Assert.Contains("(1, 2, 3)", e.Message);
    }

    [Fact]
    public void ProbabilityMapsKeep8Bits()
    {
        using var p = linspace(0, 1, 20).reshape(4, 5);
        var path = Path.Combine(_dir, "p.png");
        MaskIO.SaveProbability(p, path);
        using var back = MaskIO.LoadProbability(path);
        Assert.True(back.sub(p).abs().max().item<float>() <= 0.5f / 255 + 1e-6f);
        Assert.Throws<ArgumentException>(() => MaskIO.Save(p, path));
    }
}
