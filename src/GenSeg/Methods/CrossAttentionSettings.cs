using System.Globalization;
using GenSeg.Common;
using static GenSeg.Common.SettingText;

namespace GenSeg.Methods;

/// <summary>
/// Every setting of <see cref="CrossAttentionOptions"/> by name (DiffSegmenter's values are the options' defaults), for
/// the CLI's flags, sweeps, notebooks and result JSON alike.
/// </summary>
public static class CrossAttentionSettings
{
    static readonly (string, AttentionBackground)[] Backgrounds =
        { ("constant", AttentionBackground.Constant), ("share", AttentionBackground.TokenShare), ("token-share", AttentionBackground.TokenShare) };

    static readonly (string, NonObjectTokens)[] NonObjects =
        { ("words", NonObjectTokens.PromptWords), ("special", NonObjectTokens.Special), ("all", NonObjectTokens.AllOther) };

    static readonly (string, AttentionNormalisation?)[] Normalisations =
    {
        ("auto", null), ("raw", AttentionNormalisation.Raw), ("minmax", AttentionNormalisation.MinMax), ("mean", AttentionNormalisation.Mean),
    };

    /// <summary>The table: every setting in the order the CLI lists them, validated by <see cref="CrossAttentionOptions.Validate"/>; one preset, DiffSegmenter's values.</summary>
    public static SettingTable<CrossAttentionOptions> Table { get; } = new("cross-attention", Entries(), o => o.Validate(),
        ("diffsegmenter", () => new CrossAttentionOptions()));

    static Setting<CrossAttentionOptions>[] Entries() => new Setting<CrossAttentionOptions>[]
    {
        new("timestep", "timestep of the UNet pass (DiffSegmenter: 100)", (o, v) => o with { Timestep = Long(v) }, o => Text(o.Timestep)),
        new("resolutions", "query side lengths joined by '+', e.g. 16+8", (o, v) => o with { Resolutions = v.Split('+').Select(Long).ToArray() },
            o => string.Join("+", o.Resolutions)),
        new("samples", "noise samples averaged", (o, v) => o with { NoiseSamples = Int(v) }, o => Text(o.NoiseSamples)),
        new("background", "constant or share", (o, v) => o with { Background = OneOf(v, Backgrounds) }, o => NameOf(o.Background, Backgrounds)),
        new("threshold", "constant background score on min-max normalised maps (DiffSegmenter: 0.6)", (o, v) => o with { Threshold = Double(v) }, o => Text(o.Threshold)),
        new("background-weight", "weight of the non-object attention mass", (o, v) => o with { BackgroundWeight = Double(v) }, o => Text(o.BackgroundWeight)),
        new("non-object", "words (the prompt's other words), special (start, end, padding) or all (every other token)",
            (o, v) => o with { NonObject = OneOf(v, NonObjects) }, o => NameOf(o.NonObject, NonObjects)),
        new("propagate", "self-attention propagation steps", (o, v) => o with { SelfAttentionPropagation = Int(v) }, o => Text(o.SelfAttentionPropagation)),
        new("normalise", "auto (min-max with a constant background, raw with share), raw, minmax or mean (each map over its image mean)",
            (o, v) => o with { Normalisation = OneOf(v, Normalisations) }, o => NameOf(o.Normalisation, Normalisations)),
        new("prompt-prefix", "the prompt before the class names", (o, v) => o with { PromptPrefix = v }, o => o.PromptPrefix),
        new("seed", "noise seed", (o, v) => o with { Seed = ULong(v) }, o => o.Seed.ToString(CultureInfo.InvariantCulture)),
    };
}
