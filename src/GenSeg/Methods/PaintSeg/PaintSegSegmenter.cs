using GenSeg.Common;
using GenSeg.Features;
using GenSeg.Methods.Inputs;
using static TorchSharp.torch;

namespace GenSeg.Methods.PaintSeg;

/// <summary>A PaintSeg segmentation: the initial mask, every step, and the final mask.</summary>
/// <param name="InitialMask">[H, W] float32 0/1: the prompt's mask (the whole image for point and scribble prompts).</param>
/// <param name="Steps">Every AMCP step in order, with its paints, potentials and masks.</param>
/// <param name="Mask">[H, W] float32 0/1: the result (the last step's mask).</param>
public sealed record PaintSegResult(Tensor InitialMask, IReadOnlyList<PaintSegStep> Steps, Tensor Mask) : IDisposable
{
    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        InitialMask.Dispose();
        foreach (var s in Steps) s.Dispose();
        Mask.Dispose();
    }
}

/// <summary>
/// PaintSeg ("PaintSeg: Training-free Segmentation via Painting"): adversarial masked contrastive painting (AMCP). From a
/// prompt's initial mask, T steps alternate I-steps (paint the object away; the changed region is the object) and
/// O-steps (paint the background anew; the unchanged region is the object), starting with an I-step.
/// </summary>
public sealed class PaintSegSegmenter
{
    /// <summary>The painter.</summary>
    public IPainter Painter { get; }

    /// <summary>E of Eq. 1.</summary>
    public IFeatureExtractor Features { get; }

    /// <summary>The settings.</summary>
    public PaintSegOptions Options { get; }

    /// <summary>A segmenter with a painter, a feature extractor and settings (the paper's when null).</summary>
    public PaintSegSegmenter(IPainter painter, IFeatureExtractor features, PaintSegOptions? options = null)
    {
        Painter = painter ?? throw new ArgumentNullException(nameof(painter));
        Features = features ?? throw new ArgumentNullException(nameof(features));
        Options = options ?? new PaintSegOptions();
        Options.Validate();
    }

    /// <summary>
    /// Segments the object <paramref name="prompt"/> points at in <paramref name="image"/> [3, H, W] (in [-1, 1]) with
    /// <see cref="PaintSegOptions.Steps"/> AMCP steps. Deterministic for a seed.
    /// </summary>
    public PaintSegResult Segment(Tensor image, Prompt prompt, ulong seed = 0)
    {
        Check.Shape(image, nameof(image), 3, -1, -1);
        Check.Finite(image, nameof(image));
        ArgumentNullException.ThrowIfNull(prompt);
        int h = (int)image.shape[1], w = (int)image.shape[2];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var initial = PromptMask.Initial(prompt, h, w).to(image.device);
        var context = new StepContext(image, Painter, Features, Options, prompt.Kind, PromptMask.PriorPoints(prompt, h, w), seed);
        var steps = new List<PaintSegStep>();
        var mask = initial;
        for (int t = 0; t < Options.Steps; t++)
        {
            var step = Options.KindAt(t) == StepKind.Inpaint ? IStep.Run(context, mask, t) : OStep.Run(context, mask, t);
            steps.Add(step);
            mask = step.MaskAfter;
        }
        var final = mask.clone();
        foreach (var s in steps) s.MoveToOuterDisposeScope();
        return new PaintSegResult(initial.MoveToOuterDisposeScope(), steps, final.MoveToOuterDisposeScope());
    }
}
