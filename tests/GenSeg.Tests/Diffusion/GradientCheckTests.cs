using GenSeg.Diffusion.Models;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

/// <summary>
/// The models' gradients (what training follows) equal central finite differences of their outputs, in float64 on tiny
/// configurations: a wrong backward (a custom layer, a detached path) would train a model toward the wrong place.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public class GradientCheckTests
{
    static void Check(nn.Module module, Func<Tensor> loss, int probesPerWeight = 2)
    {
        using var scope = NewDisposeScope();
        module.to(ScalarType.Float64);
        var value = loss();
        value.backward();
        var g = new Generator(7);
        int checkedCount = 0;
        foreach (var (name, p) in module.named_parameters())
        {
            if (p.grad is null) continue;
            var flat = p.detach().view(-1);
            var grad = p.grad.view(-1);
            for (int k = 0; k < probesPerWeight; k++)
            {
                long i = randint(0, flat.shape[0], new long[] { 1 }, generator: g).item<long>();
                double h = 1e-6, orig = flat[i].item<double>();
                using (no_grad())
                {
                    flat[i] = tensor(orig + h, ScalarType.Float64);
                    double up = loss().item<double>();
                    flat[i] = tensor(orig - h, ScalarType.Float64);
                    double down = loss().item<double>();
                    flat[i] = tensor(orig, ScalarType.Float64);
                    double numeric = (up - down) / (2 * h), analytic = grad[i].item<double>();
                    Assert.True(Math.Abs(numeric - analytic) <= 1e-5 + 1e-4 * Math.Abs(numeric),
                        $"{name}[{i}]: autograd {analytic:G8}, finite difference {numeric:G8}");
                    checkedCount++;
                }
            }
        }
        Assert.True(checkedCount > 20, $"only {checkedCount} weights checked");
    }

    [Fact]
    public void VaeGradientsMatchFiniteDifferences()
    {
        torch.manual_seed(1);
        var vae = AutoencoderKL.FromConfig(ToyModelConfigs.Vae with { BlockOutChannels = new[] { 8, 16 }, NormNumGroups = 4, DownBlockTypes = new[] { "DownEncoderBlock2D", "DownEncoderBlock2D" }, UpBlockTypes = new[] { "UpDecoderBlock2D", "UpDecoderBlock2D" } });
        var x = rand(2, 3, 8, 8, dtype: ScalarType.Float64) * 2 - 1;
        var w = randn(2, 3, 8, 8, dtype: ScalarType.Float64);
        Check(vae, () => (vae.Decode(vae.Encode(x).Mode()) * w).sum());
    }

    [Fact]
    public void UNetGradientsMatchFiniteDifferences()
    {
        torch.manual_seed(2);
        var config = ToyModelConfigs.Unet() with { BlockOutChannels = new[] { 8, 16 }, NormNumGroups = 4, CrossAttentionDim = 8, AttentionHeadDim = new[] { 2, 2 },
            DownBlockTypes = new[] { "CrossAttnDownBlock2D", "DownBlock2D" }, UpBlockTypes = new[] { "UpBlock2D", "CrossAttnUpBlock2D" }, LayersPerBlock = 1 };
        var unet = UNet2DConditionModel.FromConfig(config);
        var x = randn(2, 4, 8, 8, dtype: ScalarType.Float64);
        var ctx = randn(2, 5, 8, dtype: ScalarType.Float64);
        var t = tensor(new long[] { 10, 700 });
        var w = randn(2, 4, 8, 8, dtype: ScalarType.Float64);
        Check(unet, () => (unet.Forward(x, t, ctx) * w).sum());
    }
}
