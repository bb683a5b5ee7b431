using System.Diagnostics;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Benchmarks;

/// <summary>Settings of <see cref="UNetBenchmark.Run"/>; defaults are SD 2.1's UNet on a 32x32 latent.</summary>
public sealed record UNetBenchmarkOptions
{
    /// <summary>The UNet to build (random weights): SD 2.1's architecture by default.</summary>
    public UNet2DConditionConfig Config { get; init; } = UNet2DConditionConfig.StableDiffusion2();

    /// <summary>Latent height and width.</summary>
    public int LatentSize { get; init; } = 32;

    /// <summary>Batch size.</summary>
    public int Batch { get; init; } = 1;

    /// <summary>Text tokens (CLIP's 77).</summary>
    public int Tokens { get; init; } = 77;

    /// <summary>Untimed forward passes before timing.</summary>
    public int Warmup { get; init; } = 1;

    /// <summary>Timed forward passes (the median is reported).</summary>
    public int Repeats { get; init; } = 3;

    /// <summary>Side of the square float32 matrices of the matmul reference.</summary>
    public int MatmulSize { get; init; } = 2048;

    /// <summary>Timed matrix products (the median is reported), spread between the UNet passes.</summary>
    public int MatmulRepeats { get; init; } = 12;

    /// <summary>Device to run on (default CPU).</summary>
    public Device? Device { get; init; }

    /// <summary>torch intra-op threads for the run (null: leave the current setting); restored afterwards.</summary>
    public int? Threads { get; init; }
}

/// <summary>Result of <see cref="UNetBenchmark.Run"/>.</summary>
/// <param name="UNetGflop">Floating-point work of one forward pass (GFLOP; multiply-add = 2), from conv, linear and attention matmuls.</param>
/// <param name="UNetSeconds">Median wall time of one forward pass.</param>
/// <param name="MatmulGflops">Median throughput of an NxN float32 matmul in the same run (GFLOP/s).</param>
/// <param name="Parameters">Number of UNet parameters.</param>
/// <param name="Threads">torch intra-op threads used.</param>
public sealed record UNetBenchmarkResult(double UNetGflop, double UNetSeconds, double MatmulGflops, long Parameters, int Threads)
{
    /// <summary>UNet throughput (GFLOP/s).</summary>
    public double UNetGflops => UNetGflop / UNetSeconds;

    /// <summary>UNet throughput as a fraction of the matmul throughput (target 0.5 or more).</summary>
    public double Ratio => UNetGflops / MatmulGflops;
}

/// <summary>
/// Measures the UNet forward pass (inference, no_grad) against the machine's matmul throughput in the same run, so the
/// ratio says how close the model's implementation comes to the hardware's dense-math speed.
/// </summary>
public static class UNetBenchmark
{
    /// <summary>Builds the UNet, counts its FLOPs, times it and a matmul, and returns the figures.</summary>
    public static UNetBenchmarkResult Run(UNetBenchmarkOptions? options = null)
    {
        var o = options ?? new UNetBenchmarkOptions();
        int previousThreads = torch.get_num_threads();
        if (o.Threads is { } threads) torch.set_num_threads(threads);
        try
        {
            return RunWith(o);
        }
        finally
        {
            torch.set_num_threads(previousThreads);
        }
    }

    static UNetBenchmarkResult RunWith(UNetBenchmarkOptions o)
    {
        var device = o.Device ?? torch.CPU;
        using var noGrad = torch.no_grad();
        using var model = UNet2DConditionModel.FromConfig(o.Config);
        model.to(device);
        model.eval();
        long parameters = model.parameters().Sum(p => p.numel());
        int cross = o.Config.CrossAttentionDim.Values[0];
        using var scope = torch.NewDisposeScope();
        var sample = torch.randn(new long[] { o.Batch, o.Config.InChannels, o.LatentSize, o.LatentSize }, device: device);
        var timestep = torch.tensor(new long[] { 261 }, device: device);
        var context = torch.randn(new long[] { o.Batch, o.Tokens, cross }, device: device);

        double gflop = CountFlops(model, sample, timestep, context) / 1e9;
        for (int i = 0; i < o.Warmup; i++) Time(() => model.Forward(sample, timestep, context));

        // UNet passes and matmul rounds alternate, so both see the same machine load.
        var a = torch.randn(new long[] { o.MatmulSize, o.MatmulSize }, device: device);
        var m = torch.randn(new long[] { o.MatmulSize, o.MatmulSize }, device: device);
        Time(() => torch.matmul(a, m));
        var unet = new List<double>();
        var matmul = new List<double>();
        int perRound = Math.Max(1, o.MatmulRepeats / Math.Max(1, o.Repeats));
        for (int r = 0; r < o.Repeats; r++)
        {
            unet.Add(Time(() => model.Forward(sample, timestep, context)));
            for (int k = 0; k < perRound; k++) matmul.Add(Time(() => torch.matmul(a, m)));
        }
        double matmulGflops = 2.0 * o.MatmulSize * o.MatmulSize * (double)o.MatmulSize / Median(matmul) / 1e9;
        return new UNetBenchmarkResult(gflop, Median(unet), matmulGflops, parameters, torch.get_num_threads());
    }

    /// <summary>Median throughput of an <paramref name="n"/>x<paramref name="n"/> float32 matmul (GFLOP/s, 2 n^3 per product).</summary>
    public static double MatmulGflops(int n, int repeats, Device? device = null)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var a = torch.randn(new long[] { n, n }, device: device);
        var b = torch.randn(new long[] { n, n }, device: device);
        torch.matmul(a, b).Dispose();
        double seconds = Median(Enumerable.Range(0, repeats).Select(_ => Time(() => torch.matmul(a, b))));
        return 2.0 * n * n * (double)n / seconds / 1e9;
    }

    /// <summary>
    /// FLOPs of one forward pass as run, counted by <see cref="FlopCount.Counter"/>: every convolution (the upsampling
    /// convolutions in their phase form), linear layer and attention matrix product. Normalisations, activations and
    /// additions are not counted.
    /// </summary>
    public static double CountFlops(UNet2DConditionModel model, Tensor sample, Tensor timestep, Tensor context)
    {
        using var scope = torch.NewDisposeScope();
        using var counter = new FlopCount.Counter(model);
        model.Forward(sample, timestep, context);
        return counter.Flops;
    }

    static double Time(Func<Tensor> run)
    {
        using var scope = torch.NewDisposeScope();
        var sw = Stopwatch.StartNew();
        var r = run();
        r.sum().item<float>(); // make sure the work is done (a no-op on the CPU, a sync elsewhere)
        return sw.Elapsed.TotalSeconds;
    }

    static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
