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
    public PaintSegResult Segment(Tensor image, Prompt prompt, ulong seed = 0) => SegmentAll(new[] { new PaintSegInput(image, prompt, seed) })[0];

    /// <summary>
    /// Segments several objects in lockstep: step t of every object is painted in one <see cref="IPainter.PaintAll"/>
    /// call, so a painter that gains from larger batches shares them across objects. Each object's result equals
    /// <see cref="Segment"/>'s for its seed (up to the painter's float rounding).
    /// </summary>
    public IReadOnlyList<PaintSegResult> SegmentAll(IReadOnlyList<PaintSegInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var contexts = new StepContext[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            var (image, prompt, seed) = inputs[i] ?? throw new ArgumentException($"inputs[{i}]: null", nameof(inputs));
            Check.Shape(image, $"inputs[{i}].image", 3, -1, -1);
            Check.Finite(image, $"inputs[{i}].image");
            ArgumentNullException.ThrowIfNull(prompt, $"inputs[{i}].prompt");
            int h = (int)image.shape[1], w = (int)image.shape[2];
            contexts[i] = new StepContext(image, Painter, Features, Options, prompt.Kind, PromptMask.PriorPoints(prompt, h, w), seed);
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var initial = inputs.Select(x => PromptMask.Initial(x.Prompt, (int)x.Image.shape[1], (int)x.Image.shape[2]).to(x.Image.device)).ToArray();
        var masks = initial.ToArray();
        var steps = inputs.Select(_ => new List<PaintSegStep>()).ToArray();
        for (int t = 0; t < Options.Steps; t++)
        {
            var kind = Options.KindAt(t);
            var prepared = contexts.Select((c, i) => AmcpStep.Prepare(c, masks[i], t, kind)).ToArray();
            var paints = Painter.PaintAll(prepared.Select((p, i) => p.Request(contexts[i])).ToArray());
            if (paints.Count != inputs.Count) throw new InvalidOperationException($"painter {Painter.Name}: {paints.Count} paint batches for {inputs.Count} requests");
            for (int i = 0; i < inputs.Count; i++)
            {
                var step = AmcpStep.Finish(contexts[i], prepared[i], paints[i]);
                steps[i].Add(step);
                masks[i] = step.MaskAfter;
            }
        }
        var results = new PaintSegResult[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            var final = masks[i].clone();
            foreach (var s in steps[i]) s.MoveToOuterDisposeScope();
            results[i] = new PaintSegResult(initial[i].MoveToOuterDisposeScope(), steps[i], final.MoveToOuterDisposeScope());
        }
        return results;
    }
}

/// <summary>One object to segment: the image [3, H, W] in [-1, 1], the prompt and the seed.</summary>
public sealed record PaintSegInput(Tensor Image, Prompt Prompt, ulong Seed = 0);
