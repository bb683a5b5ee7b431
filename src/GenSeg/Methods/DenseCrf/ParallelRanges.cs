namespace GenSeg.Methods.Crf;

/// <summary>Splits [0, count) into at most one contiguous range per core and runs them in parallel.</summary>
internal static class ParallelRanges
{
    /// <summary>Number of ranges used for work large enough to split.</summary>
    public static int Partitions => Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Runs <paramref name="body"/>(start, end) over ranges of at least <paramref name="minChunk"/> items.</summary>
    public static void For(int count, int minChunk, Action<int, int> body)
    {
        int parts = (int)Math.Clamp(count / Math.Max(1L, minChunk), 1, Partitions);
        if (parts <= 1)
        {
            if (count > 0) body(0, count);
            return;
        }
        Parallel.For(0, parts, p => body(Start(count, parts, p), Start(count, parts, p + 1)));
    }

    /// <summary>Start of range <paramref name="part"/> when [0, count) is cut into <paramref name="parts"/> ranges.</summary>
    public static int Start(int count, int parts, int part) => (int)((long)count * part / parts);
}
