using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Schedulers;

/// <summary>
/// The <c>scheduler_config.json</c> of a diffusers <c>DPMSolverMultistepScheduler</c>. Defaults are diffusers' constructor
/// defaults (DPM-Solver++ 2M: <c>dpmsolver++</c>, order 2, midpoint, lower-order final steps, final sigma zero,
/// linspace spacing). Keys the kit does not implement are kept so that a non-default value is rejected by name.
/// </summary>
public sealed record DPMSolverMultistepSchedulerConfig : ThresholdedSchedulerConfig
{
    /// <summary><c>solver_order</c>: 2 (DPM-Solver++ 2M) or 1 (first order, DDIM's step).</summary>
    public int SolverOrder { get; init; } = 2;
    /// <summary><c>algorithm_type</c>: dpmsolver++ (the data-prediction solver of Lu et al. 2022b).</summary>
    public string AlgorithmType { get; init; } = "dpmsolver++";
    /// <summary><c>solver_type</c>: midpoint or heun, the second-order update's form.</summary>
    public string SolverType { get; init; } = "midpoint";
    /// <summary><c>lower_order_final</c>: first- and second-last steps of a run under 15 steps drop to lower order.</summary>
    public bool LowerOrderFinal { get; init; } = true;
    /// <summary><c>euler_at_final</c>: the last step is first order.</summary>
    public bool EulerAtFinal { get; init; }
    /// <summary><c>use_karras_sigmas</c>: not implemented (false only).</summary>
    public bool UseKarrasSigmas { get; init; }
    /// <summary><c>use_exponential_sigmas</c>: not implemented (false only).</summary>
    public bool UseExponentialSigmas { get; init; }
    /// <summary><c>use_beta_sigmas</c>: not implemented (false only).</summary>
    public bool UseBetaSigmas { get; init; }
    /// <summary><c>use_lu_lambdas</c>: not implemented (false only).</summary>
    public bool UseLuLambdas { get; init; }
    /// <summary><c>use_flow_sigmas</c>: not implemented (false only).</summary>
    public bool UseFlowSigmas { get; init; }
    /// <summary><c>flow_shift</c>: flow matching only; read and ignored.</summary>
    public double FlowShift { get; init; } = 1.0;
    /// <summary><c>final_sigmas_type</c>: zero or sigma_min, the sigma after the last step.</summary>
    public string FinalSigmasType { get; init; } = "zero";
    /// <summary><c>lambda_min_clipped</c>: timesteps whose log-SNR lambda lies below it are not sampled (cosine schedules).</summary>
    public double LambdaMinClipped { get; init; } = double.NegativeInfinity;
    /// <summary><c>variance_type</c>: learned variances are not implemented (null only).</summary>
    public string? VarianceType { get; init; }
    /// <summary><c>use_dynamic_shifting</c>: flow matching only (false only).</summary>
    public bool UseDynamicShifting { get; init; }
    /// <summary><c>time_shift_type</c>: flow matching only; read and ignored.</summary>
    public string TimeShiftType { get; init; } = "exponential";

    /// <inheritdoc />
    protected override void CheckSchedulerKeys(ConfigCheck check)
    {
        check.Require(SolverOrder is 1 or 2, "solver_order", SolverOrder, "1 or 2 (order 3 is not implemented)");
        check.OneOf("algorithm_type", AlgorithmType, new[] { "dpmsolver++" }, "the other DPM-Solver variants are not implemented");
        check.OneOf("solver_type", SolverType, new[] { "midpoint", "heun" });
        check.OneOf("final_sigmas_type", FinalSigmasType, SchedulerConfig.FinalSigmasTypes);
        check.Require(!double.IsNaN(LambdaMinClipped), "lambda_min_clipped", LambdaMinClipped, "a number or -Infinity");
        check.Require(VarianceType is null, "variance_type", VarianceType, "null (learned variances are not implemented)");
        foreach (var (key, on) in new[] { ("use_karras_sigmas", UseKarrasSigmas), ("use_exponential_sigmas", UseExponentialSigmas),
                     ("use_beta_sigmas", UseBetaSigmas), ("use_lu_lambdas", UseLuLambdas), ("use_flow_sigmas", UseFlowSigmas),
                     ("use_dynamic_shifting", UseDynamicShifting) })
            check.Require(!on, key, on, "false (only diffusers' default sigmas are implemented)");
    }
}

/// <summary>
/// diffusers' <c>DPMSolverMultistepScheduler</c> with <c>algorithm_type</c> dpmsolver++ (DPM-Solver++ 2M, Lu et al.
/// 2022b, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models", Algorithm 2) as pure
/// functions of (config, number of steps). The multistep state (the previous data prediction) lives in the
/// <see cref="ISampler"/> each run gets, never in the scheduler. Sampling runs in the variance-preserving space
/// (x_t = alpha_t x0 + sigma_t eps, initial noise sigma 1); sigma below is diffusers' sigma = sigma_t / alpha_t.
/// <see cref="Invert"/> follows diffusers' <c>DPMSolverMultistepInverseScheduler</c>.
/// </summary>
public sealed class DPMSolverMultistepScheduler : SigmaScheduler<DPMSolverMultistepSchedulerConfig>
{
    /// <summary>diffusers' class name, written to <c>_class_name</c>.</summary>
    public const string ClassName = nameof(DPMSolverMultistepScheduler);

    readonly int clippedIndex;

    /// <inheritdoc />
    public override string Kind => Schedulers.DpmSolver2M;

    /// <summary>Builds the schedule; an invalid config throws an error naming the key.</summary>
    public DPMSolverMultistepScheduler(DPMSolverMultistepSchedulerConfig config, string source = "DPMSolverMultistepScheduler config")
        : base(config, source)
    {
        // diffusers: clipped_idx = searchsorted(flip(lambda_t), lambda_min_clipped), lambda_t = log(alpha_t) - log(sigma_t).
        var lambdas = AlphasCumprod.Select(a => MathF.Log(MathF.Sqrt(a)) - MathF.Log(MathF.Sqrt(1f - a))).Reverse().ToArray();
        float floor = (float)config.LambdaMinClipped;
        int idx = Array.FindIndex(lambdas, l => l >= floor);
        clippedIndex = idx < 0 ? lambdas.Length : idx;
        new ConfigCheck(source).Require(clippedIndex < NumTrainTimesteps - 1, "lambda_min_clipped", config.LambdaMinClipped,
            $"a log-SNR floor that leaves timesteps to sample (the largest lambda is {lambdas[^1].ToString(System.Globalization.CultureInfo.InvariantCulture)})");
    }

    /// <summary>Reads a scheduler config file (any diffusers scheduler's; keys it lacks take DPM-Solver's defaults).</summary>
    public static DPMSolverMultistepScheduler FromFile(string path) => new(SchedulerConfig.Read<DPMSolverMultistepSchedulerConfig>(path), path);

    /// <summary>Reads <c>scheduler_config.json</c> from a scheduler folder (or the <c>scheduler</c> subfolder of a pipeline folder).</summary>
    public static DPMSolverMultistepScheduler FromFolder(string folder) => FromFile(SchedulerConfig.FindFile(folder));

    /// <summary>Writes <c>scheduler_config.json</c> (class name DPMSolverMultistepScheduler) into <paramref name="folder"/>.</summary>
    public void Save(string folder) => SchedulerConfig.Write(folder, Config, ClassName);

    /// <summary>The noisiest timestep sampled: T - 1 less the timesteps <c>lambda_min_clipped</c> removes.</summary>
    public long NoisiestTimestep => NumTrainTimesteps - 1 - clippedIndex;

    /// <summary>
    /// The inference timesteps, descending (diffusers' <c>set_timesteps</c>; L = T - clipped): linspace:
    /// round(linspace(0, L-1, N+1)) reversed without 0; leading: (N, ..., 1) * (L // (N+1)) + steps_offset;
    /// trailing: round(arange(L, 0, -T/N)) - 1.
    /// </summary>
    public long[] Timesteps(int steps)
    {
        CheckSteps(steps);
        long last = NumTrainTimesteps - clippedIndex;
        return Config.TimestepSpacing switch
        {
            "linspace" => SchedulerMath.Linspace(last - 1, steps + 1).Select(v => (long)Math.Round(v, MidpointRounding.ToEven)).Reverse().SkipLast(1).ToArray(),
            "leading" => Enumerable.Range(1, steps).Reverse().Select(i => i * (last / (steps + 1)) + Config.StepsOffset).ToArray(),
            _ => SchedulerMath.Trailing(last, NumTrainTimesteps / (double)steps).Select(t => t - 1).ToArray(),
        };
    }

    /// <summary>The sigma at each of <see cref="Timesteps"/> and after the last step (0, or sigma_0 for sigma_min): N + 1 values.</summary>
    public float[] Sigmas(int steps) => SigmasAt(Timesteps(steps).Select(t => (double)t), Config.FinalSigmasType == "zero" ? 0f : TrainSigmas[0]);

    /// <summary>
    /// The inversion's timesteps, ascending (diffusers' <c>DPMSolverMultistepInverseScheduler.set_timesteps</c>; L =
    /// <see cref="NoisiestTimestep"/>): linspace: round(linspace(0, L, N+1)) without L; leading: (0, ..., N-1) *
    /// ((L+1) // (N+1)) + steps_offset; trailing: round(arange(L+1, 0, -T/N)) reversed - 1.
    /// </summary>
    public long[] InverseTimesteps(int steps)
    {
        CheckSteps(steps);
        long noisiest = NoisiestTimestep;
        var ts = Config.TimestepSpacing switch
        {
            "linspace" => SchedulerMath.Linspace(noisiest, steps + 1).Select(v => (long)Math.Round(v, MidpointRounding.ToEven)).SkipLast(1).ToArray(),
            "leading" => Enumerable.Range(0, steps).Select(i => i * ((noisiest + 1) / (steps + 1)) + Config.StepsOffset).ToArray(),
            _ => SchedulerMath.Trailing(noisiest + 1, NumTrainTimesteps / (double)steps).Reverse().Select(t => t - 1).ToArray(),
        };
        for (int i = 1; i < ts.Length; i++)
            if (ts[i] <= ts[i - 1])
                throw new ArgumentOutOfRangeException(nameof(steps), steps, $"inversion: {steps} steps repeat timestep {ts[i]} under {Config.TimestepSpacing} spacing; use fewer steps");
        return ts;
    }

    /// <summary>The sigma at each of <see cref="InverseTimesteps"/> and the noisiest timestep's: N + 1 values, ascending.</summary>
    public float[] InverseSigmas(int steps) => SigmasAt(InverseTimesteps(steps).Select(t => (double)t), TrainSigmas[NoisiestTimestep]);

    /// <inheritdoc />
    protected override IReadOnlyList<double> ModelTimesteps(int steps) => Timesteps(steps).Select(t => (double)t).ToArray();

    /// <inheritdoc />
    public override ISampler Sampler(int steps)
    {
        var ts = Timesteps(steps);
        // diffusers' step: the last step is first order with euler_at_final, lower_order_final under 15 steps, or a zero final sigma.
        bool firstOrderLast = Config.EulerAtFinal || (Config.LowerOrderFinal && ts.Length < 15) || Config.FinalSigmasType == "zero";
        return new MultistepSampler(this, ts, Sigmas(steps), firstOrderLast);
    }

    /// <summary>A sampler for the inversion's ascending grid (<see cref="InverseTimesteps"/>, <see cref="InverseSigmas"/>).</summary>
    public ISampler InverseSampler(int steps)
    {
        var ts = InverseTimesteps(steps);
        bool firstOrderLast = Config.EulerAtFinal || (Config.LowerOrderFinal && ts.Length < 15);
        return new MultistepSampler(this, ts, InverseSigmas(steps), firstOrderLast);
    }

    /// <summary>
    /// DPM-Solver++ inversion (diffusers' <c>DPMSolverMultistepInverseScheduler</c>): the clean latent is taken as the
    /// sample at the first inverse timestep; step i calls <paramref name="model"/> at <see cref="InverseTimesteps"/>[i]
    /// and moves the latent to the next timestep (the noisiest after the last step). Stops after the last latent whose
    /// timestep is &lt;= <paramref name="stopAt"/>.
    /// </summary>
    public override InversionTrajectory Invert(Func<Tensor, long, Tensor> model, Tensor x0Latent, int steps, long? stopAt = null)
    {
        using var noGrad = torch.no_grad();
        using var sampler = InverseSampler(steps);
        var ts = InverseTimesteps(steps);
        var reached = new List<long>();
        var latents = new List<Tensor> { x0Latent.detach().clone() };
        for (int i = 0; i < ts.Length; i++)
        {
            long next = i + 1 < ts.Length ? ts[i + 1] : NoisiestTimestep;
            if (stopAt is { } stop && next > stop) break;
            using var scope = torch.NewDisposeScope();
            var output = model(latents[^1], ts[i]);
            latents.Add(sampler.Step(output, i, latents[^1]).MoveToOuterDisposeScope());
            reached.Add(next);
        }
        return new InversionTrajectory(reached, latents);
    }

    /// <summary>diffusers' <c>_sigma_to_alpha_sigma_t</c>: alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma alpha_t (float32).</summary>
    public static (float Alpha, float Sigma) AlphaSigma(float sigma)
    {
        float alpha = 1f / MathF.Sqrt(sigma * sigma + 1f);
        return (alpha, sigma * alpha);
    }

    // lambda = log(alpha_t) - log(sigma_t), the half log-SNR (Eq. 3.1 of DPM-Solver).
    static float Lambda(float alpha, float sigma) => MathF.Log(alpha) - MathF.Log(sigma);

    /// <summary>
    /// diffusers' <c>convert_model_output</c> for dpmsolver++: the data prediction x0 at sigma (epsilon:
    /// (x - sigma_t eps) / alpha_t; v: alpha_t x - sigma_t v; sample: as is), thresholded when configured.
    /// </summary>
    public Tensor DataPrediction(Tensor modelOutput, Tensor sample, float sigma)
    {
        using var scope = torch.NewDisposeScope();
        var (alpha, sigmaT) = AlphaSigma(sigma);
        var x0 = Config.PredictionType switch
        {
            "epsilon" => (sample - SchedulerMath.Const(sigmaT, sample) * modelOutput) / SchedulerMath.Const(alpha, sample),
            "v_prediction" => SchedulerMath.Const(alpha, sample) * sample - SchedulerMath.Const(sigmaT, sample) * modelOutput,
            _ => modelOutput.alias(),
        };
        if (Config.Thresholding) x0 = SchedulerMath.Threshold(x0, Config.DynamicThresholdingRatio, Config.SampleMaxValue);
        return x0.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The first-order step from sigma_s to sigma_t (DPM-Solver++(1), Eq. 5.2 of DPM-Solver++; DDIM's step):
    /// x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) x0, h = lambda_t - lambda_s.
    /// </summary>
    public static Tensor FirstOrderUpdate(Tensor x0, Tensor sample, float sigmaS, float sigmaT)
    {
        using var scope = torch.NewDisposeScope();
        var (alphaT, sT) = AlphaSigma(sigmaT);
        var (alphaS, sS) = AlphaSigma(sigmaS);
        float h = Lambda(alphaT, sT) - Lambda(alphaS, sS);
        var x = SchedulerMath.Const(sT / sS, sample) * sample - SchedulerMath.Const(alphaT * (MathF.Exp(-h) - 1f), sample) * x0;
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The multistep second-order step (DPM-Solver++(2M), Algorithm 2 of DPM-Solver++) from sigma_s0 to sigma_t, with
    /// the data predictions m0 at sigma_s0 and m1 at the previous sigma_s1: D0 = m0, D1 = (m0 - m1) / r0 with
    /// r0 = h_0 / h; midpoint: x_t = (sigma_t / sigma_s0) x - alpha_t (e^{-h} - 1) D0 - 0.5 alpha_t (e^{-h} - 1) D1;
    /// heun: ... + alpha_t ((e^{-h} - 1) / h + 1) D1.
    /// </summary>
    public Tensor SecondOrderUpdate(Tensor m0, Tensor m1, Tensor sample, float sigmaS1, float sigmaS0, float sigmaT)
    {
        using var scope = torch.NewDisposeScope();
        var (alphaT, sT) = AlphaSigma(sigmaT);
        var (alphaS0, sS0) = AlphaSigma(sigmaS0);
        var (alphaS1, sS1) = AlphaSigma(sigmaS1);
        float lambdaT = Lambda(alphaT, sT), lambdaS0 = Lambda(alphaS0, sS0), lambdaS1 = Lambda(alphaS1, sS1);
        float h = lambdaT - lambdaS0, h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        var d1 = SchedulerMath.Const(1f / r0, sample) * (m0 - m1);
        float expm1 = MathF.Exp(-h) - 1f;
        var x = SchedulerMath.Const(sT / sS0, sample) * sample - SchedulerMath.Const(alphaT * expm1, sample) * m0;
        x = Config.SolverType == "midpoint"
            ? x - SchedulerMath.Const(0.5f * (alphaT * expm1), sample) * d1
            : x + SchedulerMath.Const(alphaT * (expm1 / h + 1f), sample) * d1;
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One DPM-Solver++ run over a grid of sigmas (descending to sample, ascending to invert). Holds what diffusers'
    /// scheduler keeps between steps: the previous data prediction and how many lower-order steps were taken.
    /// </summary>
    sealed class MultistepSampler(DPMSolverMultistepScheduler scheduler, long[] timesteps, float[] sigmas, bool firstOrderLast) : ISampler
    {
        Tensor? previous;
        int taken;

        /// <inheritdoc />
        public IReadOnlyList<double> Timesteps { get; } = timesteps.Select(t => (double)t).ToArray();

        /// <inheritdoc />
        public float InitNoiseSigma => 1f;

        /// <inheritdoc />
        public Tensor ScaleModelInput(Tensor sample, int index) => sample;

        /// <inheritdoc />
        public Tensor Step(Tensor modelOutput, int index, Tensor sample)
        {
            int n = timesteps.Length;
            SchedulerMath.CheckIndex(index, n);
            if (index != taken)
                throw new InvalidOperationException($"{scheduler.Kind}: step {index} after {taken} steps; a sampler's steps run in order, once each (make a new sampler for a new run)");
            if (!modelOutput.shape.SequenceEqual(sample.shape))
                throw new ArgumentException($"modelOutput has shape {Common.Check.Format(modelOutput.shape)}, expected the shape of sample {Common.Check.Format(sample.shape)}", nameof(modelOutput));
            using var scope = torch.NewDisposeScope();
            var config = scheduler.Config;
            // diffusers also lowers the second-last step to order 2 under 15 steps: with order 2 the highest, a no-op here.
            bool lowerOrderLast = index == n - 1 && firstOrderLast;
            var x0 = scheduler.DataPrediction(modelOutput, sample, sigmas[index]);
            var x = sample.to_type(ScalarType.Float32); // diffusers upcasts the sample for the update
            Tensor next;
            if (config.SolverOrder == 1 || previous is null || lowerOrderLast)
                next = FirstOrderUpdate(x0, x, sigmas[index], sigmas[index + 1]);
            else next = scheduler.SecondOrderUpdate(x0, previous, x, sigmas[index - 1], sigmas[index], sigmas[index + 1]);
            previous?.Dispose();
            previous = x0.DetachFromDisposeScope();
            taken++;
            return next.to_type(modelOutput.dtype).MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        public Tensor AddNoise(Tensor originalSamples, Tensor noise, int index)
        {
            var (alpha, sigma) = AlphaSigma(sigmas[SchedulerMath.CheckIndex(index, timesteps.Length)]);
            using var scope = torch.NewDisposeScope();
            return (SchedulerMath.Const(alpha, originalSamples) * originalSamples + SchedulerMath.Const(sigma, noise) * noise).MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        public void Dispose()
        {
            previous?.Dispose();
            previous = null;
        }
    }
}
