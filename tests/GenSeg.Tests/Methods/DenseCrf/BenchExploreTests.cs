using GenSeg.Methods.Crf;
using Xunit.Abstractions;

namespace GenSeg.Tests.Methods.DenseCrf;

public class BenchExploreTests(ITestOutputHelper output)
{
    [Fact]
    public void Bench()
    {
        var proc = System.Diagnostics.Process.GetCurrentProcess();
        var cpu0 = proc.TotalProcessorTime;
        output.WriteLine($"21 labels paintseg: {DenseCrfBenchmark.Run(512, 21, 10, 5):F1} ms");
        proc.Refresh(); output.WriteLine($"  cpu per run ~ {(proc.TotalProcessorTime - cpu0).TotalMilliseconds / 6:F0} ms; load {File.ReadAllText("/proc/loadavg")}");
        output.WriteLine($"2 labels paintseg: {DenseCrfBenchmark.Run(512, 2, 10, 5):F1} ms");
        output.WriteLine($"21 labels default: {DenseCrfBenchmark.Run(512, 21, 10, 3, new DenseCrfOptions()):F1} ms");
    }
}
