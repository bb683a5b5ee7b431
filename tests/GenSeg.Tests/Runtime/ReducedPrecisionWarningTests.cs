using GenSeg.Runtime;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Runtime;

/// <summary>A reduced inference type on the CPU warns when the kernels in force or the processor lack its fast paths, and says what to set.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class ReducedPrecisionWarningTests
{
    static readonly HashSet<string> Bf16Cpu = new() { "avx2", "avx512f", "avx512_bf16" };
    static readonly HashSet<string> PlainCpu = new() { "avx2" };

    [Fact]
    public void SafeKernelsWarnAndNameWhatToSet()
    {
        var w = TorchRuntime.ReducedPrecisionWarning("bfloat16", onCpu: true, "safe", Bf16Cpu);
        Assert.NotNull(w);
        Assert.Contains("--dtype float32", w);
        Assert.Contains($"{TorchRuntime.CpuKernelsVariable}=native", w); // this CPU could run it natively
        var plain = TorchRuntime.ReducedPrecisionWarning("bfloat16", onCpu: true, "safe", PlainCpu)!;
        Assert.DoesNotContain("=native", plain);
        Assert.Contains("no bfloat16 instructions", plain);
    }

    [Fact]
    public void NativeKernelsWarnOnlyWithoutTheInstructions()
    {
        Assert.Null(TorchRuntime.ReducedPrecisionWarning("bfloat16", onCpu: true, "native", Bf16Cpu));
        Assert.Contains("no bfloat16 instructions", TorchRuntime.ReducedPrecisionWarning("bfloat16", onCpu: true, "native", PlainCpu));
        Assert.Contains("float16", TorchRuntime.ReducedPrecisionWarning("float16", onCpu: true, "native", Bf16Cpu)); // bf16 hardware is not fp16 hardware
    }

    [Fact]
    public void Float32AndGpusNeverWarn()
    {
        Assert.Null(TorchRuntime.ReducedPrecisionWarning("float32", onCpu: true, "safe", PlainCpu));
        Assert.Null(TorchRuntime.ReducedPrecisionWarning("bfloat16", onCpu: false, "safe", PlainCpu));
    }
}
