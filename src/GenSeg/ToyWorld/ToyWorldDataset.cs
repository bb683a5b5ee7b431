using System.Globalization;
using GenSeg.Datasets;

namespace GenSeg.ToyWorld;

/// <summary>
/// ToyWorld as a dataset (<c>--dataset toyworld</c>): consecutive scenes of a split, id = the seed in seven digits (as
/// <see cref="ToyWorldExport"/> names its files), the semantic truth (no ignore pixels) and the 9 class names.
/// </summary>
public sealed class ToyWorldDataset : ISegmentationDataset
{

    /// <summary>The <paramref name="count"/> scenes of <paramref name="split"/> from <paramref name="firstSeed"/> (the split's first when null).</summary>
    public ToyWorldDataset(Split split, int? firstSeed, int count, ToyWorldOptions? scene = null)
    {
        SceneOptions = scene;
        Split = split.ToString().ToLowerInvariant();
        Seeds = Splits.Seeds(split, firstSeed, count);
        Ids = Seeds.Select(IdOf).ToArray();
    }

    /// <summary>How scenes are drawn (the defaults when null).</summary>
    public ToyWorldOptions? SceneOptions { get; }

    /// <summary>The id of a scene seed: the seed in seven digits.</summary>
    public static string IdOf(int seed) => seed.ToString("D7", CultureInfo.InvariantCulture);

    /// <summary>The scenes' seeds, in order.</summary>
    public IReadOnlyList<int> Seeds { get; }

    /// <inheritdoc />
    public string Spec => DatasetSpec.ToyWorld;

    /// <inheritdoc />
    public string Split { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => ToyClasses.All;

    /// <inheritdoc />
    public IReadOnlyList<string> Ids { get; }

    /// <inheritdoc />
    public Sample Load(string id)
    {
        if (!int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out int seed))
            throw new ArgumentException($"toyworld: id '{id}' is not a scene seed", nameof(id));
        return FromScene(SceneGenerator.Generate(seed, SceneOptions));
    }

    /// <summary>A scene as a sample.</summary>
    public static Sample FromScene(Scene s) => new(IdOf(s.Seed), s.Rgb, s.Size, s.Size, s.Semantic, $"toyworld scene {s.Seed}");
}
