using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GenSeg.Common;

namespace GenSeg.Notebooks;

/// <summary>A Jupyter notebook (nbformat 4), read and written like Jupyter does: cell sources as lists of lines, keys
/// sorted, one-space indentation, unknown metadata kept. Writing always produces nbformat 4.5 (every cell has an id).</summary>
public sealed partial class Notebook
{
    /// <summary>Notebook-level metadata (kernelspec, language_info, polyglot_notebook, papermill...).</summary>
    public JsonObject Metadata { get; }

    /// <summary>The cells, in order.</summary>
    public List<NotebookCell> Cells { get; } = new();

    /// <summary>Major format version; always 4.</summary>
    public int NbFormat => 4;

    /// <summary>Minor format version as read; written as at least 5.</summary>
    public int NbFormatMinor { get; private set; } = 5;

    /// <summary>Creates an empty notebook with the given metadata.</summary>
    public Notebook(JsonObject? metadata = null) => Metadata = metadata ?? new JsonObject();

    /// <summary>An empty C# Polyglot notebook, with the metadata .NET Interactive writes.</summary>
    public static Notebook NewPolyglot() => new(new JsonObject
    {
        ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
        ["language_info"] = new JsonObject { ["name"] = "polyglot-notebook" },
        ["polyglot_notebook"] = new JsonObject
        {
            ["kernelInfo"] = new JsonObject
            {
                ["defaultKernelName"] = "csharp",
                ["items"] = new JsonArray(new JsonObject { ["aliases"] = new JsonArray(), ["name"] = "csharp" }),
            },
        },
    });

    /// <summary>The kernel that runs cells without their own kernel name: <c>polyglot_notebook.kernelInfo.defaultKernelName</c>,
    /// else <c>csharp</c>.</summary>
    public string DefaultKernelName =>
        ((Metadata["polyglot_notebook"] as JsonObject)?["kernelInfo"] as JsonObject)?["defaultKernelName"]?.GetValue<string>() ?? "csharp";

    /// <summary>Reads a notebook file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an nbformat 4 notebook (the message names the file).</exception>
    public static Notebook Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"notebook {path} does not exist", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses notebook JSON; <paramref name="origin"/> names the source in error messages.</summary>
    public static Notebook Parse(string json, string origin = "notebook")
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{origin}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{origin}: not valid JSON ({e.Message})", e);
        }
        var major = root["nbformat"]?.GetValue<int>();
        if (major != 4) throw new InvalidDataException($"{origin}: nbformat {major?.ToString() ?? "missing"}; expected an nbformat 4 notebook");
        if (root["cells"] is not JsonArray cells) throw new InvalidDataException($"{origin}: no \"cells\" array");

        var nb = new Notebook((root["metadata"] as JsonObject)?.DeepClone() as JsonObject)
        {
            NbFormatMinor = root["nbformat_minor"]?.GetValue<int>() ?? 0,
        };
        var ids = new HashSet<string>();
        for (var i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not JsonObject c) throw new InvalidDataException($"{origin}: cell {i} is not an object");
            var cell = ReadCell(c, i, origin);
            while (!ids.Add(cell.Id)) cell.Id = NotebookCell.NewId();
            nb.Cells.Add(cell);
        }
        return nb;
    }

    static readonly HashSet<string> CellKeys = ["cell_type", "id", "metadata", "source", "outputs", "execution_count"];

    static NotebookCell ReadCell(JsonObject c, int index, string origin)
    {
        var type = c["cell_type"]?.GetValue<string>() ?? throw new InvalidDataException($"{origin}: cell {index} has no cell_type");
        var id = c["id"]?.GetValue<string>();
        if (id is not null && !CellIdPattern().IsMatch(id)) id = null;
        var extra = new JsonObject();
        foreach (var (key, value) in c)
            if (!CellKeys.Contains(key)) extra[key] = value?.DeepClone();
        var cell = new NotebookCell(type, ReadMultiline(c["source"]), (c["metadata"] as JsonObject)?.DeepClone() as JsonObject, id, extra)
        {
            ExecutionCount = c["execution_count"]?.GetValue<int?>(),
        };
        if (c["outputs"] is JsonArray outputs)
            foreach (var o in outputs.OfType<JsonObject>()) cell.Outputs.Add(ReadOutput(o));
        return cell;
    }

    static CellOutput ReadOutput(JsonObject o) => o["output_type"]?.GetValue<string>() switch
    {
        "stream" => new StreamOutput(o["name"]?.GetValue<string>() ?? "stdout", ReadMultiline(o["text"])),
        "display_data" => new DisplayDataOutput(ReadBundle(o["data"])),
        "execute_result" => new ExecuteResultOutput(ReadBundle(o["data"]), o["execution_count"]?.GetValue<int?>()),
        "error" => new ErrorOutput(o["ename"]?.GetValue<string>() ?? "", o["evalue"]?.GetValue<string>() ?? "",
            (o["traceback"] as JsonArray)?.Select(t => t?.GetValue<string>() ?? "").ToArray() ?? []),
        _ => new UnknownOutput((JsonObject)o.DeepClone()),
    };

    static Dictionary<string, string> ReadBundle(JsonNode? data)
    {
        var bundle = new Dictionary<string, string>();
        if (data is JsonObject obj)
            foreach (var (mime, value) in obj)
                bundle[mime] = IsJsonMime(mime) && value is not JsonValue ? value?.ToJsonString() ?? "null" : ReadMultiline(value);
        return bundle;
    }

    static string ReadMultiline(JsonNode? node) => node switch
    {
        null => "",
        JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>() ?? "")),
        _ => node.GetValue<string>(),
    };

    /// <summary>The notebook as nbformat 4.5 JSON, formatted like Jupyter writes it.</summary>
    public string ToJson()
    {
        var ids = new HashSet<string>();
        foreach (var cell in Cells)
            while (!CellIdPattern().IsMatch(cell.Id) || !ids.Add(cell.Id)) cell.Id = NotebookCell.NewId();

        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions
               {
                   Indented = true,
                   IndentSize = 1,
                   Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
               }))
        {
            w.WriteStartObject();
            w.WriteStartArray("cells");
            foreach (var cell in Cells) WriteCell(w, cell);
            w.WriteEndArray();
            w.WritePropertyName("metadata");
            WriteSorted(w, Metadata);
            w.WriteNumber("nbformat", 4);
            w.WriteNumber("nbformat_minor", Math.Max(5, NbFormatMinor));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>Writes the notebook atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>A deep copy.</summary>
    public Notebook Clone()
    {
        var copy = new Notebook((JsonObject)Metadata.DeepClone()) { NbFormatMinor = NbFormatMinor };
        copy.Cells.AddRange(Cells.Select(c => c.Clone()));
        return copy;
    }

    static void WriteCell(Utf8JsonWriter w, NotebookCell cell)
    {
        // Keys in sorted order, as nbformat writes them; keys we do not interpret are merged in that order too.
        var props = new SortedDictionary<string, Action>(StringComparer.Ordinal);
        foreach (var (key, value) in cell.Extra) props[key] = () => WriteSorted(w, value);
        props["cell_type"] = () => w.WriteStringValue(cell.CellType);
        props["id"] = () => w.WriteStringValue(cell.Id);
        props["metadata"] = () => WriteSorted(w, cell.Metadata);
        props["source"] = () => WriteLines(w, cell.Source);
        if (cell.IsCode)
        {
            props["execution_count"] = () =>
            {
                if (cell.ExecutionCount is { } n) w.WriteNumberValue(n); else w.WriteNullValue();
            };
            props["outputs"] = () =>
            {
                w.WriteStartArray();
                foreach (var o in cell.Outputs) WriteOutput(w, o);
                w.WriteEndArray();
            };
        }
        w.WriteStartObject();
        foreach (var (key, write) in props)
        {
            w.WritePropertyName(key);
            write();
        }
        w.WriteEndObject();
    }

    static void WriteOutput(Utf8JsonWriter w, CellOutput output)
    {
        if (output is UnknownOutput unknown)
        {
            WriteSorted(w, unknown.Json);
            return;
        }
        w.WriteStartObject();
        switch (output)
        {
            case StreamOutput s:
                w.WriteString("name", s.Name);
                w.WriteString("output_type", "stream");
                w.WritePropertyName("text");
                WriteLines(w, s.Text);
                break;
            case DisplayDataOutput d:
                WriteBundle(w, d.Data);
                w.WritePropertyName("metadata");
                w.WriteStartObject();
                w.WriteEndObject();
                w.WriteString("output_type", "display_data");
                break;
            case ExecuteResultOutput r:
                WriteBundle(w, r.Data);
                if (r.ExecutionCount is { } n) w.WriteNumber("execution_count", n); else w.WriteNull("execution_count");
                w.WritePropertyName("metadata");
                w.WriteStartObject();
                w.WriteEndObject();
                w.WriteString("output_type", "execute_result");
                break;
            case ErrorOutput e:
                w.WriteString("ename", e.Name);
                w.WriteString("evalue", e.Value);
                w.WriteString("output_type", "error");
                w.WriteStartArray("traceback");
                foreach (var line in e.Traceback) w.WriteStringValue(line);
                w.WriteEndArray();
                break;
            default:
                throw new InvalidOperationException($"unexpected output {output.GetType().Name}");
        }
        w.WriteEndObject();
    }

    static void WriteBundle(Utf8JsonWriter w, IReadOnlyDictionary<string, string> data)
    {
        w.WritePropertyName("data");
        w.WriteStartObject();
        foreach (var (mime, value) in data.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.WritePropertyName(mime);
            if (IsJsonMime(mime) && TryParseJson(value) is { } json) json.WriteTo(w);
            else if (mime.StartsWith("text/", StringComparison.Ordinal) || mime.EndsWith("+xml", StringComparison.Ordinal)) WriteLines(w, value);
            else w.WriteStringValue(value);
        }
        w.WriteEndObject();
    }

    static JsonNode? TryParseJson(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (JsonException) { return null; }
    }

    /// <summary>Jupyter's multiline string: a list of lines, each but the last ending in '\n'.</summary>
    static void WriteLines(Utf8JsonWriter w, string text)
    {
        w.WriteStartArray();
        foreach (var line in SplitLines(text)) w.WriteStringValue(line);
        w.WriteEndArray();
    }

    internal static IEnumerable<string> SplitLines(string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\n') continue;
            yield return text[start..(i + 1)];
            start = i + 1;
        }
        if (start < text.Length) yield return text[start..];
    }

    static void WriteSorted(Utf8JsonWriter w, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                w.WriteStartObject();
                foreach (var (key, value) in obj.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    w.WritePropertyName(key);
                    WriteSorted(w, value);
                }
                w.WriteEndObject();
                break;
            case JsonArray arr:
                w.WriteStartArray();
                foreach (var item in arr) WriteSorted(w, item);
                w.WriteEndArray();
                break;
            case null:
                w.WriteNullValue();
                break;
            default:
                node.WriteTo(w);
                break;
        }
    }

    static bool IsJsonMime(string mime) => JsonMimePattern().IsMatch(mime);

    [GeneratedRegex(@"^application/(.*\+)?json$")]
    private static partial Regex JsonMimePattern();

    [GeneratedRegex("^[a-zA-Z0-9-_]{1,64}$")]
    private static partial Regex CellIdPattern();
}
