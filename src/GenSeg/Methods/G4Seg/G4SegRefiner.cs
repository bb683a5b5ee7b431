using System.Diagnostics;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Features;
using GenSeg.Methods.Shared;
using GenSeg.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.G4Seg;

/// <summary>One refined image-class pair: image <paramref name="Image"/> of the batch, class <paramref name="Class"/> of the class list.</summary>
public readonly record struct G4SegItem(int Image, int Class);

/// <summary>
/// The refined probabilities and every intermediate of <see cref="G4SegRefiner.Refine"/>. Per-item tensors have one row
/// per entry of <see cref="Items"/> (N = the present image-class pairs), in that order. Disposing disposes every tensor.
/// </summary>
public sealed class G4SegResult : IDisposable
{
    internal G4SegResult(Tensor refined, CombinedLabels combined, IReadOnlyList<G4SegItem> items, long timestep, Tensor? noisy, Tensor? x0, Tensor? generated,
        Tensor? originalFeatures, Tensor? generatedFeatures, Tensor? index, Tensor? similarity, Tensor? confusion, IReadOnlyDictionary<string, double> seconds)
    {
        Refined = refined;
        Combined = combined;
        Items = items;
        Timestep = timestep;
        Noisy = noisy;
        X0 = x0;
        Generated = generated;
        OriginalFeatures = originalFeatures;
        GeneratedFeatures = generatedFeatures;
        Index = index;
        Similarity = similarity;
        Confusion = confusion;
        Seconds = seconds;
    }

    /// <summary>S*: refined foreground probabilities [B, K, H, W] (classes not refined keep their input map).</summary>
    public Tensor Refined { get; }

    /// <summary>The multi-class combination of <see cref="Refined"/>: probabilities [B, 1 + K, H, W] and labels [B, H, W].</summary>
    public CombinedLabels Combined { get; }

    /// <summary>The refined labels [B, H, W] (0 = background, k + 1 = class k).</summary>
    public Tensor Labels => Combined.Labels;

    /// <summary>The image-class pairs that went through the UNet, in row order of the per-item tensors.</summary>
    public IReadOnlyList<G4SegItem> Items { get; }

    /// <summary>The timestep of x_t (t_s, or the last inverted timestep &lt;= t_s with inversion).</summary>
    public long Timestep { get; }

    /// <summary>x_t [N, C, h, w] (null when no item was refined).</summary>
    public Tensor? Noisy { get; }

    /// <summary>The predicted clean latent [N, C, h, w] (Eq. 2).</summary>
    public Tensor? X0 { get; }

    /// <summary>The generated image x~ [N, 3, H, W] in [-1, 1]; with <see cref="G4SegOptions.DecodeWindow"/> 0 outside each pass's decode window.</summary>
    public Tensor? Generated { get; }

    /// <summary>E(x): the original images' feature maps [B, C, h', w'] at the extractor's own resolution (null without correspondence).</summary>
    public Tensor? OriginalFeatures { get; }

    /// <summary>E(x~): the generated images' feature maps [N, C, h', w'].</summary>
    public Tensor? GeneratedFeatures { get; }

    /// <summary>d_j: [N, H*W] flat index of the pixel matched to each pixel j (in the original for generated j, or the reverse, per
    /// <see cref="G4SegOptions.Direction"/>; j itself outside the confusion area).</summary>
    public Tensor? Index { get; }

    /// <summary>The cosine similarity of each match [N, H*W] (NaN outside the confusion area).</summary>
    public Tensor? Similarity { get; }

    /// <summary>The confusion area [N, H, W] (bool).</summary>
    public Tensor? Confusion { get; }

    /// <summary>Wall time per stage in seconds: encode, noise, unet, decode, features, confusion, correspondence, mix, combine.</summary>
    public IReadOnlyDictionary<string, double> Seconds { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Refined.Dispose();
        Combined.Dispose();
        foreach (var t in new[] { Noisy, X0, Generated, OriginalFeatures, GeneratedFeatures, Index, Similarity, Confusion }) t?.Dispose();
    }

    /// <summary>Every tensor of the result.</summary>
    internal IEnumerable<Tensor> Tensors() =>
        new[] { Refined, Combined.Probabilities, Combined.Labels, Noisy, X0, Generated, OriginalFeatures, GeneratedFeatures, Index, Similarity, Confusion }
            .Where(t => t is not null).Select(t => t!);
}

/// <summary>
/// G4Seg (Zhang et al. 2025): refines coarse per-class foreground probabilities by one mask-conditioned generation step.
/// For each present class of each image (that class against all others as background): the image's latent is noised to
/// t_s (or DDIM-inverted), x0 is predicted in one UNet pass under "a photo of a {class}" with the class's binary coarse
/// mask injected into the attention (EMI), and decoded to x~; every pixel j of x~ in the confusion area is matched to its
/// most similar original pixel d_j (Eq. 8) and S*[j] = b S[j] + (1 - b) S[d_j] (Eq. 9). All image-class pairs of a call
/// go through the UNet as one batch (in chunks of <see cref="MaxBatch"/>). Finally the classes are combined
/// (<see cref="G4SegStages.Combine"/>). The refiner caches prompt encodings and owns the feature extractor it built.
/// </summary>
public sealed class G4SegRefiner : IDisposable
{
    readonly Dictionary<string, Tensor> prompts = new(StringComparer.Ordinal);
    readonly bool ownsFeatures;
    readonly int workerCount;

    /// <summary>
    /// A refiner over <paramref name="pipeline"/>. <paramref name="features"/> overrides the extractor the options name
    /// (the caller keeps ownership of it); otherwise it is built from <see cref="G4SegOptions.Features"/>.
    /// </summary>
    public G4SegRefiner(StableDiffusionPipeline pipeline, G4SegOptions? options = null, IFeatureExtractor? features = null)
    {
        Pipeline = pipeline ?? throw new ArgumentNullException(nameof(pipeline));
        Options = options ?? new G4SegOptions();
        Options.Validate(pipeline.Scheduler.NumTrainTimesteps);
        ownsFeatures = features is null;
        Features = features ?? CreateFeatures(pipeline, Options);
        workerCount = SideBySide.DefaultWorkers(pipeline.Device);
    }

    /// <summary>The diffusion pipeline.</summary>
    public StableDiffusionPipeline Pipeline { get; }

    /// <summary>The settings.</summary>
    public G4SegOptions Options { get; }

    /// <summary>The correspondence features E.</summary>
    public IFeatureExtractor Features { get; }

    /// <summary>Most image-class pairs per UNet call.</summary>
    public int MaxBatch { get; init; } = 64;

    /// <summary>
    /// Groups of images refined side by side, each on a thread of <see cref="TorchWorkerPool.Shared"/> with one torch
    /// thread; default: the processor count on the CPU, 1 on a GPU. The groups are contiguous runs of images with about equal
    /// numbers of image-classes; the results are the same as one group's up to the float rounding of batch composition.
    /// </summary>
    public int Workers
    {
        get => workerCount;
        init => workerCount = SideBySide.CheckWorkers(value);
    }

    /// <summary>Builds the extractor <paramref name="options"/> names (<see cref="FeatureExtractors.Create"/>, diffusion features seeded from the options' seed).</summary>
    public static IFeatureExtractor CreateFeatures(StableDiffusionPipeline pipeline, G4SegOptions options) =>
        FeatureExtractors.Create((options ?? throw new ArgumentNullException(nameof(options))).Features, pipeline, Pcg32.Derive(options.Seed, 0xD1F7));

    /// <summary>
    /// Refines one image [3, H, W] with its class maps [K, H, W], or a batch [B, 3, H, W] with [B, K, H, W].
    /// </summary>
    /// <param name="images">Images in [-1, 1]: [3, H, W] or [B, 3, H, W].</param>
    /// <param name="probabilities">S: coarse foreground probabilities in [0, 1] per class, [K, H, W] or [B, K, H, W].</param>
    /// <param name="classNames">The K class names (each must occur in the prompt and be known to the text encoder).</param>
    /// <param name="present">[B, K] (or [K]) bool: which classes to refine; default: the classes whose map is not all zero.
    /// An absent class keeps its map and scores 0 in the combination.</param>
    /// <param name="seeds">Per image, the seed of its noise; default derived from <see cref="G4SegOptions.Seed"/> and the image's index.</param>
    public G4SegResult Refine(Tensor images, Tensor probabilities, IReadOnlyList<string> classNames, Tensor? present = null, IReadOnlyList<ulong>? seeds = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(classNames);
        bool single = images.dim() == 3;
        if (single)
        {
            Check.Shape(images, nameof(images), 3, -1, -1);
            Check.Rank(probabilities, nameof(probabilities), 3, "[K, H, W] (with a single image [3, H, W])");
            if (present is not null) Check.Rank(present, nameof(present), 1, "[K]");
            return Refine(images.unsqueeze(0), probabilities.unsqueeze(0), classNames, present?.unsqueeze(0), seeds);
        }
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        Check.Rank(probabilities, nameof(probabilities), 4, "[B, K, H, W]");
        long b = images.shape[0], k = probabilities.shape[1], h = images.shape[2], w = images.shape[3];
        if (probabilities.shape[0] != b)
            throw new ArgumentException($"probabilities {Check.Format(probabilities.shape)}: expected one set of class maps per image of images {Check.Format(images.shape)}", nameof(probabilities));
        Check.SameSpatial(images, nameof(images), probabilities, nameof(probabilities));
        if (classNames.Count != k) throw new ArgumentException($"classNames: {classNames.Count} names for {k} class maps in probabilities {Check.Format(probabilities.shape)}", nameof(classNames));
        if (present is not null) Check.Shape(present, nameof(present), b, k);
        if (seeds is not null && seeds.Count != b) throw new ArgumentException($"seeds: {seeds.Count} seeds for {b} images", nameof(seeds));
        int factor = Pipeline.Vae.DownsampleFactor;
        if (h % factor != 0 || w % factor != 0)
            throw new ArgumentException($"images {Check.Format(images.shape)}: height and width must be multiples of the VAE's factor {factor}", nameof(images));
        Check.Finite(probabilities, nameof(probabilities));
        Check.Finite(images, nameof(images));
        using (var range = NewDisposeScope())
        {
            if (probabilities.numel() > 0 && (probabilities.min().item<float>() < 0 || probabilities.max().item<float>() > 1))
                throw new ArgumentException($"probabilities: expected values in [0, 1], got [{probabilities.min().item<float>()}, {probabilities.max().item<float>()}]", nameof(probabilities));
        }
        // every class name must be usable in a prompt, present or not
        var tokens = classNames.Select(c => G4SegStages.ClassTokens(Pipeline.Tokenizer, Options.PromptFor(c), c)).ToArray();

        using var scope = NewDisposeScope();
        var s = probabilities.to_type(ScalarType.Float32);
        var isPresent = (present is null ? s.amax(new long[] { 2, 3 }) > 0 : present.to_type(ScalarType.Bool)).cpu();
        var presentFlags = isPresent.data<bool>().ToArray();
        var imageSeeds = seeds ?? Enumerable.Range(0, (int)b).Select(i => Pcg32.Derive(Options.Seed, (ulong)i)).ToArray();
        // the UNet passes with their prompts' encodings, made here (the cache is not shared with the workers)
        var passes = Passes(presentFlags, (int)b, classNames, tokens);

        var groups = ImageGroups(presentFlags, (int)b, (int)k, Workers);
        if (groups.Count == 1) return Keep(RefineImages(images, s, isPresent, passes, imageSeeds));
        var parts = SideBySide.Run<G4SegResult>(groups, (start, end) =>
        {
            // sliced here, in this call's dispose scope (a worker's tensors are its own)
            var (gi, gs, gp) = (images[start..end], s[start..end], isPresent[start..end]);
            var groupPasses = passes.Where(p => p.Image >= start && p.Image < end).Select(p => p with { Image = p.Image - start }).ToArray();
            var groupSeeds = imageSeeds.Skip(start).Take(end - start).ToArray();
            return () => RefineImages(gi, gs, gp, groupPasses, groupSeeds);
        });
        try
        {
            return Keep(Merge(parts, groups));
        }
        finally
        {
            foreach (var part in parts) part.Dispose();
        }

        // the result outlives this call's dispose scope
        G4SegResult Keep(G4SegResult result)
        {
            scope.MoveToOuter(result.Tensors());
            return result;
        }
    }

    /// <summary>
    /// One UNet item: image <paramref name="Image"/> under the prompt encoding <paramref name="Context"/> [1, L, D]
    /// with the masks of <paramref name="Classes"/> injected, class <c>Classes[r]</c> on the token positions
    /// <c>Tokens[r]</c> of the prompt.
    /// </summary>
    sealed record Pass(int Image, int[] Classes, Tensor Context, int[][] Tokens);

    /// <summary>
    /// The UNet passes of a batch in image order: one per present image-class (its class's prompt and tokens), or with
    /// <see cref="G4SegOptions.Compose"/> one per image with any present class (the prompt naming them all).
    /// </summary>
    IReadOnlyList<Pass> Passes(IReadOnlyList<bool> presentFlags, int images, IReadOnlyList<string> classNames, int[][] classTokens)
    {
        int k = classNames.Count;
        var passes = new List<Pass>();
        for (int i = 0; i < images; i++)
        {
            var classes = Enumerable.Range(0, k).Where(c => presentFlags[i * k + c]).ToArray();
            if (classes.Length == 0) continue;
            if (!Options.Compose)
            {
                passes.AddRange(classes.Select(c => new Pass(i, new[] { c }, PromptHidden(Options.PromptFor(classNames[c])), new[] { classTokens[c] })));
                continue;
            }
            var names = classes.Select(c => classNames[c]).ToArray();
            var prompt = Options.ComposedPromptFor(names);
            var tokens = names.Select(n => G4SegStages.ClassTokens(Pipeline.Tokenizer, prompt, n)).ToArray();
            if (tokens.Any(t => t.Length == 0))
                throw new ArgumentException($"compose: the prompt \"{prompt}\" is longer than the text encoder's {Pipeline.Tokenizer.ModelMaxLength} tokens; " +
                                            $"{string.Join(", ", names.Where((_, r) => tokens[r].Length == 0))} fall outside it (refine per class: compose false)", nameof(classNames));
            passes.Add(new Pass(i, classes, PromptHidden(prompt), tokens));
        }
        return passes;
    }

    /// <summary>
    /// Cuts images [0, <paramref name="images"/>) into at most <paramref name="workers"/> contiguous groups with about
    /// equal numbers of present image-classes, each with at least one (images without any join a neighbour's group).
    /// </summary>
    internal static IReadOnlyList<(int Start, int End)> ImageGroups(IReadOnlyList<bool> presentFlags, int images, int classes, int workers) =>
        SideBySide.WeightedGroups(Enumerable.Range(0, images).Select(i => Enumerable.Range(0, classes).Count(c => presentFlags[i * classes + c])).ToArray(), workers);

    /// <summary>Joins the groups' results in image order (items, per-item and per-image tensors, summed stage times).</summary>
    static G4SegResult Merge(IReadOnlyList<G4SegResult> parts, IReadOnlyList<(int Start, int End)> groups)
    {
        using var scope = NewDisposeScope();
        static Tensor? Cat(IEnumerable<Tensor?> ts)
        {
            var list = ts.ToList();
            return list.Any(t => t is null) ? null : cat(list.Select(t => t!).ToArray(), 0);
        }
        var items = parts.SelectMany((p, g) => p.Items.Select(it => it with { Image = it.Image + groups[g].Start })).ToArray();
        var seconds = new Dictionary<string, double>();
        foreach (var p in parts)
            foreach (var (stage, sec) in p.Seconds) seconds[stage] = seconds.GetValueOrDefault(stage) + sec;
        var refined = cat(parts.Select(p => p.Refined).ToArray(), 0);
        var combined = new CombinedLabels(cat(parts.Select(p => p.Combined.Probabilities).ToArray(), 0), cat(parts.Select(p => p.Combined.Labels).ToArray(), 0));
        return new G4SegResult(refined.MoveToOuterDisposeScope(), Move(combined), items, parts[0].Timestep,
            Cat(parts.Select(p => p.Noisy))?.MoveToOuterDisposeScope(), Cat(parts.Select(p => p.X0))?.MoveToOuterDisposeScope(),
            Cat(parts.Select(p => p.Generated))?.MoveToOuterDisposeScope(), Cat(parts.Select(p => p.OriginalFeatures))?.MoveToOuterDisposeScope(),
            Cat(parts.Select(p => p.GeneratedFeatures))?.MoveToOuterDisposeScope(), Cat(parts.Select(p => p.Index))?.MoveToOuterDisposeScope(),
            Cat(parts.Select(p => p.Similarity))?.MoveToOuterDisposeScope(), Cat(parts.Select(p => p.Confusion))?.MoveToOuterDisposeScope(), seconds);
    }

    /// <summary>Stages 1-8 for a batch of images (on the calling thread; the passes carry their prompts' encodings).</summary>
    G4SegResult RefineImages(Tensor images, Tensor s, Tensor isPresent, IReadOnlyList<Pass> passes, IReadOnlyList<ulong> imageSeeds)
    {
        long h = images.shape[2], w = images.shape[3];
        var o = Options;
        var seconds = new Dictionary<string, double>();
        var watch = Stopwatch.StartNew();
        void Lap(string stage)
        {
            seconds[stage] = seconds.GetValueOrDefault(stage) + watch.Elapsed.TotalSeconds;
            watch.Restart();
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var items = passes.SelectMany(p => p.Classes.Select(c => new G4SegItem(p.Image, c))).ToList();
        var itemPass = passes.SelectMany((p, n) => p.Classes.Select(_ => n)).ToArray();

        if (items.Count == 0)
        {
            var combinedEmpty = G4SegStages.Combine(s, isPresent.to(s.device));
            Lap("combine");
            return new G4SegResult(s.clone().MoveToOuterDisposeScope(), Move(combinedEmpty), items, o.Timestep, null, null, null, null, null, null, null, null, seconds);
        }

        var imageIndex = tensor(items.Select(it => (long)it.Image).ToArray(), device: s.device);
        var passImage = tensor(passes.Select(p => (long)p.Image).ToArray(), device: s.device);
        var sItems = stack(items.Select(it => s[it.Image, it.Class]).ToArray()); // [N, H, W]

        // 1. x_t: latents of the images (once per image), noised per image (same noise for every pass of an image)
        var latents = Pipeline.EncodeImage(images);
        Lap("encode");
        var context = cat(passes.Select(p => p.Context).ToArray(), 0);
        long timestep = o.Timestep;
        Tensor noisy;
        if (o.Inversion)
        {
            (noisy, timestep) = G4SegStages.Invert(Pipeline, latents.index_select(0, passImage.to(latents.device)), context, o.Timestep, o.InversionSteps, Pipeline.SchedulerOf(o.InversionScheduler));
        }
        else
        {
            var (imageNoisy, _) = G4SegStages.NoiseAt(Pipeline.Scheduler, latents, o.Timestep, imageSeeds);
            noisy = imageNoisy.index_select(0, passImage.to(imageNoisy.device));
        }
        Lap("noise");

        // 2-3. EMI and the one-step x0 prediction (Eq. 2), all passes in one batch (chunked)
        var binary = sItems / sItems.amax(new long[] { 1, 2 }, keepdim: true).clamp_min(1e-12); // >= 0.5 of the class maximum is the coarse mask
        var masks = G4SegStages.ComposeMasks(binary, itemPass, passes.Count); // [P, R, H, W]: each pass's classes
        var segmentTokens = passes.Select(p => (IReadOnlyList<int[]>)p.Tokens).ToArray();
        var x0Parts = new List<Tensor>();
        for (int start = 0; start < passes.Count; start += MaxBatch)
        {
            using var chunkScope = NewDisposeScope();
            int end = Math.Min(passes.Count, start + MaxBatch);
            var control = G4SegStages.BuildInjection(Pipeline.Unet, masks[start..end], segmentTokens[start..end], context.shape[1],
                noisy.shape[2], noisy.shape[3], timestep, o.Injection);
            x0Parts.Add(G4SegStages.PredictX0(Pipeline, noisy[start..end], timestep, context[start..end], control).MoveToOuterDisposeScope());
        }
        var x0 = x0Parts.Count == 1 ? x0Parts[0] : cat(x0Parts, 0);
        Lap("unet");

        // 7. the confusion area of each image-class, and each pass's query pixels (the union of its classes' areas)
        Tensor? area = null, queries = null;
        if (o.Correspondence)
        {
            area = G4SegStages.ConfusionAreaOf(sItems, o.Confusion);
            queries = G4SegStages.UnionPerPass(area, itemPass, passes.Count);
            Lap("confusion");
        }
        Tensor generated;
        if (o.DecodeWindow)
        {
            // only the latent cells whose pixels the correspondence reads (none without correspondence)
            var windows = queries is null
                ? passes.Select(_ => new LatentWindow(0, 0, 0, 0)).ToArray()
                : G4SegStages.DecodeWindowOf(queries, G4SegStages.GeneratedReach(o, Features, w), o.DecodeWindowMargin, Pipeline.Vae.DownsampleFactor, x0.shape[2], x0.shape[3]);
            generated = G4SegStages.DecodeWindowed(Pipeline, x0, windows);
        }
        else generated = G4SegStages.Decode(Pipeline, x0);
        Lap("decode");

        Tensor? originalFeatures = null, generatedFeatures = null, index = null, similarity = null;
        Tensor refinedItems = sItems;
        if (o.Correspondence)
        {
            // 4. features of x and x~ (once per image and per pass)
            originalFeatures = Features.Extract(images.to(Pipeline.Device));
            generatedFeatures = Features.Extract(generated);
            var fx = FeatureMaps.ToPixels(originalFeatures, h, w).index_select(0, passImage.to(originalFeatures.device));
            var fg = FeatureMaps.ToPixels(generatedFeatures, h, w);
            area = area!.to(fg.device);
            queries = queries!.to(fg.device);
            Lap("features");
            // 5. d_j for the pixels in a pass's confusion areas (Eq. 8), then each image-class's own area
            int? window = G4SegStages.CorrespondenceWindow(o, w);
            var match = o.Direction == CorrespondenceDirection.GeneratedToOriginal
                ? G4SegStages.Correspond(fg, fx, queries, window)
                : G4SegStages.Correspond(fx, fg, queries, window);
            var perItem = PerItem(itemPass, match.Index, match.Similarity);
            (index, similarity) = G4SegStages.RestrictMatches(new CorrespondenceResult(perItem[0], perItem[1]), area);
            Lap("correspondence");
            // 6. Eq. 9 inside the area
            refinedItems = G4SegStages.Mix(sItems, index.to(sItems.device), area.to(sItems.device), o.B);
            Lap("mix");
        }

        var refined = s.clone();
        for (int n = 0; n < items.Count; n++) refined[items[n].Image, items[n].Class] = refinedItems[n];
        var combined = G4SegStages.Combine(refined, isPresent.to(refined.device));
        // per-pass tensors as one row per image-class (a composed pass's row repeated for each of its classes)
        var itemRows = PerItem(itemPass, noisy, x0, generated);
        var itemFeatures = generatedFeatures is null ? null : PerItem(itemPass, generatedFeatures)[0];
        Lap("combine");
        return new G4SegResult(refined.MoveToOuterDisposeScope(), Move(combined), items, timestep,
            itemRows[0].MoveToOuterDisposeScope(), itemRows[1].MoveToOuterDisposeScope(), itemRows[2].MoveToOuterDisposeScope(),
            originalFeatures?.MoveToOuterDisposeScope(), itemFeatures?.MoveToOuterDisposeScope(),
            index?.MoveToOuterDisposeScope(), similarity?.MoveToOuterDisposeScope(), area?.MoveToOuterDisposeScope(), seconds);
    }

    /// <summary>Rows of per-pass tensors [P, ...] as rows per image-class [N, ...] (the tensors themselves when every pass has one class).</summary>
    static Tensor[] PerItem(IReadOnlyList<int> itemPass, params Tensor[] perPass)
    {
        if (perPass.All(t => t.shape[0] == itemPass.Count)) return perPass;
        var rows = itemPass.Select(p => (long)p).ToArray();
        return perPass.Select(t => t.index_select(0, tensor(rows, device: t.device))).ToArray();
    }

    static CombinedLabels Move(CombinedLabels c) => new(c.Probabilities.MoveToOuterDisposeScope(), c.Labels.MoveToOuterDisposeScope());

    /// <summary>The text encoder's hidden state [1, L, D] of a prompt (cached per prompt).</summary>
    Tensor PromptHidden(string prompt)
    {
        if (!prompts.TryGetValue(prompt, out var hidden))
        {
            using var scope = NewDisposeScope();
            hidden = Pipeline.EncodePrompt(new[] { prompt }).Hidden.DetachFromDisposeScope();
            prompts[prompt] = hidden;
        }
        return hidden;
    }

    /// <summary>Disposes the cached prompt encodings and the feature extractor the refiner built.</summary>
    public void Dispose()
    {
        foreach (var t in prompts.Values) t.Dispose();
        prompts.Clear();
        if (ownsFeatures && Features is IDisposable d) d.Dispose();
    }
}
