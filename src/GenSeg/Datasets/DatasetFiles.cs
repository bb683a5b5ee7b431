using GenSeg.Imaging;

namespace GenSeg.Datasets;

/// <summary>File conventions the readers share: split lists, class lists, image lookup by id, image-mask pairs.</summary>
public static class DatasetFiles
{
    /// <summary>The image extensions a reader looks for, in order.</summary>
    public static IReadOnlyList<string> ImageExtensions { get; } = new[] { ".jpg", ".jpeg", ".png", ".bmp", ".webp" };

    /// <summary>The non-empty, trimmed lines of a text file (ids of a split, class names); a missing file is an error naming it.</summary>
    public static IReadOnlyList<string> ReadLines(string path, string what)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} '{path}': not found", path);
        return File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
    }

    /// <summary>
    /// Class names from a <c>classes.txt</c> (one name per line, background first); at most 255 names, no duplicates.
    /// </summary>
    public static IReadOnlyList<string> ReadClassNames(string path)
    {
        var names = ReadLines(path, "class list");
        if (names.Count < 2) throw new InvalidDataException($"class list '{path}': expected the background and at least one class, one name per line");
        if (names.Count > MaskIO.Ignore) throw new InvalidDataException($"class list '{path}': {names.Count} names, at most {MaskIO.Ignore} fit an 8-bit mask with 255 as ignore");
        var duplicate = names.GroupBy(n => n, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidDataException($"class list '{path}': the name '{duplicate.Key}' occurs more than once");
        return names;
    }

    /// <summary>The image file of <paramref name="id"/> in <paramref name="folder"/> (any of <see cref="ImageExtensions"/>).</summary>
    public static string FindImage(string folder, string id)
    {
        foreach (var ext in ImageExtensions)
        {
            var path = Path.Combine(folder, id + ext);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"image '{Path.Combine(folder, id)}.*': not found (looked for {string.Join(", ", ImageExtensions)})", Path.Combine(folder, id));
    }

    /// <summary>The ids (file names without extension, ordinal order) of the images in a folder.</summary>
    public static IReadOnlyList<string> ImageIds(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"image folder '{folder}': not found");
        return Directory.EnumerateFiles(folder)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Select(f => Path.GetFileNameWithoutExtension(f)!)
            .Distinct().Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// Loads an image and its label mask, checking the mask has the image's size and only labels below
    /// <paramref name="classCount"/> or 255; each failure names the file.
    /// </summary>
    public static Sample LoadPair(string id, string imagePath, string maskPath, int classCount, Func<byte[], byte[]>? mapLabels = null)
    {
        var (rgb, width, height) = ImageIO.LoadRgb(imagePath);
        if (!File.Exists(maskPath)) throw new FileNotFoundException($"mask '{maskPath}' of image '{imagePath}': not found", maskPath);
        var (labels, mw, mh) = MaskIO.LoadBytes(maskPath);
        if (mw != width || mh != height)
            throw new InvalidDataException($"mask '{maskPath}': {mw}x{mh} pixels, but its image '{imagePath}' is {width}x{height}");
        if (mapLabels is not null) labels = mapLabels(labels);
        CheckLabels(labels, classCount, maskPath);
        return new Sample(id, rgb, width, height, labels, $"{imagePath} + {maskPath}");
    }

    /// <summary>Checks every label is below <paramref name="classCount"/> or is 255 (ignore); an error names the file and the label.</summary>
    public static void CheckLabels(byte[] labels, int classCount, string path)
    {
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount && labels[i] != MaskIO.Ignore)
                throw new InvalidDataException($"mask '{path}': label {labels[i]} has no class (the dataset has {classCount} classes, 0..{classCount - 1}, and 255 = ignore)");
    }
}
