using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Attention;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.Features;
using GenSeg.Methods.Shared;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.G4Seg;

/// <summary>
/// G4Seg's stages as separate calls (each can be run and inspected on its own in a notebook):
/// <see cref="NoiseAt(DDIMScheduler, Tensor, long, IReadOnlyList{ulong})"/> (x_t), <see cref="Invert"/> (the inversion alternative), <see cref="BuildInjection(UNet2DConditionModel, Tensor, IReadOnlyList{int[]}, long, long, long, long, InjectionOptions)"/> (EMI,
/// Eq. 3-5), <see cref="PredictX0"/> (Eq. 2), <see cref="Decode"/>, <see cref="ExtractFeatures"/>,
/// <see cref="DecodeWindowed"/> (the decode window, <see cref="DecodeWindowOf"/>), <see cref="Correspond"/> (Eq. 8), <see cref="ConfusionAreaOf"/> (Sec. 3.3), <see cref="Mix"/> (Eq. 9),
/// <see cref="Combine"/> (multi-class normalisation and argmax), and for the composed injection
/// (<see cref="G4SegOptions.Compose"/>) <see cref="ComposeMasks"/>, <see cref="UnionPerPass"/> and <see cref="RestrictMatches"/>.
/// <see cref="G4SegRefiner"/> chains them.
/// </summary>
public static class G4SegStages
{
    /// <summary>
    /// x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps for latents [B, C, h, w], with one noise draw per item from its own
    /// seed (so an item's noise does not depend on the batch it runs in). Returns x_t and the noise.
    /// </summary>
    public static (Tensor Noisy, Tensor Noise) NoiseAt(DDIMScheduler scheduler, Tensor latents, long timestep, IReadOnlyList<ulong> seeds)
    {
        Check.Rank(latents, nameof(latents), 4, "[B, C, h, w]");
        if (seeds.Count != latents.shape[0]) throw new ArgumentException($"seeds: {seeds.Count} seeds for a batch of {latents.shape[0]} latents", nameof(seeds));
        if (timestep < 0 || timestep >= scheduler.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"t_s must lie in [0, {scheduler.NumTrainTimesteps - 1}]");
        using var scope = NewDisposeScope();
        var shape = latents.shape[1..];
        var noise = stack(seeds.Select(s =>
        {
            using var g = new Generator(s);
            return randn(shape, dtype: ScalarType.Float32, generator: g);
        }).ToArray()).to(latents.device).to_type(latents.dtype);
        var noisy = scheduler.AddNoise(latents, noise, timestep);
        return (noisy.MoveToOuterDisposeScope(), noise.MoveToOuterDisposeScope());
    }

    /// <summary>x_t of one latent [1, C, h, w] (or a batch) with a single seed; see the list overload.</summary>
    public static (Tensor Noisy, Tensor Noise) NoiseAt(DDIMScheduler scheduler, Tensor latents, long timestep, ulong seed) =>
        NoiseAt(scheduler, latents, timestep, Enumerable.Range(0, (int)latents.shape[0]).Select(i => Pcg32.Derive(seed, (ulong)i)).ToArray());

    /// <summary>
    /// Inversion of clean latents [B, C, h, w] under <paramref name="context"/> [B, L, D] up to the last timestep
    /// &lt;= <paramref name="timestep"/> of a <paramref name="steps"/>-step schedule, by <paramref name="scheduler"/>
    /// (default the pipeline's DDIM; see <see cref="StableDiffusionPipeline.SchedulerOf"/>). Returns that latent and its timestep.
    /// </summary>
    public static (Tensor Noisy, long Timestep) Invert(StableDiffusionPipeline pipeline, Tensor latents, Tensor context, long timestep, int steps,
        IScheduler? scheduler = null)
    {
        using var scope = NewDisposeScope();
        var inv = (scheduler ?? pipeline.Scheduler).Invert((x, t) => pipeline.PredictModelOutput(x, t, context), latents, steps, timestep);
        if (inv.Timesteps.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"inversion: a {steps}-step schedule reaches no timestep <= {timestep}");
        var last = inv.Last.MoveToOuterDisposeScope();
        foreach (var l in inv.Latents.Take(inv.Latents.Count - 1)) l.Dispose();
        return (last, inv.Timesteps[^1]);
    }

    /// <summary>Positions of <paramref name="className"/>'s tokens in <paramref name="prompt"/>; see <see cref="ClassMaps.ClassTokens"/>.</summary>
    public static int[] ClassTokens(ClipTokenizer tokenizer, string prompt, string className) => ClassMaps.ClassTokens(tokenizer, prompt, className);

    /// <summary>
    /// Explicit mask injection (Eq. 3-5) for the UNet's attention: from binary coarse masks <paramref name="masks"/>
    /// [B, H, W] (any resolution; values &gt; 0.5 are foreground) and each item's class token positions, the cross map
    /// (1 where the column is a class token and the row pixel is foreground) and the self map (1 where both pixels are
    /// foreground), at each attention resolution, applied as a/sqrt(d) * A on the scaled logits (Additive) or as
    /// DenseDiffusion's modulation. Returns null for <see cref="InjectionMode.None"/>. The maps are built now, in the
    /// caller's dispose scope, which must stay open while the UNet runs.
    /// </summary>
    /// <param name="unet">The UNet (its attention sites give the resolutions and head sizes).</param>
    /// <param name="masks">[B, H, W] binary coarse masks.</param>
    /// <param name="tokenPositions">Per item, the class's token positions in its prompt.</param>
    /// <param name="tokens">Prompt length (the text context's L).</param>
    /// <param name="latentHeight">Latent height h.</param>
    /// <param name="latentWidth">Latent width w.</param>
    /// <param name="timestep">The UNet's timestep (for DenseDiffusion's time factor).</param>
    /// <param name="options">The injection settings.</param>
    public static AttentionControl? BuildInjection(UNet2DConditionModel unet, Tensor masks, IReadOnlyList<int[]> tokenPositions, long tokens,
        long latentHeight, long latentWidth, long timestep, InjectionOptions options)
    {
        Check.Rank(masks, nameof(masks), 3, "[B, H, W]");
        return BuildInjection(unet, masks.unsqueeze(1), MaskInjection.OneSegment(tokenPositions), tokens, latentHeight, latentWidth, timestep, options);
    }

    /// <summary>
    /// The composed injection (<see cref="G4SegOptions.Compose"/>): every class of an item injected at once. From masks
    /// [B, R, H, W] (segment r of item b: one class's binary coarse mask, values &gt; 0.5 foreground; an all-zero mask
    /// with an empty token list pads an item with fewer classes) and, per item and segment, that class's token positions
    /// in the item's prompt: the cross map A = sum_r m_r c_r^T (each class's mask on its own token columns, Eq. 3) and
    /// the self map A = sum_r m_r m_r^T (pixel pairs within one class segment, Eq. 4), applied as in the single-class
    /// overload, which is this with R = 1.
    /// </summary>
    /// <param name="unet">The UNet (its attention sites give the resolutions and head sizes).</param>
    /// <param name="masks">[B, R, H, W] binary coarse masks, one per class of the item.</param>
    /// <param name="segmentTokens">Per item, per segment, the class's token positions in the item's prompt.</param>
    /// <param name="tokens">Prompt length (the text context's L).</param>
    /// <param name="latentHeight">Latent height h.</param>
    /// <param name="latentWidth">Latent width w.</param>
    /// <param name="timestep">The UNet's timestep (for DenseDiffusion's time factor).</param>
    /// <param name="options">The injection settings.</param>
    public static AttentionControl? BuildInjection(UNet2DConditionModel unet, Tensor masks, IReadOnlyList<IReadOnlyList<int[]>> segmentTokens, long tokens,
        long latentHeight, long latentWidth, long timestep, InjectionOptions options)
    {
        Check.Rank(masks, nameof(masks), 4, "[B, R, H, W] (one mask per class of each item)");
        if (segmentTokens.Count != masks.shape[0])
            throw new ArgumentException($"segmentTokens: {segmentTokens.Count} lists for the {masks.shape[0]} items of masks {Check.Format(masks.shape)}", nameof(segmentTokens));
        options.Validate();
        if (options.Mode == InjectionMode.None) return null;
        var sites = unet.AttentionSites(latentHeight, latentWidth).Where(options.Applies).ToList();
        if (sites.Count == 0) return null;
        // The maps are built on the UNet's device (the coarse masks may live elsewhere) and kept factored: each layer
        // forms only the query rows of one slice, in its own dtype.
        masks = masks.to(unet.parameters().First().device);
        var selfMaps = new Dictionary<(long, long), LowRankBias>();
        var crossMaps = new Dictionary<(long, long), LowRankBias>();
        var sizeRegs = new Dictionary<(long, long), Tensor>();
        foreach (var s in sites)
        {
            var key = (s.Height, s.Width);
            if (s.Kind == AttentionKind.Self && !selfMaps.ContainsKey(key)) selfMaps[key] = MaskInjection.SelfFactors(masks, s.Height, s.Width);
            if (s.Kind == AttentionKind.Cross && !crossMaps.ContainsKey(key)) crossMaps[key] = MaskInjection.CrossFactors(masks, segmentTokens, tokens, s.Height, s.Width);
            if (options.Mode == InjectionMode.DenseDiffusion && !sizeRegs.ContainsKey(key))
                sizeRegs[key] = MaskInjection.SizeRegulariser(masks, s.Height, s.Width, options.DenseDiffusionSizeReg);
        }
        LowRankBias Map(AttentionSite s) => s.Kind == AttentionKind.Self ? selfMaps[(s.Height, s.Width)] : crossMaps[(s.Height, s.Width)];
        if (options.Mode == InjectionMode.Additive)
        {
            var biases = new Dictionary<(AttentionKind, long, long, int), LowRankBias>();
            foreach (var s in sites)
            {
                var key = (s.Kind, s.Height, s.Width, s.HeadDim);
                if (!biases.ContainsKey(key)) biases[key] = MaskInjection.Scaled(Map(s), options.Weight, s.HeadDim); // Eq. 5
            }
            AttentionBias? Bias(AttentionSite s) => options.Applies(s) ? biases[(s.Kind, s.Height, s.Width, s.HeadDim)] : null;
            return new AttentionControl { Sites = options.Applies, SelfBias = Bias, CrossBias = Bias };
        }
        double treg = options.DenseDiffusionTimeFactor ? MaskInjection.DenseDiffusionTimeFactor(timestep) : 1.0;
        return new AttentionControl
        {
            Sites = options.Applies,
            ModifyLogits = (s, logits, start) =>
            {
                long rows = logits.shape[2];
                using var scope = NewDisposeScope();
                var map = Map(s).Rows(start, start + rows, logits.dtype, logits.device);
                var sizeReg = sizeRegs[(s.Height, s.Width)].narrow(2, start, rows).to(logits.dtype, logits.device);
                return MaskInjection.DenseDiffusionModulate(logits, map, sizeReg,
                    s.Kind == AttentionKind.Self ? options.DenseDiffusionSelfWeight : options.DenseDiffusionCrossWeight, treg).MoveToOuterDisposeScope();
            },
        };
    }

    /// <summary>
    /// The masks of a composed injection: image-class masks [N, H, W] gathered per pass, [P, R, H, W], where
    /// <paramref name="itemPass"/>[n] is the pass of image-class n (passes numbered 0..P-1, each class of a pass in
    /// item order: segment r is its r-th class) and R the most classes of a pass; a pass with fewer has all-zero
    /// segments after its own. With one class per pass this is the masks with a segment axis.
    /// </summary>
    public static Tensor ComposeMasks(Tensor masks, IReadOnlyList<int> itemPass, int passes)
    {
        Check.Rank(masks, nameof(masks), 3, "[N, H, W] (one mask per image-class)");
        var slots = Slots(itemPass, passes, masks.shape[0], nameof(masks));
        long r = Math.Max(1, slots.Max() + 1), h = masks.shape[1], w = masks.shape[2];
        using var scope = NewDisposeScope();
        var rows = tensor(itemPass.Select((p, n) => p * r + slots[n]).ToArray(), device: masks.device);
        var composed = zeros(new[] { passes * r, h, w }, masks.dtype, masks.device).index_copy_(0, rows, masks);
        return composed.reshape(passes, r, h, w).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Each pass's query pixels for one correspondence (Eq. 8): the union of its image-classes' confusion areas
    /// <paramref name="areas"/> [N, H, W], as [P, H, W] bool (<paramref name="itemPass"/> as in <see cref="ComposeMasks"/>).
    /// </summary>
    public static Tensor UnionPerPass(Tensor areas, IReadOnlyList<int> itemPass, int passes)
    {
        Check.Rank(areas, nameof(areas), 3, "[N, H, W] (one confusion area per image-class)");
        Slots(itemPass, passes, areas.shape[0], nameof(areas));
        using var scope = NewDisposeScope();
        var rows = tensor(itemPass.Select(p => (long)p).ToArray(), device: areas.device);
        var counts = zeros(new[] { passes, areas.shape[1], areas.shape[2] }, ScalarType.Float32, areas.device)
            .index_add_(0, rows, areas.to_type(ScalarType.Float32), 1);
        return (counts > 0).MoveToOuterDisposeScope();
    }

    /// <summary>Each image-class's segment in its pass; checks that every pass 0..P-1 has one.</summary>
    static long[] Slots(IReadOnlyList<int> itemPass, int passes, long items, string name)
    {
        if (itemPass.Count != items)
            throw new ArgumentException($"itemPass: {itemPass.Count} passes given for the {items} image-classes of {name}", nameof(itemPass));
        var used = new long[passes];
        var slots = new long[items];
        for (int n = 0; n < items; n++)
        {
            int p = itemPass[n];
            if (p < 0 || p >= passes) throw new ArgumentOutOfRangeException(nameof(itemPass), p, $"pass {p} of image-class {n}: expected 0..{passes - 1}");
            slots[n] = used[p]++;
        }
        if (used.Any(u => u == 0)) throw new ArgumentException($"itemPass: pass {Array.IndexOf(used, 0L)} has no image-class", nameof(itemPass));
        return slots;
    }

    /// <summary>
    /// x0 predicted in one UNet pass from x_t at timestep <paramref name="timestep"/> (Eq. 2; epsilon or v-prediction as
    /// the scheduler says), with the injection <paramref name="control"/>: [B, C, h, w] latents.
    /// </summary>
    public static Tensor PredictX0(StableDiffusionPipeline pipeline, Tensor noisy, long timestep, Tensor context, AttentionControl? control) =>
        pipeline.PredictX0(noisy, timestep, context, control);

    /// <summary>Decodes x0 latents to images [B, 3, H, W] in [-1, 1] (the generated image x~).</summary>
    public static Tensor Decode(StableDiffusionPipeline pipeline, Tensor x0) => pipeline.Decode(x0);

    /// <summary>
    /// The correspondence search's half-width in pixels for images <paramref name="width"/> pixels wide
    /// (<see cref="G4SegOptions.CorrespondenceWindowAt512"/> scaled from 512 px, at least 1), or null for the whole image.
    /// </summary>
    public static int? CorrespondenceWindow(G4SegOptions options, long width) =>
        options.CorrespondenceWindowAt512 is { } win ? Math.Max(1, (int)Math.Round(win * width / 512.0)) : null;

    /// <summary>
    /// How far from its query pixels the correspondence (Eq. 8) reads the generated image, in pixels, or null when it
    /// may read any generated pixel: generated-to-original matching reads the query pixels' own features (the
    /// extractor's reach); original-to-generated matching reads every candidate, so the search window widens it, and
    /// without one every pixel is a candidate.
    /// </summary>
    public static int? GeneratedReach(G4SegOptions options, IFeatureExtractor features, long width)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(features);
        if (features.Reach is not int reach) return null;
        if (options.Direction == CorrespondenceDirection.GeneratedToOriginal) return reach;
        return CorrespondenceWindow(options, width) is int window ? window + reach : null;
    }

    /// <summary>
    /// The decode window (<see cref="G4SegOptions.DecodeWindow"/>) of each pass: the latent cells over the generated
    /// pixels the correspondence reads around the pass's query pixels <paramref name="queries"/> [P, H, W]
    /// (<paramref name="reach"/> from <see cref="GeneratedReach"/>; null: the whole latent) plus
    /// <paramref name="margin"/> cells; see <see cref="DecodeWindow.Of"/>.
    /// </summary>
    public static IReadOnlyList<LatentWindow> DecodeWindowOf(Tensor queries, int? reach, int margin, int factor, long latentHeight, long latentWidth)
    {
        Check.Rank(queries, nameof(queries), 3, "[P, H, W]");
        var full = new LatentWindow(0, 0, latentHeight, latentWidth);
        return Enumerable.Range(0, (int)queries.shape[0])
            .Select(i => reach is int r ? DecodeWindow.Of(queries[i], r, margin, factor, latentHeight, latentWidth) : full).ToArray();
    }

    /// <summary>Decodes each x0 latent [P, C, h, w] only inside its window, 0 elsewhere; see <see cref="DecodeWindow.Decode"/>.</summary>
    public static Tensor DecodeWindowed(StableDiffusionPipeline pipeline, Tensor x0, IReadOnlyList<LatentWindow> windows) => DecodeWindow.Decode(pipeline, x0, windows);

    /// <summary>
    /// Per-pixel features of images [B, 3, H, W]: the extractor's maps upsampled bilinearly to H x W and L2-normalised
    /// per pixel, [B, C, H, W].
    /// </summary>
    public static Tensor ExtractFeatures(IFeatureExtractor extractor, Tensor images)
    {
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        using var scope = NewDisposeScope();
        var f = extractor.Extract(images);
        return FeatureMaps.ToPixels(f, images.shape[2], images.shape[3]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Eq. 8: for each generated pixel j (in <paramref name="area"/> when given), d_j = argmax_i cos(E(x~)_j, E(x)_i) with
    /// its similarity; <paramref name="window"/> (pixels) restricts the search to a square around j.
    /// </summary>
    public static CorrespondenceResult Correspond(Tensor generatedFeatures, Tensor originalFeatures, Tensor? area = null, int? window = null) =>
        Correspondence.Match(generatedFeatures, originalFeatures, area, window);

    /// <summary>A correspondence kept only inside <paramref name="area"/> [B, H, W] (d_j = j and NaN similarity elsewhere):
    /// each image-class's matches from its composed pass's one correspondence; see <see cref="Correspondence.Restrict"/>.</summary>
    public static CorrespondenceResult RestrictMatches(CorrespondenceResult match, Tensor area) => Correspondence.Restrict(match, area);

    /// <summary>The confusion area [B, H, W] (bool) of foreground probabilities S [B, H, W] (Sec. 3.3).</summary>
    public static Tensor ConfusionAreaOf(Tensor probabilities, ConfusionAreaOptions options) => ConfusionArea.Of(probabilities, options);

    /// <summary>Eq. 9 inside the confusion area: S*[j] = b S[j] + (1 - b) S[d_j].</summary>
    public static Tensor Mix(Tensor probabilities, Tensor index, Tensor area, double b) => Mixing.Mix(probabilities, index, area, b);

    /// <summary>Multi-class combination and argmax of class maps [B, K, H, W]; see <see cref="ClassMaps.Combine"/>.</summary>
    public static CombinedLabels Combine(Tensor probabilities, Tensor? present = null) => ClassMaps.Combine(probabilities, present);
}
