using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>Upsample2D</c> (models/resnet.py, 0.21.4): nearest-neighbour upsampling by 2 (or to an explicit
/// output size, as the UNet requests when the latent is not divisible by its overall factor), then a 3x3 convolution
/// (<c>conv</c>); or a 4x4 stride-2 transposed convolution when built with <c>useConvTranspose</c>.
/// </summary>
public sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly nn.Module<Tensor, Tensor>? conv;
#pragma warning restore IDE1006
    readonly bool useConvTranspose;

    /// <summary>Input channels.</summary>
    public long Channels { get; }

    /// <summary>Output channels.</summary>
    public long OutChannels { get; }

    /// <summary>Builds the layer (channels, use_conv, use_conv_transpose, out_channels as in diffusers).</summary>
    public Upsample2D(long channels, bool useConv = false, bool useConvTranspose = false, long? outChannels = null)
        : base(nameof(Upsample2D))
    {
        Channels = channels;
        OutChannels = outChannels ?? channels;
        this.useConvTranspose = useConvTranspose;
        if (useConvTranspose) conv = nn.ConvTranspose2d(channels, OutChannels, 4, stride: 2, padding: 1);
        else if (useConv) conv = new GemmConv2d(channels, OutChannels, 3, padding: 1);
        else if (OutChannels != channels)
            throw new ArgumentException($"Upsample2D: without a convolution the channel count stays {channels}, got out_channels {OutChannels}");
        RegisterComponents();
    }

    /// <summary>Upsamples <paramref name="x"/> [B, C, H, W] by 2.</summary>
    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>Upsamples <paramref name="x"/> to <paramref name="outputSize"/> [H, W] when given, else by 2.</summary>
    public Tensor Forward(Tensor x, long[]? outputSize)
    {
        Check.Rank(x, "Upsample2D input", 4, "[B, C, H, W]");
        if (x.shape[1] != Channels)
            throw new ArgumentException($"Upsample2D input: expected {Channels} channels, got shape {Check.Format(x.shape)}");
        if (useConvTranspose) return conv!.call(x);
        using var scope = torch.NewDisposeScope();
        var h = outputSize is null
            ? nn.functional.interpolate(x, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest)
            : nn.functional.interpolate(x, size: outputSize, mode: InterpolationMode.Nearest);
        if (conv is not null) h = conv.call(h);
        return h.MoveToOuterDisposeScope();
    }
}
