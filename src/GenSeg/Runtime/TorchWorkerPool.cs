using System.Collections.Concurrent;
using System.Runtime;
using System.Runtime.ExceptionServices;
using TorchSharp;

namespace GenSeg.Runtime;

/// <summary>
/// Dedicated threads that each run torch on one intra-op thread, so that independent batches run side by side (inter-op
/// parallelism) instead of one batch spreading each small operation over the cores: the embedded model's tensors are
/// small and gain little from intra-op threads (measurements: docs/performance.md, "One torch thread per worker").
/// </summary>
/// <remarks>
/// libtorch keeps the intra-op thread count per thread (OpenMP's and MKL's settings are per thread) but also in a
/// process-wide default that a thread adopts on its first parallel operation; each worker adopts that default first and
/// then sets its own count to one, and the constructor then restores the default for every other thread. A job runs on
/// its worker with that worker's dispose scopes and grad mode (both per thread): a job returns tensors it owns. Jobs
/// submitted from one of the pool's own workers run inline, one after another (a worker never waits on its own queue).
/// </remarks>
public sealed class TorchWorkerPool : IDisposable
{
    static readonly Lazy<TorchWorkerPool> shared = new(() => new TorchWorkerPool(Environment.ProcessorCount), LazyThreadSafetyMode.ExecutionAndPublication);

    [ThreadStatic] static TorchWorkerPool? current;

    readonly BlockingCollection<Action>[] queues;
    readonly Thread[] threads;
    bool disposed;

    /// <summary>
    /// The process's pool, one worker per core, started on first use and never disposed (its threads are background
    /// threads that wait for work); what G4Seg's refiner and PaintSeg's painter use. A pool of one's own is for tests.
    /// </summary>
    public static TorchWorkerPool Shared => shared.Value;

    /// <summary>Starts <paramref name="workers"/> threads (at least one).</summary>
    public TorchWorkerPool(int workers)
    {
        if (workers < 1) throw new ArgumentOutOfRangeException(nameof(workers), workers, "workers: expected >= 1");
        TorchRuntime.EnsureNativeLoaded();
        int previous = torch.get_num_threads();
        queues = new BlockingCollection<Action>[workers];
        threads = new Thread[workers];
        using var ready = new CountdownEvent(workers);
        for (int i = 0; i < workers; i++)
        {
            var queue = queues[i] = new BlockingCollection<Action>();
            threads[i] = new Thread(() =>
            {
                torch.get_num_threads(); // adopt the process default now, so that it cannot overwrite the count set next
                torch.set_num_threads(1);
                current = this;
                ready.Signal();
                foreach (var job in queue.GetConsumingEnumerable()) job();
            })
            {
                IsBackground = true,
                Name = $"genseg-torch-worker-{i}",
            };
            threads[i].Start();
        }
        ready.Wait();
        torch.set_num_threads(previous); // the process default again (the workers keep theirs)
    }

    /// <summary>Number of worker threads.</summary>
    public int Count => threads.Length;

    /// <summary>
    /// Runs job i on worker i mod <see cref="Count"/> and waits for all of them; returns their results in order. An
    /// exception from a job is rethrown as it was (the first one, by job order) after every job has finished, and the
    /// results of the jobs that succeeded are then disposed if they are <see cref="IDisposable"/>.
    /// </summary>
    public T[] Run<T>(IReadOnlyList<Func<T>> jobs)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (current == this) return RunInline(jobs);
        var results = new T[jobs.Count];
        var errors = new ExceptionDispatchInfo?[jobs.Count];
        using var quiet = jobs.Count > 1 ? NoCollection.Start(NoCollectionBytes) : null;
        using var done = new CountdownEvent(jobs.Count == 0 ? 1 : jobs.Count);
        if (jobs.Count == 0) done.Signal();
        for (int j = 0; j < jobs.Count; j++)
        {
            int index = j;
            queues[j % queues.Length].Add(() =>
            {
                try
                {
                    results[index] = jobs[index]();
                }
                catch (Exception e)
                {
                    errors[index] = ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    done.Signal();
                }
            });
        }
        done.Wait();
        if (errors.FirstOrDefault(e => e is not null) is { } first)
        {
            foreach (var r in results) (r as IDisposable)?.Dispose();
            first.Throw();
        }
        return results;
    }

    /// <summary>
    /// The managed allocation budget of the no-collection region that side-by-side jobs run in (see
    /// <see cref="NoCollection"/>); a run that allocates more gets a collection, as without the region.
    /// </summary>
    public const long NoCollectionBytes = 256L << 20;

    static T[] RunInline<T>(IReadOnlyList<Func<T>> jobs)
    {
        var results = new T[jobs.Count];
        try
        {
            for (int j = 0; j < jobs.Count; j++) results[j] = jobs[j]();
            return results;
        }
        catch
        {
            foreach (var r in results) (r as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>Lets the workers finish their queued jobs and ends them.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var q in queues) q.CompleteAdding();
        foreach (var t in threads) t.Join();
        foreach (var q in queues) q.Dispose();
    }
}

/// <summary>
/// A no-GC region for work that runs torch on several threads at once. TorchSharp 0.107 hands native code the handle of
/// a temporary <see cref="TorchSharp.Scalar"/> (every <c>a + b</c> is <c>add(b, 1)</c> with an implicit Scalar) without
/// keeping it alive; a collection that another thread's allocation starts while this thread is inside that native call
/// can finalize the Scalar under it ("Expected false to be true ... toFloat", Scalar.h), which was seen in a PaintSeg
/// dataset evaluation painting side by side. With one thread no collection can start during its own native calls, so only
/// side-by-side runs need the region. Disposing ends the region if it is still in force (an allocation beyond the budget
/// ends it early with a collection).
/// </summary>
public sealed class NoCollection : IDisposable
{
    readonly bool started;

    NoCollection(bool started) => this.started = started;

    /// <summary>Whether the region was entered (false where one was already in force or the runtime refused it).</summary>
    public bool Started => started;

    /// <summary>Enters a no-GC region with <paramref name="bytes"/> of allocation budget, unless one is in force.</summary>
    public static NoCollection Start(long bytes)
    {
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) return new NoCollection(false);
        try
        {
            return new NoCollection(GC.TryStartNoGCRegion(bytes));
        }
        catch (ArgumentOutOfRangeException)
        {
            return new NoCollection(false); // a budget beyond what this runtime's GC allows: run without the region
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!started || GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) return;
        try
        {
            GC.EndNoGCRegion();
        }
        catch (InvalidOperationException)
        {
            // ended meanwhile by a collection (budget exceeded): nothing left to end
        }
    }
}
