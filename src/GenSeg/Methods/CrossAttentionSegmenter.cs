using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Attention;
using GenSeg.Methods.Shared;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.Methods;

/// <summary>How the cross-attention read-out scores the background.</summary>
public enum AttentionBackground
{
    /// <summary>
    /// DiffSegmenter's evaluation: each class map min-max normalised per image, the background a constant
    /// <see cref="CrossAttentionOptions.Threshold"/>.
    /// </summary>
    Constant,

    /// <summary>
    /// The class tokens' attention against the attention mass on the prompt's non-object tokens (times
    /// <see cref="CrossAttentionOptions.BackgroundWeight"/>): a pixel is background when it attends more to the words
    /// that name no object than to any class.
    /// </summary>
    TokenShare,
}

/// <summary>How each attention map is scaled before the classes and the background are compared.</summary>
public enum AttentionNormalisation
{
    /// <summary>The attention probabilities as they are.</summary>
    Raw,

    /// <summary>Each map min-max scaled to [0, 1] per image (DiffSegmenter).</summary>
    MinMax,

    /// <summary>Each map divided by its mean over the image (the token's attention relative to its own average), so a
    /// background weight of about 1 compares the shares independently of each token's overall attention.</summary>
    Mean,
}

/// <summary>Which tokens count as "non-object" for <see cref="AttentionBackground.TokenShare"/>.</summary>
public enum NonObjectTokens
{
    /// <summary>The prompt's own words that name no class ("a", "photo", "of", "and"), without start, end or padding tokens.</summary>
    PromptWords,

    /// <summary>Every token that is not a class token: start, words, end and padding.</summary>
    AllOther,

    /// <summary>The tokens that are no word: start, end and padding (where a text-conditioned UNet parks attention it
    /// does not spend on the words).</summary>
    Special,
}

/// <summary>Settings of <see cref="CrossAttentionSegmenter"/>.</summary>
public sealed record CrossAttentionOptions
{
    /// <summary>The timestep the latent is noised to for the one UNet pass (DiffSegmenter: 100).</summary>
    public long Timestep { get; init; } = 100;

    /// <summary>Query side lengths whose cross-attention layers are averaged (e.g. 16 and 8).</summary>
    public IReadOnlyList<long> Resolutions { get; init; } = new long[] { 16, 8 };

    /// <summary>Noise draws averaged (one UNet batch).</summary>
    public int NoiseSamples { get; init; } = 1;

    /// <summary>How the background is scored.</summary>
    public AttentionBackground Background { get; init; } = AttentionBackground.Constant;

    /// <summary>Constant background score on min-max normalised maps (<see cref="AttentionBackground.Constant"/>; tuned on
    /// ToyWorld val with the embedded model).</summary>
    public double Threshold { get; init; } = 0.6;

    /// <summary>Weight of the non-object mass (<see cref="AttentionBackground.TokenShare"/>).</summary>
    public double BackgroundWeight { get; init; } = 1.0;

    /// <summary>How the maps are scaled; null: min-max for <see cref="AttentionBackground.Constant"/> (DiffSegmenter), raw for
    /// <see cref="AttentionBackground.TokenShare"/>. With token share, the non-object map is scaled the same way.</summary>
    public AttentionNormalisation? Normalisation { get; init; }

    /// <summary>Which tokens are non-object tokens (<see cref="AttentionBackground.TokenShare"/>).</summary>
    public NonObjectTokens NonObject { get; init; } = NonObjectTokens.PromptWords;

    /// <summary>
    /// Propagate the class maps with the self-attention of the largest recorded resolution (DiffSegmenter's refinement:
    /// map' = SA map) this many times (0 = off).
    /// </summary>
    public int SelfAttentionPropagation { get; init; } = 3;

    /// <summary>The start of every prompt; the present classes follow ("a photo of a circle and a star").</summary>
    public string PromptPrefix { get; init; } = "a photo of";

    /// <summary>Seed of the noise.</summary>
    public ulong Seed { get; init; }

    /// <summary>Checks the values; errors name the option.</summary>
    public void Validate(int numTrainTimesteps = 1000)
    {
        if (Timestep < 0 || Timestep >= numTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(Timestep), Timestep, $"timestep must lie in [0, {numTrainTimesteps - 1}]");
        if (Resolutions.Count == 0 || Resolutions.Any(r => r < 1)) throw new ArgumentException("resolutions: expected at least one positive side length", nameof(Resolutions));
        if (NoiseSamples < 1) throw new ArgumentOutOfRangeException(nameof(NoiseSamples), NoiseSamples, "noise samples: expected >= 1");
        if (!double.IsFinite(Threshold) || Threshold < 0) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "threshold: expected a finite value >= 0");
        if (!double.IsFinite(BackgroundWeight) || BackgroundWeight < 0)
            throw new ArgumentOutOfRangeException(nameof(BackgroundWeight), BackgroundWeight, "background weight: expected a finite value >= 0");
        if (SelfAttentionPropagation < 0) throw new ArgumentOutOfRangeException(nameof(SelfAttentionPropagation), SelfAttentionPropagation, "self-attention propagation: expected >= 0");
    }
}

/// <summary>The text-only segmentation of a batch.</summary>
/// <param name="Probabilities">[B, K, H, W]: each class against the background in [0, 1] (0 for absent classes),
/// &gt; 0.5 exactly where the class beats the background: with the constant background on min-max scores, piecewise
/// linear through (0, 0), (threshold, 0.5) and (1, 1), so the class maximum is 1; otherwise a_k / (a_k + background).</param>
/// <param name="Scores">[B, K, H, W]: the class scores a_k (normalised attention maps).</param>
/// <param name="Background">[B, H, W]: the background score.</param>
/// <param name="Labels">[B, H, W] int64: 0 = background, k + 1 = class k.</param>
/// <param name="Prompts">The prompt of each image.</param>
public sealed record CrossAttentionResult(Tensor Probabilities, Tensor Scores, Tensor Background, Tensor Labels, IReadOnlyList<string> Prompts) : IDisposable
{
    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        Probabilities.Dispose();
        Scores.Dispose();
        Background.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Text-only coarse segmentation from cross-attention (DiffSegmenter / DAAM style, the text-supervised segmenter that
/// G4Seg refines): one UNet pass over the image's latent noised to a moderate timestep, conditioned on a prompt that
/// names the image's classes; the cross-attention probabilities of each class's tokens, averaged over heads and over
/// the layers at the chosen resolutions (upsampled to the largest) and over noise draws, upsampled to the image, give
/// the class maps; the background is a constant on min-max normalised maps or the attention mass on the prompt's
/// non-object tokens.
/// </summary>
public static class CrossAttentionSegmenter
{
    /// <summary>
    /// The prompt naming <paramref name="classNames"/> in order, as ToyWorld's class-only captions do:
    /// "a photo of a circle, a star and a ring".
    /// </summary>
    public static string PromptFor(IReadOnlyList<string> classNames, string prefix = "a photo of")
    {
        var phrases = classNames.Select(c => $"{("aeiou".Contains(char.ToLowerInvariant(c.Trim()[0])) ? "an" : "a")} {c.Trim()}").ToList();
        var text = new System.Text.StringBuilder(prefix);
        for (int i = 0; i < phrases.Count; i++)
        {
            text.Append(i == 0 ? " " : i == phrases.Count - 1 ? " and " : ", ");
            text.Append(phrases[i]);
        }
        return text.ToString();
    }

    /// <summary>
    /// Segments images [B, 3, H, W] (in [-1, 1]) into the classes <paramref name="classNames"/> that
    /// <paramref name="present"/> [B, K] marks for each image (all when null).
    /// </summary>
    public static CrossAttentionResult Segment(StableDiffusionPipeline pipeline, Tensor images, IReadOnlyList<string> classNames, Tensor? present = null,
        CrossAttentionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(classNames);
        var o = options ?? new CrossAttentionOptions();
        o.Validate(pipeline.Scheduler.NumTrainTimesteps);
        Check.Shape(images, nameof(images), -1, 3, -1, -1);
        Check.Finite(images, nameof(images));
        long b = images.shape[0], k = classNames.Count, h = images.shape[2], w = images.shape[3];
        if (k == 0) throw new ArgumentException("classNames: expected at least one class", nameof(classNames));
        if (present is not null) Check.Shape(present, nameof(present), b, k);
        int factor = pipeline.Vae.DownsampleFactor;
        if (h % factor != 0 || w % factor != 0)
            throw new ArgumentException($"images {Check.Format(images.shape)}: height and width must be multiples of the VAE's factor {factor}", nameof(images));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var flags = present is null ? Enumerable.Repeat(true, (int)(b * k)).ToArray() : present.to_type(ScalarType.Bool).cpu().data<bool>().ToArray();
        var promptTexts = new string[b];
        var classTokens = new List<(int Image, int Class, int[] Positions)>();
        var nonObject = new List<int[]>();
        for (int i = 0; i < b; i++)
        {
            var names = Enumerable.Range(0, (int)k).Where(c => flags[i * k + c]).ToArray();
            promptTexts[i] = PromptFor(names.Select(c => classNames[c]).ToArray(), o.PromptPrefix);
            var used = new HashSet<int>();
            foreach (var c in names)
            {
                var pos = ClassMaps.ClassTokens(pipeline.Tokenizer, promptTexts[i], classNames[c]);
                classTokens.Add((i, c, pos));
                used.UnionWith(pos);
            }
            int length = pipeline.Tokenizer.Encode(promptTexts[i]).Length; // with start and end tokens
            int tokens = pipeline.Tokenizer.ModelMaxLength;
            int words = Math.Min(length, tokens) - 1; // positions 1 .. words - 1 hold the prompt's words
            nonObject.Add(o.NonObject switch
            {
                NonObjectTokens.PromptWords => Enumerable.Range(1, words - 1).Where(p => !used.Contains(p)).ToArray(),
                NonObjectTokens.Special => Enumerable.Range(0, tokens).Where(p => p == 0 || p >= words).ToArray(),
                _ => Enumerable.Range(0, tokens).Where(p => !used.Contains(p)).ToArray(),
            });
        }

        // one UNet batch: every noise sample of every image
        int samples = o.NoiseSamples;
        var latents = pipeline.EncodeImage(images);
        var shape = latents.shape[1..];
        var noise = stack(Enumerable.Range(0, samples).Select(s =>
        {
            using var g = new Generator(Pcg32.Derive(o.Seed, (ulong)s));
            return randn(shape, dtype: ScalarType.Float32, generator: g);
        }).ToArray()).to(latents.device).to_type(latents.dtype);
        var x = latents.unsqueeze(0).expand(samples, b, shape[0], shape[1], shape[2]).reshape(samples * b, shape[0], shape[1], shape[2]);
        var n = noise.unsqueeze(1).expand(samples, b, shape[0], shape[1], shape[2]).reshape(samples * b, shape[0], shape[1], shape[2]);
        var noisy = pipeline.Scheduler.AddNoise(x, n, o.Timestep);
        var context = pipeline.EncodePrompt(promptTexts).Hidden;
        context = context.unsqueeze(0).expand(samples, b, context.shape[1], context.shape[2]).reshape(samples * b, context.shape[1], context.shape[2]);

        var sites = pipeline.Unet.AttentionSites(shape[1], shape[2]);
        var wanted = sites.Where(s => s.Kind == AttentionKind.Cross && o.Resolutions.Contains(s.Height)).ToList();
        if (wanted.Count == 0)
            throw new ArgumentException($"resolutions {string.Join(", ", o.Resolutions)}: the UNet has cross-attention at " +
                                        string.Join(", ", sites.Where(s => s.Kind == AttentionKind.Cross).Select(s => s.Height).Distinct()) + $" for {h}x{w} images");
        long top = wanted.Max(s => s.Height), topW = wanted.Where(s => s.Height == top).Max(s => s.Width);
        bool propagate = o.SelfAttentionPropagation > 0;
        using var store = new AttentionMapStore();
        var control = store.Control(s => (s.Kind == AttentionKind.Cross && o.Resolutions.Contains(s.Height))
                                         || (propagate && s.Kind == AttentionKind.Self && s.Height == top && s.Width == topW));
        pipeline.PredictModelOutput(noisy, o.Timestep, context, control);

        // average over layers (each upsampled to the largest resolution) and noise samples: [B, L, top, topW]
        Tensor? sum = null;
        Tensor? selfSum = null;
        int count = 0, selfCount = 0;
        foreach (var (site, map) in store.Maps)
        {
            if (site.Kind == AttentionKind.Self)
            {
                selfSum = selfSum is null ? map.clone() : selfSum + map;
                selfCount++;
                continue;
            }
            var m = map.transpose(1, 2).reshape(samples * b, map.shape[2], site.Height, site.Width);
            if (site.Height != top || site.Width != topW) m = F.interpolate(m, new[] { top, topW }, mode: InterpolationMode.Bilinear, align_corners: false);
            sum = sum is null ? m : sum + m;
            count++;
        }
        var attention = (sum! / count).reshape(samples, b, -1, top, topW).mean(new long[] { 0 }); // [B, L, top, topW]
        Tensor? selfAttention = selfSum is null ? null : (selfSum / selfCount).reshape(samples, b, top * topW, top * topW).mean(new long[] { 0 });

        // class and non-object masses at the attention resolution
        var scores = zeros(b, k, top, topW, device: attention.device);
        foreach (var (i, c, pos) in classTokens)
            scores[i, c] = attention[i].index_select(0, tensor(pos.Select(p => (long)p).ToArray(), device: attention.device)).sum(dim: 0);
        var nonObj = stack(Enumerable.Range(0, (int)b).Select(i => nonObject[i].Length == 0
            ? zeros(top, topW, device: attention.device)
            : attention[i].index_select(0, tensor(nonObject[i].Select(p => (long)p).ToArray(), device: attention.device)).sum(dim: 0)).ToArray());
        if (selfAttention is not null)
        {
            for (int r = 0; r < o.SelfAttentionPropagation; r++)
            {
                scores = selfAttention.unsqueeze(1).matmul(scores.reshape(b, k, top * topW, 1)).reshape(b, k, top, topW);
                nonObj = selfAttention.matmul(nonObj.reshape(b, top * topW, 1)).reshape(b, top, topW);
            }
        }
        // up to the image
        scores = F.interpolate(scores, new[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false).clamp_min(0);
        nonObj = F.interpolate(nonObj.unsqueeze(1), new[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false).squeeze(1).clamp_min(0);
        var presentMask = tensor(flags, device: scores.device).reshape(b, k, 1, 1).to_type(ScalarType.Float32);

        Tensor background;
        var normalisation = o.Normalisation ?? (o.Background == AttentionBackground.Constant ? AttentionNormalisation.MinMax : AttentionNormalisation.Raw);
        scores = Normalise(scores, normalisation);
        background = o.Background == AttentionBackground.Constant
            ? full(b, h, w, o.Threshold, device: scores.device)
            : Normalise(nonObj.unsqueeze(1), normalisation).squeeze(1) * o.BackgroundWeight;
        scores = scores * presentMask;
        Tensor probabilities;
        if (o.Background == AttentionBackground.Constant && normalisation == AttentionNormalisation.MinMax && o.Threshold < 1)
        {
            // scores in [0, 1] against a constant tau: piecewise linear, 0 -> 0, tau -> 0.5, 1 -> 1, so the class maximum
            // is 1 and the decision boundary lies at one half of it, as G4Seg's confusion range expects
            double tau = o.Threshold;
            var below = scores * (tau > 0 ? 0.5 / tau : 0);
            var above = (scores - tau) * (0.5 / (1 - tau)) + 0.5;
            probabilities = where(scores <= tau, below, above).clamp(0, 1) * presentMask;
        }
        else
        {
            probabilities = scores / (scores + background.unsqueeze(1)).clamp_min(1e-12) * presentMask;
        }
        using var combined = ClassMaps.Combine(probabilities, presentMask.reshape(b, k) > 0.5);
        return new CrossAttentionResult(probabilities.MoveToOuterDisposeScope(), scores.MoveToOuterDisposeScope(), background.MoveToOuterDisposeScope(),
            combined.Labels.clone().MoveToOuterDisposeScope(), promptTexts);
    }

    /// <summary>Scales maps [B, C, H, W] per image and channel.</summary>
    static Tensor Normalise(Tensor maps, AttentionNormalisation normalisation)
    {
        switch (normalisation)
        {
            case AttentionNormalisation.MinMax:
            {
                var lo = maps.amin(new long[] { 2, 3 }, keepdim: true);
                var hi = maps.amax(new long[] { 2, 3 }, keepdim: true);
                return (maps - lo) / (hi - lo).clamp_min(1e-12);
            }
            case AttentionNormalisation.Mean:
                return maps / maps.mean(new long[] { 2, 3 }, keepdim: true).clamp_min(1e-12);
            default:
                return maps;
        }
    }
}
