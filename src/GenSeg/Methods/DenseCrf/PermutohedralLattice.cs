using System.Runtime.CompilerServices;
using GenSeg.Common;

namespace GenSeg.Methods.DenseCrf;

/// <summary>
/// High-dimensional Gaussian filtering on the permutohedral lattice (Adams, Baek and Davis 2010), as Krähenbühl's
/// DenseCRF code does it: each point is embedded in the lattice, its value is splatted onto the d+1 vertices of its
/// enclosing simplex with barycentric weights, the lattice is blurred with [1/2, 1, 1/2] along each of the d+1 lattice
/// directions, and values are sliced back with the same weights, scaled by alpha = 1 / (1 + 2^-d).
/// The result approximates sum_j exp(-|f_i - f_j|^2 / 2) v_j up to a constant factor (features are pre-scaled by the
/// caller, e.g. position / sxy). Build the lattice once for a set of features, then filter any number of value vectors;
/// the lattice does not change after construction, so <see cref="Filter"/> may be called from several threads.
/// </summary>
public sealed class PermutohedralLattice
{
    /// <summary>Number of points N.</summary>
    public int Count { get; }

    /// <summary>Feature dimension d (1 to 8).</summary>
    public int Dimensions { get; }

    /// <summary>Number of lattice vertices M the points touch.</summary>
    public int VertexCount { get; }

    /// <summary>Vertex of each point's simplex corner, [N, d+1].</summary>
    internal int[] Offsets { get; }

    /// <summary>Barycentric weight of each point's simplex corner, [N, d+1].</summary>
    internal float[] Weights { get; }

    /// <summary>Blur neighbours [d+1 directions, M vertices, 2]; a missing neighbour is M (a row kept at zero).</summary>
    internal int[] Neighbors { get; }

    /// <summary>The slice's scaling constant 1 / (1 + 2^-d) of Krähenbühl's code.</summary>
    internal float Alpha { get; }

    /// <summary>Builds the lattice for <paramref name="count"/> points with <paramref name="dimensions"/> features each.</summary>
    /// <param name="features">Point-major features [N, d], already divided by their standard deviations.</param>
    /// <param name="count">N.</param>
    /// <param name="dimensions">d, from 1 to 8.</param>
    public PermutohedralLattice(ReadOnlySpan<float> features, int count, int dimensions)
    {
        if (dimensions < 1 || dimensions > LatticeHashTable.MaxCoordinates)
            throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions,
                $"permutohedral lattice: feature dimension must be 1..{LatticeHashTable.MaxCoordinates}");
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "permutohedral lattice: need at least one point");
        if ((long)count * (dimensions + 1) > int.MaxValue / 2)
            throw new ArgumentOutOfRangeException(nameof(count), count, "permutohedral lattice: too many points");
        if (features.Length != (long)count * dimensions)
            throw new ArgumentException($"features: expected {count} x {dimensions} = {(long)count * dimensions} values, got {features.Length}", nameof(features));

        int d = dimensions, d1 = d + 1;
        Count = count;
        Dimensions = d;
        Alpha = 1f / (1f + MathF.Pow(2f, -d));
        Offsets = new int[count * d1];
        Weights = new float[count * d1];

        // Embed each range of points with its own hash table, in parallel; then merge the tables into the first one
        // (its indices stay, the others' are remapped). Vertex order does not change any sum the filter computes.
        int parts = count >= 16384 ? ParallelRanges.Partitions : 1;
        var tables = new LatticeHashTable[parts];
        var points = features.ToArray();
        ParallelRanges.Run(parts, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (p) =>
        {
            int start = ParallelRanges.Start(count, parts, p), end = ParallelRanges.Start(count, parts, p + 1);
            tables[p] = new LatticeHashTable(Math.Max(1024, (end - start) / 4));
            Embed(points, d, start, end, tables[p], Offsets, Weights);
        });
        var table = tables[0];
        for (int p = 1; p < parts; p++)
        {
            var local = tables[p];
            var remap = new int[local.Count];
            for (int e = 0; e < remap.Length; e++)
            {
                var (a, b) = local.KeyAt(e);
                remap[e] = table.FindOrAdd(a, b);
            }
            int start = ParallelRanges.Start(count, parts, p) * d1, end = ParallelRanges.Start(count, parts, p + 1) * d1;
            for (int i = start; i < end; i++) Offsets[i] = remap[Offsets[i]];
        }

        int m = table.Count;
        VertexCount = m;
        Neighbors = new int[d1 * m * 2];
        var neighbors = Neighbors;
        // Neighbours along direction j: key - 1 on every coordinate but j, key + d on j (and the opposite).
        ParallelRanges.For(m, 2048, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            Span<int> k0 = stackalloc int[d];
            Span<int> n1 = stackalloc int[d];
            Span<int> n2 = stackalloc int[d];
            for (int i = start; i < end; i++)
            {
                table.Unpack(i, k0);
                for (int j = 0; j <= d; j++)
                {
                    for (int c = 0; c < d; c++) { n1[c] = k0[c] - 1; n2[c] = k0[c] + 1; }
                    if (j < d) { n1[j] = k0[j] + d; n2[j] = k0[j] - d; }
                    var p1 = LatticeHashTable.Pack(n1);
                    var p2 = LatticeHashTable.Pack(n2);
                    int e1 = table.Find(p1.A, p1.B), e2 = table.Find(p2.A, p2.B);
                    neighbors[(j * m + i) * 2] = e1 < 0 ? m : e1;
                    neighbors[(j * m + i) * 2 + 1] = e2 < 0 ? m : e2;
                }
            }
        });
    }

    /// <summary>
    /// Embeds points [start, end): finds each point's enclosing simplex, its barycentric weights and the vertices'
    /// indices in <paramref name="table"/> (Krähenbühl's Permutohedral::init, SSE variant: rounding to nearest even).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Embed(float[] features, int d, int start, int end, LatticeHashTable table, int[] offsets, float[] weights)
    {
        int d1 = d + 1;
        // Expected standard deviation of the filter (p. 6 in Adams et al. 2010) and the diagonal of E (p. 5).
        float invStdDev = (float)(Math.Sqrt(2.0 / 3.0) * d1);
        Span<float> scale = stackalloc float[d];
        for (int i = 0; i < d; i++) scale[i] = (float)(1.0 / Math.Sqrt((double)((i + 2) * (i + 1))) * invStdDev);

        Span<float> elevated = stackalloc float[d1];
        Span<int> rem0 = stackalloc int[d1];
        Span<float> rest = stackalloc float[d1];
        Span<int> rank = stackalloc int[d1];
        Span<float> bary = stackalloc float[d + 2];
        // The previous point's vertex keys per corner: neighbouring points often share their simplex.
        Span<ulong> lastA = stackalloc ulong[d1];
        Span<ulong> lastB = stackalloc ulong[d1];
        Span<int> lastIndex = stackalloc int[d1];
        lastIndex.Fill(-1);

        float invD1 = 1f / d1;
        float maxQuotient = 32000f / d1;
        int low = Math.Min(d, 4);
        for (int k = start; k < end; k++)
        {
            // Elevate the feature (y = E p, p. 5 in Adams et al. 2010).
            int fo = k * d;
            float sm = 0f;
            for (int j = d; j > 0; j--)
            {
                float fj = features[fo + j - 1];
                if (!float.IsFinite(fj)) ThrowNonFinite(k, j - 1);
                float cf = fj * scale[j - 1];
                elevated[j] = sm - j * cf;
                sm += cf;
            }
            elevated[0] = sm;

            // Closest remainder-0 point by rounding (to nearest even, as the SSE code does).
            int sum = 0;
            for (int i = 0; i <= d; i++)
            {
                float v = MathF.Round(invD1 * elevated[i]);
                if (MathF.Abs(v) > maxQuotient) ThrowTooFar(k, invStdDev);
                int q = (int)v;
                rem0[i] = q * d1;
                rest[i] = elevated[i] - rem0[i];
                sum += q;
            }

            // Rank of each coordinate's remainder in sorted order: the simplex the point lies in.
            for (int i = 0; i <= d; i++) rank[i] = 0;
            for (int i = 0; i < d; i++)
            {
                float di = rest[i];
                for (int j = i + 1; j <= d; j++)
                {
                    int c = di < rest[j] ? 1 : 0;
                    rank[i] += c;
                    rank[j] += 1 - c;
                }
            }

            // Bring the point back onto the plane where the coordinates sum to zero.
            for (int i = 0; i <= d; i++)
            {
                int r = rank[i] + sum;
                int shift = (r < 0 ? d1 : 0) - (r > d ? d1 : 0);
                rank[i] = r + shift;
                rem0[i] += shift;
            }

            // Barycentric coordinates (p. 10 in Adams et al. 2010).
            for (int i = 0; i <= d + 1; i++) bary[i] = 0f;
            for (int i = 0; i <= d; i++)
            {
                float v = (elevated[i] - rem0[i]) * invD1;
                bary[d - rank[i]] += v;
                bary[d - rank[i] + 1] -= v;
            }
            bary[0] += 1f + bary[d + 1];

            // The simplex's vertices: key_i = rem0_i + canonical[r, rank_i], where the canonical simplex has
            // canonical[r, rank] = r if rank <= d - r, else r - (d + 1).
            for (int r = 0; r <= d; r++)
            {
                ulong a = 0, b = 0;
                for (int i = 0; i < low; i++)
                    a |= (ulong)(ushort)(rem0[i] + r - (rank[i] > d - r ? d1 : 0)) << (16 * i);
                for (int i = 4; i < d; i++)
                    b |= (ulong)(ushort)(rem0[i] + r - (rank[i] > d - r ? d1 : 0)) << (16 * (i - 4));
                int index;
                if (lastIndex[r] >= 0 && lastA[r] == a && lastB[r] == b) index = lastIndex[r];
                else
                {
                    index = table.FindOrAdd(a, b);
                    lastA[r] = a; lastB[r] = b; lastIndex[r] = index;
                }
                offsets[k * d1 + r] = index;
                weights[k * d1 + r] = bary[r];
            }
        }
    }

    static void ThrowNonFinite(int point, int dimension) =>
        throw new ArgumentException($"features: point {point} has a non-finite value in dimension {dimension}", "features");

    static void ThrowTooFar(int point, float invStdDev) =>
        throw new ArgumentException(
            $"features: point {point} lies too far from the origin for the lattice's 16-bit coordinates (|feature| up to about {32000f / invStdDev:0} allowed); use larger standard deviations",
            "features");

    /// <summary>
    /// Filters value vectors: out_i = alpha * sum_corners w * blur(splat(values))[corner], the lattice's approximation of
    /// sum_j k(f_i, f_j) values_j. All <paramref name="valueSize"/> channels are filtered together.
    /// </summary>
    /// <param name="values">Point-major values [N, valueSize].</param>
    /// <param name="valueSize">Channels per point.</param>
    /// <returns>Filtered values [N, valueSize].</returns>
    public float[] Filter(ReadOnlySpan<float> values, int valueSize)
    {
        if (valueSize < 1) throw new ArgumentOutOfRangeException(nameof(valueSize), valueSize, "valueSize must be >= 1");
        if (values.Length != (long)Count * valueSize)
            throw new ArgumentException($"values: expected {Count} x {valueSize} = {(long)Count * valueSize} values, got {values.Length}", nameof(values));
        int s = valueSize, d1 = Dimensions + 1;
        long size = ((long)VertexCount + 1) * s;
        if (size > Array.MaxLength) throw new ArgumentException($"values: {VertexCount} lattice vertices x {s} values is too large", nameof(values));
        // Splat: each range of points into its own buffer, in parallel, then the buffers are summed.
        int parts = Count >= 16384 ? ParallelRanges.Partitions : 1;
        var input = values.ToArray();
        var splat = new float[parts][];
        ParallelRanges.Run(parts, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (p) =>
        {
            var dst = splat[p] = new float[size];
            int end = ParallelRanges.Start(Count, parts, p + 1);
            for (int i = ParallelRanges.Start(Count, parts, p); i < end; i++)
                for (int j = 0; j < d1; j++)
                    RowMath.Axpy(ref dst[Offsets[i * d1 + j] * s], ref input[i * s], Weights[i * d1 + j], s);
        });
        var a = splat[0];
        for (int p = 1; p < parts; p++) RowMath.AddAndClear(a, splat[p]);
        var b = parts > 1 ? splat[1] : new float[size];
        var blurred = Blur(a, b, s);
        var output = new float[values.Length];
        float alpha = Alpha;
        ParallelRanges.For(Count, 4096, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (int i = start; i < end; i++)
                for (int j = 0; j < d1; j++)
                    RowMath.Axpy(ref output[i * s], ref blurred[Offsets[i * d1 + j] * s], Weights[i * d1 + j] * alpha, s);
        });
        return output;
    }

    /// <summary>
    /// Blurs splatted rows [M+1, stride] along each of the d+1 directions in turn, using <paramref name="scratch"/>
    /// (same size) as the other buffer. Returns whichever of the two holds the result.
    /// </summary>
    internal float[] Blur(float[] values, float[] scratch, int stride)
    {
        int m = VertexCount;
        var neighbors = Neighbors;
        for (int j = 0; j <= Dimensions; j++)
        {
            var src = values;
            var dst = scratch;
            int dir = j;
            ParallelRanges.For(m, 65536 / Math.Max(1, stride), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (int i = start; i < end; i++)
                {
                    int n1 = neighbors[(dir * m + i) * 2], n2 = neighbors[(dir * m + i) * 2 + 1];
                    RowMath.Blur(ref dst[i * stride], ref src[i * stride], ref src[n1 * stride], ref src[n2 * stride], stride);
                }
            });
            (values, scratch) = (scratch, values);
        }
        return values;
    }
}
