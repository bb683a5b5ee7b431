using GenSeg.Common;
using GenSeg.Features;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using static TorchSharp.torch;

namespace GenSeg.Methods.PaintSeg;

/// <summary>What one AMCP step needs besides the mask: the image, the painter, the feature extractor and the prompt.</summary>
/// <param name="Image">I [3, H, W] in [-1, 1].</param>
/// <param name="Painter">Paints the N versions.</param>
/// <param name="Features">E of Eq. 1.</param>
/// <param name="Options">Settings.</param>
/// <param name="Prompt">The prompt's kind (for K's schedule and the authors' O-step region).</param>
/// <param name="PriorPoints">The prompt prior's points.</param>
/// <param name="Seed">Seed of the segmentation; each step derives its own.</param>
public sealed record StepContext(Tensor Image, IPainter Painter, IFeatureExtractor Features, PaintSegOptions Options, PromptKind Prompt,
    IReadOnlyList<PromptPoint> PriorPoints, ulong Seed);

/// <summary>
/// One AMCP step, everything kept for display: the mask before and after, the paints, the potential's terms, the
/// clustering and the vote.
/// </summary>
/// <param name="Index">0-based step index.</param>
/// <param name="Kind">I-step or O-step.</param>
/// <param name="MaskBefore">[H, W] the mask the step started from.</param>
/// <param name="Paints">The N paints and the painted region.</param>
/// <param name="Potential">The potential's terms.</param>
/// <param name="Clustering">The k-means result and the per-paint object maps.</param>
/// <param name="Vote">[H, W] fraction of paints calling each pixel object, on the painted pixels of the box; elsewhere (no evidence) the current mask.</param>
/// <param name="MaskAfter">[H, W] the updated mask.</param>
public sealed record PaintSegStep(int Index, StepKind Kind, Tensor MaskBefore, PaintBatch Paints, PotentialTerms Potential,
    ChangeClusters Clustering, Tensor Vote, Tensor MaskAfter) : IDisposable
{
    /// <summary>Why the step kept its input mask, when it did: "constant potential" (no evidence) or "empty result".</summary>
    public string? Note { get; init; }

    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors()) t.Dispose();
    }

    /// <summary>Every tensor the step holds.</summary>
    internal IEnumerable<Tensor> Tensors() => new[]
    {
        MaskBefore, Paints.Region, Paints.Paints,
        Potential.Distance, Potential.CrfProbability, Potential.Prior, Potential.PaintTerm, Potential.CrfTerm, Potential.PromptTerm, Potential.Total,
        Clustering.Labels, Clustering.Centres, Clustering.Changed, Clustering.Object,
        Vote, MaskAfter,
    };

    /// <summary>Moves every tensor of the step to the enclosing dispose scope.</summary>
    internal PaintSegStep MoveToOuterDisposeScope()
    {
        foreach (var t in Tensors()) t.MoveToOuterDisposeScope();
        return this;
    }
}

/// <summary>The I-step: paint the object region N times, potential, k-means, remove pixels of the inner band.</summary>
public static class IStep
{
    /// <summary>Runs an I-step from <paramref name="mask"/> [H, W]; <paramref name="index"/> is the step's 0-based index.</summary>
    public static PaintSegStep Run(StepContext context, Tensor mask, int index) => AmcpStep.Run(context, mask, index, StepKind.Inpaint);
}

/// <summary>The O-step: paint the background N times, potential, k-means, add pixels of the outer band.</summary>
public static class OStep
{
    /// <summary>Runs an O-step from <paramref name="mask"/> [H, W]; <paramref name="index"/> is the step's 0-based index.</summary>
    public static PaintSegStep Run(StepContext context, Tensor mask, int index) => AmcpStep.Run(context, mask, index, StepKind.Outpaint);
}

/// <summary>A step up to its paints: the binary mask it starts from, the region to paint, its settings and its seed.</summary>
sealed record PreparedStep(int Index, StepKind Kind, Tensor Mask, Tensor Region, PaintSegOptions Options, ulong Seed)
{
    /// <summary>The painting job of this step.</summary>
    public PaintRequest Request(StepContext ctx) => new(ctx.Image, Region, Kind, Options.Paints, Seed);
}

/// <summary>The step both kinds share: <see cref="Prepare"/> (the region), the paints, then <see cref="Finish"/>.</summary>
static class AmcpStep
{
    internal static PaintSegStep Run(StepContext ctx, Tensor mask, int index, StepKind kind)
    {
        using var scope = NewDisposeScope();
        var step = Prepare(ctx, mask, index, kind);
        var paints = ctx.Painter.Paint(ctx.Image, step.Region, kind, step.Options.Paints, step.Seed);
        return Finish(ctx, step, paints).MoveToOuterDisposeScope();
    }

    /// <summary>The mask checked and binarised, and the region the step paints (tensors in the caller's dispose scope).</summary>
    internal static PreparedStep Prepare(StepContext ctx, Tensor mask, int index, StepKind kind)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        Check.Shape(ctx.Image, "image", 3, -1, -1);
        Check.Shape(mask, nameof(mask), ctx.Image.shape[1], ctx.Image.shape[2]);
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "step index: expected >= 0");
        var o = ctx.Options.ForPrompt(ctx.Prompt);
        var m = Masks.Binarize(mask).to(ctx.Image.device);
        if (Masks.Area(m) == 0) throw new ArgumentException("mask: empty; an AMCP step needs an object mask with at least one pixel", nameof(mask));
        return new PreparedStep(index, kind, m, Painter.Region(m, kind, o, ctx.Prompt), o, Pcg32.Derive(ctx.Seed, (ulong)index));
    }

    /// <summary>The potential of <paramref name="paints"/>, the k-means, the vote and the update (tensors in the caller's dispose scope).</summary>
    internal static PaintSegStep Finish(StepContext ctx, PreparedStep step, PaintBatch paints)
    {
        var (m, kind, o, index) = (step.Mask, step.Kind, step.Options, step.Index);
        var potential = ContrastivePotential.Compute(ctx.Features, ctx.Image, paints.Paints, m, kind, index, ctx.PriorPoints, o);
        var kmeans = o.KMeans with { Seed = unchecked((long)Pcg32.Derive(step.Seed, 0x4B)) };
        var clusters = ChangedRegion.Find(potential.Total, potential.Box, o.ClustersAt(index, ctx.Prompt), kind, o.OutpaintObject, kmeans);

        string? note = null;
        Tensor vote, after;
        if (clusters.Clusters < 2)
        {
            note = "constant potential";
            vote = m.clone();
            after = m.clone();
        }
        else
        {
            // the paints vote on the painted pixels of the box; elsewhere there is no evidence and a pixel keeps its state
            var box = potential.Box;
            var evidence = Boxes.ToMask(box, (int)m.shape[0], (int)m.shape[1], m.device).mul_(paints.Region.to(m.device)).to_type(ScalarType.Bool);
            vote = where(evidence, AdversarialUpdate.Vote(clusters.Object), m);
            after = AdversarialUpdate.Apply(m, vote, kind, o, o.PromptComponents ? ctx.PriorPoints : null);
            if (Masks.Area(after) == 0)
            {
                note = "empty result";
                after = m.clone();
            }
        }
        return new PaintSegStep(index, kind, m, paints, potential, clusters, vote, after) { Note = note };
    }
}
