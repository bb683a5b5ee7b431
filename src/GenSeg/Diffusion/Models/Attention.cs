using GenSeg.Common;
using GenSeg.Diffusion.Attention;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>
/// diffusers' <c>Attention</c> (attention_processor.py, 0.21.4) as the UNet's transformer blocks build it: bias-free
/// <c>to_q</c>, <c>to_k</c>, <c>to_v</c>, an output projection <c>to_out.0</c> with bias (and <c>to_out.1</c>, dropout),
/// and diffusers' <c>AttnProcessor2_0</c> computation; plus the hooks of <see cref="AttentionControl"/>.
/// The layer's <see cref="Site"/> (name, kind, level, heads) is fixed at construction; the resolution is filled in per call.
/// </summary>
public sealed class Attention : nn.Module
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly Linear to_q;
    readonly Linear to_k;
    readonly Linear to_v;
    readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;
#pragma warning restore IDE1006

    readonly Scalar scale;
    readonly bool upcast;
    readonly double dropoutP;

    /// <summary>The site template (Height and Width 0).</summary>
    public AttentionSite Site { get; }

    /// <summary>Query (and output) channels.</summary>
    public long QueryDim { get; }

    /// <summary>Channels of the key/value input (the query dim for self-attention).</summary>
    public long ContextDim { get; }

    /// <summary>Builds the layer: query_dim, cross_attention_dim (null for self-attention), heads, dim_head, upcast_attention.</summary>
    public Attention(AttentionSite site, long queryDim, long? crossAttentionDim, bool upcastAttention, double dropout = 0.0, bool bias = false, bool outBias = true)
        : base(nameof(Attention))
    {
        Site = site;
        QueryDim = queryDim;
        ContextDim = crossAttentionDim ?? queryDim;
        long inner = (long)site.Heads * site.HeadDim;
        to_q = nn.Linear(queryDim, inner, hasBias: bias);
        to_k = nn.Linear(ContextDim, inner, hasBias: bias);
        to_v = nn.Linear(ContextDim, inner, hasBias: bias);
        to_out = nn.ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(inner, queryDim, hasBias: outBias), nn.Dropout(dropout));
        scale = Math.Pow(site.HeadDim, -0.5);
        upcast = upcastAttention;
        dropoutP = dropout;
        RegisterComponents();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) scale.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>
    /// Attends from <paramref name="x"/> [B, N, query_dim] to <paramref name="context"/> [B, L, cross_dim] (or to
    /// <paramref name="x"/> itself when null). <paramref name="height"/> x <paramref name="width"/> is the query
    /// resolution (N), reported to the hooks.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? context, AttentionControl? control, long height, long width)
    {
        var ctx = context ?? x;
        if (ctx.dim() != 3 || ctx.shape[0] != x.shape[0] || ctx.shape[2] != ContextDim)
            throw new ArgumentException($"{Site.Name}: context must be [B={x.shape[0]}, L, {ContextDim}], got {Check.Format(ctx.shape)}");
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0];
        Layers.FlopCount.Add(Layers.FlopCount.Attention(b, Site.Heads, x.shape[1], ctx.shape[1], Site.HeadDim));
        var q = to_q.call(x).view(b, -1, Site.Heads, Site.HeadDim).transpose(1, 2);
        var k = to_k.call(ctx).view(b, -1, Site.Heads, Site.HeadDim).transpose(1, 2);
        var v = to_v.call(ctx).view(b, -1, Site.Heads, Site.HeadDim).transpose(1, 2);

        AttentionBias? bias = null;
        AttentionSite? site = null;
        if (control is not null)
        {
            var s = Site with { Height = height, Width = width };
            if (control.Applies(s))
            {
                bias = control.BiasFor(s);
                if (control.NeedsExplicitLogits) site = s;
            }
        }

        Tensor o;
        if (site is null && bias is null)
        {
            o = nn.functional.scaled_dot_product_attention(q, k, v); // AttnProcessor2_0
        }
        else
        {
            // Query rows in slices whose logits fit control.SliceBytes; each row's softmax is its own, so slicing
            // changes nothing but the peak memory. A recorder gets whole maps.
            long nq = q.shape[2], nk = k.shape[2];
            int elementSize = site is not null && upcast ? sizeof(float) : (int)q.ElementSize;
            long rows = control!.RecordProbabilities is not null ? nq
                : AttentionSlicing.Rows(b, Site.Heads, nq, nk, elementSize, control.SliceBytes);
            var parts = new List<Tensor>();
            for (long start = 0; start < nq; start += rows)
            {
                long end = Math.Min(nq, start + rows);
                var qs = rows >= nq ? q : q.narrow(2, start, end - start);
                parts.Add(site is null
                    ? nn.functional.scaled_dot_product_attention(qs, k, v, bias!.Rows(start, end, q.dtype, q.device)) // the bias is the fused kernel's float mask
                    : Explicit(qs, k, v, bias, site, control, start, end));
            }
            o = parts.Count == 1 ? parts[0] : torch.cat(parts, 2);
        }
        o = o.transpose(1, 2).reshape(b, -1, (long)Site.Heads * Site.HeadDim);
        o = to_out[0].call(o);
        if (dropoutP > 0) o = to_out[1].call(o);
        return o.MoveToOuterDisposeScope();
    }

    /// <summary>Query rows [start, end) attended with explicit logits: Q K^T / sqrt(d) (+ bias), the logit hook, softmax,
    /// the recorder, then the values.</summary>
    Tensor Explicit(Tensor q, Tensor k, Tensor v, AttentionBias? bias, AttentionSite site, AttentionControl control, long start, long end)
    {
        var qq = upcast ? q.to_type(ScalarType.Float32) : q;
        var kk = upcast ? k.to_type(ScalarType.Float32) : k;
        var logits = torch.matmul(qq, kk.transpose(-1, -2)).mul_(scale); // Q K^T / sqrt(d)
        if (bias is not null) logits = logits + bias.Rows(start, end, logits.dtype, logits.device);
        if (control.ModifyLogits is { } modify) logits = modify(site, logits, start);
        var probs = logits.softmax(-1);
        control.RecordProbabilities?.Invoke(site, probs);
        return torch.matmul(probs.to_type(v.dtype), v);
    }
}
