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
        FlopCount.Add(FlopCount.Conv2d(b, InChannels, OutChannels, KernelSize, KernelSize, oh, ow));
        if (!gemm)
            return Convolve(x, weight, bias, Stride, Padding);

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

    /// <summary>Input channels are padded with zeros to a multiple of this for libtorch's k x k convolution (see <see cref="Convolve"/>).</summary>
    public const long ChannelMultiple = 8;

    /// <summary>
    /// libtorch's <c>conv2d</c>, with the input channels padded with zeros (input and weight alike, so the result is the
    /// same function) to a multiple of <see cref="ChannelMultiple"/> when a k x k kernel (k &gt; 1) meets more than that
    /// many channels that are not a multiple of it. Measured here against a float64 convolution by <c>genseg
    /// check-kernels</c>: oneDNN's AVX kernels (GenSeg's safe CPU kernels) give wrong forward results for batches of two
    /// or more with such a channel count (9-15, 17-23, ..., 65, 130; the inpainting UNet's 9-channel conv_in among them):
    /// 655 of 2430 shapes wrong unpadded, 0 with the channels padded (gradients included).
    /// </summary>
    static Tensor Convolve(Tensor x, Tensor weight, Tensor? bias, long stride, long padding)
    {
        long c = x.shape[1];
        bool spatial = weight.shape[2] > 1 || weight.shape[3] > 1;
        if (!spatial || c <= ChannelMultiple || c % ChannelMultiple == 0)
            return nn.functional.conv2d(x, weight, bias, strides: new[] { stride, stride }, padding: new[] { padding, padding });
        using var scope = torch.NewDisposeScope();
        long extra = ChannelMultiple - c % ChannelMultiple;
        var channels = new long[] { 0, 0, 0, 0, 0, extra }; // pad dimension 1 (last pair first)
        return nn.functional.conv2d(nn.functional.pad(x, channels), nn.functional.pad(weight, channels), bias,
            strides: new[] { stride, stride }, padding: new[] { padding, padding }).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="ForwardUpsampled2x"/> computes this layer by output phases (3x3, stride 1, padding 1).</summary>
    public bool HasPhaseForm => KernelSize == 3 && Stride == 1 && Padding == 1;

    /// <summary>
    /// This convolution applied to the nearest-neighbour 2x upsampling of <paramref name="x"/> [B, C, H, W], giving
    /// [B, out, 2H, 2W], without forming the upsampled input. Output pixel (2i + a, 2j + b) sees upsampled rows
    /// 2i + a - 1 .. 2i + a + 1, which are input rows i - 1, i, i for a = 0 and i, i, i + 1 for a = 1 (likewise for
    /// columns), so each of the four phases (a, b) is a 2x2 convolution of x whose taps are sums of the 3x3 kernel's
    /// taps: one convolution with 4 x out channels does 16 of the 36 multiply-adds per output pixel. Same function as <c>conv(interpolate(x, 2, nearest))</c>
    /// up to float rounding; autograd flows through it. Layers without <see cref="HasPhaseForm"/> upsample and convolve.
    /// </summary>
    public Tensor ForwardUpsampled2x(Tensor x)
    {
        Check.Rank(x, "convolution input", 4, "[B, C, H, W]");
        if (x.shape[1] != InChannels)
            throw new ArgumentException($"convolution input: expected {InChannels} channels, got shape {Check.Format(x.shape)}");
        using var scope = torch.NewDisposeScope();
        if (!HasPhaseForm)
            return forward(nn.functional.interpolate(x, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest)).MoveToOuterDisposeScope();
        long b = x.shape[0], h = x.shape[2], w = x.shape[3], o = OutChannels;
        FlopCount.Add(FlopCount.Conv2d(b, InChannels, 4 * o, 2, 2, h + 1, w + 1)); // the work as run: four 2x2 phase kernels
        var y = Convolve(x, PhaseWeights(weight), bias?.repeat(4), 1, 1); // [B, 4 out, H + 1, W + 1]
        var phases = y.view(b, 2, 2, o, h + 1, w + 1);
        // phase (a, b)'s output pixel (i, j) is at (i + a, j + b) of its padded map
        var output = torch.empty(new[] { b, o, h, 2L, w, 2L }, dtype: y.dtype, device: y.device);
        for (int pa = 0; pa < 2; pa++)
            for (int pb = 0; pb < 2; pb++)
                output.select(5, pb).select(3, pa).copy_(phases.select(2, pb).select(1, pa)
                    [.., .., TensorIndex.Slice(pa, pa + h), TensorIndex.Slice(pb, pb + w)]);
        return output.view(b, o, 2 * h, 2 * w).MoveToOuterDisposeScope();
    }

    /// <summary>The four output phases' 2x2 kernels [4 out, in, 2, 2] (phase-major: (a, b) = (0,0), (0,1), (1,0), (1,1)) of a 3x3 kernel.</summary>
    static Tensor PhaseWeights(Tensor k)
    {
        // phase 0 along an axis takes taps (k0, k1 + k2) at offsets (-1, 0); phase 1 takes (k0 + k1, k2) at offsets (0, +1)
        static Tensor Fold(Tensor t, long dim, int phase) => phase == 0
            ? torch.stack(new[] { t.select(dim, 0), t.select(dim, 1) + t.select(dim, 2) }, dim)
            : torch.stack(new[] { t.select(dim, 0) + t.select(dim, 1), t.select(dim, 2) }, dim);
        var parts = new List<Tensor>(4);
        for (int pa = 0; pa < 2; pa++)
        {
            var rows = Fold(k, 2, pa);
            for (int pb = 0; pb < 2; pb++) parts.Add(Fold(rows, 3, pb));
        }
        return torch.cat(parts, 0);
    }
}
