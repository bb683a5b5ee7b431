using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Schedulers;

/// <summary>
/// The <c>scheduler_config.json</c> of a diffusers <c>EulerDiscreteScheduler</c>. Defaults are diffusers' constructor
/// defaults (linear interpolation of the training sigmas, linspace spacing, final sigma zero). Keys the kit does not
/// implement are kept so that a non-default value is rejected by name.
/// </summary>
public sealed record EulerDiscreteSchedulerConfig : SchedulerConfig
{
    /// <summary><c>interpolation_type</c>: linear (log_linear is not implemented).</summary>
    public string InterpolationType { get; init; } = "linear";
    /// <summary><c>use_karras_sigmas</c>: not implemented (false or null only).</summary>
    public bool? UseKarrasSigmas { get; init; } = false;
    /// <summary><c>use_exponential_sigmas</c>: not implemented (false or null only).</summary>
    public bool? UseExponentialSigmas { get; init; } = false;
    /// <summary><c>use_beta_sigmas</c>: not implemented (false or null only).</summary>
    public bool? UseBetaSigmas { get; init; } = false;
    /// <summary><c>sigma_min</c>: used by the Karras-type sigmas only; read and ignored.</summary>
    public double? SigmaMin { get; init; }
    /// <summary><c>sigma_max</c>: used by the Karras-type sigmas only; read and ignored.</summary>
    public double? SigmaMax { get; init; }
    /// <summary><c>timestep_type</c>: discrete (continuous, EDM's, is not implemented).</summary>
    public string TimestepType { get; init; } = "discrete";
    /// <summary><c>final_sigmas_type</c>: zero or sigma_min, the sigma after the last step.</summary>
    public string FinalSigmasType { get; init; } = "zero";

    /// <inheritdoc />
    protected override void CheckOwnKeys(ConfigCheck check)
    {
        check.OneOf("interpolation_type", InterpolationType, new[] { "linear" }, "log_linear is not implemented");
        check.OneOf("timestep_type", TimestepType, new[] { "discrete" }, "continuous is not implemented");
        check.OneOf("final_sigmas_type", FinalSigmasType, SchedulerConfig.FinalSigmasTypes);
        foreach (var (key, on) in new[] { ("use_karras_sigmas", UseKarrasSigmas), ("use_exponential_sigmas", UseExponentialSigmas), ("use_beta_sigmas", UseBetaSigmas) })
            check.Require(on != true, key, on, "false (only diffusers' default sigmas are implemented)");
    }
}

/// <summary>
/// diffusers' <c>EulerDiscreteScheduler</c> (deterministic: s_churn 0) as pure functions of (config, number of steps).
/// It samples the probability-flow ODE in sigma space (Karras et al. 2022, Eq. 4 with sigma(t) = t, Algorithm 1's
/// Euler step): the sample is x_t / alpha_t, the start is noise times <see cref="InitNoiseSigma"/>, and the model sees
/// <c>scale_model_input</c>'s sample / sqrt(sigma^2 + 1). Its sampler keeps no state between steps. Its inversion is
/// the first-order DPM-Solver++ inversion (<see cref="Invert"/>), the same Euler step run up the sigmas.
/// </summary>
public sealed class EulerDiscreteScheduler : SigmaScheduler<EulerDiscreteSchedulerConfig>
{
    /// <summary>diffusers' class name, written to <c>_class_name</c>.</summary>
    public const string ClassName = nameof(EulerDiscreteScheduler);

    /// <inheritdoc />
    public override string Kind => Schedulers.Euler;

    /// <summary>Builds the schedule; an invalid config throws an error naming the key.</summary>
    public EulerDiscreteScheduler(EulerDiscreteSchedulerConfig config, string source = "EulerDiscreteScheduler config") : base(config, source) { }

    /// <summary>Reads a scheduler config file (any diffusers scheduler's; keys it lacks take Euler's defaults).</summary>
    public static EulerDiscreteScheduler FromFile(string path) => new(SchedulerConfig.Read<EulerDiscreteSchedulerConfig>(path), path);

    /// <summary>Reads <c>scheduler_config.json</c> from a scheduler folder (or the <c>scheduler</c> subfolder of a pipeline folder).</summary>
    public static EulerDiscreteScheduler FromFolder(string folder) => FromFile(SchedulerConfig.FindFile(folder));

    /// <summary>Writes <c>scheduler_config.json</c> (class name EulerDiscreteScheduler) into <paramref name="folder"/>.</summary>
    public void Save(string folder) => SchedulerConfig.Write(folder, Config, ClassName);

    /// <summary>
    /// The inference timesteps, descending, as float32 values (diffusers' <c>set_timesteps</c>): linspace:
    /// linspace(0, T-1, N) reversed (fractional in general); leading: (N-1, ..., 0) * (T // N) + steps_offset;
    /// trailing: round(arange(T, 0, -T/N)) - 1.
    /// </summary>
    public double[] Timesteps(int steps)
    {
        CheckSteps(steps);
        int T = NumTrainTimesteps;
        var ts = Config.TimestepSpacing switch
        {
            "linspace" => SchedulerMath.Linspace(T - 1, steps).Select(v => (float)v).Reverse(),
            "leading" => Enumerable.Range(0, steps).Reverse().Select(i => (float)(i * (T / steps)) + Config.StepsOffset),
            _ => SchedulerMath.Trailing(T, T / (double)steps).Select(t => (float)t - 1f),
        };
        return ts.Select(t => (double)t).ToArray();
    }

    /// <summary>The sigma at each of <see cref="Timesteps"/> (numpy.interp of the training sigmas) and after the last step: N + 1 values.</summary>
    public float[] Sigmas(int steps) => SigmasAt(Timesteps(steps), Config.FinalSigmasType == "zero" ? 0f : TrainSigmas[0]);

    /// <summary>diffusers' <c>init_noise_sigma</c>: the largest sigma (linspace and trailing spacing) or sqrt(sigma_max^2 + 1) (leading).</summary>
    public float InitNoiseSigma(int steps)
    {
        float max = Sigmas(steps).Max();
        return Config.TimestepSpacing is "linspace" or "trailing" ? max : MathF.Sqrt(max * max + 1f);
    }

    /// <inheritdoc />
    protected override IReadOnlyList<double> ModelTimesteps(int steps) => Timesteps(steps);

    /// <inheritdoc />
    public override ISampler Sampler(int steps) => new EulerSampler(Config.PredictionType, Timesteps(steps), Sigmas(steps), InitNoiseSigma(steps));

    /// <summary>
    /// Inversion by the Euler step run up the sigmas: in sigma space Euler's step is DPM-Solver++'s first-order step
    /// (both are DDIM's), so this is <see cref="DPMSolverMultistepScheduler.Invert"/> with <c>solver_order</c> 1 on this
    /// config's shared keys (diffusers has no Euler inverse scheduler). Latents come back in the model's space.
    /// </summary>
    public override InversionTrajectory Invert(Func<Tensor, long, Tensor> model, Tensor x0Latent, int steps, long? stopAt = null)
    {
        var dpm = SchedulerConfig.Convert<DPMSolverMultistepSchedulerConfig>(Config) with { SolverOrder = 1 };
        return new DPMSolverMultistepScheduler(dpm, "EulerDiscreteScheduler config as DPM-Solver++ (order 1)").Invert(model, x0Latent, steps, stopAt);
    }

    /// <summary>
    /// One Euler step (s_churn 0) from sigmas[index] to sigmas[index + 1] (diffusers' <c>step</c>): x0 from the output
    /// (epsilon: x - sigma eps; v: v (-sigma / sqrt(sigma^2 + 1)) + x / (sigma^2 + 1); sample: as is), derivative
    /// d = (x - x0) / sigma, x' = x + d (sigma' - sigma). Computed in float32, returned in the output's dtype.
    /// </summary>
    public static Tensor EulerStep(string predictionType, Tensor modelOutput, Tensor sample, float sigma, float sigmaNext)
    {
        if (!modelOutput.shape.SequenceEqual(sample.shape))
            throw new ArgumentException($"modelOutput has shape {Common.Check.Format(modelOutput.shape)}, expected the shape of sample {Common.Check.Format(sample.shape)}", nameof(modelOutput));
        using var scope = torch.NewDisposeScope();
        var x = sample.to_type(ScalarType.Float32);
        Tensor C(float v) => SchedulerMath.Const(v, x);
        var x0 = predictionType switch
        {
            "epsilon" => x - C(sigma) * modelOutput,
            "v_prediction" => modelOutput * C(-sigma / MathF.Sqrt(sigma * sigma + 1f)) + x / C(sigma * sigma + 1f),
            _ => modelOutput.to_type(ScalarType.Float32),
        };
        var derivative = (x - x0) / C(sigma);
        var next = x + derivative * C(sigmaNext - sigma);
        return next.to_type(modelOutput.dtype).MoveToOuterDisposeScope();
    }

    // Euler's run: no state between steps.
    sealed class EulerSampler(string predictionType, double[] timesteps, float[] sigmas, float initNoiseSigma) : ISampler
    {
        /// <inheritdoc />
        public IReadOnlyList<double> Timesteps => timesteps;

        /// <inheritdoc />
        public float InitNoiseSigma => initNoiseSigma;

        /// <inheritdoc />
        public Tensor ScaleModelInput(Tensor sample, int index)
        {
            float sigma = sigmas[SchedulerMath.CheckIndex(index, timesteps.Length)];
            using var scope = torch.NewDisposeScope();
            return (sample / SchedulerMath.Const(MathF.Sqrt(sigma * sigma + 1f), sample)).MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        public Tensor Step(Tensor modelOutput, int index, Tensor sample) =>
            EulerStep(predictionType, modelOutput, sample, sigmas[SchedulerMath.CheckIndex(index, timesteps.Length)], sigmas[index + 1]);

        /// <inheritdoc />
        public Tensor AddNoise(Tensor originalSamples, Tensor noise, int index)
        {
            float sigma = sigmas[SchedulerMath.CheckIndex(index, timesteps.Length)];
            using var scope = torch.NewDisposeScope();
            return (originalSamples + noise * SchedulerMath.Const(sigma, noise)).MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        public void Dispose() { }
    }
}
