namespace GenSeg.ToyWorld;

/// <summary>How ToyWorld scenes are drawn. The defaults are the kit's benchmark settings.</summary>
public sealed record ToyWorldOptions
{
    /// <summary>Image side in pixels (images are square).</summary>
    public int Size { get; init; } = 64;

    /// <summary>Fewest objects in a scene.</summary>
    public int MinObjects { get; init; } = 1;

    /// <summary>Most objects in a scene.</summary>
    public int MaxObjects { get; init; } = 3;

    /// <summary>Smallest shape radius as a fraction of the image side (a radius of 0.12 gives a shape about 24% of the side across).</summary>
    public double MinRadius { get; init; } = 0.12;

    /// <summary>Largest shape radius as a fraction of the image side.</summary>
    public double MaxRadius { get; init; } = 0.27;

    /// <summary>Each object keeps at least this fraction of its own area visible (after occlusion and the image border).</summary>
    public double MinVisibleFraction { get; init; } = 0.55;

    /// <summary>Each object keeps at least this many visible pixels, as a fraction of the image area.</summary>
    public double MinVisibleArea { get; init; } = 0.012;

    /// <summary>When true a scene never holds two objects of the same class (so each class word names one object).</summary>
    public bool DistinctClasses { get; init; } = true;

    /// <summary>Standard deviation of the per-pixel noise added to the whole image, in 8-bit levels.</summary>
    public double PixelNoise { get; init; } = 3.0;

    /// <summary>Smallest RGB distance between an object's colour and the background's colours.</summary>
    public double MinContrast { get; init; } = 90.0;

    /// <summary>Attempts to place one object before it is dropped.</summary>
    public int PlacementAttempts { get; init; } = 30;

    /// <summary>Checks every value and throws an error naming the first bad one.</summary>
    public void Validate()
    {
        if (Size < 16 || Size > 4096) throw new ArgumentOutOfRangeException(nameof(Size), Size, "Size: expected 16..4096 pixels");
        if (MinObjects < 1 || MaxObjects < MinObjects || MaxObjects > ToyClasses.Count - 1)
            throw new ArgumentOutOfRangeException(nameof(MaxObjects), $"MinObjects/MaxObjects: expected 1 <= MinObjects <= MaxObjects <= {ToyClasses.Count - 1}, got {MinObjects}/{MaxObjects}");
        if (!(MinRadius > 0.02 && MaxRadius >= MinRadius && MaxRadius <= 0.45))
            throw new ArgumentOutOfRangeException(nameof(MinRadius), $"MinRadius/MaxRadius: expected 0.02 < MinRadius <= MaxRadius <= 0.45, got {MinRadius}/{MaxRadius}");
        if (!(MinVisibleFraction >= 0 && MinVisibleFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(MinVisibleFraction), MinVisibleFraction, "MinVisibleFraction: expected [0, 1]");
        if (!(MinVisibleArea >= 0 && MinVisibleArea <= 0.5))
            throw new ArgumentOutOfRangeException(nameof(MinVisibleArea), MinVisibleArea, "MinVisibleArea: expected [0, 0.5]");
        if (!(PixelNoise >= 0 && PixelNoise <= 64))
            throw new ArgumentOutOfRangeException(nameof(PixelNoise), PixelNoise, "PixelNoise: expected [0, 64]");
        if (PlacementAttempts < 1) throw new ArgumentOutOfRangeException(nameof(PlacementAttempts), PlacementAttempts, "PlacementAttempts: expected >= 1");
    }
}
