namespace GenSeg.Datasets;

/// <summary>
/// A dataset named on the command line as <c>KIND:DIR</c> (<c>voc</c>, <c>coco</c>, <c>saliency</c>, <c>folder</c>) or
/// <c>toyworld</c> (opened by the ToyWorld layer).
/// </summary>
/// <param name="Kind">The kind, lower case.</param>
/// <param name="Root">The folder (empty for <c>toyworld</c>).</param>
public sealed record DatasetSpec(string Kind, string Root)
{
    /// <summary>The kinds read from folders.</summary>
    public static IReadOnlyList<string> FolderKinds { get; } = new[] { "voc", "coco", "saliency", "folder" };

    /// <summary>The built-in procedural dataset's kind.</summary>
    public const string ToyWorld = "toyworld";

    /// <summary>Parses <c>KIND:DIR</c> or <c>toyworld</c>; an unknown kind or a missing folder is an error naming the spec.</summary>
    public static DatasetSpec Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var text = spec.Trim();
        int colon = text.IndexOf(':');
        var kind = (colon < 0 ? text : text[..colon]).ToLowerInvariant();
        var root = colon < 0 ? "" : text[(colon + 1)..];
        if (kind == ToyWorld)
        {
            if (root.Length > 0) throw new ArgumentException($"dataset '{spec}': toyworld takes no folder (write it with `genseg toyworld --format KIND --out DIR`, then pass KIND:DIR)");
            return new DatasetSpec(kind, "");
        }
        if (!FolderKinds.Contains(kind))
            throw new ArgumentException($"dataset '{spec}': unknown kind '{kind}' (expected {string.Join(", ", FolderKinds.Select(k => k + ":DIR"))} or toyworld)");
        if (root.Length == 0) throw new ArgumentException($"dataset '{spec}': expected {kind}:DIR with the dataset's folder");
        return new DatasetSpec(kind, root);
    }

    /// <summary>Opens a folder dataset's split; <c>toyworld</c> is opened by <c>ToyWorldDataset</c> instead.</summary>
    public ISegmentationDataset Open(string split) => Kind switch
    {
        "voc" => new VocDataset(Root, split),
        "coco" => new CocoDataset(Root, split),
        "saliency" => new SaliencyDataset(Root, split),
        "folder" => new FolderDataset(Root, split),
        _ => throw new ArgumentException($"dataset '{Kind}': not a folder dataset (toyworld is opened by ToyWorldDataset)"),
    };
}
