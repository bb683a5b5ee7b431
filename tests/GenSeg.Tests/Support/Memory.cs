using TorchSharp;

namespace GenSeg.Tests.Support;

/// <summary>Checks that code frees every tensor it makes (memory stays flat over many calls).</summary>
public static class Memory
{
    /// <summary>
    /// Runs <paramref name="once"/> (which must dispose what it receives) once to warm up, then
    /// <paramref name="repeats"/> times, and asserts this thread's live tensor count did not change.
    /// </summary>
    public static void AssertNoTensorGrowth(Action once, int repeats)
    {
        once();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < repeats; i++) once();
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(before == after, $"live tensors grew from {before} to {after} over {repeats} calls");
    }
}
