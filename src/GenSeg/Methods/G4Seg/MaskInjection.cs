using GenSeg.Common;
using GenSeg.Diffusion.Attention;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.Methods.G4Seg;

/// <summary>
/// Explicit mask injection (EMI, G4Seg Eq. 3-5): attention maps A built from a coarse mask, applied as
/// softmax((QK^T + a*A)/sqrt(d)). The builders return A at one attention resolution, factored (<see cref="SelfFactors"/>,
/// <see cref="CrossFactors(Tensor, IReadOnlyList{int[]}, long, long, long)"/>: A is an outer product, never built whole for the UNet) or whole (<see cref="SelfMap"/>,
/// <see cref="CrossMap"/>); <c>Scaled</c> turns a*A into the bias that is added to the already scaled logits QK^T/sqrt(d).
/// </summary>
public static class MaskInjection
{
    /// <summary>The coarse mask [B, H, W] (probabilities or 0/1) resized to an attention resolution with nearest
    /// neighbour (as DenseDiffusion resizes its layouts), binarised at 0.5: [B, h*w] float 0/1. Masks of several
    /// segments per item, [B, R, H, W], give [B, R, h*w].</summary>
    public static Tensor MaskAt(Tensor mask, long height, long width)
    {
        if (mask.dim() != 4) Check.Rank(mask, nameof(mask), 3, "[B, H, W] or [B, R, H, W]");
        using var scope = NewDisposeScope();
        bool segments = mask.dim() == 4;
        var input = mask.to_type(ScalarType.Float32);
        var m = F.interpolate(segments ? input : input.unsqueeze(1), new[] { height, width }, mode: InterpolationMode.Nearest);
        var shape = segments ? new[] { mask.shape[0], mask.shape[1], height * width } : new[] { mask.shape[0], height * width };
        return (m.reshape(shape) > 0.5).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Cross-attention map (Eq. 3) in factored form: A[q, k] = m[q] c[k], 1 where query pixel q is foreground and key
    /// k is one of the class's token positions, else 0 (factors [B, h*w] and [B, tokens], on the mask's device).
    /// </summary>
    /// <param name="mask">[B, H, W] coarse mask.</param>
    /// <param name="tokenPositions">Per batch item, the positions of the class name's tokens in the prompt.</param>
    /// <param name="tokens">Prompt length (77 for SD).</param>
    /// <param name="height">Attention height.</param>
    /// <param name="width">Attention width.</param>
    public static LowRankBias CrossFactors(Tensor mask, IReadOnlyList<int[]> tokenPositions, long tokens, long height, long width)
    {
        Check.Rank(mask, nameof(mask), 3, "[B, H, W]");
        return CrossFactors(mask.unsqueeze(1), OneSegment(tokenPositions), tokens, height, width);
    }

    /// <summary>
    /// The composed cross-attention map: Eq. 3 summed over each item's segments (classes),
    /// A[q, k] = sum_r m_r[q] c_r[k], each class's mask on its own token columns only (factors [B, R, h*w] and
    /// [B, R, tokens]). An empty token list, with an empty mask, pads an item with fewer segments.
    /// </summary>
    /// <param name="masks">[B, R, H, W] coarse masks, one per segment.</param>
    /// <param name="segmentTokens">Per batch item, per segment, the positions of that class name's tokens in the item's prompt.</param>
    /// <param name="tokens">Prompt length (77 for SD).</param>
    /// <param name="height">Attention height.</param>
    /// <param name="width">Attention width.</param>
    public static LowRankBias CrossFactors(Tensor masks, IReadOnlyList<IReadOnlyList<int[]>> segmentTokens, long tokens, long height, long width)
    {
        Check.Rank(masks, nameof(masks), 4, "[B, R, H, W]");
        long b = masks.shape[0], r = masks.shape[1];
        if (segmentTokens.Count != b)
            throw new ArgumentException($"tokenPositions: {segmentTokens.Count} lists for a batch of {b} masks");
        var cols = new float[b * r * tokens];
        for (int i = 0; i < b; i++)
        {
            if (segmentTokens[i].Count > r)
                throw new ArgumentException($"tokenPositions: item {i} has {segmentTokens[i].Count} token lists for the {r} segments of masks {Check.Format(masks.shape)}");
            for (int j = 0; j < segmentTokens[i].Count; j++)
            {
                foreach (var p in segmentTokens[i][j])
                {
                    if (p < 0 || p >= tokens) throw new ArgumentOutOfRangeException(nameof(segmentTokens), p, $"token position {p} outside a prompt of {tokens} tokens");
                    cols[(i * r + j) * tokens + p] = 1;
                }
            }
        }
        var m = MaskAt(masks, height, width); // [B, R, N]
        return new LowRankBias(m, tensor(cols, device: m.device).reshape(b, r, tokens)); // Eq. 3, summed over segments
    }

    /// <summary>Self-attention map (Eq. 4) in factored form: A[q, k] = m[q] m[k], 1 where both pixels are foreground.
    /// With masks [B, R, H, W] (a composed injection) A = sum_r m_r m_r^T: the pairs within one segment (a pair inside
    /// two overlapping segments counts twice).</summary>
    public static LowRankBias SelfFactors(Tensor mask, long height, long width)
    {
        var m = MaskAt(mask, height, width);
        return new LowRankBias(m, m); // Eq. 4: m m^T (per segment, summed)
    }

    /// <summary>Each item's token list as the only segment's.</summary>
    internal static IReadOnlyList<IReadOnlyList<int[]>> OneSegment(IReadOnlyList<int[]> tokenPositions) =>
        tokenPositions.Select(p => (IReadOnlyList<int[]>)new[] { p }).ToArray();

    /// <summary>Cross-attention map (Eq. 3) built whole: [B, 1, h*w, tokens] (broadcast over heads).</summary>
    public static Tensor CrossMap(Tensor mask, IReadOnlyList<int[]> tokenPositions, long tokens, long height, long width)
    {
        using var scope = NewDisposeScope();
        return CrossFactors(mask, tokenPositions, tokens, height, width).Dense().MoveToOuterDisposeScope();
    }

    /// <summary>Self-attention map (Eq. 4) built whole: [B, 1, h*w, h*w].</summary>
    public static Tensor SelfMap(Tensor mask, long height, long width)
    {
        using var scope = NewDisposeScope();
        return SelfFactors(mask, height, width).Dense().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The bias to add to scaled logits QK^T/sqrt(d) so that the result is (QK^T + a*A)/sqrt(d) (Eq. 5).
    /// </summary>
    public static Tensor Scaled(Tensor map, double a, long headDim) => map * (a / Math.Sqrt(headDim));

    /// <summary>Eq. 5's bias a/sqrt(d) * A for a factored map.</summary>
    public static LowRankBias Scaled(LowRankBias map, double a, long headDim) => map.Scaled(a / Math.Sqrt(headDim));

    /// <summary>
    /// DenseDiffusion's modulation of scaled logits (the alternative the paper's "following DenseDiffusion" points to):
    /// inside the layout logits move toward the row maximum, outside toward the row minimum:
    /// sim += (M &gt; 0) * sizeReg * w * treg * (max - sim);  sim -= (M &lt;= 0) * sizeReg * w * treg * (sim - min).
    /// </summary>
    /// <param name="logits">[B, heads, Nq, Nk] scaled logits.</param>
    /// <param name="map">[B, 1, Nq, Nk] layout (0/1).</param>
    /// <param name="sizeReg">[B, 1, Nq, 1]: 1 - sizereg * (area of the query pixel's segment / pixels).</param>
    /// <param name="weight">w: creg (1.0) for cross-attention, sreg (0.3) for self-attention.</param>
    /// <param name="timeFactor">treg = (t/1000)^5.</param>
    public static Tensor DenseDiffusionModulate(Tensor logits, Tensor map, Tensor sizeReg, double weight, double timeFactor)
    {
        using var scope = NewDisposeScope();
        var max = logits.amax(new long[] { -1 }, keepdim: true);
        var min = logits.amin(new long[] { -1 }, keepdim: true);
        var inside = (map > 0).to_type(logits.dtype);
        var scale = sizeReg * (weight * timeFactor);
        var result = logits + inside * scale * (max - logits) - (1 - inside) * scale * (logits - min);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// DenseDiffusion's size regulariser per query pixel: 1 - sizereg * (foreground area / pixels) for foreground pixels
    /// and 1 - sizereg * (background area / pixels) for background pixels: [B, 1, h*w, 1]. With masks [B, R, H, W] a
    /// pixel's area is its segment's (the mean over the segments it lies in) and the background is what no segment covers.
    /// </summary>
    public static Tensor SizeRegulariser(Tensor mask, long height, long width, double sizereg = 1.0)
    {
        if (mask.dim() != 4) Check.Rank(mask, nameof(mask), 3, "[B, H, W] or [B, R, H, W]");
        using var scope = NewDisposeScope();
        var m = MaskAt(mask.dim() == 3 ? mask.unsqueeze(1) : mask, height, width); // [B, R, N]
        var segmentShare = m.mean(new long[] { 2 }, keepdim: true);              // [B, R, 1]
        var covered = m.amax(1);                                                  // [B, N]
        var backgroundShare = 1 - covered.mean(new long[] { 1 }, keepdim: true);  // [B, 1]
        var fgShare = (m * segmentShare).sum(1) / m.sum(1).clamp_min(1);
        var share = fgShare + (1 - covered) * backgroundShare;
        return (1 - share * sizereg).unsqueeze(1).unsqueeze(3).MoveToOuterDisposeScope();
    }

    /// <summary>DenseDiffusion's time factor (t/1000)^5.</summary>
    public static double DenseDiffusionTimeFactor(long timestep, long trainTimesteps = 1000) => Math.Pow((double)timestep / trainTimesteps, 5);
}
