using System.Text.Json.Serialization;
using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// What the two CLIP tower configs (<see cref="ClipTextConfig"/>, <see cref="ClipVisionConfig"/>) share: the encoder's
/// hyperparameters and the projection's width, with their checks. The towers set their own defaults (transformers').
/// </summary>
public abstract record ClipTowerConfig
{
    // JsonPropertyOrder keeps config.json's keys in the order the towers' flat records wrote them (a derived record's own
    // keys would otherwise come first): the tower's own keys take -1 (before the sizes below), 1 (after them, before
    // hidden_act and layer_norm_eps at 2) or 3 (last).
    private protected ClipTowerConfig(int hiddenSize, int intermediateSize, int numAttentionHeads)
    {
        HiddenSize = hiddenSize;
        IntermediateSize = intermediateSize;
        NumAttentionHeads = numAttentionHeads;
    }

    /// <summary>Width of the transformer.</summary>
    public int HiddenSize { get; init; }

    /// <summary>Width of each MLP's hidden layer.</summary>
    public int IntermediateSize { get; init; }

    /// <summary>Width of the projection's output (<c>text_projection</c>: text_embeds, <c>visual_projection</c>: image_embeds).</summary>
    public int ProjectionDim { get; init; } = 512;

    /// <summary>Number of encoder layers (SD 2.x text_encoder folders ship the penultimate-layer model: one layer fewer).</summary>
    public int NumHiddenLayers { get; init; } = 12;

    /// <summary>Number of attention heads.</summary>
    public int NumAttentionHeads { get; init; }

    /// <summary><c>quick_gelu</c> (openai CLIP, SD 1.x) or <c>gelu</c> (OpenCLIP, SD 2.x).</summary>
    [JsonPropertyOrder(2)]
    public string HiddenAct { get; init; } = ClipActivation.QuickGelu;

    /// <summary>LayerNorm epsilon.</summary>
    [JsonPropertyOrder(2)]
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary>Checks the values the model depends on; errors name <paramref name="source"/> and the key.</summary>
    public void Validate(string source)
    {
        foreach (var (value, key) in PositiveValues())
            if (value <= 0) throw new InvalidDataException($"{source}: {key} must be positive, got {value}");
        if (NumHiddenLayers < 0) throw new InvalidDataException($"{source}: num_hidden_layers must be >= 0, got {NumHiddenLayers}");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"{source}: hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        ValidateTower(source);
        if (HiddenAct is not (ClipActivation.QuickGelu or ClipActivation.Gelu))
            throw new InvalidDataException($"{source}: hidden_act '{HiddenAct}' is not supported (expected 'quick_gelu' or 'gelu')");
        if (!(LayerNormEps > 0)) throw new InvalidDataException($"{source}: layer_norm_eps must be positive, got {LayerNormEps}");
    }

    /// <summary>The values that must be positive with their keys, in the order they are checked (the tower's around
    /// <see cref="EncoderSizes"/>).</summary>
    private protected abstract IEnumerable<(int Value, string Key)> PositiveValues();

    /// <summary>The shared values that must be positive: hidden, intermediate and projection widths, heads.</summary>
    private protected IEnumerable<(int Value, string Key)> EncoderSizes() =>
        [(HiddenSize, "hidden_size"), (IntermediateSize, "intermediate_size"), (ProjectionDim, "projection_dim"), (NumAttentionHeads, "num_attention_heads")];

    /// <summary>The tower's own further checks, after the layer count and head split (default none).</summary>
    private protected virtual void ValidateTower(string source)
    {
    }
}

/// <summary>Reading a tower's config (a static member, which <see cref="ClipTowerConfig"/> cannot demand).</summary>
public interface IClipTowerConfig<TSelf> where TSelf : ClipTowerConfig, IClipTowerConfig<TSelf>
{
    /// <summary>Reads a flat config.json or the tower's section of a combined one.</summary>
    static abstract TSelf Read(string path);
}

/// <summary>A tower's transformer (<see cref="ClipTextTransformer"/>, <see cref="ClipVisionTransformer"/>) as
/// <see cref="ClipTowerModel{TSelf, TConfig, TTower, TOutput}.FromConfig"/> initialises it.</summary>
public interface IClipTransformer
{
    /// <summary>The encoder.</summary>
    ClipEncoder Encoder { get; }

    /// <summary>transformers' initialisation of the tower's own embeddings.</summary>
    internal void InitializeEmbeddings();
}

/// <summary>A tower's names in a checkpoint and config.</summary>
/// <param name="Tower">The transformer's module name and key prefix: <c>text_model</c> or <c>vision_model</c>.</param>
/// <param name="Projection">The projection's module name and key prefix: <c>text_projection</c> or <c>visual_projection</c>.</param>
/// <param name="ConfigSection">The section of a full CLIP model's config.json: <c>text_config</c> or <c>vision_config</c>.</param>
internal sealed record ClipTowerKeys(string Tower, string Projection, string ConfigSection);

/// <summary>What tells the two CLIP tower models apart: their names in a checkpoint and config, and how they are built.</summary>
public interface IClipTower<TSelf, TConfig>
{
    /// <summary>The tower's names in a checkpoint and config.</summary>
    internal static abstract ClipTowerKeys Keys { get; }

    /// <summary>Builds the model (weights not initialised), with the projection when <paramref name="withProjection"/>.</summary>
    internal static abstract TSelf Build(TConfig config, bool withProjection);
}

/// <summary>
/// What the two CLIP tower models (<see cref="ClipTextModel"/>, <see cref="ClipVisionModel"/>) share, as TorchSharp's
/// <c>Convolution</c> serves Conv1d/2d/3d: the transformer (module <c>text_model</c> or <c>vision_model</c>), then an
/// optional bias-free projection hidden_size -> projection_dim (<c>text_projection</c> or <c>visual_projection</c>), the
/// module names being the checkpoint's keys; building from config, and loading (a strict state-dict copy) and saving in
/// transformers' layout (model.safetensors, no <c>_class_name</c>). The towers add their forward passes.
/// </summary>
/// <typeparam name="TSelf">The model.</typeparam>
/// <typeparam name="TConfig">Its config.</typeparam>
/// <typeparam name="TTower">Its transformer.</typeparam>
/// <typeparam name="TOutput">What its forward returns.</typeparam>
public abstract class ClipTowerModel<TSelf, TConfig, TTower, TOutput> : nn.Module<Tensor, TOutput>, IPretrainedModel<TSelf, TConfig>
    where TSelf : ClipTowerModel<TSelf, TConfig, TTower, TOutput>, IClipTower<TSelf, TConfig>
    where TConfig : ClipTowerConfig, IClipTowerConfig<TConfig>
    where TTower : nn.Module, IClipTransformer
{
    readonly TTower tower;
    readonly Linear? projection;
    bool registered;

    private protected ClipTowerModel(string name, TConfig config, TTower tower, bool withProjection) : base(name)
    {
        Config = config;
        this.tower = tower;
        if (withProjection) projection = nn.Linear(config.HiddenSize, config.ProjectionDim, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Registers the transformer and the projection under their checkpoint keys (the field names are not keys).</summary>
    protected sealed override void RegisterComponents()
    {
        if (registered) return;
        register_module(TSelf.Keys.Tower, tower);
        if (projection is not null) register_module(TSelf.Keys.Projection, projection);
        registered = true;
    }

    /// <summary>The config the model was built from.</summary>
    public TConfig Config { get; }

    /// <summary>Whether the model has the projection (and so returns text_embeds or image_embeds).</summary>
    public bool HasProjection => projection is not null;

    /// <summary>The transformer.</summary>
    private protected TTower Tower => tower;

    /// <summary>The projection, if the model has it.</summary>
    private protected Linear? Projection => projection;

    /// <summary>
    /// A freshly initialised model (transformers' initialisation scheme), e.g. for training from scratch.
    /// <paramref name="withProjection"/> adds the projection; config errors name <paramref name="source"/> (default: the
    /// config type's name).
    /// </summary>
    public static TSelf FromConfig(TConfig config, bool withProjection = false, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(source ?? typeof(TConfig).Name);
        var model = TSelf.Build(config, withProjection);
        model.tower.InitializeEmbeddings();
        model.tower.Encoder.Initialize(config.HiddenSize);
        ClipInit.Projection(model.projection, config.HiddenSize);
        return model;
    }

    /// <summary>
    /// Loads a transformers folder (config.json and weights in any format <see cref="Checkpoint"/> reads). The projection
    /// is built when the weights carry its weight (<c>text_projection.weight</c>, <c>visual_projection.weight</c>). A full
    /// CLIP model's folder (config with <c>text_config</c> and <c>vision_config</c>) contributes only this tower's keys.
    /// The <c>position_ids</c> buffer older transformers saved is ignored; every other key must match.
    /// </summary>
    public static TSelf FromFolder(string folder, Device? device = null, ScalarType? dtype = null) =>
        PretrainedModel.Load<TSelf, TConfig>(folder, device, dtype);

    /// <summary>Writes config.json and model.safetensors into <paramref name="folder"/> (created if needed).</summary>
    public void Save(string folder) => PretrainedModel.Save<TSelf, TConfig>((TSelf)this, folder);

    static PretrainedLayout IPretrainedModel<TSelf, TConfig>.Layout => ClipCheckpoint.Layout;

    static TConfig IPretrainedModel<TSelf, TConfig>.ReadConfig(string configPath)
    {
        var config = TConfig.Read(configPath);
        config.Validate(configPath);
        return config;
    }

    static TSelf IPretrainedModel<TSelf, TConfig>.Create(TConfig config, IReadOnlyCollection<string> keys) =>
        TSelf.Build(config, keys.Contains(TSelf.Keys.Projection + ".weight"));

    static Dictionary<string, Tensor> IPretrainedModel<TSelf, TConfig>.ToModelKeys(TConfig config,
        Dictionary<string, Tensor> checkpoint, string configPath, string weightsPath) =>
        ClipCheckpoint.Tower(checkpoint, configPath, TSelf.Keys.ConfigSection, TSelf.Keys.Tower + ".", TSelf.Keys.Projection + ".");
}
