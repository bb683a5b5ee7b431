using GenSeg.Common;
using GenSeg.Imaging;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>Per-class IoU and their mean, from a confusion matrix.</summary>
/// <param name="PerClass">IoU of each class in [0, 1]; NaN for a class absent from both truth and prediction.</param>
/// <param name="Mean">Mean over the classes that are not NaN (VOC convention, background included).</param>
/// <param name="ClassesCounted">How many classes entered the mean.</param>
public sealed record MeanIouResult(IReadOnlyList<double> PerClass, double Mean, int ClassesCounted);

/// <summary>Boundary precision, recall and F-score (all in [0, 1]).</summary>
public sealed record BoundaryScore(double Precision, double Recall, double F);

/// <summary>Segmentation metrics. Binary masks follow <see cref="Masks"/> (float &gt; 0.5 is on); label maps are integer tensors.</summary>
public static class Metrics
{
    /// <summary>
    /// Intersection over union of two binary masks of the same shape, in [0, 1]. Two empty masks agree perfectly (1).
    /// </summary>
    public static double Iou(Tensor pred, Tensor truth)
    {
        CheckSameShape(pred, nameof(pred), truth, nameof(truth));
        using var scope = NewDisposeScope();
        var p = Masks.ToBool(pred);
        var t = Masks.ToBool(truth);
        long inter = logical_and(p, t).sum().item<long>();
        long union = logical_or(p, t).sum().item<long>();
        return union == 0 ? 1.0 : (double)inter / union;
    }

    /// <summary>
    /// Confusion matrix [numClasses, numClasses] (int64; rows = truth, columns = prediction) of two label maps of the
    /// same shape. Pixels whose truth is <paramref name="ignore"/> are skipped; any other value outside 0..numClasses-1
    /// is an error naming the input. Matrices of several images add up.
    /// </summary>
    public static Tensor ConfusionMatrix(Tensor pred, Tensor truth, int numClasses, int ignore = MaskIO.Ignore)
    {
        CheckSameShape(pred, nameof(pred), truth, nameof(truth));
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses: expected >= 1");
        if (pred.is_floating_point() || truth.is_floating_point())
            throw new ArgumentException($"pred/truth: expected integer label maps, got {pred.dtype} and {truth.dtype}");
        using var scope = NewDisposeScope();
        var t = truth.to_type(ScalarType.Int64).flatten();
        var p = pred.to_type(ScalarType.Int64).flatten();
        var keep = t.ne(ignore);
        t = t.masked_select(keep);
        p = p.masked_select(keep);
        CheckLabels(t, "truth", numClasses, ignore);
        CheckLabels(p, "pred", numClasses, ignore);
        var counts = bincount(t.mul(numClasses).add_(p), minlength: numClasses * numClasses);
        return counts.reshape(numClasses, numClasses).MoveToOuterDisposeScope();
    }

    /// <summary>IoU per class (TP / (TP + FP + FN)) and their mean over classes present in truth or prediction.</summary>
    public static MeanIouResult MeanIou(Tensor confusion)
    {
        Check.Rank(confusion, nameof(confusion), 2, "[C, C]");
        if (confusion.shape[0] != confusion.shape[1])
            throw new ArgumentException($"confusion: expected a square matrix [C, C], got {Check.Format(confusion.shape)}", nameof(confusion));
        using var scope = NewDisposeScope();
        var c = confusion.to_type(ScalarType.Float64).cpu();
        var tp = c.diag().contiguous().data<double>().ToArray();
        var rows = c.sum(dim: 1).contiguous().data<double>().ToArray();
        var cols = c.sum(dim: 0).contiguous().data<double>().ToArray();
        var iou = new double[tp.Length];
        double sum = 0;
        int n = 0;
        for (int k = 0; k < tp.Length; k++)
        {
            double union = rows[k] + cols[k] - tp[k];
            iou[k] = union > 0 ? tp[k] / union : double.NaN;
            if (union > 0) { sum += iou[k]; n++; }
        }
        return new MeanIouResult(iou, n > 0 ? sum / n : double.NaN, n);
    }

    /// <summary>
    /// Boundary F-score of two binary masks [H, W]: boundary pixels are mask pixels with a 4-neighbour off the mask; a
    /// predicted boundary pixel is correct when a true boundary pixel lies within Euclidean distance
    /// <paramref name="tolerance"/> (and the reverse for recall). Two masks without boundary score 1.
    /// </summary>
    public static BoundaryScore BoundaryFScore(Tensor pred, Tensor truth, double tolerance = 2.0)
    {
        Check.Rank(pred, nameof(pred), 2, "[H, W]");
        CheckSameShape(pred, nameof(pred), truth, nameof(truth));
        Check.InRange(tolerance, nameof(tolerance), 0, 1e6);
        using var scope = NewDisposeScope();
        var bp = Boundary(pred);
        var bt = Boundary(truth);
        long np = bp.sum().item<long>(), nt = bt.sum().item<long>();
        if (np == 0 && nt == 0) return new BoundaryScore(1, 1, 1);
        if (np == 0 || nt == 0) return new BoundaryScore(np == 0 ? 1 : 0, nt == 0 ? 1 : 0, 0);
        var nearTruth = Distance.ToNearest(bt).le(tolerance);
        var nearPred = Distance.ToNearest(bp).le(tolerance);
        double precision = (double)logical_and(bp, nearTruth).sum().item<long>() / np;
        double recall = (double)logical_and(bt, nearPred).sum().item<long>() / nt;
        double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
        return new BoundaryScore(precision, recall, f);
    }

    /// <summary>The boundary pixels of a binary mask [H, W] as a bool tensor: on pixels with a 4-neighbour off.</summary>
    public static Tensor Boundary(Tensor mask)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        using var scope = NewDisposeScope();
        var m = Masks.Binarize(mask);
        var eroded = Morphology.Erode(m, Kernel.Cross(3));
        return m.gt(0.5).logical_and(eroded.lt(0.5)).MoveToOuterDisposeScope();
    }

    static void CheckLabels(Tensor labels, string name, int numClasses, int ignore)
    {
        if (labels.numel() == 0) return;
        long lo = labels.min().item<long>(), hi = labels.max().item<long>();
        if (lo < 0 || hi >= numClasses)
            throw new ArgumentException($"{name}: labels must lie in 0..{numClasses - 1} (or {ignore} = ignore in truth), got {lo}..{hi}", name);
    }

    static void CheckSameShape(Tensor a, string nameA, Tensor b, string nameB)
    {
        ArgumentNullException.ThrowIfNull(a, nameA);
        ArgumentNullException.ThrowIfNull(b, nameB);
        if (!a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"{nameA} {Check.Format(a.shape)} and {nameB} {Check.Format(b.shape)}: expected the same shape");
    }
}
