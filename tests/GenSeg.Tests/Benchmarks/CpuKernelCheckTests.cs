using GenSeg.Benchmarks;
using GenSeg.Tests.Support;
using TorchSharp;

namespace GenSeg.Tests.Benchmarks;

[Trait(Categories.Name, Categories.Integration)]
public sealed class CpuKernelCheckTests : IClassFixture<TinyPipeline>
{
    readonly TinyPipeline _tiny;

    public CpuKernelCheckTests(TinyPipeline tiny) => _tiny = tiny;

    [Fact]
    public void RepeatedTrainingStepsAgreeBitForBitWithTheKernelsInForce()
    {
        int threads = torch.get_num_threads();
        var progress = new List<int>();
        var r = CpuKernelCheck.Run(new CpuKernelCheckOptions { ModelFolder = _tiny.Folder, Repeats = 3, Batch = 2, Progress = (done, _, _) => progress.Add(done) });
        Assert.Equal(3, r.Repeats);
        Assert.Equal(new[] { 1, 2, 3 }, progress);
        Assert.Equal(1, r.Threads);
        Assert.Equal(0, r.NonFinite);
        Assert.Equal(0, r.Mismatches);
        Assert.True(r.Passed);
        Assert.Equal(threads, torch.get_num_threads()); // the caller's thread count is restored
    }

    [Fact]
    public void TooFewRepeatsOrAMissingModelIsAClearError()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CpuKernelCheck.Run(new CpuKernelCheckOptions { ModelFolder = _tiny.Folder, Repeats = 1 }));
        Assert.Contains("Repeats", e.Message);
        Assert.ThrowsAny<IOException>(() => CpuKernelCheck.Run(new CpuKernelCheckOptions { ModelFolder = Path.Combine(_tiny.Folder, "missing") }));
    }
}
