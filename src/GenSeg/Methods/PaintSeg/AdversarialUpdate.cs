using GenSeg.Common;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.PaintSeg;

/// <summary>
/// The adversarial mask update (PaintSeg Eq. 4): the N paints' object maps are averaged and binarised (a vote); an I-step
/// may then only remove pixels of the mask's inner band, an O-step only add pixels of its outer band. Without the
/// constraint an I-step keeps the vote inside the mask and an O-step adds the whole vote. A mask with no off pixel (the
/// whole image, where point and scribble prompts start) has no boundary and hence no band: its I-step is unconstrained.
/// </summary>
public static class AdversarialUpdate
{
    /// <summary>The vote [H, W] in [0, 1]: the mean over paints of <paramref name="objectMaps"/> [N, H, W].</summary>
    public static Tensor Vote(Tensor objectMaps)
    {
        Check.Rank(objectMaps, nameof(objectMaps), 3, "[N, H, W]");
        using var scope = NewDisposeScope();
        return Masks.ToFloat(objectMaps).mean(new long[] { 0 }).MoveToOuterDisposeScope();
    }

    /// <summary>The band width in pixels for an image of width <paramref name="width"/> (32 px at 512, at least 1).</summary>
    public static int BandWidth(PaintSegOptions options, int width) => PaintSegOptions.Scaled(options.BandWidthAt512, width);

    /// <summary>
    /// The bounds Eq. 4 puts on a step's result, both [H, W] float32 0/1: every result pixel lies in Upper and every Lower
    /// pixel is kept. I-step: Lower = the mask minus its inner band, Upper = the mask. O-step: Lower = the mask, Upper = the
    /// mask plus its outer band. Without the constraint: I-step (empty, mask), O-step (mask, everything).
    /// </summary>
    public static (Tensor Lower, Tensor Upper) Bounds(Tensor mask, StepKind kind, PaintSegOptions options)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        ArgumentNullException.ThrowIfNull(options);
        using var scope = NewDisposeScope();
        var m = Masks.Binarize(mask);
        int band = BandWidth(options, (int)m.shape[1]);
        bool wholeImage = Masks.Area(m) == m.numel();
        Tensor lower, upper;
        if (kind == StepKind.Inpaint)
        {
            upper = m;
            lower = options.AdversarialConstraint && !wholeImage ? MaskMath.And(m, MaskMath.Not(Bands.InnerBand(m, band))) : zeros_like(m);
        }
        else
        {
            lower = m;
            upper = options.AdversarialConstraint ? MaskMath.Or(m, Bands.OuterBand(m, band)) : ones_like(m);
        }
        return (lower.MoveToOuterDisposeScope(), upper.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Eq. 4: the new mask [H, W] (float32 0/1) from the current <paramref name="mask"/> and the
    /// <paramref name="vote"/> [H, W] (fraction of paints calling each pixel object): the vote binarised at
    /// <see cref="PaintSegOptions.VoteThresholdFor"/> the step kind, held within <see cref="Bounds"/>, then (optionally) opened and closed
    /// with a <see cref="PaintSegOptions.CleanKernel"/> square and held within the bounds again. With
    /// <paramref name="promptPoints"/> (<see cref="PaintSegOptions.PromptComponents"/>) only the components that hold one
    /// of them are kept, held within the bounds again; the result is left as it is when no component holds one.
    /// </summary>
    public static Tensor Apply(Tensor mask, Tensor vote, StepKind kind, PaintSegOptions options, IReadOnlyList<PromptPoint>? promptPoints = null)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        Check.Shape(vote, nameof(vote), mask.shape[0], mask.shape[1]);
        ArgumentNullException.ThrowIfNull(options);
        using var scope = NewDisposeScope();
        var (lower, upper) = Bounds(mask, kind, options);
        using var threshold = options.VoteThresholdFor(kind).ToScalar();
        var candidate = Masks.ToFloat(vote).to(lower.device).ge(threshold).to_type(ScalarType.Float32);
        var result = Clamp(candidate, lower, upper);
        if (options.CleanKernel > 1)
        {
            var k = Kernel.Square(options.CleanKernel);
            result = Clamp(Morphology.Close(Morphology.Open(result, k), k), lower, upper);
        }
        if (promptPoints is not null)
        {
            var held = Components.Holding(result, promptPoints.Select(p => (p.X, p.Y))).to(lower.device);
            if (Masks.Area(held) > 0) result = Clamp(held, lower, upper);
        }
        return result.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>(x AND upper) OR lower.</summary>
    static Tensor Clamp(Tensor x, Tensor lower, Tensor upper) => MaskMath.Or(MaskMath.And(x, upper), lower);
}
