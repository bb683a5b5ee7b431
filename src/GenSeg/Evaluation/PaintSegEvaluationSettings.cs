using GenSeg.Common;
using GenSeg.Features;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;

namespace GenSeg.Evaluation;

/// <summary>Which ToyWorld objects an evaluation runs on, and how its intervals are computed.</summary>
public abstract record ToyWorldEvaluationOptions
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
public sealed record PaintSegEvaluationOptions : ToyWorldEvaluationOptions
{
    /// <summary>The prompt type.</summary>
    public PromptKind Prompt { get; init; } = PromptKind.Box;

    /// <summary>Prompt noise for box, point and scribble prompts, as a fraction of half the box diagonal (Table 5).</summary>
    public double PromptNoise { get; init; }

    /// <summary>Where point prompts are placed.</summary>
    public PointMode PointMode { get; init; } = PointMode.Centroid;

    /// <summary>The method's settings.</summary>
    public PaintSegOptions Options { get; init; } = new();

    /// <summary>E of Eq. 1 (default: pixel colour, no position).</summary>
    public FeatureOptions Features { get; init; } = new() { PositionWeight = 0 };

    /// <summary>The painter: diffusion (the model's inpainting UNet) or oracle (ToyWorld's exact renders, the ideal painter).</summary>
    public string Painter { get; init; } = PainterChoice.Diffusion;
}

/// <summary>
/// Every setting of a PaintSeg evaluation by name: the method's (<see cref="PaintSegSettings"/>) and the prompts'
/// (<c>prompt-noise</c>, Table 5; <c>severity</c>; <c>point-mode</c>), for the CLI, sweeps, notebooks and result JSON.
/// Its presets are the method's, on the evaluation's defaults.
/// </summary>
public static class PaintSegEvaluationSettings
{
    static readonly (string, PromptKind)[] PromptKinds =
        { ("box", PromptKind.Box), ("point", PromptKind.Point), ("scribble", PromptKind.Scribble), ("mask", PromptKind.Mask) };

    static readonly (string, PointMode)[] PointModes = { ("centroid", PointMode.Centroid), ("random", PointMode.RandomInterior), ("randominterior", PointMode.RandomInterior) };

    /// <summary>The table, validated by the method's options' <see cref="PaintSegOptions.Validate"/> and the prompt noise's range.</summary>
    public static SettingTable<PaintSegEvaluationOptions> Table { get; } = new("PaintSeg evaluation",
        new Setting<PaintSegEvaluationOptions>[]
        {
            new("prompt", "Prompt type: box, mask, scribble or point (Table 5)", (s, v) => s with { Prompt = SettingText.OneOf(v, PromptKinds) },
                s => SettingText.NameOf(s.Prompt, PromptKinds)),
        }.Concat(PaintSegSettings.Table.Lift<PaintSegEvaluationOptions>(e => e.Options, (e, o) => e with { Options = o }))
        .Concat(FeatureExtractors.Table.Lift<PaintSegEvaluationOptions>(e => e.Features, (e, f) => e with { Features = f }))
        .Concat(new Setting<PaintSegEvaluationOptions>[]
        {
            new("painter", "diffusion (the model's inpainting UNet) or oracle (ToyWorld's exact renders: the ideal painter)",
                (s, v) => s with { Painter = PainterChoice.Parse(v) }, s => s.Painter),
            new("prompt-noise", "Prompt noise, fraction of half the box diagonal (Table 5: 0, 0.15, 0.3)", (s, v) => s with { PromptNoise = SettingText.Double(v) },
                s => SettingText.Text(s.PromptNoise)),
            new("severity", "Coarse-mask severity for mask prompts: low, medium, high or 0..1", (s, v) => s with { Severity = Severity.Parse(v) }, s => s.Severity.ToString()),
            new("point-mode", "Point prompts: centroid or random", (s, v) => s with { PointMode = SettingText.OneOf(v, PointModes) },
                s => s.PointMode == PointMode.Centroid ? "centroid" : "random"),
        }).ToArray(),
        Validate,
        PaintSegSettings.Table.PresetNames.Select(name => (name, (Func<PaintSegEvaluationOptions>)(() => new PaintSegEvaluationOptions { Options = PaintSegSettings.Table.Preset(name) }))).ToArray());

    static void Validate(PaintSegEvaluationOptions s)
    {
        s.Options.Validate();
        s.Features.Validate();
        if (!(s.PromptNoise >= 0 && s.PromptNoise <= 1))
            throw new ArgumentOutOfRangeException(nameof(s.PromptNoise), s.PromptNoise, "prompt noise: expected a fraction of half the box diagonal in [0, 1]");
    }
}
