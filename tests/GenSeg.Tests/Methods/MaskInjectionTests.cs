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
