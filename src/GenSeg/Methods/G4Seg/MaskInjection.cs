using GenSeg.Common;
using GenSeg.Diffusion.Attention;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.Methods.G4Seg;

/// <summary>
/// Explicit mask injection (EMI, G4Seg Eq. 3-5): attention maps A built from a coarse mask, applied as
/// softmax((QK^T + a*A)/sqrt(d)). The builders return A at one attention resolution, factored (<see cref="SelfFactors"/>,
/// <see cref="CrossFactors"/>: A is an outer product, never built whole for the UNet) or whole (<see cref="SelfMap"/>,
/// <see cref="CrossMap"/>); <c>Scaled</c> turns a*A into the bias that is added to the already scaled logits QK^T/sqrt(d).
/// </summary>
public static class MaskInjection
{
    /// <summary>The coarse mask [B, H, W] (probabilities or 0/1) resized to an attention resolution with nearest
    /// neighbour (as DenseDiffusion resizes its layouts), binarised at 0.5: [B, h*w] float 0/1.</summary>
    public static Tensor MaskAt(Tensor mask, long height, long width)
    {
        Check.Rank(mask, nameof(mask), 3, "[B, H, W]");
        using var scope = NewDisposeScope();
        var m = F.interpolate(mask.to_type(ScalarType.Float32).unsqueeze(1), new[] { height, width }, mode: InterpolationMode.Nearest);
        return (m.reshape(mask.shape[0], height * width) > 0.5).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Cross-attention map (Eq. 3) in factored form: A[q, k] = m[q] c[k], 1 where query pixel q is foreground and key
    /// k is one of the class's token positions, else 0 (factors [B, h*w] and [B, tokens], on the mask's device).
    /// </summary>
    /// <param name="mask">[B, H, W] coarse mask.</param>
    /// <param name="tokenPositions">Per batch item, the positions of the class name's tokens in the prompt.</param>
    /// <param name="tokens">Prompt length (77 for SD).</param>
    public static RankOneBias CrossFactors(Tensor mask, IReadOnlyList<int[]> tokenPositions, long tokens, long height, long width)
    {
        long b = mask.shape[0];
        if (tokenPositions.Count != b)
            throw new ArgumentException($"tokenPositions: {tokenPositions.Count} lists for a batch of {b} masks");
        var cols = new float[b * tokens];
        for (int i = 0; i < b; i++)
        {
            foreach (var p in tokenPositions[i])
            {
                if (p < 0 || p >= tokens) throw new ArgumentOutOfRangeException(nameof(tokenPositions), p, $"token position {p} outside a prompt of {tokens} tokens");
                cols[i * tokens + p] = 1;
            }
        }
        var m = MaskAt(mask, height, width); // [B, N]
        return new RankOneBias(m, tensor(cols, device: m.device).reshape(b, tokens)); // Eq. 3
    }

    /// <summary>Self-attention map (Eq. 4) in factored form: A[q, k] = m[q] m[k], 1 where both pixels are foreground.</summary>
    public static RankOneBias SelfFactors(Tensor mask, long height, long width)
    {
        var m = MaskAt(mask, height, width);
        return new RankOneBias(m, m); // Eq. 4: m m^T
    }

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
    public static RankOneBias Scaled(RankOneBias map, double a, long headDim) => map.Scaled(a / Math.Sqrt(headDim));

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
    /// and 1 - sizereg * (background area / pixels) for background pixels: [B, 1, h*w, 1].
    /// </summary>
    public static Tensor SizeRegulariser(Tensor mask, long height, long width, double sizereg = 1.0)
    {
        using var scope = NewDisposeScope();
        var m = MaskAt(mask, height, width);                               // [B, N]
        var fgShare = m.mean(new long[] { 1 }, keepdim: true);            // [B, 1]
        var share = m * fgShare + (1 - m) * (1 - fgShare);
        return (1 - share * sizereg).unsqueeze(1).unsqueeze(3).MoveToOuterDisposeScope();
    }

    /// <summary>DenseDiffusion's time factor (t/1000)^5.</summary>
    public static double DenseDiffusionTimeFactor(long timestep, long trainTimesteps = 1000) => Math.Pow((double)timestep / trainTimesteps, 5);
}
