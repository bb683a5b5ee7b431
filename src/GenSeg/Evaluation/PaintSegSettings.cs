using System.Globalization;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;

namespace GenSeg.Evaluation;

/// <summary>Which ToyWorld objects an evaluation runs on, and how its intervals are computed.</summary>
public abstract record ToyEvalSettings
{
    /// <summary>The ToyWorld split (tune on val, report on test).</summary>
    public Split Split { get; init; } = Split.Test;

    /// <summary>Number of objects evaluated (consecutive scenes' objects, in order).</summary>
    public int Count { get; init; } = 300;

    /// <summary>First scene seed (absolute; the split's first when null).</summary>
    public int? FirstSeed { get; init; }

    /// <summary>How scenes are drawn (the benchmark's defaults when null).</summary>
    public ToyWorldOptions? Scene { get; init; }

    /// <summary>Coarse-mask severity (for mask prompts and coarse masks).</summary>
    public Severity Severity { get; init; } = Severity.Medium;

    /// <summary>Resamples of the bootstrap intervals.</summary>
    public int Resamples { get; init; } = Bootstrap.DefaultResamples;
}

/// <summary>What a PaintSeg evaluation runs on: which objects, which prompts, which settings.</summary>
public sealed record PaintSegEvalSettings : ToyEvalSettings
{
    /// <summary>The prompt type.</summary>
    public PromptKind Prompt { get; init; } = PromptKind.Box;

    /// <summary>Prompt noise for box, point and scribble prompts, as a fraction of half the box diagonal (Table 5).</summary>
    public double PromptNoise { get; init; }

    /// <summary>Where point prompts are placed.</summary>
    public PointMode PointMode { get; init; } = PointMode.Centroid;

    /// <summary>The method's settings.</summary>
    public PaintSegOptions Options { get; init; } = new();
}

/// <summary>One named setting of a PaintSeg evaluation: a CLI option (<c>--key</c>) and a sweep key.</summary>
/// <param name="Key">The name, e.g. "k" or "box-rate".</param>
/// <param name="Description">What it sets, with the paper's value.</param>
/// <param name="Get">The current value as text.</param>
/// <param name="Set">A copy of the settings with the value parsed from text (errors name the key and the value).</param>
public sealed record PaintSegSetting(string Key, string Description, Func<PaintSegEvalSettings, string> Get,
    Func<PaintSegEvalSettings, string, PaintSegEvalSettings> Set);

/// <summary>
/// Every setting of a PaintSeg evaluation by name, so the CLI, sweeps and notebooks share one list. Sweeps cover the
/// paper's ablations: <c>k</c> (Table 6a; with <c>early-steps=0</c> for one K in every step), <c>steps</c> (6b),
/// <c>iterations</c> (6c), <c>box-rate</c> (6d), <c>modules</c> (Table 4) and <c>prompt-noise</c> (Table 5).
/// </summary>
public static class PaintSegSettings
{
    static PaintSegSetting Opt(string key, string description, Func<PaintSegOptions, object> get, Func<PaintSegOptions, string, PaintSegOptions> set) =>
        new(key, description, s => Text(get(s.Options)), (s, v) => s with { Options = set(s.Options, v) });

    /// <summary>All settings, in the order the CLI lists them.</summary>
    public static IReadOnlyList<PaintSegSetting> All { get; } = new[]
    {
        new PaintSegSetting("modules", "Table 4's modules: i (I-steps only), o (O-steps only), io (both), io+adv (both with the adversarial constraint)",
            s => s.Options switch
            {
                { Schedule: StepSchedule.InpaintOnly } => "i",
                { Schedule: StepSchedule.OutpaintOnly } => "o",
                { AdversarialConstraint: true } => "io+adv",
                _ => "io",
            },
            (s, v) => s with { Options = Modules(s.Options, v) }),
        Opt("steps", "T: number of AMCP steps, starting with an I-step (paper 5; Table 6b)", o => o.Steps, (o, v) => o with { Steps = Int("steps", v) }),
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
                _ => throw new ArgumentException($"schedule '{v}': expected alternate, inpaint or outpaint"),
            } }),
        Opt("paints", "N: paints per step, one batch (paper 5)", o => o.Paints, (o, v) => o with { Paints = Int("paints", v) }),
        Opt("iterations", "DDIM iterations per paint (paper 50; Table 6c)", o => o.PaintIterations, (o, v) => o with { PaintIterations = Int("iterations", v) }),
        Opt("paint-prompt", "Text prompt of the painter (paper: empty)", o => o.PaintPrompt, (o, v) => o with { PaintPrompt = v }),
        Opt("guidance", "Classifier-free guidance (authors 7.5; unused with an empty prompt)", o => o.Guidance, (o, v) => o with { Guidance = Double("guidance", v) }),
        Opt("painter-form", "What each step paints: paper (mask / background) or authors (dilated mask / background ring)", o => o.Painter, (o, v) => o with { Painter = Enum<PainterForm>("painter-form", v) }),
        Opt("align-latent", "Round the painted region up to whole latent cells", o => o.AlignToLatent, (o, v) => o with { AlignToLatent = Bool("align-latent", v) }),
        Opt("inpaint-dilation", "Authors' form: I-step dilation, 3x3-cross iterations at 512 px (code 4)", o => o.InpaintDilationAt512, (o, v) => o with { InpaintDilationAt512 = Double("inpaint-dilation", v) }),
        Opt("outpaint-ring", "Authors' form: O-step ring radius in pixels at 512 px (code 7)", o => o.OutpaintRingAt512, (o, v) => o with { OutpaintRingAt512 = Double("outpaint-ring", v) }),
        Opt("paint-weight", "lambda_paint (paper 0.8)", o => o.PaintWeight, (o, v) => o with { PaintWeight = Double("paint-weight", v) }),
        Opt("crf-weight", "lambda_color, the DenseCRF term (paper 0.2; 0 = off)", o => o.CrfWeight, (o, v) => o with { CrfWeight = Double("crf-weight", v) }),
        Opt("prompt-weight", "lambda_prompt, the prompt prior (paper 0.2)", o => o.PromptWeight, (o, v) => o with { PromptWeight = Double("prompt-weight", v) }),
        Opt("prompt-decay", "Prompt weight decrease per step (authors 0.04; paper 0)", o => o.PromptWeightDecay, (o, v) => o with { PromptWeightDecay = Double("prompt-decay", v) }),
        Opt("prompt-sigma", "Prompt Gaussian sigma as a fraction of the box (paper 0.1)", o => o.PromptSigma, (o, v) => o with { PromptSigma = Double("prompt-sigma", v) }),
        Opt("box-rate", "Box rate of the potential's region (paper 1.1; Table 6d)", o => o.BoxRate, (o, v) => o with { BoxRate = Double("box-rate", v) }),
        Opt("crf-argmax", "Use the CRF's label (authors) instead of its probability", o => o.CrfArgmax, (o, v) => o with { CrfArgmax = Bool("crf-argmax", v) }),
        Opt("crf-iterations", "DenseCRF mean-field iterations (authors 10)", o => o.Crf.Iterations, (o, v) => o with { Crf = o.Crf with { Iterations = Int("crf-iterations", v) } }),
        Opt("k", "K of the k-means (paper 2; Table 6a)", o => o.Clusters, (o, v) => o with { Clusters = Int("k", v) }),
        Opt("k-early", "K in the first steps for point, box and scribble prompts (paper 3)", o => o.EarlyClusters, (o, v) => o with { EarlyClusters = Int("k-early", v) }),
        Opt("early-steps", "How many first steps use k-early (paper 3)", o => o.EarlySteps, (o, v) => o with { EarlySteps = Int("early-steps", v) }),
        Opt("outpaint-object", "O-step object: not-changed (paper) or smallest (authors' smallest cluster)", o => o.OutpaintObject == OutpaintObjectRule.SmallestCluster ? "smallest" : "not-changed",
            (o, v) => o with { OutpaintObject = v.Trim().ToLowerInvariant() switch
            {
                "not-changed" or "notchanged" => OutpaintObjectRule.NotChanged,
                "smallest" or "smallestcluster" => OutpaintObjectRule.SmallestCluster,
                _ => throw new ArgumentException($"outpaint-object '{v}': expected not-changed or smallest"),
            } }),
        Opt("adversarial", "Eq. 4's band constraint on updates", o => o.AdversarialConstraint, (o, v) => o with { AdversarialConstraint = Bool("adversarial", v) }),
        Opt("band", "Band width of Eq. 4 in pixels at 512 px (paper 32)", o => o.BandWidthAt512, (o, v) => o with { BandWidthAt512 = Double("band", v) }),
        Opt("vote", "Share of the N paints that must call a pixel object (paper 0.5)", o => o.VoteThreshold, (o, v) => o with { VoteThreshold = Double("vote", v) }),
        Opt("clean", "Opening and closing kernel after each update (authors 5; 0 = none)", o => o.CleanKernel, (o, v) => o with { CleanKernel = Int("clean", v) }),
        new PaintSegSetting("prompt-noise", "Prompt noise, fraction of half the box diagonal (Table 5: 0, 0.15, 0.3)", s => Text(s.PromptNoise),
            (s, v) => s with { PromptNoise = Double("prompt-noise", v) }),
        new PaintSegSetting("severity", "Coarse-mask severity for mask prompts: low, medium, high or 0..1", s => s.Severity.ToString(),
            (s, v) => s with { Severity = Severity.Parse(v) }),
        new PaintSegSetting("point-mode", "Point prompts: centroid or random", s => s.PointMode == PointMode.Centroid ? "centroid" : "random",
            (s, v) => s with { PointMode = v.Trim().ToLowerInvariant() switch
            {
                "centroid" => PointMode.Centroid,
                "random" or "randominterior" => PointMode.RandomInterior,
                _ => throw new ArgumentException($"point-mode '{v}': expected centroid or random"),
            } }),
    };

    /// <summary>The setting named <paramref name="key"/> (an error lists the known keys).</summary>
    public static PaintSegSetting Find(string key) =>
        All.FirstOrDefault(s => string.Equals(s.Key, key?.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"setting '{key}': unknown; expected one of {string.Join(", ", All.Select(s => s.Key))}");

    /// <summary>A copy of <paramref name="settings"/> with <paramref name="key"/> set from text, validated.</summary>
    public static PaintSegEvalSettings Apply(PaintSegEvalSettings settings, string key, string value)
    {
        var next = Find(key).Set(settings, value);
        next.Options.Validate();
        return next;
    }

    /// <summary>Every setting's current value, by key.</summary>
    public static IReadOnlyDictionary<string, string> Values(PaintSegEvalSettings settings) => All.ToDictionary(s => s.Key, s => s.Get(settings));

    /// <summary>Parses "key=v1,v2,..." into the key and its values.</summary>
    public static (string Key, IReadOnlyList<string> Values) ParseSweep(string text)
    {
        int eq = text?.IndexOf('=') ?? -1;
        if (eq <= 0 || eq == text!.Length - 1) throw new ArgumentException($"sweep '{text}': expected key=v1,v2,... (e.g. k=2,3,4)");
        var key = Find(text[..eq]).Key;
        var values = text[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (values.Length == 0) throw new ArgumentException($"sweep '{text}': no values");
        return (key, values);
    }

    static PaintSegOptions Modules(PaintSegOptions o, string v) => v.Trim().ToLowerInvariant() switch
    {
        "i" => o with { Schedule = StepSchedule.InpaintOnly, AdversarialConstraint = false },
        "o" => o with { Schedule = StepSchedule.OutpaintOnly, AdversarialConstraint = false },
        "io" => o with { Schedule = StepSchedule.Alternate, AdversarialConstraint = false },
        "io+adv" or "io-adv" or "all" => o with { Schedule = StepSchedule.Alternate, AdversarialConstraint = true },
        _ => throw new ArgumentException($"modules '{v}': expected i, o, io or io+adv"),
    };

    static string Text(object value) => value switch
    {
        double d => d.ToString("0.####", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        Enum e => e.ToString().ToLowerInvariant(),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    static int Int(string key, string v) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) ? x : throw new ArgumentException($"{key} '{v}': expected an integer");

    static double Double(string key, string v) =>
        double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) ? x : throw new ArgumentException($"{key} '{v}': expected a number");

    static bool Bool(string key, string v) => v.Trim().ToLowerInvariant() switch
    {
        "true" or "on" or "yes" or "1" => true,
        "false" or "off" or "no" or "0" => false,
        _ => throw new ArgumentException($"{key} '{v}': expected true or false"),
    };

    static T Enum<T>(string key, string v) where T : struct, Enum =>
        System.Enum.TryParse<T>(v.Trim().Replace("-", ""), ignoreCase: true, out var x) && System.Enum.IsDefined(x)
            ? x
            : throw new ArgumentException($"{key} '{v}': expected one of {string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
}
