using System.Buffers.Binary;
using System.Text.Json;

namespace GenSeg.Tests.Methods.DenseCrf;

/// <summary>Locates /shared/parity and reads its io.safetensors files for the DenseCRF tests.</summary>
internal static class ParityFiles
{
    /// <summary>GENSEG_PARITY_DIR if set, else ../shared/parity beside the repository root (the folder with Research.sln); null when absent.</summary>
    public static string? Directory()
    {
        var env = Environment.GetEnvironmentVariable("GENSEG_PARITY_DIR");
        if (!string.IsNullOrEmpty(env)) return System.IO.Directory.Exists(env) ? env : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Research.sln")))
            {
                var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "parity"));
                return System.IO.Directory.Exists(candidate) ? candidate : null;
            }
        }
        return null;
    }

    // TODO(lead): replace with SafeTensors reader once merged
    /// <summary>
    /// Minimal safetensors reader for tests: 8-byte little-endian header length, a JSON header
    /// {name: {dtype, shape, data_offsets}}, then the data. F32 and I32 only.
    /// </summary>
    public sealed class SafeTensorsFile
    {
        readonly byte[] _bytes;
        readonly long _dataStart;
        readonly Dictionary<string, (string DType, long[] Shape, long Begin, long End)> _entries = new();

        public SafeTensorsFile(string path)
        {
            _bytes = File.ReadAllBytes(path);
            if (_bytes.Length < 8) throw new InvalidDataException($"{path}: too short for a safetensors file");
            long headerLength = BinaryPrimitives.ReadInt64LittleEndian(_bytes);
            if (headerLength <= 0 || 8 + headerLength > _bytes.Length)
                throw new InvalidDataException($"{path}: header length {headerLength} does not fit the file ({_bytes.Length} bytes)");
            _dataStart = 8 + headerLength;
            using var doc = JsonDocument.Parse(_bytes.AsMemory(8, (int)headerLength));
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__") continue;
                var e = prop.Value;
                var shape = e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                var offsets = e.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                _entries[prop.Name] = (e.GetProperty("dtype").GetString()!, shape, offsets[0], offsets[1]);
            }
        }

        public long[] Shape(string name) => Entry(name).Shape;

        public float[] Floats(string name) => Read(name, "F32", (s, i) => BinaryPrimitives.ReadSingleLittleEndian(s.Slice(4 * i)));

        public int[] Ints(string name) => Read(name, "I32", (s, i) => BinaryPrimitives.ReadInt32LittleEndian(s.Slice(4 * i)));

        (string DType, long[] Shape, long Begin, long End) Entry(string name) =>
            _entries.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"safetensors: no tensor '{name}'");

        delegate T Reader<T>(ReadOnlySpan<byte> span, int index);

        T[] Read<T>(string name, string dtype, Reader<T> read)
        {
            var e = Entry(name);
            if (e.DType != dtype) throw new InvalidDataException($"safetensors: '{name}' is {e.DType}, expected {dtype}");
            long count = e.Shape.Aggregate(1L, (a, b) => a * b);
            if (e.End - e.Begin != 4 * count) throw new InvalidDataException($"safetensors: '{name}' has {e.End - e.Begin} bytes for {count} values");
            var span = _bytes.AsSpan((int)(_dataStart + e.Begin), (int)(e.End - e.Begin));
            var result = new T[count];
            for (int i = 0; i < count; i++) result[i] = read(span, i);
            return result;
        }
    }
}
