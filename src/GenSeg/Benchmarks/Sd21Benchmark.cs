using System.Diagnostics;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.Features;
using GenSeg.Methods.G4Seg;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld.Training;
using static TorchSharp.torch;

namespace GenSeg.Benchmarks;

/// <summary>Settings of <see cref="Sd21Benchmark.Run"/>: SD 2.1 at 512 px, the fewest painting steps.</summary>
public sealed record Sd21BenchmarkOptions
{
    /// <summary>Image side in pixels (the latents are an eighth of it).</summary>
    public int ImageSize { get; init; } = 512;

    /// <summary>PaintSeg's paints N in the timed I-step.</summary>
    public int Paints { get; init; } = 2;

    /// <summary>DDIM iterations per paint in the timed I-step (the paper uses 50).</summary>
    public int PaintIterations { get; init; } = 2;

    /// <summary>Device (default CPU).</summary>
    public Device? Device { get; init; }

    /// <summary>Inference type (default float32).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>Called with the name of each stage as it starts.</summary>
    public Action<string>? Progress { get; init; }
}

/// <summary>One timed stage: wall seconds, the process's peak resident memory during it, and that peak's rise over the
/// resident memory at the stage's start.</summary>
public sealed record Sd21Stage(string Name, double Seconds, double PeakRssGiB, double PeakRiseGiB);

/// <summary>What <see cref="Sd21Benchmark.Run"/> measured.</summary>
/// <param name="Stages">Every stage in order.</param>
/// <param name="UNetParameters">Parameters of the text-conditioned UNet (SD 2.1: 865,910,724).</param>
/// <param name="VaeParameters">Parameters of the VAE.</param>
/// <param name="TextParameters">Parameters of the text encoder.</param>
/// <param name="Memory">How memory was measured.</param>
public sealed record Sd21BenchmarkResult(IReadOnlyList<Sd21Stage> Stages, long UNetParameters, long VaeParameters, long TextParameters, string Memory);

/// <summary>
/// The kit at Stable Diffusion 2.1's scale: random weights in SD 2.1's configuration (UNet 320/640/1280/1280 with 5/10/20/20
/// heads, cross-attention 1024, linear projections; SD's VAE; OpenCLIP-H's text encoder, 23 layers of 1024), built with
/// PyTorch's default initialisation in native code and GroupNorms set to ones/zeros. Times, with their peak memory, one
/// UNet pass, one VAE encode and decode, one G4Seg refinement of one image-class (the paper's settings, colour+position
/// features) and one PaintSeg I-step (N paints of a few DDIM iterations, with a 9-channel inpainting UNet of the same
/// configuration, built after the first is freed). Random weights do not change the cost of any of these.
/// </summary>
public static class Sd21Benchmark
{
    /// <summary>SD 2.1's VAE (stabilityai/stable-diffusion-2-1 vae/config.json).</summary>
    public static AutoencoderKLConfig Vae => new()
    {
        DownBlockTypes = Enumerable.Repeat("DownEncoderBlock2D", 4).ToArray(),
        UpBlockTypes = Enumerable.Repeat("UpDecoderBlock2D", 4).ToArray(),
        BlockOutChannels = new[] { 128, 256, 512, 512 },
        LayersPerBlock = 2,
        SampleSize = 768,
        ScalingFactor = 0.18215,
    };

    /// <summary>SD 2.1's text encoder (OpenCLIP ViT-H/14's text tower, penultimate layer: 23 layers) over
    /// SD's 49408 tokens, ending rows with <paramref name="endToken"/>.</summary>
    public static ClipTextConfig TextEncoder(int endToken) => new()
    {
        VocabSize = 49408, HiddenSize = 1024, IntermediateSize = 4096, ProjectionDim = 512, NumHiddenLayers = 23,
        NumAttentionHeads = 16, MaxPositionEmbeddings = 77, HiddenAct = ClipActivation.Gelu, EosTokenId = endToken,
    };

    /// <summary>Builds the random SD 2.1 components and times each stage; see the class summary.</summary>
    public static Sd21BenchmarkResult Run(Sd21BenchmarkOptions? options = null)
    {
        var o = options ?? new Sd21BenchmarkOptions();
        if (o.ImageSize % 8 != 0 || o.ImageSize < 64) throw new ArgumentOutOfRangeException(nameof(options), o.ImageSize, "image size: expected a multiple of 8, at least 64");
        var stages = new List<Sd21Stage>();
        var tokDir = Directory.CreateTempSubdirectory("genseg-sd21-tok").FullName;
        try
        {
            ToyVocabulary.Write(tokDir); // SD's 49408-token vocabulary is not shipped; the toy one tokenises the prompts
            var tokenizer = ClipTokenizer.FromFolder(tokDir);
            var scheduler = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion("epsilon"));
            long unetParams, vaeParams, textParams;
            manual_seed(0);
            StableDiffusionPipeline? pipe = null;
            // A pipeline with random weights in SD 2's configuration (UNet, VAE, text encoder built in that order).
            StableDiffusionPipeline BuildRandom(string name, int unetInChannels) => StableDiffusionPipeline.FromComponents(name,
                UNet2DConditionModel.FromConfig(UNet2DConditionConfig.StableDiffusion2() with { InChannels = unetInChannels }),
                AutoencoderKL.FromConfig(Vae), ClipTextModel.FromConfig(TextEncoder(tokenizer.EndToken)), tokenizer, scheduler,
                device: o.Device, dtype: o.DType);
            stages.Add(Measure("build (random init)", o, () => pipe = BuildRandom("random SD 2.1", 4), scoped: false));
            using (pipe)
            {
                var p = pipe!;
                unetParams = Count(p.Unet);
                vaeParams = Count(p.Vae);
                textParams = Count(p.TextEncoder);
                using var noGrad = no_grad();
                int side = o.ImageSize, latent = p.LatentSide(side);
                var images = rand(1, 3, side, side, generator: new Generator(1)) * 2 - 1;
                var context = p.EncodePrompt(new[] { "a photo of a circle" }).Hidden;
                var noisy = randn(1, 4, latent, latent, generator: new Generator(2));
                stages.Add(Measure($"UNet pass (latent {latent}x{latent}, batch 1)", o, () => p.PredictModelOutput(noisy, 400, context).Dispose()));
                Tensor? latents = null;
                stages.Add(Measure($"VAE encode ({side}x{side})", o, () => latents = p.EncodeImage(images).DetachFromDisposeScope()));
                stages.Add(Measure($"VAE decode ({side}x{side})", o, () => p.Decode(latents!).Dispose()));
                var coarse = zeros(1, 1, side, side);
                coarse[0, 0, (side / 4)..(3 * side / 4), (side / 4)..(3 * side / 4)] = 0.9f;
                using var refiner = new G4SegRefiner(p, new G4SegOptions(), new ColourPositionFeatures(1, 0.5)) { Workers = 1 };
                stages.Add(Measure("G4Seg refinement (1 image-class)", o, () => refiner.Refine(images, coarse, new[] { "circle" }).Dispose()));
            }
            // PaintSeg paints with a 9-channel UNet of the same configuration (SD 2 inpainting), built alone.
            manual_seed(1);
            StableDiffusionPipeline? paintPipe = null;
            stages.Add(Measure("build inpainting pipeline (random init)", o, () => paintPipe = BuildRandom("random SD 2 inpainting", 9), scoped: false));
            using (paintPipe)
            {
                var p = paintPipe!;
                int side = o.ImageSize;
                var image = rand(3, side, side, generator: new Generator(3)) * 2 - 1;
                var truth = zeros(side, side);
                truth[(side / 4)..(3 * side / 4), (side / 3)..(2 * side / 3)] = 1;
                var ps = new PaintSegOptions { Steps = 1, Paints = o.Paints, PaintIterations = o.PaintIterations };
                var segmenter = new PaintSegSegmenter(new Painter(p, ps) { Workers = 1 }, new ColourPositionFeatures(1, 0), ps);
                stages.Add(Measure($"PaintSeg I-step (N = {o.Paints}, {o.PaintIterations} DDIM iterations each)", o,
                    () => segmenter.Segment(image, Prompts.Box(truth)).Dispose()));
            }
            return new Sd21BenchmarkResult(stages, unetParams, vaeParams, textParams, ProcessMemory.Description);
        }
        finally
        {
            Directory.Delete(tokDir, recursive: true);
        }
    }

    static long Count(TorchSharp.torch.nn.Module m) => m.parameters().Sum(t => t.numel());

    /// <summary>Times <paramref name="stage"/> with its peak memory; its temporaries are freed in a dispose scope unless
    /// it builds models (<paramref name="scoped"/> false: the models' parameters must outlive it).</summary>
    static Sd21Stage Measure(string name, Sd21BenchmarkOptions o, Action stage, bool scoped = true)
    {
        o.Progress?.Invoke(name);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        ProcessMemory.ResetPeak();
        long start = ProcessMemory.ResidentBytes();
        var watch = Stopwatch.StartNew();
        if (scoped)
        {
            using var scope = NewDisposeScope();
            stage();
        }
        else stage();
        double seconds = watch.Elapsed.TotalSeconds;
        long peak = ProcessMemory.PeakResidentBytes();
        const double GiB = 1L << 30;
        return new Sd21Stage(name, seconds, peak / GiB, (peak - start) / GiB);
    }
}

/// <summary>
/// The process's resident memory from Linux's <c>/proc/self/status</c> (VmRSS, VmHWM); the peak is reset by writing 5
/// to <c>/proc/self/clear_refs</c>, so each stage's peak is its own. Elsewhere .NET's working-set figures stand in
/// (their peak cannot be reset).
/// </summary>
public static class ProcessMemory
{
    /// <summary>How the figures are measured, for reports.</summary>
    public static string Description => File.Exists("/proc/self/status")
        ? "process peak RSS (VmHWM of /proc/self/status, reset before each stage via /proc/self/clear_refs); rise = peak minus RSS at the stage's start"
        : "process peak working set (not reset between stages)";

    /// <summary>Resident bytes now.</summary>
    public static long ResidentBytes() => Status("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;

    /// <summary>Peak resident bytes since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakResidentBytes() => Status("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>Resets the peak to the current resident size (Linux).</summary>
    public static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    static long? Status(string key)
    {
        if (!File.Exists("/proc/self/status")) return null;
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        if (line is null) return null;
        var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
