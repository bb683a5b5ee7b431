using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Runtime;

/// <summary>
/// The one batch splitter for side-by-side work (G4Seg's images, PaintSeg's paints): a batch cut into contiguous
/// groups, each run on a thread of <see cref="TorchWorkerPool.Shared"/> with one torch thread, results in group order.
/// </summary>
public static class SideBySide
{
    /// <summary>Groups run side by side by default: the processor count on the CPU, 1 on a GPU.</summary>
    public static int DefaultWorkers(Device device) => device.type == DeviceType.CPU ? Environment.ProcessorCount : 1;

    /// <summary><paramref name="workers"/> checked (at least 1).</summary>
    public static int CheckWorkers(int workers) =>
        workers >= 1 ? workers : throw new ArgumentOutOfRangeException(nameof(workers), workers, "workers: expected >= 1");

    /// <summary>[0, <paramref name="count"/>) cut into min(workers, count) contiguous groups of about equal size.</summary>
    public static IReadOnlyList<(int Start, int End)> EqualGroups(int count, int workers)
    {
        int groups = Math.Clamp(Math.Min(workers, count), 1, Math.Max(1, count));
        return Enumerable.Range(0, groups).Select(g => (ParallelRanges.Start(count, groups, g), ParallelRanges.Start(count, groups, g + 1))).ToArray();
    }

    /// <summary>
    /// Items [0, weights.Count) cut into at most <paramref name="workers"/> contiguous groups with about equal total
    /// weight, each with some weight (items of weight 0 join a neighbour's group).
    /// </summary>
    public static IReadOnlyList<(int Start, int End)> WeightedGroups(IReadOnlyList<int> weights, int workers)
    {
        int items = weights.Count, total = weights.Sum();
        int groups = Math.Clamp(Math.Min(workers, total), 1, Math.Max(1, items));
        if (groups == 1) return new[] { (0, items) };
        var result = new List<(int Start, int End)>();
        int start = 0, cumulative = 0, inGroup = 0;
        for (int i = 0; i < items; i++)
        {
            cumulative += weights[i];
            inGroup += weights[i];
            // close group g when the running weight reaches its share, keeping items for the groups still to come
            int g = result.Count;
            if (g < groups - 1 && inGroup > 0 && (long)cumulative * groups >= (long)total * (g + 1) && total - cumulative >= groups - 1 - g)
            {
                result.Add((start, i + 1));
                start = i + 1;
                inGroup = 0;
            }
        }
        result.Add((start, items));
        return result;
    }

    /// <summary>
    /// Runs <paramref name="job"/>(start, end) for every group side by side and returns the results in group order.
    /// <paramref name="job"/> is called here (slice inputs in it, in the caller's dispose scope); the function it returns
    /// runs on a worker.
    /// </summary>
    public static IReadOnlyList<T> Run<T>(IReadOnlyList<(int Start, int End)> groups, Func<int, int, Func<T>> job) =>
        TorchWorkerPool.Shared.Run(groups.Select(g => job(g.Start, g.End)).ToArray());
}
