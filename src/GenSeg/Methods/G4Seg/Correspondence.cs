using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GenSeg.Common;
using GenSeg.Features;
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
    /// <param name="sliceBytes">Bytes one slice of the global search's similarity matrix [queries, H*W] may take (float32):
    /// the query pixels per matrix product follow from it, so the search's memory does not grow with the image area
    /// squared (at 512x512, 64 MiB is 64 query rows against 262144 pixels).</param>
    public static CorrespondenceResult Match(Tensor generated, Tensor original, Tensor? queryMask = null, int? window = null,
        long sliceBytes = DefaultSliceBytes)
    {
        if (sliceBytes <= 0) throw new ArgumentOutOfRangeException(nameof(sliceBytes), sliceBytes, "slice bytes: expected a positive budget");
        Check.Rank(generated, nameof(generated), 4, "[B, C, H, W]");
        if (!generated.shape.SequenceEqual(original.shape))
            throw new ArgumentException($"generated features {Check.Format(generated.shape)} and original features {Check.Format(original.shape)} must have the same shape");
        long b = generated.shape[0], h = generated.shape[2], w = generated.shape[3];
        if (queryMask is not null) Check.Shape(queryMask, nameof(queryMask), b, h, w);
        if (window is < 0) throw new ArgumentOutOfRangeException(nameof(window), window, "window: expected a non-negative half-width in pixels");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var g = FeatureMaps.UnitChannels(generated.to_type(ScalarType.Float32));
        var o = FeatureMaps.UnitChannels(original.to_type(ScalarType.Float32));
        long chunk = Math.Max(1, sliceBytes / (h * w * sizeof(float)));
        var result = window is { } win && (win < h || win < w) ? Windowed(g, o, win) : Global(g, o, queryMask, chunk);
        var (index, sim) = result;
        if (queryMask is not null) (index, sim) = Restrict(new CorrespondenceResult(index, sim), queryMask);
        return new CorrespondenceResult(index.MoveToOuterDisposeScope(), sim.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The matches of <paramref name="match"/> ([B, H*W]) kept only for the pixels of <paramref name="queryMask"/>
    /// [B, H, W] (bool or 0/1): elsewhere d_j = j and similarity NaN, as <see cref="Match"/> leaves pixels outside its
    /// query mask. A composed pass matches the union of its classes' confusion areas once; this gives each class its own.
    /// </summary>
    public static CorrespondenceResult Restrict(CorrespondenceResult match, Tensor queryMask)
    {
        ArgumentNullException.ThrowIfNull(match);
        Check.Rank(match.Index, "match.Index", 2, "[B, H*W]");
        Check.Rank(queryMask, nameof(queryMask), 3, "[B, H, W]");
        long b = queryMask.shape[0], n = queryMask.shape[1] * queryMask.shape[2];
        Check.Shape(match.Index, "match.Index", b, n);
        Check.Shape(match.Similarity, "match.Similarity", b, n);
        using var scope = NewDisposeScope();
        var q = queryMask.reshape(b, n).to_type(ScalarType.Bool).to(match.Index.device);
        var identity = arange(n, dtype: ScalarType.Int64, device: match.Index.device).unsqueeze(0).expand(b, n);
        var index = where(q, match.Index, identity);
        var sim = where(q, match.Similarity, full_like(match.Similarity, float.NaN));
        return new CorrespondenceResult(index.MoveToOuterDisposeScope(), sim.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Features with at most this many channels (colour+position: 5) are matched on the CPU by a direct search
    /// (<see cref="BestMatches"/>) instead of a matrix product: with so few channels the product's [queries, N]
    /// similarity matrix, written and read once, is the whole cost (timed with a scratch program, not in the repository:
    /// 6 ms per 64x64 item with a quarter of its pixels queried, about 1 ms searched directly). Same argmax, first index on ties.
    /// </summary>
    public const int DirectSearchMaxChannels = 16;

    /// <summary>The default slice of the global search's similarity matrix: 64 MiB.</summary>
    public const long DefaultSliceBytes = 64L << 20;

    static (Tensor Index, Tensor Similarity) Global(Tensor g, Tensor o, Tensor? queryMask, long chunk)
    {
        long b = g.shape[0], c = g.shape[1], n = g.shape[2] * g.shape[3];
        bool direct = c <= DirectSearchMaxChannels && g.device.type == DeviceType.CPU && n <= int.MaxValue / c;
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
            if (direct)
            {
                if (count == 0) continue;
                using var inner = NewDisposeScope();
                var queryFeatures = ToArray(gq[bi].index_select(0, queries)); // [count, C]
                var keys = ToArray(ok[bi]);                                     // [C, N]
                var bestIndex = new long[count];
                var bestSimilarity = new float[count];
                BestMatches(queryFeatures, keys, (int)c, (int)n, bestIndex, bestSimilarity);
                index[bi].index_copy_(0, queries, tensor(bestIndex, device: g.device));
                sim[bi].index_copy_(0, queries, tensor(bestSimilarity, device: g.device));
                continue;
            }
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

    static float[] ToArray(Tensor t)
    {
        using var c = t.contiguous();
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(c.bytes).ToArray();
    }

    /// <summary>
    /// For each query row q of <paramref name="queries"/> [Q, C], the key column with the largest dot product
    /// sum_c q_c keys[c, i] over <paramref name="keys"/> [C, N] (Eq. 8 on unit vectors), the first on ties, and that
    /// product. Vectorised over keys, parallel over queries; each product is summed channel by channel without fused
    /// multiply-adds, so the vector lanes and the scalar tail round alike.
    /// </summary>
    static void BestMatches(float[] queries, float[] keys, int channels, int n, long[] bestIndex, float[] bestSimilarity) =>
        ParallelRanges.For(bestIndex.Length, 64, (start, end) => SearchRange(queries, keys, channels, n, bestIndex, bestSimilarity, start, end));

    /// <summary><see cref="BestMatches"/> for queries [start, end): four queries per pass over the keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SearchRange(float[] queries, float[] keys, int channels, int n, long[] bestIndex, float[] bestSimilarity, int start, int end)
    {
        const int Block = 4;
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var q = new Vector256<float>[Block * channels]; // broadcast query values, query-major
        var best = new Vector256<float>[Block];
        var bestAt = new Vector256<int>[Block];
        ref float k0 = ref keys[0];
        for (int first = start; first < end; first += Block)
        {
            int rows = Math.Min(Block, end - first);
            for (int r = 0; r < Block; r++)
            {
                int src = first + Math.Min(r, rows - 1); // a short block repeats its last query
                for (int c = 0; c < channels; c++) q[r * channels + c] = Vector256.Create(queries[src * channels + c]);
                best[r] = Vector256.Create(float.NegativeInfinity);
                bestAt[r] = Vector256<int>.Zero;
            }
            int i = 0;
            for (; i + 8 <= n; i += 8)
            {
                var key = Vector256.LoadUnsafe(ref k0, (nuint)i);
                Vector256<float> s0 = q[0] * key, s1 = q[channels] * key, s2 = q[2 * channels] * key, s3 = q[3 * channels] * key;
                for (int c = 1; c < channels; c++)
                {
                    key = Vector256.LoadUnsafe(ref k0, (nuint)(c * n + i));
                    s0 += q[c] * key;
                    s1 += q[channels + c] * key;
                    s2 += q[2 * channels + c] * key;
                    s3 += q[3 * channels + c] * key;
                }
                var at = lanes + Vector256.Create(i);
                Keep(ref best[0], ref bestAt[0], s0, at);
                Keep(ref best[1], ref bestAt[1], s1, at);
                Keep(ref best[2], ref bestAt[2], s2, at);
                Keep(ref best[3], ref bestAt[3], s3, at);
            }
            for (int r = 0; r < rows; r++)
            {
                // the lanes' best: the largest value, the smallest index among lanes holding it
                float top = float.NegativeInfinity;
                int found = 0;
                for (int l = 0; l < 8; l++)
                {
                    float v = best[r].GetElement(l);
                    int idx = bestAt[r].GetElement(l);
                    if (v > top || (v == top && idx < found)) (top, found) = (v, idx);
                }
                int row = (first + r) * channels;
                for (int t = i; t < n; t++)
                {
                    float s = queries[row] * Unsafe.Add(ref k0, t);
                    for (int c = 1; c < channels; c++) s += queries[row + c] * Unsafe.Add(ref k0, c * n + t);
                    if (s > top) (top, found) = (s, t);
                }
                bestIndex[first + r] = found;
                bestSimilarity[first + r] = top;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Keep(ref Vector256<float> best, ref Vector256<int> bestAt, Vector256<float> s, Vector256<int> at)
    {
        var better = Vector256.GreaterThan(s, best);
        best = Vector256.ConditionalSelect(better, s, best);
        bestAt = Vector256.ConditionalSelect(better.AsInt32(), at, bestAt);
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
