using GenSeg.Benchmarks;
using GenSeg.Diffusion.Models;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Benchmarks;

[Trait(Categories.Name, Categories.Unit)]
public class UNetBenchmarkTests
{
    static UNet2DConditionConfig Tiny() => new()
    {
        LayersPerBlock = 1,
        BlockOutChannels = new[] { 32, 64 },
        DownBlockTypes = new[] { "CrossAttnDownBlock2D", "DownBlock2D" },
        UpBlockTypes = new[] { "UpBlock2D", "CrossAttnUpBlock2D" },
        CrossAttentionDim = 16,
        NormNumGroups = 8,
        AttentionHeadDim = 2,
    };

    [Fact]
    public void FlopCountCoversEveryLayerAndScalesWithBatch()
    {
        using var model = UNet2DConditionModel.FromConfig(Tiny());
        model.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        double one = UNetBenchmark.CountFlops(model, torch.randn(1, 4, 8, 8), torch.tensor(new[] { 5L }), torch.randn(1, 3, 16));
        double two = UNetBenchmark.CountFlops(model, torch.randn(2, 4, 8, 8), torch.tensor(new[] { 5L, 5L }), torch.randn(2, 3, 16));
        // conv_in alone: 2 x (32 x 4 x 3 x 3) x 64 positions
        Assert.True(one > 2.0 * 32 * 4 * 9 * 64);
        Assert.Equal(2 * one, two, 6);
        // the hooks are gone afterwards: a second count gives the same figure
        Assert.Equal(one, UNetBenchmark.CountFlops(model, torch.randn(1, 4, 8, 8), torch.tensor(new[] { 5L }), torch.randn(1, 3, 16)), 6);
    }

    [Fact]
    public void RunReportsConsistentFigures()
    {
        var r = UNetBenchmark.Run(new UNetBenchmarkOptions { Config = Tiny(), LatentSize = 8, Tokens = 3, Repeats = 1, MatmulSize = 64, MatmulRepeats = 2, Threads = 1 });
        Assert.True(r.UNetGflop > 0 && r.UNetSeconds > 0 && r.MatmulGflops > 0);
        Assert.Equal(1, r.Threads);
        Assert.Equal(r.UNetGflop / r.UNetSeconds / r.MatmulGflops, r.Ratio, 9);
        using var model = UNet2DConditionModel.FromConfig(Tiny());
        Assert.Equal(model.parameters().Sum(p => p.numel()), r.Parameters);
    }
}
