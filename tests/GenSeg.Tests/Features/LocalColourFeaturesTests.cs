using GenSeg.Features;
using GenSeg.Tests.Support;
using Xunit;
using static TorchSharp.torch;

namespace GenSeg.Tests.Features;

/// <summary>Local mean colour as PaintSeg's E: blind to a texture's phase, not to a removed object.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class LocalColourFeaturesTests
{
    static Tensor Stripes(int period, int shift)
    {
        // vertical two-colour stripes of the given period, shifted by shift pixels
        var x = (arange(32, ScalarType.Float32) + shift).remainder(period).lt(period / 2).to_type(ScalarType.Float32);
        var t = x.view(1, 1, 32).expand(3, 32, 32);
        return (t * 1.6f - 0.8f).contiguous();
    }

    [Fact]
    public void StripesShiftedByHalfAPeriodKeepTheirLocalMeanButAnObjectDoesNot()
    {
        using var scope = NewDisposeScope();
        var original = Stripes(8, 0);
        var shifted = Stripes(8, 4);
        var withObject = original.clone();
        withObject[TensorIndex.Colon, TensorIndex.Slice(8, 24), TensorIndex.Slice(8, 24)] = tensor(new[] { 0.9f, -0.9f, 0.2f }).view(3, 1, 1);

        var plain = new LocalColourFeatures(1).Extract(stack(new[] { original, shifted, withObject }));
        Assert.Equal(new long[] { 3, 3, 32, 32 }, plain.shape);
        Assert.Equal(1.6f, (plain[0] - plain[1]).abs().max().item<float>(), 4); // plain colour: every pixel flips

        var local = new LocalColourFeatures(9).Extract(stack(new[] { original, shifted, withObject }));
        Assert.Equal(new long[] { 3, 3, 32, 32 }, local.shape);
        // inside the object, away from the border: a 9x9 window holds one period and one column more (1/9 of 1.6 at most)
        double phase = Interior(local[0] - local[1]).abs().max().item<float>();
        double removed = Interior(local[0] - local[2]).abs().mean().item<float>();
        Assert.True(phase <= 1.6 / 9 + 1e-5, $"a half-period shift moved the 9x9 mean by {phase:G3}");
        Assert.True(removed > 3 * phase, $"an object changed the 9x9 mean by {removed:G3}, not well above a phase shift's {phase:G3}");
    }

    static Tensor Interior(Tensor t) => t[TensorIndex.Colon, TensorIndex.Slice(12, 20), TensorIndex.Slice(12, 20)];

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void AWindowThatIsNotAPositiveOddNumberIsRefusedByName(int window)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LocalColourFeatures(window));
        Assert.Contains("window", e.Message);
    }
}
