namespace GenSeg.Datasets;

/// <summary>
/// PASCAL VOC 2012 layout (<c>voc:DIR</c>): <c>JPEGImages/ID.jpg</c>, palette masks <c>SegmentationClass/ID.png</c>
/// (255 = ignore, the border), split lists <c>ImageSets/Segmentation/{train,val}.txt</c>. The 21 VOC names, or the names
/// in <c>DIR/classes.txt</c> when it exists (PASCAL Context in its PNG form: its label PNGs in
/// <c>SegmentationClassContext/</c> or <c>SegmentationClass/</c> and its 60 names in <c>classes.txt</c>).
/// </summary>
public sealed class VocDataset : ISegmentationDataset
{
    /// <summary>The 21 PASCAL VOC names, background first.</summary>
    public static IReadOnlyList<string> VocClasses { get; } = new[]
    {
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
        "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    };

    readonly string imageFolder, maskFolder;

    /// <summary>Opens the split <paramref name="split"/> of the VOC folder <paramref name="root"/>.</summary>
    public VocDataset(string root, string split)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"voc:{root}: folder not found");
        Root = root;
        Split = split;
        var classes = Path.Combine(root, "classes.txt");
        ClassNames = File.Exists(classes) ? DatasetFiles.ReadClassNames(classes) : VocClasses;
        Ids = DatasetFiles.ReadLines(Path.Combine(root, "ImageSets", "Segmentation", split + ".txt"), $"voc:{root}: split list");
        imageFolder = Path.Combine(root, "JPEGImages");
        var context = Path.Combine(root, "SegmentationClassContext");
        maskFolder = Directory.Exists(context) ? context : Path.Combine(root, "SegmentationClass");
    }

    /// <summary>The dataset folder.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public string Spec => $"voc:{Root}";

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
