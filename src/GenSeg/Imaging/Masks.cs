using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Imaging;

/// <summary>
/// Mask conventions used throughout the kit.
/// <list type="bullet">
/// <item>A binary mask is a float32 tensor of 0s and 1s, [H, W] for one mask or [B, 1, H, W] for a batch.</item>
/// <item>A soft mask (probability map) is a float32 tensor with values in [0, 1]; it is binarised at 0.5.</item>
/// <item>Functions also accept bool masks and integer masks (non-zero = on); they return float32 unless stated.</item>
/// <item>A label map (semantic mask) is an int64 tensor [H, W] of class indices, 0 = background, 255 = ignore.</item>
/// </list>
/// </summary>
public static class Masks
{
    /// <summary>A bool view of a mask: bool as is, floating point &gt; 0.5, integers non-zero.</summary>
    public static Tensor ToBool(Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(mask, nameof(mask));
        if (mask.dtype == ScalarType.Bool) return mask.alias();
        if (!mask.is_floating_point()) return mask.ne(zeros(1, dtype: mask.dtype, device: mask.device));
        // an explicit Scalar: an implicit temporary can be finalised during the native call (torchsharp-pitfalls.md)
        using var half = 0.5.ToScalar();
        return mask.gt(half);
    }

    /// <summary>A float32 0/1 mask: bool and integer masks become 0/1; float masks are kept as they are (soft masks stay soft).</summary>
    public static Tensor ToFloat(Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(mask, nameof(mask));
        if (mask.dtype == ScalarType.Float32) return mask.alias();
        if (mask.is_floating_point()) return mask.to_type(ScalarType.Float32);
        return mask.ne(0).to_type(ScalarType.Float32);
    }

    /// <summary>Binarises a mask to float32 0/1 (floating point at &gt; 0.5).</summary>
    public static Tensor Binarize(Tensor mask) => ToBool(mask).to_type(ScalarType.Float32);

    /// <summary>
    /// Brings a [H, W] or [B, 1, H, W] mask to [B, 1, H, W] float32 and returns whether it was 2-D, so the caller can
    /// give the result back in the input's layout with <see cref="FromBatch"/>.
    /// </summary>
    public static (Tensor Batch, bool WasPlane) ToBatch(Tensor mask, string name)
    {
        ArgumentNullException.ThrowIfNull(mask, name);
        if (mask.dim() == 2) return (ToFloat(mask).unsqueeze(0).unsqueeze(0), true);
        if (mask.dim() == 4 && mask.shape[1] == 1) return (ToFloat(mask), false);
        throw new ArgumentException($"{name}: expected a mask [H, W] or [B, 1, H, W], got {Check.Format(mask.shape)}", name);
    }

    /// <summary>Undoes <see cref="ToBatch"/>: [B, 1, H, W] back to [H, W] when the input was a plane.</summary>
    public static Tensor FromBatch(Tensor batch, bool wasPlane) => wasPlane ? batch.squeeze(0).squeeze(0) : batch;

    /// <summary>Builds a [height, width] float32 mask from row-major bytes (non-zero = on).</summary>
    public static Tensor FromBytes(byte[] mask, int height, int width)
    {
        if (mask.Length != height * width)
            throw new ArgumentException($"mask: expected {height}x{width} = {height * width} bytes, got {mask.Length}", nameof(mask));
        return tensor(Array.ConvertAll(mask, b => b != 0 ? 1f : 0f), new long[] { height, width });
    }

    /// <summary>Row-major bytes (0/1) of a [H, W] mask.</summary>
    public static byte[] ToBytes(Tensor mask)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        using var scope = NewDisposeScope();
        return ToBool(mask).to_type(ScalarType.Byte).cpu().contiguous().data<byte>().ToArray();
    }

    /// <summary>Number of pixels that are on.</summary>
    public static long Area(Tensor mask)
    {
        using var scope = NewDisposeScope();
        return ToBool(mask).sum().item<long>();
    }
}
