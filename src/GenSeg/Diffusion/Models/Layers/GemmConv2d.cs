using GenSeg.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// A 2-D convolution with PyTorch's <c>nn.Conv2d</c> parameters (<c>weight</c> [out, in, k, k], <c>bias</c> [out]) and
/// initialisation, computed either by libtorch's convolution or as one matrix product over unfolded patches, whichever
/// is faster on the CPU for the call's shape:
/// 1x1 stride-1 convolutions are always a matrix product; k x k convolutions use the matrix product when the weight is
/// large (at least <see cref="GemmMinWeightElements"/> elements) and the output small (at most
/// <see cref="GemmMaxPositions"/> positions over the batch). There oneDNN's per-call weight reordering costs more than the
/// convolution itself (measured on this project's 2-core machine: 1280->1280 channels at 8x8, 29 GFLOP/s by
/// <c>conv2d</c>, 74 by the matrix product). Both paths compute the same convolution and support autograd.
/// </summary>
public sealed class GemmConv2d : nn.Module<Tensor, Tensor>
{
    /// <summary>Smallest weight (elements) for which the matrix product replaces a k x k convolution.</summary>
    public const long GemmMinWeightElements = 4_000_000;

    /// <summary>Largest output (batch x height x width) for which the matrix product replaces a k x k convolution.</summary>
    public const long GemmMaxPositions = 256;

#pragma warning disable IDE1006 // checkpoint key names
    readonly Parameter weight;
    readonly Parameter? bias;
#pragma warning restore IDE1006

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>Output channels.</summary>
    public long OutChannels { get; }

    /// <summary>Square kernel size.</summary>
    public long KernelSize { get; }

    /// <summary>Stride.</summary>
    public long Stride { get; }

    /// <summary>Zero padding on every side.</summary>
    public long Padding { get; }

    /// <summary>The weight [out, in, k, k].</summary>
    public Parameter Weight => weight;

    /// <summary>Builds the layer with PyTorch's default initialisation (that of <c>nn.Conv2d</c>).</summary>
    public GemmConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool hasBias = true)
        : base(nameof(GemmConv2d))
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        using (var init = nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding, bias: hasBias))
        using (torch.no_grad())
        {
            weight = new Parameter(init.weight!.detach().clone());
            if (hasBias) bias = new Parameter(init.bias!.detach().clone());
        }
        RegisterComponents();
    }

    /// <summary>Output size of one spatial dimension.</summary>
    public long OutputSize(long size) => (size + 2 * Padding - KernelSize) / Stride + 1;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        Check.Rank(x, "convolution input", 4, "[B, C, H, W]");
        if (x.shape[1] != InChannels)
            throw new ArgumentException($"convolution input: expected {InChannels} channels, got shape {Check.Format(x.shape)}");
        long b = x.shape[0], oh = OutputSize(x.shape[2]), ow = OutputSize(x.shape[3]);
        bool pointwise = KernelSize == 1 && Stride == 1 && Padding == 0;
        bool gemm = pointwise || (weight.numel() >= GemmMinWeightElements && b * oh * ow <= GemmMaxPositions);
        if (!gemm)
            return nn.functional.conv2d(x, weight, bias, strides: new[] { Stride, Stride }, padding: new[] { Padding, Padding });

        using var scope = torch.NewDisposeScope();
        var w = weight.view(OutChannels, -1);
        var cols = pointwise
            ? x.reshape(b, InChannels, oh * ow)
            : nn.functional.unfold(x, KernelSize, padding: Padding, stride: Stride); // [B, C k k, L]
        Tensor y;
        if (b == 1)
            y = bias is null ? torch.matmul(w, cols[0]) : torch.addmm(bias.unsqueeze(1), w, cols[0], 1, 1);
        else
        {
            y = torch.matmul(w, cols);
            if (bias is not null) y = y + bias.view(1, -1, 1);
        }
        return y.view(b, OutChannels, oh, ow).MoveToOuterDisposeScope();
    }
}
