using GenSeg.Diffusion.Models;
using GenSeg.Features;
using GenSeg.Tests.Support;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

[Trait(Categories.Name, Categories.Unit)]
public sealed class FeatureExtractorTests : IClassFixture<TinyPipeline>
{
    readonly TinyPipeline tiny;

    public FeatureExtractorTests(TinyPipeline tiny) => this.tiny = tiny;

    static Tensor Images() => rand(2, 3, 40, 48, generator: new Generator(4)) * 2 - 1;

    [Fact]
    public void PreparationMapsTheKitsRangeToNormalisedPixels()
    {
        var x = full(1, 3, 4, 4, 0.5f); // 0.75 in [0, 1]
        var y = ImageNormalisation.Prepare(x, 4, 4, ImageNormalisation.ClipMean, ImageNormalisation.ClipStd);
        for (int c = 0; c < 3; c++)
            Assert.Equal((0.75 - ImageNormalisation.ClipMean[c]) / ImageNormalisation.ClipStd[c], y[0, c, 2, 2].item<float>(), 4);
        Assert.Equal(new long[] { 1, 3, 8, 6 }, ImageNormalisation.Prepare(x, 8, 6, ImageNormalisation.ImageNetMean, ImageNormalisation.ImageNetStd).shape);
    }

    [Fact]
    public void ClipFeaturesAreThePatchTokensOfTheChosenLayerAtTheChosenSize()
    {
        var dir = Directory.CreateTempSubdirectory("genseg-clipv-").FullName;
        try
        {
            using (var model = ClipVisionModel.FromConfig(new ClipVisionConfig { HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 32, PatchSize = 8 }))
                model.Save(dir);
            var f = VitFeatures.ClipFromFolder(dir, layer: 1, inputSize: 48);
            var maps = f.Extract(Images());
            Assert.Equal(new long[] { 2, 16, 6, 6 }, maps.shape);
            Assert.Equal("clip-vision:L1@48", f.Name);
            var last = VitFeatures.Clip(ClipVisionModel.FromFolder(dir));
            Assert.Equal(2, last.Layer);
            Assert.Equal(new long[] { 2, 16, 4, 4 }, last.Extract(Images()).shape);
            Assert.False(allclose(maps, VitFeatures.ClipFromFolder(dir, layer: 2, inputSize: 48).Extract(Images())));
            Assert.Throws<ArgumentOutOfRangeException>(() => VitFeatures.ClipFromFolder(dir, layer: 3));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void DinoFeaturesAreTheNormedPatchFeaturesOfTheChosenBlock()
    {
        var dir = Directory.CreateTempSubdirectory("genseg-dino-").FullName;
        try
        {
            using (var model = DinoVisionTransformer.FromConfig(new DinoConfig { ImgSize = 32, PatchSize = 8, EmbedDim = 16, Depth = 2, NumHeads = 2 }))
                model.Save(dir);
            var f = VitFeatures.DinoFromFolder(dir, inputSize: 40);
            Assert.Equal(2, f.Layer);
            Assert.Equal("dino:B2@40", f.Name);
            var maps = f.Extract(Images());
            Assert.Equal(new long[] { 2, 16, 5, 5 }, maps.shape);
            // LayerNorm output: each token has mean 0 over channels (the norm's bias starts at 0)
            Assert.True(maps.mean(new long[] { 1 }).abs().max().item<float>() < 1e-4);
            Assert.Throws<ArgumentOutOfRangeException>(() => VitFeatures.DinoFromFolder(dir, layer: 0));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void DiffusionFeaturesAreAnUpBlockOutputAveragedOverDeterministicNoise()
    {
        using var pipe = tiny.Load();
        var images = rand(2, 3, 64, 64, generator: new Generator(5)) * 2 - 1;
        using var f = new DiffusionFeatures(pipe, upBlock: 0, timestep: 261, samples: 3);
        var a = f.Extract(images);
        Assert.Equal(new long[] { 2, 32, 8, 8 }, a.shape);
        Assert.True(allclose(a, f.Extract(images)));
        // an image's features do not depend on the batch it comes in
        Assert.True(allclose(a[1..2], f.Extract(images[1..2]), atol: 1e-5));
        using var one = new DiffusionFeatures(pipe, upBlock: 0, timestep: 261, samples: 1);
        Assert.False(allclose(a, one.Extract(images)));
        Assert.Equal("dift:up0@t261x3", f.Name);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiffusionFeatures(pipe, upBlock: 3));
    }
}
