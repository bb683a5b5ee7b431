using System.Diagnostics;
using System.Runtime.Intrinsics;
using GenSeg.Methods.Crf;
using Xunit.Abstractions;

namespace GenSeg.Tests.Methods.DenseCrf;

public class MicroExploreTests(ITestOutputHelper output)
{
    [Fact]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void Micro()
    {
        int n = 262144, stride = 24;
        var data = new float[n * stride];
        var rnd = new Random(0);
        for (int i = 0; i < data.Length; i++) data[i] = (float)rnd.NextDouble() * 4;
        for (int rep = 0; rep < 2; rep++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) RowMath.Softmax(data.AsSpan(i * stride, stride));
            var t0 = sw.Elapsed.TotalMilliseconds;
            var v = Vector256.Create(0.3f);
            var acc = Vector256<float>.Zero;
            for (int i = 0; i < n * 3; i++) { acc += Vector256.Exp(v); v += Vector256.Create(1e-7f); }
            var t1 = sw.Elapsed.TotalMilliseconds;
            var dst = new float[34000 * stride + stride];
            var off = new int[n * 9];
            for (int i = 0; i < off.Length; i++) off[i] = (i / 9 / 16 + (i % 9) * 37) % 34000;
            var row = new float[stride];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < 9; j++) RowMath.Axpy(ref dst[off[i * 9 + j] * stride], ref row[0], 0.3f, stride);
            var t2 = sw.Elapsed.TotalMilliseconds;
            output.WriteLine($"softmax pass {t0:F1} ms; 786k vector exps {t1 - t0:F1} ms {acc[0]}; 9-scatter pass {t2 - t1:F1} ms; V256 accel {Vector256.IsHardwareAccelerated}");
        }
    }
}
