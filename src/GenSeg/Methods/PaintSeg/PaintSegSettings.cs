using GenSeg.Common;
using GenSeg.Methods.Inputs;
using static GenSeg.Common.SettingTable;

namespace GenSeg.Methods.PaintSeg;

/// <summary>
/// Every setting of <see cref="PaintSegOptions"/> by name (the paper's values are the options' defaults), for the CLI's
/// flags, sweeps, notebooks and result JSON alike. Sweeps cover the paper's ablations: <c>k</c> (Table 6a; with
/// <c>early-steps=0</c> for one K in every step), <c>steps</c> (6b), <c>iterations</c> (6c), <c>box-rate</c> (6d) and
/// <c>modules</c> (Table 4).
/// </summary>
public static class PaintSegSettings
{
    static Setting<PaintSegOptions> Opt(string name, string description, Func<PaintSegOptions, object> get, Func<PaintSegOptions, string, PaintSegOptions> set) =>
        new(name, description, set, o => Format(get(o)));

    /// <summary>All settings, in the order the CLI lists them ("modules", a shortcut, first: the settings after it refine it).</summary>
    public static IReadOnlyList<Setting<PaintSegOptions>> All { get; } = new[]
    {
        new Setting<PaintSegOptions>("modules", "Table 4's modules: i (I-steps only), o (O-steps only), io (both), io+adv (both with the adversarial constraint)",
            Modules, o => o switch
            {
                { Schedule: StepSchedule.InpaintOnly } => "i",
                { Schedule: StepSchedule.OutpaintOnly } => "o",
                { AdversarialConstraint: true } => "io+adv",
                _ => "io",
            }),
        Opt("steps", "T: number of AMCP steps, starting with an I-step (Table 6b)", o => o.Steps, (o, v) => o with { Steps = Int(v) }),
        Opt("schedule", "Steps run: alternate, inpaint or outpaint", o => o.Schedule switch
            {
                StepSchedule.InpaintOnly => "inpaint",
                StepSchedule.OutpaintOnly => "outpaint",
                _ => "alternate",
            },
            (o, v) => o with { Schedule = v.Trim().ToLowerInvariant() switch
            {
                "alternate" => StepSchedule.Alternate,
                "inpaint" or "i" => StepSchedule.InpaintOnly,
                "outpaint" or "o" => StepSchedule.OutpaintOnly,
                _ => throw new FormatException("expected alternate, inpaint or outpaint"),
            } }),
        Opt("paints", "N: paints per step, one batch", o => o.Paints, (o, v) => o with { Paints = Int(v) }),
        Opt("iterations", "DDIM iterations per paint (Table 6c)", o => o.PaintIterations, (o, v) => o with { PaintIterations = Int(v) }),
        Opt("paint-prompt", "Text prompt of the painter (paper: empty)", o => o.PaintPrompt, (o, v) => o with { PaintPrompt = v }),
        Opt("guidance", "Classifier-free guidance (authors 7.5; unused with an empty prompt)", o => o.Guidance, (o, v) => o with { Guidance = Double(v) }),
        Opt("painter-form", "What each step paints: paper (mask / background) or authors (dilated mask / background ring)", o => o.Painter, (o, v) => o with { Painter = EnumOf<PainterForm>(v) }),
        Opt("align-latent", "Round the painted region up to whole latent cells", o => o.AlignToLatent, (o, v) => o with { AlignToLatent = Bool(v) }),
        Opt("inpaint-dilation", "Authors' form: I-step dilation, 3x3-cross iterations at 512 px (code 4)", o => o.InpaintDilationAt512, (o, v) => o with { InpaintDilationAt512 = Double(v) }),
        Opt("outpaint-ring", "Authors' form: O-step ring radius in pixels at 512 px (code 7)", o => o.OutpaintRingAt512, (o, v) => o with { OutpaintRingAt512 = Double(v) }),
        Opt("paint-weight", "lambda_paint", o => o.PaintWeight, (o, v) => o with { PaintWeight = Double(v) }),
        Opt("crf-weight", "lambda_color, the DenseCRF term (paper 0.2; 0 = off)", o => o.CrfWeight, (o, v) => o with { CrfWeight = Double(v) }),
        Opt("prompt-weight", "lambda_prompt, the prompt prior", o => o.PromptWeight, (o, v) => o with { PromptWeight = Double(v) }),
        Opt("prompt-decay", "Prompt weight decrease per step (authors 0.04; paper 0)", o => o.PromptWeightDecay, (o, v) => o with { PromptWeightDecay = Double(v) }),
        Opt("prompt-sigma", "Prompt Gaussian sigma as a fraction of the box", o => o.PromptSigma, (o, v) => o with { PromptSigma = Double(v) }),
        Opt("box-rate", "Box rate of the potential's region (Table 6d)", o => o.BoxRate, (o, v) => o with { BoxRate = Double(v) }),
        Opt("crf-argmax", "Use the CRF's label (authors) instead of its probability", o => o.CrfArgmax, (o, v) => o with { CrfArgmax = Bool(v) }),
        Opt("crf-iterations", "DenseCRF mean-field iterations (authors 10)", o => o.Crf.Iterations, (o, v) => o with { Crf = o.Crf with { Iterations = Int(v) } }),
        Opt("k", "K of the k-means (Table 6a)", o => o.Clusters, (o, v) => o with { Clusters = Int(v) }),
        Opt("k-early", "K in the first steps for point, box and scribble prompts", o => o.EarlyClusters, (o, v) => o with { EarlyClusters = Int(v) }),
        Opt("early-steps", "How many first steps use k-early", o => o.EarlySteps, (o, v) => o with { EarlySteps = Int(v) }),
        Opt("outpaint-object", "O-step object: not-changed (paper) or smallest (authors' smallest cluster)", o => o.OutpaintObject == OutpaintObjectRule.SmallestCluster ? "smallest" : "not-changed",
            (o, v) => o with { OutpaintObject = v.Trim().ToLowerInvariant() switch
            {
                "not-changed" or "notchanged" => OutpaintObjectRule.NotChanged,
                "smallest" or "smallestcluster" => OutpaintObjectRule.SmallestCluster,
                _ => throw new FormatException("expected not-changed or smallest"),
            } }),
        Opt("adversarial", "Eq. 4's band constraint on updates", o => o.AdversarialConstraint, (o, v) => o with { AdversarialConstraint = Bool(v) }),
        Opt("band", "Band width of Eq. 4 in pixels at 512 px (point and scribble prompts: band-point when set)", o => o.BandWidthAt512, (o, v) => o with { BandWidthAt512 = Double(v) }),
        Opt("band-point", "Band width for point and scribble prompts (paper: none, the band)", o => o.ForPrompt(PromptKind.Point).BandWidthAt512, (o, v) => o with { PointBandWidthAt512 = Double(v) }),
        Opt("vote", "Share of the N paints that must call a pixel object", o => o.VoteThreshold, (o, v) => o with { VoteThreshold = Double(v) }),
        Opt("vote-outpaint", "O-steps' own vote share (paper: none, the vote share)", o => o.VoteThresholdFor(StepKind.Outpaint), (o, v) => o with { OutpaintVoteThreshold = Double(v) }),
        Opt("prompt-components", "Point and scribble prompts: keep the mask's components that hold a prompt point (not in the paper)", o => o.PromptComponents, (o, v) => o with { PromptComponents = Bool(v) }),
        Opt("clean", "Opening and closing kernel after each update (authors 5; 0 = none)", o => o.CleanKernel, (o, v) => o with { CleanKernel = Int(v) }),
        Opt("crf-gaussian-sxy", "DenseCRF: Gaussian kernel's spatial sigma (PaintSeg 3)", o => o.Crf.GaussianSxy, (o, v) => o with { Crf = o.Crf with { GaussianSxy = (float)Double(v) } }),
        Opt("crf-gaussian-compat", "DenseCRF: Gaussian kernel's weight (PaintSeg 3)", o => o.Crf.GaussianCompat, (o, v) => o with { Crf = o.Crf with { GaussianCompat = (float)Double(v) } }),
        Opt("crf-bilateral-sxy", "DenseCRF: bilateral kernel's spatial sigma (PaintSeg 80)", o => o.Crf.BilateralSxy, (o, v) => o with { Crf = o.Crf with { BilateralSxy = (float)Double(v) } }),
        Opt("crf-bilateral-srgb", "DenseCRF: bilateral kernel's colour sigma (PaintSeg 13)", o => o.Crf.BilateralSrgb, (o, v) => o with { Crf = o.Crf with { BilateralSrgb = (float)Double(v) } }),
        Opt("crf-bilateral-compat", "DenseCRF: bilateral kernel's weight (PaintSeg 10)", o => o.Crf.BilateralCompat, (o, v) => o with { Crf = o.Crf with { BilateralCompat = (float)Double(v) } }),
        Opt("kmeans-iterations", "k-means: most Lloyd iterations", o => o.KMeans.MaxIterations, (o, v) => o with { KMeans = o.KMeans with { MaxIterations = Int(v) } }),
        Opt("kmeans-tolerance", "k-means: stop when no centre moves more than this", o => o.KMeans.Tolerance, (o, v) => o with { KMeans = o.KMeans with { Tolerance = Double(v) } }),
        Opt("kmeans-seed", "k-means: seed of the initial centres", o => o.KMeans.Seed, (o, v) => o with { KMeans = o.KMeans with { Seed = Long(v) } }),
        Opt("kmeans-plusplus", "k-means: k-means++ initialisation", o => o.KMeans.PlusPlus, (o, v) => o with { KMeans = o.KMeans with { PlusPlus = Bool(v) } }),
    };

    /// <summary>Returns <paramref name="o"/> with the setting <paramref name="name"/> = <paramref name="value"/>, validated; errors name both.</summary>
    public static PaintSegOptions Set(PaintSegOptions o, string name, string value)
    {
        var next = Apply(All, o, name, value);
        next.Validate();
        return next;
    }

    /// <summary>Every setting's value as text, by name (what a result JSON records).</summary>
    public static IReadOnlyDictionary<string, string> Values(PaintSegOptions o) => SettingTable.Values(All, o);

    static PaintSegOptions Modules(PaintSegOptions o, string v) => v.Trim().ToLowerInvariant() switch
    {
        "i" => o with { Schedule = StepSchedule.InpaintOnly, AdversarialConstraint = false },
        "o" => o with { Schedule = StepSchedule.OutpaintOnly, AdversarialConstraint = false },
        "io" => o with { Schedule = StepSchedule.Alternate, AdversarialConstraint = false },
        "io+adv" or "io-adv" or "all" => o with { Schedule = StepSchedule.Alternate, AdversarialConstraint = true },
        _ => throw new FormatException("expected i, o, io or io+adv"),
    };

    static string Format(object value) => value switch
    {
        double d => Text(d),
        float f => Text((double)f),
        bool b => Text(b),
        Enum e => e.ToString().ToLowerInvariant(),
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };

    static T EnumOf<T>(string v) where T : struct, Enum =>
        System.Enum.TryParse<T>(v.Trim().Replace("-", ""), ignoreCase: true, out var x) && System.Enum.IsDefined(x)
            ? x
            : throw new FormatException($"expected one of {string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
}
