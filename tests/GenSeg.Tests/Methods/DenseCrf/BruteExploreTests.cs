using GenSeg.Methods.Crf;
using Xunit.Abstractions;

namespace GenSeg.Tests.Methods.DenseCrf;

public class BruteExploreTests(ITestOutputHelper output)
{
    [Fact]
    public void Measure()
    {
        var opts = new (string, DenseCrfOptions)[] {
            ("default", new DenseCrfOptions()),
            ("paintseg", DenseCrfOptions.PaintSeg),
            ("weak1", new DenseCrfOptions { GaussianCompat = 1, BilateralCompat = 1 }),
            ("g-only", new DenseCrfOptions { BilateralCompat = 0 }),
            ("b-only", new DenseCrfOptions { GaussianCompat = 0 }),
            ("it1", new DenseCrfOptions { Iterations = 1 }),
            ("w1b1it1", new DenseCrfOptions { GaussianCompat = 0, BilateralCompat = 1, Iterations = 1 }),
            ("w1g1it1", new DenseCrfOptions { GaussianCompat = 1, BilateralCompat = 0, Iterations = 1 }),
        };
        foreach (var (name, opt) in opts)
        foreach (var smooth in new[] { false, true })
        {
            double worst = 0, sumMean = 0, worstDis = 0; int cases = 10;
            for (int seed = 0; seed < cases; seed++)
            {
                var rnd = new Random(seed);
                int h = 24, w = 24, l = 2 + seed % 4, n = h * w;
                var rgb = new byte[n * 3];
                if (!smooth) rnd.NextBytes(rgb);
                else
                {
                    var c0 = new int[3]; var c1 = new int[3];
                    for (int c = 0; c < 3; c++) { c0[c] = rnd.Next(256); c1[c] = rnd.Next(256); }
                    double cx = rnd.Next(6, 18), cy = rnd.Next(6, 18), rad = rnd.Next(4, 9);
                    for (int y = 0; y < h; y++) for (int x = 0; x < w; x++)
                    {
                        bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < rad * rad;
                        for (int c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = (byte)Math.Clamp((inside ? c1[c] : c0[c]) + rnd.Next(-8, 9), 0, 255);
                    }
                }
                var prob = new float[l * n];
                for (int i = 0; i < n; i++)
                {
                    double s = 0; var e = new double[l];
                    for (int k = 0; k < l; k++) { e[k] = Math.Exp(2 * rnd.NextDouble() - 1); s += e[k]; }
                    for (int k = 0; k < l; k++) prob[k * n + i] = (float)(e[k] / s);
                }
                var a = GenSeg.Methods.Crf.DenseCrf.Infer(rgb, prob, l, h, w, opt);
                var b = GenSeg.Methods.Crf.DenseCrf.InferBruteForce(rgb, prob, l, h, w, opt);
                double mx = 0, mean = 0;
                for (int i = 0; i < a.Length; i++) { double dd = Math.Abs(a[i] - b[i]); mx = Math.Max(mx, dd); mean += dd; }
                worst = Math.Max(worst, mx); sumMean += mean / a.Length;
                int dis = 0;
                for (int i = 0; i < n; i++) { int am = 0, bm = 0; for (int k = 1; k < l; k++) { if (a[k*n+i] > a[am*n+i]) am = k; if (b[k*n+i] > b[bm*n+i]) bm = k; } if (am != bm) dis++; }
                worstDis = Math.Max(worstDis, dis / (double)n);
            }
            output.WriteLine($"{name} smooth={smooth}: worst max {worst:g3}, avg mean {sumMean / cases:g3}, worst argmax disagreement {worstDis:P2}");
        }
    }
}
