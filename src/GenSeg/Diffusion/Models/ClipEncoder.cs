using System.Text.Json;
using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// Hugging Face <c>CLIPAttention</c>: multi-head attention with separate q/k/v/out projections, scaled by
/// head_dim^-0.5; causal for the text model.
/// </summary>
public sealed class ClipAttention : nn.Module<Tensor, Tensor>
{
    readonly Linear q_proj, k_proj, v_proj, out_proj;
    readonly long heads;
    readonly bool causal;

    /// <summary>Creates the attention of width <paramref name="hidden"/> split into <paramref name="heads"/> heads.</summary>
    public ClipAttention(long hidden, long heads, bool causal) : base(nameof(ClipAttention))
    {
        if (heads <= 0 || hidden % heads != 0)
            throw new ArgumentException($"hidden_size {hidden} must be divisible by num_attention_heads {heads}");
        this.heads = heads;
        this.causal = causal;
        q_proj = nn.Linear(hidden, hidden);
        k_proj = nn.Linear(hidden, hidden);
        v_proj = nn.Linear(hidden, hidden);
        out_proj = nn.Linear(hidden, hidden);
        RegisterComponents();
    }

    /// <summary>[B, L, C] -> [B, L, C].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1], c = x.shape[2];
        Layers.FlopCount.Add(Layers.FlopCount.Attention(b, heads, l, l, c / heads));
        Tensor Split(Linear proj) => proj.call(x).view(b, l, heads, c / heads).transpose(1, 2);
        var o = nn.functional.scaled_dot_product_attention(Split(q_proj), Split(k_proj), Split(v_proj), is_casual: causal);
        return out_proj.call(o.transpose(1, 2).reshape(b, l, c)).MoveToOuterDisposeScope();
    }

    internal void Initialize(double inStd, double outStd)
    {
        using var noGrad = no_grad();
        foreach (var p in new[] { q_proj, k_proj, v_proj }) ClipInit.Linear(p, inStd);
        ClipInit.Linear(out_proj, outStd);
    }
}

/// <summary>Hugging Face <c>CLIPMLP</c>: fc1, activation (quick_gelu or gelu), fc2.</summary>
public sealed class ClipMlp : nn.Module<Tensor, Tensor>
{
    readonly Linear fc1, fc2;
    readonly string activation;
    readonly Scalar quickGeluScale = 1.702;

    /// <summary>Creates the MLP; <paramref name="activation"/> is the config's hidden_act.</summary>
    public ClipMlp(long hidden, long intermediate, string activation) : base(nameof(ClipMlp))
    {
        this.activation = ClipActivation.Validate(activation);
        fc1 = nn.Linear(hidden, intermediate);
        fc2 = nn.Linear(intermediate, hidden);
        RegisterComponents();
    }

    /// <summary>[B, L, C] -> [B, L, C].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = fc1.call(x);
        // quick_gelu(x) = x * sigmoid(1.702 x) (openai/CLIP); gelu is the exact erf form.
        h = activation == ClipActivation.QuickGelu ? h * torch.sigmoid(h * quickGeluScale) : nn.functional.gelu(h);
        return fc2.call(h).MoveToOuterDisposeScope();
    }

    internal void Initialize(double fc1Std, double fc2Std)
    {
        using var noGrad = no_grad();
        ClipInit.Linear(fc1, fc1Std);
        ClipInit.Linear(fc2, fc2Std);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) quickGeluScale.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Hugging Face <c>CLIPEncoderLayer</c>: pre-norm attention and MLP, each with a residual.</summary>
public sealed class ClipEncoderLayer : nn.Module<Tensor, Tensor>
{
    readonly ClipAttention self_attn;
    readonly LayerNorm layer_norm1;
    readonly ClipMlp mlp;
    readonly LayerNorm layer_norm2;

    /// <summary>Creates one layer.</summary>
    public ClipEncoderLayer(long hidden, long heads, long intermediate, string activation, double eps, bool causal) : base(nameof(ClipEncoderLayer))
    {
        self_attn = new ClipAttention(hidden, heads, causal);
        layer_norm1 = nn.LayerNorm(hidden, eps);
        mlp = new ClipMlp(hidden, intermediate, activation);
        layer_norm2 = nn.LayerNorm(hidden, eps);
        RegisterComponents();
    }

    /// <summary>The layer's attention (for hooks and inspection).</summary>
    public ClipAttention Attention => self_attn;

    /// <summary>[B, L, C] -> [B, L, C].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x + self_attn.call(layer_norm1.call(x));
        x = x + mlp.call(layer_norm2.call(x));
        return x.MoveToOuterDisposeScope();
    }

    internal void Initialize(double inStd, double outStd, double fcStd)
    {
        self_attn.Initialize(inStd, outStd);
        mlp.Initialize(fcStd, inStd);
    }
}

/// <summary>Hugging Face <c>CLIPEncoder</c>: the stack of layers (module name <c>layers</c>).</summary>
public sealed class ClipEncoder : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<ClipEncoderLayer> layers;

    /// <summary>Creates <paramref name="count"/> layers.</summary>
    public ClipEncoder(int count, long hidden, long heads, long intermediate, string activation, double eps, bool causal) : base(nameof(ClipEncoder))
    {
        layers = new ModuleList<ClipEncoderLayer>();
        for (int i = 0; i < count; i++) layers.Add(new ClipEncoderLayer(hidden, heads, intermediate, activation, eps, causal));
        RegisterComponents();
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<ClipEncoderLayer> Layers => new System.Collections.ObjectModel.ReadOnlyCollection<ClipEncoderLayer>(layers);

    /// <summary>Runs every layer.</summary>
    public override Tensor forward(Tensor x) => Run(x, layers.Count, null);

    /// <summary>
    /// Runs the first <paramref name="count"/> layers; when <paramref name="hiddenStates"/> is given, each layer's output
    /// is appended to it (the caller adds the embeddings first, as Hugging Face's hidden_states tuple has them).
    /// </summary>
    public Tensor Run(Tensor x, int count, List<Tensor>? hiddenStates)
    {
        if (count < 0 || count > layers.Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"the encoder has {layers.Count} layers");
        for (int i = 0; i < count; i++)
        {
            x = layers[i].call(x);
            hiddenStates?.Add(x);
        }
        return x;
    }

    internal void Initialize(long hidden)
    {
        // transformers CLIPPreTrainedModel._init_weights with initializer_factor 1.
        double inStd = Math.Pow(hidden, -0.5) * Math.Pow(2.0 * layers.Count, -0.5);
        double outStd = Math.Pow(hidden, -0.5);
        double fcStd = Math.Pow(2.0 * hidden, -0.5);
        foreach (var layer in layers) layer.Initialize(inStd, outStd, fcStd);
    }
}

/// <summary>The activations a CLIP config may name.</summary>
public static class ClipActivation
{
    /// <summary>openai/CLIP's x * sigmoid(1.702 x).</summary>
    public const string QuickGelu = "quick_gelu";

    /// <summary>Exact (erf) GELU, as OpenCLIP's text encoders use.</summary>
    public const string Gelu = "gelu";

    /// <summary>Returns <paramref name="name"/> when supported, else throws naming it.</summary>
    public static string Validate(string name) => name is QuickGelu or Gelu
        ? name
        : throw new ArgumentException($"hidden_act '{name}' is not supported (expected '{QuickGelu}' or '{Gelu}')");
}

/// <summary>Weight initialisation shared by the fresh CLIP models (transformers' scheme).</summary>
internal static class ClipInit
{
    public static void Linear(Linear linear, double std)
    {
        nn.init.normal_(linear.weight, 0, std);
        if (linear.bias is not null) nn.init.zeros_(linear.bias);
    }

    /// <summary>text_projection / visual_projection: normal with std hidden^-0.5 (no-op when absent).</summary>
    public static void Projection(Linear? projection, long hidden)
    {
        if (projection is null) return;
        using var noGrad = no_grad();
        nn.init.normal_(projection.weight!, 0, Math.Pow(hidden, -0.5));
    }
}

/// <summary>Reads a model's config record from a flat config.json or from one section of a combined one.</summary>
internal static class ConfigSection
{
    /// <summary>
    /// Reads <typeparamref name="T"/> from <paramref name="path"/>; when the file holds a combined config (e.g. a full
    /// <c>CLIPModel</c>'s, with <c>text_config</c> and <c>vision_config</c>), reads <paramref name="section"/> and sets
    /// <paramref name="nested"/>.
    /// </summary>
    public static T Read<T>(string path, string section, out bool nested)
    {
        nested = false;
        using var doc = ConfigJson.ReadDocument(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: config must be a JSON object");
        var element = doc.RootElement;
        // Older transformers wrote the sections as text_config_dict / vision_config_dict.
        foreach (var name in new[] { section, section + "_dict" })
        {
            nested = element.TryGetProperty(name, out var inner) && inner.ValueKind == JsonValueKind.Object;
            if (!nested) continue;
            element = inner;
            break;
        }
        try
        {
            return element.Deserialize<T>(ConfigJson.Options) ?? throw new InvalidDataException($"{path}: config is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: cannot read {typeof(T).Name} ({e.Message})", e);
        }
    }
}

/// <summary>What the CLIP text and vision models share about their checkpoints.</summary>
internal static class ClipCheckpoint
{
    /// <summary>transformers' layout: model.safetensors, no <c>_class_name</c>.</summary>
    public static readonly PretrainedLayout Layout = new("model.safetensors");

    /// <summary>
    /// One tower's keys: the <c>position_ids</c> buffer older transformers saved is dropped; when the config is a full
    /// CLIP model's (its <paramref name="section"/> nested), only keys under <paramref name="prefix"/> and
    /// <paramref name="projectionPrefix"/> are kept, otherwise every key stays so that strict loading reports strays.
    /// </summary>
    public static Dictionary<string, Tensor> Tower(Dictionary<string, Tensor> checkpoint, string configPath, string section, string prefix, string projectionPrefix)
    {
        ConfigSection.Read<JsonElement>(configPath, section, out bool combined);
        var positionIds = prefix + "embeddings.position_ids";
        return checkpoint
            .Where(kv => kv.Key != positionIds && (!combined || kv.Key.StartsWith(prefix, StringComparison.Ordinal) || kv.Key.StartsWith(projectionPrefix, StringComparison.Ordinal)))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }
}
