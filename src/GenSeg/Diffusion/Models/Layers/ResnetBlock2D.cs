using GenSeg.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// diffusers' <c>ResnetBlock2D</c> (models/resnet.py, 0.21.4): GroupNorm, activation, 3x3 conv, optional time
/// embedding (added, or as scale and shift after the second norm), GroupNorm, activation, dropout, 3x3 conv, and a
/// 1x1 shortcut when the channel count changes; output <c>(shortcut(x) + h) / output_scale_factor</c>.
/// Module names equal diffusers' (<c>norm1</c>, <c>conv1</c>, <c>time_emb_proj</c>, <c>norm2</c>, <c>conv2</c>,
/// <c>conv_shortcut</c>). Call it with a null time embedding when it was built with <c>tembChannels: null</c> (VAE).
/// </summary>
public sealed class ResnetBlock2D : nn.Module<Tensor, Tensor?, Tensor>
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly GroupNorm norm1;
    readonly GemmConv2d conv1;
    readonly Linear? time_emb_proj;
    readonly GroupNorm norm2;
    readonly Dropout dropout;
    readonly GemmConv2d conv2;
    readonly GemmConv2d? conv_shortcut;
#pragma warning restore IDE1006

    readonly Func<Tensor, Tensor> act;
    readonly bool scaleShift;
    readonly bool skipTimeAct;
    readonly double dropoutP;
    readonly Scalar? outputScale;

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>Output channels.</summary>
    public long OutChannels { get; }

    /// <summary>Builds the block with diffusers' constructor arguments and defaults.</summary>
    /// <param name="inChannels">in_channels.</param>
    /// <param name="outChannels">out_channels (default: in_channels).</param>
    /// <param name="tembChannels">temb_channels; null builds no <c>time_emb_proj</c> (the VAE's blocks).</param>
    /// <param name="groups">groups of norm1.</param>
    /// <param name="groupsOut">groups of norm2 (default: groups).</param>
    /// <param name="eps">GroupNorm epsilon.</param>
    /// <param name="dropout">dropout probability before conv2.</param>
    /// <param name="nonLinearity">non_linearity (silu/swish, mish, gelu, relu).</param>
    /// <param name="timeEmbeddingNorm">time_embedding_norm: "default" (add) or "scale_shift".</param>
    /// <param name="outputScaleFactor">output_scale_factor.</param>
    /// <param name="useInShortcut">use_in_shortcut (default: in_channels != output channels).</param>
    /// <param name="convShortcutBias">conv_shortcut_bias.</param>
    /// <param name="skipTimeAct">skip_time_act: no activation on the time embedding before time_emb_proj.</param>
    /// <param name="conv2dOutChannels">conv_2d_out_channels (default: out_channels).</param>
    public ResnetBlock2D(long inChannels, long? outChannels = null, long? tembChannels = 512, int groups = 32, int? groupsOut = null,
                         double eps = 1e-6, double dropout = 0.0, string nonLinearity = "swish", string timeEmbeddingNorm = "default",
                         double outputScaleFactor = 1.0, bool? useInShortcut = null, bool convShortcutBias = true, bool skipTimeAct = false,
                         long? conv2dOutChannels = null)
        : base(nameof(ResnetBlock2D))
    {
        long outCh = outChannels ?? inChannels;
        long conv2Out = conv2dOutChannels ?? outCh;
        if (timeEmbeddingNorm is not ("default" or "scale_shift"))
            throw new NotSupportedException($"ResnetBlock2D: time_embedding_norm '{timeEmbeddingNorm}' is not supported (supported: default, scale_shift)");
        CheckGroups(inChannels, groups, "in_channels");
        CheckGroups(outCh, groupsOut ?? groups, "out_channels");
        InChannels = inChannels;
        OutChannels = conv2Out;
        act = Activations.Resolve(nonLinearity, "ResnetBlock2D non_linearity");
        scaleShift = timeEmbeddingNorm == "scale_shift";
        this.skipTimeAct = skipTimeAct;
        dropoutP = dropout;
        if (outputScaleFactor != 1.0) outputScale = outputScaleFactor;

        norm1 = nn.GroupNorm(groups, inChannels, eps, affine: true);
        conv1 = new GemmConv2d(inChannels, outCh, 3, padding: 1);
        if (tembChannels is { } temb) time_emb_proj = nn.Linear(temb, scaleShift ? 2 * outCh : outCh);
        norm2 = nn.GroupNorm(groupsOut ?? groups, outCh, eps, affine: true);
        this.dropout = nn.Dropout(dropout);
        conv2 = new GemmConv2d(outCh, conv2Out, 3, padding: 1);
        if (useInShortcut ?? inChannels != conv2Out)
            conv_shortcut = new GemmConv2d(inChannels, conv2Out, 1, hasBias: convShortcutBias);
        RegisterComponents();
    }

    static void CheckGroups(long channels, int groups, string what)
    {
        if (groups <= 0 || channels % groups != 0)
            throw new ArgumentException($"ResnetBlock2D: {what} = {channels} is not divisible into {groups} GroupNorm groups");
    }

    /// <summary>Runs the block on <paramref name="x"/> [B, C, H, W] with the time embedding <paramref name="temb"/> [B, T] (or null).</summary>
    public override Tensor forward(Tensor x, Tensor? temb)
    {
        Check.Rank(x, "ResnetBlock2D input", 4, "[B, C, H, W]");
        if (x.shape[1] != InChannels)
            throw new ArgumentException($"ResnetBlock2D input: expected {InChannels} channels, got shape {Check.Format(x.shape)}");
        using var scope = torch.NewDisposeScope();
        var h = conv1.call(act(norm1.call(x)));
        Tensor? t = null;
        if (time_emb_proj is not null && temb is not null)
        {
            t = time_emb_proj.call(skipTimeAct ? temb : act(temb));
            t = t.unsqueeze(-1).unsqueeze(-1);
            if (!scaleShift) h = h + t;
        }
        h = norm2.call(h);
        if (scaleShift && t is not null)
        {
            var parts = t.chunk(2, 1);
            h = h + h * parts[0] + parts[1]; // h * (1 + scale) + shift
        }
        h = act(h);
        if (dropoutP > 0) h = dropout.call(h);
        h = conv2.call(h);
        var shortcut = conv_shortcut is null ? x : conv_shortcut.call(x);
        var output = shortcut + h;
        if (outputScale is not null) output = output.div_(outputScale);
        return output.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) outputScale?.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Runs the block without a time embedding.</summary>
    public Tensor forward(Tensor x) => forward(x, null);
}
