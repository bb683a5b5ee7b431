using GenSeg.Methods.DenseCrf;
using GenSeg.Methods.Inputs;

namespace GenSeg.Methods.PaintSeg;

/// <summary>The two kinds of AMCP step.</summary>
public enum StepKind
{
    /// <summary>I-step: the object region is masked and painted over (background filled); may only remove pixels.</summary>
    Inpaint,

    /// <summary>O-step: the background is masked and painted over (object kept); may only add pixels.</summary>
    Outpaint,
}

/// <summary>Which steps the AMCP loop runs (the module ablation of the paper's Table 4).</summary>
public enum StepSchedule
{
    /// <summary>I, O, I, O, ... starting with an I-step (the paper).</summary>
    Alternate,

    /// <summary>I-steps only.</summary>
    InpaintOnly,

    /// <summary>O-steps only.</summary>
    OutpaintOnly,
}

/// <summary>What the painter masks in each step.</summary>
public enum PainterForm
{
    /// <summary>The paper: the I-step paints the current mask, the O-step paints the whole background.</summary>
    Paper,

    /// <summary>
    /// The authors' code: the I-step paints the mask dilated (3x3 cross, 4 iterations at 512 px); the O-step paints only a
    /// ring of background around the object (a 15x15 dilation at 512 px), or the whole background for point and
    /// scribble prompts.
    /// </summary>
    Authors,
}

/// <summary>Which pixels an O-step takes as object, given the clustering.</summary>
public enum OutpaintObjectRule
{
    /// <summary>Every pixel outside the changed (largest-centre) cluster (paper Eq. 3).</summary>
    NotChanged,

    /// <summary>Only the smallest-centre cluster (the authors' code; differs from <see cref="NotChanged"/> when K &gt; 2).</summary>
    SmallestCluster,
}

/// <summary>
/// Settings of PaintSeg's adversarial masked contrastive painting (AMCP). Defaults are the paper's values; pixel sizes
/// the paper gives for 512 px images are named <c>...At512</c> and scaled with the image side (at least 1 px).
/// </summary>
public sealed record PaintSegOptions
{
    /// <summary>The image side the paper's pixel sizes refer to.</summary>
    public const int ReferenceSide = 512;

    /// <summary>T: number of AMCP steps (paper: 5), starting with an I-step.</summary>
    public int Steps { get; init; } = 5;

    /// <summary>Which steps run (Table 4's modules).</summary>
    public StepSchedule Schedule { get; init; } = StepSchedule.Alternate;

    /// <summary>N: paints per step, made in one batch and averaged (paper: 5).</summary>
    public int Paints { get; init; } = 5;

    /// <summary>Sampler iterations of each paint, DDIM's by default (paper: 50; Table 6c).</summary>
    public int PaintIterations { get; init; } = 50;

    /// <summary>
    /// The painter's sampler, by name: <c>ddim</c> (the paper's, eta 0), <c>dpm++2m</c> (DPM-Solver++ 2M) or
    /// <c>euler</c> (<see cref="GenSeg.Diffusion.Schedulers.Schedulers.Kinds"/>). The others are built from the
    /// inpainting scheduler's config (diffusers' <c>from_config</c>) and reach DDIM's paints in fewer
    /// <see cref="PaintIterations"/>.
    /// </summary>
    public string Scheduler { get; init; } = GenSeg.Diffusion.Schedulers.Schedulers.Ddim;

    /// <summary>Text prompt of the inpainting model (the paper and the authors' code: empty).</summary>
    public string PaintPrompt { get; init; } = "";

    /// <summary>Classifier-free guidance scale (the authors' code: 7.5). With an empty prompt it has no effect and is skipped.</summary>
    public double Guidance { get; init; } = 7.5;

    /// <summary>What each step masks for the painter (the paper's form or the authors' code's).</summary>
    public PainterForm Painter { get; init; } = PainterForm.Paper;

    /// <summary>
    /// Round the painted region up to whole latent cells (a cell is painted when any of its pixels is), since the
    /// inpainting model sees the mask at latent resolution; the composite then uses that region.
    /// </summary>
    public bool AlignToLatent { get; init; } = true;

    /// <summary>Authors' form: dilation of the object before an I-step paint, in 3x3-cross iterations at 512 px (code: 4).</summary>
    public double InpaintDilationAt512 { get; init; } = 4;

    /// <summary>Authors' form: radius of the background ring an O-step paints, in pixels at 512 px (code: 7, a 15x15 kernel).</summary>
    public double OutpaintRingAt512 { get; init; } = 7;

    /// <summary>lambda_paint in Eq. 2: weight of the feature distance ||E(I) - E(I_paint)||^2 (paper: 0.8).</summary>
    public double PaintWeight { get; init; } = 0.8;

    /// <summary>lambda_color in Eq. 2: weight of the DenseCRF probability (paper: 0.2); 0 disables the CRF.</summary>
    public double CrfWeight { get; init; } = 0.2;

    /// <summary>lambda_prompt in Eq. 2: weight of the Gaussian prompt prior (paper: 0.2; + in I-steps, - in O-steps).</summary>
    public double PromptWeight { get; init; } = 0.2;

    /// <summary>Decrease of the prompt weight per step (the authors' code: 0.04, i.e. 0.2 - 0.04 t; paper: 0).</summary>
    public double PromptWeightDecay { get; init; }

    /// <summary>sigma of the prompt Gaussian as a fraction of the current box's width and height (paper: 1/10).</summary>
    public double PromptSigma { get; init; } = 0.1;

    /// <summary>Box rate: the potential and the clustering cover the current mask's box scaled by this (paper: 1.1; Table 6d).</summary>
    public double BoxRate { get; init; } = 1.1;

    /// <summary>C in Eq. 2: the DenseCRF's parameters, in pixels at 512 px (the authors' values).</summary>
    public DenseCrfOptions Crf { get; init; } = DenseCrfOptions.PaintSeg;

    /// <summary>Use the CRF's most probable label (0/1, as the authors' code) instead of its probability.</summary>
    public bool CrfArgmax { get; init; }

    /// <summary>K of the k-means (paper: 2; Table 6a).</summary>
    public int Clusters { get; init; } = 2;

    /// <summary>K in the first <see cref="EarlySteps"/> steps for point, box and scribble prompts (paper: 3).</summary>
    public int EarlyClusters { get; init; } = 3;

    /// <summary>Number of first steps that use <see cref="EarlyClusters"/> for point, box and scribble prompts (paper: 3).</summary>
    public int EarlySteps { get; init; } = 3;

    /// <summary>Which clusters an O-step takes as object.</summary>
    public OutpaintObjectRule OutpaintObject { get; init; } = OutpaintObjectRule.NotChanged;

    /// <summary>k-means settings (seeded per step from the segmentation seed).</summary>
    public KMeansOptions KMeans { get; init; } = new();

    /// <summary>Eq. 4: I-steps only remove pixels of the inner band, O-steps only add pixels of the outer band.</summary>
    public bool AdversarialConstraint { get; init; } = true;

    /// <summary>Width of the bands of Eq. 4, in pixels at 512 px (paper: 32).</summary>
    public double BandWidthAt512 { get; init; } = 32;

    /// <summary>
    /// Width of Eq. 4's bands for point and scribble prompts, in pixels at 512 px, when set (paper: none,
    /// <see cref="BandWidthAt512"/> for every prompt; the authors' code widens the band about six-fold for points, 25
    /// dilations against 4). <see cref="ForPrompt"/> applies it.
    /// </summary>
    public double? PointBandWidthAt512 { get; init; }

    /// <summary>Fraction of the N paints that must call a pixel object (paper: the average binarised at 0.5).</summary>
    public double VoteThreshold { get; init; } = 0.5;

    /// <summary>
    /// The O-steps' own vote threshold, when set (paper: none, <see cref="VoteThreshold"/> in both steps). An O-step calls
    /// a background pixel object when its repainted background happens to match the original there; such chance matches
    /// are independent across the N paints, so a higher share filters them out (docs/findings.md, "The O-step").
    /// </summary>
    public double? OutpaintVoteThreshold { get; init; }

    /// <summary>
    /// Point and scribble prompts: after each update keep only the mask's connected components that hold a prompt point
    /// (within Eq. 4's bounds; unchanged when no component holds one). Not in the paper: its first I-step repaints the
    /// whole image, which changes every object, and only the prompt prior tells the prompted one apart.
    /// </summary>
    public bool PromptComponents { get; init; }

    /// <summary>Side of the square kernel of the opening and closing after each update (the authors' code: 5); 0 = none.</summary>
    public int CleanKernel { get; init; }

    /// <summary>A pixel size given at 512 px, scaled to an image side and rounded (at least 1 px).</summary>
    public static int Scaled(double pixelsAt512, int side) => Math.Max(1, (int)Math.Round(pixelsAt512 * side / ReferenceSide));

    /// <summary>The CRF parameters scaled to an image side (spatial standard deviations times side / 512).</summary>
    public DenseCrfOptions CrfAt(int side) => ScaleCrf(Crf, side);

    /// <summary>CRF parameters given at 512 px scaled to an image side (spatial standard deviations times side / 512).</summary>
    public static DenseCrfOptions ScaleCrf(DenseCrfOptions crf, int side)
    {
        ArgumentNullException.ThrowIfNull(crf);
        double s = (double)side / ReferenceSide;
        return crf with { GaussianSxy = (float)(crf.GaussianSxy * s), BilateralSxy = (float)(crf.BilateralSxy * s) };
    }

    /// <summary>The paper's settings (the defaults).</summary>
    public static PaintSegOptions Paper => new();

    /// <summary>
    /// The settings tuned on ToyWorld val (test objects never seen): the paper's, with K = 2 from the first step
    /// (<see cref="EarlySteps"/> 0; with three clusters in the first steps the object is only the cluster that changed
    /// most, which drops object pixels the embedded painter changes moderately), and for point and scribble prompts the
    /// components that hold the prompt (<see cref="PromptComponents"/>) within a band of 128 px at 512
    /// (<see cref="PointBandWidthAt512"/>; docs/findings.md, "PaintSeg's painter" and "Point and scribble prompts"); and
    /// 5 Euler iterations per paint: on 100 val objects (box prompts) every sampler at 5 iterations matched 20 and 50
    /// DDIM iterations, Euler with the highest mean (+2.3 [0.5, 4.5] points against 50-step DDIM, paired), at a tenth
    /// of the passes (docs/performance.md, "PaintSeg: sampler, iterations and object batches"; notebook 04, "Samplers").
    /// </summary>
    public static PaintSegOptions ToyWorld => new()
    {
        EarlySteps = 0, PromptComponents = true, PointBandWidthAt512 = 128,
        Scheduler = GenSeg.Diffusion.Schedulers.Schedulers.Euler, PaintIterations = 5,
    };

    /// <summary>The kind of step <paramref name="step"/> (0-based) under <see cref="Schedule"/>.</summary>
    public StepKind KindAt(int step) => Schedule switch
    {
        StepSchedule.InpaintOnly => StepKind.Inpaint,
        StepSchedule.OutpaintOnly => StepKind.Outpaint,
        _ => step % 2 == 0 ? StepKind.Inpaint : StepKind.Outpaint,
    };

    /// <summary>K at step <paramref name="step"/> (0-based) for a prompt kind: early K for point, box and scribble prompts.</summary>
    public int ClustersAt(int step, PromptKind prompt) =>
        prompt != PromptKind.Mask && step < EarlySteps ? EarlyClusters : Clusters;

    /// <summary>
    /// The settings a prompt kind runs with: for point and scribble prompts <see cref="PointBandWidthAt512"/>, when set,
    /// as the band; for box and mask prompts no <see cref="PromptComponents"/>.
    /// </summary>
    public PaintSegOptions ForPrompt(PromptKind prompt) => prompt is PromptKind.Point or PromptKind.Scribble
        ? PointBandWidthAt512 is { } band ? this with { BandWidthAt512 = band } : this
        : PromptComponents ? this with { PromptComponents = false } : this;

    /// <summary>The vote threshold of a step kind: <see cref="OutpaintVoteThreshold"/> in O-steps when set, else <see cref="VoteThreshold"/>.</summary>
    public double VoteThresholdFor(StepKind kind) => kind == StepKind.Outpaint && OutpaintVoteThreshold is { } t ? t : VoteThreshold;

    /// <summary>The prompt weight at step <paramref name="step"/> (never below 0).</summary>
    public double PromptWeightAt(int step) => Math.Max(0, PromptWeight - PromptWeightDecay * step);

    /// <summary>Throws when a setting is out of its domain, naming it.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object value, string expected)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"PaintSegOptions.{name} = {value}: expected {expected}");
        }
        Require(Steps >= 1 && Steps <= 100, nameof(Steps), Steps, "1..100");
        Require(Paints >= 1 && Paints <= 64, nameof(Paints), Paints, "1..64");
        Require(PaintIterations >= 1 && PaintIterations <= 1000, nameof(PaintIterations), PaintIterations, "1..1000");
        Require(GenSeg.Diffusion.Schedulers.Schedulers.IsKind(Scheduler), nameof(Scheduler), Scheduler ?? "null",
            "one of " + string.Join(", ", GenSeg.Diffusion.Schedulers.Schedulers.Kinds));
        Require(double.IsFinite(Guidance) && Guidance >= 0, nameof(Guidance), Guidance, "a finite value >= 0");
        Require(double.IsFinite(InpaintDilationAt512) && InpaintDilationAt512 >= 0, nameof(InpaintDilationAt512), InpaintDilationAt512, ">= 0");
        Require(double.IsFinite(OutpaintRingAt512) && OutpaintRingAt512 > 0, nameof(OutpaintRingAt512), OutpaintRingAt512, "> 0");
        Require(double.IsFinite(PaintWeight) && PaintWeight >= 0, nameof(PaintWeight), PaintWeight, ">= 0");
        Require(double.IsFinite(CrfWeight) && CrfWeight >= 0, nameof(CrfWeight), CrfWeight, ">= 0");
        Require(double.IsFinite(PromptWeight) && PromptWeight >= 0, nameof(PromptWeight), PromptWeight, ">= 0");
        Require(double.IsFinite(PromptWeightDecay) && PromptWeightDecay >= 0, nameof(PromptWeightDecay), PromptWeightDecay, ">= 0");
        Require(PaintWeight + CrfWeight + PromptWeight > 0, nameof(PaintWeight), PaintWeight, "some term with a positive weight");
        Require(double.IsFinite(PromptSigma) && PromptSigma > 0, nameof(PromptSigma), PromptSigma, "> 0");
        Require(double.IsFinite(BoxRate) && BoxRate >= 0.5 && BoxRate <= 10, nameof(BoxRate), BoxRate, "0.5..10");
        Require(Clusters >= 2 && Clusters <= 16, nameof(Clusters), Clusters, "2..16");
        Require(EarlyClusters >= 2 && EarlyClusters <= 16, nameof(EarlyClusters), EarlyClusters, "2..16");
        Require(EarlySteps >= 0, nameof(EarlySteps), EarlySteps, ">= 0");
        Require(double.IsFinite(BandWidthAt512) && BandWidthAt512 > 0, nameof(BandWidthAt512), BandWidthAt512, "> 0");
        Require(PointBandWidthAt512 is null || (double.IsFinite(PointBandWidthAt512.Value) && PointBandWidthAt512 > 0), nameof(PointBandWidthAt512), PointBandWidthAt512 ?? 0, "> 0 or none");
        Require(VoteThreshold > 0 && VoteThreshold <= 1, nameof(VoteThreshold), VoteThreshold, "a fraction in (0, 1]");
        Require(OutpaintVoteThreshold is null or (> 0 and <= 1), nameof(OutpaintVoteThreshold), OutpaintVoteThreshold ?? 0, "a fraction in (0, 1] or none");
        Require(CleanKernel == 0 || (CleanKernel >= 1 && CleanKernel % 2 == 1), nameof(CleanKernel), CleanKernel, "0 or an odd size");
        ArgumentNullException.ThrowIfNull(Crf, nameof(Crf));
        ArgumentNullException.ThrowIfNull(KMeans, nameof(KMeans));
        Crf.Validate();
    }
}
