using System.Globalization;
using GenSeg.Common;
using GenSeg.Imaging;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld;

/// <summary>
/// How strongly a coarse mask departs from the truth: a level in [0, 1] (0 = the truth, lightly blurred).
/// <see cref="Low"/>, <see cref="Medium"/> and <see cref="High"/> are the named settings.
/// </summary>
public readonly record struct Severity
{
    /// <summary>Creates a severity; the level must lie in [0, 1].</summary>
    public Severity(double level)
    {
        Check.InRange(level, "severity", 0, 1);
        Level = level;
    }

    /// <summary>The knob in [0, 1].</summary>
    public double Level { get; }

    /// <summary>Mild damage (mean IoU with the truth about 75 over ToyWorld objects).</summary>
    public static Severity Low => new(0.25);

    /// <summary>The benchmark setting (mean IoU with the truth about 66 over ToyWorld objects; about 10% under 40 and 20% at 80 or more).</summary>
    public static Severity Medium => new(0.5);

    /// <summary>Heavy damage (mean IoU with the truth about 54 over ToyWorld objects).</summary>
    public static Severity High => new(0.8);

    /// <summary>Parses "low", "medium", "high" or a number in [0, 1].</summary>
    public static Severity Parse(string text)
    {
        var t = text?.Trim().ToLowerInvariant();
        return t switch
        {
            "low" => Low,
            "medium" => Medium,
            "high" => High,
            _ when double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && v <= 1 => new Severity(v),
            _ => throw new ArgumentException($"severity '{text}': expected low, medium, high or a number in [0, 1]", nameof(text)),
        };
    }

    /// <inheritdoc/>
    public override string ToString() => Level switch
    {
        0.25 => "low",
        0.5 => "medium",
        0.8 => "high",
        _ => Level.ToString("0.###", CultureInfo.InvariantCulture),
    };
}

/// <summary>One operation applied to make a coarse mask, with its parameters (pixels, radians or fractions).</summary>
public sealed record CoarseOp(string Name, IReadOnlyDictionary<string, double> Parameters)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}({string.Join(", ", Parameters.Select(kv => $"{kv.Key}={kv.Value.ToString("0.###", CultureInfo.InvariantCulture)}"))})";
}

/// <summary>
/// A coarse ("inexact") mask made from a truth mask: a probability map [H, W] in [0, 1], its binarisation at 0.5
/// [H, W] (float32 0/1), and the record of the operations that made it, in order.
/// </summary>
public sealed record CoarseMask(Tensor Probability, Tensor Binary, IReadOnlyList<CoarseOp> Record) : IDisposable
{
    /// <summary>Seed the mask was made from.</summary>
    public ulong Seed { get; init; }

    /// <summary>Severity it was made at.</summary>
    public Severity Severity { get; init; }

    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Probability.Dispose();
        Binary.Dispose();
    }
}

/// <summary>
/// Makes coarse masks from truth masks: the inexact inputs that the refinement methods improve. Each mask applies a
/// random subset of damage operations (erosion or dilation, shift, low resolution, blobs added or removed, a part cut
/// off by a half-plane) whose sizes scale with the object's size (the square root of its area) and with the severity,
/// then blurs the result into a probability map. Deterministic for a given truth, severity and seed.
/// </summary>
public static class CoarseMasks
{
    const double OpChance = 0.5;
    const double Gain = 0.65;

    /// <summary>The seed of the coarse mask of object <paramref name="objectIndex"/> of scene <paramref name="sceneSeed"/>
    /// (what <c>genseg toyworld</c> and the demo use, so both show the same masks).</summary>
    public static ulong SeedFor(int sceneSeed, int objectIndex) => Pcg32.Derive(unchecked((ulong)(long)sceneSeed), (ulong)objectIndex);

    /// <summary>Makes a coarse mask of <paramref name="truth"/> [H, W] (binarised at 0.5).</summary>
    public static CoarseMask Make(Tensor truth, Severity severity, ulong seed)
    {
        Check.Rank(truth, nameof(truth), 2, "[H, W]");
        using var scope = NewDisposeScope();
        var t = Masks.Binarize(truth).cpu();
        int h = (int)t.shape[0], w = (int)t.shape[1];
        long area = (long)t.sum().item<float>();
        if (area == 0) throw new ArgumentException("truth: the mask is empty; a coarse mask needs an object", nameof(truth));
        double size = Math.Sqrt(area);

        // Try again (with a derived seed) in the rare case the damage wiped the object out.
        Tensor prob = null!;
        List<CoarseOp> record = null!;
        for (int attempt = 0; attempt < 8; attempt++)
        {
            var rng = new Pcg32(attempt == 0 ? seed : Pcg32.Derive(seed, (ulong)attempt), stream: 0xC0A45E);
            (prob, record) = Damage(t, size, severity.Level, rng);
            if (prob.ge(0.5).any().item<bool>()) break;
        }
        var binary = prob.ge(0.5f).to_type(ScalarType.Float32);
        return new CoarseMask(prob.to(truth.device).MoveToOuterDisposeScope(), binary.to(truth.device).MoveToOuterDisposeScope(), record)
        {
            Seed = seed,
            Severity = severity,
        };
    }

    static (Tensor Probability, List<CoarseOp> Record) Damage(Tensor truth, double size, double level, Pcg32 rng)
    {
        var record = new List<CoarseOp>();
        var m = truth;
        int h = (int)truth.shape[0], w = (int)truth.shape[1];
        // Which operations: each with even odds, at least one when the level is above 0.
        var chosen = new bool[5];
        for (int i = 0; i < chosen.Length; i++) chosen[i] = level > 0 && rng.Chance(OpChance);
        if (level > 0 && !chosen.Any(c => c)) chosen[rng.NextInt(chosen.Length)] = true;
        double Amount() => Gain * level * rng.Uniform(0.4, 1.6);

        if (chosen[0])
        {
            double a = Amount();
            int radius = Math.Max(1, (int)Math.Round(a * 0.22 * size));
            bool dilate = rng.Chance(0.5);
            if (radius > 0)
            {
                var k = Kernel.Square(2 * radius + 1);
                m = dilate ? Morphology.Dilate(m, k) : Morphology.Erode(m, k);
                record.Add(Op(dilate ? "dilate" : "erode", ("radius", radius)));
            }
        }
        if (chosen[1])
        {
            double a = Amount(), angle = rng.Uniform(0, 2 * Math.PI), dist = Math.Max(1.0, a * 0.3 * size);
            int dx = (int)Math.Round(dist * Math.Cos(angle)), dy = (int)Math.Round(dist * Math.Sin(angle));
            if (dx != 0 || dy != 0)
            {
                m = Shift(m, dx, dy);
                record.Add(Op("shift", ("dx", dx), ("dy", dy)));
            }
        }
        if (chosen[2])
        {
            double a = Amount();
            double factor = 1 + a * 0.5 * size / 4;
            int lh = Math.Max(1, (int)Math.Round(h / factor)), lw = Math.Max(1, (int)Math.Round(w / factor));
            if (lh < h || lw < w)
            {
                var low = nn.functional.adaptive_avg_pool2d(m.unsqueeze(0).unsqueeze(0), new long[] { lh, lw });
                m = Resize.Bilinear(low, h, w).squeeze(0).squeeze(0).ge(0.5f).to_type(ScalarType.Float32);
                record.Add(Op("lowres", ("height", lh), ("width", lw)));
            }
        }
        if (chosen[3])
        {
            int count = rng.NextInt(1, 3);
            for (int b = 0; b < count; b++)
            {
                double a = Amount();
                double radius = Math.Max(1.0, a * 0.35 * size);
                var edge = Bands.InnerBand(m, 1).flatten().nonzero().flatten();
                if (edge.numel() == 0) break;
                long idx = edge[rng.NextInt((int)edge.numel())].item<long>();
                double cx = idx % w + 0.5 + rng.Uniform(-0.5, 0.5) * radius, cy = idx / w + 0.5 + rng.Uniform(-0.5, 0.5) * radius;
                bool add = rng.Chance(0.5);
                var disc = Disc(h, w, cx, cy, radius);
                m = add ? maximum(m, disc) : m.mul(disc.neg().add_(1f));
                record.Add(Op(add ? "blob_add" : "blob_remove", ("x", cx), ("y", cy), ("radius", radius)));
            }
        }
        if (chosen[4])
        {
            double a = Amount();
            double fraction = Math.Min(0.6, a * 0.45);
            double angle = rng.Uniform(0, 2 * Math.PI);
            var (ys, xs) = Grid(h, w);
            var proj = xs.mul(Math.Cos(angle)).add_(ys.mul(Math.Sin(angle)));
            var inside = proj.masked_select(m.gt(0.5f));
            if (inside.numel() > 0 && fraction > 0)
            {
                double cut = quantile(inside.to_type(ScalarType.Float64), 1 - fraction).item<double>();
                m = m.mul(proj.le(cut).to_type(ScalarType.Float32));
                record.Add(Op("cut", ("angle", angle), ("fraction", fraction), ("offset", cut)));
            }
        }
        double sigma = 0.5 + level * rng.Uniform(0.4, 1.6) * 0.1 * size;
        var prob = Blur(m, sigma).clamp_(0, 1);
        record.Add(Op("blur", ("sigma", sigma)));
        return (prob, record);
    }

    static CoarseOp Op(string name, params (string Key, double Value)[] parameters) =>
        new(name, parameters.ToDictionary(p => p.Key, p => p.Value));

    /// <summary>Moves a [H, W] mask by (dx, dy) pixels, filling with 0.</summary>
    internal static Tensor Shift(Tensor m, int dx, int dy)
    {
        int h = (int)m.shape[0], w = (int)m.shape[1];
        if (Math.Abs(dx) >= w || Math.Abs(dy) >= h) return zeros_like(m);
        var padded = nn.functional.pad(m.unsqueeze(0).unsqueeze(0), new long[] { Math.Max(dx, 0), Math.Max(-dx, 0), Math.Max(dy, 0), Math.Max(-dy, 0) });
        return padded[0, 0].narrow(0, Math.Max(-dy, 0), h).narrow(1, Math.Max(-dx, 0), w);
    }

    static (Tensor Ys, Tensor Xs) Grid(int h, int w)
    {
        var ys = arange(h, dtype: ScalarType.Float32).add_(0.5f).unsqueeze(1).expand(h, w);
        var xs = arange(w, dtype: ScalarType.Float32).add_(0.5f).unsqueeze(0).expand(h, w);
        return (ys, xs);
    }

    static Tensor Disc(int h, int w, double cx, double cy, double radius)
    {
        var (ys, xs) = Grid(h, w);
        var d2 = xs.sub(cx).square().add_(ys.sub(cy).square());
        return d2.le(radius * radius).to_type(ScalarType.Float32);
    }

    /// <summary>Separable Gaussian blur of a [H, W] map with replicated borders.</summary>
    internal static Tensor Blur(Tensor m, double sigma)
    {
        int r = Math.Max(1, (int)Math.Ceiling(3 * sigma));
        var taps = new float[2 * r + 1];
        for (int i = -r; i <= r; i++) taps[i + r] = (float)Math.Exp(-0.5 * i * i / (sigma * sigma));
        float total = taps.Sum();
        for (int i = 0; i < taps.Length; i++) taps[i] /= total;
        var k = tensor(taps);
        var x = m.unsqueeze(0).unsqueeze(0);
        x = nn.functional.pad(x, new long[] { r, r, r, r }, TorchSharp.PaddingModes.Replicate);
        x = nn.functional.conv2d(x, k.reshape(1, 1, 1, -1));
        x = nn.functional.conv2d(x, k.reshape(1, 1, -1, 1));
        return x.squeeze(0).squeeze(0);
    }
}
