using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Models.Layers;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
public class FlopCountTests
{
    [Fact]
    public void FormulasGiveHandComputedCounts()
    {
        Assert.Equal(2.0 * 4 * 8 * 9 * 4, FlopCount.Conv2d(1, 4, 8, 3, 3, 2, 2));          // 2304
        Assert.Equal(2.0 * 2 * 8 * 9 * 4 * 3, FlopCount.Conv2d(3, 4, 8, 3, 3, 2, 2, groups: 2)); // Cin/groups = 2
        Assert.Equal(420.0, FlopCount.Linear(14, 3, 5));
        Assert.Equal(2.0 * 2 * 2 * 5 * 4096 * 77 * 64, FlopCount.Attention(2, 5, 4096, 77, 64));
    }

    [Fact]
    public void TinyVaeDecodeCountsEveryLayerAsRun()
    {
        // one level of 8 channels, 4 latent channels, decoded at 2x2: every layer runs at 4 positions
        var config = new AutoencoderKLConfig { BlockOutChannels = new[] { 8 }, LayersPerBlock = 1, NormNumGroups = 4, LatentChannels = 4 };
        using var vae = AutoencoderKL.FromConfig(config);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        double expected =
            2.0 * 4 * 4 * 1 * 1 * 4          // post_quant_conv, 1x1 4 -> 4 (a TorchSharp Conv2d, by hook)
            + 2.0 * 4 * 8 * 9 * 4            // conv_in, 3x3 4 -> 8
            + 8 * (2.0 * 8 * 8 * 9 * 4)      // 4 resnets (2 in the mid block, 2 in the up block) x 2 convs, 3x3 8 -> 8
            + 4 * (2.0 * 4 * 8 * 8)          // the mid attention's q, k, v, out: 4 rows of 8 -> 8
            + 2.0 * 2 * 1 * 4 * 4 * 8        // its Q K^T and AV: 1 head, 4 queries, 4 keys, width 8
            + 2.0 * 8 * 3 * 9 * 4;           // conv_out, 3x3 8 -> 3
        Assert.Equal(43584.0, expected);
        using var counter = new FlopCount.Counter(vae);
        vae.Decode(randn(1, 4, 2, 2));
        Assert.Equal(expected, counter.Flops);
    }

    [Fact]
    public void UpsamplingCountsItsPhaseFormAndHooksAreRemoved()
    {
        using var up = new Upsample2D(2, useConv: true);
        using var linear = nn.Linear(3, 5);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using (var counter = new FlopCount.Counter(up, linear))
        {
            up.call(randn(1, 2, 3, 3));
            // four 2x2 phase kernels of 2 -> 2 channels (one convolution 2 -> 8) on the 4x4 padded grid
            Assert.Equal(2.0 * 2 * 8 * 2 * 2 * 4 * 4, counter.Flops);
            linear.call(randn(2, 7, 3));
            Assert.Equal(2048.0 + 420, counter.Flops);
        }
        using var after = new FlopCount.Counter();
        linear.call(randn(2, 7, 3));
        Assert.Equal(0.0, after.Flops); // the first counter's hooks are gone and this one hooked nothing
    }
}
