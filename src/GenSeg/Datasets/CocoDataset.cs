using System.Text.Json;
using GenSeg.Imaging;

namespace GenSeg.Datasets;

/// <summary>
/// COCO Object (<c>coco:DIR</c>): instance annotations <c>annotations/instances_{SPLIT}2017.json</c> (or
/// <c>instances_{SPLIT}.json</c>), images in <c>{SPLIT}2017/</c>, <c>{SPLIT}/</c> or <c>images/</c>. Each image's
/// annotations are rasterised into one semantic mask, in file order (a later object covers an earlier one): polygons,
/// uncompressed RLE (a list of counts) and compressed RLE (a counts string) decoded as pycocotools does
/// (<see cref="CocoMasks"/>); crowd regions become ignore (255) where no object lies. Categories are numbered 1..C in
/// order of their ids; the names are <c>background</c> then the categories' (81 for COCO).
/// </summary>
public sealed class CocoDataset : ISegmentationDataset
{
    sealed record Annotation(int Category, bool Crowd, JsonElement Segmentation);

    sealed record ImageEntry(string FileName, int Width, int Height, List<Annotation> Annotations);

    readonly string imageFolder, annotationFile;
    readonly Dictionary<string, ImageEntry> images = new(StringComparer.Ordinal);

    /// <summary>Opens the split <paramref name="split"/> of the COCO folder <paramref name="root"/>.</summary>
    public CocoDataset(string root, string split)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"coco:{root}: folder not found");
        Root = root;
        Split = split;
        var candidates = new[] { $"instances_{split}2017.json", $"instances_{split}.json" }.Select(f => Path.Combine(root, "annotations", f)).ToArray();
        annotationFile = candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"coco:{root}: annotation file for split '{split}' not found (expected {string.Join(" or ", candidates)})", candidates[0]);
        imageFolder = new[] { $"{split}2017", split, "images" }.Select(f => Path.Combine(root, f)).FirstOrDefault(Directory.Exists)
            ?? throw new DirectoryNotFoundException($"coco:{root}: no image folder (expected {split}2017/, {split}/ or images/)");
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllBytes(annotationFile)); }
        catch (JsonException e) { throw new InvalidDataException($"annotation file '{annotationFile}': not valid JSON ({e.Message})", e); }
        using var owned = document;
        var (names, ids) = Read(document.RootElement);
        ClassNames = names;
        Ids = ids;
    }

    (IReadOnlyList<string> Names, IReadOnlyList<string> Ids) Read(JsonElement root)
    {
        var categories = Array(root, "categories")
            .Select(c => (Id: Int(c, "id"), Name: Str(c, "name"))).OrderBy(c => c.Id).ToArray();
        if (categories.Length == 0 || categories.Length >= MaskIO.Ignore)
            throw new InvalidDataException($"annotation file '{annotationFile}': {categories.Length} categories, expected 1..{MaskIO.Ignore - 1}");
        var label = categories.Select((c, i) => (c.Id, Label: i + 1)).ToDictionary(c => c.Id, c => c.Label);
        var byImageId = new Dictionary<long, ImageEntry>();
        var order = new List<string>();
        foreach (var im in Array(root, "images"))
        {
            var file = Str(im, "file_name");
            var entry = new ImageEntry(file, Int(im, "width"), Int(im, "height"), new List<Annotation>());
            var id = Path.GetFileNameWithoutExtension(file);
            if (!images.TryAdd(id, entry)) throw new InvalidDataException($"annotation file '{annotationFile}': image '{file}' listed twice");
            byImageId[Long(im, "id")] = entry;
            order.Add(id);
        }
        foreach (var a in Array(root, "annotations"))
        {
            long imageId = Long(a, "image_id");
            int category = Int(a, "category_id");
            if (!byImageId.TryGetValue(imageId, out var entry))
                throw new InvalidDataException($"annotation file '{annotationFile}': an annotation names image id {imageId}, which is not among the images");
            if (!label.TryGetValue(category, out int l))
                throw new InvalidDataException($"annotation file '{annotationFile}': an annotation of image '{entry.FileName}' names category {category}, which is not among the categories");
            bool crowd = a.TryGetProperty("iscrowd", out var c) && c.ValueKind == JsonValueKind.Number && c.GetInt32() != 0;
            entry.Annotations.Add(new Annotation(l, crowd, a.TryGetProperty("segmentation", out var seg) ? seg.Clone()
                : throw new InvalidDataException($"annotation file '{annotationFile}': an annotation of image '{entry.FileName}' has no 'segmentation'")));
        }
        return (new[] { "background" }.Concat(categories.Select(c => c.Name)).ToArray(), order);
    }

    IEnumerable<JsonElement> Array(JsonElement root, string name) =>
        root.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray()
            : throw new InvalidDataException($"annotation file '{annotationFile}': no '{name}' array");

    int Int(JsonElement e, string name) => (int)Long(e, name);

    long Long(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64()
            : throw new InvalidDataException($"annotation file '{annotationFile}': an entry lacks the number '{name}'");

    string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw new InvalidDataException($"annotation file '{annotationFile}': an entry lacks the string '{name}'");

    /// <summary>The dataset folder.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public string Spec => $"coco:{Root}";

    /// <inheritdoc />
    public string Split { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Ids { get; }

    /// <inheritdoc />
    public Sample Load(string id)
    {
        if (!images.TryGetValue(id, out var entry)) throw new ArgumentException($"coco:{Root}: no image '{id}' in '{annotationFile}'", nameof(id));
        var path = Path.Combine(imageFolder, entry.FileName);
        var (rgb, width, height) = ImageIO.LoadRgb(path);
        if (width != entry.Width || height != entry.Height)
            throw new InvalidDataException($"image '{path}': {width}x{height} pixels, but '{annotationFile}' gives {entry.Width}x{entry.Height}");
        var labels = new byte[width * height];
        var crowd = new byte[width * height];
        foreach (var a in entry.Annotations)
        {
            byte[] mask;
            try { mask = Rasterise(a.Segmentation, height, width); }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"annotation file '{annotationFile}', image '{entry.FileName}': {e.Message}", e);
            }
            if (a.Crowd) { for (int i = 0; i < mask.Length; i++) crowd[i] |= mask[i]; continue; }
            for (int i = 0; i < mask.Length; i++) if (mask[i] != 0) labels[i] = (byte)a.Category;
        }
        for (int i = 0; i < labels.Length; i++) if (crowd[i] != 0 && labels[i] == 0) labels[i] = MaskIO.Ignore;
        return new Sample(id, rgb, width, height, labels, $"{path} + {annotationFile}");
    }

    /// <summary>One annotation's segmentation (polygons, RLE counts or a compressed counts string) as a 0/1 mask [H, W].</summary>
    public static byte[] Rasterise(JsonElement segmentation, int height, int width)
    {
        if (segmentation.ValueKind == JsonValueKind.Array)
            return CocoMasks.FromPolygons(segmentation.EnumerateArray().Select(p => (IReadOnlyList<double>)p.EnumerateArray().Select(v => v.GetDouble()).ToArray()), height, width);
        if (segmentation.ValueKind != JsonValueKind.Object || !segmentation.TryGetProperty("counts", out var counts))
            throw new InvalidDataException("segmentation: expected a list of polygons or an RLE object with 'size' and 'counts'");
        if (segmentation.TryGetProperty("size", out var size) && size.ValueKind == JsonValueKind.Array)
        {
            var hw = size.EnumerateArray().Select(v => v.GetInt32()).ToArray();
            if (hw.Length != 2 || hw[0] != height || hw[1] != width)
                throw new InvalidDataException($"RLE size [{string.Join(", ", hw)}] differs from the image's [{height}, {width}]");
        }
        var runs = counts.ValueKind == JsonValueKind.String
            ? CocoMasks.FromCompressedString(counts.GetString()!)
            : counts.EnumerateArray().Select(v => v.GetInt64()).ToArray();
        return CocoMasks.Decode(runs, height, width);
    }
}
