using GenSeg.Common;
using static GenSeg.Common.SettingText;

namespace GenSeg.Methods.DenseCrf;

/// <summary>
/// Every setting of <see cref="DenseCrfOptions"/> by name, named as pydensecrf's arguments are: the flags of
/// <c>genseg eval crf</c>, and, prefixed <c>crf-</c>, PaintSeg's DenseCRF term. Presets: paintseg (the PaintSeg
/// authors' values, the default where the kit runs DenseCRF) and pydensecrf (its README's).
/// </summary>
public static class DenseCrfSettings
{
    /// <summary>The table, validated by <see cref="DenseCrfOptions.Validate"/>.</summary>
    public static SettingTable<DenseCrfOptions> Table { get; } = new("DenseCRF", new Setting<DenseCrfOptions>[]
    {
        new("gaussian-sxy", "Gaussian kernel's spatial sigma theta_gamma, px (PaintSeg 3)", (o, v) => o with { GaussianSxy = (float)Double(v) }, o => Text(o.GaussianSxy)),
        new("gaussian-compat", "Gaussian kernel's weight w2 (PaintSeg 7)", (o, v) => o with { GaussianCompat = (float)Double(v) }, o => Text(o.GaussianCompat)),
        new("bilateral-sxy", "bilateral kernel's spatial sigma theta_alpha, px (PaintSeg 50)", (o, v) => o with { BilateralSxy = (float)Double(v) }, o => Text(o.BilateralSxy)),
        new("bilateral-srgb", "bilateral kernel's colour sigma theta_beta, 0..255 (PaintSeg 5)", (o, v) => o with { BilateralSrgb = (float)Double(v) }, o => Text(o.BilateralSrgb)),
        new("bilateral-compat", "bilateral kernel's weight w1 (PaintSeg 10)", (o, v) => o with { BilateralCompat = (float)Double(v) }, o => Text(o.BilateralCompat)),
        new("iterations", "mean-field iterations (PaintSeg 10)", (o, v) => o with { Iterations = Int(v) }, o => Text(o.Iterations)),
    }, o => o.Validate(), ("paintseg", () => DenseCrfOptions.PaintSeg), ("pydensecrf", () => new DenseCrfOptions()));
}
