using GenSeg.Tests.Support;
using System.Text.Json;
using GenSeg.Diffusion.Schedulers;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

/// <summary>
/// The schedulers against diffusers' own, on the reference vectors Assets/schedulers/make_reference.py wrote (diffusers'
/// scheduler modules run under torch): timesteps, sigmas, the initial noise sigma and a closed-loop sampling trajectory
/// under a fake model, for SD's config in three forms, epsilon and v-prediction, 5, 10 and 20 steps, and variants.
/// </summary>
[Trait(Categories.Name, Categories.Parity)]
public class SchedulerParityTests(ITestOutputHelper output)
{
    /// <summary>
    /// Largest error allowed, relative to max(|expected|, 1). The schedules differ in float32's last bits: Debian's torch
    /// 1.13 accumulates cumprod in float64, TorchSharp's libtorch in float32 (alpha-bar_999 of SD: 1.3e-7 apart).
    /// </summary>
    const double Tolerance = 1e-5;

    static string Asset(string kind) => Path.Combine(AppContext.BaseDirectory, "Assets", "schedulers", $"{kind}.json");

    /// <summary>make_reference.py's fake model: out = 0.8 x + 0.1 sin(t / 100), in float32.</summary>
    static Tensor FakeModel(Tensor x, double t) =>
        x * tensor(0.8f, dtype: x.dtype) + tensor((float)(0.1 * Math.Sin(t / 100.0)), dtype: x.dtype);

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => v.GetSingle()).ToArray();

    /// <summary>The worst error of <paramref name="actual"/> against <paramref name="expected"/>, relative to max(|expected|, 1).</summary>
    static double Error(IReadOnlyList<float> expected, IReadOnlyList<float> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        return expected.Zip(actual, (e, a) => Math.Abs((double)e - a) / Math.Max(Math.Abs((double)e), 1.0)).DefaultIfEmpty(0).Max();
    }

    /// <summary>Writes a case's config as diffusers wrote it (bare -Infinity included) and reads it back with the kit's loader.</summary>
    static string WriteConfig(string json, string className)
    {
        var dir = Directory.CreateTempSubdirectory("genseg-sched-parity").FullName;
        File.WriteAllText(Path.Combine(dir, SchedulerConfig.FileName), $"{{\"_class_name\": \"{className}\", {json.TrimStart()[1..]}");
        return dir;
    }

    static ISampler SamplerFor(string kind, string folder, int steps) => kind == "dpm++2m-inverse"
        ? DPMSolverMultistepScheduler.FromFolder(folder).InverseSampler(steps)
        : Schedulers.FromFolder(kind, folder).Sampler(steps);

    static float[] SigmasFor(string kind, string folder, int steps) => kind switch
    {
        "dpm++2m" => DPMSolverMultistepScheduler.FromFolder(folder).Sigmas(steps),
        "dpm++2m-inverse" => DPMSolverMultistepScheduler.FromFolder(folder).InverseSigmas(steps),
        _ => EulerDiscreteScheduler.FromFolder(folder).Sigmas(steps),
    };

    [Theory]
    [InlineData("ddim")]
    [InlineData("dpm++2m")]
    [InlineData("euler")]
    [InlineData("dpm++2m-inverse")]
    public void MatchesDiffusers(string kind)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Asset(kind)));
        var root = doc.RootElement;
        var className = root.GetProperty("class").GetString()!;
        var shape = root.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        var configs = root.GetProperty("configs");
        double worstSigma = 0, worstTrace = 0;
        int cases = 0;
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            var name = c.GetProperty("config").GetString()!;
            int steps = c.GetProperty("steps").GetInt32();
            string what = $"{kind} {name} {steps} steps";
            var folder = WriteConfig(configs.GetProperty(name).GetString()!, className);
            using var sampler = SamplerFor(kind, folder, steps);
            var expectedTimesteps = c.GetProperty("timesteps").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.True(expectedTimesteps.SequenceEqual(sampler.Timesteps),
                $"{what}: timesteps {string.Join(", ", sampler.Timesteps)}, expected {string.Join(", ", expectedTimesteps)}");
            double eInit = Error(new[] { c.GetProperty("init_noise_sigma").GetSingle() }, new[] { sampler.InitNoiseSigma });
            Assert.True(eInit <= Tolerance, $"{what}: init_noise_sigma {sampler.InitNoiseSigma} off by {eInit:E2}");
            worstSigma = Math.Max(worstSigma, eInit);
            if (c.TryGetProperty("sigmas", out var sigmas))
            {
                double e = Error(Floats(sigmas), SigmasFor(kind, folder, steps));
                Assert.True(e <= Tolerance, $"{what}: sigmas off by {e:E2}");
                worstSigma = Math.Max(worstSigma, e);
            }
            using var scope = NewDisposeScope();
            var x = tensor(Floats(c.GetProperty("start")), shape) * tensor(sampler.InitNoiseSigma);
            int i = 0;
            foreach (var step in c.GetProperty("trace").EnumerateArray())
            {
                var input = sampler.ScaleModelInput(x, i);
                if (step.TryGetProperty("model_input", out var expectedInput))
                {
                    double ei = Error(Floats(expectedInput), input.data<float>().ToArray());
                    Assert.True(ei <= Tolerance, $"{what}: model input of step {i} off by {ei:E2}");
                }
                x = sampler.Step(FakeModel(input, sampler.Timesteps[i]), i, x);
                double e = Error(Floats(step.GetProperty("sample")), x.data<float>().ToArray());
                Assert.True(e <= Tolerance, $"{what}: sample after step {i} off by {e:E2}");
                worstTrace = Math.Max(worstTrace, e);
                i++;
            }
            Assert.Equal(steps, i);
            Directory.Delete(folder, true);
            cases++;
        }
        output.WriteLine($"{kind}: {cases} cases (diffusers {root.GetProperty("diffusers").GetString()}); timesteps equal; " +
                         $"largest error relative to max(|x|, 1): sigmas and initial noise sigma {worstSigma:E2}, trajectories {worstTrace:E2}");
    }
}
