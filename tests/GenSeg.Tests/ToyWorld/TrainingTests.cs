using GenSeg.Diffusion;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.ToyWorld;

/// <summary>CI's smoke test of the embedded model's training: each component trains a few steps, its loss falls, its
/// export loads; a killed run resumes to the same weights as an uninterrupted one. CI never retrains the shipped model.
/// The class runs alone on one torch thread: Adam turns the last-bit differences of a multi-threaded reduction into
/// learning-rate-sized ones, and the resume and rollback tests compare weights to 1e-6.</summary>
[Collection(SingleThreadedTrainingCollection.Name)]
[Trait(Categories.Name, Categories.Integration)]
public sealed class TrainingTests : OneTorchThread
{
    static AutoencoderKLConfig TinyVae => ToyModelConfigs.Vae with { BlockOutChannels = new[] { 8, 16, 16 }, NormNumGroups = 4 };

    static string Temp() => Directory.CreateTempSubdirectory("genseg-train").FullName;

    static List<double> Losses(string run) => File.ReadAllLines(Path.Combine(run, "losses.csv")).Skip(1)
        .Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();

    static void AssertFalls(List<double> losses, string what)
    {
        double first = losses.Take(4).Average(), last = losses.TakeLast(4).Average();
        Assert.True(last < first, $"{what}: loss did not fall ({first:F4} -> {last:F4})");
    }

    [Fact]
    public void VaeTrainsExportsAndLoads()
    {
        torch.manual_seed(0);
        var run = Temp();
        var task = new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 4);
        TrainingLoop.Run(task, new TrainingOptions { Steps = 24, Batch = 4, LearningRate = 3e-3, WarmupSteps = 2, CheckpointEvery = 12, OutDir = run });
        AssertFalls(Losses(run), "vae");
        using var loaded = AutoencoderKL.FromFolder(Path.Combine(run, "export"));
        Assert.True(loaded.ScalingFactor > 0 && loaded.ScalingFactor != 1.0, $"scaling factor {loaded.ScalingFactor} was not set from the latents");
    }

    [Fact]
    public void ADecoderOnlyFineTuneKeepsTheLatentSpaceAndItsScalingFactor()
    {
        torch.manual_seed(3);
        var root = Temp();
        var first = new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2);
        TrainingLoop.Run(first, new TrainingOptions { Steps = 4, Batch = 2, WarmupSteps = 1, CheckpointEvery = 4, OutDir = Path.Combine(root, "a") });
        var before = AutoencoderKL.FromFolder(Path.Combine(root, "a", "export"));
        var initial = StateDict.Export(before).ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var tuned = new VaeTask(AutoencoderKL.FromFolder(Path.Combine(root, "a", "export")), valCount: 2, crop: 0, decoderOnly: true);
        TrainingLoop.Run(tuned, new TrainingOptions { Steps = 6, Batch = 2, LearningRate = 3e-3, WarmupSteps = 1, CheckpointEvery = 6, OutDir = Path.Combine(root, "b") });
        using var after = AutoencoderKL.FromFolder(Path.Combine(root, "b", "export"));
        Assert.Equal(before.ScalingFactor, after.ScalingFactor);
        var final = StateDict.Export(after);
        int decoderChanged = 0;
        foreach (var (key, value) in initial)
        {
            bool same = value.equal(final[key]).all().item<bool>();
            if (key.StartsWith("encoder.", StringComparison.Ordinal) || key.StartsWith("quant_conv.", StringComparison.Ordinal))
                Assert.True(same, $"{key}: the encoder changed in a decoder-only fine-tune");
            else if (!same) decoderChanged++;
        }
        Assert.True(decoderChanged > 10, $"only {decoderChanged} decoder tensors changed");
    }

    [Fact]
    public void TextToImageAndInpaintingTrainExportAndLoad()
    {
        torch.manual_seed(1);
        var root = Temp();
        var tokDir = Path.Combine(root, "tok");
        ToyVocabulary.Write(tokDir);
        var tok = ClipTokenizer.FromFolder(tokDir);
        var vae = AutoencoderKL.FromConfig(TinyVae);
        var textConfig = ToyModelConfigs.TextEncoder(tok.Vocabulary, tok.EndToken) with { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1 };
        var unetConfig = ToyModelConfigs.Unet() with { BlockOutChannels = new[] { 32, 32, 32 }, CrossAttentionDim = 32, NormNumGroups = 8 };
        var text = ClipTextModel.FromConfig(textConfig);
        var unet = UNet2DConditionModel.FromConfig(unetConfig);
        var scheduler = new DDIMScheduler(ToyModelConfigs.Scheduler);

        var run = Path.Combine(root, "unet");
        TrainingLoop.Run(new DiffusionTask(unet, text, vae, tok, scheduler), new TrainingOptions { Steps = 16, Batch = 4, LearningRate = 2e-3, WarmupSteps = 2, CheckpointEvery = 8, OutDir = run });
        AssertFalls(Losses(run), "unet");
        using var unetBack = UNet2DConditionModel.FromFolder(Path.Combine(run, "export", "unet"));
        using var textBack = ClipTextModel.FromFolder(Path.Combine(run, "export", "text_encoder"));

        var inpaint = UNet2DConditionModel.FromConfig(unetConfig with { InChannels = 9 });
        var runI = Path.Combine(root, "inpaint");
        TrainingLoop.Run(new InpaintTask(inpaint, text, vae, tok, scheduler), new TrainingOptions { Steps = 16, Batch = 4, LearningRate = 2e-3, WarmupSteps = 2, CheckpointEvery = 8, OutDir = runI });
        AssertFalls(Losses(runI), "inpaint");
        using var inpaintBack = UNet2DConditionModel.FromFolder(Path.Combine(runI, "export", StableDiffusionPipeline.InpaintFolder));
        Assert.Equal(9, inpaintBack.Config.InChannels);
    }

    [Fact]
    public void AKilledRunResumesToTheSameWeights()
    {
        TrainingOptions Options(string dir, int steps, bool resume) =>
            new() { Steps = steps, Batch = 2, LearningRate = 1e-3, WarmupSteps = 2, CheckpointEvery = 3, OutDir = dir, Resume = resume, Seed = 5 };
        var straight = Temp();
        torch.manual_seed(3);
        TrainingLoop.Run(new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2), Options(straight, 6, false));

        var interrupted = Temp();
        torch.manual_seed(3);
        TrainingLoop.Run(new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2), Options(interrupted, 3, false));
        torch.manual_seed(99); // a different process state: resuming must not depend on it
        TrainingLoop.Run(new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2), Options(interrupted, 6, true));

        var a = SafeTensors.Load(Path.Combine(straight, "checkpoint", "weights.safetensors"));
        var b = SafeTensors.Load(Path.Combine(interrupted, "checkpoint", "weights.safetensors"));
        foreach (var k in a.Keys) Assert.True((a[k] - b[k]).abs().max().item<float>() < 1e-6, $"{k} differs after resuming");
        Assert.Equal(Losses(straight), Losses(interrupted));
    }

    /// <summary>A task that passes everything to another; fault injectors override <see cref="Loss"/>.</summary>
    abstract class DelegatingTask(ITrainingTask inner) : ITrainingTask
    {
        protected ITrainingTask Inner { get; } = inner;
        public string Name => Inner.Name;
        public IReadOnlyDictionary<string, nn.Module> Trainable => Inner.Trainable;
        public IReadOnlyDictionary<string, double> Evaluate() => Inner.Evaluate();
        public void Export(string folder) => Inner.Export(folder);
        public abstract Tensor Loss(int step, int batch, Generator generator);
    }

    /// <summary>A task that fails once at a chosen step, as a corrupted Scalar would: a NaN loss or a native error.</summary>
    sealed class FaultOnce(ITrainingTask inner, int faultStep, bool native) : DelegatingTask(inner)
    {
        bool done;
        public override Tensor Loss(int step, int batch, Generator generator)
        {
            var loss = Inner.Loss(step, batch, generator);
            if (step != faultStep || done) return loss;
            done = true;
            if (native) throw new System.Runtime.InteropServices.ExternalException("Expected false to be true, but got false. (toFloat at Scalar.h)");
            return loss * float.NaN;
        }
    }

    /// <summary>Trains a tiny VAE straight and through <paramref name="wrap"/>; asserts both end with the same weights
    /// and loss log, and returns the wrapped run's last progress report.</summary>
    static TrainingProgress RunAgainstUninterrupted(Func<ITrainingTask, ITrainingTask> wrap)
    {
        TrainingOptions Options(string dir) =>
            new() { Steps = 6, Batch = 2, LearningRate = 1e-3, WarmupSteps = 2, CheckpointEvery = 3, OutDir = dir, Seed = 5 };
        var straight = Temp();
        torch.manual_seed(3);
        TrainingLoop.Run(new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2), Options(straight));

        var faulty = Temp();
        torch.manual_seed(3);
        var reports = new List<TrainingProgress>();
        TrainingLoop.Run(wrap(new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2)), Options(faulty), new SyncProgress(reports.Add));

        var a = SafeTensors.Load(Path.Combine(straight, "checkpoint", "weights.safetensors"));
        var b = SafeTensors.Load(Path.Combine(faulty, "checkpoint", "weights.safetensors"));
        foreach (var k in a.Keys) Assert.True((a[k] - b[k]).abs().max().item<float>() < 1e-6, $"{k} differs from the uninterrupted run");
        Assert.Equal(Losses(straight), Losses(faulty));
        return reports[^1];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFaultyStepIsRepeatedAndTheRunEndsWithTheSameWeights(bool native)
    {
        var last = RunAgainstUninterrupted(task => new FaultOnce(task, faultStep: 4, native));
        Assert.Equal(1, last.RepeatedSteps);
        Assert.Equal(0, last.Recoveries);
        Assert.Contains("step 4", last.LastFault);
    }

    [Fact]
    public void ARunThatKeepsFaultingStopsWithAClearError()
    {
        var run = Temp();
        var e = Assert.Throws<InvalidOperationException>(() => TrainingLoop.Run(
            new FaultEvery(new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2)),
            new TrainingOptions { Steps = 4, Batch = 1, OutDir = run, MaxRecoveries = 2 }));
        Assert.Contains("after 2 rollbacks", e.Message);
        Assert.Contains("loss became NaN", e.Message);
    }

    /// <summary>Corrupts one weight once at a chosen step while returning a finite loss, as a garbage update would.</summary>
    sealed class CorruptOnce(ITrainingTask inner, int faultStep) : DelegatingTask(inner)
    {
        bool done;
        public override Tensor Loss(int step, int batch, Generator generator)
        {
            if (step == faultStep && !done)
            {
                done = true;
                using var noGrad = torch.no_grad();
                Inner.Trainable.Values.First().parameters().First().fill_(float.PositiveInfinity);
            }
            return Inner.Loss(step, batch, generator);
        }
    }

    [Fact]
    public void CorruptedWeightsAreNeverCheckpointedTheRunRollsBackAndEndsWithTheSameWeights()
    {
        var last = RunAgainstUninterrupted(task => new CorruptOnce(task, faultStep: 5));
        Assert.Equal(1, last.Recoveries);
    }

    sealed class FaultEvery(ITrainingTask inner) : DelegatingTask(inner)
    {
        public override Tensor Loss(int step, int batch, Generator generator) => Inner.Loss(step, batch, generator) * float.NaN;
    }

    sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    [Fact]
    public void GradientClippingScalesToTheGlobalNormAndSkipsWeightsWithoutGradients()
    {
        var a = new TorchSharp.Modules.Parameter(torch.zeros(2));
        var b = new TorchSharp.Modules.Parameter(torch.zeros(1));
        var frozen = new TorchSharp.Modules.Parameter(torch.zeros(3), requires_grad: false);
        (a * torch.tensor(new[] { 3f, 4f })).sum().backward();
        (b * 12f).sum().backward();

        double norm = TrainingLoop.ClipGradNorm(new[] { a, b, frozen }, 1.0);

        Assert.Equal(13.0, norm, 5);
        Assert.Equal(new[] { 3f / 13, 4f / 13 }, a.grad!.data<float>().ToArray(), (x, y) => Math.Abs(x - y) < 1e-6);
        Assert.Equal(12f / 13, b.grad!.item<float>(), 5);
        Assert.Null(frozen.grad);
        Assert.Equal(13.0 / 13 * 1.0, TrainingLoop.ClipGradNorm(new[] { a, b }, 5.0), 4); // under the limit: unchanged
        Assert.Equal(3f / 13, a.grad!.data<float>()[0], 6);
    }

    [Fact]
    public void AnExistingRunNeedsResume()
    {
        var run = Temp();
        TrainingLoop.Run(new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2), new TrainingOptions { Steps = 1, Batch = 1, OutDir = run });
        var e = Assert.Throws<ArgumentException>(() => TrainingLoop.Run(new VaeTask(AutoencoderKL.FromConfig(TinyVae), valCount: 2), new TrainingOptions { Steps = 2, Batch = 1, OutDir = run }));
        Assert.Contains("--resume", e.Message);
    }

    [Fact]
    public void TheToyTokenizerGivesEachCaptionWordOneToken()
    {
        var dir = Temp();
        ToyVocabulary.Write(dir);
        var tok = ClipTokenizer.FromFolder(dir);
        foreach (var w in ToyVocabulary.Words())
            Assert.Equal(3, tok.Encode(w).Length); // start, the word, end
        Assert.Single(tok.TokenPositions("a photo of a star and a red ring", "star"));
        Assert.True(tok.Vocabulary < 1000);
    }
}

/// <summary>A test class whose tests run on one intra-op torch thread (restored afterwards); use with
/// <see cref="SingleThreadedTrainingCollection"/>.</summary>
public abstract class OneTorchThread : IDisposable
{
    readonly int savedThreads = torch.get_num_threads();

    /// <summary>Sets one intra-op thread.</summary>
    protected OneTorchThread() => torch.set_num_threads(1);

    /// <inheritdoc />
    public void Dispose()
    {
        torch.set_num_threads(savedThreads);
        GC.SuppressFinalize(this);
    }
}

/// <summary>Tests that change the process's torch thread count run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SingleThreadedTrainingCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "single-threaded training";
}
