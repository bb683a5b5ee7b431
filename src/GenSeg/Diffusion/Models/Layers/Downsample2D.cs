using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>Downsample2D</c> (0.21): a stride-2 3x3 convolution (<c>use_conv</c>) or a 2x2 average pool.
/// With <c>padding = 0</c> the input is first padded by one on the right and bottom only (the VAE's encoder).
/// The convolution is registered as <c>conv</c> (diffusers' name for <c>name="op"</c>, the name every UNet/VAE
/// block passes; the <c>Conv2d_0</c> alias of <c>name="conv"</c> is not reproduced).
/// </summary>
public sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
    readonly long channels;
    readonly bool useConv;
    readonly long padding;

    readonly nn.Module<Tensor, Tensor> conv;

    /// <summary>Builds the layer with diffusers' constructor arguments.</summary>
    public Downsample2D(long channels, bool useConv = false, long? outChannels = null, long padding = 1) : base(nameof(Downsample2D))
    {
        this.channels = channels;
        this.useConv = useConv;
        this.padding = padding;
        var outCh = outChannels ?? channels;
        if (useConv)
            conv = new GemmConv2d(channels, outCh, 3, stride: 2, padding: padding);
        else
        {
            if (outCh != channels)
                throw new ArgumentException($"Downsample2D: without use_conv out_channels ({outCh}) must equal channels ({channels})", nameof(outChannels));
            conv = nn.AvgPool2d(2, 2);
        }
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] -> [B, C_out, H/2, W/2].</summary>
    public override Tensor forward(Tensor hiddenStates)
    {
        Common.Check.Shape(hiddenStates, "Downsample2D input", -1, channels, -1, -1);
        if (useConv && padding == 0)
        {
            using var padded = nn.functional.pad(hiddenStates, new long[] { 0, 1, 0, 1 }, PaddingModes.Constant, 0.0);
            return conv.call(padded);
        }
        return conv.call(hiddenStates);
    }
}
