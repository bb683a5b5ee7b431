using GenSeg.Imaging;

namespace GenSeg.ToyWorld;

/// <summary>Pictures of ToyWorld scenes for people: contact sheets of images, truths and coarse masks.</summary>
public static class Preview
{
    static readonly Rgb Paper = new(255, 255, 255);
    static readonly Rgb Truth = new(0, 255, 0);
    static readonly Rgb Coarse = new(255, 0, 255);
    static readonly Rgb CoarseEdge = new(255, 230, 0);

    /// <summary>
    /// A contact sheet with one row per scene: image | semantic truth (VOC colours) | image with every object's truth
    /// outlined in green | one tile per object over a grey copy: coarse probability as magenta tint, its binarisation
    /// outlined in yellow, the truth outlined in green; when
    /// <paramref name="coarse"/> gives them (scene index, object index) -> (probability, binary) as row-major [H, W].
    /// </summary>
    public static Canvas ContactSheet(IReadOnlyList<Scene> scenes, int scale = 2,
        Func<int, int, (float[] Probability, byte[] Binary)>? coarse = null)
    {
        if (scenes.Count == 0) throw new ArgumentException("scenes: expected at least one scene", nameof(scenes));
        int size = scenes.Max(s => s.Size), gap = 4, tile = size * scale;
        int maxObjects = coarse is null ? 0 : scenes.Max(s => s.Objects.Count);
        int columns = 3 + maxObjects;
        var canvas = new Canvas(columns * (tile + gap) + gap, scenes.Count * (tile + gap) + gap, Paper);
        for (int r = 0; r < scenes.Count; r++)
        {
            var s = scenes[r];
            int y = gap + r * (tile + gap);
            canvas.Paste(s.Rgb, s.Size, s.Size, gap, y, scale);
            canvas.Paste(Render.Colorize(s.Semantic), s.Size, s.Size, gap + (tile + gap), y, scale);
            var outlined = s.Rgb;
            foreach (var o in s.Objects) outlined = Render.Outline(outlined, o.Instance, s.Size, Truth);
            canvas.Paste(outlined, s.Size, s.Size, gap + 2 * (tile + gap), y, scale);
            if (coarse is null) continue;
            for (int k = 0; k < s.Objects.Count; k++)
            {
                var (prob, binary) = coarse(r, k);
                var img = Render.Tint(Render.Grey(s.Rgb), prob, Coarse, 0.7);
                img = Render.Outline(img, binary, s.Size, CoarseEdge);
                img = Render.Outline(img, s.Objects[k].Instance, s.Size, Truth);
                canvas.Paste(img, s.Size, s.Size, gap + (3 + k) * (tile + gap), y, scale);
            }
        }
        return canvas;
    }
}
