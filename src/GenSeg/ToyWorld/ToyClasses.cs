namespace GenSeg.ToyWorld;

/// <summary>
/// ToyWorld's classes: index 0 is background, 1..8 are the shapes. The index is the value in semantic masks.
/// </summary>
public static class ToyClasses
{
    static readonly string[] Names = { "background", "circle", "square", "triangle", "star", "ring", "cross", "crescent", "hexagon" };

    /// <summary>Number of classes including background (9).</summary>
    public const int Count = 9;

    /// <summary>Index of the background class.</summary>
    public const int Background = 0;

    /// <summary>Circle.</summary>
    public const int Circle = 1;
    /// <summary>Square.</summary>
    public const int Square = 2;
    /// <summary>Equilateral triangle.</summary>
    public const int Triangle = 3;
    /// <summary>Five-pointed star.</summary>
    public const int Star = 4;
    /// <summary>Annulus.</summary>
    public const int Ring = 5;
    /// <summary>Plus-shaped cross.</summary>
    public const int Cross = 6;
    /// <summary>Crescent (a disc with an offset disc cut out).</summary>
    public const int Crescent = 7;
    /// <summary>Regular hexagon.</summary>
    public const int Hexagon = 8;

    /// <summary>All class names by index, background first.</summary>
    public static IReadOnlyList<string> All => Names;

    /// <summary>The object class indices 1..8 (no background).</summary>
    public static IReadOnlyList<int> ObjectClasses { get; } = Enumerable.Range(1, Count - 1).ToArray();

    /// <summary>The name of class <paramref name="index"/>, e.g. 4 -> "star".</summary>
    public static string Name(int index)
    {
        if (index < 0 || index >= Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"class index: expected 0..{Count - 1}, got {index}");
        return Names[index];
    }

    /// <summary>
    /// The word(s) that name class <paramref name="index"/> in captions, in caption order (one word for every ToyWorld
    /// class: "star"). A text encoder's tokens for these words are the class's tokens.
    /// </summary>
    public static IReadOnlyList<string> Words(int index) => new[] { Name(index) };

    /// <summary>The index of a class name (case-insensitive); an unknown name is an error that lists the valid names.</summary>
    public static int IndexOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        for (int i = 0; i < Count; i++)
            if (string.Equals(Names[i], name.Trim(), StringComparison.OrdinalIgnoreCase)) return i;
        throw new ArgumentException($"class '{name}': unknown; valid names are {string.Join(", ", Names)}", nameof(name));
    }
}
