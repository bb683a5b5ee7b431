using System.Text;
using GenSeg.Imaging;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld;

/// <summary>How a caption names objects.</summary>
public enum CaptionStyle
{
    /// <summary>Colour and class: "a photo of a red star and a blue ring".</summary>
    WithColour,

    /// <summary>Class only: "a photo of a star and a ring".</summary>
    ClassOnly,
}

/// <summary>How an object's surface is filled.</summary>
public enum ObjectTexture
{
    /// <summary>One colour.</summary>
    Flat,
    /// <summary>The colour with per-pixel noise.</summary>
    Noise,
    /// <summary>Stripes of the colour and a lighter or darker shade of it.</summary>
    Stripes,
}

/// <summary>The kind of background drawn behind the objects.</summary>
public enum BackgroundKind
{
    /// <summary>Smooth value noise between two colours.</summary>
    Noise,
    /// <summary>Straight stripes of two colours at a random angle.</summary>
    Stripes,
    /// <summary>A linear gradient between two colours.</summary>
    Gradient,
    /// <summary>A checkerboard of two colours.</summary>
    Checks,
}

/// <summary>
/// One object of a scene. <see cref="Instance"/> holds its VISIBLE pixels (row-major bytes [H, W], 1 = visible);
/// <see cref="Box"/> is the bounding box of those pixels (exclusive ends).
/// </summary>
public sealed record SceneObject(int ClassIndex, string ColourName, byte[] Instance, Box Box)
{
    /// <summary>The class name, e.g. "star".</summary>
    public string ClassName => ToyClasses.Name(ClassIndex);

    /// <summary>Surface texture.</summary>
    public ObjectTexture Texture { get; init; }

    /// <summary>Centre of the shape in pixels (continuous coordinates, pixel i spans [i, i+1)).</summary>
    public (double X, double Y) Center { get; init; }

    /// <summary>Radius of the shape in pixels (see the shapes' unit frame).</summary>
    public double Radius { get; init; }

    /// <summary>Rotation of the shape in radians.</summary>
    public double Rotation { get; init; }

    /// <summary>Number of visible pixels.</summary>
    public int VisibleArea { get; init; }

    /// <summary>Number of pixels the shape covers inside the image before occlusion by later objects.</summary>
    public int FullArea { get; init; }
}

/// <summary>
/// A ToyWorld scene with exact ground truth. Images and masks agree exactly: a pixel belongs to an object iff its centre
/// lies inside the object's shape and no later object covers it.
/// </summary>
public sealed class Scene
{
    internal Scene(int seed, int size, byte[] rgb, byte[] semantic, IReadOnlyList<SceneObject> objects, BackgroundKind background, string palette)
    {
        Seed = seed;
        Size = size;
        Rgb = rgb;
        Semantic = semantic;
        Objects = objects;
        Background = background;
        BackgroundPalette = palette;
    }

    /// <summary>The seed that generated the scene.</summary>
    public int Seed { get; }

    /// <summary>Image side in pixels (H = W = Size).</summary>
    public int Size { get; }

    /// <summary>Height in pixels.</summary>
    public int Height => Size;

    /// <summary>Width in pixels.</summary>
    public int Width => Size;

    /// <summary>The image as row-major bytes [H, W, 3] (RGB).</summary>
    public byte[] Rgb { get; }

    /// <summary>The semantic mask as row-major bytes [H, W]: the class index of each pixel, 0 = background.</summary>
    public byte[] Semantic { get; }

    /// <summary>The objects, back to front (later objects occlude earlier ones).</summary>
    public IReadOnlyList<SceneObject> Objects { get; }

    /// <summary>The background's kind.</summary>
    public BackgroundKind Background { get; }

    /// <summary>The background's palette name.</summary>
    public string BackgroundPalette { get; }

    /// <summary>The caption naming every object with its colour: "a photo of a red star and a blue ring".</summary>
    public string Caption => CaptionFor(CaptionStyle.WithColour);

    /// <summary>The distinct object classes present, ascending.</summary>
    public IReadOnlyList<int> ClassesPresent => Objects.Select(o => o.ClassIndex).Distinct().Order().ToArray();

    /// <summary>The caption in a given style; objects are named back to front.</summary>
    public string CaptionFor(CaptionStyle style)
    {
        var phrases = Objects.Select(o =>
        {
            string words = string.Join(' ', ToyClasses.Words(o.ClassIndex));
            string phrase = style == CaptionStyle.WithColour ? $"{o.ColourName} {words}" : words;
            return $"{Article(phrase)} {phrase}";
        }).ToList();
        var sb = new StringBuilder("a photo of ");
        for (int i = 0; i < phrases.Count; i++)
        {
            if (i > 0) sb.Append(i == phrases.Count - 1 ? " and " : ", ");
            sb.Append(phrases[i]);
        }
        return sb.ToString();
    }

    static string Article(string phrase) => "aeiou".Contains(char.ToLowerInvariant(phrase[0])) ? "an" : "a";

    /// <summary>The image as a float32 tensor [3, H, W] in [-1, 1].</summary>
    public Tensor ImageTensor() => ImageIO.FromRgbBytes(Rgb, Size, Size);

    /// <summary>The semantic mask as an int64 tensor [H, W] of class indices.</summary>
    public Tensor SemanticTensor() => tensor(Array.ConvertAll(Semantic, b => (long)b), new long[] { Size, Size });

    /// <summary>Object <paramref name="index"/>'s visible pixels as a float32 0/1 tensor [H, W].</summary>
    public Tensor InstanceTensor(int index)
    {
        if (index < 0 || index >= Objects.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"object index: the scene (seed {Seed}) has {Objects.Count} object(s)");
        return Masks.FromBytes(Objects[index].Instance, Size, Size);
    }
}
