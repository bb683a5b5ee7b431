using System.Diagnostics;
using GenSeg.Methods.DenseCrf;

namespace GenSeg.Benchmarks;

/// <summary>
/// Timing of <see cref="DenseCrf.Infer(ReadOnlySpan{byte}, ReadOnlySpan{float}, int, int, int, DenseCrfOptions?)"/>
/// on a synthetic natural-looking scene (for <c>genseg bench</c>).
/// </summary>
public static class DenseCrfBenchmark
{
    /// <summary>
    /// Median wall-clock milliseconds of a full dense-CRF inference (lattice construction included) on a
    /// <paramref name="size"/> x <paramref name="size"/> scene with <paramref name="labels"/> labels, with the PaintSeg
    /// kernel parameters and <paramref name="iterations"/> mean-field updates, after one warm-up run.
    /// </summary>
    /// <param name="size">Image side in pixels.</param>
    /// <param name="labels">Number of labels.</param>
    /// <param name="iterations">Mean-field iterations.</param>
    /// <param name="repeats">Timed runs whose median is returned.</param>
    /// <param name="options">Kernel parameters (iterations are taken from <paramref name="iterations"/>); PaintSeg's when null.</param>
    /// <returns>Median milliseconds per inference.</returns>
    public static double Run(int size = 512, int labels = 21, int iterations = 10, int repeats = 5, DenseCrfOptions? options = null)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "size must be >= 1");
        if (labels < 1) throw new ArgumentOutOfRangeException(nameof(labels), labels, "labels must be >= 1");
        if (repeats < 1) throw new ArgumentOutOfRangeException(nameof(repeats), repeats, "repeats must be >= 1");
        var (rgb, prob) = Scene(size, labels, seed: 0);
        var opts = (options ?? DenseCrfOptions.PaintSeg) with { Iterations = iterations };
        DenseCrf.Infer(rgb, prob, labels, size, size, opts);
        var times = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            DenseCrf.Infer(rgb, prob, labels, size, size, opts);
            times[r] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return repeats % 2 == 1 ? times[repeats / 2] : 0.5 * (times[repeats / 2 - 1] + times[repeats / 2]);
    }

    /// <summary>
    /// A deterministic natural-looking scene: a shaded background with a few coloured ellipses and rectangles and mild
    /// sensor noise, and label probabilities that follow the shapes loosely (a softmax of smooth scores plus noise).
    /// </summary>
    /// <param name="size">Image side in pixels.</param>
    /// <param name="labels">Number of labels.</param>
    /// <param name="seed">Random seed.</param>
    /// <returns>RGB bytes [H, W, 3] and probabilities [L, H, W].</returns>
    public static (byte[] Rgb, float[] Prob) Scene(int size, int labels, int seed)
    {
        var rnd = new Random(seed);
        int n = size * size;
        int shapes = Math.Max(labels - 1, 3);
        var cx = new double[shapes]; var cy = new double[shapes]; var rx = new double[shapes]; var ry = new double[shapes];
        var box = new bool[shapes];
        var colour = new double[shapes, 3];
        for (int s = 0; s < shapes; s++)
        {
            cx[s] = rnd.NextDouble() * size; cy[s] = rnd.NextDouble() * size;
            rx[s] = (0.05 + 0.2 * rnd.NextDouble()) * size; ry[s] = (0.05 + 0.2 * rnd.NextDouble()) * size;
            box[s] = rnd.Next(2) == 0;
            for (int c = 0; c < 3; c++) colour[s, c] = 30 + 200 * rnd.NextDouble();
        }
        var owner = new int[n];
        var rgb = new byte[n * 3];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int i = y * size + x, who = -1;
                for (int s = 0; s < shapes; s++)
                {
                    double u = (x - cx[s]) / rx[s], v = (y - cy[s]) / ry[s];
                    if (box[s] ? Math.Max(Math.Abs(u), Math.Abs(v)) < 1 : u * u + v * v < 1) who = s;
                }
                owner[i] = who;
                double shade = 0.8 + 0.2 * Math.Sin(0.02 * x + 0.013 * y);
                for (int c = 0; c < 3; c++)
                {
                    double baseValue = who < 0 ? 90 + 60.0 * y / size + 20 * c : colour[who, c];
                    double value = baseValue * shade + (rnd.NextDouble() - 0.5) * 8;
                    rgb[3 * i + c] = (byte)Math.Clamp(Math.Round(value), 0, 255);
                }
            }
        var prob = new float[(long)labels * n];
        var score = new double[labels];
        for (int i = 0; i < n; i++)
        {
            int truth = owner[i] < 0 ? 0 : 1 + owner[i] % Math.Max(labels - 1, 1);
            if (truth >= labels) truth = 0;
            double max = double.NegativeInfinity;
            for (int l = 0; l < labels; l++)
            {
                score[l] = (l == truth ? 1.5 : 0) + rnd.NextDouble() * 2;
                max = Math.Max(max, score[l]);
            }
            double sum = 0;
            for (int l = 0; l < labels; l++) sum += score[l] = Math.Exp(score[l] - max);
            for (int l = 0; l < labels; l++) prob[(long)l * n + i] = (float)(score[l] / sum);
        }
        return (rgb, prob);
    }
}
