using System.Globalization;
using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Imaging;

/// <summary>
/// An axis-aligned pixel box with exclusive ends: it covers columns X0..X1-1 and rows Y0..Y1-1.
/// An empty box has X1 &lt;= X0 or Y1 &lt;= Y0.
/// </summary>
public readonly record struct Box(int X0, int Y0, int X1, int Y1)
{
    /// <summary>Number of columns covered (0 when empty).</summary>
    public int Width => Math.Max(0, X1 - X0);

    /// <summary>Number of rows covered (0 when empty).</summary>
    public int Height => Math.Max(0, Y1 - Y0);

    /// <summary>Number of pixels covered.</summary>
    public long Area => (long)Width * Height;

    /// <summary>True when the box covers no pixel.</summary>
    public bool IsEmpty => Width == 0 || Height == 0;

    /// <summary>Centre in continuous pixel coordinates (pixel i spans [i, i+1)).</summary>
    public (double X, double Y) Center => ((X0 + X1) / 2.0, (Y0 + Y1) / 2.0);

    /// <summary>Length of the diagonal in pixels.</summary>
    public double Diagonal => Math.Sqrt((double)Width * Width + (double)Height * Height);

    /// <summary>True when pixel (x, y) lies in the box.</summary>
    public bool Contains(int x, int y) => x >= X0 && x < X1 && y >= Y0 && y < Y1;

    /// <summary>True when <paramref name="other"/> lies entirely inside this box.</summary>
    public bool Contains(Box other) => other.X0 >= X0 && other.Y0 >= Y0 && other.X1 <= X1 && other.Y1 <= Y1;

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"[{X0}, {Y0}, {X1}, {Y1})");
}

/// <summary>Bounding boxes of masks, box scaling and clamping, and boxes as masks.</summary>
public static class Boxes
{
    /// <summary>
    /// The tightest box around the non-zero pixels of a mask [H, W] (any dtype; float masks count values &gt; 0.5),
    /// or null for an empty mask.
    /// </summary>
    public static Box? BoundingBox(Tensor mask)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        using var scope = NewDisposeScope();
        var on = Masks.ToBool(mask);
        var rows = on.any(1);
        var cols = on.any(0);
        if (!rows.any().item<bool>()) return null;
        var rowIdx = nonzero(rows).flatten();
        var colIdx = nonzero(cols).flatten();
        int y0 = (int)rowIdx[0].item<long>(), y1 = (int)rowIdx[-1].item<long>() + 1;
        int x0 = (int)colIdx[0].item<long>(), x1 = (int)colIdx[-1].item<long>() + 1;
        return new Box(x0, y0, x1, y1);
    }

    /// <summary>The tightest box around the non-zero bytes of a row-major [height, width] mask, or null if empty.</summary>
    public static Box? BoundingBox(ReadOnlySpan<byte> mask, int width, int height)
    {
        if (mask.Length != width * height)
            throw new ArgumentException($"mask: expected {width}x{height} = {width * height} bytes, got {mask.Length}", nameof(mask));
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
        {
            var row = mask.Slice(y * width, width);
            int first = row.IndexOfAnyExcept((byte)0);
            if (first < 0) continue;
            int last = row.LastIndexOfAnyExcept((byte)0);
            if (y < y0) y0 = y;
            y1 = y;
            if (first < x0) x0 = first;
            if (last > x1) x1 = last;
        }
        return x1 < 0 ? null : new Box(x0, y0, x1 + 1, y1 + 1);
    }

    /// <summary>
    /// Scales a box about its centre by <paramref name="rate"/> (1.1 grows each side by 5%), rounding outwards, and clamps
    /// it to a <paramref name="clampTo"/> = (width, height) image when given.
    /// </summary>
    public static Box Scale(Box box, double rate, (int Width, int Height)? clampTo = null)
    {
        Check.InRange(rate, nameof(rate), 0, 1e6);
        var (cx, cy) = box.Center;
        double hw = box.Width * rate / 2, hh = box.Height * rate / 2;
        var scaled = new Box((int)Math.Floor(cx - hw + 1e-9), (int)Math.Floor(cy - hh + 1e-9),
                             (int)Math.Ceiling(cx + hw - 1e-9), (int)Math.Ceiling(cy + hh - 1e-9));
        return clampTo is { } size ? Clamp(scaled, size.Width, size.Height) : scaled;
    }

    /// <summary>Clamps a box to a width x height image.</summary>
    public static Box Clamp(Box box, int width, int height) =>
        new(Math.Clamp(box.X0, 0, width), Math.Clamp(box.Y0, 0, height),
            Math.Clamp(box.X1, 0, width), Math.Clamp(box.Y1, 0, height));

    /// <summary>A float mask [height, width] that is 1 inside the box and 0 elsewhere.</summary>
    public static Tensor ToMask(Box box, int height, int width, Device? device = null)
    {
        var m = zeros(height, width, dtype: ScalarType.Float32, device: device);
        var b = Clamp(box, width, height);
        if (!b.IsEmpty) m[TensorIndex.Slice(b.Y0, b.Y1), TensorIndex.Slice(b.X0, b.X1)] = 1.0f;
        return m;
    }
}
