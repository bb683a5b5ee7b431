using GenSeg.Runtime;
using GenSeg.Tests.Support;
using TorchSharp;

namespace GenSeg.Tests.Runtime;

/// <summary>libtorch never tries NNPACK on a processor it does not support, so it never logs its warning there.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class NnpackTests
{
    [Fact]
    public void NnpackIsOffExactlyWhereTheProcessorLacksIt()
    {
        var state = TorchRuntime.Nnpack();
        Assert.NotNull(state); // the kit's libtorch_cpu exports the symbols
        Assert.Equal(state.Value.Supported, state.Value.Enabled);
    }

    [Fact]
    public void ConvolutionsStillRunWithNnpackOff()
    {
        using var scope = torch.NewDisposeScope();
        // batch 16 and a 3x3 kernel: the shape libtorch would hand to NNPACK
        var x = torch.ones(16, 4, 8, 8);
        var w = torch.ones(2, 4, 3, 3);
        var y = torch.nn.functional.conv2d(x, w, padding: new long[] { 1, 1 });
        Assert.Equal(36f, y[0, 0, 4, 4].item<float>()); // inside: 4 channels x 9 taps
        Assert.Equal(16f, y[0, 0, 0, 0].item<float>()); // corner: 4 channels x 4 taps
    }
}
