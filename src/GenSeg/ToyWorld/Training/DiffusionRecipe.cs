using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld.Training;

/// <summary>Which masks the inpainting UNet is trained on.</summary>
public enum InpaintMasks
{
    /// <summary>The first recipe: object removal with small dilations, background rings, random boxes and blobs (reconstructed),
    /// full and empty masks, captions as <see cref="CaptionMix"/>.</summary>
    Mixed,

    /// <summary>
    /// The masks PaintSeg's steps make, with the ideal painter's targets (as <see cref="ToyWorldOraclePainter"/>): I-step masks (the
    /// object dilated or eroded, its box 1.0-1.3x with prompt noise, the object cut by a box) with the object removed; O-step
    /// masks (the complement of such an object estimate, or a background ring around it) with the object completed and
    /// the other objects removed; a few blobs and full masks. Mostly empty captions (PaintSeg paints with an empty prompt).
    /// </summary>
    PaintSeg,
}

/// <summary>Loss-side and weight-side choices of a diffusion training recipe (off by default: the first recipe).</summary>
/// <param name="MinSnrGamma">Min-SNR-gamma loss weighting (Hang et al. 2023): each sample's epsilon MSE is weighted by
/// min(SNR(t), gamma) / SNR(t); 0 = uniform weights. The paper's gamma: 5.</param>
/// <param name="EmaDecay">Exponential moving average of the weights, exported instead of the raw weights; 0 = none.</param>
/// <param name="PredictionType">What the UNet predicts (the scheduler's <c>prediction_type</c>): epsilon or v_prediction
/// (Salimans and Ho 2022, as SD 2's 768 px models).</param>
public sealed record DiffusionRecipe(double MinSnrGamma = 0, double EmaDecay = 0, string PredictionType = "epsilon")
{
    /// <summary>The prediction types a recipe can train.</summary>
    public static readonly IReadOnlyList<string> PredictionTypes = new[] { "epsilon", "v_prediction" };

    /// <summary>Checks the values; errors name the option.</summary>
    public void Validate()
    {
        if (!(MinSnrGamma >= 0) || !double.IsFinite(MinSnrGamma)) throw new ArgumentOutOfRangeException(nameof(MinSnrGamma), MinSnrGamma, "--min-snr: expected 0 (off) or a positive gamma");
        if (!(EmaDecay >= 0 && EmaDecay < 1)) throw new ArgumentOutOfRangeException(nameof(EmaDecay), EmaDecay, "--ema: expected 0 (off) or a decay in (0, 1)");
        if (!PredictionTypes.Contains(PredictionType)) throw new ArgumentException($"--prediction-type '{PredictionType}': expected {string.Join(" or ", PredictionTypes)}", nameof(PredictionType));
    }

    /// <summary>True for v-prediction.</summary>
    public bool IsV => PredictionType == "v_prediction";

    /// <summary>
    /// The per-sample loss weights [B] for timesteps <paramref name="t"/>, with SNR = alpha_bar / (1 - alpha_bar): Min-SNR's
    /// min(SNR, gamma) / SNR for epsilon prediction and min(SNR, gamma) / (SNR + 1) for v-prediction (Hang et al. 2023,
    /// Eq. 8 and its v form); ones when off.
    /// </summary>
    public Tensor LossWeights(Tensor t, IReadOnlyList<float> alphasCumprod)
    {
        if (MinSnrGamma <= 0) return ones(t.shape[0]);
        var ab = t.data<long>().Select(i => (double)alphasCumprod[(int)i]).ToArray();
        return tensor(ab.Select(a => a / (1 - a)).Select(snr => (float)(Math.Min(snr, MinSnrGamma) / (IsV ? snr + 1 : snr))).ToArray());
    }

    /// <summary>What the UNet is trained to output for clean latents <paramref name="x0"/> noised with <paramref name="noise"/>
    /// at <paramref name="t"/>: the noise, or v = sqrt(alpha_bar) noise - sqrt(1 - alpha_bar) x0.</summary>
    public Tensor Target(Tensor x0, Tensor noise, Tensor t, Diffusion.Schedulers.DDIMScheduler scheduler) =>
        IsV ? scheduler.GetVelocity(x0, noise, t) : noise;

    /// <summary>The MSE of <paramref name="prediction"/> to the <see cref="Target"/> of <paramref name="x0"/> noised with
    /// <paramref name="noise"/> at <paramref name="t"/>, per sample, weighted by <see cref="LossWeights"/>, averaged over the batch.</summary>
    public Tensor Loss(Tensor prediction, Tensor x0, Tensor noise, Tensor t, Diffusion.Schedulers.DDIMScheduler scheduler)
    {
        var perSample = (prediction - Target(x0, noise, t, scheduler)).square().mean(new long[] { 1, 2, 3 });
        return MinSnrGamma <= 0 ? perSample.mean() : (perSample * LossWeights(t, scheduler.AlphasCumprod).to(perSample.device)).mean();
    }

    /// <summary>An EMA of <paramref name="unet"/>'s weights (a copy on its device) when the recipe keeps one, else null.</summary>
    public EmaWeights? EmaOf(Diffusion.Models.UNet2DConditionModel unet)
    {
        if (EmaDecay <= 0) return null;
        var average = Diffusion.Models.UNet2DConditionModel.FromConfig(unet.Config);
        average.to(unet.parameters().First().device);
        return new EmaWeights(unet, average);
    }

    /// <summary>The EMA decay at a step, warmed up as diffusers' EMAModel: min(decay, (1 + step) / (10 + step)).</summary>
    public double EmaDecayAt(int step) => Math.Min(EmaDecay, (1.0 + step) / (10.0 + step));
}

/// <summary>
/// An exponential moving average of a module's weights (diffusers' EMAModel): a frozen copy updated in place,
/// <c>ema = d * ema + (1 - d) * weight</c>. It is checkpointed with the run (a frozen module of the task's trainables)
/// and is what the run exports.
/// </summary>
public sealed class EmaWeights
{
    /// <summary>The checkpoint key prefix of a task's EMA weights (what <see cref="ToyTraining.Assemble"/> prefers when present).</summary>
    public const string CheckpointPrefix = "ema";

    readonly nn.Module _source;
    int _lastStep = -1;

    /// <summary>The averaged copy (no gradients).</summary>
    public nn.Module Average { get; }

    /// <summary>Tracks <paramref name="source"/> in <paramref name="average"/> (same architecture; starts as a copy of it).</summary>
    public EmaWeights(nn.Module source, nn.Module average)
    {
        _source = source ?? throw new ArgumentNullException(nameof(source));
        Average = average ?? throw new ArgumentNullException(nameof(average));
        using var noGrad = no_grad();
        var src = source.state_dict();
        foreach (var (k, v) in average.state_dict())
        {
            if (!src.TryGetValue(k, out var s) || !s.shape.SequenceEqual(v.shape)) throw new ArgumentException($"EMA: the average has {k}, which the source lacks or shapes differently", nameof(average));
            v.copy_(s);
        }
        foreach (var p in average.parameters()) p.requires_grad = false;
        average.eval();
    }

    /// <summary>
    /// Folds the source's current weights in with <paramref name="decay"/>, once per <paramref name="step"/> (a repeated
    /// step, after a non-finite loss, does not fold twice; a rollback re-runs from the checkpoint's average).
    /// </summary>
    public void Update(int step, double decay)
    {
        if (step == _lastStep) return;
        _lastStep = step;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var d = decay.ToScalar();
        using var oneMinus = (1 - decay).ToScalar();
        var src = _source.state_dict();
        foreach (var (k, v) in Average.state_dict())
            if (v.is_floating_point()) v.mul_(d).add_(src[k], alpha: oneMinus);
            else v.copy_(src[k]);
    }
}
