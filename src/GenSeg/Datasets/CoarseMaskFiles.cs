using GenSeg.Imaging;
using static TorchSharp.torch;

namespace GenSeg.Datasets;

/// <summary>
/// Coarse masks made by another method, read from a folder (<c>--coarse-dir DIR</c>) and named after the images, in
/// one of two forms:
/// <list type="bullet">
/// <item><c>DIR/ID.png</c>: a label map (palette or greyscale indices, the dataset's numbering, 255 = ignore). Class k's
/// map is 1 where the label is k, 0 elsewhere; an ignore pixel is unknown, 0.5 for every class the map holds (so it
/// falls inside G4Seg's confusion area and is decided by the refinement, never taken as foreground).</item>
/// <item><c>DIR/ID/CLASS.png</c>: one greyscale probability map per class (p = grey / 255), named by the dataset's
/// class names; a class without a file has probability 0.</item>
/// </list>
/// Every map must have its image's size; errors name the file.
/// </summary>
public static class CoarseMaskFiles
{
    /// <summary>The probability of an ignore pixel of a label map, for each class the map holds.</summary>
    public const float IgnoreProbability = 0.5f;

    /// <summary>
    /// The coarse maps S [K, H, W] (float32 in [0, 1], K = classes without the background) of image <paramref name="id"/>.
    /// </summary>
    public static Tensor Load(string folder, string id, IReadOnlyList<string> classNames, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(classNames);
        var labelFile = Path.Combine(folder, id + ".png");
        var mapFolder = Path.Combine(folder, id);
        if (File.Exists(labelFile)) return FromLabels(labelFile, classNames.Count, width, height);
        if (Directory.Exists(mapFolder)) return FromMaps(mapFolder, classNames, width, height);
        throw new FileNotFoundException($"coarse mask of image '{id}': neither '{labelFile}' (a label map) nor '{mapFolder}{Path.DirectorySeparatorChar}CLASS.png' (probability maps) exists", labelFile);
    }

    /// <summary>Whether image <paramref name="id"/>'s coarse mask is a label map (<c>DIR/ID.png</c>: hard) rather than probability maps.</summary>
    public static bool IsLabelMap(string folder, string id) => File.Exists(Path.Combine(folder, id + ".png"));

    /// <summary>
    /// One object's coarse map [H, W] from a file: a palette PNG is a label map (0 background, 255 unknown at
    /// <see cref="IgnoreProbability"/>, any other label the object), and so is a greyscale PNG of 0s and 1s; any other
    /// greyscale PNG is a probability (grey / 255).
    /// </summary>
    public static Tensor LoadObjectMap(string path)
    {
        var (values, w, h) = MaskIO.LoadBytes(path);
        bool labels = MaskIO.IsPalette(path) || values.All(v => v <= 1);
        var p = Array.ConvertAll(values, v => labels ? (v == 0 ? 0f : v == MaskIO.Ignore ? IgnoreProbability : 1f) : v / 255f);
        return tensor(p, new long[] { h, w });
    }

    /// <summary>Class maps [K, H, W] of a label PNG (see the class summary for the ignore label).</summary>
    public static Tensor FromLabels(string path, int classCount, int width, int height)
    {
        var (labels, w, h) = MaskIO.LoadBytes(path);
        CheckSize(path, w, h, width, height);
        DatasetFiles.CheckLabels(labels, classCount, path);
        int k = classCount - 1, plane = w * h;
        var maps = new float[k * plane];
        var holds = new bool[k];
        for (int i = 0; i < plane; i++)
            if (labels[i] != 0 && labels[i] != MaskIO.Ignore) holds[labels[i] - 1] = true;
        for (int i = 0; i < plane; i++)
        {
            int l = labels[i];
            if (l == MaskIO.Ignore)
            {
                for (int c = 0; c < k; c++) if (holds[c]) maps[c * plane + i] = IgnoreProbability;
            }
            else if (l != 0) maps[(l - 1) * plane + i] = 1f;
        }
        return tensor(maps, new long[] { k, h, w });
    }

    /// <summary>Class maps [K, H, W] from per-class probability PNGs in <paramref name="folder"/>.</summary>
    public static Tensor FromMaps(string folder, IReadOnlyList<string> classNames, int width, int height)
    {
        var index = classNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.OrdinalIgnoreCase);
        using var scope = NewDisposeScope();
        var maps = zeros(classNames.Count - 1, height, width);
        foreach (var file in Directory.EnumerateFiles(folder, "*.png").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (!index.TryGetValue(name, out int c) || c == 0)
                throw new InvalidDataException($"coarse map '{file}': the dataset has no class '{name}' (its classes: {string.Join(", ", classNames.Skip(1))})");
            var p = MaskIO.LoadProbability(file);
            CheckSize(file, (int)p.shape[1], (int)p.shape[0], width, height);
            maps[c - 1] = p;
        }
        return maps.MoveToOuterDisposeScope();
    }

    static void CheckSize(string path, int w, int h, int width, int height)
    {
        if (w != width || h != height)
            throw new InvalidDataException($"coarse mask '{path}': {w}x{h} pixels, but its image is {width}x{height}");
    }
}
