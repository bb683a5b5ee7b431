using GenSeg.Features;
using GenSeg.Methods.G4Seg;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

[Trait(Categories.Name, Categories.Unit)]
public class CorrespondenceTests
{
    [Fact]
    public void RecoversAKnownShift()
    {
        torch.manual_seed(1);
        var orig = randn(1, 16, 12, 12);
        // generated pixel (y, x) shows original pixel (y, x - 2) (a shift right by two)
        var gen = roll(orig, 2, 3);
        var r = Correspondence.Match(gen, orig);
        var idx = r.Index[0].reshape(12, 12);
        for (int y = 0; y < 12; y++)
            for (int x = 2; x < 12; x++)
                Assert.Equal(y * 12 + (x - 2), idx[y, x].item<long>());
        Assert.True((r.Similarity[0].reshape(12, 12)[.., 2..] - 1).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void WindowedSearchEqualsGlobalWhenTheMatchIsInside()
    {
        torch.manual_seed(2);
        var orig = randn(2, 8, 10, 11);
        var gen = orig + 0.05 * randn(2, 8, 10, 11);
        var global = Correspondence.Match(gen, orig);
        var windowed = Correspondence.Match(gen, orig, window: 3);
        Assert.Equal(global.Index.data<long>().ToArray(), windowed.Index.data<long>().ToArray());
        var largeWindow = Correspondence.Match(roll(orig, 1, 2), orig, window: 20);
        Assert.Equal(Correspondence.Match(roll(orig, 1, 2), orig).Index.data<long>().ToArray(), largeWindow.Index.data<long>().ToArray());
    }

    [Fact]
    public void WindowRestrictsCandidates()
    {
        torch.manual_seed(3);
        var orig = randn(1, 8, 16, 16);
        var gen = roll(orig, 6, 3);
        var r = Correspondence.Match(gen, orig, window: 2);
        var idx = r.Index[0];
        for (int j = 0; j < 256; j++)
        {
            long i = idx[j].item<long>();
            Assert.True(Math.Abs(i / 16 - j / 16) <= 2 && Math.Abs(i % 16 - j % 16) <= 2, $"pixel {j} matched {i} outside the window");
        }
    }

    [Fact]
    public void QueryMaskLeavesOtherPixelsAlone()
    {
        torch.manual_seed(4);
        var orig = randn(1, 4, 6, 6);
        var gen = roll(orig, 1, 2);
        var mask = zeros(1, 6, 6, dtype: ScalarType.Bool);
        mask[0, 3, 3] = tensor(true);
        var r = Correspondence.Match(gen, orig, mask);
        Assert.Equal(2 * 6 + 3, r.Index[0, 3 * 6 + 3].item<long>());
        Assert.Equal(0, r.Index[0, 0].item<long>());
        Assert.True(float.IsNaN(r.Similarity[0, 0].item<float>()));
    }

    [Theory]
    [InlineData(5, 7, 9)]    // few channels: the direct search; 63 pixels, so the vector loop leaves a tail
    [InlineData(3, 2, 3)]    // fewer pixels than one vector
    [InlineData(32, 7, 9)]   // many channels: the matrix product
    public void GlobalSearchFindsTheBruteForceArgmax(int channels, int h, int w)
    {
        torch.manual_seed(5);
        var orig = randn(2, channels, h, w);
        var gen = orig.roll(1, 3) + 0.3 * randn(2, channels, h, w);
        var mask = rand(2, h, w) < 0.6;
        var r = Correspondence.Match(gen, orig, mask);
        var g = nn.functional.normalize(gen, p: 2, dim: 1).reshape(2, channels, h * w);
        var o = nn.functional.normalize(orig, p: 2, dim: 1).reshape(2, channels, h * w);
        var sims = g.transpose(1, 2).matmul(o); // [B, N, N]: generated pixel j against original pixel i
        for (int bi = 0; bi < 2; bi++)
            for (int j = 0; j < h * w; j++)
            {
                if (!mask[bi].reshape(h * w)[j].item<bool>())
                {
                    Assert.Equal(j, r.Index[bi, j].item<long>());
                    continue;
                }
                var row = sims[bi, j];
                long found = r.Index[bi, j].item<long>();
                float best = row.max().item<float>();
                Assert.True(row[found].item<float>() >= best - 1e-5f, $"item {bi} pixel {j}: matched {found} with {row[found].item<float>()}, best {best}");
                Assert.True(Math.Abs(row[found].item<float>() - r.Similarity[bi, j].item<float>()) <= 1e-5, $"item {bi} pixel {j}: similarity {r.Similarity[bi, j].item<float>()} for {row[found].item<float>()}");
            }
    }

    [Fact]
    public void SlicedGlobalSearchEqualsOneProduct()
    {
        // 32 channels (the matrix product); slices of 1, 7 and 64 query rows against the 120 pixels
        torch.manual_seed(8);
        var orig = randn(2, 32, 12, 10);
        var gen = orig.roll(2, 2) + 0.2 * randn(2, 32, 12, 10);
        var mask = rand(2, 12, 10) < 0.7;
        var whole = Correspondence.Match(gen, orig, mask);
        foreach (long bytes in new long[] { 1, 4 * 120 * 7, 4 * 120 * 64 })
        {
            var sliced = Correspondence.Match(gen, orig, mask, sliceBytes: bytes);
            Assert.Equal(whole.Index.data<long>().ToArray(), sliced.Index.data<long>().ToArray());
            // the matched pixels are the same; a one-row product may round the similarity differently from a wider one
            double diff = (whole.Similarity.nan_to_num(-9) - sliced.Similarity.nan_to_num(-9)).abs().max().item<float>();
            Assert.True(diff <= 1e-6, $"{bytes} bytes per slice: similarity differs by {diff:E2}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Correspondence.Match(gen, orig, mask, sliceBytes: 0));
    }

    [Fact]
    public void DirectSearchTakesTheFirstOfEqualMatches()
    {
        // original pixels 5, 21 and 40 hold the same feature; every generated pixel holds it too
        var orig = randn(1, 5, 6, 8);
        var same = randn(5);
        foreach (int i in new[] { 40, 21, 5 }) orig[0, .., i / 8, i % 8] = same;
        var gen = same.view(1, 5, 1, 1).expand(1, 5, 6, 8).contiguous();
        var r = Correspondence.Match(gen, orig);
        Assert.All(r.Index[0].data<long>().ToArray(), i => Assert.Equal(5, i));
    }

    [Fact]
    public void MismatchedShapesNameBothInputs()
    {
        var e = Assert.Throws<ArgumentException>(() => Correspondence.Match(zeros(1, 4, 6, 6), zeros(1, 4, 6, 5)));
        Assert.Contains("[1, 4, 6, 6]", e.Message);
        Assert.Contains("[1, 4, 6, 5]", e.Message);
    }

    [Fact]
    public void MixingFollowsEquation9InsideTheAreaOnly()
    {
        var s = tensor(new float[] { 0.1f, 0.9f, 0.5f, 0.3f }).reshape(1, 2, 2);
        var d = tensor(new long[] { 1, 0, 3, 3 }).reshape(1, 4);
        var area = tensor(new[] { true, true, false, true }).reshape(1, 2, 2);
        var m = Mixing.Mix(s, d, area, 0.8).reshape(4).data<float>().ToArray();
        Assert.Equal(0.8f * 0.1f + 0.2f * 0.9f, m[0], 5);
        Assert.Equal(0.8f * 0.9f + 0.2f * 0.1f, m[1], 5);
        Assert.Equal(0.5f, m[2], 5);
        Assert.Equal(0.3f, m[3], 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => Mixing.Mix(s, d, area, 1.5));
    }

    [Fact]
    public void FeatureMapsUpsampleNormaliseAndProject()
    {
        var f = randn(1, 6, 4, 4);
        var px = FeatureMaps.ToPixels(f, 8, 8);
        Assert.Equal(new long[] { 1, 6, 8, 8 }, px.shape);
        Assert.True((px.norm(1) - 1).abs().max().item<float>() < 1e-4);
        var rgb = FeatureMaps.Pca3(f);
        Assert.Equal(new long[] { 1, 3, 4, 4 }, rgb.shape);
        Assert.True(rgb.min().item<float>() >= 0 && rgb.max().item<float>() <= 1 + 1e-6);
        var cp = new ColourPositionFeatures().Extract(zeros(2, 3, 5, 7));
        Assert.Equal(new long[] { 2, 5, 5, 7 }, cp.shape);
    }
}
