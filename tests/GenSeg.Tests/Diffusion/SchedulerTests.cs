using GenSeg.Diffusion;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Methods.PaintSeg;
using GenSeg.Tests.Support;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

/// <summary>The scheduler abstraction: configs and their errors, the factory, DDIM through it, exact denoisers, the pipeline and the painter.</summary>
[Trait(Categories.Name, Categories.Unit)]
public class SchedulerTests(TinyPipelineFixture tiny, ITestOutputHelper output) : IClassFixture<TinyPipelineFixture>
{
    /// <summary>Bit-identical: the same shape and every element equal.</summary>
    static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static string WriteConfig(string json)
    {
        var dir = Directory.CreateTempSubdirectory("genseg-sched").FullName;
        File.WriteAllText(Path.Combine(dir, SchedulerConfig.FileName), json);
        return dir;
    }

    // Per kind: its class and bad "key": value entries, '|'-separated; each must be named with its file, key and value.
    [Theory]
    [InlineData("dpm++2m", "DPMSolverMultistepScheduler", """ "solver_order": 3|"algorithm_type": "sde-dpmsolver++"|"solver_type": "bh2"|"use_karras_sigmas": true|"final_sigmas_type": "sigma_max"|"prediction_type": "flow_prediction"|"lambda_min_clipped": Infinity""")]
    [InlineData("euler", "EulerDiscreteScheduler", """ "timestep_spacing": "uniform"|"interpolation_type": "log_linear"|"timestep_type": "continuous"|"beta_schedule": "cosine"|"use_beta_sigmas": true""")]
    [InlineData("ddim", "DDIMScheduler", """ "prediction_type": "x0"|"num_train_timesteps": 0|"steps_offset": 1000""")]
    public void ABadConfigValueIsNamedWithItsFileAndKey(string kind, string className, string entries)
    {
        foreach (var entry in entries.Split('|'))
        {
            var dir = WriteConfig($$"""{"_class_name": "{{className}}", "lambda_min_clipped": -Infinity, {{entry}}}""");
            var path = Path.Combine(dir, SchedulerConfig.FileName);
            var e = Assert.Throws<InvalidDataException>(() => Schedulers.FromFolder(kind, dir));
            output.WriteLine(e.Message);
            var key = entry.Split('"')[1];
            var value = entry[(entry.IndexOf(':') + 1)..].Trim().Trim('"');
            foreach (var part in new[] { path, key, value, "expected" }) Assert.Contains(part, e.Message);
        }
    }

    [Fact]
    public void AnUnknownKindIsNamedWithTheKinds()
    {
        var e = Assert.Throws<ArgumentException>(() => Schedulers.Create("pndm", DDIMSchedulerConfig.StableDiffusion()));
        Assert.Contains("'pndm'", e.Message);
        foreach (var kind in Schedulers.Kinds) Assert.Contains(kind, e.Message);
        Assert.Equal("dpm++2m", Schedulers.Parse(" DPM++2M "));
        Assert.Contains("Scheduler", Assert.Throws<ArgumentOutOfRangeException>(() => new PaintSegOptions { Scheduler = "heun" }.Validate()).Message);
    }

    [Fact]
    public void OtherKindsTakeTheSharedKeysOfTheFoldersConfig()
    {
        // diffusers' DPMSolverMultistepScheduler.from_config(DDIMScheduler(SD).config): shared keys kept, the rest at DPM's defaults.
        var sd = DDIMSchedulerConfig.StableDiffusion("v_prediction");
        var dpm = Assert.IsType<DPMSolverMultistepScheduler>(Schedulers.Create("dpm++2m", sd));
        Assert.Equal(new DPMSolverMultistepSchedulerConfig
        {
            BetaStart = 0.00085, BetaEnd = 0.012, BetaSchedule = "scaled_linear", StepsOffset = 1, PredictionType = "v_prediction",
            TimestepSpacing = "leading",
        }, dpm.Config with { TrainedBetas = null });
        var euler = Assert.IsType<EulerDiscreteScheduler>(Schedulers.Create("euler", dpm.Config));
        Assert.Equal(("leading", 1, "v_prediction"), (euler.Config.TimestepSpacing, euler.Config.StepsOffset, euler.Config.PredictionType));
        Assert.Equal(sd, ((DDIMScheduler)Schedulers.Create("ddim", sd)).Config);
        Assert.Equal(new DDIMScheduler(sd).AlphasCumprod, dpm.AlphasCumprod);
        // A folder whose file names the kind's class is read as that class (its own keys and defaults) ...
        var dir = WriteConfig("""{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 1, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "lambda_min_clipped": -Infinity}""");
        var own = Assert.IsType<DPMSolverMultistepScheduler>(Schedulers.FromFolder("dpm++2m", dir));
        Assert.Equal((1, "linspace", double.NegativeInfinity), (own.Config.SolverOrder, own.Config.TimestepSpacing, own.Config.LambdaMinClipped));
        // ... and saved the way diffusers writes it (a bare -Infinity), which reads back equal.
        own.Save(dir);
        Assert.Contains("\"lambda_min_clipped\": -Infinity", File.ReadAllText(Path.Combine(dir, SchedulerConfig.FileName)));
        Assert.Equal(own.Config, DPMSolverMultistepScheduler.FromFolder(dir).Config);
        // ... while another kind converts from it (from_config of the file's class).
        Assert.Equal(("linspace", 0), (((EulerDiscreteScheduler)Schedulers.FromFolder("euler", dir)).Config.TimestepSpacing, own.Config.StepsOffset));
        Assert.Equal("leading", ((DDIMScheduler)Schedulers.FromFolder("ddim", tiny.Model)).Config.TimestepSpacing);
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    public void DdimThroughTheSamplerIsBitIdenticalToItsStep(string predictionType)
    {
        var ddim = new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion(predictionType));
        IScheduler scheduler = ddim;
        var noise = randn(new long[] { 2, 4, 8, 8 }, generator: new Generator(3));
        Tensor Model(Tensor x, double t) => x * 0.3 + randn(x.shape, generator: new Generator((ulong)t));
        var direct = noise;
        foreach (var t in ddim.Timesteps(10)) direct = ddim.Step(Model(direct, t), t, direct, 10).PrevSample;
        using var sampler = scheduler.Sampler(10);
        Assert.Equal(1f, sampler.InitNoiseSigma);
        var x = noise;
        for (int i = 0; i < sampler.Timesteps.Count; i++)
        {
            Assert.Same(x, sampler.ScaleModelInput(x, i));
            x = sampler.Step(Model(x, sampler.Timesteps[i]), i, x);
        }
        Assert.True(Identical(direct, x), "the sampler's DDIM differs from DDIMScheduler.Step");
        Assert.True(Identical(ddim.AddNoise(noise, direct, 401), sampler.AddNoise(noise, direct, Array.IndexOf(ddim.Timesteps(10), 401L))));
    }

    // The exact model for data that is the single point x0: eps = (x - alpha x0) / sigma_t at the sampler's sigma.
    static Tensor Oracle(IScheduler s, Tensor x, double t, Tensor x0)
    {
        float sigma = (float)SchedulerMath.Interp(t, s.AlphasCumprod.Select(a => MathF.Sqrt((1 - a) / a)).ToArray());
        var (alpha, sigmaT) = DPMSolverMultistepScheduler.AlphaSigma(sigma);
        var eps = (x - x0 * alpha) / sigmaT;
        return s.Config.PredictionType == "epsilon" ? eps : eps * alpha - x0 * sigmaT;
    }

    [Theory]
    [InlineData("dpm++2m", "epsilon", "leading")]
    [InlineData("dpm++2m", "v_prediction", "trailing")]
    [InlineData("euler", "epsilon", "linspace")]
    [InlineData("euler", "v_prediction", "leading")]
    public void AnExactDenoiserTakesTheSamplerToTheDataPoint(string kind, string predictionType, string spacing)
    {
        var s = Schedulers.Create(kind, DDIMSchedulerConfig.StableDiffusion(predictionType) with { TimestepSpacing = spacing });
        var x0 = randn(new long[] { 1, 4, 6, 6 }, generator: new Generator(8));
        foreach (int steps in new[] { 3, 8, 25 })
        {
            using var sampler = s.Sampler(steps);
            var x = randn(x0.shape, generator: new Generator(9)) * sampler.InitNoiseSigma;
            for (int i = 0; i < steps; i++) x = sampler.Step(Oracle(s, sampler.ScaleModelInput(x, i), sampler.Timesteps[i], x0), i, x);
            double err = (x - x0).abs().max().item<float>();
            Assert.True(err < 1e-4, $"{kind} {predictionType} {spacing} {steps} steps: {err:E2} from the data point");
        }
    }

    [Theory]
    [InlineData("dpm++2m")]
    [InlineData("euler")]
    public void InversionWithAnExactDenoiserFollowsTheOde(string kind)
    {
        var s = Schedulers.Create(kind, DDIMSchedulerConfig.StableDiffusion());
        var x0 = randn(new long[] { 1, 4, 6, 6 }, generator: new Generator(10));
        var inv = s.Invert((x, t) => Oracle(s, x, t, x0), x0, 50, stopAt: 400);
        Assert.True(inv.Timesteps.Count > 10 && inv.Timesteps[^1] <= 400 && inv.Timesteps.SequenceEqual(inv.Timesteps.Order()));
        Assert.Equal(inv.Timesteps.Count + 1, inv.Latents.Count);
        // The probability-flow ODE through x0 at the first timestep keeps eps fixed: x_t = alpha_t x0 + sigma_t eps0.
        var dpm = (DPMSolverMultistepScheduler)Schedulers.Create("dpm++2m", s.Config);
        var (a0, s0) = DPMSolverMultistepScheduler.AlphaSigma(dpm.InverseSigmas(50)[0]);
        var (at, st) = DPMSolverMultistepScheduler.AlphaSigma(MathF.Sqrt((1 - s.AlphasCumprod[(int)inv.Timesteps[^1]]) / s.AlphasCumprod[(int)inv.Timesteps[^1]]));
        var expected = x0 * at + (x0 - x0 * a0) / s0 * st;
        double err = (inv.Last - expected).abs().max().item<float>();
        Assert.True(err < 1e-4, $"{kind}: inverted latent at t = {inv.Timesteps[^1]} is {err:E2} from the ODE's");
    }

    [Fact]
    public void AMultistepSamplerRunsItsStepsInOrderAndFreesItsState()
    {
        var s = Schedulers.Create("dpm++2m", DDIMSchedulerConfig.StableDiffusion());
        var x = randn(1, 4, 8, 8);
        using (var sampler = s.Sampler(5))
        {
            sampler.Step(x, 0, x).Dispose();
            Assert.Contains("step 2 after 1", Assert.Throws<InvalidOperationException>(() => sampler.Step(x, 2, x)).Message);
            Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Step(x, 5, x)).ParamName);
        }
        void Run()
        {
            using var scope = NewDisposeScope(); // frees every step's tensors; what a sampler keeps, it frees itself
            foreach (var kind in Schedulers.Kinds)
            {
                using var sampler = Schedulers.Create(kind, DDIMSchedulerConfig.StableDiffusion()).Sampler(6);
                var y = x;
                for (int i = 0; i < 6; i++) y = sampler.Step(sampler.ScaleModelInput(y, i) * 0.5, i, y);
            }
        }
        Memory.AssertNoTensorGrowth(Run, 5);
    }

    [Fact]
    public void ThePipelineAndThePainterSampleWithEveryKindAndDdimAsBefore()
    {
        using var p = StableDiffusionPipeline.Load(tiny.Model);
        var images = rand(2, 3, 64, 64, generator: new Generator(4)) * 2 - 1;
        var mask = zeros(2, 1, 64, 64);
        for (int b = 0; b < 2; b++) mask[b, 0, 16..48, 16..48] = tensor(1f);
        var noise = randn(p.InpaintNoiseShape(2, 64, 64), generator: new Generator(5));
        Tensor Paint(IScheduler? s) => p.Inpaint(images, mask, new[] { "", "" }, steps: 4, guidance: 1.0, latents: noise, scheduler: s);
        // The loop Inpaint ran before it took a scheduler: DDIM's Step on the UNet's output, from the same noise.
        var keep = ones_like(mask) - mask;
        var conditioning = new[] { nn.functional.interpolate(mask, new long[] { 16, 16 }, mode: InterpolationMode.Nearest), p.EncodeImage(images * keep) };
        var context = p.EncodePrompt(new[] { "", "" }).Hidden;
        var x = noise;
        foreach (var t in p.InpaintScheduler.Timesteps(4))
            x = p.InpaintScheduler.Step(p.PredictModelOutput(cat(conditioning.Prepend(x).ToArray(), 1), t, context, unet: p.InpaintUnet), t, x, 4).PrevSample;
        var before = images * keep + p.Decode(x) * mask;
        Assert.True(Identical(before, Paint(null)), "Inpaint's default DDIM changed");
        Assert.True(Identical(before, Paint(p.InpaintSchedulerOf("ddim"))), "ddim by name differs from the default");
        Assert.Same(p.InpaintScheduler, p.InpaintSchedulerOf("DDIM"));
        foreach (var kind in new[] { "dpm++2m", "euler" })
        {
            var painted = Paint(p.InpaintSchedulerOf(kind));
            Assert.True(isfinite(painted).all().item<bool>() && !Identical(painted, before), $"{kind} painted nothing new");
            Assert.True(Identical(painted.mul(keep), images.mul(keep)), $"{kind} changed kept pixels");
        }
        var generated = p.Generate(new[] { "a red circle" }, steps: 3, guidance: 2.0, generator: new Generator(6), scheduler: p.SchedulerOf("euler"));
        Assert.Equal(new long[] { 1, 3, 64, 64 }, generated.shape);
        // The painter reads PaintSegOptions.Scheduler; its name says which sampler unless it is DDIM.
        var painter = new Painter(p, new PaintSegOptions { PaintIterations = 3, Scheduler = "dpm++2m" }) { Workers = 1 };
        Assert.EndsWith("3 it dpm++2m)", painter.Name);
        Assert.EndsWith("3 it)", new Painter(p, new PaintSegOptions { PaintIterations = 3 }).Name);
        using var batch = painter.Paint(images[0], mask[0, 0], StepKind.Inpaint, 2, seed: 7);
        Assert.Equal(new long[] { 2, 3, 64, 64 }, batch.Paints.shape);
    }
}
