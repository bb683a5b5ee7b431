using GenSeg.Diffusion.Attention;
using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>Construction settings shared by every block of one UNet (diffusers passes them to each get_*_block call).</summary>
/// <param name="TembChannels">temb_channels.</param>
/// <param name="ResnetEps">resnet_eps (norm_eps).</param>
/// <param name="ActFn">resnet_act_fn (act_fn).</param>
/// <param name="Groups">resnet_groups (norm_num_groups).</param>
/// <param name="TimeScaleShift">resnet_time_scale_shift.</param>
/// <param name="UseLinearProjection">use_linear_projection.</param>
/// <param name="UpcastAttention">upcast_attention.</param>
public sealed record UNetBlockSettings(long TembChannels, double ResnetEps, string ActFn, int Groups, string TimeScaleShift,
                                       bool UseLinearProjection, bool UpcastAttention)
{
    /// <summary>A ResnetBlock2D as the UNet's blocks build it.</summary>
    public ResnetBlock2D Resnet(long inChannels, long outChannels, double outputScaleFactor = 1.0) =>
        new(inChannels, outChannels, tembChannels: TembChannels, groups: Groups, eps: ResnetEps, nonLinearity: ActFn,
            timeEmbeddingNorm: TimeScaleShift, outputScaleFactor: outputScaleFactor);

    /// <summary>A Transformer2DModel named <paramref name="site"/>.Name with heads = <paramref name="heads"/>, head width channels / heads.</summary>
    public Transformer2DModel Transformer(AttentionSite site, long channels, int heads, int layers, int crossAttentionDim) =>
        new(site with { Heads = heads, HeadDim = (int)(channels / heads) }, channels, layers, crossAttentionDim, Groups,
            UseLinearProjection, UpcastAttention);
}

/// <summary>
/// diffusers' <c>CrossAttnDownBlock2D</c> (with <c>attentions</c>) or <c>DownBlock2D</c> (without): resnets, each
/// followed by its Transformer2DModel, then an optional stride-2 <c>downsamplers.0</c>. Every resnet/attention output
/// and the downsampled output are appended to the skip list.
/// </summary>
public sealed class UNetDownBlock : nn.Module
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly ModuleList<Transformer2DModel>? attentions;
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Downsample2D>? downsamplers;
#pragma warning restore IDE1006

    /// <summary>diffusers class name of the block.</summary>
    public string BlockType { get; }

    /// <summary>Builds down block <paramref name="index"/> (resolution level = index).</summary>
    public UNetDownBlock(string blockType, int index, UNetBlockSettings s, long inChannels, long outChannels, int numLayers, bool addDownsample,
                         int downsamplePadding, int heads, int transformerLayers, int crossAttentionDim)
        : base(blockType)
    {
        BlockType = blockType;
        bool cross = blockType == "CrossAttnDownBlock2D";
        var res = new ResnetBlock2D[numLayers];
        var attn = new Transformer2DModel[numLayers];
        for (int j = 0; j < numLayers; j++)
        {
            res[j] = s.Resnet(j == 0 ? inChannels : outChannels, outChannels);
            if (cross)
                attn[j] = s.Transformer(new AttentionSite($"down_blocks.{index}.attentions.{j}", AttentionKind.Self, UNetPart.Down, index, j, 0, index, 0, 0),
                                        outChannels, heads, transformerLayers, crossAttentionDim);
        }
        resnets = nn.ModuleList(res);
        if (cross) attentions = nn.ModuleList(attn);
        if (addDownsample) downsamplers = nn.ModuleList(new Downsample2D(outChannels, useConv: true, outChannels, downsamplePadding));
        RegisterComponents();
    }

    /// <summary>The Transformer2DModels (empty for a DownBlock2D).</summary>
    public IReadOnlyList<Transformer2DModel> Attentions => attentions is null ? Array.Empty<Transformer2DModel>() : attentions.ToArray();

    /// <summary>Runs the block, appending its outputs to <paramref name="skips"/>; returns the last output.</summary>
    public Tensor Forward(Tensor h, Tensor temb, Tensor encoderHiddenStates, AttentionControl? control, List<Tensor> skips)
    {
        for (int j = 0; j < resnets.Count; j++)
        {
            h = resnets[j].call(h, temb);
            if (attentions is not null) h = attentions[j].Forward(h, encoderHiddenStates, control);
            skips.Add(h);
        }
        if (downsamplers is not null)
        {
            h = downsamplers[0].call(h);
            skips.Add(h);
        }
        return h;
    }
}

/// <summary>diffusers' <c>UNetMidBlock2DCrossAttn</c>: resnet, then (Transformer2DModel, resnet) per layer.</summary>
public sealed class UNetMidBlock2DCrossAttn : nn.Module
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly ModuleList<Transformer2DModel> attentions;
    readonly ModuleList<ResnetBlock2D> resnets;
#pragma warning restore IDE1006

    /// <summary>Builds the mid block at resolution level <paramref name="level"/> (one layer, as the UNet builds it).</summary>
    public UNetMidBlock2DCrossAttn(UNetBlockSettings s, long channels, int level, double outputScaleFactor, int heads, int transformerLayers,
                                   int crossAttentionDim, int numLayers = 1)
        : base(nameof(UNetMidBlock2DCrossAttn))
    {
        var res = new ResnetBlock2D[numLayers + 1];
        var attn = new Transformer2DModel[numLayers];
        res[0] = s.Resnet(channels, channels, outputScaleFactor);
        for (int j = 0; j < numLayers; j++)
        {
            attn[j] = s.Transformer(new AttentionSite($"mid_block.attentions.{j}", AttentionKind.Self, UNetPart.Mid, 0, j, 0, level, 0, 0),
                                    channels, heads, transformerLayers, crossAttentionDim);
            res[j + 1] = s.Resnet(channels, channels, outputScaleFactor);
        }
        attentions = nn.ModuleList(attn);
        resnets = nn.ModuleList(res);
        RegisterComponents();
    }

    /// <summary>The Transformer2DModels.</summary>
    public IReadOnlyList<Transformer2DModel> Attentions => attentions.ToArray();

    /// <summary>Runs the block.</summary>
    public Tensor Forward(Tensor h, Tensor temb, Tensor encoderHiddenStates, AttentionControl? control)
    {
        using var scope = torch.NewDisposeScope();
        h = resnets[0].call(h, temb);
        for (int j = 0; j < attentions.Count; j++)
        {
            h = attentions[j].Forward(h, encoderHiddenStates, control);
            h = resnets[j + 1].call(h, temb);
        }
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>CrossAttnUpBlock2D</c> (with <c>attentions</c>) or <c>UpBlock2D</c> (without): per layer, the last
/// skip is concatenated to the channels, then a resnet and its Transformer2DModel; then an optional
/// <c>upsamplers.0</c> (nearest x2 or to the requested size, then 3x3 conv).
/// </summary>
public sealed class UNetUpBlock : nn.Module
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly ModuleList<Transformer2DModel>? attentions;
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Upsample2D>? upsamplers;
#pragma warning restore IDE1006

    /// <summary>diffusers class name of the block.</summary>
    public string BlockType { get; }

    /// <summary>Number of resnets, i.e. of skips the block consumes.</summary>
    public int ResnetCount => resnets.Count;

    /// <summary>Builds up block <paramref name="index"/> at resolution level <paramref name="level"/>.</summary>
    public UNetUpBlock(string blockType, int index, int level, UNetBlockSettings s, long inChannels, long prevOutputChannels, long outChannels,
                       int numLayers, bool addUpsample, int heads, int transformerLayers, int crossAttentionDim)
        : base(blockType)
    {
        BlockType = blockType;
        bool cross = blockType == "CrossAttnUpBlock2D";
        var res = new ResnetBlock2D[numLayers];
        var attn = new Transformer2DModel[numLayers];
        for (int j = 0; j < numLayers; j++)
        {
            long skipChannels = j == numLayers - 1 ? inChannels : outChannels;
            long resnetIn = j == 0 ? prevOutputChannels : outChannels;
            res[j] = s.Resnet(resnetIn + skipChannels, outChannels);
            if (cross)
                attn[j] = s.Transformer(new AttentionSite($"up_blocks.{index}.attentions.{j}", AttentionKind.Self, UNetPart.Up, index, j, 0, level, 0, 0),
                                        outChannels, heads, transformerLayers, crossAttentionDim);
        }
        resnets = nn.ModuleList(res);
        if (cross) attentions = nn.ModuleList(attn);
        if (addUpsample) upsamplers = nn.ModuleList(new Upsample2D(outChannels, useConv: true, outChannels: outChannels));
        RegisterComponents();
    }

    /// <summary>The Transformer2DModels (empty for an UpBlock2D).</summary>
    public IReadOnlyList<Transformer2DModel> Attentions => attentions is null ? Array.Empty<Transformer2DModel>() : attentions.ToArray();

    /// <summary>Runs the block, taking its skips from the end of <paramref name="skips"/>.</summary>
    public Tensor Forward(Tensor h, List<Tensor> skips, Tensor temb, Tensor encoderHiddenStates, AttentionControl? control, long[]? upsampleSize)
    {
        for (int j = 0; j < resnets.Count; j++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            using var scope = torch.NewDisposeScope();
            var x = resnets[j].call(torch.cat(new[] { h, skip }, 1), temb);
            if (attentions is not null) x = attentions[j].Forward(x, encoderHiddenStates, control);
            h = x.MoveToOuterDisposeScope();
        }
        if (upsamplers is not null) h = upsamplers[0].Forward(h, upsampleSize);
        return h;
    }
}
