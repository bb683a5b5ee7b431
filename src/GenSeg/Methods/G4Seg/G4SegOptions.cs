using GenSeg.Features;
using GenSeg.Diffusion.Attention;

namespace GenSeg.Methods.G4Seg;

/// <summary>How the coarse mask is injected into the UNet's attention (G4Seg Sec. 3.2, "explicit mask injection").</summary>
public enum InjectionMode
{
    /// <summary>No injection: a plain one-step reconstruction (the "baseline" row of the module ablation).</summary>
    None,

    /// <summary>G4Seg Eq. 5: softmax((QK^T + a*A)/sqrt(d)) with the maps A of Eq. 3 (cross) and Eq. 4 (self).</summary>
    Additive,

    /// <summary>
    /// DenseDiffusion's modulation: logits pushed toward the row maximum inside the layout and toward the row minimum
    /// outside, scaled by the size regulariser (1 - area share) and the weight (creg for cross, sreg for self), times
    /// DenseDiffusion's time factor (t/1000)^5 when <see cref="InjectionOptions.DenseDiffusionTimeFactor"/> is set.
    /// </summary>
    DenseDiffusion,
}

/// <summary>Explicit mask injection (EMI) settings.</summary>
public sealed record InjectionOptions
{
    /// <summary>Additive (Eq. 5, the paper's form), DenseDiffusion's modulation, or none.</summary>
    public InjectionMode Mode { get; init; } = InjectionMode.Additive;

    /// <summary>
    /// a in Eq. 5, on the unscaled logits QK^T (the bias on the scaled logits is a/sqrt(d)). The paper gives no value;
    /// the default was chosen on ToyWorld val with the embedded model (see the G4Seg notes in README).
    /// </summary>
    public double Weight { get; init; } = 30.0;

    /// <summary>Inject into self-attention (Eq. 4).</summary>
    public bool Self { get; init; } = true;

    /// <summary>Inject into cross-attention (Eq. 3).</summary>
    public bool Cross { get; init; } = true;

    /// <summary>
    /// Which UNet resolution levels get the injection (0 = the latent's own resolution, each level halving it); null for
    /// all (DenseDiffusion modulates every attention layer).
    /// </summary>
    public IReadOnlyList<int>? Levels { get; init; }

    /// <summary>DenseDiffusion's creg: weight of the cross-attention modulation (1.0).</summary>
    public double DenseDiffusionCrossWeight { get; init; } = 1.0;

    /// <summary>DenseDiffusion's sreg: weight of the self-attention modulation (0.3).</summary>
    public double DenseDiffusionSelfWeight { get; init; } = 0.3;

    /// <summary>DenseDiffusion's sizereg: strength of the size regulariser 1 - sizereg * area share (1.0).</summary>
    public double DenseDiffusionSizeReg { get; init; } = 1.0;

    /// <summary>Apply DenseDiffusion's time factor (t/1000)^5 (0.01 at t = 400); off means a factor of 1.</summary>
    public bool DenseDiffusionTimeFactor { get; init; } = true;

    /// <summary>Whether a site gets the injection under these options.</summary>
    public bool Applies(AttentionSite site) =>
        Mode != InjectionMode.None
        && (site.Kind == AttentionKind.Self ? Self : Cross)
        && (Levels is null || Levels.Contains(site.Level));

    /// <summary>Checks the values; errors name the option.</summary>
    public void Validate()
    {
        if (!double.IsFinite(Weight) || Weight < 0) throw new ArgumentOutOfRangeException(nameof(Weight), Weight, "injection weight a: expected a finite value >= 0");
        foreach (var (name, v) in new[] { (nameof(DenseDiffusionCrossWeight), DenseDiffusionCrossWeight), (nameof(DenseDiffusionSelfWeight), DenseDiffusionSelfWeight), (nameof(DenseDiffusionSizeReg), DenseDiffusionSizeReg) })
            if (!double.IsFinite(v) || v < 0) throw new ArgumentOutOfRangeException(name, v, $"{name}: expected a finite value >= 0");
        if (Levels is not null && Levels.Any(l => l < 0)) throw new ArgumentOutOfRangeException(nameof(Levels), string.Join(",", Levels), "injection levels: expected indices >= 0");
    }
}

/// <summary>Which image's pixels are matched to which in the correspondence (Eq. 8).</summary>
public enum CorrespondenceDirection
{
    /// <summary>
    /// Eq. 8 as written (the paper preset's direction): for every generated pixel j, d_j is its most similar original
    /// pixel, and S*[j] = b S[j] + (1 - b) S[d_j].
    /// </summary>
    GeneratedToOriginal,

    /// <summary>
    /// The reverse: for every original pixel j, d_j is its most similar generated pixel, and S[d_j] is read on the
    /// generated image's grid, which the mask-conditioned generation shares with S.
    /// </summary>
    OriginalToGenerated,
}

/// <summary>
/// G4Seg's settings; every default is the paper's value (SD 2.1 at 512 px, one step at t_s = 400, b = 0.8, confusion
/// range [0.2, 0.6] within 40 px of the edge), except where the paper gives none (the injection weight a, the feature
/// layer), which are the kit's measured choices.
/// </summary>
public sealed record G4SegOptions
{
    /// <summary>t_s: the timestep the clean latent is noised to and denoised from in one step (paper: 400 of 1000).</summary>
    public long Timestep { get; init; } = 400;

    /// <summary>b in Eq. 9: 0.8 open-vocabulary, 0.9 weakly supervised.</summary>
    public double B { get; init; } = 0.8;

    /// <summary>The confusion area (Sec. 3.3): [0.2, 0.6] of the class maximum, within 40 px of the edge at 512 px.</summary>
    public ConfusionAreaOptions Confusion { get; init; } = new();

    /// <summary>Explicit mask injection (Eq. 3-5).</summary>
    public InjectionOptions Injection { get; init; } = new();

    /// <summary>The prompt for a class; {0} is the class name (paper: "A photo of {class}").</summary>
    public string PromptTemplate { get; init; } = "a photo of a {0}";

    /// <summary>
    /// Composed injection: every present class of an image in one generation instead of one per class (the paper's
    /// each-class-against-the-rest passes). The paper names composing the classes' masks into one generation as the way
    /// to cut G4Seg's cost, which otherwise grows with the classes per image (issue #27). The prompt names all the
    /// image's classes (<see cref="ComposedPromptFor"/>); each class's mask is injected on its own tokens' columns and on
    /// the self-attention pairs within its segment (<see cref="G4SegStages.BuildInjection(GenSeg.Diffusion.Models.UNet2DConditionModel, TorchSharp.torch.Tensor, IReadOnlyList{IReadOnlyList{int[]}}, long, long, long, long, InjectionOptions)"/>);
    /// one UNet pass, one decode and one set of features per image serve the per-class correspondence and mixing
    /// (Eq. 8-9), each in its own confusion area. An image with one class gives exactly the per-class result.
    /// Off (the paper's per-class passes) by default.
    /// </summary>
    public bool Compose { get; init; }

    /// <summary>
    /// Decode only the latent cells whose pixels the correspondence (Eq. 8) reads (issue #27): per pass, the bounding
    /// box of its confusion areas, widened by the features' reach (<see cref="GenSeg.Features.IFeatureExtractor.Reach"/>)
    /// and, when original pixels are matched to generated ones, by the search window, plus
    /// <see cref="DecodeWindowMargin"/> cells (<see cref="G4SegStages.DecodeWindowOf"/>); x~ is 0 outside it. The whole
    /// latent is decoded when the correspondence may read any generated pixel (features without a bounded reach, such as
    /// CLIP, DINO or DIFT, or <see cref="CorrespondenceDirection.OriginalToGenerated"/> without a search window). Off by
    /// default: the VAE decoder's GroupNorm statistics and mid-block attention span the whole latent, so a window's pixels
    /// differ slightly from the full decode's (docs/performance.md, "Decode window").
    /// </summary>
    public bool DecodeWindow { get; init; }

    /// <summary>Latent cells added on each side of the decode window (<see cref="DecodeWindow"/>) for the VAE decoder's
    /// receptive field.</summary>
    public int DecodeWindowMargin { get; init; } = 2;

    /// <summary>The correspondence features E.</summary>
    public FeatureOptions Features { get; init; } = new();

    /// <summary>
    /// Start from DDIM inversion of the clean latent (with the class prompt) instead of adding noise: the role null-text
    /// inversion plays in the paper's Table 5. The prediction then runs at the last inverted timestep &lt;= t_s.
    /// </summary>
    public bool Inversion { get; init; }

    /// <summary>DDIM inversion: the number of inference steps of the schedule walked up to t_s (50: 20 UNet passes to 400).</summary>
    public int InversionSteps { get; init; } = 50;

    /// <summary>
    /// The inversion's scheduler, by name (<see cref="GenSeg.Diffusion.Schedulers.Schedulers.Kinds"/>): <c>ddim</c> (DDIM
    /// inversion, the default), <c>dpm++2m</c> (diffusers' DPMSolverMultistepInverseScheduler, DPM-Solver++ 2M up the
    /// sigmas) or <c>euler</c> (its first-order form), each built from the pipeline's scheduler config.
    /// </summary>
    public string InversionScheduler { get; init; } = GenSeg.Diffusion.Schedulers.Schedulers.Ddim;

    /// <summary>Skip the semantic correspondence and mixing (the "+EMI" row of the module ablation: S* = S).</summary>
    public bool Correspondence { get; init; } = true;

    /// <summary>Which way pixels are matched (Eq. 8 as written: generated to original).</summary>
    public CorrespondenceDirection Direction { get; init; } = CorrespondenceDirection.GeneratedToOriginal;

    /// <summary>
    /// Restrict the correspondence search to a square window of this half-width in pixels at 512 px (scaled with the
    /// image width) around each generated pixel; null searches the whole original image.
    /// </summary>
    public int? CorrespondenceWindowAt512 { get; init; }

    /// <summary>Seed of the noise (and of the feature extractor's noise).</summary>
    public ulong Seed { get; init; }

    /// <summary>The paper's settings (the defaults).</summary>
    public static G4SegOptions Paper => new();

    /// <summary>
    /// The settings tuned on ToyWorld val with the embedded model (test scenes never seen): the paper's t_s, prompt,
    /// injection and edge distance, with the correspondence matched from each original pixel to the generated image,
    /// b = 0.3 and the confusion range [0.1, 0.7] (see README, "G4Seg on ToyWorld").
    /// </summary>
    public static G4SegOptions ToyWorld => new()
    {
        Direction = CorrespondenceDirection.OriginalToGenerated,
        B = 0.3,
        Confusion = new ConfusionAreaOptions(0.1, 0.7, 40),
    };

    /// <summary>The prompt of a class name.</summary>
    public string PromptFor(string className) => string.Format(System.Globalization.CultureInfo.InvariantCulture, PromptTemplate, className);

    /// <summary>
    /// The prompt naming several classes at once (<see cref="Compose"/>): the template with {0} filled by the names as
    /// a list, "x", "x and y", "x, y and z", where an article just before {0} in the template ("a", "an" or "the") is
    /// repeated before every further name, so "a photo of a {0}" gives "a photo of a circle, a square and a star",
    /// ToyWorld's class-only caption form. One name gives <see cref="PromptFor"/>'s prompt exactly.
    /// </summary>
    public string ComposedPromptFor(IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        if (classNames.Count == 0) throw new ArgumentException("classNames: expected at least one class to name", nameof(classNames));
        int at = PromptTemplate.IndexOf("{0}", StringComparison.Ordinal);
        var before = at < 0 ? Array.Empty<string>() : PromptTemplate[..at].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string article = before.Length > 0 && before[^1].ToLowerInvariant() is "a" or "an" or "the" ? before[^1] + " " : "";
        var list = new System.Text.StringBuilder(classNames[0]);
        for (int i = 1; i < classNames.Count; i++)
            list.Append(i == classNames.Count - 1 ? " and " : ", ").Append(article).Append(classNames[i]);
        return PromptFor(list.ToString());
    }

    /// <summary>Checks every value; errors name the option.</summary>
    public void Validate(int numTrainTimesteps = 1000)
    {
        if (Timestep < 0 || Timestep >= numTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(Timestep), Timestep, $"t_s must lie in [0, {numTrainTimesteps - 1}]");
        if (!(B >= 0 && B <= 1)) throw new ArgumentOutOfRangeException(nameof(B), B, "b (Eq. 9) must lie in [0, 1]");
        if (Confusion.Low is { } lo && Confusion.High is { } hi && !(lo <= hi))
            throw new ArgumentException($"confusion range [{lo}, {hi}]: the lower bound must not exceed the upper");
        if (!PromptTemplate.Contains("{0}", StringComparison.Ordinal))
            throw new ArgumentException($"prompt template \"{PromptTemplate}\": expected a {{0}} where the class name goes", nameof(PromptTemplate));
        Injection.Validate();
        if (InversionSteps < 1 || InversionSteps > numTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(InversionSteps), InversionSteps, $"inversion steps must lie in [1, {numTrainTimesteps}]");
        if (!GenSeg.Diffusion.Schedulers.Schedulers.IsKind(InversionScheduler))
            throw new ArgumentException($"inversion scheduler '{InversionScheduler}': expected one of {string.Join(", ", GenSeg.Diffusion.Schedulers.Schedulers.Kinds)}", nameof(InversionScheduler));
        if (DecodeWindowMargin < 0)
            throw new ArgumentOutOfRangeException(nameof(DecodeWindowMargin), DecodeWindowMargin, "decode margin: expected >= 0 latent cells");
        if (CorrespondenceWindowAt512 is < 0)
            throw new ArgumentOutOfRangeException(nameof(CorrespondenceWindowAt512), CorrespondenceWindowAt512, "correspondence window: expected a half-width >= 0");
        if (Features.Samples < 1) throw new ArgumentOutOfRangeException("Features.Samples", Features.Samples, "feature noise samples: expected >= 1");
        if (Features.Timestep < 0 || Features.Timestep >= numTrainTimesteps)
            throw new ArgumentOutOfRangeException("Features.Timestep", Features.Timestep, $"feature timestep must lie in [0, {numTrainTimesteps - 1}]");
    }
}
