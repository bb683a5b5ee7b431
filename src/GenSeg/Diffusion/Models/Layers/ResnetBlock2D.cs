using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>ResnetBlock2D</c> (0.21): GroupNorm, activation, 3x3 conv, (+ projected time embedding), GroupNorm,
/// activation, dropout, 3x3 conv, plus a (1x1-projected when the channels change) shortcut, all divided by
/// <c>output_scale_factor</c>. <c>temb_channels = null</c> builds no <c>time_emb_proj</c> (the VAE's blocks).
/// Supported <c>time_embedding_norm</c>: <c>default</c> (add) and <c>scale_shift</c>; the <c>ada_group</c>/<c>spatial</c>
/// norms and the FIR/sde_vp resampling kernels are rejected with an error.
/// </summary>
public sealed class ResnetBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
    readonly long inChannels;
    readonly string timeEmbeddingNorm;
    readonly bool skipTimeAct;
    readonly double outputScaleFactor;

    readonly nn.Module<Tensor, Tensor> norm1;
    readonly nn.Module<Tensor, Tensor> conv1;
    readonly nn.Module<Tensor, Tensor>? time_emb_proj;
    readonly nn.Module<Tensor, Tensor> norm2;
    readonly nn.Module<Tensor, Tensor> dropout;
    readonly nn.Module<Tensor, Tensor> conv2;
    readonly nn.Module<Tensor, Tensor> nonlinearity;
    readonly nn.Module<Tensor, Tensor>? upsample;
    readonly nn.Module<Tensor, Tensor>? downsample;
    readonly nn.Module<Tensor, Tensor>? conv_shortcut;

    /// <summary>Output channels (<c>conv_2d_out_channels</c>, else <c>out_channels</c>).</summary>
    public long OutChannels { get; }

    /// <summary>Builds the block with diffusers' constructor arguments (snake_case names in the docs).</summary>
    /// <param name="inChannels"><c>in_channels</c>.</param>
    /// <param name="outChannels"><c>out_channels</c> (default: in_channels).</param>
    /// <param name="dropout"><c>dropout</c> probability.</param>
    /// <param name="tembChannels"><c>temb_channels</c>; null: no time embedding projection.</param>
    /// <param name="groups"><c>groups</c> of norm1.</param>
    /// <param name="groupsOut"><c>groups_out</c> of norm2 (default: groups).</param>
    /// <param name="eps"><c>eps</c> of both GroupNorms.</param>
    /// <param name="nonLinearity"><c>non_linearity</c> (swish, silu, mish, gelu, relu).</param>
    /// <param name="skipTimeAct"><c>skip_time_act</c>: no activation before time_emb_proj.</param>
    /// <param name="timeEmbeddingNorm"><c>time_embedding_norm</c>: default or scale_shift.</param>
    /// <param name="kernel"><c>kernel</c> of up/down resampling: only null is supported.</param>
    /// <param name="outputScaleFactor"><c>output_scale_factor</c>.</param>
    /// <param name="useInShortcut"><c>use_in_shortcut</c> (default: in != out channels).</param>
    /// <param name="up"><c>up</c>: nearest x2 inside the block.</param>
    /// <param name="down"><c>down</c>: 2x2 average pool inside the block.</param>
    /// <param name="convShortcutBias"><c>conv_shortcut_bias</c>.</param>
    /// <param name="conv2dOutChannels"><c>conv_2d_out_channels</c>.</param>
    public ResnetBlock2D(long inChannels, long? outChannels = null, double dropout = 0.0, long? tembChannels = 512,
        long groups = 32, long? groupsOut = null, double eps = 1e-6, string nonLinearity = "swish", bool skipTimeAct = false,
        string timeEmbeddingNorm = "default", string? kernel = null, double outputScaleFactor = 1.0, bool? useInShortcut = null,
        bool up = false, bool down = false, bool convShortcutBias = true, long? conv2dOutChannels = null) : base(nameof(ResnetBlock2D))
    {
        if (timeEmbeddingNorm is not ("default" or "scale_shift"))
            throw new ArgumentException($"ResnetBlock2D: time_embedding_norm '{timeEmbeddingNorm}' is not supported (default, scale_shift)", nameof(timeEmbeddingNorm));
        if (kernel is not null)
            throw new ArgumentException($"ResnetBlock2D: resampling kernel '{kernel}' is not supported (only the default nearest/avg-pool)", nameof(kernel));
        this.inChannels = inChannels;
        var outCh = outChannels ?? inChannels;
        this.timeEmbeddingNorm = timeEmbeddingNorm;
        this.skipTimeAct = skipTimeAct;
        this.outputScaleFactor = outputScaleFactor;

        norm1 = nn.GroupNorm(groups, inChannels, eps, affine: true);
        conv1 = new GemmConv2d(inChannels, outCh, 3, padding: 1);
        if (tembChannels is long tc)
            time_emb_proj = nn.Linear(tc, timeEmbeddingNorm == "scale_shift" ? 2 * outCh : outCh);
        norm2 = nn.GroupNorm(groupsOut ?? groups, outCh, eps, affine: true);
        this.dropout = nn.Dropout(dropout);
        OutChannels = conv2dOutChannels ?? outCh;
        conv2 = new GemmConv2d(outCh, OutChannels, 3, padding: 1);
        nonlinearity = Activations.Create(nonLinearity, "non_linearity");
        if (up) upsample = new Upsample2D(inChannels, useConv: false);
        else if (down) downsample = new Downsample2D(inChannels, useConv: false, padding: 1);
        if (useInShortcut ?? inChannels != OutChannels)
            conv_shortcut = new GemmConv2d(inChannels, OutChannels, 1, hasBias: convShortcutBias);
        RegisterComponents();
    }

    /// <summary>[B, C_in, H, W] (+ temb [B, temb_channels] or null) -> [B, C_out, H', W'].</summary>
    public override Tensor forward(Tensor inputTensor, Tensor? temb)
    {
        Common.Check.Shape(inputTensor, "ResnetBlock2D input", -1, inChannels, -1, -1);
        using var scope = torch.NewDisposeScope();
        var residual = inputTensor;
        var h = nonlinearity.call(norm1.call(inputTensor));
        if (upsample is not null)
        {
            residual = upsample.call(residual);
            h = upsample.call(h);
        }
        else if (downsample is not null)
        {
            residual = downsample.call(residual);
            h = downsample.call(h);
        }
        h = conv1.call(h);
        Tensor? t = null;
        if (time_emb_proj is not null && temb is not null)
        {
            t = skipTimeAct ? temb : nonlinearity.call(temb);
            t = time_emb_proj.call(t).unsqueeze(-1).unsqueeze(-1);
        }
        if (t is not null && timeEmbeddingNorm == "default") h = h + t;
        h = norm2.call(h);
        if (t is not null && timeEmbeddingNorm == "scale_shift")
        {
            var ss = t.chunk(2, 1);
            h = h * (ss[0] + torch.ones(1, dtype: ss[0].dtype, device: ss[0].device)) + ss[1];
        }
        h = nonlinearity.call(h);
        h = dropout.call(h);
        h = conv2.call(h);
        if (conv_shortcut is not null) residual = conv_shortcut.call(residual);
        var output = residual + h;
        if (outputScaleFactor != 1.0) output = output / torch.tensor(outputScaleFactor, dtype: output.dtype, device: output.device);
        return output.MoveToOuterDisposeScope();
    }
}
