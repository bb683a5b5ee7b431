using GenSeg.Common;
using SkiaSharp;
using static TorchSharp.torch;

namespace GenSeg.Imaging;

/// <summary>The value range of an image tensor.</summary>
public enum PixelRange
{
    /// <summary>[-1, 1], the range diffusion models take (0 maps to -1, 255 to 1).</summary>
    MinusOneToOne,

    /// <summary>[0, 1].</summary>
    ZeroToOne,
}

/// <summary>
/// Image files to and from tensors. Tensors are float32 [3, H, W] (RGB) in the range asked for; files are decoded and
/// encoded with SkiaSharp (PNG, JPEG and whatever else Skia decodes; PNG or JPEG written by the file extension).
/// </summary>
public static class ImageIO
{
    /// <summary>Loads an image file as a float32 tensor [3, H, W] in <paramref name="range"/>; alpha is dropped.</summary>
    public static Tensor Load(string path, PixelRange range = PixelRange.MinusOneToOne)
    {
        var (rgb, width, height) = LoadRgb(path);
        return FromRgbBytes(rgb, height, width, range);
    }

    /// <summary>Loads an image file as row-major RGB bytes [H, W, 3].</summary>
    public static (byte[] Rgb, int Width, int Height) LoadRgb(string path)
    {
        var rgba = LoadRgba(path, out int width, out int height);
        var rgb = new byte[width * height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return (rgb, width, height);
    }

    /// <summary>Decodes a file into unpremultiplied RGBA bytes; errors name the file.</summary>
    internal static byte[] LoadRgba(string path, out int width, out int height)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"image file '{path}': not found", path);
        var bytes = File.ReadAllBytes(path);
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException($"image file '{path}': not a decodable image (expected PNG, JPEG, BMP, GIF or WebP)");
        width = codec.Info.Width;
        height = codec.Info.Height;
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success && result != SKCodecResult.IncompleteInput)
            throw new InvalidDataException($"image file '{path}': could not be decoded ({result})");
        var rgba = new byte[width * height * 4];
        System.Runtime.InteropServices.Marshal.Copy(bitmap.GetPixels(), rgba, 0, rgba.Length);
        return rgba;
    }

    /// <summary>Saves a [3, H, W] tensor in <paramref name="range"/> as PNG or JPEG (by extension), atomically.</summary>
    public static void Save(Tensor image, string path, PixelRange range = PixelRange.MinusOneToOne, int jpegQuality = 95)
    {
        Check.Shape(image, nameof(image), 3, -1, -1);
        var rgb = ToRgbBytes(image, range);
        SaveRgb(rgb, (int)image.shape[2], (int)image.shape[1], path, jpegQuality);
    }

    /// <summary>Saves row-major RGB bytes [H, W, 3] as PNG or JPEG (by extension), atomically.</summary>
    public static void SaveRgb(byte[] rgb, int width, int height, string path, int jpegQuality = 95)
    {
        var format = FormatOf(path);
        var encoded = EncodeRgb(rgb, width, height, format, jpegQuality);
        AtomicFile.WriteAllBytes(path, encoded);
    }

    /// <summary>Encodes row-major RGB bytes [H, W, 3] as PNG or JPEG bytes.</summary>
    public static byte[] EncodeRgb(byte[] rgb, int width, int height, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int jpegQuality = 95)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (width <= 0 || height <= 0 || rgb.Length != width * height * 3)
            throw new ArgumentException($"rgb: expected {width}x{height}x3 = {width * height * 3} bytes, got {rgb.Length}", nameof(rgb));
        var rgba = new byte[width * height * 4];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }
        return EncodeRgba(rgba, width, height, format, jpegQuality);
    }

    internal static byte[] EncodeRgba(byte[] rgba, int width, int height, SKEncodedImageFormat format, int quality)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var pixmapData = SKData.CreateCopy(rgba);
        using var image = SKImage.FromPixels(info, pixmapData, width * 4)
            ?? throw new InvalidOperationException("SkiaSharp could not wrap the pixels");
        using var encoded = image.Encode(format, quality)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode {format}");
        return encoded.ToArray();
    }

    /// <summary>The format written for a path: .png, or .jpg/.jpeg; anything else is an error naming the path.</summary>
    public static SKEncodedImageFormat FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => SKEncodedImageFormat.Png,
        ".jpg" or ".jpeg" => SKEncodedImageFormat.Jpeg,
        var ext => throw new ArgumentException($"image path '{path}': unsupported extension '{ext}' (expected .png, .jpg or .jpeg)", nameof(path)),
    };

    /// <summary>Row-major RGB bytes [H, W, 3] to a float32 tensor [3, H, W] in <paramref name="range"/>.</summary>
    public static Tensor FromRgbBytes(byte[] rgb, int height, int width, PixelRange range = PixelRange.MinusOneToOne)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.Length != height * width * 3)
            throw new ArgumentException($"rgb: expected {height}x{width}x3 = {height * width * 3} bytes, got {rgb.Length}", nameof(rgb));
        // Converted in C# (no Scalar temporaries: this runs millions of times when the embedded model trains).
        int plane = height * width;
        var chw = new float[3 * plane];
        float divisor = range == PixelRange.MinusOneToOne ? 127.5f : 255f, offset = range == PixelRange.MinusOneToOne ? -1f : 0f;
        for (int i = 0; i < plane; i++)
        {
            chw[i] = rgb[3 * i] / divisor + offset; // 255 maps to exactly 1
            chw[plane + i] = rgb[3 * i + 1] / divisor + offset;
            chw[2 * plane + i] = rgb[3 * i + 2] / divisor + offset;
        }
        return tensor(chw, new long[] { 3, height, width });
    }

    /// <summary>A [3, H, W] tensor in <paramref name="range"/> to row-major RGB bytes [H, W, 3] (clamped, rounded).</summary>
    public static byte[] ToRgbBytes(Tensor image, PixelRange range = PixelRange.MinusOneToOne)
    {
        Check.Shape(image, nameof(image), 3, -1, -1);
        using var scope = NewDisposeScope();
        var t = image.detach().to_type(ScalarType.Float32).cpu();
        t = range == PixelRange.MinusOneToOne ? t.add(1f).mul_(127.5f) : t.mul(255f);
        return t.round_().clamp_(0, 255).to_type(ScalarType.Byte).permute(1, 2, 0).contiguous().data<byte>().ToArray();
    }
}
