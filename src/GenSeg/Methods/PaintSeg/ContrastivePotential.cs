using GenSeg.Common;
using GenSeg.Features;
using GenSeg.Imaging;
using GenSeg.Methods.DenseCrf;
using GenSeg.Methods.Inputs;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.PaintSeg;

/// <summary>
/// The terms of PaintSeg's contrastive potential (Eq. 1-2) for one step, each [N, H, W] per paint unless noted. The
/// CRF and prompt terms are rescaled per paint to the range of that paint's feature distance inside <see cref="Box"/>
/// (as the authors' code does), so the weights compare like with like.
/// </summary>
/// <param name="Distance">||E(I) - E(I_paint)||^2 per pixel, raw.</param>
/// <param name="CrfProbability">[H, W]: the DenseCRF probability of the region the step paints (the object in an I-step,
/// the background in an O-step; 0/1 with <see cref="PaintSegOptions.CrfArgmax"/>).</param>
/// <param name="Prior">[H, W]: the prompt prior in [0, 1] (max over prompt points of a 2-D Gaussian); zeros without points.</param>
/// <param name="PaintTerm">lambda_paint * Distance.</param>
/// <param name="CrfTerm">lambda_color * the rescaled CRF probability.</param>
/// <param name="PromptTerm">+/- lambda_prompt * the rescaled prior (+ in I-steps, - in O-steps).</param>
/// <param name="Total">PaintTerm + CrfTerm + PromptTerm.</param>
/// <param name="Box">The region the potential is clustered over: the current mask's box scaled by the box rate.</param>
public sealed record PotentialTerms(Tensor Distance, Tensor CrfProbability, Tensor Prior, Tensor PaintTerm, Tensor CrfTerm,
    Tensor PromptTerm, Tensor Total, Box Box) : IDisposable
{
    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var t in new[] { Distance, CrfProbability, Prior, PaintTerm, CrfTerm, PromptTerm, Total }) t.Dispose();
    }
}

/// <summary>PaintSeg's contrastive potential (Eq. 1-2), term by term.</summary>
public static class ContrastivePotential
{
    /// <summary>
    /// Eq. 1: ||E(I) - E(I_paint)||^2 per pixel, [N, H, W]: features of the image and of each paint brought to pixel
    /// resolution (bilinear, not normalised) and the squared differences summed over channels.
    /// </summary>
    public static Tensor FeatureDistance(IFeatureExtractor extractor, Tensor image, Tensor paints)
    {
        ArgumentNullException.ThrowIfNull(extractor);
        Check.Shape(image, nameof(image), 3, -1, -1);
        Check.Shape(paints, nameof(paints), -1, 3, image.shape[1], image.shape[2]);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long h = image.shape[1], w = image.shape[2];
        var batch = cat(new[] { image.unsqueeze(0), paints.to(image.device) }, 0);
        var f = FeatureMaps.ToPixels(extractor.Extract(batch), h, w, normalise: false);
        var d = (f[1..] - f[..1]).square().sum(1);
        return d.to_type(ScalarType.Float32).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The DenseCRF probability of <paramref name="target"/> [H, W] (the region being painted), with the authors' unary: the
    /// softmax over (1 - target, target) as logits. [H, W] float32; the most probable label (0/1) when
    /// <paramref name="argmax"/>.
    /// </summary>
    public static Tensor CrfProbability(Tensor image, Tensor target, DenseCrfOptions crf, bool argmax = false)
    {
        Check.Shape(image, nameof(image), 3, -1, -1);
        Check.Shape(target, nameof(target), image.shape[1], image.shape[2]);
        ArgumentNullException.ThrowIfNull(crf);
        using var scope = NewDisposeScope();
        var t = Masks.Binarize(target).cpu();
        var prob = stack(new[] { MaskMath.Not(t), t }).softmax(0);
        var q = DenseCrf.DenseCrf.Infer(DenseCrf.DenseCrf.ToRgbBytes(image.cpu()), prob, crf);
        var p = argmax ? q.argmax(0).to_type(ScalarType.Float32) : q[1];
        return p.contiguous().to(image.device).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The prompt prior [H, W]: the maximum over <paramref name="points"/> of exp(-((x - px)^2 / (2 sx^2) + (y - py)^2 /
    /// (2 sy^2))) with sx, sy = <paramref name="sigmaFraction"/> times the box's width and height (at least half a pixel),
    /// at pixel centres. Zeros without points.
    /// </summary>
    public static Tensor PromptPrior(IReadOnlyList<PromptPoint> points, Box box, double sigmaFraction, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(points);
        Check.InRange(sigmaFraction, nameof(sigmaFraction), 1e-6, 1e6);
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"image size {height}x{width}: expected a positive size");
        using var scope = NewDisposeScope();
        var prior = zeros(height, width);
        if (points.Count == 0) return prior.MoveToOuterDisposeScope();
        double sx = Math.Max(0.5, sigmaFraction * Math.Max(1, box.Width)), sy = Math.Max(0.5, sigmaFraction * Math.Max(1, box.Height));
        foreach (var p in points)
        {
            // separable: exp(-a - b) = exp(-a) exp(-b), one row and one column of Gaussian values per point
            var gx = tensor(Gaussian1D(width, p.X + 0.5, sx)).unsqueeze(0);
            var gy = tensor(Gaussian1D(height, p.Y + 0.5, sy)).unsqueeze(1);
            prior = maximum(prior, gy * gx);
        }
        return prior.contiguous().MoveToOuterDisposeScope();
    }

    static float[] Gaussian1D(int n, double centre, double sigma)
    {
        var g = new float[n];
        for (int i = 0; i < n; i++)
        {
            double d = i + 0.5 - centre;
            g[i] = (float)Math.Exp(-d * d / (2 * sigma * sigma));
        }
        return g;
    }

    /// <summary>The region of the potential: the box of <paramref name="mask"/> scaled by <paramref name="rate"/>, clamped to the image.</summary>
    public static Box Region(Tensor mask, double rate)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        var b = Boxes.BoundingBox(mask) ?? throw new ArgumentException("mask: empty; the potential needs a mask with at least one pixel", nameof(mask));
        int h = (int)mask.shape[0], w = (int)mask.shape[1];
        var scaled = Boxes.Scale(b, rate, (w, h));
        if (scaled.IsEmpty) scaled = Boxes.Clamp(new Box((int)Math.Floor(b.Center.X), (int)Math.Floor(b.Center.Y), (int)Math.Floor(b.Center.X) + 1, (int)Math.Floor(b.Center.Y) + 1), w, h);
        return scaled;
    }

    /// <summary>
    /// Eq. 2 for one step: lambda_paint ||E(I) - E(I_paint)||^2 + lambda_color C + / - lambda_prompt G, with C the CRF
    /// probability of the painted side (mask in an I-step, background in an O-step) and G the prompt prior (sigma from the
    /// current mask's box), both rescaled per paint to the distance's range inside the potential's box.
    /// </summary>
    /// <param name="extractor">E.</param>
    /// <param name="image">I [3, H, W] in [-1, 1].</param>
    /// <param name="paints">I_paint [N, 3, H, W].</param>
    /// <param name="mask">The current object mask [H, W].</param>
    /// <param name="kind">I-step or O-step (the sign of the prompt term and the CRF's side).</param>
    /// <param name="step">0-based step index (for the prompt weight's decay).</param>
    /// <param name="points">The prompt prior's points (none for mask prompts).</param>
    /// <param name="options">Weights, box rate, CRF settings.</param>
    public static PotentialTerms Compute(IFeatureExtractor extractor, Tensor image, Tensor paints, Tensor mask, StepKind kind, int step,
        IReadOnlyList<PromptPoint> points, PaintSegOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Check.Shape(image, nameof(image), 3, -1, -1);
        Check.Shape(mask, nameof(mask), image.shape[1], image.shape[2]);
        using var scope = NewDisposeScope();
        int h = (int)image.shape[1], w = (int)image.shape[2];
        var m = Masks.Binarize(mask).to(image.device);
        var box = Region(m, options.BoxRate);
        var distance = FeatureDistance(extractor, image, paints);
        long n = distance.shape[0];

        var target = kind == StepKind.Inpaint ? m : MaskMath.Not(m);
        var crf = options.CrfWeight > 0
            ? CrfProbability(image, target, options.CrfAt(w), options.CrfArgmax)
            : zeros(h, w, device: image.device);
        var currentBox = Boxes.BoundingBox(m)!.Value;
        var prior = PromptPrior(points, currentBox, options.PromptSigma, h, w).to(image.device);

        // per-paint range of the distance inside the box: [N, 1, 1]
        var inBox = distance[.., TensorIndex.Slice(box.Y0, box.Y1), TensorIndex.Slice(box.X0, box.X1)].reshape(n, -1);
        var lo = inBox.amin(new long[] { 1 }).view(n, 1, 1);
        var range = (inBox.amax(new long[] { 1 }).view(n, 1, 1) - lo);
        Tensor Rescale(Tensor x) => lo + x.unsqueeze(0) * range;

        // explicit scalars: implicit Scalar temporaries can be finalised during the native call (torchsharp-pitfalls)
        using var paintWeight = options.PaintWeight.ToScalar();
        using var crfWeight = options.CrfWeight.ToScalar();
        using var promptWeight = (points.Count == 0 ? 0 : options.PromptWeightAt(step) * (kind == StepKind.Inpaint ? 1 : -1)).ToScalar();
        var paintTerm = distance.mul(paintWeight);
        var crfTerm = Rescale(crf).mul(crfWeight);
        var promptTerm = Rescale(prior).mul(promptWeight);
        var total = paintTerm + crfTerm + promptTerm;
        return new PotentialTerms(distance.MoveToOuterDisposeScope(), crf.MoveToOuterDisposeScope(), prior.MoveToOuterDisposeScope(),
            paintTerm.MoveToOuterDisposeScope(), crfTerm.MoveToOuterDisposeScope(), promptTerm.MoveToOuterDisposeScope(),
            total.MoveToOuterDisposeScope(), box);
    }
}
