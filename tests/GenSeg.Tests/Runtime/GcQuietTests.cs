using GenSeg.Runtime;

namespace GenSeg.Tests.Runtime;

/// <summary>The no-GC guard around tensor work: no collection runs inside it while the budget lasts, nesting is harmless,
/// and the result and exceptions come through.</summary>
[Collection(GenSeg.Tests.ToyWorld.SingleThreadedTrainingCollection.Name)] // alone: other tests' allocations would count against the budget
public sealed class GcQuietTests
{
    [Fact]
    public void NoCollectionRunsInsideTheBlock()
    {
        int before = -1;
        int during = GcQuiet.Run(() =>
        {
            before = GC.CollectionCount(0);
            var keep = new List<byte[]>();
            for (int i = 0; i < 200; i++) keep.Add(new byte[100_000]); // 20 MB, well inside the budget
            GC.KeepAlive(keep);
            return GC.CollectionCount(0);
        });
        Assert.Equal(before, during);
        Assert.NotEqual(System.Runtime.GCLatencyMode.NoGCRegion, System.Runtime.GCSettings.LatencyMode); // ended afterwards
    }

    [Fact]
    public void NestedBlocksAndExceptionsLeaveTheCollectorOn()
    {
        Assert.Equal(3, GcQuiet.Run(() => GcQuiet.Run(() => 3)));
        Assert.Throws<InvalidOperationException>(() => GcQuiet.Run<int>(() => throw new InvalidOperationException("x")));
        Assert.NotEqual(System.Runtime.GCLatencyMode.NoGCRegion, System.Runtime.GCSettings.LatencyMode);
    }
}
