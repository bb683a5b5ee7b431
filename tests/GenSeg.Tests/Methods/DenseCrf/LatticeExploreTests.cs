using GenSeg.Methods.Crf;
using Xunit.Abstractions;

namespace GenSeg.Tests.Methods.DenseCrf;

public class LatticeExploreTests(ITestOutputHelper output)
{
    [Fact]
    public void Profile()
    {
        foreach (int d in new[] { 2, 5 })
        {
            // points along a line in the first dimension plus one probe grid: response of a unit value at origin
            int n = 2001;
            var f = new float[n * d];
            var rnd = new Random(1);
            for (int i = 0; i < n; i++)
            {
                f[i * d] = (i - 1000) * 0.005f;  // x in [-5, 5]
                for (int c = 1; c < d; c++) f[i * d + c] = 0.0f;
            }
            var lat = new PermutohedralLattice(f, n, d);
            var v = new float[n]; v[1000] = 1;
            var r = lat.Filter(v, 1);
            // response at distance x, relative to at 0
            double r0 = r[1000];
            var sb = new System.Text.StringBuilder();
            foreach (double x in new[] { 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0 })
            {
                int i = 1000 + (int)Math.Round(x / 0.005);
                double rel = r[i] / r0;
                double sigma = Math.Sqrt(-x * x / (2 * Math.Log(rel)));
                sb.Append($" x={x}: rel={rel:g3} exact={Math.Exp(-x * x / 2):g3} sigma={sigma:g3};");
            }
            output.WriteLine($"d={d} M={lat.VertexCount}" + sb);
        }
    }
}
