using System.Text.Json.Serialization;
using GenSeg.Common;
using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// A transformers <c>CLIPTextConfig</c> (the <c>config.json</c> of an SD <c>text_encoder</c> folder, or the
/// <c>text_config</c> section of a full CLIP model). Defaults are transformers' own, so sparse configs read as they do there.
/// </summary>
public sealed record ClipTextConfig : ClipTowerConfig, IClipTowerConfig<ClipTextConfig>
{
    /// <summary>transformers' defaults: hidden_size 512, intermediate_size 2048, 8 heads.</summary>
    public ClipTextConfig() : base(hiddenSize: 512, intermediateSize: 2048, numAttentionHeads: 8)
    {
    }

    /// <summary>Number of token embeddings.</summary>
    [JsonPropertyOrder(-1)]
    public int VocabSize { get; init; } = 49408;

    /// <summary>Number of position embeddings (the longest sequence, 77 for SD).</summary>
    [JsonPropertyOrder(1)]
    public int MaxPositionEmbeddings { get; init; } = 77;

    /// <summary>
    /// End token id used to pick the pooled position. 2 (older configs) or null means "at argmax(input_ids)", as in
    /// transformers; otherwise the first position holding this id (argmax for a row without it).
    /// </summary>
    [JsonPropertyOrder(3)]
    public int? EosTokenId { get; init; } = 49407;

    /// <summary>Reads a flat config.json or the <c>text_config</c> section of a combined one.</summary>
    public static ClipTextConfig Read(string path) => ConfigSection.Read<ClipTextConfig>(path, "text_config", out _);

    private protected override IEnumerable<(int Value, string Key)> PositiveValues() =>
        [(VocabSize, "vocab_size"), .. EncoderSizes(), (MaxPositionEmbeddings, "max_position_embeddings")];
}

/// <summary>What <see cref="ClipTextModel.Forward"/> returns.</summary>
/// <param name="LastHiddenState">[B, L, C]: final_layer_norm of the last layer run.</param>
/// <param name="PooledOutput">[B, C]: <paramref name="LastHiddenState"/> at the end token.</param>
/// <param name="HiddenStates">The embeddings, then each layer's output (before final_layer_norm), each [B, L, C].</param>
/// <param name="TextEmbeds">[B, projection_dim]: text_projection(pooled), when the model has the projection.</param>
public sealed record ClipTextOutput(Tensor LastHiddenState, Tensor PooledOutput, IReadOnlyList<Tensor> HiddenStates, Tensor? TextEmbeds);

/// <summary>Hugging Face <c>CLIPTextEmbeddings</c>: token plus learned position embeddings.</summary>
public sealed class ClipTextEmbeddings : nn.Module<Tensor, Tensor>
{
    readonly Embedding token_embedding;
    readonly Embedding position_embedding;

    /// <summary>Creates the embeddings.</summary>
    public ClipTextEmbeddings(ClipTextConfig config) : base(nameof(ClipTextEmbeddings))
    {
        token_embedding = nn.Embedding(config.VocabSize, config.HiddenSize);
        position_embedding = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>Token embedding table [vocab, C].</summary>
    public Parameter TokenEmbedding => token_embedding.weight!;

    /// <summary>[B, L] ids -> [B, L, C].</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        // Positions from a host array: no temporary Scalar is handed to native code on this training path.
        var positions = torch.tensor(Enumerable.Range(0, (int)inputIds.shape[1]).Select(i => (long)i).ToArray(), device: inputIds.device);
        return (token_embedding.call(inputIds) + position_embedding.call(positions)).MoveToOuterDisposeScope();
    }

    internal void Initialize()
    {
        using var noGrad = no_grad();
        nn.init.normal_(token_embedding.weight!, 0, 0.02);
        nn.init.normal_(position_embedding.weight!, 0, 0.01);
    }
}

/// <summary>Hugging Face <c>CLIPTextTransformer</c> (module name <c>text_model</c>).</summary>
public sealed class ClipTextTransformer : nn.Module<Tensor, Tensor>, IClipTransformer
{
    readonly ClipTextEmbeddings embeddings;
    readonly ClipEncoder encoder;
    readonly LayerNorm final_layer_norm;

    /// <summary>Creates the transformer.</summary>
    public ClipTextTransformer(ClipTextConfig config) : base(nameof(ClipTextTransformer))
    {
        embeddings = new ClipTextEmbeddings(config);
        encoder = new ClipEncoder(config.NumHiddenLayers, config.HiddenSize, config.NumAttentionHeads, config.IntermediateSize,
            config.HiddenAct, config.LayerNormEps, causal: true);
        final_layer_norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>The embeddings module.</summary>
    public ClipTextEmbeddings Embeddings => embeddings;

    /// <summary>The encoder.</summary>
    public ClipEncoder Encoder => encoder;

    /// <summary>The final LayerNorm.</summary>
    public LayerNorm FinalLayerNorm => final_layer_norm;

    /// <summary>[B, L] ids -> final_layer_norm of the last layer [B, L, C].</summary>
    public override Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var h = encoder.Run(embeddings.call(inputIds), encoder.Layers.Count, null);
        return final_layer_norm.call(h).MoveToOuterDisposeScope();
    }

    void IClipTransformer.InitializeEmbeddings() => embeddings.Initialize();
}

/// <summary>
/// Hugging Face <c>CLIPTextModel</c> (keys <c>text_model.*</c>), optionally with <c>text_projection</c> as
/// <c>CLIPTextModelWithProjection</c> has it. Built from config; loading is a strict state-dict copy.
/// </summary>
public sealed class ClipTextModel : ClipTowerModel<ClipTextModel, ClipTextConfig, ClipTextTransformer, ClipTextOutput>,
    IClipTower<ClipTextModel, ClipTextConfig>
{
    ClipTextModel(ClipTextConfig config, bool withProjection)
        : base(nameof(ClipTextModel), config, new ClipTextTransformer(config), withProjection)
    {
    }

    /// <summary>The transformer (module <c>text_model</c>).</summary>
    public ClipTextTransformer TextModel => Tower;

    static ClipTowerKeys IClipTower<ClipTextModel, ClipTextConfig>.Keys { get; } = new("text_model", "text_projection", "text_config");

    static ClipTextModel IClipTower<ClipTextModel, ClipTextConfig>.Build(ClipTextConfig config, bool withProjection) => new(config, withProjection);

    /// <summary>Runs every layer; see <see cref="Forward"/>.</summary>
    public override ClipTextOutput forward(Tensor inputIds) => Forward(inputIds);

    /// <summary>
    /// Encodes token ids [B, L] (L at most max_position_embeddings) with the causal mask.
    /// <paramref name="layers"/> runs only the first that many layers (default all): the last hidden state is then
    /// final_layer_norm of that layer's output, as diffusers' clip_skip does.
    /// </summary>
    public ClipTextOutput Forward(Tensor inputIds, int? layers = null)
    {
        Check.Rank(inputIds, "input_ids", 2, "[B, L]");
        if (inputIds.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new ArgumentException($"input_ids: expected integer token ids, got {inputIds.dtype}", nameof(inputIds));
        if (inputIds.shape[1] > Config.MaxPositionEmbeddings || inputIds.shape[1] == 0)
            throw new ArgumentException($"input_ids: sequence length {inputIds.shape[1]} must be in [1, {Config.MaxPositionEmbeddings}] (max_position_embeddings)", nameof(inputIds));
        int count = layers ?? Config.NumHiddenLayers;
        if (count < 0 || count > Config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(layers), count, $"the model has {Config.NumHiddenLayers} layers");
        long[] values;
        using (NewDisposeScope()) values = inputIds.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        if (values.Any(v => v < 0 || v >= Config.VocabSize))
            throw new ArgumentException($"input_ids: id {values.First(v => v < 0 || v >= Config.VocabSize)} lies outside [0, {Config.VocabSize}) (vocab_size)", nameof(inputIds));

        using var scope = NewDisposeScope();
        var ids = inputIds.to_type(ScalarType.Int64);
        var hidden = new List<Tensor> { Tower.Embeddings.call(ids) };
        var last = Tower.FinalLayerNorm.call(Tower.Encoder.Run(hidden[0], count, hidden));
        long batch = ids.shape[0], length = ids.shape[1], width = last.shape[2];
        var positions = torch.tensor(PooledPositions(values, batch, length), device: ids.device).view(batch, 1, 1).expand(batch, 1, width);
        var pooled = last.gather(1, positions).squeeze(1);
        var embeds = Projection?.call(pooled);
        return new ClipTextOutput(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(),
            hidden.Select(h => h.MoveToOuterDisposeScope()).ToList(), embeds?.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The pooled position of each row by transformers' rule (see <see cref="ClipTextConfig.EosTokenId"/>), computed on
    /// the host from the ids already read for the range check.
    /// </summary>
    long[] PooledPositions(long[] ids, long batch, long length)
    {
        var result = new long[batch];
        for (long b = 0; b < batch; b++)
        {
            var row = new ReadOnlySpan<long>(ids, (int)(b * length), (int)length);
            int argmax = 0;
            for (int i = 1; i < row.Length; i++) if (row[i] > row[argmax]) argmax = i;
            int eosAt = Config.EosTokenId is { } eos && eos != 2 ? row.IndexOf(eos) : -1;
            result[b] = eosAt >= 0 ? eosAt : argmax;
        }
        return result;
    }
}
