using GenSeg.Common;
using GenSeg.Features;
using GenSeg.Diffusion.Schedulers;
using static GenSeg.Common.SettingText;

namespace GenSeg.Methods.G4Seg;

/// <summary>
/// Every setting of <see cref="G4SegOptions"/> by name (the paper's values are written once, as the options' defaults,
/// and shown by the CLI as each flag's default): the CLI's flags
/// (<c>--timestep 300</c>), sweeps (<c>--sweep timestep=100,200,300</c>), the notebooks and the result JSON all use
/// this table, so a result's recorded values rerun it. Lists use '+' (<c>levels=0+1</c>), never commas.
/// </summary>
public static class G4SegSettings
{
    static readonly (string, InjectionMode)[] InjectionModes =
        { ("additive", InjectionMode.Additive), ("densediffusion", InjectionMode.DenseDiffusion), ("dense-diffusion", InjectionMode.DenseDiffusion), ("none", InjectionMode.None) };

    static readonly (string, (bool Self, bool Cross))[] InjectSites =
        { ("both", (true, true)), ("self", (true, false)), ("cross", (false, true)), ("neither", (false, false)) };

    static readonly (string, bool)[] Starts = { ("noise", false), ("one-step", false), ("inversion", true) };

    static readonly (string, CorrespondenceDirection)[] Directions =
    {
        ("generated", CorrespondenceDirection.GeneratedToOriginal), ("generated-to-original", CorrespondenceDirection.GeneratedToOriginal),
        ("original", CorrespondenceDirection.OriginalToGenerated), ("original-to-generated", CorrespondenceDirection.OriginalToGenerated),
    };

    static Setting<G4SegOptions> Injection(string name, string description, Func<InjectionOptions, string, InjectionOptions> parse, Func<InjectionOptions, string> format) =>
        new Setting<InjectionOptions>(name, description, parse, format).Lift<G4SegOptions>(o => o.Injection, (o, i) => o with { Injection = i });


    /// <summary>
    /// The table: every setting in the order the CLI lists them ("modules", a shortcut, first: the settings after it
    /// refine it), validated by <see cref="G4SegOptions.Validate"/>, with the presets paper (the defaults) and toyworld.
    /// </summary>
    public static SettingTable<G4SegOptions> Table { get; } = new("G4Seg", Entries(), o => o.Validate(),
        ("paper", () => G4SegOptions.Paper), ("toyworld", () => G4SegOptions.ToyWorld));

    static Setting<G4SegOptions>[] Entries() => new Setting<G4SegOptions>[]
    {
        new Setting<G4SegOptions>("modules", "Table 4's modules: baseline (no refinement), correspondence (no EMI, no confusion filter), emi (EMI, no confusion filter), full",
            Modules, o => !o.Correspondence ? "baseline"
                : o.Confusion != ConfusionAreaOptions.Everywhere ? "full"
                : o.Injection.Mode == InjectionMode.None ? "correspondence" : "emi"),
        new("timestep", "t_s, an integer timestep", (o, v) => o with { Timestep = Long(v) }, o => Text(o.Timestep)),
        new("b", "b of Eq. 9 in [0, 1]", (o, v) => o with { B = Double(v) }, o => Text(o.B)),
        new("confusion", "none, or lo-hi of the class maximum, optionally @distance in px at 512 or @none",
            (o, v) => o with { Confusion = Confusion(v) }, o => Confusion(o.Confusion)),
        new("correspondence", "Eq. 8-9's pixel matching and mixing: on, or off (the coarse masks unchanged)", (o, v) => o with { Correspondence = Bool(v) }, o => Text(o.Correspondence)),
        Injection("injection", "additive (Eq. 5), densediffusion or none", (i, v) => i with { Mode = OneOf(v, InjectionModes) }, i => NameOf(i.Mode, InjectionModes)),
        Injection("a", "injection weight a of Eq. 5 (>= 0)", (i, v) => i with { Weight = Double(v) }, i => Text(i.Weight)),
        Injection("inject", "attention the masks are injected into: both, self, cross or neither", (i, v) =>
        {
            var (self, cross) = OneOf(v, InjectSites);
            return i with { Self = self, Cross = cross };
        }, i => NameOf((i.Self, i.Cross), InjectSites)),
        Injection("levels", "all, or UNet resolution levels joined by '+' (0 = the latent's resolution)",
            (i, v) => i with { Levels = v.Equals("all", StringComparison.OrdinalIgnoreCase) ? null : v.Split('+').Select(Int).ToArray() },
            i => i.Levels is null ? "all" : string.Join("+", i.Levels)),
        Injection("dd-cross-weight", "DenseDiffusion: cross-attention modulation weight", (i, v) => i with { DenseDiffusionCrossWeight = Double(v) }, i => Text(i.DenseDiffusionCrossWeight)),
        Injection("dd-self-weight", "DenseDiffusion: self-attention modulation weight", (i, v) => i with { DenseDiffusionSelfWeight = Double(v) }, i => Text(i.DenseDiffusionSelfWeight)),
        Injection("dd-size-reg", "DenseDiffusion: mask-size regulariser", (i, v) => i with { DenseDiffusionSizeReg = Double(v) }, i => Text(i.DenseDiffusionSizeReg)),
        Injection("dd-time-factor", "DenseDiffusion's (t/1000)^5: on or off", (i, v) => i with { DenseDiffusionTimeFactor = Bool(v) }, i => Text(i.DenseDiffusionTimeFactor)),
    }.Concat(FeatureExtractors.Table.Lift<G4SegOptions>(o => o.Features, (o, f) => o with { Features = f })).Concat(new Setting<G4SegOptions>[]
    {
        new("start", "noise (one step from x_t) or inversion (DDIM inversion to t_s)", (o, v) => o with { Inversion = OneOf(v, Starts) }, o => NameOf(o.Inversion, Starts)),
        new("inversion-steps", "DDIM inversion schedule length", (o, v) => o with { InversionSteps = Int(v) }, o => Text(o.InversionSteps)),
        new("inversion-scheduler", "Inversion's scheduler: ddim, dpm++2m (diffusers' inverse DPM-Solver++) or euler", (o, v) => o with { InversionScheduler = Schedulers.Parse(v) }, o => o.InversionScheduler),
        new("direction", "generated (each generated pixel matched to the original, Eq. 8 as stated) or original (the reverse)",
            (o, v) => o with { Direction = OneOf(v, Directions) }, o => NameOf(o.Direction, Directions)),
        new("window", "none, or the correspondence search half-width in px at 512",
            (o, v) => o with { CorrespondenceWindowAt512 = v.Equals("none", StringComparison.OrdinalIgnoreCase) ? null : Int(v) },
            o => o.CorrespondenceWindowAt512 is { } w ? Text(w) : "none"),
        new("prompt", "prompt template with {0} for the class name", (o, v) => o with { PromptTemplate = v }, o => o.PromptTemplate),
        new("compose", "all classes of an image in one UNet pass, decode and correspondence (composed injection): true, or false (one pass per class)", (o, v) => o with { Compose = Bool(v) }, o => Text(o.Compose)),
        new("decode-window", "decode only the latent cells whose generated pixels the correspondence reads (the confusion areas' box plus the margin; the whole latent when it may read any): true, or false (the whole latent)",
            (o, v) => o with { DecodeWindow = Bool(v) }, o => Text(o.DecodeWindow)),
        new("decode-margin", "decode window: latent cells added on each side for the VAE decoder's receptive field", (o, v) => o with { DecodeWindowMargin = Int(v) }, o => Text(o.DecodeWindowMargin)),
        new("seed", "noise seed", (o, v) => o with { Seed = ULong(v) }, o => o.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    }).ToArray();

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

    static string Confusion(ConfusionAreaOptions c) =>
        c == ConfusionAreaOptions.Everywhere ? "none"
        : $"{(c.Low is { } lo ? Text(lo) : "0")}-{(c.High is { } hi ? Text(hi) : "1")}@{(c.EdgeDistanceAt512 is { } d ? Text(d) : "none")}";

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
        if (!(lo <= hi)) throw new FormatException($"range {Text(lo)}-{Text(hi)}: the lower bound exceeds the upper");
        return new ConfusionAreaOptions(lo, hi, distance);
    }
}
