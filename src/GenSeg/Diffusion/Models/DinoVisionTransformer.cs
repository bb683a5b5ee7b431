using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Json.Serialization;
using GenSeg.Common;
using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// The constructor arguments of facebookresearch/dino's <c>VisionTransformer</c>, as a config.json
/// (<c>img_size</c> may be a number or DINO's one-element list).
/// </summary>
public sealed record DinoConfig
{
    /// <summary>Training resolution; the position embeddings cover (img_size / patch_size)^2 patches.</summary>
    [JsonConverter(typeof(IntOrFirstOfListConverter))]
    public int ImgSize { get; init; } = 224;

    /// <summary>Side of a patch (DINO ships 8 and 16).</summary>
    public int PatchSize { get; init; } = 16;

    /// <summary>Input channels.</summary>
    public int InChans { get; init; } = 3;

    /// <summary>Token width.</summary>
    public int EmbedDim { get; init; } = 768;

    /// <summary>Number of blocks.</summary>
    public int Depth { get; init; } = 12;

    /// <summary>Attention heads per block.</summary>
    public int NumHeads { get; init; } = 12;

    /// <summary>MLP width as a multiple of embed_dim.</summary>
    public double MlpRatio { get; init; } = 4;

    /// <summary>Whether the qkv projection has a bias (true for every DINO model).</summary>
    public bool QkvBias { get; init; } = true;

    /// <summary>LayerNorm epsilon (DINO's models use 1e-6).</summary>
    public double LayerNormEps { get; init; } = 1e-6;

    /// <summary>Patches per side at <see cref="ImgSize"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int GridSize => ImgSize / PatchSize;

    /// <summary>DINO's <c>vit_small</c>: 384 wide, 12 blocks of 6 heads.</summary>
    public static DinoConfig VitSmall(int patchSize = 16) => new() { PatchSize = patchSize, EmbedDim = 384, Depth = 12, NumHeads = 6 };

    /// <summary>DINO's <c>vit_base</c>: 768 wide, 12 blocks of 12 heads.</summary>
    public static DinoConfig VitBase(int patchSize = 16) => new() { PatchSize = patchSize, EmbedDim = 768, Depth = 12, NumHeads = 12 };

    /// <summary>Reads a config.json.</summary>
    public static DinoConfig Read(string path) => ConfigJson.Read<DinoConfig>(path);

    /// <summary>Checks the values the model depends on; errors name <paramref name="source"/> and the key.</summary>
    public void Validate(string source)
    {
        foreach (var (v, key) in new[] { (ImgSize, "img_size"), (PatchSize, "patch_size"), (InChans, "in_chans"), (EmbedDim, "embed_dim"), (NumHeads, "num_heads") })
            if (v <= 0) throw new InvalidDataException($"{source}: {key} must be positive, got {v}");
        if (Depth < 1) throw new InvalidDataException($"{source}: depth must be at least 1, got {Depth}");
        if (EmbedDim % NumHeads != 0) throw new InvalidDataException($"{source}: embed_dim {EmbedDim} is not divisible by num_heads {NumHeads}");
        if (ImgSize < PatchSize) throw new InvalidDataException($"{source}: img_size {ImgSize} is smaller than patch_size {PatchSize}");
        if (!(MlpRatio > 0) || (int)(EmbedDim * MlpRatio) < 1) throw new InvalidDataException($"{source}: mlp_ratio must be positive, got {MlpRatio}");
        if (!(LayerNormEps > 0)) throw new InvalidDataException($"{source}: layer_norm_eps must be positive, got {LayerNormEps}");
    }

    /// <summary>Reads a number, or the first element of a list of numbers (DINO passes img_size=[224]).</summary>
    sealed class IntOrFirstOfListConverter : JsonConverter<int>
    {
        public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.Number) return reader.GetInt32();
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"expected a number or a list of numbers, got {reader.TokenType}");
            int? first = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.Number) throw new JsonException($"expected numbers in the list, got {reader.TokenType}");
                first ??= reader.GetInt32();
            }
            return first ?? throw new JsonException("the list is empty");
        }

        public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }
}

/// <summary>DINO's <c>PatchEmbed</c>: a strided convolution (module <c>proj</c>).</summary>
public sealed class DinoPatchEmbed : nn.Module<Tensor, Tensor>
{
    readonly Conv2d proj;

    /// <summary>Creates the patch embedding.</summary>
    public DinoPatchEmbed(DinoConfig config) : base(nameof(DinoPatchEmbed))
    {
        proj = nn.Conv2d(config.InChans, config.EmbedDim, config.PatchSize, stride: config.PatchSize);
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] -> [B, h*w, D].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return proj.call(x).flatten(2).transpose(1, 2).MoveToOuterDisposeScope();
    }

    internal void Initialize()
    {
        using var noGrad = no_grad();
        nn.init.trunc_normal_(proj.weight!, 0, 0.02);
        nn.init.zeros_(proj.bias!);
    }
}

/// <summary>DINO's <c>Attention</c>: fused qkv, softmax(q k^T * head_dim^-0.5) v, proj.</summary>
public sealed class DinoAttention : nn.Module<Tensor, Tensor>
{
    readonly Linear qkv, proj;
    readonly long heads;
    readonly Scalar scale;

    /// <summary>Creates the attention.</summary>
    public DinoAttention(long dim, long heads, bool qkvBias) : base(nameof(DinoAttention))
    {
        this.heads = heads;
        scale = Math.Pow(dim / heads, -0.5);
        qkv = nn.Linear(dim, dim * 3, hasBias: qkvBias);
        proj = nn.Linear(dim, dim);
        RegisterComponents();
    }

    /// <summary>[B, N, D] -> [B, N, D].</summary>
    public override Tensor forward(Tensor x) => Run(x, out _, false);

    /// <summary>The attention weights [B, heads, N, N] (softmax over the last dimension).</summary>
    public Tensor Weights(Tensor x)
    {
        Run(x, out var weights, true).Dispose();
        return weights!;
    }

    Tensor Run(Tensor x, out Tensor? weights, bool wantWeights)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        var parts = qkv.call(x).reshape(b, n, 3, heads, c / heads).permute(2, 0, 3, 1, 4);
        Tensor q = parts[0], k = parts[1], v = parts[2];
        Tensor o;
        weights = null;
        if (wantWeights)
        {
            var attn = torch.matmul(q, k.transpose(-2, -1)).mul(scale).softmax(-1);
            o = torch.matmul(attn, v);
            weights = attn.MoveToOuterDisposeScope();
        }
        else o = nn.functional.scaled_dot_product_attention(q, k, v);
        return proj.call(o.transpose(1, 2).reshape(b, n, c)).MoveToOuterDisposeScope();
    }

    internal void Initialize()
    {
        using var noGrad = no_grad();
        foreach (var l in new[] { qkv, proj })
        {
            nn.init.trunc_normal_(l.weight!, 0, 0.02);
            if (l.bias is not null) nn.init.zeros_(l.bias);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) scale.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>DINO's <c>Mlp</c>: fc1, exact GELU, fc2.</summary>
public sealed class DinoMlp : nn.Module<Tensor, Tensor>
{
    readonly Linear fc1, fc2;

    /// <summary>Creates the MLP.</summary>
    public DinoMlp(long dim, long hidden) : base(nameof(DinoMlp))
    {
        fc1 = nn.Linear(dim, hidden);
        fc2 = nn.Linear(hidden, dim);
        RegisterComponents();
    }

    /// <summary>[B, N, D] -> [B, N, D].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc2.call(nn.functional.gelu(fc1.call(x))).MoveToOuterDisposeScope();
    }

    internal void Initialize()
    {
        using var noGrad = no_grad();
        foreach (var l in new[] { fc1, fc2 })
        {
            nn.init.trunc_normal_(l.weight!, 0, 0.02);
            nn.init.zeros_(l.bias!);
        }
    }
}

/// <summary>DINO's <c>Block</c>: x + attn(norm1(x)), then x + mlp(norm2(x)).</summary>
public sealed class DinoBlock : nn.Module<Tensor, Tensor>
{
    readonly LayerNorm norm1;
    readonly DinoAttention attn;
    readonly LayerNorm norm2;
    readonly DinoMlp mlp;

    /// <summary>Creates a block.</summary>
    public DinoBlock(DinoConfig config) : base(nameof(DinoBlock))
    {
        norm1 = nn.LayerNorm(config.EmbedDim, config.LayerNormEps);
        attn = new DinoAttention(config.EmbedDim, config.NumHeads, config.QkvBias);
        norm2 = nn.LayerNorm(config.EmbedDim, config.LayerNormEps);
        mlp = new DinoMlp(config.EmbedDim, (long)(config.EmbedDim * config.MlpRatio));
        RegisterComponents();
    }

    /// <summary>The block's attention (for hooks and inspection).</summary>
    public DinoAttention Attention => attn;

    /// <summary>[B, N, D] -> [B, N, D].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + attn.call(norm1.call(x));
        x = x + mlp.call(norm2.call(x));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>The block's attention weights [B, heads, N, N] for input <paramref name="x"/>.</summary>
    public Tensor AttentionWeights(Tensor x)
    {
        using var scope = NewDisposeScope();
        return attn.Weights(norm1.call(x)).MoveToOuterDisposeScope();
    }

    internal void Initialize()
    {
        attn.Initialize();
        mlp.Initialize();
    }
}

/// <summary>
/// facebookresearch/dino's <c>VisionTransformer</c> with its own key names (<c>cls_token</c>, <c>pos_embed</c>,
/// <c>patch_embed.proj</c>, <c>blocks.i.*</c>, <c>norm</c>). Any input size works: position embeddings are resized
/// by DINO's interpolate_pos_encoding (bicubic with scale factors ((h + 0.1) / N^0.5, (w + 0.1) / N^0.5)).
/// </summary>
public sealed class DinoVisionTransformer : nn.Module<Tensor, Tensor>, IPretrainedModel<DinoVisionTransformer, DinoConfig>
{
    readonly DinoPatchEmbed patch_embed;
    readonly Parameter cls_token;
    readonly Parameter pos_embed;
    readonly ModuleList<DinoBlock> blocks;
    readonly LayerNorm norm;

    /// <summary>The config the model was built from.</summary>
    public DinoConfig Config { get; }

    /// <summary>The blocks in order.</summary>
    public IReadOnlyList<DinoBlock> Blocks => new System.Collections.ObjectModel.ReadOnlyCollection<DinoBlock>(blocks);

    DinoVisionTransformer(DinoConfig config) : base(nameof(DinoVisionTransformer))
    {
        Config = config;
        patch_embed = new DinoPatchEmbed(config);
        cls_token = new Parameter(torch.zeros(1, 1, config.EmbedDim));
        pos_embed = new Parameter(torch.zeros(1, config.GridSize * config.GridSize + 1, config.EmbedDim));
        blocks = new ModuleList<DinoBlock>();
        for (int i = 0; i < config.Depth; i++) blocks.Add(new DinoBlock(config));
        norm = nn.LayerNorm(config.EmbedDim, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>A freshly initialised model (DINO's truncated-normal scheme, std 0.02).</summary>
    public static DinoVisionTransformer FromConfig(DinoConfig config, string source = "DinoConfig")
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(source);
        var model = new DinoVisionTransformer(config);
        using (no_grad())
        {
            nn.init.trunc_normal_(model.pos_embed, 0, 0.02);
            nn.init.trunc_normal_(model.cls_token, 0, 0.02);
        }
        model.patch_embed.Initialize();
        foreach (var b in model.blocks) b.Initialize();
        return model;
    }

    /// <summary>
    /// Loads a DINO folder: DINO's own layout (its constructor arguments as config.json, its key names) or the
    /// transformers layout (<c>ViTModel</c>, e.g. <c>facebook/dino-vitb8</c>: a <c>ViTConfig</c> with hidden_size etc. and
    /// <c>embeddings.*</c> / <c>encoder.layer.i.*</c> keys, renamed by <see cref="DinoTransformersLayout"/>), weights in
    /// any format <see cref="Checkpoint"/> reads, strictly.
    /// </summary>
    public static DinoVisionTransformer FromFolder(string folder, Device? device = null, ScalarType? dtype = null) =>
        PretrainedModel.Load<DinoVisionTransformer, DinoConfig>(folder, device, dtype);

    /// <summary>Writes config.json (DINO's layout) and model.safetensors into <paramref name="folder"/> (created if needed).</summary>
    public void Save(string folder) => PretrainedModel.Save<DinoVisionTransformer, DinoConfig>(this, folder);

    static PretrainedLayout IPretrainedModel<DinoVisionTransformer, DinoConfig>.Layout { get; } = new("model.safetensors");

    static DinoConfig IPretrainedModel<DinoVisionTransformer, DinoConfig>.ReadConfig(string configPath)
    {
        var config = DinoTransformersLayout.IsViTConfig(configPath) ? DinoTransformersLayout.ReadConfig(configPath) : DinoConfig.Read(configPath);
        config.Validate(configPath);
        return config;
    }

    static DinoVisionTransformer IPretrainedModel<DinoVisionTransformer, DinoConfig>.Create(DinoConfig config, IReadOnlyCollection<string> keys) => new(config);

    static Dictionary<string, Tensor> IPretrainedModel<DinoVisionTransformer, DinoConfig>.ToModelKeys(DinoConfig config,
        Dictionary<string, Tensor> checkpoint, string configPath, string weightsPath) =>
        DinoTransformersLayout.IsViTCheckpoint(checkpoint) ? DinoTransformersLayout.ToDinoKeys(checkpoint, weightsPath) : checkpoint;

    /// <summary>DINO's <c>forward</c>: norm of the last block's output at the CLS token, [B, D].</summary>
    public override Tensor forward(Tensor x) => Forward(x);

    /// <summary>DINO's <c>forward</c>: norm of the last block's output at the CLS token, [B, D].</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = RunBlocks(PrepareTokens(x), blocks.Count);
        return norm.call(h)[.., 0].MoveToOuterDisposeScope();
    }

    /// <summary>
    /// DINO's <c>get_intermediate_layers(x, n)</c>: norm of the outputs of the last <paramref name="n"/> blocks, each
    /// [B, 1 + h*w, D], in block order.
    /// </summary>
    public IReadOnlyList<Tensor> GetIntermediateLayers(Tensor x, int n = 1)
    {
        if (n < 1 || n > blocks.Count) throw new ArgumentOutOfRangeException(nameof(n), n, $"n must be in [1, {blocks.Count}] (depth)");
        using var scope = NewDisposeScope();
        var h = PrepareTokens(x);
        var outputs = new List<Tensor>();
        for (int i = 0; i < blocks.Count; i++)
        {
            h = blocks[i].call(h);
            if (blocks.Count - i <= n) outputs.Add(norm.call(h));
        }
        return outputs.Select(o => o.MoveToOuterDisposeScope()).ToList();
    }

    /// <summary>DINO's <c>get_last_selfattention</c>: the last block's attention weights [B, heads, 1 + h*w, 1 + h*w].</summary>
    public Tensor GetLastSelfAttention(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = RunBlocks(PrepareTokens(x), blocks.Count - 1);
        return blocks[^1].AttentionWeights(h).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Patch features [B, D, h, w]: norm of the output of block <paramref name="layer"/> (1-based; default the last,
    /// i.e. get_intermediate_layers(x, 1)[0] without the CLS token), laid out on the patch grid.
    /// </summary>
    public Tensor PatchFeatures(Tensor x, int? layer = null)
    {
        int count = layer ?? blocks.Count;
        if (count < 1 || count > blocks.Count) throw new ArgumentOutOfRangeException(nameof(layer), count, $"layer must be in [1, {blocks.Count}] (depth)");
        using var scope = NewDisposeScope();
        var h = norm.call(RunBlocks(PrepareTokens(x), count));
        return TokenGrid.ToMaps(h, x.shape[2] / Config.PatchSize, x.shape[3] / Config.PatchSize).MoveToOuterDisposeScope();
    }

    Tensor RunBlocks(Tensor h, int count)
    {
        for (int i = 0; i < count; i++) h = blocks[i].call(h);
        return h;
    }

    /// <summary>DINO's <c>prepare_tokens</c>: patch embedding, CLS token, interpolated positions.</summary>
    Tensor PrepareTokens(Tensor x)
    {
        Check.Shape(x, "image", -1, Config.InChans, -1, -1);
        if (x.shape[2] < Config.PatchSize || x.shape[3] < Config.PatchSize)
            throw new ArgumentException($"image: size {x.shape[2]}x{x.shape[3]} is smaller than one {Config.PatchSize}-pixel patch", nameof(x));
        var tokens = patch_embed.call(x.to_type(pos_embed.dtype));
        var cls = cls_token.expand(x.shape[0], -1, -1);
        tokens = torch.cat(new[] { cls, tokens }, 1);
        return tokens + InterpolatePositions(tokens.shape[1] - 1, x.shape[2], x.shape[3]);
    }

    /// <summary>DINO's <c>interpolate_pos_encoding</c> (its <c>w</c>, <c>h</c> are the input's dims 2 and 3).</summary>
    Tensor InterpolatePositions(long patches, long height, long width)
    {
        long n = pos_embed.shape[1] - 1;
        if (patches == n && height == width) return pos_embed;
        double side = Math.Sqrt(n);
        long grid = (long)side;
        // +0.1 keeps floor(side * scale) at the intended size despite rounding (dino issue #8).
        double h0 = height / Config.PatchSize + 0.1, w0 = width / Config.PatchSize + 0.1;
        var patchPos = pos_embed[.., 1..].reshape(1, grid, grid, -1).permute(0, 3, 1, 2);
        var resized = nn.functional.interpolate(patchPos, scale_factor: new[] { h0 / side, w0 / side }, mode: InterpolationMode.Bicubic, align_corners: false);
        if (resized.shape[2] != (long)h0 || resized.shape[3] != (long)w0)
            throw new InvalidOperationException($"position interpolation gave a {resized.shape[2]}x{resized.shape[3]} grid, expected {(long)h0}x{(long)w0}");
        var flat = resized.permute(0, 2, 3, 1).reshape(1, resized.shape[2] * resized.shape[3], -1);
        return torch.cat(new[] { pos_embed[.., ..1], flat }, 1);
    }
}

/// <summary>
/// transformers' <c>ViTModel</c> layout of a DINO checkpoint (<c>facebook/dino-vits16</c>, <c>dino-vitb8</c>, ...):
/// its <c>ViTConfig</c> read as a <see cref="DinoConfig"/>, and its keys renamed to DINO's own (the separate
/// query/key/value projections concatenated into <c>qkv</c>), as transformers' conversion script maps them the other
/// way. The pooler (and a classifier head) are not part of DINO's backbone and are dropped.
/// </summary>
public static class DinoTransformersLayout
{
    /// <summary>Whether the config.json is a transformers <c>ViTConfig</c> (model_type "vit" or a hidden_size key).</summary>
    public static bool IsViTConfig(string configPath)
    {
        using var doc = ConfigJson.ReadDocument(configPath);
        var root = doc.RootElement;
        return root.ValueKind == JsonValueKind.Object &&
               ((root.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "vit") || root.TryGetProperty("hidden_size", out _));
    }

    /// <summary>A transformers <c>ViTConfig</c> (its defaults where a key is absent) as the DINO config it describes.</summary>
    public static DinoConfig ReadConfig(string configPath)
    {
        var vit = ConfigJson.Read<ViTConfig>(configPath);
        if (vit.HiddenAct != "gelu")
            throw new InvalidDataException($"{configPath}: hidden_act '{vit.HiddenAct}' is not supported (DINO's ViT uses 'gelu')");
        if (vit.HiddenSize <= 0 || vit.IntermediateSize <= 0)
            throw new InvalidDataException($"{configPath}: hidden_size and intermediate_size must be positive, got {vit.HiddenSize} and {vit.IntermediateSize}");
        return new DinoConfig
        {
            ImgSize = vit.ImageSize, PatchSize = vit.PatchSize, InChans = vit.NumChannels, EmbedDim = vit.HiddenSize,
            Depth = vit.NumHiddenLayers, NumHeads = vit.NumAttentionHeads, MlpRatio = (double)vit.IntermediateSize / vit.HiddenSize,
            QkvBias = vit.QkvBias, LayerNormEps = vit.LayerNormEps,
        };
    }

    /// <summary>Whether the checkpoint's keys are transformers' (<c>embeddings.*</c>, optionally under <c>vit.</c>).</summary>
    public static bool IsViTCheckpoint(IReadOnlyDictionary<string, Tensor> checkpoint) =>
        checkpoint.Keys.Any(k => k.StartsWith("embeddings.", StringComparison.Ordinal) || k.StartsWith("vit.embeddings.", StringComparison.Ordinal));

    static readonly Regex LayerKey = new(@"^encoder\.layer\.(\d+)\.(.+)$");

    static readonly Dictionary<string, string> BlockNames = new(StringComparer.Ordinal)
    {
        ["layernorm_before"] = "norm1",
        ["layernorm_after"] = "norm2",
        ["attention.output.dense"] = "attn.proj",
        ["intermediate.dense"] = "mlp.fc1",
        ["output.dense"] = "mlp.fc2",
    };

    /// <summary>
    /// Renames transformers' keys to DINO's. A key that is neither transformers' backbone nor its pooler/classifier is
    /// an error naming <paramref name="source"/> and the key; so is a layer missing one of query, key and value.
    /// </summary>
    public static Dictionary<string, Tensor> ToDinoKeys(IReadOnlyDictionary<string, Tensor> checkpoint, string source)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var qkv = new Dictionary<(int Layer, string Param), Tensor[]>();
        void Add(string name, Tensor t, string from)
        {
            if (!result.TryAdd(name, t)) throw new InvalidDataException($"{source}: two tensors for '{name}' (the second from '{from}')");
        }
        foreach (var (raw, t) in checkpoint)
        {
            var key = raw.StartsWith("vit.", StringComparison.Ordinal) ? raw[4..] : raw;
            if (key.StartsWith("pooler.", StringComparison.Ordinal) || key.StartsWith("classifier.", StringComparison.Ordinal)) continue;
            switch (key)
            {
                case "embeddings.cls_token": Add("cls_token", t, raw); continue;
                case "embeddings.position_embeddings": Add("pos_embed", t, raw); continue;
                case "embeddings.patch_embeddings.projection.weight": Add("patch_embed.proj.weight", t, raw); continue;
                case "embeddings.patch_embeddings.projection.bias": Add("patch_embed.proj.bias", t, raw); continue;
                case "layernorm.weight": Add("norm.weight", t, raw); continue;
                case "layernorm.bias": Add("norm.bias", t, raw); continue;
            }
            var m = LayerKey.Match(key);
            if (!m.Success) throw new InvalidDataException($"{source}: key '{raw}' is not part of a transformers ViTModel checkpoint");
            int layer = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            var rest = m.Groups[2].Value;
            int dot = rest.LastIndexOf('.');
            string module = dot < 0 ? rest : rest[..dot], param = dot < 0 ? "" : rest[(dot + 1)..];
            int part = module switch { "attention.attention.query" => 0, "attention.attention.key" => 1, "attention.attention.value" => 2, _ => -1 };
            if (part >= 0)
            {
                if (!qkv.TryGetValue((layer, param), out var parts)) qkv[(layer, param)] = parts = new Tensor[3];
                parts[part] = t;
                continue;
            }
            if (!BlockNames.TryGetValue(module, out var name)) throw new InvalidDataException($"{source}: key '{raw}' is not part of a transformers ViTModel checkpoint");
            Add($"blocks.{layer}.{name}.{param}", t, raw);
        }
        foreach (var ((layer, param), parts) in qkv)
        {
            int missing = Array.FindIndex(parts, p => p is null);
            if (missing >= 0)
                throw new InvalidDataException($"{source}: key 'encoder.layer.{layer}.attention.attention.{new[] { "query", "key", "value" }[missing]}.{param}' is missing");
            Add($"blocks.{layer}.attn.qkv.{param}", torch.cat(parts, 0), $"encoder.layer.{layer}.attention.attention.*.{param}");
        }
        return result;
    }

    /// <summary>The keys of transformers' <c>ViTConfig</c> that describe the backbone (transformers' defaults).</summary>
    sealed record ViTConfig
    {
        public int HiddenSize { get; init; } = 768;
        public int NumHiddenLayers { get; init; } = 12;
        public int NumAttentionHeads { get; init; } = 12;
        public int IntermediateSize { get; init; } = 3072;
        public string HiddenAct { get; init; } = "gelu";
        public double LayerNormEps { get; init; } = 1e-12;
        public int ImageSize { get; init; } = 224;
        public int PatchSize { get; init; } = 16;
        public int NumChannels { get; init; } = 3;
        public bool QkvBias { get; init; } = true;
    }
}
