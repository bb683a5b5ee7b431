using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

public class GemmConv2dTests
{
    [Theory]
    [InlineData(3, 5, 3, 1, 1, 2, 9, 7)]       // libtorch convolution path
    [InlineData(3, 5, 3, 2, 0, 1, 9, 8)]       // stride 2, no padding
    [InlineData(6, 4, 1, 1, 0, 2, 5, 5)]       // 1x1: always the matrix product
    [InlineData(704, 704, 3, 1, 1, 1, 8, 6)]   // large weight, few positions: unfold + matrix product (batch 1)
    [InlineData(704, 704, 3, 1, 1, 2, 6, 5)]   // the same with a batch
    [InlineData(704, 704, 3, 2, 1, 1, 9, 9)]   // stride 2 through unfold
    public void EveryPathEqualsTheConvolution(long cin, long cout, long k, long stride, long padding, long b, long h, long w)
    {
        using var scope = torch.NewDisposeScope();
        using var conv = new GemmConv2d(cin, cout, k, stride, padding);
        var x = torch.randn(b, cin, h, w, requires_grad: true);
        var y = conv.call(x);
        var reference = nn.functional.conv2d(x, conv.Weight, conv.parameters().Last(), strides: new[] { stride, stride }, padding: new[] { padding, padding });
        Assert.Equal(reference.shape, y.shape);
        Assert.Equal(new[] { b, cout, conv.OutputSize(h), conv.OutputSize(w) }, y.shape);
        double scale = reference.abs().max().item<float>();
        Assert.True((y - reference).abs().max().item<float>() <= 1e-5 * Math.Max(1, scale));

        // gradients agree too (training uses the same layer)
        var gy = torch.randn_like(y);
        var gx = torch.autograd.grad(new[] { y }, new[] { x, conv.Weight }, new[] { gy });
        var gr = torch.autograd.grad(new[] { reference }, new[] { x, conv.Weight }, new[] { gy });
        for (int i = 0; i < 2; i++)
            Assert.True((gx[i] - gr[i]).abs().max().item<float>() <= 1e-4 * Math.Max(1, gr[i].abs().max().item<float>()));
    }

    [Fact]
    public void InitialisationFollowsPyTorchBounds()
    {
        using var conv = new GemmConv2d(8, 4, 3);
        double bound = 1 / Math.Sqrt(8 * 9);
        Assert.Equal(new long[] { 4, 8, 3, 3 }, conv.Weight.shape);
        Assert.True(conv.Weight.abs().max().item<float>() <= bound);
        Assert.True(conv.Weight.std().item<float>() > bound / 4);
        Assert.Equal(new[] { "weight", "bias" }, conv.state_dict().Keys);
    }
}
