using System.Runtime.ExceptionServices;

namespace GenSeg.Common;

/// <summary>Splits work into at most one contiguous range per core and runs the ranges in parallel.</summary>
internal static class ParallelRanges
{
    /// <summary>Number of ranges used for work large enough to split.</summary>
    public static int Partitions => Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Runs <paramref name="body"/>(start, end) over ranges of at least <paramref name="minChunk"/> items.</summary>
    public static void For(int count, int minChunk, Action<int, int> body)
    {
        int parts = (int)Math.Clamp(count / Math.Max(1L, minChunk), 1, Partitions);
        if (count <= 0) return;
        Run(parts, p => body(Start(count, parts, p), Start(count, parts, p + 1)));
    }

    /// <summary>
    /// Runs <paramref name="body"/>(0 .. parts-1) in parallel (inline when there is one part); an exception from a part
    /// is rethrown as it was, not wrapped in an <see cref="AggregateException"/>.
    /// </summary>
    public static void Run(int parts, Action<int> body)
    {
        if (parts <= 1)
        {
            if (parts == 1) body(0);
            return;
        }
        try
        {
            Parallel.For(0, parts, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
    }

    /// <summary>Start of range <paramref name="part"/> when [0, count) is cut into <paramref name="parts"/> ranges.</summary>
    public static int Start(int count, int parts, int part) => (int)((long)count * part / parts);
}
