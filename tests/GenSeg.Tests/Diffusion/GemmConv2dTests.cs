using GenSeg.Diffusion.Models.Layers;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
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

        AssertSameGradients(y, reference, x, conv.Weight); // training uses the same layer
    }

    /// <summary>The gradients of <paramref name="y"/> and <paramref name="reference"/> for one random output gradient agree.</summary>
    static void AssertSameGradients(Tensor y, Tensor reference, Tensor x, Tensor weight)
    {
        var gy = torch.randn_like(y);
        var gx = torch.autograd.grad(new[] { y }, new[] { x, weight }, new[] { gy });
        var gr = torch.autograd.grad(new[] { reference }, new[] { x, weight }, new[] { gy });
        for (int i = 0; i < 2; i++)
            Assert.True((gx[i] - gr[i]).abs().max().item<float>() <= 1e-4 * Math.Max(1, gr[i].abs().max().item<float>()));
    }

    [Theory]
    [InlineData(3, 5, 1, 4, 4, true)]     // square
    [InlineData(6, 2, 2, 3, 5, true)]     // odd, non-square sizes
    [InlineData(4, 4, 1, 1, 1, true)]     // a single input pixel: every phase tap meets the padding
    [InlineData(3, 5, 2, 4, 3, false)]    // no phase form (3x3, padding 0): upsampled, then convolved
    public void UpsampledConvolutionEqualsUpsamplingThenConvolving(long cin, long cout, long b, long h, long w, bool phase)
    {
        using var scope = torch.NewDisposeScope();
        using var conv = new GemmConv2d(cin, cout, 3, padding: phase ? 1 : 0);
        Assert.Equal(phase, conv.HasPhaseForm);
        var x = torch.randn(b, cin, h, w, requires_grad: true);
        var y = conv.ForwardUpsampled2x(x);
        var reference = conv.call(nn.functional.interpolate(x, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest));
        Assert.Equal(reference.shape, y.shape);
        double scale = Math.Max(1, reference.abs().max().item<float>());
        Assert.True((y - reference).abs().max().item<float>() <= 1e-5 * scale);
        AssertSameGradients(y, reference, x, conv.Weight);
    }

    [Theory]
    [InlineData(9, 1)]     // the inpainting UNet's conv_in
    [InlineData(13, 1)]
    [InlineData(30, 2)]
    [InlineData(65, 1)]
    [InlineData(8, 1)]     // a multiple of ChannelMultiple: not padded
    public void MatchesAFloat64ConvolutionForAnyChannelCount(long cin, long stride)
    {
        // oneDNN's AVX kernels computed these channel counts wrongly for batches of two or more (the reason for Convolve's padding)
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        using var conv = new GemmConv2d(cin, 16, 3, stride, 1);
        var x = torch.randn(3, cin, 9, 9, requires_grad: true);
        var y = conv.call(x);
        var x64 = x.detach().to_type(ScalarType.Float64).requires_grad_();
        var w64 = conv.Weight.detach().to_type(ScalarType.Float64).requires_grad_();
        var reference = nn.functional.conv2d(x64, w64, conv.parameters().Last().detach().to_type(ScalarType.Float64),
            strides: new[] { stride, stride }, padding: new long[] { 1, 1 });
        double scale = reference.abs().max().item<double>();
        Assert.True((y.to_type(ScalarType.Float64) - reference).abs().max().item<double>() <= 1e-5 * scale);

        var gy = torch.randn_like(reference);
        var g = torch.autograd.grad(new[] { y }, new[] { x, conv.Weight }, new[] { gy.to_type(ScalarType.Float32) });
        var gr = torch.autograd.grad(new[] { reference }, new[] { x64, w64 }, new[] { gy });
        for (int i = 0; i < 2; i++)
            Assert.True((g[i].to_type(ScalarType.Float64) - gr[i]).abs().max().item<double>() <= 1e-5 * gr[i].abs().max().item<double>());
    }

    [Fact]
    public void UpsampledConvolutionNamesABadInput()
    {
        using var conv = new GemmConv2d(3, 4, 3, padding: 1);
        using var x = torch.zeros(1, 5, 4, 4);
        var e = Assert.Throws<ArgumentException>(() => conv.ForwardUpsampled2x(x));
        Assert.Contains("expected 3 channels", e.Message);
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
