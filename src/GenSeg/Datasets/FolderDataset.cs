namespace GenSeg.Datasets;

/// <summary>
/// A plain folder (<c>folder:DIR</c>; GrabCut, Berkeley, your own data): <c>images/ID.*</c>, label masks
/// <c>masks/ID.png</c> (palette or greyscale indices, 255 = ignore) and <c>classes.txt</c> (background first). The split
/// is <c>DIR/SPLIT.txt</c> when it exists, otherwise every image.
/// </summary>
public sealed class FolderDataset : ISegmentationDataset
{
    readonly string imageFolder, maskFolder;

    /// <summary>Opens the folder <paramref name="root"/>.</summary>
    public FolderDataset(string root, string split)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"folder:{root}: folder not found");
        Root = root;
        Split = split;
        ClassNames = DatasetFiles.ReadClassNames(Path.Combine(root, "classes.txt"));
        imageFolder = Path.Combine(root, "images");
        maskFolder = Path.Combine(root, "masks");
        var list = Path.Combine(root, split + ".txt");
        Ids = File.Exists(list) ? DatasetFiles.ReadLines(list, $"folder:{root}: split list") : DatasetFiles.ImageIds(imageFolder);
    }

    /// <summary>The dataset folder.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public string Spec => $"folder:{Root}";

    /// <inheritdoc />
    public string Split { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Ids { get; }

    /// <inheritdoc />
    public Sample Load(string id) =>
        DatasetFiles.LoadPair(id, DatasetFiles.FindImage(imageFolder, id), Path.Combine(maskFolder, id + ".png"), ClassNames.Count);
}
