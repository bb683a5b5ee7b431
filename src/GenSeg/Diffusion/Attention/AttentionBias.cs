using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Attention;

/// <summary>
/// An additive bias on an attention layer's scaled logits, broadcastable to [B, heads, Nq, Nk], handed out by query
/// rows so that a layer attending in slices (see <see cref="AttentionControl.SliceBytes"/>) never holds the whole
/// [Nq, Nk] bias. A tensor converts to a <see cref="DenseBias"/> implicitly.
/// </summary>
public abstract class AttentionBias
{
    /// <summary>Query rows [<paramref name="start"/>, <paramref name="end"/>) of the bias as a 4-D tensor broadcastable to
    /// [B, heads, end - start, Nk], in <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    public abstract Tensor Rows(long start, long end, ScalarType dtype, Device device);

    /// <summary>Wraps a dense bias tensor (null stays null: no bias).</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(bias))]
    public static implicit operator AttentionBias?(Tensor? bias) => bias is null ? null : new DenseBias(bias);
}

/// <summary>A bias held as one tensor broadcastable to [B, heads, Nq, Nk] (any rank up to 4).</summary>
public sealed class DenseBias(Tensor bias) : AttentionBias
{
    /// <summary>The bias tensor.</summary>
    public Tensor Bias { get; } = bias ?? throw new ArgumentNullException(nameof(bias));

    /// <inheritdoc />
    public override Tensor Rows(long start, long end, ScalarType dtype, Device device)
    {
        var mask = Bias.to(dtype, device);
        while (mask.dim() < 4) mask = mask.unsqueeze(0);
        return mask.shape[2] == 1 || (start == 0 && end == mask.shape[2]) ? mask : mask.narrow(2, start, end - start);
    }
}

/// <summary>
/// A bias of low rank per item: bias[b, q, k] = <see cref="Scale"/> * sum_r <see cref="QueryFactor"/>[b, r, q] *
/// <see cref="KeyFactor"/>[b, r, k], shared by every head. G4Seg's injected maps have this form (Eq. 3: the foreground
/// mask times the class-token indicator; Eq. 4: the mask times itself; rank one per class, so a composed injection of R
/// classes has rank R), so the dense [B, 1, Nq, Nk] map (67 MB per item for 64x64 latents in float32) is never built:
/// each slice of query rows costs B x rows x Nk.
/// </summary>
public sealed class LowRankBias : AttentionBias
{
    /// <summary>
    /// The bias <paramref name="scale"/> * <paramref name="queryFactor"/> x <paramref name="keyFactor"/>: factors
    /// [B, Nq] and [B, Nk] (rank one) or [B, R, Nq] and [B, R, Nk] (the sum of R outer products).
    /// </summary>
    public LowRankBias(Tensor queryFactor, Tensor keyFactor, double scale = 1.0)
    {
        ArgumentNullException.ThrowIfNull(queryFactor);
        ArgumentNullException.ThrowIfNull(keyFactor);
        if (queryFactor.dim() == 2) queryFactor = queryFactor.unsqueeze(1);
        if (keyFactor.dim() == 2) keyFactor = keyFactor.unsqueeze(1);
        Check.Rank(queryFactor, nameof(queryFactor), 3, "[B, Nq] or [B, R, Nq]");
        Check.Rank(keyFactor, nameof(keyFactor), 3, "[B, Nk] or [B, R, Nk]");
        if (queryFactor.shape[0] != keyFactor.shape[0] || queryFactor.shape[1] != keyFactor.shape[1])
            throw new ArgumentException($"query factor {Check.Format(queryFactor.shape)} and key factor {Check.Format(keyFactor.shape)} must have the same batch and rank");
        QueryFactor = queryFactor;
        KeyFactor = keyFactor;
        Scale = scale;
    }

    /// <summary>[B, R, Nq].</summary>
    public Tensor QueryFactor { get; }

    /// <summary>[B, R, Nk].</summary>
    public Tensor KeyFactor { get; }

    /// <summary>R: the number of outer products summed.</summary>
    public long Rank => QueryFactor.shape[1];

    /// <summary>The scalar factor (a / sqrt(d) for Eq. 5).</summary>
    public double Scale { get; }

    /// <summary>The same bias times <paramref name="factor"/>.</summary>
    public LowRankBias Scaled(double factor) => new(QueryFactor, KeyFactor, Scale * factor);

    /// <summary>Query rows [start, end) as [B, 1, end - start, Nk] in <paramref name="dtype"/> on <paramref name="device"/>
    /// (the products are formed in the factors' type, then converted; rank one is a broadcast product, as exact as its factors).</summary>
    public override Tensor Rows(long start, long end, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var q = QueryFactor.narrow(2, start, end - start).to(device); // [B, R, rows]
        var k = KeyFactor.to(device);                                  // [B, R, Nk]
        var map = Rank == 1 ? q[.., 0].unsqueeze(2) * k[.., 0].unsqueeze(1) : q.transpose(1, 2).matmul(k);
        if (Scale != 1.0) map = map * Scale;
        return map.unsqueeze(1).to_type(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The whole map [B, 1, Nq, Nk] in the factors' type (for inspection and small sizes).</summary>
    public Tensor Dense() => Rows(0, QueryFactor.shape[2], QueryFactor.dtype, QueryFactor.device);
}

/// <summary>Query slicing of attention with a bias or explicit logits (diffusers' attention slicing, by memory).</summary>
public static class AttentionSlicing
{
    /// <summary>
    /// Query rows per slice so that one slice's logits [B, heads, rows, Nk] take at most <paramref name="sliceBytes"/>
    /// in <paramref name="elementSize"/>-byte elements (at least one row; all rows when they fit).
    /// </summary>
    public static long Rows(long batch, long heads, long queries, long keys, int elementSize, long sliceBytes)
    {
        if (sliceBytes <= 0) throw new ArgumentOutOfRangeException(nameof(sliceBytes), sliceBytes, "slice bytes: expected a positive budget");
        long perRow = Math.Max(1, batch * heads * keys * elementSize);
        return Math.Clamp(sliceBytes / perRow, 1, Math.Max(1, queries));
    }
}
