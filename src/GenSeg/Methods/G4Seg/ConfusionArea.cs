using GenSeg.Common;
using GenSeg.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.G4Seg;

/// <summary>Where G4Seg mixes probabilities: the "confusion area" of a coarse probability map.</summary>
/// <param name="Low">Lower bound of S / max S (paper: 0.2); null with <paramref name="High"/> null disables the range test.</param>
/// <param name="High">Upper bound of S / max S (paper: 0.6).</param>
/// <param name="EdgeDistanceAt512">Largest distance to the coarse mask's edge in pixels at 512 px (paper: 40); scaled
/// with the image width; null disables the distance test.</param>
public sealed record ConfusionAreaOptions(double? Low = 0.2, double? High = 0.6, double? EdgeDistanceAt512 = 40)
{
    /// <summary>No restriction: every pixel may be mixed (the "none" setting of the confusion-range ablation).</summary>
    public static ConfusionAreaOptions Everywhere => new(null, null, null);
}

/// <summary>
/// The confusion area (G4Seg Sec. 3.3): pixels whose foreground probability lies within [Low, High] of the class
/// maximum and which lie within a distance of the coarse mask's edge (the mask being S &gt;= 0.5 max S).
/// </summary>
public static class ConfusionArea
{
    /// <summary>The area [B, H, W] (bool) of probabilities <paramref name="probabilities"/> [B, H, W].</summary>
    public static Tensor Of(Tensor probabilities, ConfusionAreaOptions? options = null)
    {
        options ??= new ConfusionAreaOptions();
        Check.Rank(probabilities, nameof(probabilities), 3, "[B, H, W]");
        if (options.Low is { } lo && options.High is { } hi && !(lo <= hi))
            throw new ArgumentException($"confusion range [{lo}, {hi}]: the lower bound must not exceed the upper");
        using var scope = NewDisposeScope();
        long b = probabilities.shape[0], h = probabilities.shape[1], w = probabilities.shape[2];
        var max = probabilities.amax(new long[] { 1, 2 }, keepdim: true).clamp_min(1e-12);
        var rel = probabilities / max;
        var area = ones(b, h, w, dtype: ScalarType.Bool, device: probabilities.device);
        if (options.Low is { } low) area = area.logical_and(rel >= low);
        if (options.High is { } high) area = area.logical_and(rel <= high);
        if (options.EdgeDistanceAt512 is { } d512)
        {
            double limit = d512 * w / 512.0;
            var near = stack(Enumerable.Range(0, (int)b).Select(i =>
            {
                var mask = (rel[i] >= 0.5).to_type(ScalarType.Float32);
                return Distance.ToEdge(mask) <= limit;
            }).ToArray());
            area = area.logical_and(near);
        }
        return area.MoveToOuterDisposeScope();
    }
}
