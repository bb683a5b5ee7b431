using GenSeg.Imaging;
using GenSeg.Methods.Inputs;

namespace GenSeg.ToyWorld;

/// <summary>
/// PaintSeg prompts for ToyWorld scene objects and coarse masks: <see cref="Prompts"/> applied to an object's instance
/// mask (size x size), and mask prompts from <see cref="CoarseMasks"/>.
/// </summary>
public static class ScenePrompts
{
    /// <summary>A box prompt for a scene object.</summary>
    public static Prompt Box(SceneObject obj, int size, double noise = 0, ulong seed = 0) => Prompts.Box(obj.Instance, size, size, noise, seed);

    /// <summary>A point prompt for a scene object.</summary>
    public static Prompt Point(SceneObject obj, int size, PointMode mode = PointMode.Centroid, double noise = 0, ulong seed = 0) =>
        Prompts.Point(obj.Instance, size, size, mode, noise, seed);

    /// <summary>A scribble prompt for a scene object.</summary>
    public static Prompt Scribble(SceneObject obj, int size, double noise = 0, ulong seed = 0, int? length = null) =>
        Prompts.Scribble(obj.Instance, size, size, noise, seed, length);

    /// <summary>A mask prompt from a coarse mask: its probability map, with the binary mask's box; its noise is the severity.</summary>
    public static Prompt FromCoarse(CoarseMask coarse)
    {
        ArgumentNullException.ThrowIfNull(coarse);
        return new Prompt(PromptKind.Mask, Array.Empty<PromptPoint>(), Boxes.BoundingBox(coarse.Binary), coarse.Probability)
        {
            Noise = coarse.Severity.Level,
        };
    }
}
