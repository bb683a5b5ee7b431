using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using GenSeg.ToyWorld.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.ToyWorld;

/// <summary>The inpainting recipe's options: PaintSeg-shaped examples, Min-SNR weights and the EMA of the weights.</summary>
[Collection(SingleThreadedTrainingCollection.Name)]
[Trait(Categories.Name, Categories.Integration)]
public sealed class InpaintRecipeTests : OneTorchThread
{
    static Scene SceneWithObjects(int atLeast)
    {
        foreach (var seed in Splits.Seeds(Split.Train, null, 200))
        {
            var s = SceneGenerator.Generate(seed);
            if (s.Objects.Count >= atLeast && s.Objects.All(o => o.VisibleArea > 30)) return s;
        }
        throw new InvalidOperationException("no train scene with enough objects");
    }

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a - b).abs().max().item<float>() == 0;

    static void AssertWholeCells(Tensor mask, int cell)
    {
        var pooled = nn.functional.max_pool2d(mask.unsqueeze(0).unsqueeze(0), cell, cell);
        var low = -nn.functional.max_pool2d(-mask.unsqueeze(0).unsqueeze(0), cell, cell);
        Assert.True(Same(pooled, low), $"the mask is not made of whole {cell}x{cell} cells");
    }

    [Fact]
    public void AnIStepExampleRemovesTheObjectInsideTheMaskAndKeepsTheImageOutside()
    {
        using var scope = NewDisposeScope();
        var scene = SceneWithObjects(2);
        for (ulong seed = 0; seed < 6; seed++)
        {
            // u1 < InpaintShare: an I-step example; u2 picks object 0
            var e = PaintSegExamples.Make(scene, 0.1, 0.0, 0.9, seed);
            Assert.Equal("", e.Caption);
            AssertWholeCells(e.Mask, 4);
            var r = e.Mask.unsqueeze(0);
            var without = SceneGenerator.Generate(scene.Seed, null, new[] { 0 }).ImageTensor();
            Assert.True(((e.Target - e.Image) * (1 - r)).abs().max().item<float>() == 0, "the target differs from the image outside the mask");
            Assert.True(((e.Target - without) * r).abs().max().item<float>() == 0, "inside the mask the target is not the scene without the object");
            // the estimate overlaps the object, so something of it is painted away
            var truth = scene.InstanceTensor(0);
            Assert.True((truth * e.Mask).sum().item<float>() > 0, $"seed {seed}: the I-step mask misses the object");
        }
    }

    [Fact]
    public void AnOStepExampleKeepsTheObjectAndRemovesTheOthersInThePaintedRegion()
    {
        using var scope = NewDisposeScope();
        var scene = SceneWithObjects(2);
        for (ulong seed = 0; seed < 6; seed++)
        {
            // InpaintShare <= u1 < InpaintShare + OutpaintShare: an O-step example for object 0, captioned (u3 < CaptionShare)
            var e = PaintSegExamples.Make(scene, PaintSegExamples.InpaintShare + 0.01, 0.0, 0.0, seed);
            Assert.NotEqual("", e.Caption);
            AssertWholeCells(e.Mask, 4);
            var r = e.Mask.unsqueeze(0);
            var truth = scene.InstanceTensor(0).unsqueeze(0);
            Assert.True(((e.Target - e.Image) * (1 - r)).abs().max().item<float>() == 0, "the target differs from the image outside the mask");
            Assert.True(((e.Target - e.Image) * truth).abs().max().item<float>() == 0, "the object is not kept whole");
            var only = SceneGenerator.Generate(scene.Seed, null, Enumerable.Range(1, scene.Objects.Count - 1).ToArray()).ImageTensor();
            Assert.True(((e.Target - only) * r).abs().max().item<float>() == 0, "inside the mask the target is not the scene with only the object");
        }
    }

    [Fact]
    public void MinSnrWeightsAreGammaOverSnrAtLowNoiseAndOneAtHighNoise()
    {
        using var scope = NewDisposeScope();
        var scheduler = new DDIMScheduler(ToyModelConfigs.Scheduler);
        var ab = scheduler.AlphasCumprod;
        var t = tensor(new long[] { 10, 999 });
        var w = new DiffusionRecipe(MinSnrGamma: 5).LossWeights(t, ab).data<float>().ToArray();
        double snr10 = ab[10] / (1.0 - ab[10]);
        Assert.True(snr10 > 5, "the test needs a timestep whose SNR exceeds gamma");
        Assert.Equal(5 / snr10, w[0], 4);
        Assert.Equal(1.0, w[1], 6);
        Assert.All(new DiffusionRecipe().LossWeights(t, ab).data<float>().ToArray(), x => Assert.Equal(1f, x));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionRecipe(EmaDecay: 1).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionRecipe(MinSnrGamma: -1).Validate());
    }


    [Fact]
    public void ARunRecordsTheSchedulerItsUNetIsTrainedForAndRefusesAnotherOnResume()
    {
        var run = Directory.CreateTempSubdirectory("genseg-run-scheduler").FullName;
        try
        {
            Assert.Equal("epsilon", ToyTraining.RecordedScheduler(run).Config.PredictionType); // older runs: SD's epsilon
            var v = new DiffusionRecipe(PredictionType: "v_prediction");
            ToyTraining.RecordScheduler(run, v);
            ToyTraining.RecordScheduler(run, v);                                               // a resume with the same recipe
            Assert.Equal(ToyModelConfigs.Scheduler with { PredictionType = "v_prediction" }, ToyTraining.RecordedScheduler(run).Config);
            var e = Assert.Throws<InvalidOperationException>(() => ToyTraining.RecordScheduler(run, new DiffusionRecipe()));
            Assert.Contains("v_prediction, not epsilon", e.Message);
        }
        finally { Directory.Delete(run, true); }
    }

    [Fact]
    public void VPredictionTrainsOnTheVelocityAndWeightsMinSnrOverSnrPlusOne()
    {
        using var scope = NewDisposeScope();
        var scheduler = new DDIMScheduler(ToyModelConfigs.Scheduler);
        var ab = scheduler.AlphasCumprod;
        var t = tensor(new long[] { 10, 500 });
        var x0 = randn(2, 4, 3, 3, generator: new Generator(1));
        var noise = randn(2, 4, 3, 3, generator: new Generator(2));
        var v = new DiffusionRecipe(PredictionType: "v_prediction");
        // v = sqrt(alpha_bar) noise - sqrt(1 - alpha_bar) x0, per sample
        for (int i = 0; i < 2; i++)
        {
            double a = ab[(int)t[i].item<long>()];
            var expected = noise[i] * Math.Sqrt(a) - x0[i] * Math.Sqrt(1 - a);
            Assert.True((v.Target(x0, noise, t, scheduler)[i] - expected).abs().max().item<float>() < 1e-5, $"sample {i}: the target is not v");
        }
        Assert.True(new DiffusionRecipe().Target(x0, noise, t, scheduler).eq(noise).all().item<bool>(), "epsilon prediction's target is the noise");
        var w = (v with { MinSnrGamma = 5 }).LossWeights(t, ab).data<float>().ToArray();
        double snr10 = ab[10] / (1.0 - ab[10]), snr500 = ab[500] / (1.0 - ab[500]);
        Assert.True(snr10 > 5 && snr500 < 5, "the test needs one timestep on each side of gamma");
        Assert.Equal(5 / (snr10 + 1), w[0], 4);
        Assert.Equal(snr500 / (snr500 + 1), w[1], 4);
        var e = Assert.Throws<ArgumentException>(() => new DiffusionRecipe(PredictionType: "sample").Validate());
        Assert.Contains("--prediction-type 'sample'", e.Message);
    }
    [Fact]
    public void TheEmaFoldsEachStepOnceWithItsDecay()
    {
        using var scope = NewDisposeScope();
        var source = nn.Linear(3, 2);
        var average = nn.Linear(3, 2);
        var ema = new EmaWeights(source, average);
        Assert.True(Same(average.weight!, source.weight!), "the average does not start as a copy");
        var start = average.weight!.clone();
        using (no_grad()) source.weight!.add_(1f);
        ema.Update(0, 0.9);
        ema.Update(0, 0.9); // a repeated step does not fold again
        var expected = start * 0.9f + source.weight!.detach() * 0.1f;
        Assert.True((average.weight! - expected).abs().max().item<float>() < 1e-6, "the average is not d * ema + (1 - d) * weight after one fold");
        ema.Update(1, 0.5);
        expected = expected * 0.5f + source.weight!.detach() * 0.5f;
        Assert.True((average.weight! - expected).abs().max().item<float>() < 1e-6, "the second step did not fold");
        Assert.False(average.weight!.requires_grad);
    }

    [Fact]
    public void APaintSegRunWithEmaResumesToTheSameWeightsAndExportsTheAverage()
    {
        var root = Directory.CreateTempSubdirectory("genseg-recipe").FullName;
        var tokDir = Path.Combine(root, "tok");
        ToyVocabulary.Write(tokDir);
        var tok = ClipTokenizer.FromFolder(tokDir);
        var unetConfig = ToyModelConfigs.Unet(9) with { BlockOutChannels = new[] { 32, 32, 32 }, CrossAttentionDim = 32, NormNumGroups = 8 };
        var textConfig = ToyModelConfigs.TextEncoder(tok.Vocabulary, tok.EndToken) with { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1 };
        var recipe = new DiffusionRecipe(MinSnrGamma: 5, EmaDecay: 0.9);
        InpaintTask Task()
        {
            torch.manual_seed(7);
            var vae = AutoencoderKL.FromConfig(ToyModelConfigs.Vae with { BlockOutChannels = new[] { 8, 16, 16 }, NormNumGroups = 4 });
            return new InpaintTask(UNet2DConditionModel.FromConfig(unetConfig), ClipTextModel.FromConfig(textConfig), vae, tok,
                new DDIMScheduler(ToyModelConfigs.Scheduler), masks: InpaintMasks.PaintSeg, recipe: recipe);
        }
        TrainingOptions Options(string dir, int steps, bool resume) =>
            new() { Steps = steps, Batch = 2, LearningRate = 1e-3, WarmupSteps = 2, CheckpointEvery = 2, OutDir = dir, Resume = resume, Seed = 3 };
        var straight = Path.Combine(root, "straight");
        TrainingLoop.Run(Task(), Options(straight, 4, false));
        var interrupted = Path.Combine(root, "interrupted");
        TrainingLoop.Run(Task(), Options(interrupted, 2, false));
        TrainingLoop.Run(Task(), Options(interrupted, 4, true));

        using var scope = NewDisposeScope();
        var a = SafeTensors.Load(Path.Combine(straight, "checkpoint", "weights.safetensors"));
        var b = SafeTensors.Load(Path.Combine(interrupted, "checkpoint", "weights.safetensors"));
        Assert.Contains(a.Keys, k => k.StartsWith(EmaWeights.CheckpointPrefix + ".", StringComparison.Ordinal));
        foreach (var k in a.Keys) Assert.True((a[k] - b[k]).abs().max().item<float>() < 1e-6, $"{k} differs after resuming");
        // the export is the average, not the raw weights (they differ after a few steps at this decay)
        var exported = SafeTensors.Load(ModelFiles.Weights(Path.Combine(straight, "export", StableDiffusionPipeline.InpaintFolder)));
        const string key = "conv_in.weight";
        Assert.False(Same(a["unet." + key], a["ema." + key]), "the raw and averaged weights are equal; the test cannot tell them apart");
        Assert.True(Same(exported[key], a["ema." + key]), "the export is not the EMA average");
    }

    [Fact]
    public void ATextToImageRunWithVPredictionAndEmaLearnsAndExportsTheAverage()
    {
        var root = Directory.CreateTempSubdirectory("genseg-recipe-t2i").FullName;
        var tokDir = Path.Combine(root, "tok");
        ToyVocabulary.Write(tokDir);
        var tok = ClipTokenizer.FromFolder(tokDir);
        torch.manual_seed(5);
        var unet = UNet2DConditionModel.FromConfig(ToyModelConfigs.Unet() with { BlockOutChannels = new[] { 32, 32, 32 }, CrossAttentionDim = 32, NormNumGroups = 8 });
        var text = ClipTextModel.FromConfig(ToyModelConfigs.TextEncoder(tok.Vocabulary, tok.EndToken) with { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1 });
        var vae = AutoencoderKL.FromConfig(ToyModelConfigs.Vae with { BlockOutChannels = new[] { 8, 16, 16 }, NormNumGroups = 4 });
        var task = new DiffusionTask(unet, text, vae, tok, new DDIMScheduler(ToyModelConfigs.Scheduler), freezeText: true,
            recipe: new DiffusionRecipe(MinSnrGamma: 5, EmaDecay: 0.9, PredictionType: "v_prediction"));
        var run = Path.Combine(root, "run");
        TrainingLoop.Run(task, new TrainingOptions { Steps = 16, Batch = 4, LearningRate = 2e-3, WarmupSteps = 2, CheckpointEvery = 8, OutDir = run, Seed = 1 });
        var losses = File.ReadAllLines(Path.Combine(run, "losses.csv")).Skip(1)
            .Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(losses.TakeLast(4).Average() < losses.Take(4).Average(), "the v-prediction loss did not fall");
        using var scope = NewDisposeScope();
        var ckpt = SafeTensors.Load(Path.Combine(run, "checkpoint", "weights.safetensors"));
        var exported = SafeTensors.Load(ModelFiles.Weights(Path.Combine(run, "export", "unet")));
        const string key = "conv_in.weight";
        Assert.False(Same(ckpt["unet." + key], ckpt["ema." + key]), "the raw and averaged weights are equal; the test cannot tell them apart");
        Assert.True(Same(exported[key], ckpt["ema." + key]), "the export is not the EMA average");
        Directory.Delete(root, true);
    }
}
