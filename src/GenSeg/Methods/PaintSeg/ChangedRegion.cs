using GenSeg.Common;
using GenSeg.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.PaintSeg;

/// <summary>
/// One step's clustering of the potential (PaintSeg Eq. 3), over the pixels of the box in all N paints together.
/// </summary>
/// <param name="Labels">[N, H, W] int64: the cluster of each pixel in each paint (0 = smallest centre), -1 outside the box.</param>
/// <param name="Centres">[K] cluster centres, ascending.</param>
/// <param name="RequestedClusters">The K asked for.</param>
/// <param name="Changed">[N, H, W] float32 0/1: the changed region (the largest-centre cluster) of each paint.</param>
/// <param name="Object">[N, H, W] float32 0/1: what each paint calls object inside the box: the changed region in an
/// I-step; in an O-step the pixels outside it (or the smallest cluster, per <see cref="OutpaintObjectRule"/>).</param>
/// <param name="Box">The clustered region.</param>
public sealed record ChangeClusters(Tensor Labels, Tensor Centres, int RequestedClusters, Tensor Changed, Tensor Object, Box Box) : IDisposable
{
    /// <summary>The K used: the requested K, or fewer when the potential has fewer distinct values (1 = a constant
    /// potential: no evidence, nothing is changed and nothing is object).</summary>
    public int Clusters => (int)Centres.shape[0];

    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        Labels.Dispose();
        Centres.Dispose();
        Changed.Dispose();
        Object.Dispose();
    }
}

/// <summary>The changed region of a step: k-means over the potential, the cluster with the largest centre (Eq. 3).</summary>
public static class ChangedRegion
{
    /// <summary>
    /// Clusters the values of <paramref name="potential"/> [N, H, W] inside <paramref name="box"/> (all paints together)
    /// into <paramref name="clusters"/> groups. When the values have fewer distinct levels than K, K drops to that number
    /// (reported by <see cref="ChangeClusters.Clusters"/>); k-means itself never leaves a cluster empty.
    /// </summary>
    public static ChangeClusters Find(Tensor potential, Box box, int clusters, StepKind kind,
        OutpaintObjectRule rule = OutpaintObjectRule.NotChanged, KMeansOptions? kmeans = null)
    {
        Check.Rank(potential, nameof(potential), 3, "[N, H, W]");
        Check.Finite(potential, nameof(potential));
        if (clusters < 2) throw new ArgumentOutOfRangeException(nameof(clusters), clusters, "clusters: expected K >= 2");
        long n = potential.shape[0], h = potential.shape[1], w = potential.shape[2];
        if (box.IsEmpty || box.X0 < 0 || box.Y0 < 0 || box.X1 > w || box.Y1 > h)
            throw new ArgumentException($"box {box}: expected a non-empty box inside the {w}x{h} potential", nameof(box));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ys = TensorIndex.Slice(box.Y0, box.Y1);
        var xs = TensorIndex.Slice(box.X0, box.X1);
        var values = potential[.., ys, xs].reshape(-1).to_type(ScalarType.Float64).cpu();
        long distinct = values.unique().output.shape[0];
        int k = (int)Math.Min(clusters, distinct);

        using var outside = (-1L).ToScalar();
        var labels = full(new long[] { n, h, w }, outside, dtype: ScalarType.Int64);
        var changed = zeros(n, h, w);
        var obj = zeros(n, h, w);
        Tensor centres;
        if (k < 2)
        {
            // a constant potential: one cluster, no changed region, no evidence of object
            labels[.., ys, xs] = zeros(n, box.Height, box.Width, dtype: ScalarType.Int64);
            centres = values[..1].to_type(ScalarType.Float32);
        }
        else
        {
            var fit = KMeans.Fit(values, k, kmeans);
            centres = fit.Centres[.., 0].contiguous();
            var inBox = fit.Labels.view(n, box.Height, box.Width);
            labels[.., ys, xs] = inBox;
            var changedInBox = inBox.eq(tensor(k - 1L));
            var objectInBox = kind == StepKind.Inpaint ? changedInBox
                : rule == OutpaintObjectRule.SmallestCluster ? inBox.eq(tensor(0L)) : changedInBox.logical_not();
            changed[.., ys, xs] = changedInBox.to_type(ScalarType.Float32);
            obj[.., ys, xs] = objectInBox.to_type(ScalarType.Float32);
        }
        var device = potential.device;
        return new ChangeClusters(labels.to(device).MoveToOuterDisposeScope(), centres.to(device).MoveToOuterDisposeScope(), clusters,
            changed.to(device).MoveToOuterDisposeScope(), obj.to(device).MoveToOuterDisposeScope(), box);
    }
}
