using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Schedulers;

/// <summary>
/// The <c>scheduler_config.json</c> of a diffusers <c>DDIMScheduler</c> (0.21.4). Defaults are diffusers' constructor
/// defaults, which apply to every key a file leaves out; <see cref="StableDiffusion"/> holds SD's values.
/// </summary>
public sealed record DDIMSchedulerConfig : ThresholdedSchedulerConfig
{
    /// <summary>diffusers' DDIM defaults: <c>timestep_spacing</c> leading (the others' are in <see cref="SchedulerConfig"/>).</summary>
    public DDIMSchedulerConfig() => TimestepSpacing = "leading";

    /// <summary><c>clip_sample</c>: clamp predicted x0 to +-<see cref="ClipSampleRange"/>.</summary>
    public bool ClipSample { get; init; } = true;
    /// <summary><c>clip_sample_range</c>.</summary>
    public double ClipSampleRange { get; init; } = 1.0;
    /// <summary><c>set_alpha_to_one</c>: the alpha-bar "before" the last step is 1 (else alpha-bar_0).</summary>
    public bool SetAlphaToOne { get; init; } = true;

    /// <summary>Stable Diffusion's scheduler: scaled_linear 0.00085..0.012, no clipping, alpha-bar_0 at the end, offset 1.</summary>
    public static DDIMSchedulerConfig StableDiffusion(string predictionType = "epsilon") => new()
    {
        BetaStart = 0.00085, BetaEnd = 0.012, BetaSchedule = "scaled_linear", ClipSample = false, SetAlphaToOne = false,
        StepsOffset = 1, PredictionType = predictionType,
    };

    /// <inheritdoc />
    protected override void CheckSchedulerKeys(ConfigCheck check) { }
}

/// <summary>One DDIM update: x_{t-Δ} and the x0 it was computed from.</summary>
/// <param name="PrevSample">x_{t-Δ} (<c>prev_sample</c>).</param>
/// <param name="PredOriginalSample">predicted x0 (<c>pred_original_sample</c>), after clipping/thresholding.</param>
public sealed record DdimStepOutput(Tensor PrevSample, Tensor PredOriginalSample);

/// <summary>
/// diffusers' <c>DDIMScheduler</c> (0.21.4) as pure functions of (config, number of inference steps): no mutable state,
/// so one instance serves any number of samplers. The schedule is held as float32 values exactly as diffusers computes
/// it; every tensor method works in the dtype and on the device of its inputs. DDIM inversion
/// (<see cref="InvertStep"/>, <see cref="Invert"/>) follows diffusers' <c>DDIMInverseScheduler</c> and the null-text
/// inversion code: it is the exact inverse of <see cref="Step"/> at the same timestep. As an <see cref="IScheduler"/>
/// (kind <c>ddim</c>, eta 0) its sampler calls <see cref="Step"/> and its inversion is <see cref="Invert"/>.
/// </summary>
public sealed class DDIMScheduler : IScheduler
{
    /// <summary>diffusers' file name for a scheduler config.</summary>
    public const string ConfigFileName = SchedulerConfig.FileName;

    /// <summary>diffusers' class name, written to <c>_class_name</c>.</summary>
    public const string ClassName = nameof(DDIMScheduler);

    readonly float[] betas;
    readonly float[] alphasCumprod;

    /// <summary>The validated config.</summary>
    public DDIMSchedulerConfig Config { get; }

    /// <inheritdoc />
    SchedulerConfig IScheduler.Config => Config;

    /// <inheritdoc />
    public string Kind => Schedulers.Ddim;

    /// <summary>beta_t for t = 0..T-1 (float32, as diffusers).</summary>
    public IReadOnlyList<float> Betas => betas;

    /// <summary>alpha-bar_t = prod_{s &lt;= t} (1 - beta_s) for t = 0..T-1 (float32, as diffusers).</summary>
    public IReadOnlyList<float> AlphasCumprod => alphasCumprod;

    /// <summary>alpha-bar used "before" timestep 0: 1 with <c>set_alpha_to_one</c>, else alpha-bar_0.</summary>
    public float FinalAlphaCumprod { get; }

    /// <summary>Number of training timesteps T.</summary>
    public int NumTrainTimesteps => Config.NumTrainTimesteps;

    /// <summary>Builds the schedule; an invalid config throws an error naming the key.</summary>
    public DDIMScheduler(DDIMSchedulerConfig config, string source = "DDIMScheduler config")
    {
        config.Validate(source);
        Config = config;
        var schedule = NoiseSchedule.Of(config);
        betas = schedule.Betas;
        alphasCumprod = schedule.AlphasCumprod;
        FinalAlphaCumprod = config.SetAlphaToOne ? 1f : alphasCumprod[0];
    }

    /// <summary>Reads a scheduler config file (any diffusers scheduler's file with these keys, e.g. SD's PNDM config).</summary>
    public static DDIMScheduler FromFile(string path) => new(SchedulerConfig.Read<DDIMSchedulerConfig>(path), path);

    /// <summary>
    /// Reads <c>scheduler_config.json</c> from a diffusers scheduler folder (or from its <c>scheduler</c> subfolder when
    /// given a pipeline folder).
    /// </summary>
    public static DDIMScheduler FromFolder(string schedulerFolder) => FromFile(SchedulerConfig.FindFile(schedulerFolder));

    /// <summary>Writes <c>scheduler_config.json</c> (class name DDIMScheduler) into <paramref name="folder"/>.</summary>
    public void Save(string folder) => SchedulerConfig.Write(folder, Config, ClassName);

    /// <summary>alpha-bar_t for t = 0..T-1 as a float32 tensor.</summary>
    public Tensor AlphasCumprodTensor(Device? device = null) => torch.tensor(alphasCumprod, dtype: ScalarType.Float32, device: device);

    /// <summary>
    /// The inference timesteps for <paramref name="numInferenceSteps"/> steps, descending (diffusers' <c>set_timesteps</c>):
    /// leading: (0..N-1) * (T / N) reversed + steps_offset; trailing: round(T, T - T/N, ...) - 1; linspace: round(linspace(0, T-1, N)) reversed.
    /// </summary>
    public long[] Timesteps(int numInferenceSteps)
    {
        CheckSteps(numInferenceSteps);
        int T = Config.NumTrainTimesteps, n = numInferenceSteps;
        switch (Config.TimestepSpacing)
        {
            case "linspace":
                // numpy.linspace(0, T-1, n).round() reversed (round half to even).
                return SchedulerMath.Linspace(T - 1, n).Select(v => (long)Math.Round(v, MidpointRounding.ToEven)).Reverse().ToArray();
            case "trailing":
                // numpy.arange(T, 0, -T/n).round() - 1.
                return SchedulerMath.Trailing(T, T / (double)n).Select(t => t - 1).ToArray();
            default:
            {
                long ratio = T / n;
                return Enumerable.Range(0, n).Select(i => i * ratio + Config.StepsOffset).Reverse().ToArray();
            }
        }
    }

    void CheckSteps(int numInferenceSteps)
    {
        if (numInferenceSteps < 1 || numInferenceSteps > Config.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps,
                $"numInferenceSteps must lie in [1, num_train_timesteps = {Config.NumTrainTimesteps}]");
    }

    void CheckTimestep(long t, string name)
    {
        if (t < 0 || t >= Config.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(name, t, $"{name} must lie in [0, {Config.NumTrainTimesteps - 1}]");
    }

    void CheckTimesteps(Tensor timesteps, Tensor like)
    {
        if (timesteps.dtype != ScalarType.Int64 && timesteps.dtype != ScalarType.Int32)
            throw new ArgumentException($"timesteps must be an integer tensor, got {timesteps.dtype}", nameof(timesteps));
        if (timesteps.numel() != 1 && timesteps.numel() != like.shape[0])
            throw new ArgumentException($"timesteps has {timesteps.numel()} values; expected 1 or the batch size {like.shape[0]}", nameof(timesteps));
        if (timesteps.numel() > 0)
        {
            CheckTimestep(timesteps.min().item<long>(), nameof(timesteps));
            CheckTimestep(timesteps.max().item<long>(), nameof(timesteps));
        }
    }

    static Tensor Const(float value, Tensor like) => SchedulerMath.Const(value, like);

    /// <summary>alpha-bar at a timestep, or <see cref="FinalAlphaCumprod"/> for a negative one (diffusers' prev-step rule).</summary>
    float AlphaBarOrFinal(long t) => t >= 0 ? alphasCumprod[t] : FinalAlphaCumprod;

    /// <summary>sqrt(alpha-bar_t) and sqrt(1 - alpha-bar_t) per batch item, shaped to broadcast against <paramref name="like"/>.</summary>
    (Tensor SqrtAlpha, Tensor SqrtOneMinusAlpha) Coefficients(Tensor timesteps, Tensor like)
    {
        CheckTimesteps(timesteps, like);
        var ac = torch.tensor(alphasCumprod, dtype: ScalarType.Float32, device: like.device).to_type(like.dtype);
        var a = ac.index_select(0, timesteps.flatten().to(ScalarType.Int64).to(like.device));
        var sqrtOneMinusA = (torch.ones_like(a) - a).sqrt();
        return (SchedulerMath.PerItem(a.sqrt(), like), SchedulerMath.PerItem(sqrtOneMinusA, like));
    }

    /// <summary>Forward process (Eq. 4 of DDPM): x_t = sqrt(alpha-bar_t) x0 + sqrt(1 - alpha-bar_t) noise; timesteps [B] or [1].</summary>
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        CheckSame(originalSamples, "originalSamples", noise, "noise");
        using var scope = torch.NewDisposeScope();
        var (a, s) = Coefficients(timesteps, originalSamples);
        return (a * originalSamples + s * noise).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="AddNoise(Tensor, Tensor, Tensor)"/> at one timestep for the whole batch.</summary>
    public Tensor AddNoise(Tensor originalSamples, Tensor noise, long timestep)
    {
        using var t = torch.tensor(new[] { timestep });
        return AddNoise(originalSamples, noise, t);
    }

    /// <summary>The v-prediction target: v = sqrt(alpha-bar_t) noise - sqrt(1 - alpha-bar_t) x0 (Salimans and Ho 2022).</summary>
    public Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps)
    {
        CheckSame(sample, "sample", noise, "noise");
        using var scope = torch.NewDisposeScope();
        var (a, s) = Coefficients(timesteps, sample);
        return (a * noise - s * sample).MoveToOuterDisposeScope();
    }

    static void CheckSame(Tensor a, string nameA, Tensor b, string nameB)
    {
        if (!a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"{nameB} has shape {Common.Check.Format(b.shape)}, expected the shape of {nameA} {Common.Check.Format(a.shape)}", nameB);
    }

    // x0 and epsilon from a model output at alpha-bar = alpha (Eq. 12 of DDIM; v: x0 = sqrt(a) x - sqrt(1-a) v, eps = sqrt(a) v + sqrt(1-a) x).
    (Tensor X0, Tensor Eps) Decompose(Tensor modelOutput, Tensor sample, float alpha)
    {
        CheckSame(sample, "sample", modelOutput, "modelOutput");
        float beta = 1f - alpha;
        var sqrtA = Const(MathF.Sqrt(alpha), sample);
        var sqrtB = Const(MathF.Sqrt(beta), sample);
        return Config.PredictionType switch
        {
            "epsilon" => ((sample - sqrtB * modelOutput) / sqrtA, modelOutput),
            "sample" => (modelOutput, (sample - sqrtA * modelOutput) / sqrtB),
            _ => (sqrtA * sample - sqrtB * modelOutput, sqrtA * modelOutput + sqrtB * sample),
        };
    }

    /// <summary>Predicted x0 from the model output at timestep <paramref name="timestep"/> (before any clipping).</summary>
    public Tensor PredictOriginal(Tensor modelOutput, long timestep, Tensor sample)
    {
        CheckTimestep(timestep, nameof(timestep));
        using var scope = torch.NewDisposeScope();
        return Decompose(modelOutput, sample, alphasCumprod[timestep]).X0.MoveToOuterDisposeScope();
    }

    /// <summary>Predicted noise epsilon from the model output at timestep <paramref name="timestep"/>.</summary>
    public Tensor PredictEpsilon(Tensor modelOutput, long timestep, Tensor sample)
    {
        CheckTimestep(timestep, nameof(timestep));
        using var scope = torch.NewDisposeScope();
        return Decompose(modelOutput, sample, alphasCumprod[timestep]).Eps.MoveToOuterDisposeScope();
    }

    // Step 4 of diffusers' step: dynamic thresholding or clipping of predicted x0.
    Tensor ClipOrThreshold(Tensor x0)
    {
        if (Config.Thresholding) return Threshold(x0);
        return Config.ClipSample ? Clip(x0) : x0;
    }

    // Tensor bounds rather than implicit Scalars (see torchsharp-pitfalls.md).
    Tensor Clip(Tensor x0) =>
        torch.clamp(x0, Const((float)-Config.ClipSampleRange, x0), Const((float)Config.ClipSampleRange, x0));

    Tensor Threshold(Tensor x0) => SchedulerMath.Threshold(x0, Config.DynamicThresholdingRatio, Config.SampleMaxValue);

    /// <summary>
    /// One DDIM step (Eq. 12 of DDIM) from x_t at <paramref name="timestep"/> to x_{t-Δ}, Δ = T / N: predicts x0 (clipped or
    /// thresholded as configured) and epsilon, then x_{t-Δ} = sqrt(alpha-bar_{t-Δ}) x0 + sqrt(1 - alpha-bar_{t-Δ} - sigma^2) eps
    /// (+ sigma z when <paramref name="eta"/> &gt; 0, sigma = eta sqrt((1-alpha-bar_{t-Δ})/(1-alpha-bar_t)) sqrt(1 - alpha-bar_t/alpha-bar_{t-Δ}), Eq. 16).
    /// </summary>
    public DdimStepOutput Step(Tensor modelOutput, long timestep, Tensor sample, int numInferenceSteps, double eta = 0.0, Generator? generator = null)
    {
        CheckSteps(numInferenceSteps);
        CheckTimestep(timestep, nameof(timestep));
        if (eta < 0 || !double.IsFinite(eta)) throw new ArgumentOutOfRangeException(nameof(eta), eta, "eta must be finite and >= 0");
        using var scope = torch.NewDisposeScope();
        long prev = timestep - Config.NumTrainTimesteps / numInferenceSteps;
        float alpha = alphasCumprod[timestep];
        float alphaPrev = AlphaBarOrFinal(prev);
        var (x0, eps) = Decompose(modelOutput, sample, alpha);
        x0 = ClipOrThreshold(x0);
        float beta = 1f - alpha, betaPrev = 1f - alphaPrev;
        float variance = betaPrev / beta * (1f - alpha / alphaPrev);
        float std = (float)eta * MathF.Sqrt(variance);
        var direction = Const(MathF.Sqrt(1f - alphaPrev - std * std), sample) * eps;
        var prevSample = Const(MathF.Sqrt(alphaPrev), sample) * x0 + direction;
        if (eta > 0)
        {
            var z = torch.randn(modelOutput.shape, dtype: modelOutput.dtype, device: modelOutput.device, generator: generator);
            prevSample = prevSample + Const(std, sample) * z;
        }
        return new DdimStepOutput(prevSample.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One DDIM inversion step, the exact inverse of <see cref="Step"/> (eta = 0) at the same <paramref name="timestep"/>:
    /// <paramref name="sample"/> is the latent at the previous inference timestep t - Δ (or the clean latent when t - Δ &lt; 0),
    /// <paramref name="modelOutput"/> the model's output for it at <paramref name="timestep"/>, and the result is x_t:
    /// x0 and eps are read at alpha-bar_{t-Δ}, then x_t = sqrt(alpha-bar_t) x0 + sqrt(1 - alpha-bar_t) eps
    /// (diffusers' <c>DDIMInverseScheduler.step</c>, the null-text inversion <c>next_step</c>).
    /// </summary>
    public Tensor InvertStep(Tensor modelOutput, long timestep, Tensor sample, int numInferenceSteps)
    {
        CheckSteps(numInferenceSteps);
        CheckTimestep(timestep, nameof(timestep));
        using var scope = torch.NewDisposeScope();
        long from = timestep - Config.NumTrainTimesteps / numInferenceSteps;
        float alphaFrom = AlphaBarOrFinal(from);
        float alpha = alphasCumprod[timestep];
        var (x0, eps) = Decompose(modelOutput, sample, alphaFrom);
        if (Config.ClipSample) x0 = Clip(x0);
        var next = Const(MathF.Sqrt(alpha), sample) * x0 + Const(MathF.Sqrt(1f - alpha), sample) * eps;
        return next.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// DDIM inversion of a clean latent: walks the inference timesteps of <paramref name="numInferenceSteps"/> upwards,
    /// calling <paramref name="model"/>(x, t) and <see cref="InvertStep"/> at each, up to and including the last timestep
    /// &lt;= <paramref name="stopAt"/> (all of them when null). Runs without gradients; every latent of the trajectory is returned.
    /// </summary>
    public InversionTrajectory Invert(Func<Tensor, long, Tensor> model, Tensor x0Latent, int numInferenceSteps, long? stopAt = null)
    {
        CheckSteps(numInferenceSteps);
        using var noGrad = torch.no_grad();
        var ascending = Timesteps(numInferenceSteps).Reverse().Where(t => stopAt is null || t <= stopAt).ToList();
        var latents = new List<Tensor> { x0Latent.detach().clone() };
        foreach (var t in ascending)
        {
            using var scope = torch.NewDisposeScope();
            var output = model(latents[^1], t);
            latents.Add(InvertStep(output, t, latents[^1], numInferenceSteps).MoveToOuterDisposeScope());
        }
        return new InversionTrajectory(ascending, latents);
    }

    /// <inheritdoc />
    IReadOnlyList<double> IScheduler.Timesteps(int steps) => Timesteps(steps).Select(t => (double)t).ToArray();

    /// <inheritdoc />
    public ISampler Sampler(int steps) => new DdimSampler(this, steps);

    // DDIM's sampling run (eta 0): no state between steps, the model input is the sample itself.
    sealed class DdimSampler(DDIMScheduler scheduler, int steps) : ISampler
    {
        readonly long[] timesteps = scheduler.Timesteps(steps);

        /// <inheritdoc />
        public IReadOnlyList<double> Timesteps { get; } = scheduler.Timesteps(steps).Select(t => (double)t).ToArray();

        /// <inheritdoc />
        public float InitNoiseSigma => 1f;

        /// <inheritdoc />
        public Tensor ScaleModelInput(Tensor sample, int index) => sample;

        /// <inheritdoc />
        public Tensor Step(Tensor modelOutput, int index, Tensor sample)
        {
            var output = scheduler.Step(modelOutput, timesteps[SchedulerMath.CheckIndex(index, timesteps.Length)], sample, steps);
            output.PredOriginalSample.Dispose();
            return output.PrevSample;
        }

        /// <inheritdoc />
        public Tensor AddNoise(Tensor originalSamples, Tensor noise, int index) =>
            scheduler.AddNoise(originalSamples, noise, timesteps[SchedulerMath.CheckIndex(index, timesteps.Length)]);

        /// <inheritdoc />
        public void Dispose() { }
    }
}
