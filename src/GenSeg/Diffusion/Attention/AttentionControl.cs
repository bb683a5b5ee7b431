using static TorchSharp.torch;

namespace GenSeg.Diffusion.Attention;

/// <summary>
/// Per-call hooks into the UNet's attention layers, passed explicitly through <c>UNet2DConditionModel.Forward</c>
/// (the modules hold no state of their own). Each hook receives the <see cref="AttentionSite"/> of the layer with the
/// query resolution of this call. Logits are the scaled ones, <c>Q K^T / sqrt(d)</c>, of shape [B, heads, Nq, Nk].
/// A site for which nothing applies (filtered out, no bias returned, no logit hook, no recorder) runs the fused
/// <c>scaled_dot_product_attention</c>; a bias alone is passed to it as its additive mask; a logit hook or a recorder
/// makes the layer compute the logits explicitly (in float32 when the model upcasts attention).
/// With a bias or explicit logits the layer attends in slices of query rows, each slice's logits within
/// <see cref="SliceBytes"/> (a recorder turns slicing off: it receives whole maps).
/// Tensors given to the hooks live only during the call; a recorder keeps what it needs by copying it out of the
/// current dispose scope (see <see cref="AttentionMapStore"/>).
/// </summary>
public sealed record AttentionControl
{
    /// <summary>Which sites the hooks apply to; null means all.</summary>
    public Func<AttentionSite, bool>? Sites { get; init; }

    /// <summary>Additive bias on the scaled self-attention logits, broadcastable to [B, heads, Nq, Nq] (a tensor, or a
    /// <see cref="LowRankBias"/> that is never built whole); return null to skip a site.</summary>
    public Func<AttentionSite, AttentionBias?>? SelfBias { get; init; }

    /// <summary>Additive bias on the scaled cross-attention logits, broadcastable to [B, heads, Nq, tokens]; return null to skip a site.</summary>
    public Func<AttentionSite, AttentionBias?>? CrossBias { get; init; }

    /// <summary>
    /// General hook on the scaled logits (after any bias), returning the logits to use (e.g. DenseDiffusion's modulation
    /// towards the row maximum and minimum). It receives one slice of query rows at a time, [B, heads, rows, Nk], with
    /// the index of its first row.
    /// </summary>
    public Func<AttentionSite, Tensor, long, Tensor>? ModifyLogits { get; init; }

    /// <summary>
    /// Bytes one slice of logits [B, heads, rows, Nk] may take when the layer attends in slices (a bias or explicit
    /// logits). Peak memory per layer is a few slices (logits, probabilities, the bias rows); 64 MiB by default.
    /// </summary>
    public long SliceBytes { get; init; } = DefaultSliceBytes;

    /// <summary>The default <see cref="SliceBytes"/>: 64 MiB.</summary>
    public const long DefaultSliceBytes = 64L << 20;

    /// <summary>Receives the attention probabilities [B, heads, Nq, Nk] after the softmax.</summary>
    public Action<AttentionSite, Tensor>? RecordProbabilities { get; init; }

    /// <summary>Whether the hooks apply to <paramref name="site"/>.</summary>
    public bool Applies(AttentionSite site) => Sites?.Invoke(site) ?? true;

    /// <summary>The bias for <paramref name="site"/> (self or cross by its kind), or null.</summary>
    public AttentionBias? BiasFor(AttentionSite site) =>
        site.Kind == AttentionKind.Self ? SelfBias?.Invoke(site) : CrossBias?.Invoke(site);

    /// <summary>True when the logits must be computed explicitly (a logit hook or a recorder is set).</summary>
    public bool NeedsExplicitLogits => ModifyLogits is not null || RecordProbabilities is not null;
}
