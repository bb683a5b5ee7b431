using GenSeg.Common;
using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// A transformers <c>CLIPVisionConfig</c> (flat, or the <c>vision_config</c> section of a full CLIP model's config).
/// Defaults are transformers' own.
/// </summary>
public sealed record ClipVisionConfig
{
    /// <summary>Width of the transformer.</summary>
    public int HiddenSize { get; init; } = 768;

    /// <summary>Width of each MLP's hidden layer.</summary>
    public int IntermediateSize { get; init; } = 3072;

    /// <summary>Width of <c>visual_projection</c>'s output (image_embeds).</summary>
    public int ProjectionDim { get; init; } = 512;

    /// <summary>Number of encoder layers.</summary>
    public int NumHiddenLayers { get; init; } = 12;

    /// <summary>Number of attention heads.</summary>
    public int NumAttentionHeads { get; init; } = 12;

    /// <summary>Input channels.</summary>
    public int NumChannels { get; init; } = 3;

    /// <summary>Side of the square training resolution; the position embeddings cover (image_size / patch_size)^2 patches.</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary>Side of a patch.</summary>
    public int PatchSize { get; init; } = 32;

    /// <summary><c>quick_gelu</c> (openai CLIP) or <c>gelu</c>.</summary>
    public string HiddenAct { get; init; } = ClipActivation.QuickGelu;

    /// <summary>LayerNorm epsilon.</summary>
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary>Patches per side at <see cref="ImageSize"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int GridSize => ImageSize / PatchSize;

    /// <summary>Reads a flat config.json or the <c>vision_config</c> section of a combined one.</summary>
    public static ClipVisionConfig Read(string path) => ConfigSection.Read<ClipVisionConfig>(path, "vision_config", out _);

    /// <summary>Checks the values the model depends on; errors name <paramref name="source"/> and the key.</summary>
    public void Validate(string source)
    {
        foreach (var (v, key) in new[] { (HiddenSize, "hidden_size"), (IntermediateSize, "intermediate_size"), (ProjectionDim, "projection_dim"),
                     (NumAttentionHeads, "num_attention_heads"), (NumChannels, "num_channels"), (ImageSize, "image_size"), (PatchSize, "patch_size") })
            if (v <= 0) throw new InvalidDataException($"{source}: {key} must be positive, got {v}");
        if (NumHiddenLayers < 0) throw new InvalidDataException($"{source}: num_hidden_layers must be >= 0, got {NumHiddenLayers}");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"{source}: hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        if (ImageSize < PatchSize) throw new InvalidDataException($"{source}: image_size {ImageSize} is smaller than patch_size {PatchSize}");
        if (HiddenAct is not (ClipActivation.QuickGelu or ClipActivation.Gelu))
            throw new InvalidDataException($"{source}: hidden_act '{HiddenAct}' is not supported (expected 'quick_gelu' or 'gelu')");
        if (!(LayerNormEps > 0)) throw new InvalidDataException($"{source}: layer_norm_eps must be positive, got {LayerNormEps}");
    }
}

/// <summary>What <see cref="ClipVisionModel.Forward"/> returns.</summary>
/// <param name="LastHiddenState">[B, 1 + h*w, C]: the last layer's output (no post_layernorm), CLS first.</param>
/// <param name="PooledOutput">[B, C]: post_layernorm of the CLS token.</param>
/// <param name="HiddenStates">
/// Index 0: the embeddings (patch + class + position) BEFORE pre_layrnorm, as the reference vectors define it (transformers'
/// own hidden_states[0] is after pre_layrnorm); index i >= 1: the output of layer i. Each [B, 1 + h*w, C].
/// </param>
/// <param name="ImageEmbeds">[B, projection_dim]: visual_projection(pooled), when the model has the projection.</param>
/// <param name="GridHeight">Patch rows h.</param>
/// <param name="GridWidth">Patch columns w.</param>
public sealed record ClipVisionOutput(Tensor LastHiddenState, Tensor PooledOutput, IReadOnlyList<Tensor> HiddenStates, Tensor? ImageEmbeds,
    long GridHeight, long GridWidth)
{
    /// <summary>The patch tokens of <see cref="HiddenStates"/>[<paramref name="layer"/>] as maps [B, C, h, w] (CLS dropped).</summary>
    public Tensor PatchTokens(int layer)
    {
        if (layer < 0 || layer >= HiddenStates.Count)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"hidden states run from 0 (embeddings) to {HiddenStates.Count - 1}");
        return TokenGrid.ToMaps(HiddenStates[layer], GridHeight, GridWidth);
    }
}

/// <summary>Hugging Face <c>CLIPVisionEmbeddings</c>: a patch convolution (no bias), a class token and positions.</summary>
public sealed class ClipVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    readonly Parameter class_embedding;
    readonly Conv2d patch_embedding;
    readonly Embedding position_embedding;
    readonly ClipVisionConfig config;

    /// <summary>Creates the embeddings.</summary>
    public ClipVisionEmbeddings(ClipVisionConfig config) : base(nameof(ClipVisionEmbeddings))
    {
        this.config = config;
        class_embedding = new Parameter(torch.zeros(config.HiddenSize));
        patch_embedding = nn.Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, stride: config.PatchSize, bias: false);
        position_embedding = nn.Embedding(config.GridSize * config.GridSize + 1, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>Embeds [B, C, H, W] at the native size (interpolation off).</summary>
    public override Tensor forward(Tensor pixelValues) => Embed(pixelValues, false);

    /// <summary>
    /// [B, C, H, W] -> [B, 1 + h*w, C]. With <paramref name="interpolate"/>, other sizes get position embeddings resized
    /// bicubically to the patch grid (transformers' interpolate_pos_encoding: size=(H/p, W/p), align_corners=False);
    /// without it the input must be image_size square.
    /// </summary>
    public Tensor Embed(Tensor pixelValues, bool interpolate)
    {
        Check.Shape(pixelValues, "pixel_values", -1, config.NumChannels, -1, -1);
        long height = pixelValues.shape[2], width = pixelValues.shape[3];
        if (!interpolate && (height != config.ImageSize || width != config.ImageSize))
            throw new ArgumentException($"pixel_values: input size {height}x{width} differs from the model's {config.ImageSize}x{config.ImageSize}; " +
                                        "pass interpolatePositions: true to interpolate the position embeddings", nameof(pixelValues));
        if (height < config.PatchSize || width < config.PatchSize)
            throw new ArgumentException($"pixel_values: input size {height}x{width} is smaller than one {config.PatchSize}-pixel patch", nameof(pixelValues));
        using var scope = NewDisposeScope();
        long b = pixelValues.shape[0];
        var patches = patch_embedding.call(pixelValues.to_type(patch_embedding.weight!.dtype)).flatten(2).transpose(1, 2);
        var cls = class_embedding.view(1, 1, -1).expand(b, 1, -1);
        var tokens = torch.cat(new[] { cls, patches }, 1);
        return (tokens + Positions(height, width)).MoveToOuterDisposeScope();
    }

    Tensor Positions(long height, long width)
    {
        var table = position_embedding.weight!.unsqueeze(0);
        long grid = config.GridSize, h = height / config.PatchSize, w = width / config.PatchSize;
        if (h == grid && w == grid) return table;
        var patchPos = table[.., 1..].reshape(1, grid, grid, -1).permute(0, 3, 1, 2);
        var resized = nn.functional.interpolate(patchPos, size: new[] { h, w }, mode: InterpolationMode.Bicubic, align_corners: false);
        return torch.cat(new[] { table[.., ..1], resized.permute(0, 2, 3, 1).reshape(1, h * w, -1) }, 1);
    }

    internal void Initialize()
    {
        using var noGrad = no_grad();
        nn.init.normal_(class_embedding, 0, Math.Pow(config.HiddenSize, -0.5));
        nn.init.normal_(patch_embedding.weight!, 0, 0.02);
        nn.init.normal_(position_embedding.weight!, 0, 0.02);
    }
}

/// <summary>Hugging Face <c>CLIPVisionTransformer</c> (module name <c>vision_model</c>).</summary>
public sealed class ClipVisionTransformer : nn.Module<Tensor, Tensor>
{
    readonly ClipVisionEmbeddings embeddings;
    readonly LayerNorm pre_layrnorm;
    readonly ClipEncoder encoder;
    readonly LayerNorm post_layernorm;

    /// <summary>Creates the transformer (the misspelt <c>pre_layrnorm</c> is transformers' key).</summary>
    public ClipVisionTransformer(ClipVisionConfig config) : base(nameof(ClipVisionTransformer))
    {
        embeddings = new ClipVisionEmbeddings(config);
        pre_layrnorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        encoder = new ClipEncoder(config.NumHiddenLayers, config.HiddenSize, config.NumAttentionHeads, config.IntermediateSize,
            config.HiddenAct, config.LayerNormEps, causal: false);
        post_layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>The embeddings.</summary>
    public ClipVisionEmbeddings Embeddings => embeddings;

    /// <summary>The LayerNorm applied before the encoder.</summary>
    public LayerNorm PreLayerNorm => pre_layrnorm;

    /// <summary>The encoder.</summary>
    public ClipEncoder Encoder => encoder;

    /// <summary>The LayerNorm applied to the CLS token.</summary>
    public LayerNorm PostLayerNorm => post_layernorm;

    /// <summary>[B, C, H, W] at the native size -> the last layer's output [B, 1 + h*w, C].</summary>
    public override Tensor forward(Tensor pixelValues)
    {
        using var scope = NewDisposeScope();
        var h = pre_layrnorm.call(embeddings.call(pixelValues));
        return encoder.Run(h, encoder.Layers.Count, null).MoveToOuterDisposeScope();
    }

    internal void Initialize(long hidden)
    {
        embeddings.Initialize();
        encoder.Initialize(hidden);
    }
}

/// <summary>
/// Hugging Face <c>CLIPVisionModel</c> (keys <c>vision_model.*</c>), optionally with <c>visual_projection</c> as
/// <c>CLIPVisionModelWithProjection</c> has it.
/// </summary>
public sealed class ClipVisionModel : nn.Module<Tensor, ClipVisionOutput>, IPretrainedModel<ClipVisionModel, ClipVisionConfig>
{
    readonly ClipVisionTransformer vision_model;
    readonly Linear? visual_projection;

    /// <summary>The config the model was built from.</summary>
    public ClipVisionConfig Config { get; }

    /// <summary>Whether the model has <c>visual_projection</c> (and so returns image_embeds).</summary>
    public bool HasProjection => visual_projection is not null;

    /// <summary>The transformer (module <c>vision_model</c>).</summary>
    public ClipVisionTransformer VisionModel => vision_model;

    ClipVisionModel(ClipVisionConfig config, bool withProjection) : base(nameof(ClipVisionModel))
    {
        Config = config;
        vision_model = new ClipVisionTransformer(config);
        if (withProjection) visual_projection = nn.Linear(config.HiddenSize, config.ProjectionDim, hasBias: false);
        RegisterComponents();
    }

    /// <summary>A freshly initialised model (transformers' scheme); <paramref name="withProjection"/> adds visual_projection.</summary>
    public static ClipVisionModel FromConfig(ClipVisionConfig config, bool withProjection = false, string source = "ClipVisionConfig")
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(source);
        var model = new ClipVisionModel(config, withProjection);
        model.vision_model.Initialize(config.HiddenSize);
        ClipInit.Projection(model.visual_projection, config.HiddenSize);
        return model;
    }

    /// <summary>
    /// Loads a transformers folder (config.json and weights in any format <see cref="Checkpoint"/> reads). The projection
    /// is built when the weights carry <c>visual_projection.weight</c>; a full CLIP model's folder contributes only its
    /// vision keys; the <c>position_ids</c> buffer older transformers saved is ignored; every other key must match.
    /// </summary>
    public static ClipVisionModel FromFolder(string folder, Device? device = null, ScalarType? dtype = null) =>
        PretrainedModel.Load<ClipVisionModel, ClipVisionConfig>(folder, device, dtype);

    /// <summary>Writes config.json and model.safetensors into <paramref name="folder"/> (created if needed).</summary>
    public void Save(string folder) => PretrainedModel.Save<ClipVisionModel, ClipVisionConfig>(this, folder);

    static PretrainedLayout IPretrainedModel<ClipVisionModel, ClipVisionConfig>.Layout => ClipCheckpoint.Layout;

    static ClipVisionConfig IPretrainedModel<ClipVisionModel, ClipVisionConfig>.ReadConfig(string configPath)
    {
        var config = ClipVisionConfig.Read(configPath);
        config.Validate(configPath);
        return config;
    }

    static ClipVisionModel IPretrainedModel<ClipVisionModel, ClipVisionConfig>.Create(ClipVisionConfig config, IReadOnlyCollection<string> keys) =>
        new(config, keys.Contains("visual_projection.weight"));

    static Dictionary<string, Tensor> IPretrainedModel<ClipVisionModel, ClipVisionConfig>.ToModelKeys(ClipVisionConfig config,
        Dictionary<string, Tensor> checkpoint, string configPath, string weightsPath) =>
        ClipCheckpoint.Tower(checkpoint, configPath, "vision_config", "vision_model.", "visual_projection.");

    /// <summary>Runs at the native size; see <see cref="Forward"/>.</summary>
    public override ClipVisionOutput forward(Tensor pixelValues) => Forward(pixelValues);

    /// <summary>
    /// Encodes images [B, num_channels, H, W]. Sizes other than image_size need <paramref name="interpolatePositions"/>
    /// (bicubic resizing of the position embeddings to the patch grid, as transformers' interpolate_pos_encoding).
    /// </summary>
    public ClipVisionOutput Forward(Tensor pixelValues, bool interpolatePositions = false)
    {
        using var scope = NewDisposeScope();
        var embeddings = vision_model.Embeddings.Embed(pixelValues, interpolatePositions);
        var hidden = new List<Tensor> { embeddings };
        var last = vision_model.Encoder.Run(vision_model.PreLayerNorm.call(embeddings), Config.NumHiddenLayers, hidden);
        var pooled = vision_model.PostLayerNorm.call(last[.., 0]);
        var embeds = visual_projection?.call(pooled);
        return new ClipVisionOutput(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(),
            hidden.Select(h => h.MoveToOuterDisposeScope()).ToList(), embeds?.MoveToOuterDisposeScope(),
            pixelValues.shape[2] / Config.PatchSize, pixelValues.shape[3] / Config.PatchSize);
    }

    /// <summary>
    /// Patch-token maps [B, C, h, w] of hidden state <paramref name="layer"/> (0 = embeddings, i = layer i's output),
    /// positions interpolated for any input size; only the layers needed are run.
    /// </summary>
    public Tensor PatchTokens(Tensor pixelValues, int layer)
    {
        if (layer < 0 || layer > Config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in [0, {Config.NumHiddenLayers}]");
        using var scope = NewDisposeScope();
        var embeddings = vision_model.Embeddings.Embed(pixelValues, true);
        var h = layer == 0 ? embeddings : vision_model.Encoder.Run(vision_model.PreLayerNorm.call(embeddings), layer, null);
        return TokenGrid.ToMaps(h, pixelValues.shape[2] / Config.PatchSize, pixelValues.shape[3] / Config.PatchSize).MoveToOuterDisposeScope();
    }
}

/// <summary>Conversions between token sequences and patch maps.</summary>
public static class TokenGrid
{
    /// <summary>[B, 1 + h*w, C] tokens (CLS first) -> [B, C, h, w] maps of the patch tokens.</summary>
    public static Tensor ToMaps(Tensor tokens, long gridHeight, long gridWidth)
    {
        Check.Rank(tokens, "tokens", 3, "[B, 1 + h*w, C]");
        if (tokens.shape[1] != 1 + gridHeight * gridWidth)
            throw new ArgumentException($"tokens: {tokens.shape[1]} tokens do not hold a CLS token and a {gridHeight}x{gridWidth} grid", nameof(tokens));
        using var scope = NewDisposeScope();
        return tokens[.., 1..].transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], gridHeight, gridWidth).MoveToOuterDisposeScope();
    }
}
