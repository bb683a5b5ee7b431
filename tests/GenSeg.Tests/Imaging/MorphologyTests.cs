using GenSeg.Imaging;
using GenSeg.Tests.Support;
using static TorchSharp.torch;

namespace GenSeg.Tests.Imaging;

[Trait(Categories.Name, Categories.Unit)]
public class MorphologyTests
{
    [Theory]
    [InlineData(KernelShape.Square, 3, 1)]
    [InlineData(KernelShape.Square, 5, 2)]
    [InlineData(KernelShape.Cross, 3, 1)]
    [InlineData(KernelShape.Cross, 5, 3)]
    public void DilateAndErodeMatchANaiveFilter(KernelShape shape, int k, int iterations)
    {
        var kernel = shape == KernelShape.Square ? Kernel.Square(k) : Kernel.Cross(k);
        for (ulong seed = 0; seed < 6; seed++)
        {
            int h = 17, w = 23;
            var m = TestMasks.Random(h, w, seed).Select(b => b ? 1f : 0f).ToArray();
            using var t = tensor(m, new long[] { h, w });
            float[] dil = m, ero = m;
            for (int i = 0; i < iterations; i++)
            {
                dil = TestMasks.NaiveFilter(dil, h, w, k, shape == KernelShape.Cross, max: true);
                ero = TestMasks.NaiveFilter(ero, h, w, k, shape == KernelShape.Cross, max: false);
            }
            using var d = Morphology.Dilate(t, kernel, iterations);
            using var e = Morphology.Erode(t, kernel, iterations);
            Assert.Equal(new long[] { h, w }, d.shape);
            Assert.Equal(dil, d.data<float>().ToArray());
            Assert.Equal(ero, e.data<float>().ToArray());
        }
    }

    [Fact]
    public void SoftMasksGetMaxAndMinFilters()
    {
        var rng = new GenSeg.Common.Pcg32(3);
        var m = Enumerable.Range(0, 12 * 9).Select(_ => (float)rng.NextDouble()).ToArray();
        using var t = tensor(m, new long[] { 12, 9 });
        using var d = Morphology.Dilate(t, Kernel.Square(3));
        Assert.Equal(TestMasks.NaiveFilter(m, 12, 9, 3, false, true), d.data<float>().ToArray());
    }

    [Fact]
    public void BatchesAreFilteredPerItemAndBoolMasksAreAccepted()
    {
        int h = 16, w = 16;
        var a = TestMasks.Random(h, w, 10);
        var b = TestMasks.Random(h, w, 11);
        using var batch = stack(new[] { TestMasks.ToTensor(a, h, w), TestMasks.ToTensor(b, h, w) }).unsqueeze(1);
        using var d = Morphology.Dilate(batch.gt(0.5), Kernel.Cross(3), 2);
        Assert.Equal(new long[] { 2, 1, h, w }, d.shape);
        Assert.Equal(ScalarType.Float32, d.dtype);
        using var single = Morphology.Dilate(TestMasks.ToTensor(b, h, w), Kernel.Cross(3), 2);
        Assert.Equal(single.data<float>().ToArray(), d[1, 0].contiguous().data<float>().ToArray());
    }

    [Fact]
    public void OpeningRemovesSpecksAndClosingFillsHoles()
    {
        using var m = zeros(20, 20);
        m[TensorIndex.Slice(4, 14), TensorIndex.Slice(4, 14)] = 1f;
        m[17, 17] = 1f; // speck
        m[8, 8] = 0f;   // hole
        using var opened = Morphology.Open(m, Kernel.Square(3));
        Assert.Equal(0f, opened[17, 17].item<float>());
        Assert.Equal(1f, opened[5, 5].item<float>());
        using var closed = Morphology.Close(m, Kernel.Square(3));
        Assert.Equal(1f, closed[8, 8].item<float>());
        Assert.Equal(1f, closed[17, 17].item<float>());
    }

    [Fact]
    public void BandsHaveTheExpectedWidth()
    {
        using var m = zeros(30, 30);
        m[TensorIndex.Slice(10, 20), TensorIndex.Slice(10, 20)] = 1f;
        using var inner = Bands.InnerBand(m, 2);
        using var outer = Bands.OuterBand(m, 2);
        Assert.Equal(100 - 36, inner.sum().item<float>());
        Assert.Equal(14 * 14 - 100, outer.sum().item<float>());
        Assert.Equal(0f, inner.mul(outer).sum().item<float>());
        Assert.Equal(1f, inner[10, 15].item<float>());
        Assert.Equal(0f, inner[12, 15].item<float>());
        Assert.Equal(1f, outer[8, 8].item<float>());
        using var band = Bands.Band(m, 2);
        Assert.Equal(64 + 96, band.sum().item<float>());
    }

    [Fact]
    public void BadArgumentsNameTheProblem()
    {
        Assert.Contains("odd", Assert.Throws<ArgumentOutOfRangeException>(() => Kernel.Square(4)).Message);
        using var bad = zeros(2, 3, 8, 8);
        var e = Assert.Throws<ArgumentException>(() => Morphology.Dilate(bad, Kernel.Square(3)));
        Assert.Contains("[B, 1, H, W]", e.Message);
        Assert.Contains("[2, 3, 8, 8]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Bands.InnerBand(zeros(4, 4), 0));
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class DistanceTests
{
    [Fact]
    public void MatchesBruteForce()
    {
        for (ulong seed = 0; seed < 8; seed++)
        {
            int h = 13 + (int)seed, w = 19;
            var m = TestMasks.Random(h, w, seed + 100, speckle: 0.01);
            using var t = TestMasks.ToTensor(m, h, w);
            using var near = Distance.ToNearest(t);
            var expected = TestMasks.BruteDistance(m, h, w);
            var got = near.data<float>().ToArray();
            for (int i = 0; i < got.Length; i++) Assert.Equal(expected[i], got[i], 4);
            var inv = TestMasks.BruteDistance(m.Select(b => !b).ToArray(), h, w);
            var edge = Distance.ToEdge(t).data<float>().ToArray();
            var signed = Distance.Signed(t).data<float>().ToArray();
            for (int i = 0; i < got.Length; i++)
            {
                Assert.Equal(m[i] ? inv[i] : expected[i], edge[i], 4);
                Assert.Equal(m[i] ? inv[i] : -expected[i], signed[i], 4);
            }
        }
    }

    [Fact]
    public void EmptyMaskIsInfinitelyFar()
    {
        using var d = Distance.ToNearest(zeros(5, 6));
        Assert.True(float.IsPositiveInfinity(d.max().item<float>()) && float.IsPositiveInfinity(d.min().item<float>()));
    }

    [Fact]
    public void RejectsBatches()
    {
        var e = Assert.Throws<ArgumentException>(() => Distance.ToNearest(zeros(1, 1, 5, 5)));
        Assert.Contains("mask", e.Message);
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class BoxesAndComponentsTests
{
    [Fact]
    public void BoundingBoxIsTightWithExclusiveEnds()
    {
        using var m = zeros(10, 12);
        m[2, 3] = 1f;
        m[6, 8] = 1f;
        Assert.Equal(new Box(3, 2, 9, 7), Boxes.BoundingBox(m));
        Assert.Null(Boxes.BoundingBox(zeros(4, 4)));
        var bytes = GenSeg.Imaging.Masks.ToBytes(m);
        Assert.Equal(Boxes.BoundingBox(m), Boxes.BoundingBox(bytes, 12, 10));
    }

    [Fact]
    public void ScaleAndClamp()
    {
        var b = new Box(10, 10, 20, 20);
        Assert.Equal(new Box(5, 5, 25, 25), Boxes.Scale(b, 2.0));
        Assert.Equal(new Box(9, 9, 21, 21), Boxes.Scale(b, 1.1)); // rounded outwards
        Assert.Equal(new Box(0, 0, 22, 30), Boxes.Scale(b, 3.0, (22, 35)));
        Assert.Equal(new Box(0, 2, 5, 5), Boxes.Clamp(new Box(-3, 2, 9, 5), 5, 5));
        Assert.Equal(10.0 * Math.Sqrt(2), b.Diagonal, 9);
        using var mask = Boxes.ToMask(new Box(1, 2, 4, 3), 5, 5);
        Assert.Equal(3f, mask.sum().item<float>());
        Assert.Equal(1f, mask[2, 3].item<float>());
    }

    [Fact]
    public void ComponentsRespectConnectivity()
    {
        using var m = zeros(6, 6);
        m[1, 1] = 1f;
        m[2, 2] = 1f; // diagonal neighbour
        m[4, 4] = 1f;
        m[4, 5] = 1f;
        Assert.Equal(2, Components.Label(m, Connectivity.Eight).Count);
        var (labels, count) = Components.Label(m, Connectivity.Four);
        Assert.Equal(3, count);
        Assert.Equal(1L, labels[1, 1].item<long>());
        Assert.Equal(2L, labels[2, 2].item<long>());
        Assert.Equal(labels[4, 4].item<long>(), labels[4, 5].item<long>());
        using var largest = Components.Largest(m, Connectivity.Four);
        Assert.Equal(2f, largest.sum().item<float>());
        Assert.Equal(1f, largest[4, 5].item<float>());
        using var kept = Components.RemoveSmall(m, 2, Connectivity.Four);
        Assert.Equal(largest.data<float>().ToArray(), kept.data<float>().ToArray());
    }

    [Fact]
    public void HoldingKeepsTheComponentsUnderThePoints()
    {
        using var m = zeros(6, 6);
        m[1, 1] = 1f;
        m[2, 2] = 1f; // joins [1, 1] with 8-connectivity only
        m[4, 4] = 1f;
        m[4, 5] = 1f;
        using var a = Components.Holding(m, new[] { (1, 1) }, Connectivity.Eight);
        Assert.Equal(2f, a.sum().item<float>());
        Assert.Equal(1f, a[2, 2].item<float>());
        using var b = Components.Holding(m, new[] { (1, 1) }, Connectivity.Four);
        Assert.Equal(1f, b.sum().item<float>());
        using var c = Components.Holding(m, new[] { (5, 4), (2, 2), (9, 9), (-1, 0) }, Connectivity.Four); // (x, y); off-image points hold none
        Assert.Equal(3f, c.sum().item<float>());
        Assert.Equal(0f, c[1, 1].item<float>());
        using var none = Components.Holding(m, new[] { (0, 0) });
        Assert.Equal(0f, none.sum().item<float>());
    }

    [Fact]
    public void ComponentsMatchFloodFill()
    {
        for (ulong seed = 0; seed < 10; seed++)
        {
            int h = 20, w = 25;
            var m = TestMasks.Random(h, w, seed + 50, speckle: 0.15);
            foreach (var conn in new[] { Connectivity.Four, Connectivity.Eight })
            {
                var (labels, count) = Components.Label(m, h, w, conn);
                Assert.Equal(FloodCount(m, h, w, conn == Connectivity.Eight), count);
                // neighbours on the mask always share a label
                for (int y = 0; y < h; y++)
                    for (int x = 0; x + 1 < w; x++)
                        if (m[y * w + x] && m[y * w + x + 1]) Assert.Equal(labels[y * w + x], labels[y * w + x + 1]);
            }
        }
    }

    static int FloodCount(bool[] m, int h, int w, bool eight)
    {
        var seen = new bool[m.Length];
        int count = 0;
        for (int s = 0; s < m.Length; s++)
        {
            if (!m[s] || seen[s]) continue;
            count++;
            var stack = new Stack<int>();
            stack.Push(s);
            seen[s] = true;
            while (stack.Count > 0)
            {
                int i = stack.Pop(), x = i % w, y = i / w;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        if ((dx == 0 && dy == 0) || (!eight && dx != 0 && dy != 0)) continue;
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                        int j = yy * w + xx;
                        if (m[j] && !seen[j]) { seen[j] = true; stack.Push(j); }
                    }
            }
        }
        return count;
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class ResizeTests
{
    [Fact]
    public void NearestKeepsLabelsAndDtype()
    {
        using var labels = tensor(new long[] { 0, 1, 2, 255 }, new long[] { 2, 2 });
        using var up = Resize.Nearest(labels, 4, 4);
        Assert.Equal(ScalarType.Int64, up.dtype);
        Assert.Equal(new long[] { 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 255, 255, 2, 2, 255, 255 }, up.data<long>().ToArray());
        using var down = Resize.Nearest(up, 2, 2);
        Assert.Equal(labels.data<long>().ToArray(), down.data<long>().ToArray());
        using var b = Resize.Nearest(labels.gt(0), 3, 5);
        Assert.Equal(ScalarType.Bool, b.dtype);
    }

    [Fact]
    public void BilinearKeepsLayoutAndConstants()
    {
        using var img = full(new long[] { 3, 8, 10 }, 0.25f);
        using var r = Resize.Bilinear(img, 5, 7);
        Assert.Equal(new long[] { 3, 5, 7 }, r.shape);
        Assert.True(r.sub(0.25f).abs().max().item<float>() < 1e-6f);
        using var ramp = arange(0, 4, dtype: ScalarType.Float32).reshape(1, 4);
        using var up = Resize.Bilinear(ramp, 1, 8);
        // align_corners = false: output x samples input at (x + 0.5) / 2 - 0.5
        Assert.Equal(new[] { 0f, 0.25f, 0.75f, 1.25f, 1.75f, 2.25f, 2.75f, 3f }, up.data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => Resize.Bilinear(zeros(new long[] { 1, 1, 1, 2, 2 }), 4, 4));
    }
}
