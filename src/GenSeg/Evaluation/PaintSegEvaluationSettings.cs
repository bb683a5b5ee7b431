using GenSeg.Common;
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

/// <summary>
/// Every setting of a PaintSeg evaluation by name: the method's (<see cref="PaintSegSettings"/>) and the prompts'
/// (<c>prompt-noise</c>, Table 5; <c>severity</c>; <c>point-mode</c>), for the CLI, sweeps, notebooks and result JSON.
/// </summary>
public static class PaintSegEvaluationSettings
{
    static readonly (string, PointMode)[] PointModes = { ("centroid", PointMode.Centroid), ("random", PointMode.RandomInterior), ("randominterior", PointMode.RandomInterior) };

    /// <summary>All settings, in the order the CLI lists them.</summary>
    public static IReadOnlyList<Setting<PaintSegEvalSettings>> All { get; } = PaintSegSettings.All
        .Select(s => s.Lift<PaintSegEvalSettings>(e => e.Options, (e, o) => e with { Options = o }))
        .Concat(new Setting<PaintSegEvalSettings>[]
        {
            new("prompt-noise", "Prompt noise, fraction of half the box diagonal (Table 5: 0, 0.15, 0.3)", (s, v) => s with { PromptNoise = SettingTable.Double(v) },
                s => SettingTable.Text(s.PromptNoise)),
            new("severity", "Coarse-mask severity for mask prompts: low, medium, high or 0..1", (s, v) => s with { Severity = Severity.Parse(v) }, s => s.Severity.ToString()),
            new("point-mode", "Point prompts: centroid or random", (s, v) => s with { PointMode = SettingTable.OneOf(v, PointModes) },
                s => s.PointMode == PointMode.Centroid ? "centroid" : "random"),
        }).ToArray();

    /// <summary>The setting named <paramref name="name"/> (an error lists the known names).</summary>
    public static Setting<PaintSegEvalSettings> Find(string name) => SettingTable.Find(All, name);

    /// <summary>A copy of <paramref name="settings"/> with <paramref name="name"/> set from text, validated.</summary>
    public static PaintSegEvalSettings Apply(PaintSegEvalSettings settings, string name, string value)
    {
        var next = SettingTable.Apply(All, settings, name, value);
        next.Options.Validate();
        return next;
    }

    /// <summary>Every setting's current value, by name.</summary>
    public static IReadOnlyDictionary<string, string> Values(PaintSegEvalSettings settings) => SettingTable.Values(All, settings);

    /// <summary>Parses "name=v1,v2,..." into the name and its values.</summary>
    public static (string Key, IReadOnlyList<string> Values) ParseSweep(string text) => SettingTable.ParseSweep(All, text);
}
