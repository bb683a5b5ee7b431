using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>Summary of coarse-mask IoUs with the truth (IoU as fractions in [0, 1]).</summary>
/// <param name="Severity">Severity of the masks.</param>
/// <param name="Ious">IoU of each object's binary coarse mask with its truth, in scene order.</param>
public sealed record CoarseMaskSurveyResult(Severity Severity, IReadOnlyList<double> Ious)
{
    /// <summary>Number of objects.</summary>
    public int Count => Ious.Count;

    /// <summary>Mean IoU.</summary>
    public double Mean => Ious.Average();

    /// <summary>Median IoU.</summary>
    public double Median
    {
        get
        {
            var s = Ious.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
    }

    /// <summary>Smallest IoU.</summary>
    public double Min => Ious.Min();

    /// <summary>Largest IoU.</summary>
    public double Max => Ious.Max();

    /// <summary>Share of objects in a stratum of initial IoU.</summary>
    public double Share(IouStratum stratum) => (double)Ious.Count(v => Strata.Of(v) == stratum) / Ious.Count;
}

/// <summary>Measures how far coarse masks lie from the truth over ToyWorld objects.</summary>
public static class CoarseMaskSurvey
{
    /// <summary>
    /// Makes a coarse mask (seeded by <see cref="CoarseMasks.SeedFor"/>) for every object of consecutive scenes of
    /// <paramref name="split"/> until <paramref name="objects"/> objects are measured; <paramref name="progress"/> gets the
    /// number measured so far.
    /// </summary>
    public static CoarseMaskSurveyResult Run(Split split, int objects, Severity severity, ToyWorldOptions? options = null,
        int? firstSeed = null, Action<int>? progress = null)
    {
        if (objects < 1) throw new ArgumentOutOfRangeException(nameof(objects), objects, "objects: expected >= 1");
        var ious = new List<double>(objects);
        var (start, count) = Splits.Range(split);
        int seed = firstSeed ?? start;
        while (ious.Count < objects)
        {
            if (seed - (long)start >= count) throw new ArgumentOutOfRangeException(nameof(objects), objects, $"objects: the {split} split has too few scenes");
            var scene = SceneGenerator.Generate(seed, options);
            for (int k = 0; k < scene.Objects.Count && ious.Count < objects; k++)
            {
                using var scope = NewDisposeScope();
                var truth = scene.InstanceTensor(k);
                using var coarse = CoarseMasks.Make(truth, severity, CoarseMasks.SeedFor(seed, k));
                ious.Add(Metrics.Iou(coarse.Binary, truth));
                progress?.Invoke(ious.Count);
            }
            seed++;
        }
        return new CoarseMaskSurveyResult(severity, ious);
    }
}
