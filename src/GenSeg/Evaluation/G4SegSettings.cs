using System.Globalization;
using GenSeg.Methods;
using GenSeg.Methods.G4Seg;

namespace GenSeg.Evaluation;

/// <summary>
/// Named settings of <see cref="G4SegOptions"/> and <see cref="CrossAttentionOptions"/> as text, for command-line flags
/// and sweeps (<c>--sweep timestep=100,200,300</c>): one parser serves both, so a sweep can vary every option a flag
/// sets. Values never contain commas (lists use '+', e.g. <c>levels=0+1</c>).
/// </summary>
public static class G4SegSettings
{
    /// <summary>The G4Seg setting names and what they take.</summary>
    public static IReadOnlyDictionary<string, string> Names { get; } = new Dictionary<string, string>
    {
        ["timestep"] = "t_s, an integer timestep (paper: 400)",
        ["b"] = "b of Eq. 9 in [0, 1] (paper: 0.8)",
        ["confusion"] = "none, or lo-hi of the class maximum, optionally @distance in px at 512 (paper: 0.2-0.6@40)",
        ["a"] = "injection weight a of Eq. 5 (>= 0)",
        ["injection"] = "additive (Eq. 5), densediffusion or none",
        ["inject"] = "both, self or cross",
        ["levels"] = "all, or UNet resolution levels joined by '+' (0 = the latent's resolution)",
        ["features"] = "colour-position, diffusion, clip or dino",
        ["feature-model"] = "CLIP / DINO model folder",
        ["feature-layer"] = "CLIP hidden state / DINO block (last when omitted)",
        ["feature-size"] = "CLIP / DINO input side in pixels",
        ["dift-up-block"] = "diffusion features: UNet up block index",
        ["dift-timestep"] = "diffusion features: timestep",
        ["dift-samples"] = "diffusion features: noise samples averaged",
        ["colour-weight"] = "colour+position features: colour weight",
        ["position-weight"] = "colour+position features: position weight",
        ["start"] = "noise (one step from x_t) or inversion (DDIM inversion to t_s)",
        ["inversion-steps"] = "DDIM inversion schedule length",
        ["direction"] = "generated (each generated pixel matched to the original, Eq. 8 as stated) or original (the reverse)",
        ["window"] = "none, or the correspondence search half-width in px at 512",
        ["modules"] = "baseline (no refinement), correspondence (no EMI, no confusion filter), emi (EMI, no confusion filter), full",
        ["prompt"] = "prompt template with {0} for the class name",
        ["seed"] = "noise seed",
        ["dd-time-factor"] = "on or off: DenseDiffusion's (t/1000)^5",
    };

    /// <summary>The cross-attention segmenter's setting names.</summary>
    public static IReadOnlyDictionary<string, string> AttentionNames { get; } = new Dictionary<string, string>
    {
        ["timestep"] = "timestep of the UNet pass",
        ["resolutions"] = "query side lengths joined by '+', e.g. 16+8",
        ["samples"] = "noise samples averaged",
        ["background"] = "constant or share",
        ["threshold"] = "constant background score on min-max normalised maps",
        ["background-weight"] = "weight of the non-object attention mass",
        ["non-object"] = "words (the prompt's other words), special (start, end, padding) or all (every other token)",
        ["propagate"] = "self-attention propagation steps",
        ["normalise"] = "raw, minmax or mean (each map over its image mean)",
        ["seed"] = "noise seed",
    };

    /// <summary>Returns <paramref name="o"/> with the setting <paramref name="name"/> = <paramref name="value"/>; errors name both.</summary>
    public static G4SegOptions Set(G4SegOptions o, string name, string value)
    {
        var v = value.Trim();
        var n = name.Trim().ToLowerInvariant();
        try
        {
            return n switch
            {
                "timestep" or "t" => o with { Timestep = Long(v) },
                "b" => o with { B = Double(v) },
                "confusion" => o with { Confusion = Confusion(v) },
                "a" or "weight" => o with { Injection = o.Injection with { Weight = Double(v) } },
                "injection" => o with { Injection = o.Injection with { Mode = v.ToLowerInvariant() switch
                {
                    "additive" => InjectionMode.Additive,
                    "densediffusion" or "dense-diffusion" => InjectionMode.DenseDiffusion,
                    "none" => InjectionMode.None,
                    _ => throw new FormatException("expected additive, densediffusion or none"),
                } } },
                "inject" => o with { Injection = v.ToLowerInvariant() switch
                {
                    "both" => o.Injection with { Self = true, Cross = true },
                    "self" => o.Injection with { Self = true, Cross = false },
                    "cross" => o.Injection with { Self = false, Cross = true },
                    _ => throw new FormatException("expected both, self or cross"),
                } },
                "levels" => o with { Injection = o.Injection with { Levels = v.Equals("all", StringComparison.OrdinalIgnoreCase) ? null : v.Split('+').Select(s => (int)Long(s)).ToArray() } },
                "features" => o with { Features = o.Features with { Kind = v.ToLowerInvariant() switch
                {
                    "colour-position" or "color-position" or "colour" => FeatureKind.ColourPosition,
                    "diffusion" or "dift" => FeatureKind.Diffusion,
                    "clip" => FeatureKind.Clip,
                    "dino" => FeatureKind.Dino,
                    _ => throw new FormatException("expected colour-position, diffusion, clip or dino"),
                } } },
                "feature-model" => o with { Features = o.Features with { ModelFolder = v } },
                "feature-layer" => o with { Features = o.Features with { Layer = (int)Long(v) } },
                "feature-size" => o with { Features = o.Features with { InputSize = (int)Long(v) } },
                "dift-up-block" => o with { Features = o.Features with { UpBlock = (int)Long(v) } },
                "dift-timestep" => o with { Features = o.Features with { Timestep = Long(v) } },
                "dift-samples" => o with { Features = o.Features with { Samples = (int)Long(v) } },
                "colour-weight" or "color-weight" => o with { Features = o.Features with { ColourWeight = Double(v) } },
                "position-weight" => o with { Features = o.Features with { PositionWeight = Double(v) } },
                "start" => o with { Inversion = v.ToLowerInvariant() switch
                {
                    "noise" or "one-step" => false,
                    "inversion" => true,
                    _ => throw new FormatException("expected noise or inversion"),
                } },
                "inversion-steps" => o with { InversionSteps = (int)Long(v) },
                "direction" => o with { Direction = v.ToLowerInvariant() switch
                {
                    "generated" or "generated-to-original" => CorrespondenceDirection.GeneratedToOriginal,
                    "original" or "original-to-generated" => CorrespondenceDirection.OriginalToGenerated,
                    _ => throw new FormatException("expected generated or original"),
                } },
                "window" => o with { CorrespondenceWindowAt512 = v.Equals("none", StringComparison.OrdinalIgnoreCase) ? null : (int)Long(v) },
                "modules" => Modules(o, v),
                "prompt" => o with { PromptTemplate = v },
                "seed" => o with { Seed = ulong.Parse(v, CultureInfo.InvariantCulture) },
                "dd-time-factor" => o with { Injection = o.Injection with { DenseDiffusionTimeFactor = OnOff(v) } },
                _ => throw new ArgumentException($"unknown G4Seg setting '{name}'; known: {string.Join(", ", Names.Keys)}", nameof(name)),
            };
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ArgumentException($"{name}={value}: {e.Message}", nameof(value));
        }
    }

    /// <summary>Returns <paramref name="o"/> with the cross-attention setting <paramref name="name"/> = <paramref name="value"/>.</summary>
    public static CrossAttentionOptions Set(CrossAttentionOptions o, string name, string value)
    {
        var v = value.Trim();
        try
        {
            return name.Trim().ToLowerInvariant() switch
            {
                "timestep" or "t" => o with { Timestep = Long(v) },
                "resolutions" => o with { Resolutions = v.Split('+').Select(Long).ToArray() },
                "samples" => o with { NoiseSamples = (int)Long(v) },
                "background" => o with { Background = v.ToLowerInvariant() switch
                {
                    "constant" => AttentionBackground.Constant,
                    "share" or "token-share" => AttentionBackground.TokenShare,
                    _ => throw new FormatException("expected constant or share"),
                } },
                "threshold" => o with { Threshold = Double(v) },
                "background-weight" => o with { BackgroundWeight = Double(v) },
                "non-object" => o with { NonObject = v.ToLowerInvariant() switch
                {
                    "words" => NonObjectTokens.PromptWords,
                    "all" => NonObjectTokens.AllOther,
                    "special" => NonObjectTokens.Special,
                    _ => throw new FormatException("expected words, special or all"),
                } },
                "propagate" => o with { SelfAttentionPropagation = (int)Long(v) },
                "normalise" or "normalize" => o with { Normalisation = v.ToLowerInvariant() switch
                {
                    "raw" => AttentionNormalisation.Raw,
                    "minmax" => AttentionNormalisation.MinMax,
                    "mean" => AttentionNormalisation.Mean,
                    _ => throw new FormatException("expected raw, minmax or mean"),
                } },
                "seed" => o with { Seed = ulong.Parse(v, CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"unknown attention setting '{name}'; known: {string.Join(", ", AttentionNames.Keys)}", nameof(name)),
            };
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ArgumentException($"{name}={value}: {e.Message}", nameof(value));
        }
    }

    /// <summary>
    /// Parses a sweep "name=v1,v2,..." into (label, value) pairs; <paramref name="set"/> applies each value to the base.
    /// </summary>
    public static IReadOnlyList<(string Label, T Options)> Sweep<T>(string spec, T baseOptions, Func<T, string, string, T> set)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int eq = spec.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == spec.Length - 1) throw new ArgumentException($"sweep '{spec}': expected name=value1,value2,...", nameof(spec));
        var name = spec[..eq].Trim();
        var values = spec[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (values.Length == 0) throw new ArgumentException($"sweep '{spec}': no values", nameof(spec));
        return values.Select(v => ($"{name}={v}", set(baseOptions, name, v))).ToArray();
    }

    static G4SegOptions Modules(G4SegOptions o, string v) => v.ToLowerInvariant() switch
    {
        "baseline" or "none" => o with { Correspondence = false },
        "correspondence" or "+correspondence" => o with
        {
            Correspondence = true,
            Injection = o.Injection with { Mode = InjectionMode.None },
            Confusion = ConfusionAreaOptions.Everywhere,
        },
        "emi" or "+emi" => o with
        {
            Correspondence = true,
            Injection = o.Injection with { Mode = o.Injection.Mode == InjectionMode.None ? InjectionMode.Additive : o.Injection.Mode },
            Confusion = ConfusionAreaOptions.Everywhere,
        },
        "full" or "+confusion" => o with
        {
            Correspondence = true,
            Injection = o.Injection with { Mode = o.Injection.Mode == InjectionMode.None ? InjectionMode.Additive : o.Injection.Mode },
            Confusion = o.Confusion == ConfusionAreaOptions.Everywhere ? new ConfusionAreaOptions() : o.Confusion,
        },
        _ => throw new FormatException("expected baseline, correspondence, emi or full"),
    };

    static ConfusionAreaOptions Confusion(string v)
    {
        if (v.Equals("none", StringComparison.OrdinalIgnoreCase)) return ConfusionAreaOptions.Everywhere;
        double? distance = 40;
        var range = v;
        int at = v.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            var d = v[(at + 1)..];
            distance = d.Equals("none", StringComparison.OrdinalIgnoreCase) ? null : Double(d);
            range = v[..at];
        }
        var parts = range.Split('-');
        if (parts.Length != 2) throw new FormatException("expected none or lo-hi (e.g. 0.2-0.6), optionally @distance");
        double lo = Double(parts[0]), hi = Double(parts[1]);
        if (!(lo <= hi)) throw new FormatException($"range {lo}-{hi}: the lower bound exceeds the upper");
        return new ConfusionAreaOptions(lo, hi, distance);
    }

    static bool OnOff(string v) => v.ToLowerInvariant() switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new FormatException("expected on or off"),
    };

    static long Long(string v) => long.Parse(v, NumberStyles.Integer, CultureInfo.InvariantCulture);

    static double Double(string v) => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture);
}
