using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.DenseCrf;

/// <summary>
/// Fully connected CRF over an RGB image (Krähenbühl and Koltun 2011, as pydensecrf's <c>DenseCRF2D</c>): unary
/// -log(p), a Gaussian kernel on position and a bilateral kernel on position and colour, each with Potts compatibility
/// and symmetric normalisation, and mean-field inference whose messages are filtered on the permutohedral lattice.
/// </summary>
/// <remarks>
/// Update (Algorithm 1, as the code computes it): Q_i(l) ∝ exp(-U_i(l) + sum_k w_k n_k,i sum_j k_k(f_i, f_j) n_k,j Q_j(l)),
/// with n_k,i = 1 / sqrt(sum_j k_k(f_i, f_j)) and k(f_i, f_j) = exp(-|f_i - f_j|^2 / 2) on features divided by their
/// standard deviations (the sum includes j = i). pydensecrf's <c>PottsCompatibility(compat)</c> multiplies the filtered
/// message by -compat and inference subtracts it, so <c>compat</c> acts as the weight w_k above.
/// </remarks>
public static class DenseCrf
{
    /// <summary>Largest image (in pixels) <see cref="InferBruteForce(ReadOnlySpan{byte}, ReadOnlySpan{float}, int, int, int, DenseCrfOptions?)"/> accepts.</summary>
    public const int MaxBruteForcePixels = 4096;

    /// <summary>Probabilities are clamped below at this value before the log, so a zero never yields NaN.</summary>
    public const float MinProbability = 1e-30f;

    /// <summary>
    /// Mean-field marginals with lattice filtering.
    /// </summary>
    /// <param name="rgb">Image bytes, row-major [H, W, 3] RGB (pydensecrf's layout).</param>
    /// <param name="prob">Label scores, label-major [L, H, W], non-negative (e.g. a softmax); the unary is -log(p).</param>
    /// <param name="labels">L.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="options">Kernel parameters and iterations; pydensecrf's README values when null.</param>
    /// <returns>Q, label-major [L, H, W].</returns>
    public static float[] Infer(ReadOnlySpan<byte> rgb, ReadOnlySpan<float> prob, int labels, int height, int width, DenseCrfOptions? options = null) =>
        Infer(rgb, prob.ToArray(), labels, height, width, options, workers: null);

    /// <summary>The lattice CRF with an explicit number of parallel pixel ranges (tests compare 1 with several).</summary>
    internal static float[] Infer(ReadOnlySpan<byte> rgb, float[] prob, int labels, int height, int width, DenseCrfOptions? options, int? workers)
    {
        options ??= new DenseCrfOptions();
        options.Validate();
        ValidateSizes(rgb.Length, prob.Length, labels, height, width);
        int n = height * width;
        int stride = MeanField.Stride(labels);
        if ((long)n * stride > Array.MaxLength)
            throw new ArgumentException($"image {height}x{width} with {labels} labels is too large", nameof(prob));

        var negUnary = NegativeUnary(prob, labels, n, width, stride);
        var gaussianFeatures = options.GaussianCompat != 0f ? GaussianFeatures(height, width, options.GaussianSxy) : null;
        var bilateralFeatures = options.BilateralCompat != 0f ? BilateralFeatures(rgb, height, width, options.BilateralSxy, options.BilateralSrgb) : null;
        MeanField.Kernel? gaussianKernel = null, bilateralKernel = null;
        ParallelRanges.Run(2, k =>
        {
            if (k == 0 && gaussianFeatures is not null)
                gaussianKernel = new MeanField.Kernel(new PermutohedralLattice(gaussianFeatures, n, 2), options.GaussianCompat);
            if (k == 1 && bilateralFeatures is not null)
                bilateralKernel = new MeanField.Kernel(new PermutohedralLattice(bilateralFeatures, n, 5), options.BilateralCompat);
        });

        // Kernels in pydensecrf's order: the Gaussian term is added first, then the bilateral one.
        var kernels = new List<MeanField.Kernel>();
        if (gaussianKernel is not null) kernels.Add(gaussianKernel);
        if (bilateralKernel is not null) kernels.Add(bilateralKernel);
        return MeanField.Run(negUnary, labels, kernels, options.Iterations, workers);
    }

    /// <summary>-U = log(max(p, MinProbability)) as pixel-major rows [N, stride], padding lanes -infinity.</summary>
    static float[] NegativeUnary(float[] prob, int labels, int n, int width, int stride)
    {
        var negUnary = new float[(long)n * stride];
        ParallelRanges.For((n + 7) / 8, 2048, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (startBlock, endBlock) =>
        {
            int start = startBlock * 8, end = Math.Min(n, endBlock * 8);
            for (int i = start; i < end; i++)
                negUnary.AsSpan(i * stride + labels, stride - labels).Fill(float.NegativeInfinity);
            var min = Vector256.Create(MinProbability);
            for (int l = 0; l < labels; l++)
            {
                int i = start;
                for (; i + 8 <= end; i += 8)
                {
                    var p = Vector256.Create(prob.AsSpan(l * n + i, 8));
                    if (!Vector256.GreaterThanOrEqualAll(p, Vector256<float>.Zero) || !Vector256.LessThanAll(p, Vector256.Create(float.PositiveInfinity)))
                        break;
                    var logp = Vector256.Log(Vector256.Max(p, min));
                    for (int k = 0; k < 8; k++) negUnary[(i + k) * stride + l] = logp[k];
                }
                for (; i < end; i++) negUnary[i * stride + l] = MathF.Log(CheckedProbability(prob[l * n + i], l, i, width));
            }
        });
        return negUnary;
    }

    /// <summary>Mean-field marginals with lattice filtering; <paramref name="rgb"/> is [H, W, 3] bytes, H and W from <paramref name="prob"/>.</summary>
    /// <param name="rgb">Image bytes, row-major [H, W, 3] RGB.</param>
    /// <param name="prob">Label scores [L, H, W], non-negative.</param>
    /// <param name="options">Kernel parameters and iterations; pydensecrf's README values when null.</param>
    /// <returns>Q [L, H, W] float32 on <paramref name="prob"/>'s device.</returns>
    public static Tensor Infer(byte[] rgb, Tensor prob, DenseCrfOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        var (p, l, h, w) = ProbArray(prob);
        return ToTensor(Infer(rgb, p, l, h, w, options, workers: null), l, h, w, prob.device);
    }

    /// <summary>Mean-field marginals with lattice filtering, from tensors.</summary>
    /// <param name="rgb">Image [H, W, 3], uint8 or another integer type with values in 0..255.</param>
    /// <param name="prob">Label scores [L, H, W], non-negative.</param>
    /// <param name="options">Kernel parameters and iterations; pydensecrf's README values when null.</param>
    /// <returns>Q [L, H, W] float32 on <paramref name="prob"/>'s device.</returns>
    public static Tensor Infer(Tensor rgb, Tensor prob, DenseCrfOptions? options = null)
    {
        var (p, l, h, w) = ProbArray(prob);
        return ToTensor(Infer(RgbArray(rgb, h, w), p, l, h, w, options, workers: null), l, h, w, prob.device);
    }

    /// <summary>
    /// The same CRF with exact kernels: every pair of pixels is summed (O(N^2)), in double precision. For checking the
    /// lattice on small images (at most <see cref="MaxBruteForcePixels"/> pixels).
    /// </summary>
    /// <param name="rgb">Image bytes, row-major [H, W, 3] RGB.</param>
    /// <param name="prob">Label scores, label-major [L, H, W], non-negative.</param>
    /// <param name="labels">L.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="options">Kernel parameters and iterations; pydensecrf's README values when null.</param>
    /// <returns>Q, label-major [L, H, W].</returns>
    public static float[] InferBruteForce(ReadOnlySpan<byte> rgb, ReadOnlySpan<float> prob, int labels, int height, int width, DenseCrfOptions? options = null)
    {
        options ??= new DenseCrfOptions();
        options.Validate();
        ValidateSizes(rgb.Length, prob.Length, labels, height, width);
        int n = height * width;
        if (n > MaxBruteForcePixels)
            throw new ArgumentException($"brute-force dense CRF: image {height}x{width} has {n} pixels, at most {MaxBruteForcePixels} allowed; use Infer", nameof(prob));

        var negUnary = new double[labels * n];
        for (int l = 0; l < labels; l++)
            for (int i = 0; i < n; i++)
                negUnary[l * n + i] = Math.Log(CheckedProbability(prob[l * n + i], l, i, width));

        // A[i, j] = sum_k w_k n_k,i k_k(f_i, f_j) n_k,j, the whole pairwise operator as one matrix.
        var a = new double[n * n];
        if (options.GaussianCompat != 0f)
            AddExactKernel(a, GaussianFeatures(height, width, options.GaussianSxy), n, 2, options.GaussianCompat);
        if (options.BilateralCompat != 0f)
            AddExactKernel(a, BilateralFeatures(rgb, height, width, options.BilateralSxy, options.BilateralSrgb), n, 5, options.BilateralCompat);

        var q = new double[labels * n];
        var logits = (double[])negUnary.Clone();
        SoftmaxColumns(logits, q, labels, n);
        for (int it = 0; it < options.Iterations; it++)
        {
            Array.Copy(negUnary, logits, logits.Length);
            ParallelRanges.For(n, 64, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (int i = start; i < end; i++)
                {
                    var row = a.AsSpan(i * n, n);
                    for (int l = 0; l < labels; l++)
                    {
                        double m = 0;
                        var ql = q.AsSpan(l * n, n);
                        for (int j = 0; j < n; j++) m += row[j] * ql[j];
                        logits[l * n + i] += m;
                    }
                }
            });
            SoftmaxColumns(logits, q, labels, n);
        }
        return Array.ConvertAll(q, v => (float)v);
    }

    /// <summary>The brute-force CRF from tensors (see the array overload).</summary>
    /// <param name="rgb">Image [H, W, 3], uint8 or another integer type with values in 0..255.</param>
    /// <param name="prob">Label scores [L, H, W], non-negative.</param>
    /// <param name="options">Kernel parameters and iterations; pydensecrf's README values when null.</param>
    /// <returns>Q [L, H, W] float32 on <paramref name="prob"/>'s device.</returns>
    public static Tensor InferBruteForce(Tensor rgb, Tensor prob, DenseCrfOptions? options = null)
    {
        var (p, l, h, w) = ProbArray(prob);
        return ToTensor(InferBruteForce(RgbArray(rgb, h, w), p, l, h, w, options), l, h, w, prob.device);
    }

    /// <summary>
    /// Refines label scores against an image: runs <see cref="Infer(Tensor, Tensor, DenseCrfOptions?)"/> and returns the
    /// most probable label per pixel.
    /// </summary>
    /// <param name="image">Image [3, H, W] in [-1, 1] (the kit's image convention).</param>
    /// <param name="prob">Label scores [L, H, W], non-negative.</param>
    /// <param name="options">Kernel parameters and iterations; pydensecrf's README values when null.</param>
    /// <returns>Labels [H, W] int64 on <paramref name="prob"/>'s device.</returns>
    public static Tensor Refine(Tensor image, Tensor prob, DenseCrfOptions? options = null)
    {
        Check.Rank(prob, nameof(prob), 3, "[L, H, W]");
        using var scope = NewDisposeScope();
        var q = Infer(ToRgbBytes(image, (int)prob.shape[1], (int)prob.shape[2]), prob, options);
        return q.argmax(0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Converts an image [3, H, W] in [-1, 1] to row-major [H, W, 3] RGB bytes: round((x + 1) / 2 * 255), clamped.
    /// </summary>
    /// <param name="image">Image [3, H, W] in [-1, 1].</param>
    /// <returns>H * W * 3 bytes.</returns>
    public static byte[] ToRgbBytes(Tensor image)
    {
        Check.Rank(image, nameof(image), 3, "[3, H, W]");
        return ToRgbBytes(image, (int)image.shape[1], (int)image.shape[2]);
    }

    static byte[] ToRgbBytes(Tensor image, int height, int width)
    {
        Check.Shape(image, nameof(image), 3, height, width);
        Check.Finite(image, nameof(image));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // explicit Scalars: an implicit temporary can be finalised during the native call (torchsharp-pitfalls.md)
        using var one = 1f.ToScalar();
        using var half255 = 127.5f.ToScalar();
        using var lo = 0f.ToScalar();
        using var hi = 255f.ToScalar();
        var hwc = image.detach().to(float32).cpu().add(one).mul(half255).round().clamp(lo, hi).permute(1, 2, 0).to(uint8).contiguous();
        return hwc.data<byte>().ToArray();
    }

    static void ValidateSizes(int rgbLength, int probLength, int labels, int height, int width)
    {
        if (height < 1 || width < 1)
            throw new ArgumentOutOfRangeException(nameof(height), $"dense CRF: image size must be positive, got {height}x{width}");
        if (labels < 1)
            throw new ArgumentOutOfRangeException(nameof(labels), labels, "dense CRF: need at least one label");
        long n = (long)height * width;
        if (rgbLength != n * 3)
            throw new ArgumentException($"rgb: expected [H, W, 3] = [{height}, {width}, 3] = {n * 3} bytes, got {rgbLength}", "rgb");
        if (probLength != n * labels)
            throw new ArgumentException($"prob: expected [L, H, W] = [{labels}, {height}, {width}] = {n * labels} values, got {probLength}", "prob");
    }

    static float CheckedProbability(float p, int label, int pixel, int width)
    {
        if (!(p >= 0f) || float.IsPositiveInfinity(p))
            throw new ArgumentException($"prob: label {label} at (y={pixel / width}, x={pixel % width}) is {p}; expected a finite non-negative value", "prob");
        return MathF.Max(p, MinProbability);
    }

    /// <summary>pydensecrf's addPairwiseGaussian features: (x / sxy, y / sxy) per pixel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float[] GaussianFeatures(int height, int width, float sxy)
    {
        var f = new float[height * width * 2];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                f[2 * i] = x / sxy;
                f[2 * i + 1] = y / sxy;
            }
        return f;
    }

    /// <summary>pydensecrf's addPairwiseBilateral features: (x / sxy, y / sxy, r / srgb, g / srgb, b / srgb) per pixel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float[] BilateralFeatures(ReadOnlySpan<byte> rgb, int height, int width, float sxy, float srgb)
    {
        var f = new float[height * width * 5];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                f[5 * i] = x / sxy;
                f[5 * i + 1] = y / sxy;
                f[5 * i + 2] = rgb[3 * i] / srgb;
                f[5 * i + 3] = rgb[3 * i + 1] / srgb;
                f[5 * i + 4] = rgb[3 * i + 2] / srgb;
            }
        return f;
    }

    /// <summary>a[i, j] += w n_i exp(-|f_i - f_j|^2 / 2) n_j with n_i = 1 / sqrt(sum_j exp(...) + 1e-20).</summary>
    static void AddExactKernel(double[] a, float[] features, int n, int d, float weight)
    {
        var k = ExactNormalizedKernel(features, n, d);
        for (int i = 0; i < a.Length; i++) a[i] += weight * k[i];
    }

    /// <summary>The symmetrically normalised Gaussian kernel matrix [N, N]: n_i exp(-|f_i - f_j|^2 / 2) n_j.</summary>
    internal static double[] ExactNormalizedKernel(float[] features, int n, int d)
    {
        var k = new double[n * n];
        ParallelRanges.For(n, 64, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int c = 0; c < d; c++)
                    {
                        double diff = (double)features[i * d + c] - features[j * d + c];
                        s += diff * diff;
                    }
                    k[i * n + j] = Math.Exp(-0.5 * s);
                }
            }
        });
        var norm = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < n; j++) s += k[i * n + j];
            norm[i] = 1.0 / Math.Sqrt(s + 1e-20);
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                k[i * n + j] *= norm[i] * norm[j];
        return k;
    }

    /// <summary>q[:, i] = softmax(logits[:, i]) for label-major [L, N] arrays.</summary>
    static void SoftmaxColumns(double[] logits, double[] q, int labels, int n)
    {
        for (int i = 0; i < n; i++)
        {
            double max = double.NegativeInfinity;
            for (int l = 0; l < labels; l++) max = Math.Max(max, logits[l * n + i]);
            double sum = 0;
            for (int l = 0; l < labels; l++) sum += q[l * n + i] = Math.Exp(logits[l * n + i] - max);
            for (int l = 0; l < labels; l++) q[l * n + i] /= sum;
        }
    }

    static (float[] Prob, int Labels, int Height, int Width) ProbArray(Tensor prob)
    {
        Check.Rank(prob, nameof(prob), 3, "[L, H, W]");
        Check.Finite(prob, nameof(prob));
        using var scope = NewDisposeScope();
        var p = prob.detach().to(float32).cpu().contiguous();
        return (p.data<float>().ToArray(), (int)prob.shape[0], (int)prob.shape[1], (int)prob.shape[2]);
    }

    static byte[] RgbArray(Tensor rgb, int height, int width)
    {
        Check.Rank(rgb, nameof(rgb), 3, "[H, W, 3]");
        if (rgb.shape[0] != height || rgb.shape[1] != width || rgb.shape[2] != 3)
            throw new ArgumentException($"rgb: expected shape [{height}, {width}, 3] to match prob's [L, {height}, {width}], got {Check.Format(rgb.shape)}", nameof(rgb));
        if (!torch.is_integral(rgb.dtype))
            throw new ArgumentException($"rgb: expected uint8 (or integer) values 0..255, got dtype {rgb.dtype}; convert float images with DenseCrf.ToRgbBytes", nameof(rgb));
        using var scope = NewDisposeScope();
        if (rgb.dtype == ScalarType.Byte) return rgb.cpu().contiguous().data<byte>().ToArray();
        var v = rgb.cpu().to(int64);
        long min = v.min().item<long>(), max = v.max().item<long>();
        if (min < 0 || max > 255)
            throw new ArgumentException($"rgb: values must lie in 0..255, got {min}..{max}", nameof(rgb));
        return v.to(uint8).contiguous().data<byte>().ToArray();
    }

    static Tensor ToTensor(float[] q, int labels, int height, int width, Device device)
    {
        var t = torch.tensor(q, new long[] { labels, height, width });
        if (device.type == DeviceType.CPU) return t;
        using (t) return t.to(device);
    }
}
