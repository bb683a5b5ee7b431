using System.Text;
using System.Text.Json;
using GenSeg.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Checkpoints;

/// <summary>One tensor's entry in a safetensors header: dtype name, shape and byte range within the data section.</summary>
public sealed record SafeTensorEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of bytes the entry occupies.</summary>
    public long ByteCount => End - Begin;
}

/// <summary>
/// Reader for the safetensors format (an 8-byte little-endian header length, a JSON header, then raw little-endian data).
/// The header is validated completely when the file is opened: every malformed file gets an
/// <see cref="InvalidDataException"/> naming the file and, where it applies, the key; nothing is allocated from a size the
/// file claims before that size has been checked against the file's real length.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are rejected (the format's own reference limit is 100 MB).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    static readonly Dictionary<string, (ScalarType Type, int Size)> DTypes = new()
    {
        ["F64"] = (ScalarType.Float64, 8),
        ["F32"] = (ScalarType.Float32, 4),
        ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2),
        ["I64"] = (ScalarType.Int64, 8),
        ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2),
        ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    readonly FileStream stream;
    readonly long dataStart;

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Entries by name, in header order.</summary>
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }

    /// <summary>The optional <c>__metadata__</c> string map.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafeTensorsFile(string path, FileStream stream, long dataStart, Dictionary<string, SafeTensorEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        this.stream = stream;
        this.dataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
    }

    /// <summary>Opens and validates a safetensors file.</summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: safetensors file not found", path);
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            var (entries, metadata, dataStart) = ParseHeader(fs, path);
            return new SafeTensorsFile(path, fs, dataStart, entries, metadata);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    static (Dictionary<string, SafeTensorEntry>, Dictionary<string, string>, long) ParseHeader(FileStream fs, string path)
    {
        long fileLength = fs.Length;
        if (fileLength < 8) throw new InvalidDataException($"{path}: {fileLength} bytes is too short for a safetensors file (8-byte header length expected)");
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong headerLength = BitConverter.ToUInt64(lenBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw new InvalidDataException($"{path}: header length {headerLength} runs past the end of the file ({fileLength} bytes)");
        if ((long)headerLength > MaxHeaderBytes)
            throw new InvalidDataException($"{path}: header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        var header = new byte[headerLength];
        fs.ReadExactly(header);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        if (System.Text.Unicode.Utf8.IsValid(header) == false)
            throw new InvalidDataException($"{path}: header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: header is not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: header must be a JSON object, got {doc.RootElement.ValueKind}");
            var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new InvalidDataException($"{path}: __metadata__ must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new InvalidDataException($"{path}: __metadata__ key '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                if (entries.ContainsKey(prop.Name)) throw new InvalidDataException($"{path}: key '{prop.Name}' appears twice");
                entries[prop.Name] = ParseEntry(prop, path, dataLength);
            }
            // Ranges may not overlap.
            var sorted = entries.Values.Where(e => e.ByteCount > 0).OrderBy(e => e.Begin).ToList();
            for (int i = 1; i < sorted.Count; i++)
                if (sorted[i].Begin < sorted[i - 1].End)
                    throw new InvalidDataException($"{path}: data of '{sorted[i].Name}' [{sorted[i].Begin}, {sorted[i].End}) overlaps '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End})");
            return (entries, metadata, dataStart);
        }
    }

    static SafeTensorEntry ParseEntry(JsonProperty prop, string path, long dataLength)
    {
        string key = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: entry '{key}' is not an object");
        if (!v.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{path}: entry '{key}' has no dtype string");
        string dtype = dtypeEl.GetString()!;
        if (!DTypes.TryGetValue(dtype, out var dt))
            throw new InvalidDataException($"{path}: entry '{key}' has unknown dtype '{dtype}' (expected one of {string.Join(", ", DTypes.Keys)})");
        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: entry '{key}' has no shape array");
        var shape = new List<long>();
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long n) || n < 0)
                throw new InvalidDataException($"{path}: entry '{key}' has an invalid dimension {d} in its shape");
            shape.Add(n);
        }
        if (!v.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new InvalidDataException($"{path}: entry '{key}' needs data_offsets [begin, end]");
        if (!offEl[0].TryGetInt64(out long begin) || !offEl[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new InvalidDataException($"{path}: entry '{key}' has invalid data_offsets {offEl}");
        if (end > dataLength)
            throw new InvalidDataException($"{path}: entry '{key}' data_offsets [{begin}, {end}) lie outside the data section ({dataLength} bytes)");
        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, b) => a * b) * dt.Size);
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{path}: entry '{key}' shape {Check.Format(shape)} is too large");
        }
        if (expected != end - begin)
            throw new InvalidDataException($"{path}: entry '{key}' shape {Check.Format(shape)} of {dtype} needs {expected} bytes but data_offsets give {end - begin}");
        return new SafeTensorEntry(key, dtype, shape.ToArray(), begin, end);
    }

    /// <summary>
    /// Reads one tensor (on the CPU). Floating-point entries are converted to <paramref name="floatType"/> when given
    /// (e.g. F16/BF16 weights to Float32); other types are returned as stored.
    /// </summary>
    public Tensor Read(string name, ScalarType? floatType = null)
    {
        if (!Entries.TryGetValue(name, out var e))
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
        var (type, _) = DTypes[e.DType];
        var t = torch.empty(e.Shape, dtype: type);
        if (e.ByteCount > 0)
        {
            if (e.ByteCount > int.MaxValue)
                throw new InvalidDataException($"{Path}: entry '{name}' ({e.ByteCount} bytes) is larger than one read supports");
            lock (stream)
            {
                stream.Seek(dataStart + e.Begin, SeekOrigin.Begin);
                stream.ReadExactly(t.bytes);
            }
        }
        if (floatType is { } ft && t.is_floating_point() && t.dtype != ft)
        {
            var converted = t.to_type(ft);
            t.Dispose();
            return converted;
        }
        return t;
    }

    /// <summary>Reads every tensor; see <see cref="Read"/> for <paramref name="floatType"/>.</summary>
    public Dictionary<string, Tensor> ReadAll(ScalarType? floatType = null)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in Entries.Keys) result[name] = Read(name, floatType);
        return result;
    }

    /// <inheritdoc />
    public void Dispose() => stream.Dispose();
}

/// <summary>Whole-file safetensors load and save.</summary>
public static class SafeTensors
{
    /// <summary>Loads every tensor of a file; floating-point tensors are converted to <paramref name="floatType"/> (default Float32).</summary>
    public static Dictionary<string, Tensor> Load(string path, ScalarType? floatType = ScalarType.Float32)
    {
        using var f = SafeTensorsFile.Open(path);
        return f.ReadAll(floatType);
    }

    static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"dtype {t} cannot be stored in safetensors"),
    };

    /// <summary>
    /// Saves tensors (keys sorted, as the reference writer does) with optional metadata, atomically.
    /// <paramref name="storeAs"/> converts floating-point tensors (e.g. to Float16 for smaller files).
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null, ScalarType? storeAs = null)
    {
        using var scope = torch.NewDisposeScope();
        var items = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv =>
            {
                var t = kv.Value.detach().cpu();
                if (storeAs is { } s && t.is_floating_point()) t = t.to_type(s);
                return (kv.Key, Tensor: t.contiguous());
            }).ToList();
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (key, t) in items)
        {
            long n = t.NumberOfElements * t.ElementSize;
            header[key] = new Dictionary<string, object>
            {
                ["dtype"] = DTypeName(t.dtype),
                ["shape"] = t.shape,
                ["data_offsets"] = new[] { offset, offset + n },
            };
            offset += n;
        }
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        int pad = (8 - json.Length % 8) % 8;
        var headerBytes = new byte[json.Length + pad];
        json.CopyTo(headerBytes, 0);
        for (int i = json.Length; i < headerBytes.Length; i++) headerBytes[i] = (byte)' ';
        AtomicFile.Write(path, s =>
        {
            s.Write(BitConverter.GetBytes((ulong)headerBytes.Length));
            s.Write(headerBytes);
            foreach (var (_, t) in items)
                if (t.NumberOfElements > 0) s.Write(t.bytes);
        });
    }
}
