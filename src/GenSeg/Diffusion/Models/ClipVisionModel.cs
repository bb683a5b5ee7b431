using System.Text.Json.Serialization;
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
public sealed record ClipVisionConfig : ClipTowerConfig, IClipTowerConfig<ClipVisionConfig>
{
    /// <summary>transformers' defaults: hidden_size 768, intermediate_size 3072, 12 heads.</summary>
    public ClipVisionConfig() : base(hiddenSize: 768, intermediateSize: 3072, numAttentionHeads: 12)
    {
    }

    /// <summary>Input channels.</summary>
    [JsonPropertyOrder(1)]
    public int NumChannels { get; init; } = 3;

    /// <summary>Side of the square training resolution; the position embeddings cover (image_size / patch_size)^2 patches.</summary>
    [JsonPropertyOrder(1)]
    public int ImageSize { get; init; } = 224;

    /// <summary>Side of a patch.</summary>
    [JsonPropertyOrder(1)]
    public int PatchSize { get; init; } = 32;

    /// <summary>Patches per side at <see cref="ImageSize"/>.</summary>
    [JsonIgnore]
    public int GridSize => ImageSize / PatchSize;

    /// <summary>Reads a flat config.json or the <c>vision_config</c> section of a combined one.</summary>
    public static ClipVisionConfig Read(string path) => ConfigSection.Read<ClipVisionConfig>(path, "vision_config", out _);

    private protected override IEnumerable<(int Value, string Key)> PositiveValues() =>
        [.. EncoderSizes(), (NumChannels, "num_channels"), (ImageSize, "image_size"), (PatchSize, "patch_size")];

    private protected override void ValidateTower(string source)
    {
        if (ImageSize < PatchSize) throw new InvalidDataException($"{source}: image_size {ImageSize} is smaller than patch_size {PatchSize}");
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
public sealed class ClipVisionTransformer : nn.Module<Tensor, Tensor>, IClipTransformer
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

    void IClipTransformer.InitializeEmbeddings() => embeddings.Initialize();
}

/// <summary>
/// Hugging Face <c>CLIPVisionModel</c> (keys <c>vision_model.*</c>), optionally with <c>visual_projection</c> as
/// <c>CLIPVisionModelWithProjection</c> has it.
/// </summary>
public sealed class ClipVisionModel : ClipTowerModel<ClipVisionModel, ClipVisionConfig, ClipVisionTransformer, ClipVisionOutput>,
    IClipTower<ClipVisionModel, ClipVisionConfig>
{
    ClipVisionModel(ClipVisionConfig config, bool withProjection)
        : base(nameof(ClipVisionModel), config, new ClipVisionTransformer(config), withProjection)
    {
    }

    /// <summary>The transformer (module <c>vision_model</c>).</summary>
    public ClipVisionTransformer VisionModel => Tower;

    static ClipTowerKeys IClipTower<ClipVisionModel, ClipVisionConfig>.Keys { get; } = new("vision_model", "visual_projection", "vision_config");

    static ClipVisionModel IClipTower<ClipVisionModel, ClipVisionConfig>.Build(ClipVisionConfig config, bool withProjection) => new(config, withProjection);

    /// <summary>Runs at the native size; see <see cref="Forward"/>.</summary>
    public override ClipVisionOutput forward(Tensor pixelValues) => Forward(pixelValues);

    /// <summary>
    /// Encodes images [B, num_channels, H, W]. Sizes other than image_size need <paramref name="interpolatePositions"/>
    /// (bicubic resizing of the position embeddings to the patch grid, as transformers' interpolate_pos_encoding).
    /// </summary>
    public ClipVisionOutput Forward(Tensor pixelValues, bool interpolatePositions = false)
    {
        using var scope = NewDisposeScope();
        var embeddings = Tower.Embeddings.Embed(pixelValues, interpolatePositions);
        var hidden = new List<Tensor> { embeddings };
        var last = Tower.Encoder.Run(Tower.PreLayerNorm.call(embeddings), Config.NumHiddenLayers, hidden);
        var pooled = Tower.PostLayerNorm.call(last[.., 0]);
        var embeds = Projection?.call(pooled);
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
        var embeddings = Tower.Embeddings.Embed(pixelValues, true);
        var h = layer == 0 ? embeddings : Tower.Encoder.Run(Tower.PreLayerNorm.call(embeddings), layer, null);
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
