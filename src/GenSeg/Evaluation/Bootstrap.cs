using GenSeg.Common;

namespace GenSeg.Evaluation;

/// <summary>A point estimate with a confidence interval.</summary>
/// <param name="Estimate">The statistic on the full sample.</param>
/// <param name="Lower">Lower end of the interval.</param>
/// <param name="Upper">Upper end of the interval.</param>
/// <param name="Count">Number of items.</param>
/// <param name="Confidence">Coverage, e.g. 0.95.</param>
public sealed record ConfidenceInterval(double Estimate, double Lower, double Upper, int Count, double Confidence)
{
    /// <summary>"62.1 [58.3, 65.9]" with values scaled by <paramref name="scale"/> (100 for percentages).</summary>
    public string Format(double scale = 1, int decimals = 1)
    {
        string f(double v) => (v * scale).ToString("F" + decimals, System.Globalization.CultureInfo.InvariantCulture);
        return $"{f(Estimate)} [{f(Lower)}, {f(Upper)}]";
    }
}

/// <summary>Percentile bootstrap confidence intervals over per-item values (seeded, so reruns agree).</summary>
public static class Bootstrap
{
    /// <summary>Default number of resamples.</summary>
    public const int DefaultResamples = 10_000;

    /// <summary>Percentile bootstrap interval of the mean of <paramref name="values"/>.</summary>
    public static ConfidenceInterval MeanCi(IReadOnlyList<double> values, ulong seed = 0, int resamples = DefaultResamples, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(values);
        CheckArguments(values.Count, resamples, confidence, nameof(values));
        foreach (var v in values)
            if (!double.IsFinite(v)) throw new ArgumentException($"values: expected finite numbers, got {v}", nameof(values));
        var rng = new Pcg32(seed, stream: 0xB0075);
        int n = values.Count;
        var means = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += values[rng.NextInt(n)];
            means[r] = sum / n;
        }
        Array.Sort(means);
        double alpha = 1 - confidence;
        return new ConfidenceInterval(values.Average(), Quantile(means, alpha / 2), Quantile(means, 1 - alpha / 2), n, confidence);
    }

    /// <summary>
    /// Paired bootstrap interval of mean(a) - mean(b), resampling items (the pairs a[i], b[i]) together.
    /// </summary>
    public static ConfidenceInterval PairedDifferenceCi(IReadOnlyList<double> a, IReadOnlyList<double> b, ulong seed = 0,
        int resamples = DefaultResamples, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count)
            throw new ArgumentException($"a ({a.Count} items) and b ({b.Count} items): a paired difference needs the same items in both");
        var diff = a.Zip(b, (x, y) => x - y).ToArray();
        return MeanCi(diff, seed, resamples, confidence);
    }

    /// <summary>
    /// Percentile bootstrap interval of a pooled rate sum(numerators) / sum(denominators) over items (e.g. pixels counted
    /// per object), resampling items with their counts together, so pixels of one item are not taken as independent.
    /// Items with a zero denominator take part in the resampling; a resample whose denominators sum to 0 is drawn again.
    /// </summary>
    public static ConfidenceInterval RatioCi(IReadOnlyList<double> numerators, IReadOnlyList<double> denominators, ulong seed = 0,
        int resamples = DefaultResamples, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(numerators);
        ArgumentNullException.ThrowIfNull(denominators);
        if (numerators.Count != denominators.Count)
            throw new ArgumentException($"numerators ({numerators.Count} items) and denominators ({denominators.Count} items): expected one of each per item");
        CheckArguments(numerators.Count, resamples, confidence, nameof(numerators));
        for (int i = 0; i < numerators.Count; i++)
            if (!double.IsFinite(numerators[i]) || !double.IsFinite(denominators[i]) || denominators[i] < 0)
                throw new ArgumentException($"item {i}: numerator {numerators[i]}, denominator {denominators[i]}: expected finite counts, denominators >= 0");
        double total = denominators.Sum();
        if (!(total > 0)) throw new ArgumentException("denominators: their sum is 0, the rate is undefined", nameof(denominators));
        var rng = new Pcg32(seed, stream: 0xB0076);
        int n = numerators.Count;
        var rates = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            double num = 0, den = 0;
            while (den == 0)
            {
                num = 0;
                for (int i = 0; i < n; i++)
                {
                    int k = rng.NextInt(n);
                    num += numerators[k];
                    den += denominators[k];
                }
            }
            rates[r] = num / den;
        }
        Array.Sort(rates);
        double alpha = 1 - confidence;
        return new ConfidenceInterval(numerators.Sum() / total, Quantile(rates, alpha / 2), Quantile(rates, 1 - alpha / 2), n, confidence);
    }

    /// <summary>Linear-interpolation quantile (type 7) of sorted values.</summary>
    internal static double Quantile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }

    static void CheckArguments(int count, int resamples, double confidence, string name)
    {
        if (count == 0) throw new ArgumentException($"{name}: expected at least one value", name);
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "resamples: expected >= 1");
        if (!(confidence > 0 && confidence < 1)) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "confidence: expected a value in (0, 1)");
    }
}
