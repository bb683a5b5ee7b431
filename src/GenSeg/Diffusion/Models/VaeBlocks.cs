using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// diffusers' <c>Attention</c> as the VAE's mid-block builds it (0.21: <c>norm_num_groups</c> set,
/// <c>residual_connection=True</c>, <c>bias=True</c>, <c>_from_deprecated_attn_block=True</c>) run with
/// <c>AttnProcessor2_0</c>: GroupNorm over the channels, single- or multi-head self-attention over the H*W positions
/// by scaled-dot-product attention (scale 1/sqrt(dim_head)), output projection, + input, / <c>rescale_output_factor</c>.
/// Keys: <c>group_norm</c>, <c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c>.
/// </summary>
public sealed class SpatialSelfAttention : nn.Module<Tensor, Tensor>
{
    readonly long queryDim;
    readonly long heads;
    readonly double rescaleOutputFactor;
    readonly bool residualConnection;

    readonly nn.Module<Tensor, Tensor>? group_norm;
    readonly nn.Module<Tensor, Tensor> to_q;
    readonly nn.Module<Tensor, Tensor> to_k;
    readonly nn.Module<Tensor, Tensor> to_v;
    readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;

    /// <summary>Builds the block with diffusers' <c>Attention</c> arguments.</summary>
    /// <param name="queryDim"><c>query_dim</c>: channels of the feature map.</param>
    /// <param name="heads"><c>heads</c>.</param>
    /// <param name="dimHead"><c>dim_head</c>.</param>
    /// <param name="rescaleOutputFactor"><c>rescale_output_factor</c>.</param>
    /// <param name="eps"><c>eps</c> of the GroupNorm.</param>
    /// <param name="normNumGroups"><c>norm_num_groups</c>; null: no GroupNorm.</param>
    /// <param name="residualConnection"><c>residual_connection</c>.</param>
    /// <param name="bias"><c>bias</c> of to_q/to_k/to_v.</param>
    public SpatialSelfAttention(long queryDim, long heads, long dimHead, double rescaleOutputFactor = 1.0, double eps = 1e-5,
        long? normNumGroups = null, bool residualConnection = true, bool bias = true) : base(nameof(SpatialSelfAttention))
    {
        this.queryDim = queryDim;
        this.heads = heads;
        this.rescaleOutputFactor = rescaleOutputFactor;
        this.residualConnection = residualConnection;
        var inner = dimHead * heads;
        if (normNumGroups is long g) group_norm = nn.GroupNorm(g, queryDim, eps, affine: true);
        to_q = nn.Linear(queryDim, inner, hasBias: bias);
        to_k = nn.Linear(queryDim, inner, hasBias: bias);
        to_v = nn.Linear(queryDim, inner, hasBias: bias);
        to_out = nn.ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(inner, queryDim, hasBias: true), nn.Dropout(0.0));
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] -> [B, C, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        Common.Check.Shape(x, "attention input", -1, queryDim, -1, -1);
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], hgt = x.shape[2], wid = x.shape[3];
        var h = x.view(b, c, hgt * wid);
        h = group_norm is null ? h.transpose(1, 2) : group_norm.call(h).transpose(1, 2); // [B, HW, C]
        var q = to_q.call(h);
        var k = to_k.call(h);
        var v = to_v.call(h);
        long headDim = k.shape[^1] / heads;
        FlopCount.Add(FlopCount.Attention(b, heads, hgt * wid, hgt * wid, headDim));
        q = q.view(b, -1, heads, headDim).transpose(1, 2);
        k = k.view(b, -1, heads, headDim).transpose(1, 2);
        v = v.view(b, -1, heads, headDim).transpose(1, 2);
        var o = nn.functional.scaled_dot_product_attention(q, k, v);
        o = o.transpose(1, 2).reshape(b, -1, heads * headDim);
        o = to_out[1].call(to_out[0].call(o));
        o = o.transpose(-1, -2).reshape(b, c, hgt, wid);
        if (residualConnection) o = o + x;
        if (rescaleOutputFactor != 1.0) o = o / torch.tensor(rescaleOutputFactor, dtype: o.dtype, device: o.device);
        return o.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>UNetMidBlock2D</c> (0.21, default time-scale-shift): resnet, then <c>num_layers</c> x (attention,
/// resnet). Keys: <c>resnets.i</c>, <c>attentions.i</c>.
/// </summary>
public sealed class UNetMidBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
    readonly ModuleList<SpatialSelfAttention> attentions;
    readonly ModuleList<ResnetBlock2D> resnets;

    /// <summary>Builds the block with diffusers' constructor arguments.</summary>
    public UNetMidBlock2D(long inChannels, long? tembChannels, double dropout = 0.0, int numLayers = 1, double resnetEps = 1e-6,
        string resnetActFn = "swish", long? resnetGroups = 32, bool addAttention = true, long? attentionHeadDim = 1,
        double outputScaleFactor = 1.0) : base(nameof(UNetMidBlock2D))
    {
        var groups = resnetGroups ?? Math.Min(inChannels / 4, 32);
        var headDim = attentionHeadDim ?? inChannels;
        ResnetBlock2D Resnet() => new(inChannels, inChannels, dropout, tembChannels, groups, eps: resnetEps,
            nonLinearity: resnetActFn, outputScaleFactor: outputScaleFactor);
        var res = new List<ResnetBlock2D> { Resnet() };
        var att = new List<SpatialSelfAttention>();
        for (int i = 0; i < numLayers; i++)
        {
            if (addAttention)
                att.Add(new SpatialSelfAttention(inChannels, inChannels / headDim, headDim, outputScaleFactor, resnetEps, groups,
                    residualConnection: true, bias: true));
            res.Add(Resnet());
        }
        attentions = nn.ModuleList(att.ToArray());
        resnets = nn.ModuleList(res.ToArray());
        RegisterComponents();
    }

    /// <summary>[B, C, H, W] (+ temb or null) -> [B, C, H, W].</summary>
    public override Tensor forward(Tensor hiddenStates, Tensor? temb)
    {
        using var scope = torch.NewDisposeScope();
        var h = resnets[0].call(hiddenStates, temb);
        for (int i = 1; i < resnets.Count; i++)
        {
            if (attentions.Count > 0) h = attentions[i - 1].call(h);
            h = resnets[i].call(h, temb);
        }
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>DownEncoderBlock2D</c>: <c>num_layers</c> resnets without time embedding, then an optional
/// <see cref="Downsample2D"/> (key <c>downsamplers.0</c>).</summary>
public sealed class DownEncoderBlock2D : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Downsample2D>? downsamplers;

    /// <summary>Builds the block with diffusers' constructor arguments.</summary>
    public DownEncoderBlock2D(long inChannels, long outChannels, double dropout = 0.0, int numLayers = 1, double resnetEps = 1e-6,
        string resnetActFn = "swish", long resnetGroups = 32, double outputScaleFactor = 1.0, bool addDownsample = true,
        long downsamplePadding = 1) : base(nameof(DownEncoderBlock2D))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, numLayers).Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels,
            outChannels, dropout, tembChannels: null, resnetGroups, eps: resnetEps, nonLinearity: resnetActFn,
            outputScaleFactor: outputScaleFactor)).ToArray());
        if (addDownsample)
            downsamplers = nn.ModuleList(new Downsample2D(outChannels, useConv: true, outChannels: outChannels, padding: downsamplePadding));
        RegisterComponents();
    }

    /// <summary>[B, C_in, H, W] -> [B, C_out, H/2, W/2] (or H, W for the last block).</summary>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = torch.NewDisposeScope();
        var h = hiddenStates;
        foreach (var r in resnets) h = r.call(h, null);
        if (downsamplers is not null) foreach (var d in downsamplers) h = d.call(h);
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>UpDecoderBlock2D</c>: <c>num_layers</c> resnets, then an optional <see cref="Upsample2D"/>
/// with a convolution (key <c>upsamplers.0</c>).</summary>
public sealed class UpDecoderBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Upsample2D>? upsamplers;

    /// <summary>Builds the block with diffusers' constructor arguments.</summary>
    public UpDecoderBlock2D(long inChannels, long outChannels, double dropout = 0.0, int numLayers = 1, double resnetEps = 1e-6,
        string resnetActFn = "swish", long resnetGroups = 32, double outputScaleFactor = 1.0, bool addUpsample = true,
        long? tembChannels = null) : base(nameof(UpDecoderBlock2D))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, numLayers).Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels,
            outChannels, dropout, tembChannels, resnetGroups, eps: resnetEps, nonLinearity: resnetActFn,
            outputScaleFactor: outputScaleFactor)).ToArray());
        if (addUpsample)
            upsamplers = nn.ModuleList(new Upsample2D(outChannels, useConv: true, outChannels: outChannels));
        RegisterComponents();
    }

    /// <summary>[B, C_in, H, W] -> [B, C_out, 2H, 2W] (or H, W for the last block).</summary>
    public override Tensor forward(Tensor hiddenStates, Tensor? temb)
    {
        using var scope = torch.NewDisposeScope();
        var h = hiddenStates;
        foreach (var r in resnets) h = r.call(h, temb);
        if (upsamplers is not null) foreach (var u in upsamplers) h = u.call(h);
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' VAE <c>Encoder</c> (0.21 <c>vae.py</c>): conv_in, DownEncoderBlock2D per level (downsampling with
/// padding 0 except at the last level), UNetMidBlock2D, GroupNorm (eps 1e-6), SiLU, conv_out to 2 x latent channels
/// (<c>double_z</c>).
/// </summary>
public sealed class VaeEncoder : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> conv_in;
    readonly ModuleList<DownEncoderBlock2D> down_blocks;
    readonly UNetMidBlock2D mid_block;
    readonly nn.Module<Tensor, Tensor> conv_norm_out;
    readonly nn.Module<Tensor, Tensor> conv_act;
    readonly nn.Module<Tensor, Tensor> conv_out;

    /// <summary>Builds the encoder with diffusers' constructor arguments.</summary>
    public VaeEncoder(long inChannels, long outChannels, IReadOnlyList<string> downBlockTypes, IReadOnlyList<long> blockOutChannels,
        int layersPerBlock, long normNumGroups, string actFn, bool doubleZ = true, bool midBlockAddAttention = true) : base("Encoder")
    {
        conv_in = new GemmConv2d(inChannels, blockOutChannels[0], 3, padding: 1);
        var blocks = new List<DownEncoderBlock2D>();
        long output = blockOutChannels[0];
        for (int i = 0; i < downBlockTypes.Count; i++)
        {
            if (downBlockTypes[i] != "DownEncoderBlock2D")
                throw new ArgumentException($"down_block_types[{i}]: '{downBlockTypes[i]}' is not supported (DownEncoderBlock2D)");
            long input = output;
            output = blockOutChannels[i];
            bool isFinal = i == blockOutChannels.Count - 1;
            blocks.Add(new DownEncoderBlock2D(input, output, numLayers: layersPerBlock, resnetEps: 1e-6, resnetActFn: actFn,
                resnetGroups: normNumGroups, addDownsample: !isFinal, downsamplePadding: 0));
        }
        down_blocks = nn.ModuleList(blocks.ToArray());
        long last = blockOutChannels[^1];
        mid_block = new UNetMidBlock2D(last, tembChannels: null, resnetEps: 1e-6, resnetActFn: actFn, resnetGroups: normNumGroups,
            addAttention: midBlockAddAttention, attentionHeadDim: last, outputScaleFactor: 1);
        conv_norm_out = nn.GroupNorm(normNumGroups, last, 1e-6);
        conv_act = nn.SiLU();
        conv_out = new GemmConv2d(last, doubleZ ? 2 * outChannels : outChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <summary>[B, C_in, H, W] -> [B, 2 * latent, H / 2^(levels-1), W / 2^(levels-1)].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = conv_in.call(x);
        foreach (var d in down_blocks) h = d.call(h);
        h = mid_block.call(h, null);
        h = conv_out.call(conv_act.call(conv_norm_out.call(h)));
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' VAE <c>Decoder</c> (0.21 <c>vae.py</c>, group norm): conv_in, UNetMidBlock2D, UpDecoderBlock2D per level
/// (<c>layers_per_block + 1</c> resnets, upsampling except at the last level), GroupNorm (eps 1e-6), SiLU, conv_out.
/// </summary>
public sealed class VaeDecoder : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> conv_in;
    readonly UNetMidBlock2D mid_block;
    readonly ModuleList<UpDecoderBlock2D> up_blocks;
    readonly nn.Module<Tensor, Tensor> conv_norm_out;
    readonly nn.Module<Tensor, Tensor> conv_act;
    readonly nn.Module<Tensor, Tensor> conv_out;

    /// <summary>Builds the decoder with diffusers' constructor arguments.</summary>
    public VaeDecoder(long inChannels, long outChannels, IReadOnlyList<string> upBlockTypes, IReadOnlyList<long> blockOutChannels,
        int layersPerBlock, long normNumGroups, string actFn, bool midBlockAddAttention = true) : base("Decoder")
    {
        long last = blockOutChannels[^1];
        conv_in = new GemmConv2d(inChannels, last, 3, padding: 1);
        mid_block = new UNetMidBlock2D(last, tembChannels: null, resnetEps: 1e-6, resnetActFn: actFn, resnetGroups: normNumGroups,
            addAttention: midBlockAddAttention, attentionHeadDim: last, outputScaleFactor: 1);
        var reversed = blockOutChannels.Reverse().ToArray();
        var blocks = new List<UpDecoderBlock2D>();
        long output = reversed[0];
        for (int i = 0; i < upBlockTypes.Count; i++)
        {
            if (upBlockTypes[i] != "UpDecoderBlock2D")
                throw new ArgumentException($"up_block_types[{i}]: '{upBlockTypes[i]}' is not supported (UpDecoderBlock2D)");
            long prev = output;
            output = reversed[i];
            bool isFinal = i == blockOutChannels.Count - 1;
            blocks.Add(new UpDecoderBlock2D(prev, output, numLayers: layersPerBlock + 1, resnetEps: 1e-6, resnetActFn: actFn,
                resnetGroups: normNumGroups, addUpsample: !isFinal, tembChannels: null));
        }
        up_blocks = nn.ModuleList(blocks.ToArray());
        conv_norm_out = nn.GroupNorm(normNumGroups, blockOutChannels[0], 1e-6);
        conv_act = nn.SiLU();
        conv_out = new GemmConv2d(blockOutChannels[0], outChannels, 3, padding: 1);
        RegisterComponents();
    }

    /// <summary>[B, latent, h, w] -> [B, C_out, h * 2^(levels-1), w * 2^(levels-1)].</summary>
    public override Tensor forward(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        var h = conv_in.call(z);
        h = mid_block.call(h, null);
        foreach (var u in up_blocks) h = u.call(h, null);
        h = conv_out.call(conv_act.call(conv_norm_out.call(h)));
        return h.MoveToOuterDisposeScope();
    }
}
