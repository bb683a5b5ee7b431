namespace GenSeg.Datasets;

/// <summary>
/// A salient-object dataset (<c>saliency:DIR</c>, DUTS-TE, ECSSD): images and 0/255 masks of the same name. The image
/// folder is the first of <c>images</c>, <c>Imgs</c>, <c>DUTS-TE-Image</c>, <c>im</c>; the mask folder the first of
/// <c>masks</c>, <c>GT</c>, <c>DUTS-TE-Mask</c>, <c>gt</c>. Mask values of 128 and above are the object (label 1), the rest
/// background (0); two classes, <c>background</c> and <c>foreground</c>. All images form the split.
/// </summary>
public sealed class SaliencyDataset : ISegmentationDataset
{
    /// <summary>The two class names.</summary>
    public static IReadOnlyList<string> SaliencyClasses { get; } = new[] { "background", "foreground" };

    static readonly string[] ImageFolders = { "images", "Imgs", "DUTS-TE-Image", "im" };
    static readonly string[] MaskFolders = { "masks", "GT", "DUTS-TE-Mask", "gt" };

    readonly string imageFolder, maskFolder;

    /// <summary>Opens the saliency folder <paramref name="root"/>.</summary>
    public SaliencyDataset(string root, string split)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"saliency:{root}: folder not found");
        Root = root;
        Split = split;
        imageFolder = First(root, ImageFolders, "image");
        maskFolder = First(root, MaskFolders, "mask");
        Ids = DatasetFiles.ImageIds(imageFolder);
    }

    static string First(string root, string[] names, string what) =>
        names.Select(n => Path.Combine(root, n)).FirstOrDefault(Directory.Exists)
        ?? throw new DirectoryNotFoundException($"saliency:{root}: no {what} folder (expected one of {string.Join(", ", names)})");

    /// <summary>The dataset folder.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public string Spec => $"saliency:{Root}";

    /// <inheritdoc />
    public string Split { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames => SaliencyClasses;

    /// <inheritdoc />
    public IReadOnlyList<string> Ids { get; }

    /// <inheritdoc />
    public Sample Load(string id) =>
        DatasetFiles.LoadPair(id, DatasetFiles.FindImage(imageFolder, id), Path.Combine(maskFolder, id + ".png"), 2,
            grey => Array.ConvertAll(grey, v => (byte)(v >= 128 ? 1 : 0)));
}
