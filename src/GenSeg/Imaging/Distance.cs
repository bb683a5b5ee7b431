using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Imaging;

/// <summary>
/// Exact Euclidean distance transforms (Felzenszwalb and Huttenlocher 2012, two 1-D passes of the lower envelope of
/// parabolas) between pixel centres. Masks are [H, W] (binarised at 0.5); results are float32 [H, W].
/// </summary>
public static class Distance
{
    /// <summary>
    /// Distance from each pixel to the nearest ON pixel (0 on the mask). An empty mask gives +infinity everywhere.
    /// </summary>
    public static Tensor ToNearest(Tensor mask)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        var (on, h, w) = Bits(mask);
        return Result(Transform(on, h, w), h, w, mask.device);
    }

    /// <summary>
    /// Distance of each pixel to the mask's edge: for a pixel on the mask, the distance to the nearest off pixel; for an
    /// off pixel, the distance to the nearest on pixel (scipy's distance_transform_edt convention on each side).
    /// </summary>
    public static Tensor ToEdge(Tensor mask)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        var (on, h, w) = Bits(mask);
        var outside = Transform(on, h, w);
        var inside = Transform(on.Select(b => !b).ToArray(), h, w);
        var d = new float[h * w];
        for (int i = 0; i < d.Length; i++) d[i] = on[i] ? inside[i] : outside[i];
        return Result(d, h, w, mask.device);
    }

    /// <summary>Signed distance: positive inside the mask (distance to the nearest off pixel), negative outside.</summary>
    public static Tensor Signed(Tensor mask)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        var (on, h, w) = Bits(mask);
        var outside = Transform(on, h, w);
        var inside = Transform(on.Select(b => !b).ToArray(), h, w);
        var d = new float[h * w];
        for (int i = 0; i < d.Length; i++) d[i] = on[i] ? inside[i] : -outside[i];
        return Result(d, h, w, mask.device);
    }

    static (bool[] On, int H, int W) Bits(Tensor mask)
    {
        using var scope = NewDisposeScope();
        var b = Masks.ToBool(mask).cpu().contiguous().data<bool>().ToArray();
        return (b, (int)mask.shape[0], (int)mask.shape[1]);
    }

    static Tensor Result(float[] d, int h, int w, Device device)
    {
        using var scope = NewDisposeScope();
        return tensor(d, new long[] { h, w }).to(device).MoveToOuterDisposeScope();
    }

    /// <summary>Euclidean distance to the nearest site (true) for every pixel of a row-major [h, w] grid.</summary>
    internal static float[] Transform(bool[] sites, int h, int w)
    {
        const double Inf = 1e20;
        var f = new double[h * w];
        for (int i = 0; i < f.Length; i++) f[i] = sites[i] ? 0 : Inf;
        int n = Math.Max(h, w);
        var line = new double[n];
        var outLine = new double[n];
        var v = new int[n];
        var z = new double[n + 1];
        for (int x = 0; x < w; x++) // columns
        {
            for (int y = 0; y < h; y++) line[y] = f[y * w + x];
            Envelope(line, h, outLine, v, z);
            for (int y = 0; y < h; y++) f[y * w + x] = outLine[y];
        }
        for (int y = 0; y < h; y++) // rows
        {
            Array.Copy(f, y * w, line, 0, w);
            Envelope(line, w, outLine, v, z);
            Array.Copy(outLine, 0, f, y * w, w);
        }
        var d = new float[h * w];
        for (int i = 0; i < d.Length; i++) d[i] = f[i] >= Inf / 2 ? float.PositiveInfinity : (float)Math.Sqrt(f[i]);
        return d;
    }

    // 1-D squared distance transform of sampled function f over n points.
    static void Envelope(double[] f, int n, double[] d, int[] v, double[] z)
    {
        int k = 0;
        v[0] = 0;
        z[0] = double.NegativeInfinity;
        z[1] = double.PositiveInfinity;
        for (int q = 1; q < n; q++)
        {
            double s = ((f[q] + (double)q * q) - (f[v[k]] + (double)v[k] * v[k])) / (2.0 * q - 2.0 * v[k]);
            while (s <= z[k])
            {
                k--;
                s = ((f[q] + (double)q * q) - (f[v[k]] + (double)v[k] * v[k])) / (2.0 * q - 2.0 * v[k]);
            }
            k++;
            v[k] = q;
            z[k] = s;
            z[k + 1] = double.PositiveInfinity;
        }
        k = 0;
        for (int q = 0; q < n; q++)
        {
            while (z[k + 1] < q) k++;
            double dq = q - v[k];
            d[q] = dq * dq + f[v[k]];
        }
    }
}
