using GenSeg.Imaging;
using static TorchSharp.torch;

namespace GenSeg.Datasets;

/// <summary>
/// One image of a dataset with its ground truth, at the image's own size.
/// </summary>
/// <param name="Id">The image's id (its file name without extension; unique within the dataset).</param>
/// <param name="Rgb">Row-major RGB bytes [H, W, 3].</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Labels">Row-major label bytes [H, W]: 0 background, k class k, <see cref="MaskIO.Ignore"/> (255) ignore.</param>
/// <param name="Source">The files the sample came from (image and mask), for error messages.</param>
public sealed record Sample(string Id, byte[] Rgb, int Width, int Height, byte[] Labels, string Source)
{
    /// <summary>The image as float32 [3, H, W] in [-1, 1].</summary>
    public Tensor ImageTensor() => ImageIO.FromRgbBytes(Rgb, Height, Width);

    /// <summary>The ground truth as int64 [H, W] (255 = ignore).</summary>
    public Tensor LabelTensor() => tensor(Array.ConvertAll(Labels, b => (long)b), new long[] { Height, Width });
}

/// <summary>
/// A segmentation dataset: the ids of one split in a fixed order, the class names (index 0 is the background) and a
/// loader of one sample. Ids are listed without decoding any image, so shards and resumed runs skip images cheaply.
/// </summary>
public interface ISegmentationDataset
{
    /// <summary>The dataset's kind and root as given on the command line, e.g. <c>voc:/data/VOC2012</c>.</summary>
    string Spec { get; }

    /// <summary>The split read (e.g. <c>val</c>).</summary>
    string Split { get; }

    /// <summary>Class names by label index, background first.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>The split's image ids in the dataset's order.</summary>
    IReadOnlyList<string> Ids { get; }

    /// <summary>Loads one sample; errors name the file at fault.</summary>
    Sample Load(string id);
}
