using GenSeg.Common;
using GenSeg.Imaging;
using Microsoft.DotNet.Interactive.Formatting;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Notebooks;

/// <summary>An encoded PNG that displays as <c>image/png</c>, in the runner and in a real .NET Interactive kernel
/// (through its <see cref="TypeFormatterSourceAttribute"/>). The explicit way to show a tensor as an image:
/// <c>display(PngImage.FromTensor(x))</c>.</summary>
[TypeFormatterSource(typeof(PngImageFormatterSource), PreferredMimeTypes = ["image/png"])]
public sealed class PngImage
{
    /// <summary>The PNG file bytes.</summary>
    public byte[] Bytes { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    PngImage(byte[] bytes, int width, int height) => (Bytes, Width, Height) = (bytes, width, height);

    /// <summary>Wraps PNG file bytes (the size is read from the header).</summary>
    public static PngImage FromBytes(byte[] png)
    {
        using var codec = SKCodec.Create(new SKMemoryStream(png)) ?? throw new ArgumentException("png: not a decodable image", nameof(png));
        if (codec.EncodedFormat != SKEncodedImageFormat.Png) throw new ArgumentException($"png: expected PNG data, got {codec.EncodedFormat}", nameof(png));
        return new PngImage(png, codec.Info.Width, codec.Info.Height);
    }

    /// <summary>Encodes an image tensor: [3, H, W] (RGB), [1, H, W] or [H, W] (grey). Values in [<paramref name="min"/>,
    /// <paramref name="max"/>] map to 0..255 (clamped); the kit's images in [-1, 1] use <c>min: -1</c>.</summary>
    public static PngImage FromTensor(Tensor image, double min = 0, double max = 1)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!(max > min)) throw new ArgumentException($"min {min} must be below max {max}", nameof(max));
        var shape = image.shape;
        var ok = shape.Length == 2 || (shape.Length == 3 && (shape[0] == 3 || shape[0] == 1));
        if (!ok) throw new ArgumentException($"image: expected shape [3, H, W], [1, H, W] or [H, W], got {Check.Format(shape)}", nameof(image));

        using var scope = NewDisposeScope();
        var chw = shape.Length == 2 ? image.unsqueeze(0) : image;
        if (chw.shape[0] == 1) chw = chw.expand(3, -1, -1);
        var bytes = ((chw.to(ScalarType.Float32, CPU) - min) * (255.0 / (max - min))).clamp(0, 255).round()
            .to(ScalarType.Byte).permute(1, 2, 0).contiguous();
        int h = (int)shape[^2], w = (int)shape[^1];
        return new PngImage(ImageIO.EncodeRgb(bytes.data<byte>().ToArray(), w, h), w, h);
    }

    /// <summary>The PNG as base64, the form notebooks store image/png in.</summary>
    public string ToBase64() => Convert.ToBase64String(Bytes);

    /// <inheritdoc/>
    public override string ToString() => $"PNG {Width}x{Height}";
}

/// <summary>Supplies <see cref="PngImage"/>'s image/png formatter to Microsoft.DotNet.Interactive.Formatting.</summary>
internal sealed class PngImageFormatterSource : ITypeFormatterSource
{
    public IEnumerable<ITypeFormatter> CreateTypeFormatters() => [new PngImageFormatter()];

    sealed class PngImageFormatter : TypeFormatter<PngImage>
    {
        public override string MimeType => "image/png";

        public override bool Format(PngImage value, FormatContext context)
        {
            context.Writer.Write(value.ToBase64());
            return true;
        }
    }
}
