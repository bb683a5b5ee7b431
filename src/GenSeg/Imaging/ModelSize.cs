namespace GenSeg.Imaging;

/// <summary>
/// The size an image is processed at, as the papers resize: the short side to the model's resolution, the long side
/// scaled to keep the aspect, both rounded to multiples of 8 (the VAE's factor). Results are resized back to the
/// original size and scored there.
/// </summary>
public static class ModelSize
{
    /// <summary>The model-side size (width, height) of a <paramref name="width"/> x <paramref name="height"/> image.</summary>
    public static (int Width, int Height) Fit(int width, int height, int resolution, int multiple = 8)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), $"image size: expected a positive width and height, got {width}x{height}");
        if (resolution < multiple || multiple < 1)
            throw new ArgumentOutOfRangeException(nameof(resolution), resolution, $"resolution: expected at least {multiple} pixels");
        double scale = (double)resolution / Math.Min(width, height);
        return (Round(width * scale, multiple), Round(height * scale, multiple));
    }

    static int Round(double side, int multiple) => Math.Max(multiple, (int)Math.Round(side / multiple, MidpointRounding.AwayFromZero) * multiple);
}
