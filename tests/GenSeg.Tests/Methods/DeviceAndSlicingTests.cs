using GenSeg.Diffusion;
using GenSeg.Diffusion.Attention;
using GenSeg.Features;
using GenSeg.Methods.G4Seg;
using GenSeg.Tests.Support;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

/// <summary>
/// Memory and placement at any scale: attention with G4Seg's injected maps in slices of query rows gives the unsliced
/// result; the maps follow the UNet's device and dtype (a UNet on the meta device catches a map left on the CPU);
/// a whole G4Seg refinement under bfloat16 or float16 keeps every intermediate in the pipeline's type.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class DeviceAndSlicingTests(TinyPipeline tiny, ITestOutputHelper output) : IClassFixture<TinyPipeline>
{
    static (Tensor Latents, Tensor Mask) Inputs()
    {
        var latents = randn(2, 4, 16, 16, generator: new Generator(2));
        var mask = zeros(2, 64, 64);
        mask[0, 16..40, 20..48] = 1;
        mask[1, 8..30, 8..60] = 1;
        return (latents, mask);
    }

    [Theory]
    [InlineData(InjectionMode.Additive)]
    [InlineData(InjectionMode.DenseDiffusion)]
    public void SlicedInjectionEqualsTheUnslicedOne(InjectionMode mode)
    {
        using var pipe = tiny.Load();
        using var noGrad = no_grad();
        var (latents, mask) = Inputs();
        var prompts = new[] { "a photo of a circle", "a photo of a star" };
        var context = pipe.EncodePrompt(prompts).Hidden;
        var tokens = prompts.Select((p, i) => G4SegStages.ClassTokens(pipe.Tokenizer, p, G4SegTests.Names[i * 2])).ToArray();
        var options = new InjectionOptions { Mode = mode };
        var control = G4SegStages.BuildInjection(pipe.Unet, mask, tokens, context.shape[1], 16, 16, 400, options)!;
        var whole = G4SegStages.PredictX0(pipe, latents, 400, context, control);
        var plain = G4SegStages.PredictX0(pipe, latents, 400, context, null);
        Assert.True((whole - plain).abs().max().item<float>() > 1e-4, "the injection changed nothing: the comparison would be empty");
        // 4 KiB per slice: at 16x16 self-attention (2 items, 2 heads, 256 keys, 4 bytes) one query row at a time;
        // 64 KiB: 16 rows. Each row's softmax is its own, so only the matrix products' blocking may differ (rounding).
        foreach (long bytes in new[] { 4L << 10, 64L << 10 })
        {
            var sliced = G4SegStages.PredictX0(pipe, latents, 400, context, control with { SliceBytes = bytes });
            double diff = (whole - sliced).abs().max().item<float>(), scale = whole.abs().max().item<float>();
            output.WriteLine($"{mode}, {bytes} bytes per slice: sliced vs whole max |diff| {diff:E2} (max |x0| {scale:F2})");
            Assert.True(diff <= 1e-5 * Math.Max(1, scale), $"{mode}: slicing changed x0 by {diff:E2}");
        }
    }

    [Fact]
    public void SliceRowsKeepTheLogitsWithinTheBudget()
    {
        // SD 2.1 at 512 px, level 0 self-attention: 4096 queries and keys, 5 heads, 64 items per UNet call
        long rows = AttentionSlicing.Rows(64, 5, 4096, 4096, 4, AttentionControl.DefaultSliceBytes);
        Assert.True(rows * 64 * 5 * 4096 * 4 <= AttentionControl.DefaultSliceBytes && rows >= 1);
        Assert.Equal(4096, AttentionSlicing.Rows(1, 1, 4096, 77, 4, AttentionControl.DefaultSliceBytes));
        Assert.Equal(1, AttentionSlicing.Rows(64, 5, 4096, 4096, 4, 1));
        var bias = new LowRankBias(tensor(new float[] { 1, 0, 1 }).view(1, 3), tensor(new float[] { 0, 1 }).view(1, 2), 2.5);
        Assert.Equal(new float[] { 0, 2.5f, 0, 0, 0, 2.5f }, bias.Dense().data<float>().ToArray());
        Assert.Equal(new float[] { 0, 0, 0, 2.5f }, bias.Rows(1, 3, ScalarType.Float32, CPU).data<float>().ToArray());
        Assert.Equal(ScalarType.BFloat16, bias.Rows(0, 1, ScalarType.BFloat16, CPU).dtype);
    }

    [Fact]
    public void InjectionMapsFollowTheAttentionsDeviceNotTheMasks()
    {
        // Attention layers on the meta device (shapes only, no data; libtorch has no meta convolution, so the layers
        // run alone, and no meta kernel inside the fused attention, so the explicit path runs): a bias or map left on
        // the CPU would meet meta queries and fail, so this passes only when every tensor the injection hands to
        // attention follows the layer.
        using var pipe = tiny.Load();
        using var noGrad = no_grad();
        var meta = new Device(DeviceType.META);
        var (_, mask) = Inputs(); // the coarse masks on the CPU, as a dataset reader makes them
        var tokens = new[] { new[] { 5 }, new[] { 5 } };
        var layers = pipe.Unet.named_modules().Where(m => m.module is GenSeg.Diffusion.Models.Attention)
            .Select(m => (GenSeg.Diffusion.Models.Attention)m.module).Where(a => a.Site.Level == 0).ToList();
        Assert.Equal(new[] { AttentionKind.Self, AttentionKind.Cross }, layers.Select(a => a.Site.Kind).Distinct().OrderBy(k => k));
        foreach (var mode in new[] { InjectionMode.Additive, InjectionMode.DenseDiffusion })
        {
            var control = G4SegStages.BuildInjection(pipe.Unet, mask, tokens, 16, 16, 16, 400, new InjectionOptions { Mode = mode })!;
            control = control with { ModifyLogits = control.ModifyLogits ?? ((_, logits, _) => logits) };
            foreach (var layer in layers)
            {
                layer.to(meta);
                var x = zeros(new long[] { 2, 256, layer.QueryDim }, device: meta);
                var context = layer.Site.Kind == AttentionKind.Cross ? zeros(new long[] { 2, 16, layer.ContextDim }, device: meta) : null;
                var y = layer.Forward(x, context, control, 16, 16);
                Assert.Equal(DeviceType.META, y.device.type);
                Assert.Equal(x.shape, y.shape);
            }
        }
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void G4SegUnderAHalfTypeKeepsEveryIntermediateInThePipelinesType(ScalarType dtype)
    {
        using var pipe = StableDiffusionPipeline.Load(tiny.Folder, CPU, dtype);
        Assert.Equal(dtype, pipe.DType);
        Assert.All(pipe.Unet.parameters().Concat(pipe.Vae.parameters()).Concat(pipe.TextEncoder.parameters()), p => Assert.Equal(dtype, p.dtype));
        var (images, p) = G4SegTests.Inputs();
        using var refiner = new G4SegRefiner(pipe, new G4SegOptions(), new ColourPositionFeatures(1, 0.5)) { Workers = 1 };
        using var r = refiner.Refine(images, p, G4SegTests.Names);
        foreach (var (name, t) in new[] { ("noisy", r.Noisy), ("x0", r.X0), ("generated", r.Generated) })
        {
            Assert.NotNull(t);
            Assert.Equal(dtype, t!.dtype);
            Assert.Equal(DeviceType.CPU, t.device.type);
            Assert.False(t.isnan().any().item<bool>(), $"{name} has NaN under {dtype}");
        }
        // the probabilities the method returns are the coarse maps' (float32), mixed from the half-precision generation
        Assert.Equal(ScalarType.Float32, r.Refined.dtype);
        Assert.InRange(r.Refined.min().item<float>(), 0f, 1f);
        Assert.InRange(r.Refined.max().item<float>(), 0f, 1f);
    }
}
