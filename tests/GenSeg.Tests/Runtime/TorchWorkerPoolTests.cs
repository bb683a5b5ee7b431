using GenSeg.Runtime;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Runtime;

/// <summary>Tests that read torch's thread settings run alone (other tests change the process default).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchThreadsCollection
{
    public const string Name = "torch threads";
}

[Collection(TorchThreadsCollection.Name)]
[Trait(Categories.Name, Categories.Unit)]
public sealed class TorchWorkerPoolTests
{

    [Fact]
    public void JobsRunSideBySideOnOneTorchThreadEachAndTheCallersThreadsAreKept()
    {
        int before = get_num_threads();
        using var pool = new TorchWorkerPool(2);
        Assert.Equal(before, get_num_threads());
        using var meet = new Barrier(2);
        var results = pool.Run(new Func<(int Threads, int Id, bool Met)>[]
        {
            () => (get_num_threads(), Environment.CurrentManagedThreadId, meet.SignalAndWait(TimeSpan.FromSeconds(30))),
            () => (get_num_threads(), Environment.CurrentManagedThreadId, meet.SignalAndWait(TimeSpan.FromSeconds(30))),
        });
        Assert.All(results, r => Assert.Equal(1, r.Threads));
        Assert.All(results, r => Assert.True(r.Met, "the two jobs did not run at the same time"));
        Assert.NotEqual(results[0].Id, results[1].Id);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, results.Select(r => r.Id));
        Assert.Equal(before, get_num_threads());
        // a thread started after the pool still gets the process default
        int fresh = 0;
        var t = new Thread(() => fresh = get_num_threads());
        t.Start();
        t.Join();
        Assert.Equal(before, fresh);
    }

    [Fact]
    public void SideBySideJobsRunWhereNoCollectionCanFinalizeATemporaryScalar()
    {
        using var pool = new TorchWorkerPool(2);
        var modes = pool.Run(new Func<System.Runtime.GCLatencyMode>[]
        {
            () => System.Runtime.GCSettings.LatencyMode,
            () => System.Runtime.GCSettings.LatencyMode,
        });
        Assert.All(modes, m => Assert.Equal(System.Runtime.GCLatencyMode.NoGCRegion, m));
        Assert.NotEqual(System.Runtime.GCLatencyMode.NoGCRegion, System.Runtime.GCSettings.LatencyMode);
        // one job runs without the region (no other thread can collect during its native calls)
        var single = pool.Run(new Func<System.Runtime.GCLatencyMode>[] { () => System.Runtime.GCSettings.LatencyMode });
        Assert.NotEqual(System.Runtime.GCLatencyMode.NoGCRegion, single[0]);
    }

    [Fact]
    public void ResultsComeInJobOrderAndTensorsCrossThreads()
    {
        using var pool = new TorchWorkerPool(2);
        var jobs = Enumerable.Range(0, 5).Select(i => (Func<Tensor>)(() => full(3, (float)i))).ToArray();
        var results = pool.Run(jobs);
        try
        {
            Assert.Equal(new[] { 0f, 1f, 2f, 3f, 4f }, results.Select(r => r[0].item<float>()));
        }
        finally
        {
            foreach (var r in results) r.Dispose();
        }
        Assert.Empty(pool.Run(Array.Empty<Func<int>>()));
    }

    [Fact]
    public async Task JobsSubmittedFromAWorkerRunInlineInsteadOfWaitingOnTheirOwnQueue()
    {
        var pool = new TorchWorkerPool(1); // disposed only when the jobs ended (Dispose waits for the worker)
        // on a task with a time limit: were the inner jobs queued behind the outer one, this would never end
        var task = Task.Run(() => pool.Run(new Func<(int Sum, bool SameThread)>[]
        {
            () =>
            {
                int id = Environment.CurrentManagedThreadId;
                var inner = pool.Run(new Func<(int Value, int Id)>[] { () => (1, Environment.CurrentManagedThreadId), () => (2, Environment.CurrentManagedThreadId) });
                return (inner.Sum(r => r.Value), inner.All(r => r.Id == id));
            },
        }));
        var outer = await task.WaitAsync(TimeSpan.FromSeconds(60)); // TimeoutException: it never ended
        Assert.Equal(3, outer[0].Sum);
        Assert.True(outer[0].SameThread);
        pool.Dispose();
        Assert.True(TorchWorkerPool.Shared.Count >= 1);
        Assert.Same(TorchWorkerPool.Shared, TorchWorkerPool.Shared);
    }

    sealed class Probe : IDisposable
    {
        public bool Disposed { get; private set; }
        public void Dispose() => Disposed = true;
    }

    [Fact]
    public void AFailingJobsExceptionIsRethrownAsItWasAndTheOtherResultsAreDisposed()
    {
        using var pool = new TorchWorkerPool(2);
        var probe = new Probe();
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(new Func<Probe>[]
        {
            () => probe,
            () => throw new InvalidOperationException("job 1 failed"),
        }));
        Assert.Equal("job 1 failed", e.Message);
        Assert.True(probe.Disposed);
        // the pool still works afterwards
        Assert.Equal(new[] { 1, 2 }, pool.Run(new Func<int>[] { () => 1, () => 2 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TorchWorkerPool(0));
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Run(new Func<int>[] { () => 1 }));
    }
}
