using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>Downsample2D</c> (models/resnet.py, 0.21.4): a stride-2 3x3 convolution (<c>conv</c>) with the given
/// padding, or a 2x2 average pool when built without a convolution. With padding 0 the input is first padded by one
/// pixel on the right and bottom, as diffusers does (the VAE encoder's layout).
/// </summary>
public sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly nn.Module<Tensor, Tensor> conv;
#pragma warning restore IDE1006
    readonly bool useConv;
    readonly long padding;

    /// <summary>Input channels.</summary>
    public long Channels { get; }

    /// <summary>Output channels.</summary>
    public long OutChannels { get; }

    /// <summary>Builds the layer (channels, use_conv, out_channels, padding as in diffusers).</summary>
    public Downsample2D(long channels, bool useConv = false, long? outChannels = null, long padding = 1)
        : base(nameof(Downsample2D))
    {
        Channels = channels;
        OutChannels = outChannels ?? channels;
        this.useConv = useConv;
        this.padding = padding;
        if (useConv)
            conv = new GemmConv2d(channels, OutChannels, 3, stride: 2, padding: padding);
        else
        {
            if (OutChannels != channels)
                throw new ArgumentException($"Downsample2D: average pooling keeps the channel count ({channels}), got out_channels {OutChannels}");
            conv = nn.AvgPool2d(2, 2);
        }
        RegisterComponents();
    }

    /// <summary>Downsamples <paramref name="x"/> [B, C, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        Check.Rank(x, "Downsample2D input", 4, "[B, C, H, W]");
        if (x.shape[1] != Channels)
            throw new ArgumentException($"Downsample2D input: expected {Channels} channels, got shape {Check.Format(x.shape)}");
        if (useConv && padding == 0)
        {
            using var scope = torch.NewDisposeScope();
            var padded = nn.functional.pad(x, new long[] { 0, 1, 0, 1 }, PaddingModes.Constant, 0);
            return conv.call(padded).MoveToOuterDisposeScope();
        }
        return conv.call(x);
    }

    /// <summary>Spatial size after this layer for an input of size <paramref name="size"/> (one dimension).</summary>
    public long OutputSize(long size) => OutputSize(size, useConv, padding);

    /// <summary>Spatial size after a diffusers Downsample2D (conv k3 s2 with <paramref name="padding"/>, or 2x2 pooling).</summary>
    public static long OutputSize(long size, bool useConv, long padding)
    {
        if (!useConv) return size / 2;
        long effective = padding == 0 ? size + 1 : size + 2 * padding;
        return (effective - 3) / 2 + 1;
    }
}
