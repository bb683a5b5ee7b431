using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Imaging;
using GenSeg.Methods.DenseCrf;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>What a DenseCRF refinement evaluation runs on: ToyWorld objects' coarse masks at a severity.</summary>
public sealed record CrfEvaluationOptions : ToyWorldEvaluationOptions
{
    /// <summary>The CRF's parameters (pixels at <see cref="PaintSegOptions.ReferenceSide"/> when <see cref="ScaleToImage"/>).</summary>
    public DenseCrfOptions Crf { get; init; } = DenseCrfOptions.PaintSeg;

    /// <summary>Scale the spatial standard deviations from 512 px to the image side.</summary>
    public bool ScaleToImage { get; init; } = true;
}

/// <summary>Every setting of a DenseCRF evaluation by name: DenseCRF's own (<see cref="DenseCrfSettings"/>), the coarse masks' severity and the scaling to the image.</summary>
public static class CrfEvaluationSettings
{
    /// <summary>The table, validated by <see cref="DenseCrfOptions.Validate"/>; presets are DenseCRF's, on the evaluation's defaults.</summary>
    public static SettingTable<CrfEvaluationOptions> Table { get; } = new("DenseCRF evaluation",
        DenseCrfSettings.Table.Lift<CrfEvaluationOptions>(e => e.Crf, (e, c) => e with { Crf = c })
        .Concat(new Setting<CrfEvaluationOptions>[]
        {
            new("severity", "Coarse-mask severity: low, medium, high or a number in [0, 1]", (s, v) => s with { Severity = Severity.Parse(v) }, s => s.Severity.ToString()),
            new("scale", "Take the spatial sigmas as pixels at 512 px, scaled to the image (false: pixels of the image itself)",
                (s, v) => s with { ScaleToImage = SettingText.Bool(v) }, s => SettingText.Text(s.ScaleToImage)),
        }).ToArray(),
        s => s.Crf.Validate(),
        DenseCrfSettings.Table.PresetNames.Select(name => (name, (Func<CrfEvaluationOptions>)(() => new CrfEvaluationOptions { Crf = DenseCrfSettings.Table.Preset(name) }))).ToArray());
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

    /// <summary>
    /// Runs the evaluation; <paramref name="progress"/> gets (done, total). The result's settings are the CRF's
    /// parameters as given (in pixels at 512 when scaled); the pixels used on the image are in its command's note.
    /// </summary>
    public static EvaluationResult Run(CrfEvaluationOptions settings, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        CrfEvaluationSettings.Table.Validate(settings);
        int side = (settings.Scene ?? new ToyWorldOptions()).Size;
        var used = settings.ScaleToImage ? PaintSegOptions.ScaleCrf(settings.Crf, side) : settings.Crf;
        used.Validate();
        var targets = new List<TargetResult>(settings.Count);
        foreach (var (scene, k) in ToyWorldTargets.Objects(settings.Split, settings.FirstSeed, settings.Count, settings.Scene))
        {
            using var scope = NewDisposeScope();
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var truth = scene.InstanceTensor(k);
            var coarse = CoarseMasks.Make(truth, settings.Severity, CoarseMasks.SeedFor(scene.Seed, k));
            var refined = Refine(scene.ImageTensor(), coarse.Probability, used);
            targets.Add(new TargetResult($"{ToyWorldDataset.IdOf(scene.Seed)}/{k}", scene.Objects[k].ClassName, 100 * Metrics.Iou(coarse.Binary, truth),
                100 * Metrics.Iou(refined, truth), Array.Empty<double>(), watch.Elapsed.TotalSeconds, Array.Empty<string?>()));
            progress?.Invoke(targets.Count, settings.Count);
        }
        var values = CrfEvaluationSettings.Table.Values(settings);
        var split = settings.Split.ToString().ToLowerInvariant();
        int first = settings.FirstSeed ?? Splits.Range(settings.Split).First;
        var flags = new JsonObject { ["split"] = split, ["first-seed"] = first, ["count"] = settings.Count };
        var row = TargetSummary.Row("densecrf", values, targets, settings.Resamples, targets.Sum(t => t.Seconds));
        return new EvaluationResult("densecrf", EvaluationResult.MetricMeanIou, DatasetSpec.ToyWorld, split, first,
            targets.Select(t => t.Id.Split('/')[0]).Distinct().Count(), targets.Count,
            new InputDescription($"coarse:{settings.Severity}", InputDescription.Soft,
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"CRF on the image: Gaussian {used.GaussianSxy:G3} px x {used.GaussianCompat:G3}, bilateral {used.BilateralSxy:G3} px / {used.BilateralSrgb:G3} x {used.BilateralCompat:G3}, {used.Iterations} iterations")),
            "", RerunCommand.For("crf", flags, values), new[] { row }, Array.Empty<EvaluationRow>(), targets);
    }
}
