using GenSeg.Imaging;

namespace GenSeg.ToyWorld;

/// <summary>A colour with the word that names it in captions.</summary>
public sealed record NamedColour(string Name, Rgb Value);

/// <summary>A background palette: a name and a few muted colours that go together.</summary>
public sealed record BackgroundPalette(string Name, IReadOnlyList<Rgb> Colours);

/// <summary>The colours of ToyWorld: saturated, named colours for objects and muted palettes for backgrounds.</summary>
public static class Palettes
{
    /// <summary>Object colours; the name is the caption's colour word.</summary>
    public static IReadOnlyList<NamedColour> ObjectColours { get; } = new NamedColour[]
    {
        new("red", new Rgb(220, 30, 30)),
        new("green", new Rgb(40, 180, 50)),
        new("blue", new Rgb(30, 60, 220)),
        new("yellow", new Rgb(240, 220, 30)),
        new("purple", new Rgb(140, 40, 190)),
        new("orange", new Rgb(250, 140, 20)),
        new("white", new Rgb(245, 245, 245)),
        new("black", new Rgb(15, 15, 15)),
        new("pink", new Rgb(250, 110, 180)),
        new("cyan", new Rgb(30, 210, 220)),
    };

    /// <summary>Background palettes (muted, so objects stand out most of the time).</summary>
    public static IReadOnlyList<BackgroundPalette> Backgrounds { get; } = new BackgroundPalette[]
    {
        new("slate", new[] { new Rgb(90, 100, 110), new Rgb(130, 140, 150), new Rgb(70, 75, 85), new Rgb(160, 165, 170) }),
        new("sand", new[] { new Rgb(200, 180, 140), new Rgb(180, 160, 120), new Rgb(215, 200, 170), new Rgb(165, 140, 105) }),
        new("moss", new[] { new Rgb(95, 115, 80), new Rgb(125, 140, 100), new Rgb(70, 90, 65), new Rgb(145, 155, 120) }),
        new("dusk", new[] { new Rgb(90, 80, 120), new Rgb(120, 105, 135), new Rgb(70, 65, 95), new Rgb(145, 125, 155) }),
        new("clay", new[] { new Rgb(160, 105, 85), new Rgb(185, 135, 115), new Rgb(140, 90, 75), new Rgb(195, 155, 135) }),
    };

    /// <summary>The object colour called <paramref name="name"/>; an unknown name is an error listing the valid ones.</summary>
    public static NamedColour ObjectColour(string name) =>
        ObjectColours.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"colour '{name}': unknown; valid colours are {string.Join(", ", ObjectColours.Select(c => c.Name))}", nameof(name));
}
