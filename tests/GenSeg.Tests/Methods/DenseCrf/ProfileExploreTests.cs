using System.Diagnostics;
using GenSeg.Methods.Crf;
using Xunit.Abstractions;

namespace GenSeg.Tests.Methods.DenseCrf;

public class ProfileExploreTests(ITestOutputHelper output)
{
    [Fact]
    public void Profile()
    {
        int size = 512, labels = 21, n = size * size;
        var (rgb, prob) = DenseCrfBenchmark.Scene(size, labels, 0);
        var o = DenseCrfOptions.PaintSeg;
        for (int rep = 0; rep < 2; rep++)
        {
            var sw = Stopwatch.StartNew();
            var gf = GenSeg.Methods.Crf.DenseCrf.GaussianFeatures(size, size, o.GaussianSxy);
            var bf = GenSeg.Methods.Crf.DenseCrf.BilateralFeatures(rgb, size, size, o.BilateralSxy, o.BilateralSrgb);
            var t0 = sw.Elapsed.TotalMilliseconds;
            var g = new PermutohedralLattice(gf, n, 2);
            var t1 = sw.Elapsed.TotalMilliseconds;
            var b = new PermutohedralLattice(bf, n, 5);
            var t2 = sw.Elapsed.TotalMilliseconds;
            var kg = new MeanField.Kernel(g, o.GaussianCompat);
            var kb = new MeanField.Kernel(b, o.BilateralCompat);
            var t3 = sw.Elapsed.TotalMilliseconds;
            int stride = MeanField.Stride(labels);
            var negU = new float[n * stride];
            Array.Fill(negU, float.NegativeInfinity);
            for (int l = 0; l < labels; l++) for (int i = 0; i < n; i++) negU[i * stride + l] = MathF.Log(prob[l * n + i]);
            var t4 = sw.Elapsed.TotalMilliseconds;
            MeanField.Run(negU, labels, new[] { kg, kb }, 0);
            var t5 = sw.Elapsed.TotalMilliseconds;
            MeanField.Run(negU, labels, new[] { kg, kb }, 10);
            var t6 = sw.Elapsed.TotalMilliseconds;
            MeanField.Run(negU, labels, new[] { kg }, 10);
            var t7 = sw.Elapsed.TotalMilliseconds;
            MeanField.Run(negU, labels, new[] { kb }, 10);
            var t8 = sw.Elapsed.TotalMilliseconds;
            output.WriteLine($"features {t0:F1}, gauss lattice {t1 - t0:F1} (M={g.VertexCount}), bilat lattice {t2 - t1:F1} (M={b.VertexCount}), norms {t3 - t2:F1}, unary {t4 - t3:F1}, mf0 {t5 - t4:F1}, mf10 {t6 - t5:F1}, g-only {t7 - t6:F1}, b-only {t8 - t7:F1}");
        }
    }
}
