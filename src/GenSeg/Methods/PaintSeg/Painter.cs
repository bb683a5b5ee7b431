using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Imaging;
using GenSeg.Runtime;
using GenSeg.Methods.Inputs;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.Methods.PaintSeg;

/// <summary>The N paints of one step and the region that was actually painted.</summary>
/// <param name="Region">[H, W] float32 0/1: the painted pixels (the rest of each paint equals the image).</param>
/// <param name="Paints">[N, 3, H, W] in [-1, 1].</param>
public sealed record PaintBatch(Tensor Region, Tensor Paints) : IDisposable
{
    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Region.Dispose();
        Paints.Dispose();
    }
}

/// <summary>One painting job: <paramref name="Count"/> versions of <paramref name="Image"/> [3, H, W] painted where
/// <paramref name="Region"/> [H, W] is 1, for a step of kind <paramref name="Kind"/>, from <paramref name="Seed"/>.</summary>
public sealed record PaintRequest(Tensor Image, Tensor Region, StepKind Kind, int Count, ulong Seed);

/// <summary>Paints a region of an image N times (PaintSeg's painter; a diffusion inpainter or a test oracle).</summary>
public interface IPainter
{
    /// <summary>A short name for tables.</summary>
    string Name { get; }

    /// <summary>
    /// Paints <paramref name="count"/> versions of <paramref name="image"/> [3, H, W] in [-1, 1] where
    /// <paramref name="region"/> [H, W] is 1 and keeps the other pixels exactly; <paramref name="kind"/> says whether the
    /// object (I-step) or the background (O-step) is being painted. Deterministic for a seed.
    /// </summary>
    PaintBatch Paint(Tensor image, Tensor region, StepKind kind, int count, ulong seed);

    /// <summary>
    /// Paints several jobs (e.g. the same step of several objects), each as <see cref="Paint"/> would for its seed. A
    /// painter whose model gains from larger batches paints them together (results equal up to float rounding); this
    /// default paints them one after another.
    /// </summary>
    IReadOnlyList<PaintBatch> PaintAll(IReadOnlyList<PaintRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return requests.Select(r => Paint(r.Image, r.Region, r.Kind, r.Count, r.Seed)).ToArray();
    }
}

/// <summary>
/// PaintSeg's painter over an inpainting diffusion model: N paints in one batch with the sampler
/// <see cref="PaintSegOptions.Scheduler"/> names (DDIM by default), an (empty by default) text prompt and optional
/// guidance. <see cref="Region"/> says what each step masks, in the paper's form or the authors'.
/// </summary>
public sealed class Painter : IPainter
{
    readonly StableDiffusionPipeline _pipeline;
    readonly PaintSegOptions _options;
    readonly IScheduler _scheduler;

    /// <summary>A painter with the inpainting UNet of <paramref name="pipeline"/> (it must have one).</summary>
    public Painter(StableDiffusionPipeline pipeline, PaintSegOptions? options = null)
    {
        _pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        _options = options ?? new PaintSegOptions();
        _options.Validate();
        if (pipeline.InpaintUnet is null)
            throw new ArgumentException($"{pipeline.Folder}: no inpainting UNet ({StableDiffusionPipeline.InpaintFolder}/ or a 9-channel unet); PaintSeg paints with one", nameof(pipeline));
        _scheduler = pipeline.InpaintSchedulerOf(_options.Scheduler);
        _workers = SideBySide.DefaultWorkers(pipeline.Device);
    }

    /// <summary>
    /// Groups of paints painted side by side, each on a thread of <see cref="TorchWorkerPool.Shared"/> with one torch
    /// thread; default: the processor count on the CPU, 1 on a GPU. The starting noise of all N paints is drawn first,
    /// as one batch would draw it, so the paints are those of one batch up to float rounding. Side by side is faster than
    /// one batch on every thread (measurements: docs/performance.md, "PaintSeg paints side by side").
    /// </summary>
    public int Workers
    {
        get => _workers;
        init => _workers = SideBySide.CheckWorkers(value);
    }

    readonly int _workers;

    /// <inheritdoc />
    public string Name => $"inpaint({Path.GetFileName(Path.TrimEndingDirectorySeparator(_pipeline.Folder))}, {_options.PaintIterations} it"
        + (_scheduler.Kind == Schedulers.Ddim ? ")" : $" {_scheduler.Kind})");

    /// <summary>
    /// The region a step paints, [H, W] float32 0/1. Paper: the mask (I-step) or the background (O-step). Authors' code:
    /// the mask dilated by <see cref="PaintSegOptions.InpaintDilationAt512"/> 3x3-cross iterations (I-step); a ring of
    /// background of radius <see cref="PaintSegOptions.OutpaintRingAt512"/> around the mask, or the whole background for
    /// point and scribble prompts (O-step).
    /// </summary>
    public static Tensor Region(Tensor mask, StepKind kind, PaintSegOptions options, PromptKind prompt)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        ArgumentNullException.ThrowIfNull(options);
        using var scope = NewDisposeScope();
        var m = Masks.Binarize(mask);
        int side = (int)m.shape[1];
        Tensor region;
        if (options.Painter == PainterForm.Paper)
            region = kind == StepKind.Inpaint ? m : MaskMath.Not(m);
        else if (kind == StepKind.Inpaint)
            region = options.InpaintDilationAt512 > 0 ? Morphology.Dilate(m, Kernel.Cross(3), PaintSegOptions.Scaled(options.InpaintDilationAt512, side)) : m;
        else if (prompt is PromptKind.Point or PromptKind.Scribble)
            region = MaskMath.Not(m);
        else
        {
            int r = PaintSegOptions.Scaled(options.OutpaintRingAt512, side);
            region = MaskMath.Not(m).mul_(Morphology.Dilate(m, Kernel.Square(2 * r + 1)));
        }
        return region.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>A region [H, W] rounded up to whole cells of <paramref name="factor"/> x <paramref name="factor"/> pixels.</summary>
    public static Tensor AlignUp(Tensor region, int factor)
    {
        Check.Rank(region, nameof(region), 2, "[H, W]");
        if (factor < 1) throw new ArgumentOutOfRangeException(nameof(factor), factor, "factor: expected >= 1");
        long h = region.shape[0], w = region.shape[1];
        if (h % factor != 0 || w % factor != 0)
            throw new ArgumentException($"region {h}x{w}: the sides must be multiples of the latent factor {factor}", nameof(region));
        using var scope = NewDisposeScope();
        var x = Masks.Binarize(region).unsqueeze(0).unsqueeze(0);
        var cells = F.max_pool2d(x, new long[] { factor, factor }, new long[] { factor, factor });
        var up = cells.repeat_interleave(factor, 2).repeat_interleave(factor, 3);
        return up[0, 0].contiguous().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public PaintBatch Paint(Tensor image, Tensor region, StepKind kind, int count, ulong seed) =>
        PaintAll(new[] { new PaintRequest(image, region, kind, count, seed) })[0];

    /// <summary>
    /// Paints every request's N paints in one batch per image size (cut into <see cref="Workers"/> groups painted side by
    /// side): each request's starting noise is drawn from its own seed first, as <see cref="Paint"/> draws it, so its paints
    /// equal those of painting it alone up to float rounding, and the model's batch efficiency is shared across requests.
    /// </summary>
    public IReadOnlyList<PaintBatch> PaintAll(IReadOnlyList<PaintRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        for (int i = 0; i < requests.Count; i++)
        {
            var q = requests[i] ?? throw new ArgumentException($"requests[{i}]: null", nameof(requests));
            Check.Shape(q.Image, $"requests[{i}].image", 3, -1, -1);
            Check.Shape(q.Region, $"requests[{i}].region", q.Image.shape[1], q.Image.shape[2]);
            if (q.Count < 1) throw new ArgumentOutOfRangeException(nameof(requests), q.Count, $"requests[{i}].count: expected at least one paint");
        }
        var results = new PaintBatch[requests.Count];
        // one batch per image size: the jobs of a ToyWorld or resized dataset run are one batch
        foreach (var group in Enumerable.Range(0, requests.Count).GroupBy(i => (requests[i].Image.shape[1], requests[i].Image.shape[2])))
        {
            var members = group.ToArray();
            var painted = PaintSameSize(members.Select(i => requests[i]).ToArray());
            for (int k = 0; k < members.Length; k++) results[members[k]] = painted[k];
        }
        return results;
    }

    PaintBatch[] PaintSameSize(IReadOnlyList<PaintRequest> requests)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long h = requests[0].Image.shape[1], w = requests[0].Image.shape[2];
        var regions = requests.Select(q => _options.AlignToLatent ? AlignUp(q.Region, _pipeline.Vae.DownsampleFactor) : Masks.Binarize(q.Region)).ToArray();
        var images = cat(requests.Select(q => q.Image.unsqueeze(0).expand(q.Count, 3, h, w)).ToArray(), 0).contiguous();
        var masks = cat(requests.Select((q, i) => regions[i].to(q.Image.device).unsqueeze(0).unsqueeze(0).expand(q.Count, 1, h, w)).ToArray(), 0).contiguous();
        // each request's noise from its own seed, as one batch of its N paints would draw it
        var noise = cat(requests.Select(q =>
        {
            using var generator = new Generator(q.Seed);
            return randn(_pipeline.InpaintNoiseShape(q.Count, h, w), generator: generator);
        }).ToArray(), 0);
        int total = (int)images.shape[0];
        var prompts = Enumerable.Repeat(_options.PaintPrompt, total).ToArray();
        // With an empty prompt the conditional and unconditional predictions coincide: guidance changes nothing.
        double guidance = string.IsNullOrEmpty(_options.PaintPrompt) ? 1.0 : _options.Guidance;
        var groups = SideBySide.EqualGroups(total, Workers);
        Tensor paints;
        if (groups.Count == 1)
        {
            paints = _pipeline.Inpaint(images, masks, prompts, _options.PaintIterations, guidance, latents: noise, scheduler: _scheduler);
        }
        else
        {
            var parts = SideBySide.Run<Tensor>(groups, (start, end) =>
            {
                var (gi, gm, gn) = (images[start..end], masks[start..end], noise[start..end]); // sliced in this call's scope
                var gp = prompts[start..end];
                return () => _pipeline.Inpaint(gi, gm, gp, _options.PaintIterations, guidance, latents: gn, scheduler: _scheduler);
            });
            paints = cat(parts.ToArray(), 0);
            foreach (var part in parts) part.Dispose();
        }
        var result = new PaintBatch[requests.Count];
        int offset = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            var q = requests[i];
            var own = paints[offset..(offset + q.Count)].to(q.Image.device).contiguous();
            offset += q.Count;
            result[i] = new PaintBatch(regions[i].MoveToOuterDisposeScope(), own.MoveToOuterDisposeScope());
        }
        return result;
    }
}
