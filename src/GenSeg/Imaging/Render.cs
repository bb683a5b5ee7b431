namespace GenSeg.Imaging;

/// <summary>
/// An RGB picture in memory (row-major bytes [H, W, 3]) for contact sheets and overlays: paste tiles, tint masks, draw
/// outlines, save as PNG. Pixel work on bytes; nothing here is used by the methods themselves.
/// </summary>
public sealed class Canvas
{
    /// <summary>Creates a canvas filled with <paramref name="background"/>.</summary>
    public Canvas(int width, int height, Rgb background)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"canvas: expected a positive size, got {width}x{height}");
        Width = width;
        Height = height;
        Pixels = new byte[width * height * 3];
        for (int i = 0; i < Pixels.Length; i += 3) { Pixels[i] = background.R; Pixels[i + 1] = background.G; Pixels[i + 2] = background.B; }
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Row-major RGB bytes [H, W, 3].</summary>
    public byte[] Pixels { get; }

    /// <summary>Pastes an RGB tile [h, w, 3] with its top-left corner at (x, y), enlarged <paramref name="scale"/> times (nearest).</summary>
    public void Paste(byte[] rgb, int width, int height, int x, int y, int scale = 1)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException($"tile: expected {width}x{height}x3 bytes, got {rgb.Length}", nameof(rgb));
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale: expected >= 1");
        for (int ty = 0; ty < height * scale; ty++)
        {
            int cy = y + ty;
            if (cy < 0 || cy >= Height) continue;
            for (int tx = 0; tx < width * scale; tx++)
            {
                int cx = x + tx;
                if (cx < 0 || cx >= Width) continue;
                int src = 3 * ((ty / scale) * width + tx / scale), dst = 3 * (cy * Width + cx);
                Pixels[dst] = rgb[src];
                Pixels[dst + 1] = rgb[src + 1];
                Pixels[dst + 2] = rgb[src + 2];
            }
        }
    }

    /// <summary>Saves the canvas as PNG or JPEG (by extension), atomically.</summary>
    public void Save(string path) => ImageIO.SaveRgb(Pixels, Width, Height, path);
}

/// <summary>Small byte-level drawing helpers for looking at masks.</summary>
public static class Render
{
    /// <summary>Colours a label map [H, W] with the VOC palette.</summary>
    public static byte[] Colorize(byte[] labels)
    {
        var rgb = new byte[labels.Length * 3];
        for (int i = 0; i < labels.Length; i++)
        {
            var c = MaskIO.VocPalette[labels[i]];
            rgb[3 * i] = c.R; rgb[3 * i + 1] = c.G; rgb[3 * i + 2] = c.B;
        }
        return rgb;
    }

    /// <summary>A dimmed greyscale copy of an RGB image (luma times <paramref name="brightness"/>), a quiet base for overlays.</summary>
    public static byte[] Grey(byte[] rgb, double brightness = 0.6)
    {
        var outRgb = new byte[rgb.Length];
        for (int i = 0; i < rgb.Length; i += 3)
        {
            byte g = (byte)Math.Clamp(Math.Round(brightness * (0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2])), 0, 255);
            outRgb[i] = outRgb[i + 1] = outRgb[i + 2] = g;
        }
        return outRgb;
    }

    /// <summary>Blends <paramref name="colour"/> into the image where a weight map [H, W] in [0, 1] is high: out = rgb + alpha * w * (colour - rgb).</summary>
    public static byte[] Tint(byte[] rgb, float[] weight, Rgb colour, double alpha = 0.5)
    {
        if (rgb.Length != weight.Length * 3) throw new ArgumentException($"weight: expected {rgb.Length / 3} values, got {weight.Length}", nameof(weight));
        var outRgb = (byte[])rgb.Clone();
        for (int i = 0; i < weight.Length; i++)
        {
            double t = alpha * Math.Clamp(weight[i], 0f, 1f);
            outRgb[3 * i] = (byte)Math.Round(rgb[3 * i] + t * (colour.R - rgb[3 * i]));
            outRgb[3 * i + 1] = (byte)Math.Round(rgb[3 * i + 1] + t * (colour.G - rgb[3 * i + 1]));
            outRgb[3 * i + 2] = (byte)Math.Round(rgb[3 * i + 2] + t * (colour.B - rgb[3 * i + 2]));
        }
        return outRgb;
    }

    /// <summary>Paints the inner boundary pixels of a binary mask [H, W] (on pixels with a 4-neighbour off or at the border).</summary>
    public static byte[] Outline(byte[] rgb, byte[] mask, int width, Rgb colour)
    {
        if (rgb.Length != mask.Length * 3) throw new ArgumentException($"mask: expected {rgb.Length / 3} values, got {mask.Length}", nameof(mask));
        int height = mask.Length / width;
        var outRgb = (byte[])rgb.Clone();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                if (mask[i] == 0) continue;
                bool edge = x == 0 || y == 0 || x == width - 1 || y == height - 1
                            || mask[i - 1] == 0 || mask[i + 1] == 0 || mask[i - width] == 0 || mask[i + width] == 0;
                if (!edge) continue;
                outRgb[3 * i] = colour.R; outRgb[3 * i + 1] = colour.G; outRgb[3 * i + 2] = colour.B;
            }
        return outRgb;
    }
}
