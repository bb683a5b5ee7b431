using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.G4Seg;

/// <summary>
/// d_j for every generated pixel j (flat index into the original image, row-major) and its cosine similarity.
/// Pixels outside the query mask keep d_j = j and similarity NaN.
/// </summary>
/// <param name="Index">[B, H*W] int64: the original pixel matched to each generated pixel.</param>
/// <param name="Similarity">[B, H*W] float: the cosine similarity of that match.</param>
public sealed record CorrespondenceResult(Tensor Index, Tensor Similarity);

/// <summary>
/// Semantic correspondence between the generated image x~ and the original x (G4Seg Eq. 8):
/// d_j = argmax_i cos(E(x~)_j, E(x)_i). Features must be per-pixel maps of the same size (see
/// <see cref="Features.FeatureMaps.ToPixels"/>). The search can be restricted to query pixels in a mask (the confusion
/// area) and to a square window around j, so its cost does not grow with the square of the image area.
/// </summary>
public static class Correspondence
{
    /// <summary>
    /// Matches every generated pixel (or every pixel where <paramref name="queryMask"/> is set) to its most similar
    /// original pixel.
    /// </summary>
    /// <param name="generated">E(x~): [B, C, H, W].</param>
    /// <param name="original">E(x): [B, C, H, W].</param>
    /// <param name="queryMask">Optional [B, H, W] (bool or 0/1): only these generated pixels are matched.</param>
    /// <param name="window">Optional half-width in pixels: candidates i satisfy |x_i - x_j| &lt;= window and |y_i - y_j| &lt;= window.</param>
    /// <param name="chunk">Query pixels per matrix product in the global search (memory bound).</param>
    public static CorrespondenceResult Match(Tensor generated, Tensor original, Tensor? queryMask = null, int? window = null, int chunk = 4096)
    {
        Check.Rank(generated, nameof(generated), 4, "[B, C, H, W]");
        if (!generated.shape.SequenceEqual(original.shape))
            throw new ArgumentException($"generated features {Check.Format(generated.shape)} and original features {Check.Format(original.shape)} must have the same shape");
        long b = generated.shape[0], h = generated.shape[2], w = generated.shape[3];
        if (queryMask is not null) Check.Shape(queryMask, nameof(queryMask), b, h, w);
        if (window is < 0) throw new ArgumentOutOfRangeException(nameof(window), window, "window: expected a non-negative half-width in pixels");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var g = nn.functional.normalize(generated.to_type(ScalarType.Float32), p: 2, dim: 1, eps: 1e-8);
        var o = nn.functional.normalize(original.to_type(ScalarType.Float32), p: 2, dim: 1, eps: 1e-8);
        var result = window is { } win && (win < h || win < w) ? Windowed(g, o, win) : Global(g, o, queryMask, chunk);
        var (index, sim) = result;
        if (queryMask is not null)
        {
            var q = queryMask.reshape(b, h * w).to_type(ScalarType.Bool);
            var identity = arange(h * w, dtype: ScalarType.Int64, device: index.device).unsqueeze(0).expand(b, h * w);
            index = where(q, index, identity);
            sim = where(q, sim, full_like(sim, float.NaN));
        }
        return new CorrespondenceResult(index.MoveToOuterDisposeScope(), sim.MoveToOuterDisposeScope());
    }

    static (Tensor Index, Tensor Similarity) Global(Tensor g, Tensor o, Tensor? queryMask, int chunk)
    {
        long b = g.shape[0], c = g.shape[1], n = g.shape[2] * g.shape[3];
        var gq = g.reshape(b, c, n).transpose(1, 2); // [B, N, C]
        var ok = o.reshape(b, c, n);                 // [B, C, N]
        var index = arange(n, dtype: ScalarType.Int64, device: g.device).unsqueeze(0).repeat(b, 1);
        var sim = full(b, n, float.NaN, device: g.device);
        for (long bi = 0; bi < b; bi++)
        {
            var queries = queryMask is null
                ? arange(n, dtype: ScalarType.Int64, device: g.device)
                : queryMask[bi].reshape(n).to_type(ScalarType.Bool).nonzero().squeeze(1);
            long count = queries.shape[0];
            for (long start = 0; start < count; start += chunk)
            {
                using var inner = NewDisposeScope();
                var q = queries[TensorIndex.Slice(start, Math.Min(count, start + chunk))];
                var s = gq[bi].index_select(0, q).matmul(ok[bi]); // [q, N]
                var (best, arg) = s.max(1);
                index[bi].index_copy_(0, q, arg);
                sim[bi].index_copy_(0, q, best);
            }
        }
        return (index, sim);
    }

    static (Tensor Index, Tensor Similarity) Windowed(Tensor g, Tensor o, int win)
    {
        long b = g.shape[0], h = g.shape[2], w = g.shape[3];
        var best = full(b, h, w, float.NegativeInfinity, device: g.device);
        var arg = zeros(b, h, w, dtype: ScalarType.Int64, device: g.device);
        var ys = arange(h, dtype: ScalarType.Int64, device: g.device).view(1, h, 1);
        var xs = arange(w, dtype: ScalarType.Int64, device: g.device).view(1, 1, w);
        // Pad the original so every shift reads -inf similarity outside the image.
        var padded = nn.functional.pad(o, new long[] { win, win, win, win });
        var valid = nn.functional.pad(ones(1, 1, h, w, device: g.device), new long[] { win, win, win, win });
        for (int dy = -win; dy <= win; dy++)
        {
            for (int dx = -win; dx <= win; dx++)
            {
                using var inner = NewDisposeScope();
                var shifted = padded[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(win + dy, win + dy + h), TensorIndex.Slice(win + dx, win + dx + w)];
                var inside = valid[0, 0, TensorIndex.Slice(win + dy, win + dy + h), TensorIndex.Slice(win + dx, win + dx + w)] > 0.5;
                var s = (g * shifted).sum(1); // [B, H, W]
                s = where(inside.unsqueeze(0), s, full_like(s, float.NegativeInfinity));
                var better = s > best;
                best.copy_(where(better, s, best));
                var flat = ((ys + dy) * w + (xs + dx)).expand(b, h, w);
                arg.copy_(where(better, flat, arg));
            }
        }
        return (arg.reshape(b, h * w), best.reshape(b, h * w));
    }
}
