using System.Diagnostics;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Benchmarks;

/// <summary>Settings of <see cref="CpuKernelCheck.Run"/>.</summary>
public sealed record CpuKernelCheckOptions
{
    /// <summary>Model folder whose <c>unet/</c> and <c>vae/</c> are checked (their trained weights, so values are realistic).</summary>
    public required string ModelFolder { get; init; }

    /// <summary>Training steps (forward and backward of the UNet and the VAE) repeated on the same data.</summary>
    public int Repeats { get; init; } = 40;

    /// <summary>Images per step.</summary>
    public int Batch { get; init; } = 8;

    /// <summary>Seed of the fixed inputs.</summary>
    public int Seed { get; init; } = 0;

    /// <summary>Called after each repetition with (done, total, mismatches so far).</summary>
    public Action<int, int, int>? Progress { get; init; }
}

/// <summary>The result of <see cref="CpuKernelCheck.Run"/>.</summary>
/// <param name="Repeats">Repetitions compared with the first.</param>
/// <param name="Mismatches">Repetitions whose loss or gradients differ from the first's in any bit.</param>
/// <param name="NonFinite">Repetitions with a non-finite loss or gradient.</param>
/// <param name="MaxAbsDifference">Largest difference of a gradient element from the first repetition's.</param>
/// <param name="SecondsPerRepeat">Mean wall time of one repetition.</param>
/// <param name="Threads">torch intra-op threads used (1: the computation is bitwise deterministic).</param>
public sealed record CpuKernelCheckResult(int Repeats, int Mismatches, int NonFinite, double MaxAbsDifference, double SecondsPerRepeat, int Threads)
{
    /// <summary>True when every repetition matched the first bit for bit.</summary>
    public bool Passed => Mismatches == 0 && NonFinite == 0;
}

/// <summary>Result of <see cref="CpuKernelCheck.ScanConvolutions"/>.</summary>
/// <param name="Shapes">Convolution shapes checked.</param>
/// <param name="Wrong">The shapes whose forward result or a gradient differed from float64 by more than <see cref="Tolerance"/> (relative to its largest value).</param>
public sealed record ConvolutionScanResult(int Shapes, IReadOnlyList<string> Wrong)
{
    /// <summary>Largest relative difference from the float64 convolution taken as float rounding.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>True when every shape matched.</summary>
    public bool Passed => Wrong.Count == 0;
}

/// <summary>
/// Checks that libtorch's CPU kernels compute the same numbers every time: one training step of the UNet (epsilon MSE)
/// and of the VAE (reconstruction MSE) on fixed data, repeated on one torch thread, where the result must be identical to
/// the bit. On this project's machines the vectorised kernels (oneDNN at AVX-512; all of libtorch's at AVX2) gave
/// intermittently wrong numbers when two processes used them at once, which is why <c>GENSEG_CPU_KERNELS=safe</c> is the default; this
/// check tells whether a setting can be trusted (run two at once, once per setting of the environment variables, since
/// libtorch reads them when it loads).
/// </summary>
public static class CpuKernelCheck
{
    /// <summary>Runs the check and counts repetitions that differ from the first.</summary>
    public static CpuKernelCheckResult Run(CpuKernelCheckOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Repeats, 2, nameof(options.Repeats));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Batch, 1, nameof(options.Batch));
        int previousThreads = torch.get_num_threads();
        torch.set_num_threads(1);
        try
        {
            using var unet = UNet2DConditionModel.FromFolder(Path.Combine(options.ModelFolder, "unet"));
            using var vae = AutoencoderKL.FromFolder(Path.Combine(options.ModelFolder, "vae"));
            unet.train();
            vae.train();
            var parameters = unet.parameters().Concat(vae.parameters()).ToArray();
            foreach (var p in parameters) p.requires_grad = true;

            using var data = torch.NewDisposeScope();
            var generator = new Generator((ulong)options.Seed);
            var c = unet.Config;
            int imageSide = vae.Config.SampleSize;
            int side = imageSide >> (vae.Config.BlockOutChannels.Length - 1);
            var latents = torch.randn(new long[] { options.Batch, c.InChannels, side, side }, generator: generator);
            var noise = torch.randn(latents.shape, generator: generator);
            var timesteps = torch.randint(0, 1000, new long[] { options.Batch }, generator: generator);
            var context = torch.randn(new long[] { options.Batch, 8, c.CrossAttentionDim.Values[0] }, generator: generator);
            var images = torch.rand(new long[] { options.Batch, 3, imageSide, imageSide }, generator: generator) * 2 - 1;

            Tensor? reference = null;
            int mismatches = 0, nonFinite = 0;
            double maxDiff = 0;
            var sw = Stopwatch.StartNew();
            for (int r = 0; r < options.Repeats + 1; r++)
            {
                using var scope = torch.NewDisposeScope();
                foreach (var p in parameters) p.grad = null;
                var eps = unet.Forward(latents, timesteps, context);
                var unetLoss = nn.functional.mse_loss(eps, noise);
                var recon = vae.Decode(vae.Encode(images).Mode());
                var vaeLoss = nn.functional.mse_loss(recon, images);
                (unetLoss + vaeLoss).backward();
                var state = torch.cat(parameters.Where(p => p.grad is not null).Select(p => p.grad!.flatten())
                    .Append(unetLoss.reshape(1)).Append(vaeLoss.reshape(1)).ToArray());
                if (!torch.isfinite(state).all().item<bool>()) nonFinite++;
                if (reference is null)
                {
                    reference = state.detach().clone().MoveToOuterDisposeScope();
                }
                else if (state.ne(reference).any().item<bool>())
                {
                    mismatches++;
                    maxDiff = Math.Max(maxDiff, (state - reference).abs().nan_to_num(nan: double.PositiveInfinity).max().item<float>());
                }
                if (r > 0) options.Progress?.Invoke(r, options.Repeats, mismatches);
            }
            return new CpuKernelCheckResult(options.Repeats, mismatches, nonFinite, maxDiff, sw.Elapsed.TotalSeconds / (options.Repeats + 1), torch.get_num_threads());
        }
        finally
        {
            torch.set_num_threads(previousThreads);
        }
    }

    /// <summary>
    /// Checks that the convolutions GenSeg's models run (<see cref="GemmConv2d"/>, forward and both gradients) match a
    /// float64 convolution over a grid of shapes: kernels 1-3, strides 1-2, batches 1, 2 and 5, 1-40 and some larger
    /// input channel counts, 3-40 output channels, 9 x 9 inputs. Run on the current torch thread setting.
    /// </summary>
    /// <param name="raw">Check libtorch's <c>conv2d</c> itself instead of <see cref="GemmConv2d"/> (to see what its
    /// channel padding works around).</param>
    public static ConvolutionScanResult ScanConvolutions(bool raw = false)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(11);
        var channels = Enumerable.Range(1, 40).Concat(new[] { 48, 64, 65, 96, 130 }).ToArray();
        int shapes = 0;
        var wrong = new List<string>();
        foreach (long k in new long[] { 1, 2, 3 })
        foreach (long stride in new long[] { 1, 2 })
        foreach (long batch in new long[] { 1, 2, 5 })
        foreach (long cout in new long[] { 3, 16, 40 })
        foreach (long cin in channels)
        {
            using var inner = torch.NewDisposeScope();
            shapes++;
            using var conv = new GemmConv2d(cin, cout, k, stride, k / 2);
            var x = torch.randn(new[] { batch, cin, 9L, 9L }, generator: generator).requires_grad_();
            var bias = conv.parameters().Last();
            var y = raw
                ? nn.functional.conv2d(x, conv.Weight, bias, strides: new[] { stride, stride }, padding: new[] { k / 2, k / 2 })
                : conv.call(x);
            var x64 = x.detach().to_type(ScalarType.Float64).requires_grad_();
            var w64 = conv.Weight.detach().to_type(ScalarType.Float64).requires_grad_();
            var reference = nn.functional.conv2d(x64, w64, bias.detach().to_type(ScalarType.Float64),
                strides: new[] { stride, stride }, padding: new[] { k / 2, k / 2 });
            var gy = torch.randn(reference.shape, dtype: ScalarType.Float64, generator: generator);
            var g = torch.autograd.grad(new[] { y }, new[] { x, conv.Weight }, new[] { gy.to_type(ScalarType.Float32) });
            var gr = torch.autograd.grad(new[] { reference }, new[] { x64, w64 }, new[] { gy });
            double Error(Tensor a, Tensor r) => (a.to_type(ScalarType.Float64) - r).abs().max().item<double>() / Math.Max(1e-12, r.abs().max().item<double>());
            double forward = Error(y, reference), dx = Error(g[0], gr[0]), dw = Error(g[1], gr[1]);
            if (Math.Max(forward, Math.Max(dx, dw)) > ConvolutionScanResult.Tolerance)
                wrong.Add(FormattableString.Invariant($"k{k} stride {stride} batch {batch} {cin}->{cout}: relative error forward {forward:G2}, input gradient {dx:G2}, weight gradient {dw:G2}"));
        }
        return new ConvolutionScanResult(shapes, wrong);
    }
}
