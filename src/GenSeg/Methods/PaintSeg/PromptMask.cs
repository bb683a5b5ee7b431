using GenSeg.Common;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using static TorchSharp.torch;

namespace GenSeg.Methods.PaintSeg;

/// <summary>
/// A prompt's initial mask and its points for the prompt prior (PaintSeg Sec. 5.2): mask and box prompts are the initial
/// mask; point and scribble prompts start from the whole image as the masked region. Bad prompts are errors naming the
/// prompt: a point outside the image, an empty scribble, a box of zero area or entirely outside the image, an empty mask.
/// A mask that covers the whole image is accepted (the same start as a point prompt).
/// </summary>
public static class PromptMask
{
    /// <summary>The initial mask [height, width] (float32 0/1) of <paramref name="prompt"/>.</summary>
    public static Tensor Initial(Prompt prompt, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"image size {height}x{width}: expected a positive size");
        switch (prompt.Kind)
        {
            case PromptKind.Mask:
            {
                var m = prompt.Mask ?? throw new ArgumentException("mask prompt: no mask given", nameof(prompt));
                Check.Shape(m, "prompt mask", height, width);
                Check.Finite(m, "prompt mask");
                var binary = Masks.Binarize(m).cpu();
                if (Masks.Area(binary) == 0) throw new ArgumentException("mask prompt: the mask is empty (no pixel above 0.5)", nameof(prompt));
                return binary;
            }
            case PromptKind.Box:
                return Boxes.ToMask(CheckedBox(prompt, height, width), height, width);
            case PromptKind.Point:
            case PromptKind.Scribble:
                CheckedPoints(prompt, height, width);
                return ones(height, width, dtype: ScalarType.Float32);
            default:
                throw new ArgumentOutOfRangeException(nameof(prompt), prompt.Kind, "prompt kind: expected box, point, scribble or mask");
        }
    }

    /// <summary>
    /// The points of the prompt prior: the point, the scribble's points, or a box's centre (rounded down to a pixel);
    /// none for a mask prompt.
    /// </summary>
    public static IReadOnlyList<PromptPoint> PriorPoints(Prompt prompt, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return prompt.Kind switch
        {
            PromptKind.Point or PromptKind.Scribble => CheckedPoints(prompt, height, width),
            PromptKind.Box => Centre(CheckedBox(prompt, height, width)),
            _ => Array.Empty<PromptPoint>(),
        };
    }

    static PromptPoint[] Centre(Box b)
    {
        var (cx, cy) = b.Center;
        return new[] { new PromptPoint(Math.Min(b.X1 - 1, (int)Math.Floor(cx)), Math.Min(b.Y1 - 1, (int)Math.Floor(cy))) };
    }

    static Box CheckedBox(Prompt prompt, int height, int width)
    {
        var box = prompt.Box ?? throw new ArgumentException("box prompt: no box given", nameof(prompt));
        if (box.IsEmpty) throw new ArgumentException($"box prompt: the box {box} has zero area", nameof(prompt));
        var clamped = Boxes.Clamp(box, width, height);
        if (clamped.IsEmpty) throw new ArgumentException($"box prompt: the box {box} lies outside the {width}x{height} image", nameof(prompt));
        return clamped;
    }

    static IReadOnlyList<PromptPoint> CheckedPoints(Prompt prompt, int height, int width)
    {
        string kind = prompt.Kind == PromptKind.Point ? "point" : "scribble";
        var points = prompt.Points ?? Array.Empty<PromptPoint>();
        if (points.Count == 0) throw new ArgumentException($"{kind} prompt: no points (an empty {kind})", nameof(prompt));
        foreach (var p in points)
            if (p.X < 0 || p.Y < 0 || p.X >= width || p.Y >= height)
                throw new ArgumentException($"{kind} prompt: point (x={p.X}, y={p.Y}) lies outside the {width}x{height} image", nameof(prompt));
        return points;
    }
}
