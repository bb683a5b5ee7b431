using GenSeg.Benchmarks;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Benchmarks;

[Trait(Categories.Name, Categories.Unit)]
public class Sd21BenchmarkTests
{
    static IScheduler Of(string kind) => Schedulers.Create(kind, new DDIMScheduler(DDIMSchedulerConfig.StableDiffusion("epsilon")).Config);

    [Fact]
    public void PaintSegCostIsStepsTimesPaintsTimesEachPaintsPasses()
    {
        var seconds = (Unet: 2.0, Encode: 3.0, Decode: 4.0, Text: 1.0);
        var gflop = (Unet: 800.0, Encode: 1100.0, Decode: 2100.0, Text: 45.0);
        // T = 5, N = 5: 25 paints of 50 UNet passes, an encode, a decode and a prompt each
        var ddim = Sd21Benchmark.PaintSegPerObject(Of("ddim"), 50, 5, 5, guided: false, seconds, gflop);
        Assert.Equal((50, 25 * (50 * 2.0 + 3 + 4 + 1), 25 * (50 * 800.0 + 1100 + 2100 + 45)), (ddim.UNetPasses, ddim.Seconds, ddim.Gflop));
        var dpm = Sd21Benchmark.PaintSegPerObject(Of("dpm++2m"), 10, 5, 5, guided: false, seconds, gflop);
        Assert.Equal((10, 700.0), (dpm.UNetPasses, dpm.Seconds));
        // classifier-free guidance evaluates the UNet twice per step
        Assert.Equal(20, Sd21Benchmark.PaintSegPerObject(Of("euler"), 10, 5, 5, guided: true, seconds, gflop).UNetPasses);
    }
}
