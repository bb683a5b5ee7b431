using GenSeg.Common;
using GenSeg.Imaging;
using static TorchSharp.torch;

namespace GenSeg.Methods.Inputs;

/// <summary>The kind of a PaintSeg prompt.</summary>
public enum PromptKind
{
    /// <summary>A bounding box.</summary>
    Box,
    /// <summary>One point.</summary>
    Point,
    /// <summary>A scribble: a connected path of points.</summary>
    Scribble,
    /// <summary>A coarse mask.</summary>
    Mask,
}

/// <summary>How a point prompt is placed.</summary>
public enum PointMode
{
    /// <summary>The object pixel nearest to the object's centroid (the centroid itself may lie outside, e.g. in a ring).</summary>
    Centroid,
    /// <summary>A uniformly random pixel of the object.</summary>
    RandomInterior,
}

/// <summary>A pixel position: column X, row Y.</summary>
public readonly record struct PromptPoint(int X, int Y);

/// <summary>
/// A prompt for PaintSeg. Points and boxes are in pixel coordinates (boxes with exclusive ends); <see cref="Mask"/> is
/// a probability map [H, W] for mask prompts. <see cref="Noise"/> is the noise level it was made with, as a fraction of
/// half the truth box's diagonal.
/// </summary>
public sealed record Prompt(PromptKind Kind, IReadOnlyList<PromptPoint> Points, Box? Box, Tensor? Mask)
{
    /// <summary>Noise level used (fraction of half the box diagonal).</summary>
    public double Noise { get; init; }
}

/// <summary>
/// Prompts made from a truth mask, optionally noisy as in PaintSeg's robustness study: noise is a fraction of half the
/// truth box's diagonal. Boxes move each side by an independent uniform offset within that distance; points and
/// scribbles move by one offset drawn uniformly from the disc of that radius. Results are clamped to the image.
/// All functions are deterministic for a given seed. Truth masks are [H, W] (binarised at 0.5) or row-major bytes.
/// </summary>
public static class Prompts
{
    /// <summary>A box prompt: the truth's bounding box, each side jittered by up to <paramref name="noise"/> * half diagonal.</summary>
    public static Prompt Box(Tensor truth, double noise = 0, ulong seed = 0)
    {
        var (m, h, w) = Bytes(truth);
        return Box(m, w, h, noise, seed);
    }

    /// <summary>A box prompt from row-major mask bytes [height, width].</summary>
    public static Prompt Box(byte[] mask, int width, int height, double noise = 0, ulong seed = 0)
    {
        var box = TruthBox(mask, width, height, noise);
        if (noise > 0)
        {
            var rng = new Pcg32(seed, stream: 0xB0C5);
            double r = noise * box.Diagonal / 2;
            int J() => (int)Math.Round(rng.Uniform(-r, r));
            int x0 = box.X0 + J(), y0 = box.Y0 + J(), x1 = box.X1 + J(), y1 = box.Y1 + J();
            var b = Boxes.Clamp(new Box(Math.Min(x0, x1 - 1), Math.Min(y0, y1 - 1), Math.Max(x1, x0 + 1), Math.Max(y1, y0 + 1)), width, height);
            if (b.IsEmpty) b = Boxes.Clamp(new Box(b.X0 - 1, b.Y0 - 1, b.X0 + 1, b.Y0 + 1), width, height);
            box = b;
        }
        return new Prompt(PromptKind.Box, Array.Empty<PromptPoint>(), box, null) { Noise = noise };
    }

    /// <summary>A point prompt: the centroid (nearest object pixel) or a random object pixel, moved by noise.</summary>
    public static Prompt Point(Tensor truth, PointMode mode = PointMode.Centroid, double noise = 0, ulong seed = 0)
    {
        var (m, h, w) = Bytes(truth);
        return Point(m, w, h, mode, noise, seed);
    }

    /// <summary>A point prompt from row-major mask bytes [height, width].</summary>
    public static Prompt Point(byte[] mask, int width, int height, PointMode mode = PointMode.Centroid, double noise = 0, ulong seed = 0)
    {
        var box = TruthBox(mask, width, height, noise);
        var rng = new Pcg32(seed, stream: 0x9017);
        var pixels = OnPixels(mask);
        int chosen;
        if (mode == PointMode.Centroid)
        {
            double cx = pixels.Average(i => i % width + 0.5), cy = pixels.Average(i => i / width + 0.5);
            chosen = pixels.MinBy(i => Sq(i % width + 0.5 - cx) + Sq(i / width + 0.5 - cy));
        }
        else chosen = pixels[rng.NextInt(pixels.Length)];
        var p = Jitter(new PromptPoint(chosen % width, chosen / width), Offset(rng, noise * box.Diagonal / 2), width, height);
        return new Prompt(PromptKind.Point, new[] { p }, null, null) { Noise = noise };
    }

    /// <summary>
    /// A scribble prompt: a random walk inside the object from a deep interior pixel, with momentum, of about
    /// <paramref name="length"/> steps (default: the object's box diagonal); the whole scribble is moved by noise.
    /// </summary>
    public static Prompt Scribble(Tensor truth, double noise = 0, ulong seed = 0, int? length = null)
    {
        var (m, h, w) = Bytes(truth);
        return Scribble(m, w, h, noise, seed, length);
    }

    /// <summary>A scribble prompt from row-major mask bytes [height, width].</summary>
    public static Prompt Scribble(byte[] mask, int width, int height, double noise = 0, ulong seed = 0, int? length = null)
    {
        var box = TruthBox(mask, width, height, noise);
        var rng = new Pcg32(seed, stream: 0x5C81);
        int steps = length ?? Math.Max(4, (int)Math.Round(box.Diagonal));
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "length: expected >= 1 step");
        // Start among the deepest pixels (at least half the maximum distance to the edge).
        var depth = Distance.Transform(mask.Select(b => b == 0).ToArray(), height, width);
        var pixels = OnPixels(mask);
        float deepest = pixels.Max(i => depth[i]);
        var deep = pixels.Where(i => depth[i] >= 0.5f * deepest).ToArray();
        int start = deep[rng.NextInt(deep.Length)];
        double x = start % width + 0.5, y = start / width + 0.5, heading = rng.Uniform(0, 2 * Math.PI);
        var path = new List<PromptPoint> { new(start % width, start / width) };
        for (int s = 0; s < steps; s++)
        {
            bool moved = false;
            for (int attempt = 0; attempt < 12 && !moved; attempt++)
            {
                double turn = attempt == 0 ? 0.35 * rng.NextGaussian() : rng.Uniform(-Math.PI, Math.PI);
                double hd = heading + turn, nx = x + Math.Cos(hd), ny = y + Math.Sin(hd);
                int px = (int)Math.Floor(nx), py = (int)Math.Floor(ny);
                if (px < 0 || py < 0 || px >= width || py >= height || mask[py * width + px] == 0) continue;
                heading = hd;
                x = nx;
                y = ny;
                moved = true;
                var p = new PromptPoint(px, py);
                if (path[^1] != p) path.Add(p);
            }
            if (!moved) break;
        }
        var (dx, dy) = Offset(rng, noise * box.Diagonal / 2);
        var points = path.Select(p => Jitter(p, (dx, dy), width, height)).ToArray();
        return new Prompt(PromptKind.Scribble, points, null, null) { Noise = noise };
    }

    static double Sq(double v) => v * v;

    static (double Dx, double Dy) Offset(Pcg32 rng, double radius)
    {
        if (radius <= 0) return (0, 0);
        double r = radius * Math.Sqrt(rng.NextDouble()), a = rng.Uniform(0, 2 * Math.PI);
        return (r * Math.Cos(a), r * Math.Sin(a));
    }

    static PromptPoint Jitter(PromptPoint p, (double Dx, double Dy) offset, int width, int height) =>
        new(Math.Clamp((int)Math.Round(p.X + offset.Dx), 0, width - 1), Math.Clamp((int)Math.Round(p.Y + offset.Dy), 0, height - 1));

    static int[] OnPixels(byte[] mask) => Enumerable.Range(0, mask.Length).Where(i => mask[i] != 0).ToArray();

    static Box TruthBox(byte[] mask, int width, int height, double noise)
    {
        ArgumentNullException.ThrowIfNull(mask);
        Check.InRange(noise, nameof(noise), 0, 10);
        return Boxes.BoundingBox(mask, width, height)
               ?? throw new ArgumentException("truth: the mask is empty; a prompt needs an object", "truth");
    }

    static (byte[] Mask, int Height, int Width) Bytes(Tensor truth)
    {
        Check.Rank(truth, nameof(truth), 2, "[H, W]");
        return (Masks.ToBytes(truth), (int)truth.shape[0], (int)truth.shape[1]);
    }
}
