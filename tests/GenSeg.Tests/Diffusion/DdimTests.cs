using CsCheck;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Tests.Support;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
public class DdimTests(ITestOutputHelper output)
{
    static string TempDir() => Directory.CreateTempSubdirectory("genseg-ddim").FullName;

    [Fact]
    public void TimestepSpacingsFollowDiffusers()
    {
        var sd = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion());
        var leading = sd.Timesteps(50);
        Assert.Equal(981, leading[0]);
        Assert.Equal(1, leading[^1]);
        Assert.All(leading.Zip(leading.Skip(1)), p => Assert.Equal(20, p.First - p.Second));
        Assert.Equal(new long[] { 999, 666, 332 }, new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion() with { TimestepSpacing = "trailing" }).Timesteps(3));
        Assert.Equal(new long[] { 999, 979, 959 }, new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion() with { TimestepSpacing = "trailing" }).Timesteps(50)[..3]);
        Assert.Equal(new long[] { 999, 666, 333, 0 }, new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion() with { TimestepSpacing = "linspace" }).Timesteps(4));
        Assert.Equal(new long[] { 0 }, new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion() with { TimestepSpacing = "linspace" }).Timesteps(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sd.Timesteps(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => sd.Timesteps(1001));
    }

    [Fact]
    public void SchedulesHaveTheirDefiningProperties()
    {
        var linear = new DDIMScheduler(new DDIMSchedulerConfig());
        Assert.Equal(0.0001f, linear.Betas[0]);
        Assert.Equal(0.02f, linear.Betas[^1], 6);
        var sd = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion());
        Assert.Equal(0.00085f, sd.Betas[0], 7);
        Assert.Equal(0.012f, sd.Betas[^1], 7);
        Assert.Equal(sd.AlphasCumprod[0], sd.FinalAlphaCumprod);
        Assert.Equal(1f, linear.FinalAlphaCumprod);
        var cosine = new DDIMScheduler(new DDIMSchedulerConfig { BetaSchedule = "squaredcos_cap_v2" });
        Assert.True(cosine.Betas.All(b => b > 0 && b <= 0.999f));
        var zeroSnr = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion() with { RescaleBetasZeroSnr = true });
        Assert.Equal(0f, zeroSnr.AlphasCumprod[^1], 6);
        Assert.Equal(sd.AlphasCumprod[0], zeroSnr.AlphasCumprod[0], 6);
        for (int t = 1; t < 1000; t++) Assert.True(sd.AlphasCumprod[t] < sd.AlphasCumprod[t - 1]);
    }

    [Fact]
    public void VelocityAndNoiseRecoverTheCleanSample()
    {
        torch.manual_seed(4);
        var x0 = torch.randn(3, 4, 8, 8);
        var noise = torch.randn(3, 4, 8, 8);
        var timesteps = torch.tensor(new long[] { 5, 400, 990 });
        foreach (var type in DDIMSchedulerConfig.PredictionTypes)
        {
            var s = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion(type));
            var xt = s.AddNoise(x0, noise, timesteps);
            var target = type switch { "epsilon" => noise, "sample" => x0, _ => s.GetVelocity(x0, noise, timesteps) };
            for (int i = 0; i < 3; i++)
            {
                long t = timesteps[i].item<long>();
                var x0Hat = s.PredictOriginal(target[i..(i + 1)], t, xt[i..(i + 1)]);
                var epsHat = s.PredictEpsilon(target[i..(i + 1)], t, xt[i..(i + 1)]);
                Assert.True(x0Hat.allclose(x0[i..(i + 1)], 1e-3, 2e-3), $"{type}: x0 at t={t}");
                Assert.True(epsHat.allclose(noise[i..(i + 1)], 1e-3, 2e-3), $"{type}: epsilon at t={t}");
            }
        }
    }

    [Fact]
    public void AStepWithTheTrueNoiseLandsOnTheForwardProcess()
    {
        // With the exact epsilon, DDIM (eta = 0) maps add_noise(x0, e, t) to add_noise(x0, e, t - Δ).
        var s = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion());
        torch.manual_seed(5);
        var x0 = torch.randn(2, 4, 8, 8);
        var noise = torch.randn(2, 4, 8, 8);
        var step = s.Step(noise, 401, s.AddNoise(x0, noise, 401), 50);
        Assert.True(step.PrevSample.allclose(s.AddNoise(x0, noise, 381), 1e-4, 1e-4));
        Assert.True(step.PredOriginalSample.allclose(x0, 1e-4, 1e-4));
        // At the last step (t = 1), prev is alpha-bar_0 (set_alpha_to_one = false).
        var last = s.Step(noise, 1, s.AddNoise(x0, noise, 1), 50);
        Assert.True(last.PrevSample.allclose(s.AddNoise(x0, noise, 0), 1e-4, 1e-4));
    }

    [Fact]
    public void StochasticStepsFollowTheGenerator()
    {
        var s = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion());
        torch.manual_seed(6);
        var x = torch.randn(1, 4, 8, 8);
        var e = torch.randn(1, 4, 8, 8);
        var a = s.Step(e, 501, x, 50, eta: 1.0, generator: new Generator(11)).PrevSample;
        var b = s.Step(e, 501, x, 50, eta: 1.0, generator: new Generator(11)).PrevSample;
        var c = s.Step(e, 501, x, 50, eta: 1.0, generator: new Generator(12)).PrevSample;
        var deterministic = s.Step(e, 501, x, 50).PrevSample;
        Assert.True(a.eq(b).all().item<bool>());
        Assert.False(a.allclose(c));
        // The added noise has the DDPM posterior's standard deviation (eta = 1): check its empirical std.
        float at = s.AlphasCumprod[501], ap = s.AlphasCumprod[481];
        double sigma = Math.Sqrt((1 - ap) / (1 - at) * (1 - at / ap));
        var big = torch.randn(1, 4, 64, 64);
        var diff = s.Step(torch.zeros_like(big), 501, big, 50, 1.0, new Generator(3)).PrevSample
                   - s.Step(torch.zeros_like(big), 501, big, 50).PrevSample;
        Assert.InRange(diff.std().item<float>() / sigma, 0.95, 1.05);
        Assert.False(deterministic.allclose(a));
    }

    [Fact]
    public void ClippingBoundsPredictedSamples()
    {
        var s = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion() with { ClipSample = true, ClipSampleRange = 0.5 });
        var x = torch.randn(1, 4, 8, 8) * 5;
        var step = s.Step(torch.zeros_like(x), 901, x, 50);
        Assert.True(step.PredOriginalSample.abs().max().item<float>() <= 0.5f);
        var th = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion() with { Thresholding = true, SampleMaxValue = 2.0 });
        var x0 = th.Step(torch.zeros_like(x), 901, x, 50).PredOriginalSample;
        Assert.True(x0.abs().max().item<float>() <= 1.0f + 1e-6f);
    }

    static Tensor SyntheticOutput(long t, long[] shape)
    {
        var g = new Generator((ulong)(t + 1));
        return torch.randn(shape, generator: g);
    }

    [Fact]
    public void InversionThenSamplingWithTheSameOutputsReconstructs()
    {
        var gen = from n in Gen.Int[2, 60]
                  from offset in Gen.Int[0, 1]
                  from alphaToOne in Gen.Bool
                  from type in Gen.OneOf("epsilon", "sample")
                  from spacing in Gen.OneOf("leading", "trailing", "linspace")
                  from seed in Gen.Int[0, 1000]
                  // x0-prediction cannot be inverted from alpha-bar = 1 (epsilon = (x - x0) / 0), in diffusers too.
                  where !(type == "sample" && alphaToOne)
                  select (n, offset, alphaToOne, type, spacing, seed);
        double worst = 0;
        gen.Sample(c =>
        {
            var s = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion(c.type) with
            {
                StepsOffset = c.offset, SetAlphaToOne = c.alphaToOne, TimestepSpacing = c.spacing,
            });
            var x0 = torch.randn(new long[] { 1, 4, 6, 6 }, generator: new Generator((ulong)c.seed));
            // A model whose output depends on t only: DDIM inversion is then the exact inverse of sampling.
            Tensor Model(Tensor x, long t) => c.type == "sample" ? SyntheticOutput(t, x.shape) * 0.5 : SyntheticOutput(t, x.shape);
            var inv = s.Invert(Model, x0, c.n);
            Assert.Equal(s.Timesteps(c.n).Reverse(), inv.Timesteps);
            Assert.Equal(c.n + 1, inv.Latents.Count);
            var x = inv.Last;
            foreach (var t in s.Timesteps(c.n)) x = s.Step(Model(x, t), t, x, c.n).PrevSample;
            double err = (x - x0).abs().max().item<float>();
            Assert.True(err < 1e-4, $"reconstruction error {err:E2} for {c}");
            lock (this) worst = Math.Max(worst, err);
        }, iter: 25);
        output.WriteLine($"largest reconstruction error over the cases: {worst:E2}");
    }

    [Fact]
    public void InversionStopsAtTheRequestedTimestep()
    {
        var s = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion());
        var x0 = torch.randn(1, 4, 4, 4);
        var calls = new List<long>();
        var inv = s.Invert((x, t) => { calls.Add(t); return torch.zeros_like(x); }, x0, 50, stopAt: 500);
        Assert.Equal(481, inv.Timesteps[^1]);
        Assert.Equal(calls, inv.Timesteps);
        Assert.Equal(25, inv.Timesteps.Count);
        // A zero epsilon keeps the predicted x0 fixed: each latent is sqrt(alpha-bar_t) x0.
        var expected = x0 * MathF.Sqrt(s.AlphasCumprod[481]) / MathF.Sqrt(s.FinalAlphaCumprod);
        Assert.True(inv.Last.allclose(expected, 1e-4, 1e-5));
        Assert.Single(s.Invert((x, t) => torch.zeros_like(x), x0, 50, stopAt: 0).Latents);
    }

    [Fact]
    public void InvalidConfigsNameTheKey()
    {
        var dir = TempDir();
        void Expect(string json, string key)
        {
            var path = Path.Combine(dir, DDIMScheduler.ConfigFileName);
            File.WriteAllText(path, json);
            var e = Assert.Throws<InvalidDataException>(() => DDIMScheduler.FromFolder(dir));
            output.WriteLine(e.Message);
            Assert.Contains(key, e.Message);
            Assert.Contains(path, e.Message);
        }
        Expect("""{"beta_schedule": "cosine"}""", "beta_schedule");
        Expect("""{"prediction_type": "x0"}""", "prediction_type");
        Expect("""{"timestep_spacing": "uniform"}""", "timestep_spacing");
        Expect("""{"trained_betas": [0.1, 0.2]}""", "trained_betas");
    }

    [Fact]
    public void SaveThenFromFolderKeepsTheConfig()
    {
        var config = DDIMSchedulerConfig.StableDiffusion("v_prediction") with { TimestepSpacing = "trailing" };
        var dir = TempDir();
        new DDIMScheduler(config).Save(dir);
        var loaded = DDIMScheduler.FromFolder(dir);
        Assert.Equal(config, loaded.Config);
        Assert.Contains("\"_class_name\": \"DDIMScheduler\"", File.ReadAllText(Path.Combine(dir, DDIMScheduler.ConfigFileName)));
        // A pipeline folder works too, and a PNDM config with the same keys is read as DDIM (as diffusers does).
        var root = TempDir();
        Directory.CreateDirectory(Path.Combine(root, "scheduler"));
        File.WriteAllText(Path.Combine(root, "scheduler", DDIMScheduler.ConfigFileName),
            """{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null, "clip_sample": false}""");
        Assert.Equal(DDIMSchedulerConfig.StableDiffusion(), DDIMScheduler.FromFolder(root).Config);
    }

    [Fact]
    public void RepeatedCallsLeaveNoTensorsBehind()
    {
        var s = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion("v_prediction") with { ClipSample = true });
        var x = torch.randn(2, 4, 8, 8);
        var e = torch.randn(2, 4, 8, 8);
        var t = torch.tensor(new long[] { 10, 700 });
        void Once()
        {
            var o = s.Step(e, 401, x, 50, eta: 0.5, generator: new Generator(1));
            o.PrevSample.Dispose();
            o.PredOriginalSample.Dispose();
            s.AddNoise(x, e, t).Dispose();
            s.GetVelocity(x, e, t).Dispose();
            s.InvertStep(e, 401, x, 50).Dispose();
        }
        Memory.AssertNoTensorGrowth(Once, 50);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var s = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion());
        var x = torch.zeros(2, 4, 8, 8);
        Assert.Equal("timestep", Assert.Throws<ArgumentOutOfRangeException>(() => s.Step(x, 1000, x, 50)).ParamName);
        Assert.Equal("noise", Assert.Throws<ArgumentException>(() => s.AddNoise(x, torch.zeros(2, 4, 8, 7), 10)).ParamName);
        Assert.Equal("timesteps", Assert.Throws<ArgumentException>(() => s.AddNoise(x, x, torch.tensor(new long[] { 1, 2, 3 }))).ParamName);
        Assert.Equal("timesteps", Assert.Throws<ArgumentOutOfRangeException>(() => s.AddNoise(x, x, torch.tensor(new long[] { 1, -2 }))).ParamName);
        Assert.Equal("modelOutput", Assert.Throws<ArgumentException>(() => s.Step(torch.zeros(1, 4, 8, 8), 10, x, 50)).ParamName);
    }
}

/// <summary>The DDIM scheduler against the reference vectors in $GENSEG_PARITY_DIR.</summary>
[Trait(Categories.Name, Categories.Parity)]
public class DdimParityTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    public void MatchesDiffusersOnTheReferenceVectors(string predictionType)
    {
        var folder = Parity.Folder("ddim");
        var scheduler = DDIMScheduler.FromFile(Path.Combine(folder, $"config.{predictionType}.json"));
        Assert.Equal(predictionType, scheduler.Config.PredictionType);
        var io = Parity.Io(folder);
        Tensor Io(string name) => io[$"{predictionType}.{name}"];

        var d1 = Parity.AssertClose(Io("alphas_cumprod"), scheduler.AlphasCumprodTensor(), 1e-4, "alphas_cumprod");
        var expectedSteps = Io("timesteps").data<long>().ToArray();
        Assert.Equal(expectedSteps, scheduler.Timesteps(expectedSteps.Length));

        var d2 = Parity.AssertClose(Io("x_t400"), scheduler.AddNoise(Io("x0"), Io("noise"), 400), 1e-4, "add_noise at t=400");
        var step = scheduler.Step(Io("model_output"), 401, Io("x_t400"), expectedSteps.Length);
        var d3 = Parity.AssertClose(Io("prev_sample_from_t401"), step.PrevSample, 1e-4, "prev_sample from t=401");
        var d4 = Parity.AssertClose(Io("pred_original_sample_from_t401"), step.PredOriginalSample, 1e-4, "pred_original_sample from t=401");
        var d5 = Parity.AssertClose(Io("pred_original_sample_from_t401"), scheduler.PredictOriginal(Io("model_output"), 401, Io("x_t400")), 1e-4, "PredictOriginal");
        output.WriteLine($"{predictionType}: max abs diff alphas_cumprod {d1:E2}, add_noise {d2:E2}, prev_sample {d3:E2}, pred_original {d4:E2} / {d5:E2}; timesteps equal");
    }
}
