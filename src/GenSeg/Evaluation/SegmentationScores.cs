using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>The gain in one initial-IoU stratum: the mean per image-class IoU before and after, and their difference.</summary>
public sealed record StratumGain(string Stratum, int Count, double Before, double After, double Gain);

/// <summary>
/// Accumulates label maps of a dataset: one confusion matrix per image (so the dataset mIoU can be bootstrapped over
/// images) and, per image and present class, that class's IoU in the image (for the initial-IoU strata).
/// </summary>
public sealed class SegmentationScores
{
    readonly List<long[]> matrices = new();
    readonly List<double[]> classIous = new();

    /// <summary>An accumulator over <paramref name="numClasses"/> labels (background included).</summary>
    public SegmentationScores(int numClasses)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses: expected >= 1");
        NumClasses = numClasses;
    }

    /// <summary>Number of labels.</summary>
    public int NumClasses { get; }

    /// <summary>Number of images added.</summary>
    public int Count => matrices.Count;

    /// <summary>Adds one image's predicted labels [H, W] against its truth [H, W].</summary>
    public void Add(Tensor predicted, Tensor truth)
    {
        using var scope = NewDisposeScope();
        Add(Metrics.ConfusionMatrix(predicted, truth, NumClasses).cpu().contiguous().data<long>().ToArray());
    }

    /// <summary>Adds one image's confusion matrix (row-major, rows = truth, [C * C] counts), e.g. read back from a results file.</summary>
    public void Add(long[] c)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.Length != NumClasses * NumClasses)
            throw new ArgumentException($"confusion: expected {NumClasses}x{NumClasses} = {NumClasses * NumClasses} counts, got {c.Length}", nameof(c));
        matrices.Add(c);
        classIous.Add(ImageIous(c, NumClasses));
    }

    /// <summary>Each class's IoU in one image from its confusion matrix [n * n]; NaN for a class absent from the truth.</summary>
    public static double[] ImageIous(long[] c, int n)
    {
        ArgumentNullException.ThrowIfNull(c);
        var iou = new double[n];
        for (int k = 0; k < n; k++)
        {
            long tp = c[k * n + k], row = 0, col = 0;
            for (int j = 0; j < n; j++)
            {
                row += c[k * n + j];
                col += c[j * n + k];
            }
            long union = row + col - tp;
            iou[k] = row == 0 ? double.NaN : (double)tp / union; // only classes present in the truth
        }
        return iou;
    }

    /// <summary>Class k's IoU in image i (NaN when the class is absent from the image's truth).</summary>
    public double ImageClassIou(int image, int k) => classIous[image][k];

    /// <summary>The dataset's per-class IoU and mIoU from the summed confusion matrices.</summary>
    public MeanIouResult MeanIou() => MeanIou(Enumerable.Range(0, Count));

    /// <summary>The mIoU of the images <paramref name="images"/> (with repetition, as a bootstrap resample).</summary>
    public MeanIouResult MeanIou(IEnumerable<int> images) => FromCounts(Sum(images), NumClasses);

    long[] Sum(IEnumerable<int> images)
    {
        var total = new long[NumClasses * NumClasses];
        foreach (var i in images)
        {
            var m = matrices[i];
            for (int j = 0; j < total.Length; j++) total[j] += m[j];
        }
        return total;
    }

    static MeanIouResult FromCounts(long[] c, int n)
    {
        var iou = new double[n];
        double sum = 0;
        int counted = 0;
        for (int k = 0; k < n; k++)
        {
            long tp = c[k * n + k], row = 0, col = 0;
            for (int j = 0; j < n; j++)
            {
                row += c[k * n + j];
                col += c[j * n + k];
            }
            long union = row + col - tp;
            iou[k] = union > 0 ? (double)tp / union : double.NaN;
            if (union > 0) { sum += iou[k]; counted++; }
        }
        return new MeanIouResult(iou, counted > 0 ? sum / counted : double.NaN, counted);
    }

    /// <summary>
    /// Paired percentile bootstrap of the dataset mIoU gain mIoU(after) - mIoU(before), resampling images (each image's
    /// confusion matrices before and after stay together). Seeded, so reruns agree.
    /// </summary>
    public static ConfidenceInterval GainCi(SegmentationScores before, SegmentationScores after, int resamples = 2000, ulong seed = 0, double confidence = 0.95)
    {
        if (before.Count != after.Count || before.NumClasses != after.NumClasses)
            throw new ArgumentException($"before ({before.Count} images) and after ({after.Count} images): a paired bootstrap needs the same images");
        if (before.Count == 0) throw new ArgumentException("before: no images", nameof(before));
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "resamples: expected >= 1");
        return ResampleImages(before.Count, resamples, new Pcg32(seed, stream: 0x6A1C), confidence, after.MeanIou().Mean - before.MeanIou().Mean,
            pick => FromCounts(after.Sum(pick), after.NumClasses).Mean - FromCounts(before.Sum(pick), before.NumClasses).Mean);
    }

    /// <summary>
    /// Percentile bootstrap of the dataset mIoU, resampling images (each image's confusion matrix whole); seeded, so
    /// reruns agree. The estimate is the mIoU of all images.
    /// </summary>
    public static ConfidenceInterval MeanIouCi(SegmentationScores scores, int resamples = 2000, ulong seed = 0, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count == 0) throw new ArgumentException("scores: no images", nameof(scores));
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "resamples: expected >= 1");
        return ResampleImages(scores.Count, resamples, new Pcg32(seed, stream: 0x6A1D), confidence, scores.MeanIou().Mean,
            pick => FromCounts(scores.Sum(pick), scores.NumClasses).Mean);
    }

    /// <summary>A percentile bootstrap over <paramref name="n"/> images: <paramref name="statistic"/> of each resample's image indices.</summary>
    static ConfidenceInterval ResampleImages(int n, int resamples, Pcg32 rng, double confidence, double estimate, Func<int[], double> statistic)
    {
        var values = new double[resamples];
        var pick = new int[n];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < n; i++) pick[i] = rng.NextInt(n);
            values[r] = statistic(pick);
        }
        Array.Sort(values);
        double alpha = 1 - confidence;
        return new ConfidenceInterval(estimate, Bootstrap.Quantile(values, alpha / 2), Bootstrap.Quantile(values, 1 - alpha / 2), n, confidence);
    }

    /// <summary>How many images hold class <paramref name="k"/> in their truth.</summary>
    public int ImagesHolding(int k) => classIous.Count(iou => !double.IsNaN(iou[k]));

    /// <summary>
    /// Every (image, class) with the class in the image's truth (background excluded unless asked): its IoU before and
    /// after, as fractions, in image then class order (the items G4Seg's Appendix I stratifies).
    /// </summary>
    public static IReadOnlyList<(double Before, double After)> StrataItems(SegmentationScores before, SegmentationScores after, bool skipBackground = true)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var items = new List<(double Before, double After)>();
        for (int i = 0; i < before.Count; i++)
            for (int k = skipBackground ? 1 : 0; k < before.NumClasses; k++)
            {
                double b = before.ImageClassIou(i, k);
                if (double.IsNaN(b)) continue;
                items.Add((b, after.ImageClassIou(i, k)));
            }
        return items;
    }

    /// <summary>
    /// The gain by initial-IoU stratum (&lt;40, 40-80, 80-100, as G4Seg's Appendix I): every (image, class) with the
    /// class in the image's truth (background excluded) is binned by its IoU before; per stratum the mean IoU before
    /// and after and the mean gain, in IoU points (x100).
    /// </summary>
    public static IReadOnlyList<StratumGain> StrataGains(SegmentationScores before, SegmentationScores after, bool skipBackground = true)
    {
        var items = StrataItems(before, after, skipBackground);
        var groups = Strata.Group(items, it => it.Before);
        return Strata.All.Select(s =>
        {
            var g = groups[s];
            double mb = g.Count == 0 ? double.NaN : 100 * g.Average(x => x.Before);
            double ma = g.Count == 0 ? double.NaN : 100 * g.Average(x => x.After);
            return new StratumGain(Strata.Label(s), g.Count, mb, ma, ma - mb);
        }).ToArray();
    }
}
