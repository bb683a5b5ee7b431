using GenSeg.Methods.G4Seg;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

[Trait(Categories.Name, Categories.Unit)]
public class MaskInjectionTests
{
    static Tensor LeftHalf(int h, int w)
    {
        var m = zeros(1, h, w);
        m[0, .., ..(w / 2)] = tensor(1f);
        return m;
    }

    [Fact]
    public void CrossMapMarksForegroundRowsOnTheClassColumns()
    {
        var a = MaskInjection.CrossMap(LeftHalf(8, 8), new[] { new[] { 4, 5 } }, 77, 4, 4);
        Assert.Equal(new long[] { 1, 1, 16, 77 }, a.shape);
        Assert.Equal(1f, a[0, 0, 0, 4].item<float>());     // pixel (0,0) is foreground
        Assert.Equal(1f, a[0, 0, 0, 5].item<float>());
        Assert.Equal(0f, a[0, 0, 0, 3].item<float>());     // not a class token
        Assert.Equal(0f, a[0, 0, 3, 4].item<float>());     // pixel (0,3) is background
        Assert.Equal(8 * 2, a.sum().item<float>());
    }

    [Fact]
    public void SelfMapIsTheOuterProductOfTheMask()
    {
        var a = MaskInjection.SelfMap(LeftHalf(4, 4), 4, 4);
        Assert.Equal(new long[] { 1, 1, 16, 16 }, a.shape);
        Assert.Equal(64f, a.sum().item<float>());
        Assert.Equal(1f, a[0, 0, 0, 1].item<float>());
        Assert.Equal(0f, a[0, 0, 0, 2].item<float>());
        Assert.Equal(a, a.transpose(2, 3));
    }

    /// <summary>Two classes on a 4x4 grid: class A the top-left 2x2 block, class B the bottom row; the rest background.</summary>
    static (Tensor A, Tensor B) TwoClasses()
    {
        var a = zeros(1, 4, 4);
        a[0, ..2, ..2] = tensor(1f);
        var b = zeros(1, 4, 4);
        b[0, 3, ..] = tensor(1f);
        return (a, b);
    }

    [Fact]
    public void ComposedCrossMapPutsEachClassOnlyOnItsOwnTokenColumns()
    {
        var (a, b) = TwoClasses();
        var masks = stack(new[] { a, b }, 1); // [1, 2, 4, 4]
        var map = MaskInjection.CrossFactors(masks, new[] { new[] { new[] { 2 }, new[] { 4, 5 } } }, 8, 4, 4).Dense(); // [1, 1, 16, 8]
        Assert.Equal(new long[] { 1, 1, 16, 8 }, map.shape);
        var rowsA = a.reshape(16) > 0.5f;
        var rowsB = b.reshape(16) > 0.5f;
        for (int q = 0; q < 16; q++)
        {
            var row = map[0, 0, q].data<float>().ToArray();
            bool inA = rowsA[q].item<bool>(), inB = rowsB[q].item<bool>();
            Assert.Equal(new float[] { 0, 0, inA ? 1 : 0, 0, inB ? 1 : 0, inB ? 1 : 0, 0, 0 }, row);
        }
        // the sum of the single-class maps, each on its own columns
        var single = MaskInjection.CrossMap(a, new[] { new[] { 2 } }, 8, 4, 4) + MaskInjection.CrossMap(b, new[] { new[] { 4, 5 } }, 8, 4, 4);
        Assert.True(map.eq(single).all().item<bool>());
    }

    [Fact]
    public void ComposedSelfMapPairsPixelsOnlyWithinOneClass()
    {
        var (a, b) = TwoClasses();
        var map = MaskInjection.SelfFactors(stack(new[] { a, b }, 1), 4, 4).Dense()[0, 0]; // [16, 16]
        var label = (a.reshape(16) + 2 * b.reshape(16)).data<float>().ToArray(); // 0 background, 1 class A, 2 class B
        for (int q = 0; q < 16; q++)
            for (int k = 0; k < 16; k++)
                Assert.Equal(label[q] > 0 && label[q] == label[k] ? 1f : 0f, map[q, k].item<float>());
        Assert.Equal(4 * 4 + 4 * 4, map.sum().item<float>()); // 4 pixels of A paired among themselves, 4 of B
        // a padded segment (an all-zero mask with no tokens) adds nothing
        var padded = MaskInjection.SelfFactors(stack(new[] { a, zeros(1, 4, 4) }, 1), 4, 4).Dense();
        Assert.True(padded.eq(MaskInjection.SelfMap(a, 4, 4)).all().item<bool>());
        var cross = MaskInjection.CrossFactors(stack(new[] { a, zeros(1, 4, 4) }, 1), new[] { new[] { new[] { 2 } } }, 8, 4, 4).Dense();
        Assert.True(cross.eq(MaskInjection.CrossMap(a, new[] { new[] { 2 } }, 8, 4, 4)).all().item<bool>());
    }

    [Fact]
    public void LowRankBiasSlicesAgreeWithTheWholeMap()
    {
        var q = (rand(2, 3, 10, generator: new Generator(4)) > 0.5f).to_type(ScalarType.Float32);
        var k = (rand(2, 3, 6, generator: new Generator(5)) > 0.5f).to_type(ScalarType.Float32);
        var bias = new GenSeg.Diffusion.Attention.LowRankBias(q, k, 1.5);
        var whole = bias.Dense();
        Assert.True(whole.eq(q.transpose(1, 2).matmul(k).unsqueeze(1) * 1.5f).all().item<bool>());
        Assert.True(bias.Rows(3, 7, ScalarType.Float32, CPU).eq(whole[.., .., 3..7]).all().item<bool>());
        Assert.Throws<ArgumentException>(() => new GenSeg.Diffusion.Attention.LowRankBias(q, k[.., ..2]));
    }

    [Fact]
    public void ComposedSizeRegulariserUsesEachPixelsOwnSegment()
    {
        var (a, b) = TwoClasses();
        var reg = MaskInjection.SizeRegulariser(stack(new[] { a, b }, 1), 4, 4).reshape(16).data<float>().ToArray();
        var label = (a.reshape(16) + 2 * b.reshape(16)).data<float>().ToArray();
        for (int q = 0; q < 16; q++)
            Assert.Equal(label[q] == 0 ? 1 - 8 / 16f : 1 - 4 / 16f, reg[q], 6); // A and B: 4 pixels each; background: 8
        // one segment: DenseDiffusion's 1 - sizereg * share, the foreground's share inside, the background's outside
        var one = MaskInjection.SizeRegulariser(a, 4, 4).reshape(16).data<float>().ToArray();
        for (int q = 0; q < 16; q++) Assert.Equal(label[q] == 1 ? 1 - 4 / 16f : 1 - 12 / 16f, one[q], 6);
        Assert.True(MaskInjection.SizeRegulariser(stack(new[] { a }, 1), 4, 4).eq(MaskInjection.SizeRegulariser(a, 4, 4)).all().item<bool>());
    }

    [Fact]
    public void ScaledBiasEqualsEquation5()
    {
        // softmax((QK^T + aA)/sqrt(d)) == softmax(QK^T/sqrt(d) + Scaled(A))
        torch.manual_seed(0);
        long d = 16;
        var q = randn(1, 1, 6, d); var k = randn(1, 1, 5, d);
        var map = (rand(1, 1, 6, 5) > 0.5).to_type(ScalarType.Float32);
        var expected = ((q.matmul(k.transpose(2, 3)) + 3.0 * map) / Math.Sqrt(d)).softmax(-1);
        var actual = (q.matmul(k.transpose(2, 3)) / Math.Sqrt(d) + MaskInjection.Scaled(map, 3.0, d)).softmax(-1);
        Assert.True((expected - actual).abs().max().item<float>() < 1e-6);
    }

    [Fact]
    public void DenseDiffusionPushesInsideTowardMaxAndOutsideTowardMin()
    {
        var logits = tensor(new float[] { 0, 1, 2, 3 }).reshape(1, 1, 1, 4);
        var map = tensor(new float[] { 1, 0, 1, 0 }).reshape(1, 1, 1, 4);
        var r = MaskInjection.DenseDiffusionModulate(logits, map, ones(1, 1, 1, 1), 1.0, 0.5).reshape(4).data<float>().ToArray();
        Assert.Equal(1.5f, r[0], 5);  // 0 + 0.5 * (3 - 0)
        Assert.Equal(0.5f, r[1], 5);  // 1 - 0.5 * (1 - 0)
        Assert.Equal(2.5f, r[2], 5);
        Assert.Equal(1.5f, r[3], 5);
        Assert.Equal(Math.Pow(0.4, 5), MaskInjection.DenseDiffusionTimeFactor(400), 12);
    }

    [Fact]
    public void TokenPositionOutsideThePromptIsAClearError()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MaskInjection.CrossMap(LeftHalf(4, 4), new[] { new[] { 80 } }, 77, 4, 4));
        Assert.Throws<ArgumentException>(() => MaskInjection.CrossMap(LeftHalf(4, 4), Array.Empty<int[]>(), 77, 4, 4));
    }
}
