using GenSeg.Common;
using GenSeg.Diffusion;
using static GenSeg.Common.SettingText;

namespace GenSeg.Features;

/// <summary>Which feature extractor E a method compares pixels with (G4Seg's correspondence, Eq. 8; PaintSeg's potential, Eq. 1).</summary>
public enum FeatureKind
{
    /// <summary>Diffusion features: a UNet up block's output at a timestep (DIFT), from the pipeline's own UNet.</summary>
    Diffusion,

    /// <summary>Each pixel's colour and position (no model); the position weight 0 gives colour alone.</summary>
    ColourPosition,

    /// <summary>CLIP vision patch tokens (G4Seg's choice); needs a CLIP vision model folder.</summary>
    Clip,

    /// <summary>DINO ViT patch features (PaintSeg's choice); needs a DINO model folder.</summary>
    Dino,

    /// <summary>The mean colour over a window (a texture's phase left out).</summary>
    LocalColour,

    /// <summary>The pipeline's VAE encoder (posterior mean).</summary>
    Vae,
}

/// <summary>The settings of a feature extractor; <see cref="FeatureExtractors.Create"/> builds it.</summary>
public sealed record FeatureOptions
{
    /// <summary>The extractor. The default is the one that evaluated best on ToyWorld val with the embedded model.</summary>
    public FeatureKind Kind { get; init; } = FeatureKind.ColourPosition;

    /// <summary>Diffusion features: the up block whose output is taken (DIFT: up_blocks[1]).</summary>
    public int UpBlock { get; init; } = 1;

    /// <summary>Diffusion features: the timestep (DIFT: 261 of 1000).</summary>
    public long Timestep { get; init; } = 261;

    /// <summary>Diffusion features: noise samples averaged (DIFT: 8).</summary>
    public int Samples { get; init; } = 8;

    /// <summary>Diffusion features: prompt (DIFT: empty).</summary>
    public string Prompt { get; init; } = "";

    /// <summary>Colour+position features: weight of the colour channels.</summary>
    public double ColourWeight { get; init; } = 1.0;

    /// <summary>Colour+position features: weight of the position channels.</summary>
    public double PositionWeight { get; init; } = 0.5;

    /// <summary>Local colour: the window's side in pixels (odd).</summary>
    public int Window { get; init; } = 5;

    /// <summary>CLIP / DINO: the model folder (config.json + weights).</summary>
    public string? ModelFolder { get; init; }

    /// <summary>CLIP: hidden state index (0 = embeddings, i = layer i); DINO: block (1-based); null = the last.</summary>
    public int? Layer { get; init; }

    /// <summary>CLIP / DINO: the side the image is resized to before encoding (the paper: CLIP at its native 224).</summary>
    public int InputSize { get; init; } = 224;

    /// <summary>Checks every value; errors name it.</summary>
    public void Validate()
    {
        if (Samples < 1) throw new ArgumentOutOfRangeException(nameof(Samples), Samples, "feature noise samples: expected >= 1");
        if (Window < 1 || Window % 2 == 0) throw new ArgumentOutOfRangeException(nameof(Window), Window, "local-colour window: expected an odd side >= 1");
        if (InputSize < 8) throw new ArgumentOutOfRangeException(nameof(InputSize), InputSize, "feature input size: expected >= 8 pixels");
    }
}

/// <summary>
/// The one factory of feature extractors, and their settings by name (one set of words for every method, the CLI and
/// the notebooks): colour-position (alias colour), local-colour (or local-colour:W), vae, diffusion (alias dift), clip,
/// dino.
/// </summary>
public static class FeatureExtractors
{
    static readonly (string, FeatureKind)[] Kinds =
    {
        ("colour-position", FeatureKind.ColourPosition), ("color-position", FeatureKind.ColourPosition), ("colour", FeatureKind.ColourPosition),
        ("local-colour", FeatureKind.LocalColour), ("vae", FeatureKind.Vae), ("diffusion", FeatureKind.Diffusion), ("dift", FeatureKind.Diffusion),
        ("clip", FeatureKind.Clip), ("dino", FeatureKind.Dino),
    };

    /// <summary>
    /// Builds the extractor <paramref name="f"/> names. The model-based ones use <paramref name="pipeline"/> (diffusion,
    /// vae; CLIP and DINO take its device and type and load their own folder); <paramref name="seed"/> seeds diffusion
    /// features' noise.
    /// </summary>
    public static IFeatureExtractor Create(FeatureOptions f, StableDiffusionPipeline? pipeline, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(f);
        f.Validate();
        string Folder() => f.ModelFolder ?? throw new ArgumentException($"features {NameOf(f.Kind, Kinds)}: expected a model folder (feature-model)", nameof(f));
        StableDiffusionPipeline Pipeline() => pipeline ?? throw new ArgumentException($"features {NameOf(f.Kind, Kinds)}: need the diffusion model (a pipeline)", nameof(pipeline));
        return f.Kind switch
        {
            FeatureKind.ColourPosition => new ColourPositionFeatures(f.ColourWeight, f.PositionWeight),
            FeatureKind.LocalColour => new LocalColourFeatures(f.Window),
            FeatureKind.Vae => new VaeEncoderFeatures(Pipeline()),
            FeatureKind.Diffusion => new DiffusionFeatures(Pipeline(), f.UpBlock, f.Timestep, f.Samples, f.Prompt, seed),
            FeatureKind.Clip => VitFeatures.ClipFromFolder(Folder(), f.Layer, f.InputSize, pipeline?.Device, pipeline?.DType),
            FeatureKind.Dino => VitFeatures.DinoFromFolder(Folder(), f.Layer, f.InputSize, pipeline?.Device, pipeline?.DType),
            _ => throw new ArgumentOutOfRangeException(nameof(f), f.Kind, "unknown feature kind"),
        };
    }

    /// <summary>Whether <paramref name="f"/> needs the diffusion model.</summary>
    public static bool NeedsPipeline(FeatureOptions f) => f?.Kind is FeatureKind.Diffusion or FeatureKind.Vae;

    /// <summary>The settings of <see cref="FeatureOptions"/> by name, validated by <see cref="FeatureOptions.Validate"/> (kind-specific ones say which kind they serve).</summary>
    public static SettingTable<FeatureOptions> Table { get; } = new("features", new Setting<FeatureOptions>[]
    {
        new("features", "E: colour-position, local-colour (or local-colour:W), vae, diffusion (DIFT), clip or dino", Kind, f => f.Kind == FeatureKind.LocalColour ? $"local-colour:{f.Window}" : NameOf(f.Kind, Kinds)),
        new("feature-model", "CLIP / DINO model folder (empty: none)", (f, v) => f with { ModelFolder = v.Length == 0 ? null : v }, f => f.ModelFolder ?? ""),
        new("feature-layer", "CLIP hidden state / DINO block, or last", (f, v) => f with { Layer = v.Equals("last", StringComparison.OrdinalIgnoreCase) ? null : Int(v) },
            f => f.Layer is { } l ? Text(l) : "last"),
        new("feature-size", "CLIP / DINO input side in pixels", (f, v) => f with { InputSize = Int(v) }, f => Text(f.InputSize)),
        new("dift-up-block", "diffusion features: UNet up block index", (f, v) => f with { UpBlock = Int(v) }, f => Text(f.UpBlock)),
        new("dift-timestep", "diffusion features: timestep", (f, v) => f with { Timestep = Long(v) }, f => Text(f.Timestep)),
        new("dift-samples", "diffusion features: noise samples averaged", (f, v) => f with { Samples = Int(v) }, f => Text(f.Samples)),
        new("dift-prompt", "diffusion features: the UNet's text prompt (empty: none)", (f, v) => f with { Prompt = v }, f => f.Prompt),
        new("colour-weight", "colour+position features: colour weight", (f, v) => f with { ColourWeight = Double(v) }, f => Text(f.ColourWeight)),
        new("position-weight", "colour+position features: position weight", (f, v) => f with { PositionWeight = Double(v) }, f => Text(f.PositionWeight)),
        new("local-window", "local-colour features: window side in pixels (odd)", (f, v) => f with { Window = Int(v) }, f => Text(f.Window)),
    }, f => f.Validate(), ("colour-position", () => new FeatureOptions()));

    static FeatureOptions Kind(FeatureOptions f, string v)
    {
        const string local = "local-colour:";
        if (v.StartsWith(local, StringComparison.OrdinalIgnoreCase)) return f with { Kind = FeatureKind.LocalColour, Window = Int(v[local.Length..]) };
        return f with { Kind = OneOf(v, Kinds) };
    }
}
