using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Tests.Imaging;

/// <summary>Random masks and naive reference implementations for the imaging tests.</summary>
internal static class TestMasks
{
    /// <summary>A random [h, w] bool grid made of a few rectangles and sprinkled pixels.</summary>
    public static bool[] Random(int h, int w, ulong seed, double speckle = 0.03)
    {
        var rng = new Pcg32(seed);
        var m = new bool[h * w];
        int rects = rng.NextInt(1, 4);
        for (int r = 0; r < rects; r++)
        {
            int x0 = rng.NextInt(w), y0 = rng.NextInt(h), x1 = Math.Min(w, x0 + rng.NextInt(1, w / 2)), y1 = Math.Min(h, y0 + rng.NextInt(1, h / 2));
            for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) m[y * w + x] = true;
        }
        for (int i = 0; i < m.Length; i++) if (rng.Chance(speckle)) m[i] = !m[i];
        return m;
    }

    public static Tensor ToTensor(bool[] m, int h, int w) => tensor(m.Select(b => b ? 1f : 0f).ToArray(), new long[] { h, w });

    public static bool[] ToBools(Tensor t) => t.gt(0.5).cpu().contiguous().data<bool>().ToArray();

    /// <summary>Naive grey-scale dilation (max over the footprint, ignoring pixels outside the image).</summary>
    public static float[] NaiveFilter(float[] m, int h, int w, int k, bool cross, bool max)
    {
        int r = k / 2;
        var o = new float[m.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float best = max ? float.NegativeInfinity : float.PositiveInfinity;
                for (int dy = -r; dy <= r; dy++)
                    for (int dx = -r; dx <= r; dx++)
                    {
                        if (cross && dx != 0 && dy != 0) continue;
                        int yy = y + dy, xx = x + dx;
                        if (yy < 0 || xx < 0 || yy >= h || xx >= w) continue;
                        float v = m[yy * w + xx];
                        best = max ? Math.Max(best, v) : Math.Min(best, v);
                    }
                o[y * w + x] = best;
            }
        return o;
    }

    /// <summary>Brute-force Euclidean distance to the nearest true pixel.</summary>
    public static float[] BruteDistance(bool[] sites, int h, int w)
    {
        var d = new float[h * w];
        for (int i = 0; i < d.Length; i++)
        {
            double best = double.PositiveInfinity;
            for (int j = 0; j < d.Length; j++)
            {
                if (!sites[j]) continue;
                double dx = i % w - j % w, dy = i / w - j / w;
                best = Math.Min(best, dx * dx + dy * dy);
            }
            d[i] = (float)Math.Sqrt(best);
        }
        return d;
    }
}
