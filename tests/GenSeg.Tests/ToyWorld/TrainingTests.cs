using GenSeg.Diffusion;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.ToyWorld.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.ToyWorld;

/// <summary>CI's smoke test of the embedded model's training: each component trains a few steps, its loss falls, its
/// export loads; a killed run resumes to the same weights as an uninterrupted one. CI never retrains the shipped model.</summary>
public class TrainingTests
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
