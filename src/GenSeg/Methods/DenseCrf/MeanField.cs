using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using GenSeg.Common;

namespace GenSeg.Methods.DenseCrf;

/// <summary>
/// Mean-field inference of a dense CRF whose pairwise kernels are filtered on permutohedral lattices, laid out for
/// speed: values are pixel-major rows of <c>stride</c> floats (labels padded to a multiple of 8, padding lanes held at
/// -infinity in the unary so their probability is 0), and one pass over the pixels slices the messages, adds the unary,
/// normalises, and splats the new marginals for the next iteration (each worker into its own buffer, summed afterwards).
/// </summary>
internal static class MeanField
{
    /// <summary>Row length for <paramref name="labels"/> labels: a multiple of 8 (one 256-bit vector).</summary>
    public static int Stride(int labels) => (labels + 7) & ~7;

    /// <summary>One pairwise term: its lattice, Potts weight and symmetric normalisation.</summary>
    internal sealed class Kernel
    {
        public Kernel(PermutohedralLattice lattice, float weight)
        {
            Lattice = lattice;
            Weight = weight;
            // NORMALIZE_SYMMETRIC: n_i = 1 / sqrt(K 1 + 1e-20); message_i = w n_i sum_j k_ij n_j Q_j.
            int n = lattice.Count;
            var ones = new float[n];
            Array.Fill(ones, 1f);
            var norm = lattice.Filter(ones, 1);
            SplatScale = new float[n];
            SliceScale = new float[n];
            for (int i = 0; i < n; i++)
            {
                float ni = (float)(1.0 / Math.Sqrt(norm[i] + 1e-20));
                SplatScale[i] = ni;
                SliceScale[i] = weight * lattice.Alpha * ni;
            }
        }

        public PermutohedralLattice Lattice { get; }
        public float Weight { get; }
        public float[] SplatScale { get; }
        public float[] SliceScale { get; }
    }

    sealed class KernelState(Kernel kernel, float[][] splat, float[] scratch)
    {
        public Kernel Kernel { get; } = kernel;
        public int Corners { get; } = kernel.Lattice.Dimensions + 1;
        public int[] Offsets { get; } = kernel.Lattice.Offsets;
        public float[] Weights { get; } = kernel.Lattice.Weights;
        public float[][] Splat { get; } = splat;     // one buffer per worker, [M+1, stride]
        public float[] Scratch { get; set; } = scratch;
        public float[] Blurred { get; set; } = [];

        /// <summary>The row of pixel i's corner j in <paramref name="buffer"/>, and that corner's weight times <paramref name="scale"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ref float Corner(float[] buffer, int i, int j, int stride, float scale, out Vector256<float> weight)
        {
            int idx = i * Corners + j;
            weight = Vector256.Create(scale * Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Weights), idx));
            int vertex = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Offsets), idx);
            return ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(buffer), (nint)vertex * stride);
        }
    }

    sealed class Pass
    {
        public required float[] NegUnary { get; init; }
        public required int Stride { get; init; }
        public required int Labels { get; init; }
        public required KernelState[] States { get; init; }
        public required float[] Q { get; init; }
        public bool Slice { get; set; }
        public bool Store { get; set; }
    }

    /// <summary>
    /// Runs <paramref name="iterations"/> mean-field updates Q = softmax(-U - sum_k pairwise_k(Q)) starting from
    /// Q = softmax(-U) (Krähenbühl's DenseCRF::inference).
    /// </summary>
    /// <param name="negUnary">-U as pixel-major rows [N, stride] (see <see cref="Stride"/>); lanes at and beyond <paramref name="labels"/> are -infinity.</param>
    /// <param name="labels">L.</param>
    /// <param name="kernels">The pairwise terms (Potts with their weights).</param>
    /// <param name="iterations">Number of updates.</param>
    /// <param name="workers">Pixel ranges processed in parallel; by default one per core for large images.</param>
    /// <returns>Q label-major [L, N].</returns>
    public static float[] Run(float[] negUnary, int labels, IReadOnlyList<Kernel> kernels, int iterations, int? workers = null)
    {
        int stride = Stride(labels);
        int n = negUnary.Length / stride;
        int parts = workers ?? (n >= 8192 ? ParallelRanges.Partitions : 1);
        var states = new KernelState[kernels.Count];
        for (int k = 0; k < kernels.Count; k++)
        {
            long size = ((long)kernels[k].Lattice.VertexCount + 1) * stride;
            if (size > Array.MaxLength)
                throw new InvalidOperationException($"dense CRF: the lattice has {kernels[k].Lattice.VertexCount} vertices, too many for {stride} values each");
            var splat = new float[parts][];
            for (int p = 0; p < parts; p++) splat[p] = iterations > 0 ? new float[size] : [];
            states[k] = new KernelState(kernels[k], splat, iterations > 0 ? new float[size] : []);
        }
        var pass = new Pass
        {
            NegUnary = negUnary, Stride = stride, Labels = labels, States = states, Q = new float[(long)labels * n],
            Slice = false, Store = iterations == 0,
        };

        // Q0 = softmax(-U), splatted for the first update; then each update slices, normalises and splats again.
        RunPass(pass, n, parts);
        for (int it = 0; it < iterations; it++)
        {
            foreach (var s in states) Prepare(s, stride);
            pass.Slice = true;
            pass.Store = it == iterations - 1;
            RunPass(pass, n, parts);
        }
        return pass.Q;
    }

    /// <summary>Sums the workers' splats, blurs, and readies a cleared buffer for the next splat.</summary>
    static void Prepare(KernelState s, int stride)
    {
        var splat = s.Splat;
        var total = splat[0];
        if (splat.Length > 1)
        {
            ParallelRanges.For(total.Length, 1 << 15, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (int p = 1; p < splat.Length; p++)
                    RowMath.AddAndClear(total.AsSpan(start, end - start), splat[p].AsSpan(start, end - start));
            });
        }
        var blurred = s.Kernel.Lattice.Blur(total, s.Scratch, stride);
        var other = ReferenceEquals(blurred, total) ? s.Scratch : total;
        Array.Clear(other);
        s.Blurred = blurred;
        splat[0] = other;
        s.Scratch = blurred;
    }

    static void RunPass(Pass pass, int n, int parts)
    {
        ParallelRanges.Run(parts, w => Pixels(pass, w, ParallelRanges.Start(n, parts, w), ParallelRanges.Start(n, parts, w + 1)));
    }

    /// <summary>One pass over pixels [start, end): optional slice, softmax, then store or splat.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Pixels(Pass pass, int worker, int start, int end)
    {
        int stride = pass.Stride;
        if (stride <= 32) PixelsInRegisters(pass, worker, start, end);
        else PixelsInMemory(pass, worker, start, end);
    }

    /// <summary>The pass for up to 32 labels: a pixel's row lives in four 256-bit registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PixelsInRegisters(Pass pass, int worker, int start, int end)
    {
        int stride = pass.Stride, chunks = stride / 8;
        var states = pass.States;
        ref float negU = ref MemoryMarshal.GetArrayDataReference(pass.NegUnary);
        var minusInf = Vector256.Create(float.NegativeInfinity);
        Span<float> q = stackalloc float[32];
        for (int i = start; i < end; i++)
        {
            ref float u = ref Unsafe.Add(ref negU, (nint)i * stride);
            var a0 = Vector256.LoadUnsafe(ref u);
            var a1 = chunks > 1 ? Vector256.LoadUnsafe(ref u, 8) : minusInf;
            var a2 = chunks > 2 ? Vector256.LoadUnsafe(ref u, 16) : minusInf;
            var a3 = chunks > 3 ? Vector256.LoadUnsafe(ref u, 24) : minusInf;

            // Messages: a += w alpha n_i sum_corners b * blurred[corner] (slice of each kernel).
            if (pass.Slice)
            {
                foreach (var s in states)
                {
                    float scale = s.Kernel.SliceScale[i];
                    for (int j = 0; j < s.Corners; j++)
                    {
                        ref float row = ref s.Corner(s.Blurred, i, j, stride, scale, out var w);
                        a0 = Vector256.MultiplyAddEstimate(w, Vector256.LoadUnsafe(ref row), a0);
                        if (chunks > 1) a1 = Vector256.MultiplyAddEstimate(w, Vector256.LoadUnsafe(ref row, 8), a1);
                        if (chunks > 2) a2 = Vector256.MultiplyAddEstimate(w, Vector256.LoadUnsafe(ref row, 16), a2);
                        if (chunks > 3) a3 = Vector256.MultiplyAddEstimate(w, Vector256.LoadUnsafe(ref row, 24), a3);
                    }
                }
            }

            // Q_i = softmax(a) (expAndNormalize); padding lanes are -inf and become 0.
            var max = Vector256.Create(RowMath.HorizontalMax(Vector256.Max(Vector256.Max(a0, a1), Vector256.Max(a2, a3))));
            a0 = RowMath.ExpNonPositive(a0 - max);
            a1 = chunks > 1 ? RowMath.ExpNonPositive(a1 - max) : Vector256<float>.Zero;
            a2 = chunks > 2 ? RowMath.ExpNonPositive(a2 - max) : Vector256<float>.Zero;
            a3 = chunks > 3 ? RowMath.ExpNonPositive(a3 - max) : Vector256<float>.Zero;
            var inv = Vector256.Create(1f / Vector256.Sum(a0 + a1 + (a2 + a3)));
            a0 *= inv; a1 *= inv; a2 *= inv; a3 *= inv;

            if (pass.Store)
            {
                a0.CopyTo(q); a1.CopyTo(q[8..]); a2.CopyTo(q[16..]); a3.CopyTo(q[24..]);
                Store(pass, q, i);
                continue;
            }

            // Splat n_i Q_i with the barycentric weights into this worker's buffer of each kernel.
            foreach (var s in states)
            {
                float scale = s.Kernel.SplatScale[i];
                var dst = s.Splat[worker];
                for (int j = 0; j < s.Corners; j++)
                {
                    ref float row = ref s.Corner(dst, i, j, stride, scale, out var w);
                    Vector256.MultiplyAddEstimate(w, a0, Vector256.LoadUnsafe(ref row)).StoreUnsafe(ref row);
                    if (chunks > 1) Vector256.MultiplyAddEstimate(w, a1, Vector256.LoadUnsafe(ref row, 8)).StoreUnsafe(ref row, 8);
                    if (chunks > 2) Vector256.MultiplyAddEstimate(w, a2, Vector256.LoadUnsafe(ref row, 16)).StoreUnsafe(ref row, 16);
                    if (chunks > 3) Vector256.MultiplyAddEstimate(w, a3, Vector256.LoadUnsafe(ref row, 24)).StoreUnsafe(ref row, 24);
                }
            }
        }
    }

    /// <summary>The same pass for more than 32 labels, with the row in memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PixelsInMemory(Pass pass, int worker, int start, int end)
    {
        int stride = pass.Stride;
        var row = new float[stride];
        ref float acc = ref row[0];
        foreach (var i in Enumerable.Range(start, end - start))
        {
            pass.NegUnary.AsSpan(i * stride, stride).CopyTo(row);
            if (pass.Slice)
            {
                foreach (var s in pass.States)
                {
                    int c = s.Corners;
                    float scale = s.Kernel.SliceScale[i];
                    for (int j = 0; j < c; j++)
                        RowMath.Axpy(ref acc, ref s.Blurred[s.Offsets[i * c + j] * stride], scale * s.Weights[i * c + j], stride);
                }
            }
            RowMath.Softmax(row);
            if (pass.Store) { Store(pass, row, i); continue; }
            foreach (var s in pass.States)
            {
                int c = s.Corners;
                float scale = s.Kernel.SplatScale[i];
                var dst = s.Splat[worker];
                for (int j = 0; j < c; j++)
                    RowMath.Axpy(ref dst[s.Offsets[i * c + j] * stride], ref acc, scale * s.Weights[i * c + j], stride);
            }
        }
    }

    static void Store(Pass pass, ReadOnlySpan<float> row, int i)
    {
        int n = pass.Q.Length / pass.Labels;
        for (int l = 0; l < pass.Labels; l++) pass.Q[(long)l * n + i] = row[l];
    }
}
