using System.Text.Json;
using System.Text.Json.Serialization;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// A config value that diffusers accepts either as one integer (applied to every block) or as a list with one entry per
/// block, e.g. <c>attention_head_dim</c>. It is written back in the form it was read.
/// </summary>
[JsonConverter(typeof(IntOrListConverter))]
public sealed record IntOrList
{
    /// <summary>The values (one for a single integer).</summary>
    public IReadOnlyList<int> Values { get; }

    /// <summary>True when the value was a JSON list.</summary>
    public bool IsList { get; }

    /// <summary>A single integer.</summary>
    public IntOrList(int value)
    {
        Values = new[] { value };
        IsList = false;
    }

    /// <summary>A per-block list.</summary>
    public IntOrList(IEnumerable<int> values)
    {
        Values = values.ToArray();
        IsList = true;
    }

    /// <summary>A single integer.</summary>
    public static implicit operator IntOrList(int value) => new(value);

    /// <summary>A per-block list.</summary>
    public static implicit operator IntOrList(int[] values) => new((IEnumerable<int>)values);

    /// <summary>One value per block: the single integer repeated, or the list, whose length must be <paramref name="count"/>.</summary>
    public int[] PerBlock(int count, string key)
    {
        if (!IsList) return Enumerable.Repeat(Values[0], count).ToArray();
        if (Values.Count != count)
            throw new NotSupportedException($"config key '{key}': {Values.Count} values given, {count} expected (one per entry of down_block_types)");
        return Values.ToArray();
    }

    /// <inheritdoc />
    public bool Equals(IntOrList? other) => other is not null && IsList == other.IsList && Values.SequenceEqual(other.Values);

    /// <inheritdoc />
    public override int GetHashCode() => Values.Aggregate(IsList ? 17 : 0, HashCode.Combine);

    /// <inheritdoc />
    public override string ToString() => IsList ? "[" + string.Join(", ", Values) + "]" : Values[0].ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Reads an integer or a list of integers; writes the form it was read in.</summary>
public sealed class IntOrListConverter : JsonConverter<IntOrList>
{
    /// <inheritdoc />
    public override IntOrList? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number:
                return new IntOrList(reader.GetInt32());
            case JsonTokenType.StartArray:
                var values = new List<int>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.Number)
                        throw new JsonException($"expected integers in the list, found {reader.TokenType}");
                    values.Add(reader.GetInt32());
                }
                return new IntOrList(values);
            default:
                throw new JsonException($"expected an integer or a list of integers, found {reader.TokenType}");
        }
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, IntOrList value, JsonSerializerOptions options)
    {
        if (!value.IsList)
        {
            writer.WriteNumberValue(value.Values[0]);
            return;
        }
        writer.WriteStartArray();
        foreach (var v in value.Values) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}

/// <summary>
/// The <c>config.json</c> of a diffusers <c>UNet2DConditionModel</c> (0.21.4), snake_case keys through
/// <see cref="Checkpoints.ConfigJson"/>. Defaults are diffusers' constructor defaults, so a config that omits a key
/// means what it means to diffusers. Every key diffusers knows is listed, so that a value this implementation does not
/// support is rejected by <see cref="Validate"/> with the key's name rather than silently ignored.
/// </summary>
public sealed record UNet2DConditionConfig
{
    /// <summary>sample_size: nominal latent size (int or [h, w]); informational.</summary>
    public IntOrList? SampleSize { get; init; }

    /// <summary>in_channels (9 for inpainting: latent, mask, masked-image latent).</summary>
    public int InChannels { get; init; } = 4;

    /// <summary>out_channels.</summary>
    public int OutChannels { get; init; } = 4;

    /// <summary>center_input_sample: map the input with 2x - 1 first.</summary>
    public bool CenterInputSample { get; init; }

    /// <summary>flip_sin_to_cos: timestep embedding laid out [cos, sin].</summary>
    public bool FlipSinToCos { get; init; } = true;

    /// <summary>freq_shift: downscale_freq_shift of the timestep embedding.</summary>
    public int FreqShift { get; init; }

    /// <summary>down_block_types: CrossAttnDownBlock2D or DownBlock2D per level.</summary>
    public string[] DownBlockTypes { get; init; } = { "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" };

    /// <summary>mid_block_type: UNetMidBlock2DCrossAttn or null (no mid block).</summary>
    public string? MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";

    /// <summary>up_block_types: UpBlock2D or CrossAttnUpBlock2D per level, deepest first.</summary>
    public string[] UpBlockTypes { get; init; } = { "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" };

    /// <summary>only_cross_attention (bool or per-block list); only false is supported.</summary>
    public JsonElement? OnlyCrossAttention { get; init; }

    /// <summary>block_out_channels: channels per level.</summary>
    public int[] BlockOutChannels { get; init; } = { 320, 640, 1280, 1280 };

    /// <summary>layers_per_block: resnets per down block (int or per-block list); up blocks have one more.</summary>
    public IntOrList LayersPerBlock { get; init; } = 2;

    /// <summary>downsample_padding of the down blocks' Downsample2D.</summary>
    public int DownsamplePadding { get; init; } = 1;

    /// <summary>mid_block_scale_factor: output_scale_factor of the mid block's resnets.</summary>
    public double MidBlockScaleFactor { get; init; } = 1.0;

    /// <summary>dropout (diffusers 0.22+); only 0 is supported.</summary>
    public double Dropout { get; init; }

    /// <summary>act_fn: activation of resnets, time embedding and output.</summary>
    public string ActFn { get; init; } = "silu";

    /// <summary>norm_num_groups: GroupNorm groups.</summary>
    public int? NormNumGroups { get; init; } = 32;

    /// <summary>norm_eps: GroupNorm epsilon of resnets and the output norm.</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary>cross_attention_dim: width of encoder_hidden_states (int or per-block list).</summary>
    public IntOrList CrossAttentionDim { get; init; } = 1280;

    /// <summary>transformer_layers_per_block: BasicTransformerBlocks per Transformer2DModel (int or per-block list).</summary>
    public IntOrList TransformerLayersPerBlock { get; init; } = 1;

    /// <summary>reverse_transformer_layers_per_block (diffusers 0.25+); only null is supported.</summary>
    public JsonElement? ReverseTransformerLayersPerBlock { get; init; }

    /// <summary>encoder_hid_dim; only null is supported.</summary>
    public int? EncoderHidDim { get; init; }

    /// <summary>encoder_hid_dim_type; only null is supported.</summary>
    public string? EncoderHidDimType { get; init; }

    /// <summary>
    /// attention_head_dim (int or per-block list). As in diffusers 0.21.4 it is used as the NUMBER OF HEADS of each
    /// block (diffusers' historical naming); the head width is the block's channels divided by it.
    /// </summary>
    public IntOrList AttentionHeadDim { get; init; } = 8;

    /// <summary>num_attention_heads; diffusers 0.21.4 rejects any value, and so does this class.</summary>
    public IntOrList? NumAttentionHeads { get; init; }

    /// <summary>dual_cross_attention; only false is supported.</summary>
    public bool DualCrossAttention { get; init; }

    /// <summary>use_linear_projection: linear proj_in/proj_out (SD 2.x) instead of 1x1 convolutions (SD 1.x).</summary>
    public bool UseLinearProjection { get; init; }

    /// <summary>class_embed_type; only null is supported.</summary>
    public string? ClassEmbedType { get; init; }

    /// <summary>addition_embed_type; only null is supported.</summary>
    public string? AdditionEmbedType { get; init; }

    /// <summary>addition_time_embed_dim (used only with addition_embed_type).</summary>
    public int? AdditionTimeEmbedDim { get; init; }

    /// <summary>num_class_embeds; only null is supported.</summary>
    public int? NumClassEmbeds { get; init; }

    /// <summary>upcast_attention: compute attention logits in float32.</summary>
    public bool UpcastAttention { get; init; }

    /// <summary>resnet_time_scale_shift: "default" (add) or "scale_shift".</summary>
    public string ResnetTimeScaleShift { get; init; } = "default";

    /// <summary>resnet_skip_time_act; only false is supported.</summary>
    public bool ResnetSkipTimeAct { get; init; }

    /// <summary>resnet_out_scale_factor; only 1 is supported.</summary>
    public double ResnetOutScaleFactor { get; init; } = 1.0;

    /// <summary>time_embedding_type; only "positional" is supported.</summary>
    public string TimeEmbeddingType { get; init; } = "positional";

    /// <summary>time_embedding_dim (default 4 x block_out_channels[0]).</summary>
    public int? TimeEmbeddingDim { get; init; }

    /// <summary>time_embedding_act_fn; only null is supported.</summary>
    public string? TimeEmbeddingActFn { get; init; }

    /// <summary>timestep_post_act; only null is supported.</summary>
    public string? TimestepPostAct { get; init; }

    /// <summary>time_cond_proj_dim; only null is supported.</summary>
    public int? TimeCondProjDim { get; init; }

    /// <summary>conv_in_kernel (odd).</summary>
    public int ConvInKernel { get; init; } = 3;

    /// <summary>conv_out_kernel (odd).</summary>
    public int ConvOutKernel { get; init; } = 3;

    /// <summary>projection_class_embeddings_input_dim (used only with class or addition embeddings).</summary>
    public int? ProjectionClassEmbeddingsInputDim { get; init; }

    /// <summary>attention_type; only "default" is supported.</summary>
    public string AttentionType { get; init; } = "default";

    /// <summary>class_embeddings_concat; only false is supported.</summary>
    public bool ClassEmbeddingsConcat { get; init; }

    /// <summary>mid_block_only_cross_attention; only null/false is supported.</summary>
    public bool? MidBlockOnlyCrossAttention { get; init; }

    /// <summary>cross_attention_norm; only null is supported.</summary>
    public string? CrossAttentionNorm { get; init; }

    /// <summary>addition_embed_type_num_heads (used only with addition_embed_type "text").</summary>
    public int AdditionEmbedTypeNumHeads { get; init; } = 64;

    /// <summary>Keys this record does not know; bookkeeping keys (<c>_class_name</c>, ...) and null values are accepted, others rejected.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <summary>SD 2.x (stabilityai/stable-diffusion-2-1) UNet: 320/640/1280/1280, heads 5/10/20/20 of width 64, linear projections, 1024-wide text.</summary>
    public static UNet2DConditionConfig StableDiffusion2() => new()
    {
        SampleSize = 96,
        AttentionHeadDim = new[] { 5, 10, 20, 20 },
        CrossAttentionDim = 1024,
        UseLinearProjection = true,
        UpcastAttention = true,
    };

    /// <summary>SD 1.x (runwayml/stable-diffusion-v1-5) UNet: 320/640/1280/1280, 8 heads, 1x1 conv projections, 768-wide text.</summary>
    public static UNet2DConditionConfig StableDiffusion1() => new()
    {
        SampleSize = 64,
        AttentionHeadDim = 8,
        CrossAttentionDim = 768,
    };

    static readonly string[] DownTypes = { "CrossAttnDownBlock2D", "DownBlock2D" };
    static readonly string[] UpTypes = { "CrossAttnUpBlock2D", "UpBlock2D" };

    /// <summary>diffusers' get_down_block/get_up_block strip a "UNetRes" prefix from block type names.</summary>
    internal static string BlockType(string name) => name.StartsWith("UNetRes", StringComparison.Ordinal) ? name[7..] : name;

    /// <summary>
    /// Checks every value against what diffusers 0.21.4 accepts and this implementation supports; the message of the
    /// <see cref="NotSupportedException"/> names the offending key and value.
    /// </summary>
    public void Validate()
    {
        static NotSupportedException Unsupported(string key, object? value, string supported) =>
            new($"UNet2DConditionModel config key '{key}' = {Show(value)} is not supported (supported: {supported})");

        int n = DownBlockTypes.Length;
        if (n == 0) throw Unsupported("down_block_types", "[]", "one or more block types");
        if (UpBlockTypes.Length != n)
            throw new NotSupportedException($"UNet2DConditionModel config: down_block_types has {n} entries but up_block_types has {UpBlockTypes.Length}; they must match");
        if (BlockOutChannels.Length != n)
            throw new NotSupportedException($"UNet2DConditionModel config: block_out_channels has {BlockOutChannels.Length} entries but down_block_types has {n}; they must match");
        foreach (var t in DownBlockTypes)
            if (!DownTypes.Contains(BlockType(t))) throw Unsupported("down_block_types", t, string.Join(", ", DownTypes));
        foreach (var t in UpBlockTypes)
            if (!UpTypes.Contains(BlockType(t))) throw Unsupported("up_block_types", t, string.Join(", ", UpTypes));
        if (MidBlockType is not (null or "UNetMidBlock2DCrossAttn")) throw Unsupported("mid_block_type", MidBlockType, "UNetMidBlock2DCrossAttn, null");
        if (NormNumGroups is not { } groups || groups <= 0) throw Unsupported("norm_num_groups", NormNumGroups, "a positive group count");
        foreach (var c in BlockOutChannels)
            if (c <= 0 || c % groups != 0)
                throw new NotSupportedException($"UNet2DConditionModel config: block_out_channels entry {c} is not divisible by norm_num_groups = {groups}");
        if (InChannels <= 0) throw Unsupported("in_channels", InChannels, "a positive channel count");
        if (OutChannels <= 0) throw Unsupported("out_channels", OutChannels, "a positive channel count");
        if (ConvInKernel <= 0 || ConvInKernel % 2 == 0) throw Unsupported("conv_in_kernel", ConvInKernel, "odd kernel sizes");
        if (ConvOutKernel <= 0 || ConvOutKernel % 2 == 0) throw Unsupported("conv_out_kernel", ConvOutKernel, "odd kernel sizes");
        if (DownsamplePadding < 0) throw Unsupported("downsample_padding", DownsamplePadding, "0 or more");
        if (!Layers.Activations.Names.Contains(ActFn)) throw Unsupported("act_fn", ActFn, string.Join(", ", Layers.Activations.Names));
        if (TimeEmbeddingType != "positional") throw Unsupported("time_embedding_type", TimeEmbeddingType, "positional");
        if (TimeEmbeddingDim is <= 0) throw Unsupported("time_embedding_dim", TimeEmbeddingDim, "a positive width or null");
        if (ResnetTimeScaleShift is not ("default" or "scale_shift")) throw Unsupported("resnet_time_scale_shift", ResnetTimeScaleShift, "default, scale_shift");
        if (NumAttentionHeads is not null)
            throw Unsupported("num_attention_heads", NumAttentionHeads, "null; diffusers 0.21.4 takes the head count from attention_head_dim");
        if (ClassEmbedType is not null) throw Unsupported("class_embed_type", ClassEmbedType, "null");
        if (NumClassEmbeds is not null) throw Unsupported("num_class_embeds", NumClassEmbeds, "null");
        if (ClassEmbeddingsConcat) throw Unsupported("class_embeddings_concat", true, "false");
        if (AdditionEmbedType is not null) throw Unsupported("addition_embed_type", AdditionEmbedType, "null");
        if (EncoderHidDim is not null) throw Unsupported("encoder_hid_dim", EncoderHidDim, "null");
        if (EncoderHidDimType is not null) throw Unsupported("encoder_hid_dim_type", EncoderHidDimType, "null");
        if (TimeEmbeddingActFn is not null) throw Unsupported("time_embedding_act_fn", TimeEmbeddingActFn, "null");
        if (TimestepPostAct is not null) throw Unsupported("timestep_post_act", TimestepPostAct, "null");
        if (TimeCondProjDim is not null) throw Unsupported("time_cond_proj_dim", TimeCondProjDim, "null");
        if (DualCrossAttention) throw Unsupported("dual_cross_attention", true, "false");
        if (AttentionType != "default") throw Unsupported("attention_type", AttentionType, "default");
        if (ResnetSkipTimeAct) throw Unsupported("resnet_skip_time_act", true, "false");
        if (ResnetOutScaleFactor != 1.0) throw Unsupported("resnet_out_scale_factor", ResnetOutScaleFactor, "1.0");
        if (MidBlockOnlyCrossAttention == true) throw Unsupported("mid_block_only_cross_attention", true, "false, null");
        if (CrossAttentionNorm is not null) throw Unsupported("cross_attention_norm", CrossAttentionNorm, "null");
        if (Dropout != 0.0) throw Unsupported("dropout", Dropout, "0 (diffusers 0.21.4 has no dropout key)");
        if (ReverseTransformerLayersPerBlock is { ValueKind: not JsonValueKind.Null } rev)
            throw Unsupported("reverse_transformer_layers_per_block", rev.GetRawText(), "null");
        if (OnlyCrossAttention is { } oca && !IsAllFalse(oca)) throw Unsupported("only_cross_attention", oca.GetRawText(), "false");

        CheckPositive(LayersPerBlock.PerBlock(n, "layers_per_block"), "layers_per_block");
        CheckPositive(TransformerLayersPerBlock.PerBlock(n, "transformer_layers_per_block"), "transformer_layers_per_block");
        CheckPositive(CrossAttentionDim.PerBlock(n, "cross_attention_dim"), "cross_attention_dim");
        var heads = AttentionHeadDim.PerBlock(n, "attention_head_dim");
        CheckPositive(heads, "attention_head_dim");
        for (int i = 0; i < n; i++)
            if (BlockOutChannels[i] / heads[i] == 0)
                throw new NotSupportedException($"UNet2DConditionModel config: attention_head_dim[{i}] = {heads[i]} heads leave no channels per head for {BlockOutChannels[i]} channels");

        if (Extra is not null)
        {
            var unknown = Extra.Where(kv => !kv.Key.StartsWith('_') && kv.Value.ValueKind != JsonValueKind.Null).Select(kv => kv.Key).ToList();
            if (unknown.Count > 0)
                throw new NotSupportedException($"UNet2DConditionModel config has keys this implementation does not know: {string.Join(", ", unknown)}");
        }
    }

    static void CheckPositive(int[] values, string key)
    {
        foreach (var v in values)
            if (v <= 0) throw new NotSupportedException($"UNet2DConditionModel config key '{key}' has a non-positive entry {v}");
    }

    static bool IsAllFalse(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.False => true,
        JsonValueKind.Array => e.EnumerateArray().All(x => x.ValueKind == JsonValueKind.False),
        _ => false,
    };

    static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "?",
    };
}
