using GenSeg.Common;
using GenSeg.Diffusion.Attention;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// diffusers' <c>UNet2DConditionModel</c> (0.21.4) built from its <c>config.json</c>: conv_in, sinusoidal timestep
/// embedding with <c>time_embedding</c>, down blocks, mid block, up blocks with skip connections, GroupNorm + activation +
/// conv_out. Module names equal the checkpoint keys, so a diffusers <c>unet</c> folder loads with strict checking.
/// Every attention layer accepts the per-call hooks of <see cref="AttentionControl"/>; <see cref="UNetFeatureTaps"/>
/// returns chosen up-block outputs.
/// </summary>
public sealed class UNet2DConditionModel : nn.Module<Tensor, Tensor, Tensor, Tensor>, IPretrainedModel<UNet2DConditionModel, UNet2DConditionConfig>
{
    /// <summary>The <c>_class_name</c> diffusers writes into the config.</summary>
    public const string ClassName = "UNet2DConditionModel";

    /// <summary>File name of the weights <see cref="Save"/> writes (diffusers' name).</summary>
    public const string WeightsFileName = "diffusion_pytorch_model.safetensors";

#pragma warning disable IDE1006 // checkpoint key names
    readonly GemmConv2d conv_in;
    readonly TimestepEmbedding time_embedding;
    readonly ModuleList<UNetDownBlock> down_blocks;
    readonly UNetMidBlock2DCrossAttn? mid_block;
    readonly ModuleList<UNetUpBlock> up_blocks;
    readonly GroupNorm conv_norm_out;
    readonly nn.Module<Tensor, Tensor> conv_act;
    readonly GemmConv2d conv_out;
#pragma warning restore IDE1006

    readonly AttentionSite[] siteTemplates;
    readonly int numUpsamplers;
    readonly int[] crossDims;

    /// <summary>The config the model was built from.</summary>
    public UNet2DConditionConfig Config { get; }

    /// <summary>Number of resolution levels (entries of block_out_channels).</summary>
    public int Levels => Config.BlockOutChannels.Length;

    /// <summary>The down blocks.</summary>
    public IReadOnlyList<UNetDownBlock> DownBlocks => down_blocks.ToArray();

    /// <summary>The up blocks.</summary>
    public IReadOnlyList<UNetUpBlock> UpBlocks => up_blocks.ToArray();

    UNet2DConditionModel(UNet2DConditionConfig c) : base(ClassName)
    {
        Config = c;
        int n = c.BlockOutChannels.Length;
        var ch = c.BlockOutChannels;
        var layers = c.LayersPerBlock.PerBlock(n, "layers_per_block");
        var transformerLayers = c.TransformerLayersPerBlock.PerBlock(n, "transformer_layers_per_block");
        crossDims = c.CrossAttentionDim.PerBlock(n, "cross_attention_dim");
        // diffusers 0.21.4: num_attention_heads = attention_head_dim (the historical naming); the head width is channels / heads.
        var heads = c.AttentionHeadDim.PerBlock(n, "attention_head_dim");
        int groups = c.NormNumGroups!.Value;

        conv_in = new GemmConv2d(c.InChannels, ch[0], c.ConvInKernel, padding: (c.ConvInKernel - 1) / 2);
        long timeEmbedDim = c.TimeEmbeddingDim ?? ch[0] * 4;
        time_embedding = new TimestepEmbedding(ch[0], timeEmbedDim, c.ActFn);
        var s = new UNetBlockSettings(timeEmbedDim, c.NormEps, c.ActFn, groups, c.ResnetTimeScaleShift, c.UseLinearProjection, c.UpcastAttention);

        var down = new UNetDownBlock[n];
        long output = ch[0];
        for (int i = 0; i < n; i++)
        {
            long input = output;
            output = ch[i];
            down[i] = new UNetDownBlock(UNet2DConditionConfig.BlockType(c.DownBlockTypes[i]), i, s, input, output, layers[i], i != n - 1,
                                        c.DownsamplePadding, heads[i], transformerLayers[i], crossDims[i]);
        }
        down_blocks = nn.ModuleList(down);

        if (c.MidBlockType is not null)
            mid_block = new UNetMidBlock2DCrossAttn(s, ch[^1], n - 1, c.MidBlockScaleFactor, heads[^1], transformerLayers[^1], crossDims[^1]);

        var up = new UNetUpBlock[n];
        output = ch[n - 1];
        for (int i = 0; i < n; i++)
        {
            int r = n - 1 - i; // reversed index
            bool isFinal = i == n - 1;
            long prevOutput = output;
            output = ch[r];
            long input = ch[Math.Max(r - 1, 0)];
            if (!isFinal) numUpsamplers++;
            up[i] = new UNetUpBlock(UNet2DConditionConfig.BlockType(c.UpBlockTypes[i]), i, r, s, input, prevOutput, output, layers[r] + 1, !isFinal,
                                    heads[r], transformerLayers[r], crossDims[r]);
        }
        up_blocks = nn.ModuleList(up);

        conv_norm_out = nn.GroupNorm(groups, ch[0], c.NormEps, affine: true);
        conv_act = Activations.Create(c.ActFn, "act_fn");
        conv_out = new GemmConv2d(ch[0], c.OutChannels, c.ConvOutKernel, padding: (c.ConvOutKernel - 1) / 2);
        RegisterComponents();

        siteTemplates = down.SelectMany(b => b.Attentions)
            .Concat(mid_block?.Attentions ?? Array.Empty<Transformer2DModel>())
            .Concat(up.SelectMany(b => b.Attentions))
            .SelectMany(t => t.Blocks)
            .SelectMany(b => new[] { b.SelfAttention.Site, b.CrossAttention.Site })
            .ToArray();
    }

    /// <summary>Builds a freshly initialised model (PyTorch's default initialisation; norms at weight 1, bias 0).</summary>
    public static UNet2DConditionModel FromConfig(UNet2DConditionConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var model = new UNet2DConditionModel(config);
        Init.ResetNorms(model);
        return model;
    }

    /// <summary>
    /// Loads a diffusers <c>unet</c> folder (config.json and weights in any format <see cref="Checkpoint"/> reads),
    /// strictly, in eval mode on <paramref name="device"/> (default CPU) with floating-point type
    /// <paramref name="dtype"/> (default float32); see <see cref="PretrainedModel.Load{TSelf, TConfig}"/>.
    /// </summary>
    public static UNet2DConditionModel FromFolder(string folder, Device? device = null, ScalarType? dtype = null) =>
        PretrainedModel.Load<UNet2DConditionModel, UNet2DConditionConfig>(folder, device, dtype);

    /// <summary>Writes <c>config.json</c> (with <c>_class_name</c>) and the weights as safetensors into <paramref name="folder"/>.</summary>
    public void Save(string folder) => PretrainedModel.Save<UNet2DConditionModel, UNet2DConditionConfig>(this, folder);

    static PretrainedLayout IPretrainedModel<UNet2DConditionModel, UNet2DConditionConfig>.Layout { get; } = new(WeightsFileName, ClassName);

    static UNet2DConditionConfig IPretrainedModel<UNet2DConditionModel, UNet2DConditionConfig>.ReadConfig(string configPath)
    {
        var config = ConfigJson.Read<UNet2DConditionConfig>(configPath);
        try
        {
            config.Validate();
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"{configPath}: {e.Message}", e);
        }
        return config;
    }

    static UNet2DConditionModel IPretrainedModel<UNet2DConditionModel, UNet2DConditionConfig>.Create(UNet2DConditionConfig config, IReadOnlyCollection<string> keys) =>
        new(config);

    static UNet2DConditionConfig IPretrainedModel<UNet2DConditionModel, UNet2DConditionConfig>.ConfigToSave(UNet2DConditionConfig config) => config with { Extra = null };

    /// <summary>
    /// Every attention layer of the model with its query resolution for a latent of
    /// <paramref name="sampleHeight"/> x <paramref name="sampleWidth"/>, in execution order (down, mid, up; attn1 then attn2).
    /// </summary>
    public IReadOnlyList<AttentionSite> AttentionSites(long sampleHeight, long sampleWidth)
    {
        var res = LevelResolutions(sampleHeight, sampleWidth);
        return siteTemplates.Select(t => t with { Height = res[t.Level].Height, Width = res[t.Level].Width }).ToArray();
    }

    /// <summary>Spatial size of each resolution level for a latent of the given size (level 0 = the latent).</summary>
    public (long Height, long Width)[] LevelResolutions(long sampleHeight, long sampleWidth)
    {
        if (sampleHeight <= 0 || sampleWidth <= 0) throw new ArgumentOutOfRangeException(nameof(sampleHeight), $"sample size must be positive, got {sampleHeight}x{sampleWidth}");
        var res = new (long, long)[Levels];
        res[0] = (sampleHeight, sampleWidth);
        for (int i = 1; i < Levels; i++)
            res[i] = (DownsampledSize(res[i - 1].Item1), DownsampledSize(res[i - 1].Item2));
        return res;
    }

    /// <summary>Size after a down block's Downsample2D: 3x3 stride-2 conv with downsample_padding (0: one pixel padded right/bottom).</summary>
    long DownsampledSize(long size)
    {
        long p = Config.DownsamplePadding;
        return ((p == 0 ? size + 1 : size + 2 * p) - 3) / 2 + 1;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates) => Forward(sample, timestep, encoderHiddenStates);

    /// <summary>
    /// Predicts the model output (noise or v) for <paramref name="sample"/> [B, in_channels, h, w] at
    /// <paramref name="timestep"/> (a scalar or [B]; integer or float) conditioned on
    /// <paramref name="encoderHiddenStates"/> [B, L, cross_attention_dim]. Returns [B, out_channels, h, w].
    /// </summary>
    public Tensor Forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, AttentionControl? control = null, UNetFeatureTaps? taps = null)
    {
        Check.Rank(sample, "sample", 4, "[B, C, H, W]");
        long b = sample.shape[0];
        Check.Shape(sample, "sample", -1, Config.InChannels, -1, -1);
        Check.Rank(encoderHiddenStates, "encoderHiddenStates", 3, "[B, L, D]");
        if (crossDims.Distinct().Count() == 1) Check.Shape(encoderHiddenStates, "encoderHiddenStates", b, -1, crossDims[0]);
        else Check.Shape(encoderHiddenStates, "encoderHiddenStates", b, -1, -1);
        if (timestep.dim() > 1 || (timestep.dim() == 1 && timestep.shape[0] != b && timestep.shape[0] != 1))
            throw new ArgumentException($"timestep: expected a scalar or [B={b}], got {Check.Format(timestep.shape)}", nameof(timestep));
        if (taps is not null)
            foreach (var i in taps.UpBlocks)
                if (i < 0 || i >= up_blocks.Count)
                    throw new ArgumentOutOfRangeException(nameof(taps), $"UNetFeatureTaps: up block {i} does not exist (the model has {up_blocks.Count})");

        using var scope = torch.NewDisposeScope();
        taps?.Clear();
        long factor = 1L << numUpsamplers;
        bool forwardUpsampleSize = sample.shape[2] % factor != 0 || sample.shape[3] % factor != 0;

        if (Config.CenterInputSample)
        {
            using var two = 2.0.ToScalar();
            using var one = 1.0.ToScalar();
            sample = sample.mul(two).sub_(one);
        }

        // 1. time
        var t = (timestep.dim() == 0 ? timestep.reshape(1) : timestep).to(sample.device).expand(b);
        var tEmb = TimestepEmbeddings.Sinusoidal(t, Config.BlockOutChannels[0], Config.FlipSinToCos, Config.FreqShift).to_type(sample.dtype);
        var emb = time_embedding.call(tEmb);

        // 2. pre-process, 3. down
        var h = conv_in.call(sample);
        var skips = new List<Tensor> { h };
        foreach (var block in down_blocks) h = block.Forward(h, emb, encoderHiddenStates, control, skips);

        // 4. mid
        if (mid_block is not null) h = mid_block.Forward(h, emb, encoderHiddenStates, control);

        // 5. up
        for (int i = 0; i < up_blocks.Count; i++)
        {
            var block = up_blocks[i];
            bool isFinal = i == up_blocks.Count - 1;
            long[]? upsampleSize = !isFinal && forwardUpsampleSize ? skips[skips.Count - block.ResnetCount - 1].shape[2..] : null;
            h = block.Forward(h, skips, emb, encoderHiddenStates, control, upsampleSize);
            if (taps is not null && taps.UpBlocks.Contains(i)) taps.Set(i, h);
        }

        // 6. post-process
        h = conv_out.call(conv_act.call(conv_norm_out.call(h)));
        if (taps is not null)
            foreach (var tap in taps.Outputs.Values) tap.MoveToOuterDisposeScope();
        return h.MoveToOuterDisposeScope();
    }
}
