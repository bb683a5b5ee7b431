using GenSeg.Common;
using GenSeg.Imaging;

namespace GenSeg.ToyWorld;

/// <summary>
/// Draws ToyWorld scenes from a seed. The same seed and options always give the same bytes. Shapes are rasterised
/// without anti-aliasing (a pixel is inside iff its centre is inside), so the image and the masks agree exactly.
/// </summary>
public static class SceneGenerator
{
    static readonly ToyWorldOptions Defaults = new();

    /// <summary>Generates the scene of <paramref name="seed"/>.</summary>
    public static Scene Generate(int seed, ToyWorldOptions? options = null) => Generate(seed, options, null);

    /// <summary>
    /// Generates the scene of <paramref name="seed"/> with some of its objects left out (indices into the full scene's
    /// <see cref="Scene.Objects"/>): every other pixel is exactly as in the full scene, and what the omitted objects
    /// covered shows the background or the objects behind them. This is the exact "object removed" image that trains the
    /// embedded inpainting model to fill an object's region with background.
    /// </summary>
    public static Scene Generate(int seed, ToyWorldOptions? options, IReadOnlyCollection<int>? without)
    {
        options ??= Defaults;
        options.Validate();
        int size = options.Size, n = size * size;
        var rng = new Pcg32(unchecked((ulong)(long)seed), stream: 0x70795F776F726C64UL);

        // Background.
        var palette = rng.Pick(Palettes.Backgrounds);
        int ia = rng.NextInt(palette.Colours.Count);
        int ib = (ia + 1 + rng.NextInt(palette.Colours.Count - 1)) % palette.Colours.Count;
        Rgb bgA = palette.Colours[ia], bgB = palette.Colours[ib];
        var kind = (BackgroundKind)rng.NextInt(4);
        var pixels = new float[n * 3];
        DrawBackground(pixels, size, kind, bgA, bgB, rng);

        // Objects, placed back to front.
        var owner = new int[n];
        Array.Fill(owner, -1);
        var placed = new List<Placement>();
        int wanted = rng.NextInt(options.MinObjects, options.MaxObjects);
        int minPixels = (int)Math.Ceiling(options.MinVisibleArea * n);
        var scratch = new List<int>(n);
        for (int k = 0; k < wanted; k++)
        {
            for (int attempt = 0; attempt < options.PlacementAttempts; attempt++)
            {
                var p = Propose(rng, options, placed, bgA, bgB);
                int total = Rasterise(p, size, scratch);
                if (scratch.Count < minPixels || scratch.Count < options.MinVisibleFraction * total) continue;
                if (!EarlierStayVisible(placed, owner, scratch, options.MinVisibleFraction, minPixels)) continue;
                p.Full = scratch.Count;
                p.Visible = scratch.Count;
                foreach (int idx in scratch)
                {
                    if (owner[idx] >= 0) placed[owner[idx]].Visible--;
                    owner[idx] = placed.Count;
                }
                placed.Add(p);
                break;
            }
        }
        if (placed.Count == 0)
            throw new InvalidOperationException($"ToyWorld seed {seed}: no object could be placed with these options (size {size}); loosen MinVisibleArea or MinRadius");

        if (without is { Count: > 0 })
        {
            foreach (int k in without)
                if (k < 0 || k >= placed.Count)
                    throw new ArgumentOutOfRangeException(nameof(without), k, $"object index {k}: the scene (seed {seed}) has {placed.Count} object(s)");
            var kept = Enumerable.Range(0, placed.Count).Where(k => !without.Contains(k)).ToList();
            Array.Fill(owner, -1);
            foreach (int k in kept)
            {
                Rasterise(placed[k], size, scratch);
                foreach (int idx in scratch) owner[idx] = k;
            }
            foreach (int k in kept) placed[k].Visible = owner.Count(o => o == k);
            var remap = new int[placed.Count];
            for (int i = 0; i < kept.Count; i++) remap[kept[i]] = i;
            for (int idx = 0; idx < n; idx++) if (owner[idx] >= 0) owner[idx] = remap[owner[idx]];
            placed = kept.Select(k => placed[k]).ToList();
        }

        // Paint the objects' visible pixels, then the sensor noise. Both noises are hashed from (seed, pixel), not drawn
        // in sequence, so leaving an object out changes only the pixels it covered.
        ulong noiseKey = Pcg32.Derive(unchecked((ulong)(long)seed), 0x6E6F697365UL);
        for (int idx = 0; idx < n; idx++)
        {
            int k = owner[idx];
            if (k < 0) continue;
            var c = Shade(placed[k], idx % size, idx / size, HashGaussian(Pcg32.Derive(noiseKey, (ulong)idx)));
            pixels[3 * idx] = c.R;
            pixels[3 * idx + 1] = c.G;
            pixels[3 * idx + 2] = c.B;
        }
        var rgb = new byte[n * 3];
        for (int i = 0; i < rgb.Length; i++)
        {
            double v = pixels[i] + (options.PixelNoise > 0 ? options.PixelNoise * HashGaussian(Pcg32.Derive(noiseKey ^ 0x5E5503UL, (ulong)i)) : 0);
            rgb[i] = (byte)Math.Clamp(Math.Round(v), 0, 255);
        }

        var semantic = new byte[n];
        var masks = placed.Select(_ => new byte[n]).ToArray();
        for (int idx = 0; idx < n; idx++)
        {
            int k = owner[idx];
            if (k < 0) continue;
            semantic[idx] = (byte)placed[k].Class;
            masks[k][idx] = 1;
        }
        var objects = placed.Select((p, k) => new SceneObject(p.Class, p.Colour.Name, masks[k], Boxes.BoundingBox(masks[k], size, size)!.Value)
        {
            Texture = p.Texture,
            Center = (p.Cx, p.Cy),
            Radius = p.R,
            Rotation = p.Theta,
            VisibleArea = p.Visible,
            FullArea = p.Full,
        }).ToList();
        return new Scene(seed, size, rgb, semantic, objects, kind, palette.Name);
    }

    sealed class Placement
    {
        public int Class;
        public NamedColour Colour = null!;
        public ObjectTexture Texture;
        public double Cx, Cy, R, Theta, Cos, Sin;
        public double StripePeriod;
        public Rgb StripeShade;
        public int Full, Visible;
    }

    static Placement Propose(Pcg32 rng, ToyWorldOptions o, List<Placement> placed, Rgb bgA, Rgb bgB)
    {
        var classes = ToyClasses.ObjectClasses.Where(c => !o.DistinctClasses || placed.All(p => p.Class != c)).ToArray();
        var contrasting = Palettes.ObjectColours.Where(c => c.Value.DistanceTo(bgA) >= o.MinContrast && c.Value.DistanceTo(bgB) >= o.MinContrast).ToArray();
        if (contrasting.Length == 0) contrasting = Palettes.ObjectColours.ToArray();
        var fresh = contrasting.Where(c => placed.All(p => p.Colour.Name != c.Name)).ToArray();
        var colour = rng.Pick(fresh.Length > 0 ? fresh : contrasting);
        int size = o.Size;
        double r = rng.Uniform(o.MinRadius, o.MaxRadius) * size;
        double margin = 0.75 * r;
        double theta = rng.Uniform(0, 2 * Math.PI);
        var p = new Placement
        {
            Class = rng.Pick(classes),
            Colour = colour,
            R = r,
            Theta = theta,
            Cos = Math.Cos(theta),
            Sin = Math.Sin(theta),
            Cx = rng.Uniform(margin, size - margin),
            Cy = rng.Uniform(margin, size - margin),
        };
        double u = rng.NextDouble();
        p.Texture = u < 0.4 ? ObjectTexture.Flat : u < 0.7 ? ObjectTexture.Noise : ObjectTexture.Stripes;
        p.StripePeriod = Math.Max(3.0, r * rng.Uniform(0.35, 0.6));
        p.StripeShade = colour.Value.Luma < 100 ? colour.Value.Mix(new Rgb(255, 255, 255), 0.4) : colour.Value.Mix(new Rgb(0, 0, 0), 0.35);
        return p;
    }

    /// <summary>Collects the in-image pixel indices whose centres lie in the shape; returns the count including off-image pixels.</summary>
    static int Rasterise(Placement p, int size, List<int> inImage)
    {
        inImage.Clear();
        double reach = ShapeGeometry.Extent * p.R;
        int x0 = (int)Math.Floor(p.Cx - reach), x1 = (int)Math.Ceiling(p.Cx + reach);
        int y0 = (int)Math.Floor(p.Cy - reach), y1 = (int)Math.Ceiling(p.Cy + reach);
        int total = 0;
        double inv = 1.0 / p.R;
        for (int y = y0; y <= y1; y++)
        {
            double dy = y + 0.5 - p.Cy;
            for (int x = x0; x <= x1; x++)
            {
                double dx = x + 0.5 - p.Cx;
                double u = (dx * p.Cos + dy * p.Sin) * inv, v = (-dx * p.Sin + dy * p.Cos) * inv;
                if (!ShapeGeometry.Contains(p.Class, u, v)) continue;
                total++;
                if (x >= 0 && y >= 0 && x < size && y < size) inImage.Add(y * size + x);
            }
        }
        return total;
    }

    static bool EarlierStayVisible(List<Placement> placed, int[] owner, List<int> cover, double minFraction, int minPixels)
    {
        if (placed.Count == 0) return true;
        Span<int> lost = stackalloc int[placed.Count];
        foreach (int idx in cover)
            if (owner[idx] >= 0) lost[owner[idx]]++;
        for (int j = 0; j < placed.Count; j++)
        {
            int left = placed[j].Visible - lost[j];
            if (left < minPixels || left < minFraction * placed[j].Full) return false;
        }
        return true;
    }

    /// <summary>A standard normal value from a 64-bit hash (Box-Muller on its two halves).</summary>
    static double HashGaussian(ulong h)
    {
        double u1 = ((h >> 40) + 1.0) / 16777217.0, u2 = ((h & 0xFFFFFF) + 0.5) / 16777216.0;
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    static Rgb Shade(Placement p, int x, int y, double gaussian)
    {
        var c = p.Colour.Value;
        switch (p.Texture)
        {
            case ObjectTexture.Noise:
                {
                    double d = 18 * gaussian;
                    return new Rgb(Clamp(c.R + d), Clamp(c.G + d), Clamp(c.B + d));
                }
            case ObjectTexture.Stripes:
                {
                    double dx = x + 0.5 - p.Cx, dy = y + 0.5 - p.Cy;
                    double u = dx * p.Cos + dy * p.Sin;
                    double phase = u / p.StripePeriod;
                    return phase - Math.Floor(phase) < 0.5 ? c : p.StripeShade;
                }
            default:
                return c;
        }
    }

    static byte Clamp(double v) => (byte)Math.Clamp(Math.Round(v), 0, 255);

    static void DrawBackground(float[] pixels, int size, BackgroundKind kind, Rgb a, Rgb b, Pcg32 rng)
    {
        Func<int, int, double> mix;
        switch (kind)
        {
            case BackgroundKind.Noise:
                {
                    int g = rng.NextInt(2, 5);
                    var grid = new double[(g + 1) * (g + 1)];
                    for (int i = 0; i < grid.Length; i++) grid[i] = rng.NextDouble();
                    double cell = (double)size / g;
                    mix = (x, y) =>
                    {
                        double fx = (x + 0.5) / cell, fy = (y + 0.5) / cell;
                        int gx = Math.Min((int)fx, g - 1), gy = Math.Min((int)fy, g - 1);
                        double tx = Smooth(fx - gx), ty = Smooth(fy - gy);
                        double top = grid[gy * (g + 1) + gx] * (1 - tx) + grid[gy * (g + 1) + gx + 1] * tx;
                        double bottom = grid[(gy + 1) * (g + 1) + gx] * (1 - tx) + grid[(gy + 1) * (g + 1) + gx + 1] * tx;
                        return top * (1 - ty) + bottom * ty;
                    };
                    break;
                }
            case BackgroundKind.Stripes:
                {
                    double angle = rng.Uniform(0, Math.PI), period = size * rng.Uniform(0.1, 0.25);
                    double cs = Math.Cos(angle), sn = Math.Sin(angle);
                    mix = (x, y) =>
                    {
                        double ph = ((x + 0.5) * cs + (y + 0.5) * sn) / period;
                        return ph - Math.Floor(ph) < 0.5 ? 0 : 1;
                    };
                    break;
                }
            case BackgroundKind.Gradient:
                {
                    double angle = rng.Uniform(0, 2 * Math.PI);
                    double cs = Math.Cos(angle), sn = Math.Sin(angle), half = size / 2.0;
                    double reach = half * (Math.Abs(cs) + Math.Abs(sn));
                    mix = (x, y) => 0.5 + 0.5 * ((x + 0.5 - half) * cs + (y + 0.5 - half) * sn) / reach;
                    break;
                }
            default:
                {
                    double cellSize = size * rng.Uniform(0.08, 0.2);
                    mix = (x, y) => (((int)Math.Floor((x + 0.5) / cellSize) + (int)Math.Floor((y + 0.5) / cellSize)) & 1);
                    break;
                }
        }
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double t = mix(x, y);
                int i = 3 * (y * size + x);
                pixels[i] = (float)(a.R + (b.R - a.R) * t);
                pixels[i + 1] = (float)(a.G + (b.G - a.G) * t);
                pixels[i + 2] = (float)(a.B + (b.B - a.B) * t);
            }
    }

    static double Smooth(double t) => t * t * (3 - 2 * t);
}
