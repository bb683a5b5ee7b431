using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Imaging;

/// <summary>The footprint of a morphological operation.</summary>
public enum KernelShape
{
    /// <summary>A full k x k square (Chebyshev ball).</summary>
    Square,

    /// <summary>A plus sign: the centre row and column of a k x k square (k = 3 is the 4-neighbourhood).</summary>
    Cross,
}

/// <summary>A structuring element: a shape and an odd size k.</summary>
public readonly record struct Kernel(KernelShape Shape, int Size)
{
    /// <summary>A k x k square (k odd).</summary>
    public static Kernel Square(int k) => new(KernelShape.Square, CheckSize(k));

    /// <summary>A k x k cross (k odd).</summary>
    public static Kernel Cross(int k) => new(KernelShape.Cross, CheckSize(k));

    static int CheckSize(int k) =>
        k >= 1 && k % 2 == 1 ? k : throw new ArgumentOutOfRangeException(nameof(k), k, $"kernel size: expected an odd size >= 1, got {k}");
}

/// <summary>
/// Grey-scale morphology over masks [H, W] or [B, 1, H, W] (binary masks stay binary; soft masks get max/min filters),
/// built on max_pool2d. Pixels outside the image are ignored (neither on nor off), as in OpenCV's default border: a mask
/// that touches the image edge is not eroded from the edge. Results are float32 in the input's layout.
/// </summary>
public static class Morphology
{
    /// <summary>Dilation: each pixel takes the maximum over the kernel, <paramref name="iterations"/> times.</summary>
    public static Tensor Dilate(Tensor mask, Kernel kernel, int iterations = 1)
    {
        CheckIterations(iterations);
        using var scope = NewDisposeScope();
        var (x, plane) = Masks.ToBatch(mask, nameof(mask));
        for (int i = 0; i < iterations; i++) x = MaxFilter(x, kernel);
        return Masks.FromBatch(x, plane).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Erosion: each pixel takes the minimum over the kernel, <paramref name="iterations"/> times.</summary>
    public static Tensor Erode(Tensor mask, Kernel kernel, int iterations = 1)
    {
        CheckIterations(iterations);
        using var scope = NewDisposeScope();
        var (x, plane) = Masks.ToBatch(mask, nameof(mask));
        x = x.neg();
        for (int i = 0; i < iterations; i++) x = MaxFilter(x, kernel);
        return Masks.FromBatch(x.neg(), plane).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Opening: erosion then dilation (removes specks smaller than the kernel).</summary>
    public static Tensor Open(Tensor mask, Kernel kernel, int iterations = 1)
    {
        using var scope = NewDisposeScope();
        return Dilate(Erode(mask, kernel, iterations), kernel, iterations).MoveToOuterDisposeScope();
    }

    /// <summary>Closing: dilation then erosion (fills holes and gaps smaller than the kernel).</summary>
    public static Tensor Close(Tensor mask, Kernel kernel, int iterations = 1)
    {
        using var scope = NewDisposeScope();
        return Erode(Dilate(mask, kernel, iterations), kernel, iterations).MoveToOuterDisposeScope();
    }

    static Tensor MaxFilter(Tensor x, Kernel kernel)
    {
        int k = kernel.Size, p = k / 2;
        if (k == 1) return x;
        if (kernel.Shape == KernelShape.Square)
        {
            // separable: a row pass then a column pass
            var rows = nn.functional.max_pool2d(x, new long[] { 1, k }, new long[] { 1, 1 }, new long[] { 0, p });
            return nn.functional.max_pool2d(rows, new long[] { k, 1 }, new long[] { 1, 1 }, new long[] { p, 0 });
        }
        var h = nn.functional.max_pool2d(x, new long[] { 1, k }, new long[] { 1, 1 }, new long[] { 0, p });
        var v = nn.functional.max_pool2d(x, new long[] { k, 1 }, new long[] { 1, 1 }, new long[] { p, 0 });
        return maximum(h, v);
    }

    static void CheckIterations(int iterations)
    {
        if (iterations < 0) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "iterations: expected >= 0");
    }
}

/// <summary>Bands along a mask's boundary, for restricting updates to the region near the edge.</summary>
public static class Bands
{
    /// <summary>
    /// The inner band of width <paramref name="width"/>: pixels of the mask within Chebyshev distance
    /// <paramref name="width"/> of an off pixel (mask minus its erosion by a (2w+1) square). Float32 0/1, input layout.
    /// </summary>
    public static Tensor InnerBand(Tensor mask, int width)
    {
        CheckWidth(width);
        using var scope = NewDisposeScope();
        var m = Masks.Binarize(mask);
        var eroded = Morphology.Erode(m, Kernel.Square(2 * width + 1));
        return m.sub(eroded).relu_().MoveToOuterDisposeScope(); // erosion lies inside the mask: 0/1 already
    }

    /// <summary>
    /// The outer band of width <paramref name="width"/>: off pixels within Chebyshev distance <paramref name="width"/>
    /// of the mask (its dilation by a (2w+1) square minus the mask). Float32 0/1, input layout.
    /// </summary>
    public static Tensor OuterBand(Tensor mask, int width)
    {
        CheckWidth(width);
        using var scope = NewDisposeScope();
        var m = Masks.Binarize(mask);
        var dilated = Morphology.Dilate(m, Kernel.Square(2 * width + 1));
        return dilated.sub(m).relu_().MoveToOuterDisposeScope(); // the mask lies inside its dilation: 0/1 already
    }

    /// <summary>Inner and outer band together: the pixels within <paramref name="width"/> of the boundary on either side.</summary>
    public static Tensor Band(Tensor mask, int width)
    {
        using var scope = NewDisposeScope();
        return InnerBand(mask, width).add(OuterBand(mask, width)).MoveToOuterDisposeScope();
    }

    static void CheckWidth(int width)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "band width: expected >= 1 pixel");
    }
}
