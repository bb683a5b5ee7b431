using GenSeg.Methods.Crf;
using Xunit.Abstractions;

namespace GenSeg.Tests.Methods.DenseCrf;

public class OperatorExploreTests(ITestOutputHelper output)
{
    [Fact]
    public void Measure()
    {
        foreach (var smooth in new[] { false, true })
        for (int seed = 0; seed < 6; seed++)
        {
            var rnd = new Random(seed);
            int h = 24, w = 24, n = h * w;
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
            var line = $"smooth={smooth} seed={seed}:";
            foreach (var (name, f, d) in new[] { ("g3", GenSeg.Methods.Crf.DenseCrf.GaussianFeatures(h, w, 3), 2), ("b80/13", GenSeg.Methods.Crf.DenseCrf.BilateralFeatures(rgb, h, w, 80, 13), 5), ("b50/5", GenSeg.Methods.Crf.DenseCrf.BilateralFeatures(rgb, h, w, 50, 5), 5) })
            {
                var exact = GenSeg.Methods.Crf.DenseCrf.ExactNormalizedKernel(f, n, d);
                var lat = new PermutohedralLattice(f, n, d);
                var id = new float[n * n]; for (int i = 0; i < n; i++) id[i * n + i] = 1;
                var k = lat.Filter(id, n);  // k[i*n + c] = filtered delta_c at point i = K'[i,c]
                var ones = new float[n]; Array.Fill(ones, 1f);
                var norm = lat.Filter(ones, 1).Select(v => 1.0 / Math.Sqrt(v + 1e-20)).ToArray();
                double diffNorm = 0, exNorm = 0, latNorm = 0;
                for (int i = 0; i < n; i++)
                {
                    double r = 0, re = 0, rl = 0;
                    for (int j = 0; j < n; j++) { double a = norm[i] * k[i * n + j] * norm[j]; r += Math.Abs(a - exact[i * n + j]); re += exact[i * n + j]; rl += a; }
                    diffNorm = Math.Max(diffNorm, r); exNorm = Math.Max(exNorm, re); latNorm = Math.Max(latNorm, rl);
                }
                line += $" {name}: |A'-A|={diffNorm:g3} |A|={exNorm:g3} |A'|={latNorm:g3} M={lat.VertexCount};";
            }
            output.WriteLine(line);
        }
    }
}
