using System.Text.RegularExpressions;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// The <c>config.json</c> of a diffusers <c>AutoencoderKL</c> folder. Defaults are diffusers 0.21's constructor
/// defaults, which apply to every key a config file leaves out.
/// </summary>
public sealed record AutoencoderKLConfig
{
    /// <summary><c>in_channels</c>: image channels.</summary>
    public int InChannels { get; init; } = 3;
    /// <summary><c>out_channels</c>: decoded image channels.</summary>
    public int OutChannels { get; init; } = 3;
    /// <summary><c>down_block_types</c>: one per level; only <c>DownEncoderBlock2D</c>.</summary>
    public string[] DownBlockTypes { get; init; } = { "DownEncoderBlock2D" };
    /// <summary><c>up_block_types</c>: one per level; only <c>UpDecoderBlock2D</c>.</summary>
    public string[] UpBlockTypes { get; init; } = { "UpDecoderBlock2D" };
    /// <summary><c>block_out_channels</c>: channels per level (encoder order).</summary>
    public int[] BlockOutChannels { get; init; } = { 64 };
    /// <summary><c>layers_per_block</c>: resnets per encoder level (the decoder has one more).</summary>
    public int LayersPerBlock { get; init; } = 1;
    /// <summary><c>act_fn</c>: the resnets' activation (the output activation is always SiLU, as in diffusers).</summary>
    public string ActFn { get; init; } = "silu";
    /// <summary><c>latent_channels</c>.</summary>
    public int LatentChannels { get; init; } = 4;
    /// <summary><c>norm_num_groups</c>: GroupNorm groups everywhere.</summary>
    public int NormNumGroups { get; init; } = 32;
    /// <summary><c>sample_size</c>: the image size the model was trained at (informative).</summary>
    public int SampleSize { get; init; } = 32;
    /// <summary><c>scaling_factor</c>: latents are multiplied by it before the UNet (0.18215 for SD 1.x/2.x).</summary>
    public double ScalingFactor { get; init; } = 0.18215;
    /// <summary><c>force_upcast</c>: a pipeline running in half precision should run this VAE in float32.</summary>
    public bool ForceUpcast { get; init; } = true;
    /// <summary><c>mid_block_add_attention</c> (later diffusers versions; 0.21 always has the attention).</summary>
    public bool MidBlockAddAttention { get; init; } = true;
    /// <summary><c>use_quant_conv</c> (later diffusers versions; 0.21 always has it).</summary>
    public bool UseQuantConv { get; init; } = true;
    /// <summary><c>use_post_quant_conv</c> (later diffusers versions; 0.21 always has it).</summary>
    public bool UsePostQuantConv { get; init; } = true;

    /// <summary>Checks every value the model depends on; errors name <paramref name="source"/> and the key.</summary>
    public void Validate(string source = "AutoencoderKL config")
    {
        void Fail(string key, string msg) => throw new InvalidDataException($"{source}: {key} {msg}");
        if (InChannels <= 0) Fail("in_channels", $"must be positive, got {InChannels}");
        if (OutChannels <= 0) Fail("out_channels", $"must be positive, got {OutChannels}");
        if (LatentChannels <= 0) Fail("latent_channels", $"must be positive, got {LatentChannels}");
        if (LayersPerBlock <= 0) Fail("layers_per_block", $"must be positive, got {LayersPerBlock}");
        if (NormNumGroups <= 0) Fail("norm_num_groups", $"must be positive, got {NormNumGroups}");
        if (BlockOutChannels is null || BlockOutChannels.Length == 0) Fail("block_out_channels", "must list at least one level");
        if (DownBlockTypes is null || DownBlockTypes.Length != BlockOutChannels!.Length)
            Fail("down_block_types", $"must have one entry per block_out_channels level ({BlockOutChannels!.Length}), got {DownBlockTypes?.Length ?? 0}");
        if (UpBlockTypes is null || UpBlockTypes.Length != BlockOutChannels!.Length)
            Fail("up_block_types", $"must have one entry per block_out_channels level ({BlockOutChannels!.Length}), got {UpBlockTypes?.Length ?? 0}");
        for (int i = 0; i < DownBlockTypes!.Length; i++)
            if (DownBlockTypes[i] != "DownEncoderBlock2D") Fail($"down_block_types[{i}]", $"'{DownBlockTypes[i]}' is not supported (DownEncoderBlock2D)");
        for (int i = 0; i < UpBlockTypes!.Length; i++)
            if (UpBlockTypes[i] != "UpDecoderBlock2D") Fail($"up_block_types[{i}]", $"'{UpBlockTypes[i]}' is not supported (UpDecoderBlock2D)");
        for (int i = 0; i < BlockOutChannels!.Length; i++)
            if (BlockOutChannels[i] <= 0 || BlockOutChannels[i] % NormNumGroups != 0)
                Fail($"block_out_channels[{i}]", $"= {BlockOutChannels[i]} must be a positive multiple of norm_num_groups ({NormNumGroups})");
        if (!Activations.Names.Contains(ActFn)) Fail("act_fn", $"'{ActFn}' is not supported ({string.Join(", ", Activations.Names)})");
    }
}

/// <summary>
/// diffusers' <c>DiagonalGaussianDistribution</c>: the encoder's posterior. <see cref="LogVar"/> is clamped to
/// [-30, 20] as diffusers does; neither field includes the scaling factor.
/// </summary>
/// <param name="Mean">Posterior mean [B, latent, h, w].</param>
/// <param name="LogVar">Posterior log-variance [B, latent, h, w], clamped.</param>
public sealed record DiagonalGaussian(Tensor Mean, Tensor LogVar)
{
    /// <summary>Splits <c>quant_conv</c>'s output [B, 2 * latent, h, w] into mean and clamped log-variance.</summary>
    public static DiagonalGaussian FromMoments(Tensor moments)
    {
        var parts = moments.chunk(2, 1);
        using var lo = torch.tensor(-30f, dtype: moments.dtype, device: moments.device);
        using var hi = torch.tensor(20f, dtype: moments.dtype, device: moments.device);
        return new DiagonalGaussian(parts[0], torch.clamp(parts[1], lo, hi));
    }

    /// <summary>exp(0.5 * logvar).</summary>
    public Tensor Std()
    {
        using var half = torch.tensor(0.5, dtype: LogVar.dtype, device: LogVar.device);
        return (LogVar * half).exp();
    }

    /// <summary>mean + std * N(0, I), the noise drawn from <paramref name="generator"/> (reparameterised: differentiable).</summary>
    public Tensor Sample(Generator? generator = null)
    {
        using var scope = torch.NewDisposeScope();
        var noise = torch.randn(Mean.shape, dtype: Mean.dtype, device: Mean.device, generator: generator);
        return (Mean + Std() * noise).MoveToOuterDisposeScope();
    }

    /// <summary>The mode (= mean).</summary>
    public Tensor Mode() => Mean;

    /// <summary>KL divergence to N(0, I) per sample: 0.5 * sum(mean^2 + var - 1 - logvar) over C, H, W -> [B].</summary>
    public Tensor Kl()
    {
        using var scope = torch.NewDisposeScope();
        var one = torch.ones(1, dtype: Mean.dtype, device: Mean.device);
        var half = torch.tensor(0.5, dtype: Mean.dtype, device: Mean.device);
        var s = (Mean.square() + LogVar.exp() - one - LogVar).sum(new long[] { 1, 2, 3 });
        return (s * half).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>AutoencoderKL</c> (0.21.4): <see cref="VaeEncoder"/> + <c>quant_conv</c> to a diagonal Gaussian
/// posterior, <c>post_quant_conv</c> + <see cref="VaeDecoder"/> back to an image. Module names equal the diffusers
/// checkpoint keys. Images are [B, 3, H, W] in [-1, 1]; latents are unscaled (multiply by <see cref="ScalingFactor"/>
/// before a UNet, divide after). Trainable: no call here disables gradients; wrap inference in <c>torch.no_grad()</c>.
/// </summary>
public sealed class AutoencoderKL : nn.Module<Tensor, Tensor>, IPretrainedModel<AutoencoderKL, AutoencoderKLConfig>
{
    /// <summary>diffusers' weight file name, written by <see cref="Save"/>.</summary>
    public const string WeightsFileName = "diffusion_pytorch_model.safetensors";

    readonly VaeEncoder encoder;
    readonly VaeDecoder decoder;
    readonly nn.Module<Tensor, Tensor>? quant_conv;
    readonly nn.Module<Tensor, Tensor>? post_quant_conv;

    /// <summary>The config this model was built from.</summary>
    public AutoencoderKLConfig Config { get; }

    /// <summary><c>scaling_factor</c> from the config.</summary>
    public double ScalingFactor => Config.ScalingFactor;

    /// <summary>Spatial reduction from image to latent: 2^(levels - 1) (8 for SD).</summary>
    public int DownsampleFactor => 1 << (Config.BlockOutChannels.Length - 1);

    AutoencoderKL(AutoencoderKLConfig config) : base(nameof(AutoencoderKL))
    {
        Config = config;
        var blocks = config.BlockOutChannels.Select(c => (long)c).ToArray();
        encoder = new VaeEncoder(config.InChannels, config.LatentChannels, config.DownBlockTypes, blocks, config.LayersPerBlock,
            config.NormNumGroups, config.ActFn, doubleZ: true, midBlockAddAttention: config.MidBlockAddAttention);
        decoder = new VaeDecoder(config.LatentChannels, config.OutChannels, config.UpBlockTypes, blocks, config.LayersPerBlock,
            config.NormNumGroups, config.ActFn, midBlockAddAttention: config.MidBlockAddAttention);
        if (config.UseQuantConv) quant_conv = nn.Conv2d(2 * config.LatentChannels, 2 * config.LatentChannels, 1);
        if (config.UsePostQuantConv) post_quant_conv = nn.Conv2d(config.LatentChannels, config.LatentChannels, 1);
        RegisterComponents();
    }

    /// <summary>A freshly initialised model (PyTorch's default init; GroupNorms set to ones/zeros).</summary>
    public static AutoencoderKL FromConfig(AutoencoderKLConfig config, Device? device = null, ScalarType? dtype = null)
    {
        config.Validate();
        var model = new AutoencoderKL(config);
        Init.ResetNorms(model);
        if (dtype is ScalarType dt) model.to(dt);
        if (device is not null) model.to(device);
        return model;
    }

    /// <summary>
    /// Loads a diffusers VAE folder (config.json and weights in any format <see cref="Checkpoint"/> reads) with strict key
    /// checking, in eval mode; older key layouts are converted first (see <see cref="ConvertLegacyKeys"/>).
    /// </summary>
    public static AutoencoderKL FromFolder(string folder, Device? device = null, ScalarType? dtype = null) =>
        PretrainedModel.Load<AutoencoderKL, AutoencoderKLConfig>(folder, device, dtype);

    /// <summary>Writes <c>config.json</c> and <c>diffusion_pytorch_model.safetensors</c> (diffusers layout) into <paramref name="folder"/>.</summary>
    public void Save(string folder) => PretrainedModel.Save<AutoencoderKL, AutoencoderKLConfig>(this, folder);

    static PretrainedLayout IPretrainedModel<AutoencoderKL, AutoencoderKLConfig>.Layout { get; } =
        new(WeightsFileName, nameof(AutoencoderKL), new Dictionary<string, string> { ["format"] = "pt" });

    static AutoencoderKLConfig IPretrainedModel<AutoencoderKL, AutoencoderKLConfig>.ReadConfig(string configPath)
    {
        var config = ConfigJson.Read<AutoencoderKLConfig>(configPath);
        config.Validate(configPath);
        return config;
    }

    static AutoencoderKL IPretrainedModel<AutoencoderKL, AutoencoderKLConfig>.Create(AutoencoderKLConfig config, IReadOnlyCollection<string> keys) => new(config);

    static Dictionary<string, Tensor> IPretrainedModel<AutoencoderKL, AutoencoderKLConfig>.ToModelKeys(AutoencoderKLConfig config,
        Dictionary<string, Tensor> checkpoint, string configPath, string weightsPath)
    {
        try
        {
            return ConvertLegacyKeys(checkpoint, config.BlockOutChannels.Length);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{weightsPath}: {e.Message}", e);
        }
    }

    /// <summary>Image [B, in_channels, H, W] in [-1, 1] -> the posterior over unscaled latents [B, latent, H/f, W/f].</summary>
    public DiagonalGaussian Encode(Tensor image)
    {
        Common.Check.Shape(image, "image", -1, Config.InChannels, -1, -1);
        using var scope = torch.NewDisposeScope();
        var h = encoder.call(image);
        if (quant_conv is not null) h = quant_conv.call(h);
        var d = DiagonalGaussian.FromMoments(h);
        return new DiagonalGaussian(d.Mean.MoveToOuterDisposeScope(), d.LogVar.MoveToOuterDisposeScope());
    }

    /// <summary>Unscaled latent [B, latent, h, w] -> image [B, out_channels, h*f, w*f] (about [-1, 1]).</summary>
    public Tensor Decode(Tensor latent)
    {
        Common.Check.Shape(latent, "latent", -1, Config.LatentChannels, -1, -1);
        using var scope = torch.NewDisposeScope();
        var z = post_quant_conv is null ? latent : post_quant_conv.call(latent);
        return decoder.call(z).MoveToOuterDisposeScope();
    }

    /// <summary>diffusers' <c>forward</c> without sampling: decode(encode(image).mode()).</summary>
    public override Tensor forward(Tensor image)
    {
        using var scope = torch.NewDisposeScope();
        return Decode(Encode(image).Mode()).MoveToOuterDisposeScope();
    }

    static readonly (Regex Pattern, Func<Match, int, string> Map)[] LdmRules =
    {
        (new Regex(@"^(encoder|decoder)\.norm_out\.(.+)$"), (m, _) => $"{m.Groups[1].Value}.conv_norm_out.{m.Groups[2].Value}"),
        (new Regex(@"^encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$"),
            (m, _) => $"encoder.down_blocks.{m.Groups[1].Value}.resnets.{m.Groups[2].Value}.{Shortcut(m.Groups[3].Value)}"),
        (new Regex(@"^encoder\.down\.(\d+)\.downsample\.conv\.(.+)$"),
            (m, _) => $"encoder.down_blocks.{m.Groups[1].Value}.downsamplers.0.conv.{m.Groups[2].Value}"),
        (new Regex(@"^decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$"),
            (m, n) => $"decoder.up_blocks.{n - 1 - int.Parse(m.Groups[1].Value)}.resnets.{m.Groups[2].Value}.{Shortcut(m.Groups[3].Value)}"),
        (new Regex(@"^decoder\.up\.(\d+)\.upsample\.conv\.(.+)$"),
            (m, n) => $"decoder.up_blocks.{n - 1 - int.Parse(m.Groups[1].Value)}.upsamplers.0.conv.{m.Groups[2].Value}"),
        (new Regex(@"^(encoder|decoder)\.mid\.block_(\d+)\.(.+)$"),
            (m, _) => $"{m.Groups[1].Value}.mid_block.resnets.{int.Parse(m.Groups[2].Value) - 1}.{Shortcut(m.Groups[3].Value)}"),
        (new Regex(@"^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(.+)$"),
            (m, _) => $"{m.Groups[1].Value}.mid_block.attentions.0.{LdmAttention(m.Groups[2].Value)}.{m.Groups[3].Value}"),
    };

    static readonly Regex DeprecatedAttention = new(@"^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$");
    static readonly Regex AttentionLinearWeight = new(@"\.attentions\.\d+\.(to_q|to_k|to_v|to_out\.0)\.weight$");

    static string Shortcut(string rest) => rest.StartsWith("nin_shortcut.", StringComparison.Ordinal) ? "conv_shortcut." + rest["nin_shortcut.".Length..] : rest;

    static string LdmAttention(string name) => name switch
    {
        "norm" => "group_norm",
        "q" => "to_q",
        "k" => "to_k",
        "v" => "to_v",
        _ => "to_out.0",
    };

    /// <summary>
    /// Renames older VAE checkpoint layouts to diffusers' current keys, as diffusers does when loading:
    /// (1) the deprecated attention names <c>query</c>/<c>key</c>/<c>value</c>/<c>proj_attn</c> ->
    /// <c>to_q</c>/<c>to_k</c>/<c>to_v</c>/<c>to_out.0</c> (diffusers' <c>_convert_deprecated_attention_blocks</c>);
    /// (2) the original latent-diffusion layout (<c>encoder.down.0.block.0</c>, <c>mid.attn_1.q</c>, <c>norm_out</c>,
    /// <c>nin_shortcut</c>, decoder levels numbered from the bottom; an optional <c>first_stage_model.</c> prefix),
    /// as diffusers' <c>convert_ldm_vae_checkpoint</c> does, 1x1-convolution attention weights becoming linear weights.
    /// Current keys pass through unchanged; the tensors are not copied.
    /// </summary>
    /// <param name="weights">The checkpoint's tensors.</param>
    /// <param name="levels">Number of resolution levels (<c>block_out_channels</c> length), to renumber decoder levels.</param>
    public static Dictionary<string, Tensor> ConvertLegacyKeys(IReadOnlyDictionary<string, Tensor> weights, int levels)
    {
        const string prefix = "first_stage_model.";
        IEnumerable<KeyValuePair<string, Tensor>> source = weights;
        if (weights.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal)))
            source = weights.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .Select(kv => KeyValuePair.Create(kv.Key[prefix.Length..], kv.Value));
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, value) in source)
        {
            var name = key;
            foreach (var (pattern, map) in LdmRules)
            {
                var m = pattern.Match(key);
                if (m.Success) { name = map(m, levels); break; }
            }
            var d = DeprecatedAttention.Match(name);
            if (d.Success)
            {
                var to = d.Groups[2].Value switch { "query" => "to_q", "key" => "to_k", "value" => "to_v", _ => "to_out.0" };
                name = $"{d.Groups[1].Value}.{to}.{d.Groups[3].Value}";
            }
            var tensor = value;
            if (AttentionLinearWeight.IsMatch(name) && tensor.dim() > 2 && tensor.shape.Skip(2).All(s => s == 1))
                tensor = tensor.reshape(tensor.shape[0], tensor.shape[1]);
            if (!result.TryAdd(name, tensor))
                throw new InvalidDataException($"checkpoint holds two tensors for '{name}' (after renaming legacy key '{key}')");
        }
        return result;
    }
}
