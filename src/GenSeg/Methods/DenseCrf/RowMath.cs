using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GenSeg.Methods.DenseCrf;

/// <summary>
/// Vectorised operations on short rows of floats (one lattice vertex's or one pixel's value vector). Rows are addressed
/// by reference to their first element so the hot loops carry no bounds checks; callers guarantee the lengths.
/// </summary>
internal static class RowMath
{
    /// <summary>dst[k] += a * src[k] for k in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Axpy(ref float dst, ref float src, float a, int n)
    {
        int k = 0;
        var a8 = Vector256.Create(a);
        for (; k + 8 <= n; k += 8)
            Vector256.MultiplyAddEstimate(a8, Vector256.LoadUnsafe(ref src, (nuint)k), Vector256.LoadUnsafe(ref dst, (nuint)k))
                .StoreUnsafe(ref dst, (nuint)k);
        for (; k < n; k++) Unsafe.Add(ref dst, k) += a * Unsafe.Add(ref src, k);
    }

    /// <summary>dst[k] += src[k] for k in [0, n), then src[k] = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddAndClear(Span<float> dst, Span<float> src)
    {
        int n = Math.Min(dst.Length, src.Length), k = 0;
        if (n == 0) return;
        ref float d = ref dst[0];
        ref float s = ref src[0];
        for (; k + 8 <= n; k += 8)
        {
            (Vector256.LoadUnsafe(ref d, (nuint)k) + Vector256.LoadUnsafe(ref s, (nuint)k)).StoreUnsafe(ref d, (nuint)k);
            Vector256<float>.Zero.StoreUnsafe(ref s, (nuint)k);
        }
        for (; k < n; k++)
        {
            Unsafe.Add(ref d, k) += Unsafe.Add(ref s, k);
            Unsafe.Add(ref s, k) = 0f;
        }
    }

    /// <summary>One blur step along a lattice direction: dst = center + (left + right) / 2 (Adams et al. 2010).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Blur(ref float dst, ref float center, ref float left, ref float right, int n)
    {
        int k = 0;
        var half8 = Vector256.Create(0.5f);
        for (; k + 8 <= n; k += 8)
            Vector256.MultiplyAddEstimate(half8,
                    Vector256.LoadUnsafe(ref left, (nuint)k) + Vector256.LoadUnsafe(ref right, (nuint)k),
                    Vector256.LoadUnsafe(ref center, (nuint)k))
                .StoreUnsafe(ref dst, (nuint)k);
        for (; k < n; k++)
            Unsafe.Add(ref dst, k) = Unsafe.Add(ref center, k) + 0.5f * (Unsafe.Add(ref left, k) + Unsafe.Add(ref right, k));
    }

    /// <summary>
    /// exp(x) for x &lt;= 0 (Cephes' single-precision polynomial, relative error about 1e-7); 0 below -87.3, so
    /// -infinity (a padding lane) gives exactly 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        var underflow = Vector256.LessThan(x, Vector256.Create(-87.33654f));
        x = Vector256.Max(x, Vector256.Create(-87.33654f));
        var fx = Vector256.Round(x * Vector256.Create(1.44269504088896341f));
        var r = Vector256.MultiplyAddEstimate(fx, Vector256.Create(-0.693359375f), x);
        r = Vector256.MultiplyAddEstimate(fx, Vector256.Create(2.12194440e-4f), r);
        var y = Vector256.Create(1.9875691500E-4f);
        y = Vector256.MultiplyAddEstimate(y, r, Vector256.Create(1.3981999507E-3f));
        y = Vector256.MultiplyAddEstimate(y, r, Vector256.Create(8.3334519073E-3f));
        y = Vector256.MultiplyAddEstimate(y, r, Vector256.Create(4.1665795894E-2f));
        y = Vector256.MultiplyAddEstimate(y, r, Vector256.Create(1.6666665459E-1f));
        y = Vector256.MultiplyAddEstimate(y, r, Vector256.Create(5.0000001201E-1f));
        y = Vector256.MultiplyAddEstimate(y, r * r, r + Vector256<float>.One);
        var pow2 = Vector256.ShiftLeft(Vector256.ConvertToInt32(fx) + Vector256.Create(127), 23).AsSingle();
        return Vector256.AndNot(y * pow2, underflow);
    }

    /// <summary>Largest of the eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HorizontalMax(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }

    /// <summary>
    /// In-place softmax over row[0, n), n a multiple of 8: exp(x - max) / sum. Entries of -infinity become 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(Span<float> row)
    {
        int n = row.Length;
        ref float r = ref row[0];
        var m8 = Vector256.Create(float.NegativeInfinity);
        for (int k = 0; k < n; k += 8) m8 = Vector256.Max(m8, Vector256.LoadUnsafe(ref r, (nuint)k));
        var max8 = Vector256.Create(HorizontalMax(m8));
        var s8 = Vector256<float>.Zero;
        for (int k = 0; k < n; k += 8)
        {
            var e = ExpNonPositive(Vector256.LoadUnsafe(ref r, (nuint)k) - max8);
            e.StoreUnsafe(ref r, (nuint)k);
            s8 += e;
        }
        var inv8 = Vector256.Create(1f / Vector256.Sum(s8));
        for (int k = 0; k < n; k += 8) (Vector256.LoadUnsafe(ref r, (nuint)k) * inv8).StoreUnsafe(ref r, (nuint)k);
    }
}
