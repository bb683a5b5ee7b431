using static TorchSharp.torch;

namespace GenSeg.Diffusion.Schedulers;

/// <summary>
/// A noise scheduler as pure math over tensors: an immutable function of its config that hands each sampling run its
/// own <see cref="ISampler"/> (which holds whatever the run needs between steps, e.g. DPM-Solver's previous output).
/// One instance serves any number of runs, on any number of threads.
/// </summary>
public interface IScheduler
{
    /// <summary>The kind's name in <see cref="Schedulers.Kinds"/>: ddim, dpm++2m or euler.</summary>
    string Kind { get; }

    /// <summary>The validated config (its shared keys; the concrete scheduler exposes its own record).</summary>
    SchedulerConfig Config { get; }

    /// <summary>Number of training timesteps T.</summary>
    int NumTrainTimesteps { get; }

    /// <summary>alpha-bar_t for t = 0..T-1 (float32, as diffusers).</summary>
    IReadOnlyList<float> AlphasCumprod { get; }

    /// <summary>The model timesteps of a <paramref name="steps"/>-step run, in the order they are sampled (diffusers'
    /// <c>set_timesteps</c>). Integers for DDIM and DPM-Solver; Euler's linspace spacing gives fractional ones.</summary>
    IReadOnlyList<double> Timesteps(int steps);

    /// <summary>A fresh sampler for one <paramref name="steps"/>-step run (dispose it when the run ends).</summary>
    ISampler Sampler(int steps);

    /// <summary>
    /// Inverts a clean latent: walks up a <paramref name="steps"/>-step schedule calling <paramref name="model"/>(x, t),
    /// up to and including the last latent whose timestep is &lt;= <paramref name="stopAt"/> (all when null). Runs
    /// without gradients; every latent of the trajectory is returned, in the model's (variance-preserving) space.
    /// </summary>
    InversionTrajectory Invert(Func<Tensor, long, Tensor> model, Tensor x0Latent, int steps, long? stopAt = null);
}

/// <summary>
/// One sampling run of an <see cref="IScheduler"/>, in diffusers' loop form:
/// <code>
/// x = noise * InitNoiseSigma;
/// for i: x = Step(model(ScaleModelInput(x, i), Timesteps[i]), i, x);
/// </code>
/// Steps run in order, once each; a multistep sampler throws when they do not. Tensors come back in the caller's
/// dispose scope; what the sampler keeps between steps it owns and frees on <see cref="IDisposable.Dispose"/>.
/// </summary>
public interface ISampler : IDisposable
{
    /// <summary>The model timesteps, in sampling order.</summary>
    IReadOnlyList<double> Timesteps { get; }

    /// <summary>The standard deviation of the starting noise: 1 for DDIM and DPM-Solver; Euler's largest sigma, or sqrt(sigma_max^2 + 1) for leading spacing.</summary>
    float InitNoiseSigma { get; }

    /// <summary>The model's input at step <paramref name="index"/> (Euler: sample / sqrt(sigma^2 + 1); others: the sample itself, not a copy).</summary>
    Tensor ScaleModelInput(Tensor sample, int index);

    /// <summary>The sample after step <paramref name="index"/>, from the model's output for <see cref="ScaleModelInput"/>.</summary>
    Tensor Step(Tensor modelOutput, int index, Tensor sample);

    /// <summary>Noises a clean sample to the level of step <paramref name="index"/> (diffusers' <c>add_noise</c> at <c>Timesteps[index]</c>), in the sampler's own space.</summary>
    Tensor AddNoise(Tensor originalSamples, Tensor noise, int index);
}

/// <summary>An inversion trajectory.</summary>
/// <param name="Timesteps">The timestep each inverted latent sits at, ascending.</param>
/// <param name="Latents">x0 first, then the latent at each of <paramref name="Timesteps"/> (one more than timesteps).</param>
public sealed record InversionTrajectory(IReadOnlyList<long> Timesteps, IReadOnlyList<Tensor> Latents)
{
    /// <summary>The last (noisiest) latent.</summary>
    public Tensor Last => Latents[^1];
}
