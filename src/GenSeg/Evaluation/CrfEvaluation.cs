using System.Text.Json.Nodes;
using GenSeg.Imaging;
using GenSeg.Methods.DenseCrf;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>What a DenseCRF refinement evaluation runs on: ToyWorld objects' coarse masks at a severity.</summary>
public sealed record CrfEvalSettings : ToyEvalSettings
{
    /// <summary>The CRF's parameters (pixels at <see cref="PaintSegOptions.ReferenceSide"/> when <see cref="ScaleToImage"/>).</summary>
    public DenseCrfOptions Crf { get; init; } = DenseCrfOptions.PaintSeg;

    /// <summary>Scale the spatial standard deviations from 512 px to the image side.</summary>
    public bool ScaleToImage { get; init; } = true;
}

/// <summary>A DenseCRF refinement evaluation: the summary and the CRF parameters actually used.</summary>
public sealed record CrfEvalResult(CrfEvalSettings Settings, DenseCrfOptions Used, IReadOnlyList<ObjectScore> Objects, RefinementSummary Summary)
{
    /// <summary>The summary's JSON keys plus <c>split</c>, <c>severity</c> and <c>crf</c> (the parameters used).</summary>
    public JsonObject ToJson()
    {
        var json = Summary.ToJson();
        json["split"] = Settings.Split.ToString().ToLowerInvariant();
        json["severity"] = Settings.Severity.ToString();
        json["crf"] = new JsonObject
        {
            ["gaussian_sxy"] = Used.GaussianSxy,
            ["gaussian_compat"] = Used.GaussianCompat,
            ["bilateral_sxy"] = Used.BilateralSxy,
            ["bilateral_srgb"] = Used.BilateralSrgb,
            ["bilateral_compat"] = Used.BilateralCompat,
            ["iterations"] = Used.Iterations,
        };
        return json;
    }
}

/// <summary>
/// DenseCRF alone as a refiner of ToyWorld coarse masks (<c>genseg eval crf</c>): the coarse probability p becomes the
/// unary over (background, object) = (1 - p, p), and the CRF's most probable label is the refined mask.
/// </summary>
public static class CrfEvaluation
{
    /// <summary>The refined mask [H, W] (float32 0/1) of a coarse probability map [H, W] for an image [3, H, W] in [-1, 1].</summary>
    public static Tensor Refine(Tensor image, Tensor probability, DenseCrfOptions options)
    {
        using var scope = NewDisposeScope();
        using var lo = 0f.ToScalar();
        using var hi = 1f.ToScalar();
        var p = probability.to_type(ScalarType.Float32).clamp(lo, hi);
        var prob = stack(new[] { ones_like(p).sub_(p), p });
        return DenseCrf.Refine(image, prob, options).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Runs the evaluation; <paramref name="progress"/> gets (done, total).</summary>
    public static CrfEvalResult Run(CrfEvalSettings settings, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int side = (settings.Scene ?? new ToyWorldOptions()).Size;
        var used = settings.ScaleToImage ? PaintSegOptions.ScaleCrf(settings.Crf, side) : settings.Crf;
        used.Validate();
        var scores = new List<ObjectScore>(settings.Count);
        foreach (var (scene, k) in PaintSegEvaluation.Objects(settings.Split, settings.FirstSeed, settings.Count, settings.Scene))
        {
            using var scope = NewDisposeScope();
            var truth = scene.InstanceTensor(k);
            var coarse = CoarseMasks.Make(truth, settings.Severity, CoarseMasks.SeedFor(scene.Seed, k));
            var refined = Refine(scene.ImageTensor(), coarse.Probability, used);
            scores.Add(new ObjectScore(scene.Seed, k, scene.Objects[k].ClassName, Metrics.Iou(coarse.Binary, truth), Metrics.Iou(refined, truth)));
            progress?.Invoke(scores.Count, settings.Count);
        }
        return new CrfEvalResult(settings, used, scores, RefinementSummary.From(scores, settings.Resamples));
    }
}
