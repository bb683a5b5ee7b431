using System.Diagnostics;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Models.Layers;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.Features;
using GenSeg.Methods.G4Seg;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Benchmarks;

/// <summary>Settings of <see cref="Sd21Benchmark.Run"/>: SD 2.1 at 512 px.</summary>
public sealed record Sd21BenchmarkOptions
{
    /// <summary>Image side in pixels (the latents are an eighth of it).</summary>
    public int ImageSize { get; init; } = 512;

    /// <summary>PaintSeg's sampler for the per-object cost (null: the toyworld preset's, <c>PaintSegSettings.Table</c>).</summary>
    public string? Scheduler { get; init; }

    /// <summary>PaintSeg's sampler iterations per paint for the per-object cost (null: the toyworld preset's).</summary>
    public int? Iterations { get; init; }

    /// <summary>The decode-window figure decodes a window of this share of the latent's side (centred).</summary>
    public double WindowSide { get; init; } = 0.5;

    /// <summary>Run the G4Seg refinements (2 classes per class, composed, composed with the decode window).</summary>
    public bool G4Seg { get; init; } = true;

    /// <summary>Device (default CPU).</summary>
    public Device? Device { get; init; }

    /// <summary>Inference type (default float32).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>Called with the name of each stage as it starts.</summary>
    public Action<string>? Progress { get; init; }
}

/// <summary>One timed stage: wall seconds (the mean of <paramref name="Runs"/> runs), the process's peak resident memory
/// during it and that peak's rise over the resident memory at the stage's start, and the floating-point work of one run,
/// counted as it ran (null: not counted).</summary>
public sealed record Sd21Stage(string Name, double Seconds, double PeakRssGiB, double PeakRiseGiB, double? Gflop = null, int Runs = 1)
{
    /// <summary>Counted work over wall time (GFLOP/s), or null.</summary>
    public double? Gflops => Gflop / Seconds;
}

/// <summary>PaintSeg's cost per object from measured per-pass costs: T steps x N paints x (UNet passes of the sampler's
/// schedule x one inpainting-UNet pass + one encode + one decode + one prompt encoding).</summary>
/// <param name="Scheduler">The sampler.</param>
/// <param name="Iterations">Its iterations per paint.</param>
/// <param name="UNetPasses">UNet evaluations per paint (the schedule's timesteps, times 2 with guidance).</param>
/// <param name="Seconds">Seconds per object, from the passes' measured seconds.</param>
/// <param name="Gflop">Work per object (GFLOP), from the passes' counted work: a cost the machine's load does not change.</param>
public sealed record PaintSegCost(string Scheduler, int Iterations, int UNetPasses, double Seconds, double Gflop);

/// <summary>What <see cref="Sd21Benchmark.Run"/> measured.</summary>
/// <param name="Stages">Every stage in order.</param>
/// <param name="UNetParameters">Parameters of the text-conditioned UNet (SD 2.1: 865,910,724).</param>
/// <param name="VaeParameters">Parameters of the VAE.</param>
/// <param name="TextParameters">Parameters of the text encoder.</param>
/// <param name="MatmulGflops">Median throughput of a 2048^2 float32 matmul, timed between the stages (same run).</param>
/// <param name="PaintSegChosen">PaintSeg per object with the chosen sampler and iterations.</param>
/// <param name="PaintSegPaper">PaintSeg per object with the paper's 50-step DDIM.</param>
/// <param name="Memory">How memory was measured.</param>
public sealed record Sd21BenchmarkResult(IReadOnlyList<Sd21Stage> Stages, long UNetParameters, long VaeParameters, long TextParameters,
    double MatmulGflops, PaintSegCost PaintSegChosen, PaintSegCost PaintSegPaper, string Memory)
{
    /// <summary>The stage named <paramref name="name"/>, or null.</summary>
    public Sd21Stage? Stage(string name) => Stages.FirstOrDefault(s => s.Name == name);

    /// <summary>The chosen PaintSeg cost over the paper's in seconds (target at most 0.5).</summary>
    public double PaintSegRatio => PaintSegChosen.Seconds / PaintSegPaper.Seconds;

    /// <summary>The chosen PaintSeg cost over the paper's in counted work.</summary>
    public double PaintSegWorkRatio => PaintSegChosen.Gflop / PaintSegPaper.Gflop;

    /// <summary>G4Seg, 2 classes: composed over per class in seconds (target at most 0.6), or null when not run.</summary>
    public double? ComposedRatio => Ratio(Sd21Benchmark.G4SegComposed, s => s.Seconds);

    /// <summary>G4Seg, 2 classes: composed over per class in counted work, or null when not run.</summary>
    public double? ComposedWorkRatio => Ratio(Sd21Benchmark.G4SegComposed, s => s.Gflop);

    /// <summary>G4Seg, 2 classes: composed with the decode window over per class in seconds, or null when not run.</summary>
    public double? ComposedWindowRatio => Ratio(Sd21Benchmark.G4SegComposedWindow, s => s.Seconds);

    /// <summary>G4Seg, 2 classes: composed with the decode window over per class in counted work, or null when not run.</summary>
    public double? ComposedWindowWorkRatio => Ratio(Sd21Benchmark.G4SegComposedWindow, s => s.Gflop);

    double? Ratio(string stage, Func<Sd21Stage, double?> value) =>
        Stage(stage) is { } a && Stage(Sd21Benchmark.G4SegPerClass) is { } b ? value(a) / value(b) : null;
}

/// <summary>
/// The kit at Stable Diffusion 2.1's scale: random weights in SD 2.1's configuration (UNet 320/640/1280/1280 with 5/10/20/20
/// heads, cross-attention 1024, linear projections; SD's VAE; OpenCLIP-H's text encoder, 23 layers of 1024), built with
/// PyTorch's default initialisation in native code and GroupNorms set to ones/zeros. Times, with peak memory and the
/// work counted as it ran (<see cref="FlopCount.Counter"/>), one prompt encoding, UNet pass, VAE encode and decode, the
/// decode of a window of the latent, G4Seg on one image with 2 classes per class, composed and composed with the decode
/// window (the paper's settings otherwise, colour+position features), and one pass of a 9-channel inpainting UNet of
/// the same configuration (built after the first is freed); PaintSeg's cost per object follows from the per-pass
/// costs. A matmul is timed between the stages for the same-run fraction. Random weights do not change the cost of any
/// of these. Each stage runs once, the G4Seg ones twice (in the order ABC CBA).
/// </summary>
public static class Sd21Benchmark
{
    /// <summary>Stage names the result's ratios read.</summary>
    public const string TextEncoder = "text encoder (1 prompt, 77 tokens)", G4SegPerClass = "G4Seg 2 classes, per class (2 UNet rows, 2 decodes)",
        G4SegComposed = "G4Seg 2 classes, composed (1 UNet row, 1 decode)", G4SegComposedWindow = "G4Seg 2 classes, composed, decode window";

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
    public static ClipTextConfig TextEncoderConfig(int endToken) => new()
    {
        VocabSize = 49408, HiddenSize = 1024, IntermediateSize = 4096, ProjectionDim = 512, NumHiddenLayers = 23,
        NumAttentionHeads = 16, MaxPositionEmbeddings = 77, HiddenAct = ClipActivation.Gelu, EosTokenId = endToken,
    };

    /// <summary>
    /// PaintSeg's cost per object from per-pass costs (seconds, and GFLOP in the same order):
    /// <paramref name="steps"/> T x <paramref name="paints"/> N x (UNet evaluations per paint x one UNet pass + one
    /// encode + one decode + one prompt encoding), the UNet evaluations being the sampler's timesteps for
    /// <paramref name="iterations"/>, doubled with guidance (<paramref name="guided"/>), as <c>StableDiffusionPipeline.Inpaint</c> runs them.
    /// </summary>
    public static PaintSegCost PaintSegPerObject(IScheduler scheduler, int iterations, int steps, int paints, bool guided,
        (double Unet, double Encode, double Decode, double Text) seconds, (double Unet, double Encode, double Decode, double Text) gflop)
    {
        int passes = scheduler.Timesteps(iterations).Count * (guided ? 2 : 1);
        double PerObject((double Unet, double Encode, double Decode, double Text) c) => (double)steps * paints * (passes * c.Unet + c.Encode + c.Decode + c.Text);
        return new PaintSegCost(scheduler.Kind, iterations, passes, PerObject(seconds), PerObject(gflop));
    }

    /// <summary>Builds the random SD 2.1 components and times each stage; see the class summary.</summary>
    public static Sd21BenchmarkResult Run(Sd21BenchmarkOptions? options = null)
    {
        var o = options ?? new Sd21BenchmarkOptions();
        if (o.ImageSize % 8 != 0 || o.ImageSize < 64) throw new ArgumentOutOfRangeException(nameof(options), o.ImageSize, "image size: expected a multiple of 8, at least 64");
        if (!(o.WindowSide > 0 && o.WindowSide <= 1)) throw new ArgumentOutOfRangeException(nameof(options), o.WindowSide, "window side: expected a share in (0, 1]");
        var preset = PaintSegSettings.Table.Preset("toyworld");
        var paint = preset with { Scheduler = o.Scheduler ?? preset.Scheduler, PaintIterations = o.Iterations ?? preset.PaintIterations };
        paint.Validate();
        var stages = new List<Sd21Stage>();
        var matmul = new List<double>();
        void Matmul() => matmul.Add(UNetBenchmark.MatmulGflops(2048, 3, o.Device));
        var tokDir = Directory.CreateTempSubdirectory("genseg-sd21-tok").FullName;
        try
        {
            ToyVocabulary.Write(tokDir); // SD's 49408-token vocabulary is not shipped; the toy one tokenises the prompts
            var tokenizer = ClipTokenizer.FromFolder(tokDir);
            var scheduler = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion("epsilon"));
            long unetParams, vaeParams, textParams;
            manual_seed(0);
            StableDiffusionPipeline? pipe = null;
            int side = o.ImageSize;
            stages.Add(Measure("build (random init)", o, () => pipe = StableDiffusionPipeline.FromComponents("random SD 2.1",
                UNet2DConditionModel.FromConfig(UNet2DConditionConfig.StableDiffusion2()), AutoencoderKL.FromConfig(Vae),
                ClipTextModel.FromConfig(TextEncoderConfig(tokenizer.EndToken)), tokenizer, scheduler, device: o.Device, dtype: o.DType), scoped: false));
            long latent;
            using (pipe)
            {
                var p = pipe!;
                unetParams = Count(p.Unet);
                vaeParams = Count(p.Vae);
                textParams = Count(p.TextEncoder);
                nn.Module[] models = { p.Unet, p.Vae, p.TextEncoder };
                using var noGrad = no_grad();
                latent = p.LatentSide(side);
                var images = rand(1, 3, side, side, generator: new Generator(1)) * 2 - 1;
                Matmul();
                Tensor? context = null;
                stages.Add(Measure(TextEncoder, o, () => context = p.EncodePrompt(new[] { "a photo of a circle" }).Hidden.DetachFromDisposeScope(), models: models));
                var noisy = randn(1, 4, latent, latent, generator: new Generator(2));
                stages.Add(Measure($"UNet pass (4 channels, latent {latent}x{latent}, batch 1)", o, () => p.PredictModelOutput(noisy, 400, context!).Dispose(), models: models));
                Tensor? latents = null;
                stages.Add(Measure($"VAE encode ({side}x{side})", o, () => latents = p.EncodeImage(images).DetachFromDisposeScope(), models: models));
                stages.Add(Measure($"VAE decode ({side}x{side})", o, () => p.Decode(latents!).Dispose(), models: models));
                long win = Math.Max(1, (long)Math.Round(latent * o.WindowSide)), at = (latent - win) / 2;
                stages.Add(Measure($"VAE decode, window {win}x{win} of {latent}x{latent} latent cells", o,
                    () => p.Decode(latents![TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(at, at + win), TensorIndex.Slice(at, at + win)]).Dispose(), models: models));
                Matmul();
                if (o.G4Seg)
                {
                    // two classes: soft squares (the confusion areas are their edges' ramps), upper left and lower right
                    var maps = stack(new[] { SoftSquare(side, side / 4, side / 4, side / 4), SoftSquare(side, side / 2, side / 2, side / 4) });
                    var names = new[] { "circle", "square" };
                    var g4 = new G4SegOptions();
                    var settings = new[] { (G4SegPerClass, g4), (G4SegComposed, g4 with { Compose = true }),
                        (G4SegComposedWindow, g4 with { Compose = true, DecodeWindow = true }) };
                    // each setting twice, in the order ABC CBA, so a load that drifts through the run weighs on all alike
                    var runs = settings.Concat(Enumerable.Reverse(settings)).Select(x =>
                    {
                        using var refiner = new G4SegRefiner(p, x.Item2, new ColourPositionFeatures(1, 0.5)) { Workers = 1 };
                        return Measure(x.Item1, o, () => refiner.Refine(images[0], maps, names).Dispose(), models: models);
                    }).ToList();
                    foreach (var (name, _) in settings)
                    {
                        var both = runs.Where(r => r.Name == name).ToArray();
                        stages.Add(both[0] with { Seconds = both.Average(r => r.Seconds), PeakRssGiB = both.Max(r => r.PeakRssGiB),
                            PeakRiseGiB = both.Max(r => r.PeakRiseGiB), Runs = both.Length });
                    }
                    Matmul();
                }
            }
            // PaintSeg paints with a 9-channel UNet of the same configuration (SD 2 inpainting), built alone.
            manual_seed(1);
            UNet2DConditionModel? inpaint = null;
            stages.Add(Measure("build inpainting UNet (random init)", o, () =>
            {
                var u = UNet2DConditionModel.FromConfig(UNet2DConditionConfig.StableDiffusion2() with { InChannels = 9 });
                if (o.DType != ScalarType.Float32) u.to(o.DType);
                if (o.Device is not null) u.to(o.Device);
                u.eval();
                inpaint = u;
            }, scoped: false));
            string inpaintName = $"inpainting UNet pass (9 channels, latent {latent}x{latent}, batch 1)";
            using (inpaint)
            {
                using var noGrad = no_grad();
                var u = inpaint!;
                var device = o.Device ?? CPU;
                var x = randn(new[] { 1L, 9, latent, latent }, dtype: o.DType, device: device);
                var t = tensor(new[] { 400L }, device: device);
                var context = randn(new[] { 1L, 77, 1024 }, dtype: o.DType, device: device);
                stages.Add(Measure(inpaintName, o, () => u.Forward(x, t, context).Dispose(), models: new nn.Module[] { u }));
                Matmul();
            }
            Sd21Stage At(string prefix) => stages.First(s => s.Name.StartsWith(prefix, StringComparison.Ordinal));
            (double, double, double, double) Per(Func<Sd21Stage, double> v) => (v(At(inpaintName)), v(At("VAE encode")), v(At("VAE decode (")), v(At(TextEncoder)));
            bool guided = !string.IsNullOrEmpty(paint.PaintPrompt) && paint.Guidance != 1.0;
            PaintSegCost Cost(string kind, int iterations) => PaintSegPerObject(Schedulers.Create(kind, scheduler.Config), iterations, paint.Steps, paint.Paints, guided,
                Per(s => s.Seconds), Per(s => s.Gflop ?? double.NaN));
            var sorted = matmul.Order().ToArray();
            return new Sd21BenchmarkResult(stages, unetParams, vaeParams, textParams, sorted[sorted.Length / 2],
                Cost(paint.Scheduler, paint.PaintIterations), Cost(Schedulers.Ddim, 50), ProcessMemory.Description);
        }
        finally
        {
            Directory.Delete(tokDir, recursive: true);
        }
    }

    /// <summary>A class map [H, W]: 0.9 inside a square of side <paramref name="size"/> at (<paramref name="top"/>,
    /// <paramref name="left"/>), falling off across its edge as a logistic of the distance (scale 8 px).</summary>
    static Tensor SoftSquare(int side, int top, int left, int size)
    {
        using var scope = NewDisposeScope();
        var ys = arange(side, dtype: ScalarType.Float32).view(side, 1);
        var xs = arange(side, dtype: ScalarType.Float32).view(1, side);
        // signed distance inside the square along the nearer axis (positive inside)
        var dy = minimum(ys - top, top + size - 1 - ys);
        var dx = minimum(xs - left, left + size - 1 - xs);
        var inside = minimum(dy, dx);
        return (sigmoid(inside / 8) * 0.9).MoveToOuterDisposeScope();
    }

    static long Count(TorchSharp.torch.nn.Module m) => m.parameters().Sum(t => t.numel());

    /// <summary>Times <paramref name="stage"/> with its peak memory and, when <paramref name="models"/> are given, the
    /// work it runs (counted as it runs); its temporaries are freed in a dispose scope unless it builds models
    /// (<paramref name="scoped"/> false: the models' parameters must outlive it).</summary>
    static Sd21Stage Measure(string name, Sd21BenchmarkOptions o, Action stage, bool scoped = true, nn.Module[]? models = null)
    {
        o.Progress?.Invoke(name);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        ProcessMemory.ResetPeak();
        long start = ProcessMemory.ResidentBytes();
        using var counter = models is null ? null : new FlopCount.Counter(models);
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
        return new Sd21Stage(name, seconds, peak / GiB, (peak - start) / GiB, counter?.Flops / 1e9);
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
