using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Schedulers;

/// <summary>
/// The training noise schedule every scheduler builds in its constructor, as diffusers computes it (float32):
/// beta_t, alpha-bar_t = prod_{s &lt;= t} (1 - beta_s) and the sigma of each training timestep.
/// </summary>
public sealed class NoiseSchedule
{
    /// <summary>beta_t for t = 0..T-1.</summary>
    public float[] Betas { get; }

    /// <summary>alpha-bar_t for t = 0..T-1.</summary>
    public float[] AlphasCumprod { get; }

    NoiseSchedule(float[] betas, float[] alphasCumprod)
    {
        Betas = betas;
        AlphasCumprod = alphasCumprod;
    }

    /// <summary>
    /// The schedule of a (validated) config. <paramref name="floorZeroSnr"/>: with <c>rescale_betas_zero_snr</c> set the
    /// last alpha-bar to 2^-24 so its sigma is finite (DPM-Solver's and Euler's constructors; DDIM keeps 0).
    /// </summary>
    public static NoiseSchedule Of(SchedulerConfig config, bool floorZeroSnr = false)
    {
        using var scope = torch.NewDisposeScope();
        int n = config.NumTrainTimesteps;
        Tensor b;
        if (config.TrainedBetas is not null) b = torch.tensor(config.TrainedBetas, dtype: ScalarType.Float32);
        else if (config.BetaSchedule == "linear") b = torch.linspace(config.BetaStart, config.BetaEnd, n, dtype: ScalarType.Float32);
        else if (config.BetaSchedule == "scaled_linear")
            b = torch.linspace(Math.Pow(config.BetaStart, 0.5), Math.Pow(config.BetaEnd, 0.5), n, dtype: ScalarType.Float32).square();
        else b = torch.tensor(CosineBetas(n), dtype: ScalarType.Float32);
        if (config.RescaleBetasZeroSnr) b = RescaleZeroTerminalSnr(b);
        var alphasCumprod = torch.cumprod(torch.ones_like(b) - b, 0).data<float>().ToArray();
        if (config.RescaleBetasZeroSnr && floorZeroSnr) alphasCumprod[^1] = MathF.Pow(2f, -24f);
        return new NoiseSchedule(b.data<float>().ToArray(), alphasCumprod);
    }

    /// <summary>sigma_t = sqrt((1 - alpha-bar_t) / alpha-bar_t) for t = 0..T-1 (diffusers' <c>sigmas</c>, float32).</summary>
    public float[] Sigmas() => AlphasCumprod.Select(a => MathF.Sqrt((1f - a) / a)).ToArray();

    // diffusers' betas_for_alpha_bar (cosine, max_beta 0.999), in float64 then float32.
    static double[] CosineBetas(int n)
    {
        static double AlphaBar(double t) { var c = Math.Cos((t + 0.008) / 1.008 * Math.PI / 2); return c * c; }
        var r = new double[n];
        for (int i = 0; i < n; i++) r[i] = Math.Min(1 - AlphaBar((double)(i + 1) / n) / AlphaBar((double)i / n), 0.999);
        return r;
    }

    // diffusers' rescale_zero_terminal_snr (Lin et al. 2023, Algorithm 1).
    static Tensor RescaleZeroTerminalSnr(Tensor betas)
    {
        var abarSqrt = torch.cumprod(torch.ones_like(betas) - betas, 0).sqrt();
        var first = abarSqrt[0].clone();
        var last = abarSqrt[-1].clone();
        abarSqrt = (abarSqrt - last) * (first / (first - last));
        var abar = abarSqrt.square();
        var alphas = torch.cat(new[] { abar[..1], abar[1..] / abar[..^1] });
        return torch.ones_like(alphas) - alphas;
    }
}

/// <summary>
/// What DPM-Solver and Euler share: the validated config, the training noise schedule (with diffusers' zero-SNR floor)
/// and the sigma of each training timestep, sigma_t = sqrt((1 - alpha-bar_t) / alpha-bar_t), from which their
/// inference sigmas are interpolated.
/// </summary>
public abstract class SigmaScheduler<TConfig> : IScheduler where TConfig : SchedulerConfig
{
    readonly NoiseSchedule schedule;

    /// <summary>Validates <paramref name="config"/> (errors name <paramref name="source"/>) and builds the schedule.</summary>
    protected SigmaScheduler(TConfig config, string source)
    {
        config.Validate(source);
        Config = config;
        schedule = NoiseSchedule.Of(config, floorZeroSnr: true);
        TrainSigmas = schedule.Sigmas();
    }

    /// <summary>The validated config.</summary>
    public TConfig Config { get; }

    /// <inheritdoc />
    SchedulerConfig IScheduler.Config => Config;

    /// <inheritdoc />
    public abstract string Kind { get; }

    /// <inheritdoc />
    public int NumTrainTimesteps => Config.NumTrainTimesteps;

    /// <inheritdoc />
    public IReadOnlyList<float> AlphasCumprod => schedule.AlphasCumprod;

    /// <summary>sigma_t of each training timestep t = 0..T-1 (float32).</summary>
    protected float[] TrainSigmas { get; }

    /// <summary>Throws unless <paramref name="steps"/> lies in [1, T].</summary>
    protected void CheckSteps(int steps)
    {
        if (steps < 1 || steps > NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"steps must lie in [1, num_train_timesteps = {NumTrainTimesteps}]");
    }

    /// <summary>numpy.interp of the training sigmas at <paramref name="timesteps"/>, then <paramref name="final"/>: float32, one more than timesteps.</summary>
    protected float[] SigmasAt(IEnumerable<double> timesteps, float final) =>
        timesteps.Select(t => (float)SchedulerMath.Interp(t, TrainSigmas)).Append(final).ToArray();

    /// <summary>The model timesteps of a run as <see cref="IScheduler.Timesteps"/> gives them.</summary>
    protected abstract IReadOnlyList<double> ModelTimesteps(int steps);

    /// <inheritdoc />
    IReadOnlyList<double> IScheduler.Timesteps(int steps) => ModelTimesteps(steps);

    /// <inheritdoc />
    public abstract ISampler Sampler(int steps);

    /// <inheritdoc />
    public abstract InversionTrajectory Invert(Func<Tensor, long, Tensor> model, Tensor x0Latent, int steps, long? stopAt = null);
}

/// <summary>Small pure helpers the schedulers share: numpy's spacing and interpolation, 0-d constants, thresholding.</summary>
static class SchedulerMath
{
    /// <summary>numpy.linspace(0, stop, count): i * (stop / (count - 1)), the last value exactly stop (count 1: just 0).</summary>
    public static double[] Linspace(double stop, int count)
    {
        if (count == 1) return new[] { 0.0 };
        double step = stop / (count - 1);
        return Enumerable.Range(0, count).Select(i => i == count - 1 ? stop : i * step).ToArray();
    }

    /// <summary>numpy.arange(start, 0, -step).round(): start + i * delta with delta = (start - step) - start, rounded half to even.</summary>
    public static long[] Trailing(double start, double step)
    {
        long count = (long)Math.Ceiling(start / step);
        double delta = (start - step) - start;
        return Enumerable.Range(0, (int)count).Select(i => (long)Math.Round(start + i * delta, MidpointRounding.ToEven)).ToArray();
    }

    /// <summary>numpy.interp(x, [0, 1, ..., n-1], values) in float64.</summary>
    public static double Interp(double x, IReadOnlyList<float> values)
    {
        if (x <= 0) return values[0];
        if (x >= values.Count - 1) return values[^1];
        int j = (int)Math.Floor(x);
        if (j == x) return values[j];
        double slope = (double)values[j + 1] - values[j]; // over xp[j + 1] - xp[j] = 1
        return slope * (x - j) + values[j];
    }

    /// <summary>A 0-d tensor of <paramref name="value"/> in the dtype and on the device of <paramref name="like"/>
    /// (tensor operands rather than implicit Scalars: see docs/torchsharp.md).</summary>
    public static Tensor Const(float value, Tensor like) => torch.tensor(value, dtype: like.dtype, device: like.device);

    /// <summary>
    /// diffusers' <c>_threshold_sample</c> (Imagen's dynamic thresholding): per-sample quantile s of |x0| at
    /// <paramref name="ratio"/>, clamped to [1, <paramref name="maxValue"/>]; x0 -> clamp(x0, -s, s) / s.
    /// </summary>
    public static Tensor Threshold(Tensor x0, double ratio, double maxValue)
    {
        var dtype = x0.dtype;
        var x = dtype is ScalarType.Float32 or ScalarType.Float64 ? x0 : x0.to_type(ScalarType.Float32);
        var flat = x.reshape(x.shape[0], -1);
        var q = torch.tensor(ratio, dtype: flat.dtype, device: flat.device);
        var s = torch.quantile(flat.abs(), q, 1);
        s = torch.clamp(s, Const(1f, s), Const((float)maxValue, s)).unsqueeze(1);
        return (torch.clamp(flat, -s, s) / s).reshape(x0.shape).to_type(dtype);
    }

    /// <summary>A sampler's step index, checked against its number of steps.</summary>
    public static int CheckIndex(int index, int steps, string name = "index") =>
        index >= 0 && index < steps ? index : throw new ArgumentOutOfRangeException(name, index, $"{name}: expected a step in [0, {steps - 1}] of this {steps}-step run");

    /// <summary>[B] values shaped to broadcast against <paramref name="like"/> ([B, 1, 1, ...]).</summary>
    public static Tensor PerItem(Tensor values, Tensor like)
    {
        var shape = new long[like.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        return values.reshape(shape);
    }
}
