namespace GenSeg.ToyWorld;

/// <summary>A named part of ToyWorld.</summary>
public enum Split
{
    /// <summary>Training scenes (the embedded model's data).</summary>
    Train,
    /// <summary>Validation scenes (calibration, tuning).</summary>
    Val,
    /// <summary>Test scenes (reported numbers).</summary>
    Test,
}

/// <summary>
/// ToyWorld's splits as disjoint seed ranges: test [0, 100 000), val [100 000, 200 000), train [1 000 000, 2^31 - 1).
/// Any seed can be generated; the splits only say which seeds are used for what.
/// </summary>
public static class Splits
{
    /// <summary>The seed range of a split: first seed and number of seeds.</summary>
    public static (int First, int Count) Range(Split split) => split switch
    {
        Split.Test => (0, 100_000),
        Split.Val => (100_000, 100_000),
        Split.Train => (1_000_000, int.MaxValue - 1_000_000),
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "split: expected train, val or test"),
    };

    /// <summary>Parses "train", "val" (or "validation") or "test", case-insensitive.</summary>
    public static Split Parse(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "train" => Split.Train,
        "val" or "validation" => Split.Val,
        "test" => Split.Test,
        _ => throw new ArgumentException($"split '{name}': expected train, val or test", nameof(name)),
    };

    /// <summary>The split that holds <paramref name="seed"/>, or null when the seed lies in no split.</summary>
    public static Split? Of(int seed)
    {
        foreach (var s in Enum.GetValues<Split>())
        {
            var (first, count) = Range(s);
            if (seed >= first && (long)seed < (long)first + count) return s;
        }
        return null;
    }

    /// <summary>
    /// <paramref name="count"/> consecutive seeds of a split starting at the absolute seed <paramref name="first"/>
    /// (the split's first seed when null). Every seed must lie in the split.
    /// </summary>
    public static IReadOnlyList<int> Seeds(Split split, int? first, int count)
    {
        var (start, size) = Range(split);
        int f = first ?? start;
        long end = (long)start + size;
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count: expected >= 0");
        if (f < start || f >= end)
            throw new ArgumentOutOfRangeException(nameof(first), f, $"first seed {f}: outside the {split.ToString().ToLowerInvariant()} split's seeds [{start}, {end})");
        if (f + (long)count > end)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"count {count} from seed {f}: runs past the end of the {split.ToString().ToLowerInvariant()} split's seeds [{start}, {end})");
        return Enumerable.Range(f, count).ToArray();
    }
}
