using GenSeg.Common;
using GenSeg.Diffusion.Attention;
using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>diffusers' <c>GEGLU</c>: <c>proj</c> to twice the width, then <c>hidden * gelu(gate)</c> (exact GELU).</summary>
public sealed class GEGLU : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly Linear proj;
#pragma warning restore IDE1006

    /// <summary>Builds the layer (dim_in, dim_out).</summary>
    public GEGLU(long dimIn, long dimOut) : base(nameof(GEGLU))
    {
        proj = nn.Linear(dimIn, dimOut * 2);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var parts = proj.call(x).chunk(2, -1);
        return (parts[0] * nn.functional.gelu(parts[1])).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>FeedForward</c> with the "geglu" activation: <c>net.0</c> GEGLU(dim, 4 dim), <c>net.1</c> dropout, <c>net.2</c> Linear(4 dim, dim).</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly ModuleList<nn.Module<Tensor, Tensor>> net;
#pragma warning restore IDE1006
    readonly double dropoutP;

    /// <summary>Builds the block (dim, mult 4, dropout).</summary>
    public FeedForward(long dim, int mult = 4, double dropout = 0.0) : base(nameof(FeedForward))
    {
        long inner = dim * mult;
        net = nn.ModuleList<nn.Module<Tensor, Tensor>>(new GEGLU(dim, inner), nn.Dropout(dropout), nn.Linear(inner, dim));
        dropoutP = dropout;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = net[0].call(x);
        if (dropoutP > 0) h = net[1].call(h);
        return net[2].call(h).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>BasicTransformerBlock</c> (layer_norm, geglu, no ada-norm): self-attention <c>attn1</c>,
/// cross-attention <c>attn2</c> and the feed-forward <c>ff</c>, each after its LayerNorm and with a residual.
/// </summary>
public sealed class BasicTransformerBlock : nn.Module
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly LayerNorm norm1;
    readonly Attention attn1;
    readonly LayerNorm norm2;
    readonly Attention attn2;
    readonly LayerNorm norm3;
    readonly FeedForward ff;
#pragma warning restore IDE1006

    /// <summary>The self-attention layer.</summary>
    public Attention SelfAttention => attn1;

    /// <summary>The cross-attention layer.</summary>
    public Attention CrossAttention => attn2;

    /// <summary>Builds the block; <paramref name="site"/> names it (<c>...transformer_blocks.k</c>), its layers get <c>.attn1</c>/<c>.attn2</c>.</summary>
    public BasicTransformerBlock(AttentionSite site, long dim, long crossAttentionDim, bool upcastAttention, double dropout = 0.0)
        : base(nameof(BasicTransformerBlock))
    {
        norm1 = nn.LayerNorm(dim);
        attn1 = new Attention(site with { Name = site.Name + ".attn1", Kind = AttentionKind.Self }, dim, null, upcastAttention, dropout);
        norm2 = nn.LayerNorm(dim);
        attn2 = new Attention(site with { Name = site.Name + ".attn2", Kind = AttentionKind.Cross }, dim, crossAttentionDim, upcastAttention, dropout);
        norm3 = nn.LayerNorm(dim);
        ff = new FeedForward(dim, dropout: dropout);
        RegisterComponents();
    }

    /// <summary>Runs the block on tokens <paramref name="x"/> [B, H*W, dim].</summary>
    public Tensor Forward(Tensor x, Tensor encoderHiddenStates, AttentionControl? control, long height, long width)
    {
        using var scope = torch.NewDisposeScope();
        var h = attn1.Forward(norm1.call(x), null, control, height, width) + x;
        h = attn2.Forward(norm2.call(h), encoderHiddenStates, control, height, width) + h;
        h = ff.call(norm3.call(h)) + h;
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>Transformer2DModel</c> for continuous inputs: GroupNorm (eps 1e-6), <c>proj_in</c> (1x1 conv, or
/// linear with <c>use_linear_projection</c>), <c>transformer_blocks</c>, <c>proj_out</c>, plus the input as residual.
/// </summary>
public sealed class Transformer2DModel : nn.Module
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly GroupNorm norm;
    readonly nn.Module<Tensor, Tensor> proj_in;
    readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    readonly nn.Module<Tensor, Tensor> proj_out;
#pragma warning restore IDE1006
    readonly bool linear;
    readonly long inner;

    /// <summary>Input (and output) channels.</summary>
    public long InChannels { get; }

    /// <summary>The transformer blocks, in order.</summary>
    public IReadOnlyList<BasicTransformerBlock> Blocks => transformer_blocks.ToArray();

    /// <summary>
    /// Builds the model: <paramref name="site"/> carries the name (<c>...attentions.j</c>), heads and head dim;
    /// inner width is heads x head dim, as in diffusers.
    /// </summary>
    public Transformer2DModel(AttentionSite site, long inChannels, int numLayers, long crossAttentionDim, int normNumGroups,
                              bool useLinearProjection, bool upcastAttention, double dropout = 0.0)
        : base(nameof(Transformer2DModel))
    {
        if (normNumGroups <= 0 || inChannels % normNumGroups != 0)
            throw new ArgumentException($"{site.Name}: {inChannels} channels are not divisible into {normNumGroups} GroupNorm groups (norm_num_groups)");
        InChannels = inChannels;
        linear = useLinearProjection;
        inner = (long)site.Heads * site.HeadDim;
        norm = nn.GroupNorm(normNumGroups, inChannels, 1e-6, affine: true);
        proj_in = linear ? nn.Linear(inChannels, inner) : new GemmConv2d(inChannels, inner, 1);
        var blocks = new BasicTransformerBlock[numLayers];
        for (int k = 0; k < numLayers; k++)
            blocks[k] = new BasicTransformerBlock(site with { Name = $"{site.Name}.transformer_blocks.{k}", TransformerBlock = k },
                                                  inner, crossAttentionDim, upcastAttention, dropout);
        transformer_blocks = nn.ModuleList(blocks);
        proj_out = linear ? nn.Linear(inner, inChannels) : new GemmConv2d(inner, inChannels, 1);
        RegisterComponents();
    }

    /// <summary>Runs the model on <paramref name="x"/> [B, C, H, W] with <paramref name="encoderHiddenStates"/> [B, L, D].</summary>
    public Tensor Forward(Tensor x, Tensor encoderHiddenStates, AttentionControl? control)
    {
        Check.Rank(x, "Transformer2DModel input", 4, "[B, C, H, W]");
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], height = x.shape[2], width = x.shape[3];
        var h = norm.call(x);
        if (!linear)
        {
            h = proj_in.call(h);
            h = h.permute(0, 2, 3, 1).reshape(b, height * width, inner);
        }
        else
        {
            h = h.permute(0, 2, 3, 1).reshape(b, height * width, c);
            h = proj_in.call(h);
        }
        foreach (var block in transformer_blocks)
            h = block.Forward(h, encoderHiddenStates, control, height, width);
        if (!linear)
        {
            h = h.reshape(b, height, width, inner).permute(0, 3, 1, 2).contiguous();
            h = proj_out.call(h);
        }
        else
        {
            h = proj_out.call(h);
            h = h.reshape(b, height, width, c).permute(0, 3, 1, 2).contiguous();
        }
        return (h + x).MoveToOuterDisposeScope();
    }
}
