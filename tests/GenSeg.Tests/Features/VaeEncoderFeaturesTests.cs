using GenSeg.Diffusion;
using GenSeg.Features;
using GenSeg.Notebooks;
using GenSeg.Runtime;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Tests.Features;

/// <summary>The model's VAE encoder as PaintSeg's E, on the embedded model.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class VaeEncoderFeaturesTests
{
    [Fact]
    public void APaintedPatchChangesTheFeaturesOverItMoreThanFarAway()
    {
        TorchRuntime.EnsureNativeLoaded();
        using var pipeline = StableDiffusionPipeline.Load(NotebookPaths.ModelFolder(NotebookPaths.EmbeddedModel));
        using var scope = NewDisposeScope();
        var features = new VaeEncoderFeatures(pipeline);
        var image = SceneGenerator.Generate(Splits.Seeds(Split.Val, null, 1)[0]).ImageTensor();
        var painted = image.clone();
        painted[TensorIndex.Colon, TensorIndex.Slice(0, 16), TensorIndex.Slice(0, 16)] = tensor(new[] { 0.9f, -0.9f, 0.2f }).view(3, 1, 1);
        var f = features.Extract(stack(new[] { image, image, painted }));
        int side = 64 / pipeline.Vae.DownsampleFactor;
        Assert.Equal(new long[] { 3, pipeline.Vae.Config.LatentChannels, side, side }, f.shape);
        Assert.Equal(0f, (f[0] - f[1]).abs().max().item<float>()); // deterministic: the posterior mean, no sampling
        var dist = (f[0] - f[2]).square().sum(new long[] { 0 });
        int q = side / 4;
        double near = dist[TensorIndex.Slice(0, q), TensorIndex.Slice(0, q)].mean().item<float>();
        double far = dist[TensorIndex.Slice(side - q, side), TensorIndex.Slice(side - q, side)].mean().item<float>();
        Assert.True(near > 10 * far, $"feature change over the painted patch {near:G3} is not well above far away {far:G3}");
    }
}
