using GenSeg.Diffusion;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.ToyWorld.Training;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

/// <summary>A tiny random pipeline in the diffusers layout, shared by the tests that need a whole model folder.</summary>
public sealed class TinyPipelineFixture : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("genseg-tiny-sd").FullName;

    public TinyPipelineFixture()
    {
        torch.manual_seed(0);
        var tokDir = Path.Combine(Folder, "tokenizer-src");
        ToyVocabulary.Write(tokDir);
        var tok = ClipTokenizer.FromFolder(tokDir);
        var vaeConfig = ToyModelConfigs.Vae with { BlockOutChannels = new[] { 8, 8, 8 }, NormNumGroups = 4 };
        using var vae = AutoencoderKL.FromConfig(vaeConfig);
        using var text = ClipTextModel.FromConfig(ToyModelConfigs.TextEncoder(tok.Vocabulary, tok.EndToken) with { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1 });
        var unetConfig = ToyModelConfigs.Unet() with { BlockOutChannels = new[] { 32, 32, 32 }, CrossAttentionDim = 32, NormNumGroups = 8 };
        using var unet = UNet2DConditionModel.FromConfig(unetConfig);
        using var inpaint = UNet2DConditionModel.FromConfig(unetConfig with { InChannels = 9 });
        StableDiffusionPipeline.Save(Path.Combine(Folder, "model"), unet, vae, text, tokDir, new DDIMScheduler(ToyModelConfigs.Scheduler), inpaint);
    }

    public string Model => Path.Combine(Folder, "model");

    public void Dispose() => Directory.Delete(Folder, true);
}

[Trait(Categories.Name, Categories.Unit)]
public class PipelineTests(TinyPipelineFixture tiny) : IClassFixture<TinyPipelineFixture>
{
    [Fact]
    public void AFolderWrittenByTheKitLoadsBackBitIdentically()
    {
        using var a = StableDiffusionPipeline.Load(tiny.Model);
        var copy = Path.Combine(tiny.Folder, "copy");
        a.Save(copy);
        using var b = StableDiffusionPipeline.Load(copy);
        foreach (var (name, x, y) in new (string, nn.Module, nn.Module)[] { ("unet", a.Unet, b.Unet), ("vae", a.Vae, b.Vae), ("text", a.TextEncoder, b.TextEncoder), ("inpaint", a.InpaintUnet!, b.InpaintUnet!) })
        {
            var sx = x.state_dict();
            var sy = y.state_dict();
            Assert.Equal(sx.Keys.Order(), sy.Keys.Order());
            foreach (var k in sx.Keys) Assert.True((sx[k] == sy[k]).all().item<bool>(), $"{name}.{k} differs after save/load");
        }
        foreach (var f in new[] { "model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "unet/config.json", "vae/config.json", "text_encoder/config.json", "unet-inpaint/config.json" })
            Assert.True(File.Exists(Path.Combine(copy, f)), $"{f} missing");
        Assert.Equal(a.Tokenizer.EncodePadded("a photo of a red star"), b.Tokenizer.EncodePadded("a photo of a red star"));
    }

    [Fact]
    public void StagesHaveTheDocumentedShapes()
    {
        using var p = StableDiffusionPipeline.Load(tiny.Model);
        var images = rand(2, 3, 64, 64) * 2 - 1;
        var latents = p.EncodeImage(images);
        Assert.Equal(new long[] { 2, 4, 16, 16 }, latents.shape);
        var prompt = p.EncodePrompt(new[] { "a photo of a star", "" });
        Assert.Equal(new long[] { 2, 77, 32 }, prompt.Hidden.shape);
        var (noisy, noise) = p.NoiseAt(latents, 400, new Generator(1));
        Assert.Equal(latents.shape, noisy.shape);
        // x0 from the true noise is the clean latent exactly (Eq. 2 inverted)
        var x0 = p.Scheduler.PredictOriginal(noise, 400, noisy);
        Assert.True((x0 - latents).abs().max().item<float>() < 1e-4);
        Assert.Equal(latents.shape, p.PredictX0(noisy, 400, prompt.Hidden).shape);
        Assert.Equal(new long[] { 2, 3, 64, 64 }, p.Decode(latents).shape);
        var samples = p.Generate(new[] { "a photo of a star" }, steps: 2, guidance: 2.0, generator: new Generator(2));
        Assert.Equal(new long[] { 1, 3, 64, 64 }, samples.shape);
        var mask = zeros(1, 1, 64, 64);
        mask[0, 0, 16..48, 16..48] = tensor(1f);
        var painted = p.Inpaint(images[..1], mask, new[] { "" }, steps: 2, guidance: 1.0, generator: new Generator(3));
        // unmasked pixels are kept exactly
        Assert.True(((painted - images[..1]) * (1 - mask)).abs().max().item<float>() < 1e-6);
    }

    [Fact]
    public void TheInpaintingUNetIsSampledWithItsOwnScheduler()
    {
        var v = new DDIMScheduler(ToyModelConfigs.Scheduler with { PredictionType = "v_prediction" });
        var own = Path.Combine(tiny.Folder, "inpaint-v");     // epsilon scheduler/, v scheduler-inpaint/
        var shared = Path.Combine(tiny.Folder, "all-v");      // v scheduler/ for both UNets
        using (var p = StableDiffusionPipeline.Load(tiny.Model))
        {
            Assert.Same(p.Scheduler, p.InpaintScheduler);
            var tok = Path.Combine(tiny.Model, "tokenizer");
            StableDiffusionPipeline.Save(own, p.Unet, p.Vae, p.TextEncoder, tok, p.Scheduler, p.InpaintUnet, v);
            StableDiffusionPipeline.Save(shared, p.Unet, p.Vae, p.TextEncoder, tok, v, p.InpaintUnet);
        }
        var images = rand(1, 3, 64, 64, generator: new Generator(4)) * 2 - 1;
        var mask = zeros(1, 1, 64, 64);
        mask[0, 0, 16..48, 16..48] = tensor(1f);
        Tensor Paint(StableDiffusionPipeline p) => p.Inpaint(images, mask, new[] { "" }, steps: 3, guidance: 1.0, latents: randn(p.InpaintNoiseShape(1, 64, 64), generator: new Generator(5)));
        using var a = StableDiffusionPipeline.Load(own);
        using var b = StableDiffusionPipeline.Load(shared);
        using var c = StableDiffusionPipeline.Load(tiny.Model);
        Assert.Equal("epsilon", a.Scheduler.Config.PredictionType);
        Assert.Equal("v_prediction", a.InpaintScheduler.Config.PredictionType);
        Assert.True(Paint(a).eq(Paint(b)).all().item<bool>(), "the painter did not follow scheduler-inpaint/");
        Assert.False(Paint(a).eq(Paint(c)).all().item<bool>(), "v- and epsilon-prediction painted the same");
        // a save keeps it; saving a pipeline without one removes a stale folder
        var copy = Path.Combine(tiny.Folder, "inpaint-v-copy");
        a.Save(copy);
        Assert.Equal("v_prediction", DDIMScheduler.FromFolder(Path.Combine(copy, StableDiffusionPipeline.InpaintSchedulerFolder)).Config.PredictionType);
        c.Save(copy);
        Assert.False(Directory.Exists(Path.Combine(copy, StableDiffusionPipeline.InpaintSchedulerFolder)));
        // a scheduler-inpaint/ without an inpainting UNet is an error that names both
        Directory.Delete(Path.Combine(own, StableDiffusionPipeline.InpaintFolder), true);
        var e = Assert.Throws<InvalidDataException>(() => StableDiffusionPipeline.Load(own));
        Assert.Contains("scheduler-inpaint/", e.Message);
        Assert.Contains("unet-inpaint/", e.Message);
    }

    [Fact]
    public void MissingComponentsNameTheFolder()
    {
        var broken = Path.Combine(tiny.Folder, "broken");
        Directory.CreateDirectory(broken);
        Assert.Contains("model_index.json", Assert.Throws<FileNotFoundException>(() => StableDiffusionPipeline.Load(broken)).Message);
        File.WriteAllText(Path.Combine(broken, "model_index.json"), "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}");
        Assert.Contains("'vae'", Assert.Throws<InvalidDataException>(() => StableDiffusionPipeline.Load(broken)).Message);
        File.WriteAllText(Path.Combine(broken, "model_index.json"), File.ReadAllText(Path.Combine(tiny.Model, "model_index.json")));
        Assert.Contains("'unet/'", Assert.Throws<DirectoryNotFoundException>(() => StableDiffusionPipeline.Load(broken)).Message);
    }

    [Fact]
    public void MemoryStaysFlatOver200UNetAndVaePasses()
    {
        using var p = StableDiffusionPipeline.Load(tiny.Model);
        var image = rand(1, 3, 64, 64) * 2 - 1;
        var context = p.EncodePrompt(new[] { "a photo of a ring" }).Hidden;
        long after20 = 0;
        for (int i = 0; i < 200; i++)
        {
            using var scope = NewDisposeScope();
            var latents = p.EncodeImage(image);
            var (noisy, _) = p.NoiseAt(latents, 400, new Generator((ulong)i));
            var x0 = p.PredictX0(noisy, 400, context);
            p.Decode(x0);
            scope.Dispose();
            if (i == 19) after20 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        Assert.Equal(after20, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
