using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.PaintSeg;

/// <summary>k-means settings; defaults as the PaintSeg authors' code (euclidean, up to 200 iterations, tolerance 1e-4).</summary>
/// <param name="MaxIterations">Lloyd iterations at most.</param>
/// <param name="Tolerance">Stop when the centres move less than this (sum of squared shifts).</param>
/// <param name="Seed">Seed of the initialisation.</param>
/// <param name="PlusPlus">k-means++ seeding (else k distinct random points, as the authors' code).</param>
public sealed record KMeansOptions(int MaxIterations = 200, double Tolerance = 1e-4, long Seed = 0, bool PlusPlus = true);

/// <summary>A clustering: a label per point and the centres, sorted by the centres' first coordinate (ascending).</summary>
/// <param name="Labels">[N] int64 in [0, K).</param>
/// <param name="Centres">[K, D].</param>
/// <param name="Iterations">Lloyd iterations run.</param>
public sealed record KMeansResult(Tensor Labels, Tensor Centres, int Iterations);

/// <summary>
/// k-means over potentials (PaintSeg Eq. 3 picks the cluster with the largest centre). Never returns an empty cluster:
/// an emptied cluster is re-seeded at the point farthest from its centre, and asking for more clusters than there are
/// distinct points is an error.
/// </summary>
public static class KMeans
{
    /// <summary>Clusters <paramref name="points"/> [N, D] (or [N]) into <paramref name="k"/> clusters.</summary>
    public static KMeansResult Fit(Tensor points, int k, KMeansOptions? options = null)
    {
        options ??= new KMeansOptions();
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k: expected at least one cluster");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = (points.dim() == 1 ? points.unsqueeze(1) : points).to_type(ScalarType.Float64).cpu();
        Check.Rank(x, nameof(points), 2, "[N, D] or [N]");
        Check.Finite(x, nameof(points));
        long n = x.shape[0];
        long distinct = x.unique(dim: 0).output.shape[0];
        if (distinct < k)
            throw new ArgumentException($"points: {distinct} distinct value(s) cannot form {k} non-empty clusters", nameof(points));

        var gen = new Generator(unchecked((ulong)options.Seed));
        var centres = Initialise(x, k, options, gen);
        Tensor labels = zeros(n, dtype: ScalarType.Int64);
        int it = 0;
        for (; it < options.MaxIterations; it++)
        {
            var d = cdist(x, centres);                 // [N, K]
            labels = d.argmin(1);
            var counts = bincount(labels, minlength: k);
            // re-seed empty clusters at the farthest points from their current centres
            var empty = (counts == 0).nonzero().squeeze(1);
            if (empty.shape[0] > 0)
            {
                var far = d.gather(1, labels.unsqueeze(1)).squeeze(1);
                var order = far.argsort(descending: true);
                for (int e = 0; e < empty.shape[0]; e++)
                {
                    long p = order[e].item<long>();
                    labels[p] = empty[e];
                }
                counts = bincount(labels, minlength: k);
            }
            var sums = zeros(k, x.shape[1], dtype: ScalarType.Float64).index_add(0, labels, x, 1.0);
            var next = sums / counts.unsqueeze(1).to_type(ScalarType.Float64);
            double shift = (next - centres).pow(2).sum().item<double>();
            centres = next;
            if (shift < options.Tolerance) { it++; break; }
        }
        labels = cdist(x, centres).argmin(1);
        // relabel so that centres are sorted by their first coordinate
        var orderC = centres[TensorIndex.Colon, 0].argsort();
        var rank = empty_like(orderC);
        rank.index_copy_(0, orderC, arange(k, dtype: ScalarType.Int64));
        labels = rank.index_select(0, labels);
        centres = centres.index_select(0, orderC);
        var final = bincount(labels, minlength: k);
        if ((final == 0).any().item<bool>())
            throw new InvalidOperationException("k-means produced an empty cluster after re-seeding; this is a bug");
        return new KMeansResult(labels.MoveToOuterDisposeScope(), centres.to_type(ScalarType.Float32).MoveToOuterDisposeScope(), it);
    }

    static Tensor Initialise(Tensor x, int k, KMeansOptions o, Generator gen)
    {
        long n = x.shape[0];
        if (!o.PlusPlus)
        {
            // k distinct points, at random
            var u = x.unique(dim: 0).output;
            var perm = randperm(u.shape[0], generator: gen)[..k];
            return u.index_select(0, perm);
        }
        var first = randint(0, n, new long[] { 1 }, generator: gen);
        var centres = x.index_select(0, first);
        while (centres.shape[0] < k)
        {
            var d2 = cdist(x, centres).min(1).values.pow(2);
            var total = d2.sum().item<double>();
            Tensor pick = total <= 0
                ? randint(0, n, new long[] { 1 }, generator: gen)
                : multinomial(d2 / total, 1, generator: gen);
            centres = cat(new[] { centres, x.index_select(0, pick) }, 0);
        }
        return centres;
    }
}
