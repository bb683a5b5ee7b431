using System.Buffers.Binary;
using System.IO.Compression;
using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Imaging;

/// <summary>How an index mask is stored in a PNG.</summary>
public enum MaskEncoding
{
    /// <summary>An 8-bit palette PNG with the PASCAL VOC colours (index 255, "ignore", is cream).</summary>
    Palette,

    /// <summary>An 8-bit greyscale PNG whose grey level is the index.</summary>
    Gray,
}

/// <summary>
/// Index masks (label maps) to and from PNG files. Label maps are int64 tensors [H, W] with values 0..255, where 0 is
/// background and 255 means "ignore" (VOC convention). Probability maps are stored as 8-bit greyscale (p * 255).
/// </summary>
public static class MaskIO
{
    /// <summary>The label that metrics ignore.</summary>
    public const int Ignore = 255;

    static readonly Rgb[] Voc = BuildVocPalette();

    /// <summary>The PASCAL VOC colour map: 256 colours, index 0 black, 1 dark red, ..., 255 cream.</summary>
    public static IReadOnlyList<Rgb> VocPalette => Voc;

    static Rgb[] BuildVocPalette()
    {
        var map = new Rgb[256];
        for (int i = 0; i < 256; i++)
        {
            int r = 0, g = 0, b = 0, c = i;
            for (int j = 0; j < 8; j++)
            {
                r |= ((c >> 0) & 1) << (7 - j);
                g |= ((c >> 1) & 1) << (7 - j);
                b |= ((c >> 2) & 1) << (7 - j);
                c >>= 3;
            }
            map[i] = new Rgb((byte)r, (byte)g, (byte)b);
        }
        return map;
    }

    /// <summary>Saves a label map [H, W] (integer or bool; values 0..255) as a PNG, atomically.</summary>
    public static void Save(Tensor labels, string path, MaskEncoding encoding = MaskEncoding.Palette)
    {
        var (bytes, height, width) = LabelBytes(labels);
        SaveBytes(bytes, width, height, path, encoding);
    }

    /// <summary>Saves row-major label bytes [H, W] as a PNG, atomically.</summary>
    public static void SaveBytes(byte[] labels, int width, int height, string path, MaskEncoding encoding = MaskEncoding.Palette) =>
        AtomicFile.WriteAllBytes(path, EncodePng(labels, width, height, encoding));

    /// <summary>Saves a probability map [H, W] in [0, 1] as an 8-bit greyscale PNG (round(p * 255)), atomically.</summary>
    public static void SaveProbability(Tensor probability, string path)
    {
        Check.Rank(probability, nameof(probability), 2, "[H, W]");
        using var scope = NewDisposeScope();
        var bytes = probability.detach().cpu().to_type(ScalarType.Float32).clamp(0, 1).mul(255f).round_()
            .to_type(ScalarType.Byte).contiguous().data<byte>().ToArray();
        SaveBytes(bytes, (int)probability.shape[1], (int)probability.shape[0], path, MaskEncoding.Gray);
    }

    /// <summary>Loads a probability map saved by <see cref="SaveProbability"/>: float32 [H, W] = grey / 255.</summary>
    public static Tensor LoadProbability(string path)
    {
        var (bytes, width, height) = LoadBytes(path);
        using var scope = NewDisposeScope();
        return tensor(bytes, new long[] { height, width }, ScalarType.Byte).to_type(ScalarType.Float32).div_(255f).MoveToOuterDisposeScope();
    }

    /// <summary>Loads a label map as an int64 tensor [H, W]. See <see cref="LoadBytes"/> for the accepted files.</summary>
    public static Tensor Load(string path)
    {
        var (bytes, width, height) = LoadBytes(path);
        using var scope = NewDisposeScope();
        return tensor(bytes, new long[] { height, width }, ScalarType.Byte).to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads a label map as row-major bytes. A palette PNG gives its indices; an 8-bit (or lower) greyscale PNG gives its
    /// grey levels; an RGB image is read through the VOC colour map, and a colour outside it is an error naming the file.
    /// </summary>
    public static (byte[] Labels, int Width, int Height) LoadBytes(string path)
    {
        var rgba = ImageIO.LoadRgba(path, out int width, out int height);
        var header = ReadPngHeader(path);
        var labels = new byte[width * height];
        if (header is { ColorType: 0 } gray)
        {
            if (gray.BitDepth > 8) throw new InvalidDataException($"mask file '{path}': 16-bit greyscale masks are not supported (expected 8-bit)");
            int shift = 8 - gray.BitDepth;
            for (int i = 0; i < labels.Length; i++) labels[i] = (byte)(rgba[4 * i] >> shift);
            return (labels, width, height);
        }
        var lookup = new Dictionary<int, byte>();
        var palette = header is { ColorType: 3, Palette: { } p } ? p : Voc;
        for (int i = palette.Length - 1; i >= 0; i--) lookup[Key(palette[i])] = (byte)i;
        for (int i = 0; i < labels.Length; i++)
        {
            var c = new Rgb(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]);
            if (!lookup.TryGetValue(Key(c), out var index))
                throw new InvalidDataException($"mask file '{path}': pixel ({i % width}, {i / width}) has colour ({c.R}, {c.G}, {c.B}), which is not in the {(header?.ColorType == 3 ? "file's" : "VOC")} palette");
            labels[i] = index;
        }
        return (labels, width, height);
    }

    /// <summary>Whether a file is a palette (indexed-colour) PNG, i.e. a label map rather than a greyscale probability.</summary>
    public static bool IsPalette(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"mask file '{path}': not found", path);
        return ReadPngHeader(path) is { ColorType: 3 };
    }

    static int Key(Rgb c) => (c.R << 16) | (c.G << 8) | c.B;

    static (byte[] Bytes, int Height, int Width) LabelBytes(Tensor labels)
    {
        Check.Rank(labels, nameof(labels), 2, "[H, W]");
        using var scope = NewDisposeScope();
        var t = labels.detach().cpu();
        if (t.is_floating_point())
            throw new ArgumentException($"labels: expected an integer or bool label map, got {t.dtype} (binarise or round a float mask first)", nameof(labels));
        var asLong = t.to_type(ScalarType.Int64);
        if (asLong.numel() > 0 && (asLong.min().item<long>() < 0 || asLong.max().item<long>() > 255))
            throw new ArgumentException($"labels: values must lie in 0..255, got {asLong.min().item<long>()}..{asLong.max().item<long>()}", nameof(labels));
        return (asLong.to_type(ScalarType.Byte).contiguous().data<byte>().ToArray(), (int)labels.shape[0], (int)labels.shape[1]);
    }

    sealed record PngHeader(int BitDepth, int ColorType, Rgb[]? Palette);

    static PngHeader? ReadPngHeader(string path)
    {
        using var fs = File.OpenRead(path);
        Span<byte> sig = stackalloc byte[8];
        if (fs.Read(sig) != 8 || !sig.SequenceEqual(PngSignature)) return null;
        int bitDepth = 0, colorType = -1;
        Rgb[]? palette = null;
        Span<byte> head = stackalloc byte[8];
        while (fs.Read(head) == 8)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(head);
            string type = System.Text.Encoding.ASCII.GetString(head[4..]);
            if (length < 0 || length > fs.Length) return null;
            var body = new byte[length];
            fs.ReadExactly(body);
            fs.Seek(4, SeekOrigin.Current); // CRC
            if (type == "IHDR" && length >= 13) { bitDepth = body[8]; colorType = body[9]; }
            else if (type == "PLTE") palette = Enumerable.Range(0, length / 3).Select(i => new Rgb(body[3 * i], body[3 * i + 1], body[3 * i + 2])).ToArray();
            else if (type == "IDAT" || type == "IEND") break;
        }
        return colorType < 0 ? null : new PngHeader(bitDepth, colorType, palette);
    }

    static readonly byte[] PngSignature = { 137, 80, 78, 71, 13, 10, 26, 10 };

    /// <summary>Encodes row-major label bytes as an 8-bit palette (VOC colours) or greyscale PNG.</summary>
    public static byte[] EncodePng(byte[] labels, int width, int height, MaskEncoding encoding = MaskEncoding.Palette)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (width <= 0 || height <= 0 || labels.Length != width * height)
            throw new ArgumentException($"labels: expected {width}x{height} = {width * height} bytes, got {labels.Length}", nameof(labels));
        using var png = new MemoryStream();
        png.Write(PngSignature);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = (byte)(encoding == MaskEncoding.Palette ? 3 : 0);
        WriteChunk(png, "IHDR", ihdr);
        if (encoding == MaskEncoding.Palette)
        {
            var plte = new byte[256 * 3];
            for (int i = 0; i < 256; i++) { plte[3 * i] = Voc[i].R; plte[3 * i + 1] = Voc[i].G; plte[3 * i + 2] = Voc[i].B; }
            WriteChunk(png, "PLTE", plte);
        }
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0); // filter: none
                z.Write(labels, y * width, width);
            }
        }
        WriteChunk(png, "IDAT", raw.ToArray());
        WriteChunk(png, "IEND", Array.Empty<byte>());
        return png.ToArray();
    }

    static void WriteChunk(Stream s, string type, byte[] body)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, body.Length);
        s.Write(len);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(body);
        uint crc = Crc32(typeBytes, 0xFFFFFFFFu);
        crc = Crc32(body, crc) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(len, crc);
        s.Write(len);
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    static uint Crc32(byte[] data, uint crc)
    {
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}
