using GenSeg.Methods.G4Seg;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

[Trait(Categories.Name, Categories.Unit)]
public class ConfusionAreaTests
{
    [Fact]
    public void KeepsTheRangeNearTheEdge()
    {
        // a horizontal ramp 0..1 over 64 px: the coarse mask is the right half; the edge at x = 32
        var ramp = linspace(0, 1, 64).view(1, 1, 64).expand(1, 64, 64).contiguous();
        var area = ConfusionArea.Of(ramp)[0, 0].data<bool>().ToArray();
        for (int x = 0; x < 64; x++)
        {
            double rel = x / 63.0;
            bool inRange = rel >= 0.2 && rel <= 0.6;
            // 40 px at 512 is 5 px at 64: distance from pixel centre to the nearest pixel across the edge
            bool near = x >= 32 ? x - 31 <= 5 : 32 - x <= 5;
            Assert.Equal(inRange && near, area[x]);
        }
    }

    [Fact]
    public void OptionsSwitchTestsOff()
    {
        var s = rand(2, 16, 16);
        Assert.True(ConfusionArea.Of(s, ConfusionAreaOptions.Everywhere).all().item<bool>());
        var rangeOnly = ConfusionArea.Of(s, new ConfusionAreaOptions(0.2, 0.6, null));
        var rel = s / s.amax(new long[] { 1, 2 }, keepdim: true);
        Assert.Equal(((rel >= 0.2).logical_and(rel <= 0.6)).data<bool>().ToArray(), rangeOnly.data<bool>().ToArray());
        Assert.Throws<ArgumentException>(() => ConfusionArea.Of(s, new ConfusionAreaOptions(0.7, 0.2)));
        Assert.Throws<ArgumentException>(() => ConfusionArea.Of(rand(16, 16)));
    }

    [Fact]
    public void AnEmptyMapHasNoConfusionArea()
    {
        Assert.False(ConfusionArea.Of(zeros(1, 8, 8)).any().item<bool>());
    }
}
