using GenSeg.Common;
using GenSeg.Methods.Inputs;
using static GenSeg.Common.SettingText;
using GenSeg.Methods.DenseCrf;
using GenSeg.Diffusion.Schedulers;

namespace GenSeg.Methods.PaintSeg;

/// <summary>
/// Every setting of <see cref="PaintSegOptions"/> by name (the paper's values are the options' defaults), for the CLI's
/// flags, sweeps, notebooks and result JSON alike. Sweeps cover the paper's ablations: <c>k</c> (Table 6a; with
/// <c>early-steps=0</c> for one K in every step), <c>steps</c> (6b), <c>iterations</c> (6c), <c>box-rate</c> (6d) and
/// <c>modules</c> (Table 4).
/// </summary>
public static class PaintSegSettings
{
    static readonly (string, StepSchedule)[] Schedules =
        { ("alternate", StepSchedule.Alternate), ("inpaint", StepSchedule.InpaintOnly), ("i", StepSchedule.InpaintOnly), ("outpaint", StepSchedule.OutpaintOnly), ("o", StepSchedule.OutpaintOnly) };

    static readonly (string, PainterForm)[] PainterForms = { ("paper", PainterForm.Paper), ("authors", PainterForm.Authors) };

    static readonly (string, OutpaintObjectRule)[] OutpaintObjects =
        { ("not-changed", OutpaintObjectRule.NotChanged), ("notchanged", OutpaintObjectRule.NotChanged), ("smallest", OutpaintObjectRule.SmallestCluster), ("smallestcluster", OutpaintObjectRule.SmallestCluster) };

    /// <summary>
    /// The table: every setting in the order the CLI lists them ("modules", a shortcut, first: the settings after it
    /// refine it), validated by <see cref="PaintSegOptions.Validate"/>, with the presets paper (the defaults) and toyworld.
    /// </summary>
    public static SettingTable<PaintSegOptions> Table { get; } = new("PaintSeg", Entries(), o => o.Validate(),
        ("paper", () => PaintSegOptions.Paper), ("toyworld", () => PaintSegOptions.ToyWorld));

    static Setting<PaintSegOptions>[] Entries() => new Setting<PaintSegOptions>[]
    {
        new("modules", "Table 4's modules: i (I-steps only), o (O-steps only), io (both), io+adv (both with the adversarial constraint)",
            Modules, o => o switch
            {
                { Schedule: StepSchedule.InpaintOnly } => "i",
                { Schedule: StepSchedule.OutpaintOnly } => "o",
                { AdversarialConstraint: true } => "io+adv",
                _ => "io",
            }),
        new("steps", "T: number of AMCP steps, starting with an I-step (Table 6b)", (o, v) => o with { Steps = Int(v) }, o => Text(o.Steps)),
        new("schedule", "Steps run: alternate, inpaint or outpaint", (o, v) => o with { Schedule = OneOf(v, Schedules) }, o => NameOf(o.Schedule, Schedules)),
        new("paints", "N: paints per step, one batch", (o, v) => o with { Paints = Int(v) }, o => Text(o.Paints)),
        new("iterations", "Sampler iterations per paint (Table 6c)", (o, v) => o with { PaintIterations = Int(v) }, o => Text(o.PaintIterations)),
        new("scheduler", "Painter's sampler: ddim (paper), dpm++2m or euler", (o, v) => o with { Scheduler = Schedulers.Parse(v) }, o => o.Scheduler),
        new("paint-prompt", "Text prompt of the painter (paper: empty)", (o, v) => o with { PaintPrompt = v }, o => o.PaintPrompt),
        new("guidance", "Classifier-free guidance (authors 7.5; unused with an empty prompt)", (o, v) => o with { Guidance = Double(v) }, o => Text(o.Guidance)),
        new("painter-form", "What each step paints: paper (mask / background) or authors (dilated mask / background ring)",
            (o, v) => o with { Painter = OneOf(v, PainterForms) }, o => NameOf(o.Painter, PainterForms)),
        new("align-latent", "Round the painted region up to whole latent cells", (o, v) => o with { AlignToLatent = Bool(v) }, o => Text(o.AlignToLatent)),
        new("inpaint-dilation", "Authors' form: I-step dilation, 3x3-cross iterations at 512 px (code 4)", (o, v) => o with { InpaintDilationAt512 = Double(v) }, o => Text(o.InpaintDilationAt512)),
        new("outpaint-ring", "Authors' form: O-step ring radius in pixels at 512 px (code 7)", (o, v) => o with { OutpaintRingAt512 = Double(v) }, o => Text(o.OutpaintRingAt512)),
        new("paint-weight", "lambda_paint", (o, v) => o with { PaintWeight = Double(v) }, o => Text(o.PaintWeight)),
        new("crf-weight", "lambda_color, the DenseCRF term (paper 0.2; 0 = off)", (o, v) => o with { CrfWeight = Double(v) }, o => Text(o.CrfWeight)),
        new("prompt-weight", "lambda_prompt, the prompt prior", (o, v) => o with { PromptWeight = Double(v) }, o => Text(o.PromptWeight)),
        new("prompt-decay", "Prompt weight decrease per step (authors 0.04; paper 0)", (o, v) => o with { PromptWeightDecay = Double(v) }, o => Text(o.PromptWeightDecay)),
        new("prompt-sigma", "Prompt Gaussian sigma as a fraction of the box", (o, v) => o with { PromptSigma = Double(v) }, o => Text(o.PromptSigma)),
        new("box-rate", "Box rate of the potential's region (Table 6d)", (o, v) => o with { BoxRate = Double(v) }, o => Text(o.BoxRate)),
        new("crf-argmax", "Use the CRF's label (authors) instead of its probability", (o, v) => o with { CrfArgmax = Bool(v) }, o => Text(o.CrfArgmax)),
    }.Concat(DenseCrfSettings.Table.Lift<PaintSegOptions>(o => o.Crf, (o, c) => o with { Crf = c }, "crf-")).Concat(new Setting<PaintSegOptions>[]
    {
        new("k", "K of the k-means (Table 6a)", (o, v) => o with { Clusters = Int(v) }, o => Text(o.Clusters)),
        new("k-early", "K in the first steps for point, box and scribble prompts", (o, v) => o with { EarlyClusters = Int(v) }, o => Text(o.EarlyClusters)),
        new("early-steps", "How many first steps use k-early", (o, v) => o with { EarlySteps = Int(v) }, o => Text(o.EarlySteps)),
        new("outpaint-object", "O-step object: not-changed (paper) or smallest (authors' smallest cluster)",
            (o, v) => o with { OutpaintObject = OneOf(v, OutpaintObjects) }, o => NameOf(o.OutpaintObject, OutpaintObjects)),
        new("adversarial", "Eq. 4's band constraint on updates", (o, v) => o with { AdversarialConstraint = Bool(v) }, o => Text(o.AdversarialConstraint)),
        new("band", "Band width of Eq. 4 in pixels at 512 px (point and scribble prompts: band-point when set)", (o, v) => o with { BandWidthAt512 = Double(v) }, o => Text(o.BandWidthAt512)),
        new("band-point", "Band width for point and scribble prompts (paper: none, the band)", (o, v) => o with { PointBandWidthAt512 = Double(v) },
            o => Text(o.ForPrompt(PromptKind.Point).BandWidthAt512)),
        new("vote", "Share of the N paints that must call a pixel object", (o, v) => o with { VoteThreshold = Double(v) }, o => Text(o.VoteThreshold)),
        new("vote-outpaint", "O-steps' own vote share (paper: none, the vote share)", (o, v) => o with { OutpaintVoteThreshold = Double(v) },
            o => Text(o.VoteThresholdFor(StepKind.Outpaint))),
        new("prompt-components", "Point and scribble prompts: keep the mask's components that hold a prompt point (not in the paper)",
            (o, v) => o with { PromptComponents = Bool(v) }, o => Text(o.PromptComponents)),
        new("clean", "Opening and closing kernel after each update (authors 5; 0 = none)", (o, v) => o with { CleanKernel = Int(v) }, o => Text(o.CleanKernel)),
        new("kmeans-iterations", "k-means: most Lloyd iterations", (o, v) => o with { KMeans = o.KMeans with { MaxIterations = Int(v) } }, o => Text(o.KMeans.MaxIterations)),
        new("kmeans-tolerance", "k-means: stop when no centre moves more than this", (o, v) => o with { KMeans = o.KMeans with { Tolerance = Double(v) } }, o => Text(o.KMeans.Tolerance)),
        new("kmeans-seed", "k-means: seed of the initial centres", (o, v) => o with { KMeans = o.KMeans with { Seed = Long(v) } }, o => Text(o.KMeans.Seed)),
        new("kmeans-plusplus", "k-means: k-means++ initialisation", (o, v) => o with { KMeans = o.KMeans with { PlusPlus = Bool(v) } }, o => Text(o.KMeans.PlusPlus)),
    }).ToArray();

    static PaintSegOptions Modules(PaintSegOptions o, string v) => v.Trim().ToLowerInvariant() switch
    {
        "i" => o with { Schedule = StepSchedule.InpaintOnly, AdversarialConstraint = false },
        "o" => o with { Schedule = StepSchedule.OutpaintOnly, AdversarialConstraint = false },
        "io" => o with { Schedule = StepSchedule.Alternate, AdversarialConstraint = false },
        "io+adv" or "io-adv" or "all" => o with { Schedule = StepSchedule.Alternate, AdversarialConstraint = true },
        _ => throw new FormatException("expected i, o, io or io+adv"),
    };
}
