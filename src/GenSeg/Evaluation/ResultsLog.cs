using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GenSeg.Evaluation;

/// <summary>
/// Which images of a dataset one run takes: every <see cref="Count"/>-th image from position <see cref="Index"/>
/// (<c>--shard I/N</c>), so N runs on N machines cover the dataset once between them.
/// </summary>
/// <param name="Index">This shard, 0..Count-1.</param>
/// <param name="Count">Number of shards.</param>
public sealed record Shard(int Index, int Count)
{
    /// <summary>The whole dataset.</summary>
    public static Shard All { get; } = new(0, 1);

    /// <summary>Parses <c>I/N</c> with 0 &lt;= I &lt; N.</summary>
    public static Shard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || !int.TryParse(parts[1], out int n) || n < 1 || i < 0 || i >= n)
            throw new ArgumentException($"shard '{text}': expected I/N with 0 <= I < N (e.g. 0/4 for the first of four)", nameof(text));
        return new Shard(i, n);
    }

    /// <summary>Whether the image at dataset position <paramref name="position"/> belongs to this shard.</summary>
    public bool Includes(int position) => position % Count == Index;

    /// <inheritdoc />
    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>
/// A JSONL file of per-image records (<c>--results FILE.jsonl</c>): one JSON object per line, each line appended with
/// one write and flushed to disk before the next image starts, so a crash loses at most the image in flight. Reading
/// drops a torn last line (no newline, or not JSON: the write the crash cut) and fails on a damaged line before it,
/// naming the file and the line. <see cref="Open"/> with resume cuts a torn tail off and continues the file; without
/// resume an existing non-empty file is an error, so no result is overwritten.
/// </summary>
public sealed class ResultsLog : IDisposable
{
    readonly FileStream stream;

    ResultsLog(string path, FileStream stream, IReadOnlyList<JsonObject> existing)
    {
        Path = path;
        this.stream = stream;
        Existing = existing;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The complete records the file held when opened (resume).</summary>
    public IReadOnlyList<JsonObject> Existing { get; }

    /// <summary>Opens <paramref name="path"/> for appending; see the class summary for resume.</summary>
    public static ResultsLog Open(string path, bool resume)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        IReadOnlyList<JsonObject> existing = Array.Empty<JsonObject>();
        long keep = 0;
        if (File.Exists(full) && new FileInfo(full).Length > 0)
        {
            if (!resume) throw new ArgumentException($"results file '{path}' already holds records: pass --resume to continue it, or choose another file");
            (existing, keep) = ReadComplete(full);
        }
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        var stream = new FileStream(full, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        stream.SetLength(keep); // drops a torn tail
        stream.Seek(keep, SeekOrigin.Begin);
        return new ResultsLog(path, stream, existing);
    }

    /// <summary>Appends one record as one line, flushed to disk.</summary>
    public void Append(JsonObject record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var line = Encoding.UTF8.GetBytes(record.ToJsonString(LineOptions) + "\n");
        stream.Write(line);
        stream.Flush(flushToDisk: true);
    }

    static readonly JsonSerializerOptions LineOptions = new() { WriteIndented = false };

    /// <summary>The complete records of a JSONL file (a torn last line is dropped).</summary>
    public static IReadOnlyList<JsonObject> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"results file '{path}': not found", path);
        return ReadComplete(path).Records;
    }

    /// <summary>The complete records and the byte length they span.</summary>
    static (IReadOnlyList<JsonObject> Records, long Length) ReadComplete(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var records = new List<JsonObject>();
        int start = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? Encoding.UTF8.Preamble.Length : 0, line = 0; // an editor's byte-order mark
        long length = start;
        while (start < bytes.Length)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', start);
            line++;
            bool last = end < 0 || end == bytes.Length - 1;
            if (end < 0) break; // torn: the crash cut the line before its newline
            var text = Encoding.UTF8.GetString(bytes, start, end - start);
            JsonObject? record = null;
            try { record = JsonNode.Parse(text) as JsonObject; }
            catch (JsonException) { }
            if (record is null)
            {
                if (last) break; // a torn final line
                throw new InvalidDataException($"results file '{path}', line {line}: not a JSON object; the file is damaged before its last line");
            }
            records.Add(record);
            start = end + 1;
            length = start;
        }
        return (records, length);
    }

    /// <inheritdoc />
    public void Dispose() => stream.Dispose();
}
