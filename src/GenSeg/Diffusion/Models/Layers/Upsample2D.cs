using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>Upsample2D</c> (0.21): nearest-neighbour x2 (or to <c>outputSize</c>), then a 3x3 convolution when
/// <c>use_conv</c>; or a 4x4 stride-2 transposed convolution when <c>use_conv_transpose</c>. The convolution is
/// registered as <c>conv</c> (<c>name="conv"</c>, the default every UNet/VAE block uses). Doubling followed by the
/// 3x3 convolution runs as <see cref="GemmConv2d.ForwardUpsampled2x"/> (the same function in 16 of the 36 multiply-adds
/// per output pixel).
/// </summary>
public sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
    readonly long channels;
    readonly bool useConvTranspose;

    readonly nn.Module<Tensor, Tensor>? conv;

    /// <summary>Builds the layer with diffusers' constructor arguments.</summary>
    public Upsample2D(long channels, bool useConv = false, bool useConvTranspose = false, long? outChannels = null) : base(nameof(Upsample2D))
    {
        this.channels = channels;
        this.useConvTranspose = useConvTranspose;
        var outCh = outChannels ?? channels;
        if (useConvTranspose) conv = nn.ConvTranspose2d(channels, outCh, 4, stride: 2, padding: 1);
        else if (useConv) conv = new GemmConv2d(channels, outCh, 3, padding: 1);
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] -> [B, C_out, 2H, 2W].</summary>
    public override Tensor forward(Tensor hiddenStates) => Forward(hiddenStates, null);

    /// <summary>Upsamples to <paramref name="outputSize"/> (H, W) when given, else by 2.</summary>
    public Tensor Forward(Tensor hiddenStates, long[]? outputSize)
    {
        Common.Check.Shape(hiddenStates, "Upsample2D input", -1, channels, -1, -1);
        if (useConvTranspose) return conv!.call(hiddenStates);
        using var scope = torch.NewDisposeScope();
        var x = hiddenStates;
        bool doubling = outputSize is null || (outputSize.Length == 2 && outputSize[0] == 2 * x.shape[2] && outputSize[1] == 2 * x.shape[3]);
        if (doubling && conv is GemmConv2d { HasPhaseForm: true } phased && x.dtype != ScalarType.BFloat16)
            return phased.ForwardUpsampled2x(x).MoveToOuterDisposeScope(); // nearest x2 and the 3x3 conv in one step
        var dtype = x.dtype;
        if (dtype == ScalarType.BFloat16) x = x.to_type(ScalarType.Float32);
        x = outputSize is null
            ? nn.functional.interpolate(x, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest)
            : nn.functional.interpolate(x, size: outputSize, mode: InterpolationMode.Nearest);
        if (dtype == ScalarType.BFloat16) x = x.to_type(dtype);
        if (conv is not null) x = conv.call(x);
        return x.MoveToOuterDisposeScope();
    }
}
