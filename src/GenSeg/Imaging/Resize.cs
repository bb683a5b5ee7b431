using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Imaging;

/// <summary>
/// Resizing of images and masks of layout [H, W], [C, H, W] or [B, C, H, W] (the layout is kept). Bilinear uses
/// align_corners = false (PyTorch's and PIL's pixel-centre convention); nearest picks the source pixel whose centre
/// is nearest (floor of (i + 0.5) * scale).
/// </summary>
public static class Resize
{
    /// <summary>Bilinear resize to <paramref name="height"/> x <paramref name="width"/>; returns float32.</summary>
    public static Tensor Bilinear(Tensor input, int height, int width) => Apply(input, height, width, InterpolationMode.Bilinear);

    /// <summary>
    /// Nearest-neighbour resize to <paramref name="height"/> x <paramref name="width"/>, keeping the dtype (label maps stay
    /// integer, bool masks stay bool).
    /// </summary>
    public static Tensor Nearest(Tensor input, int height, int width) => Apply(input, height, width, InterpolationMode.NearestExact);

    static Tensor Apply(Tensor input, int height, int width, InterpolationMode mode)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"size: expected a positive height and width, got {height}x{width}");
        int rank = (int)input.dim();
        if (rank < 2 || rank > 4)
            throw new ArgumentException($"input: expected [H, W], [C, H, W] or [B, C, H, W], got {Check.Format(input.shape)}", nameof(input));
        using var scope = NewDisposeScope();
        var x = input;
        while (x.dim() < 4) x = x.unsqueeze(0);
        var dtype = input.dtype;
        x = x.to_type(ScalarType.Float32);
        var y = mode == InterpolationMode.Bilinear
            ? nn.functional.interpolate(x, new long[] { height, width }, mode: InterpolationMode.Bilinear, align_corners: false)
            : nn.functional.interpolate(x, new long[] { height, width }, mode: InterpolationMode.NearestExact);
        while (y.dim() > rank) y = y.squeeze(0);
        if (mode != InterpolationMode.Bilinear && dtype != ScalarType.Float32)
            y = dtype == ScalarType.Bool ? y.gt(0.5) : y.round().to_type(dtype);
        return y.contiguous().MoveToOuterDisposeScope();
    }
}
