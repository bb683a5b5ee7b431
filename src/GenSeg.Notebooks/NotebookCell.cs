using System.Text.Json.Nodes;

namespace GenSeg.Notebooks;

/// <summary>A notebook cell: code, markdown or raw, with its metadata and (for code) its outputs.</summary>
public sealed class NotebookCell
{
    /// <summary><c>code</c>, <c>markdown</c> or <c>raw</c>.</summary>
    public string CellType { get; set; }

    /// <summary>The cell id (nbformat 4.5: letters, digits, '-' and '_', at most 64).</summary>
    public string Id { get; set; }

    /// <summary>The cell's text, lines joined with '\n'.</summary>
    public string Source { get; set; }

    /// <summary>Cell metadata, unknown keys kept as read.</summary>
    public JsonObject Metadata { get; }

    /// <summary>Outputs of a code cell, in order.</summary>
    public List<CellOutput> Outputs { get; } = new();

    /// <summary>The prompt number of a code cell; null when it has not run.</summary>
    public int? ExecutionCount { get; set; }

    /// <summary>Cell keys this model does not interpret (such as <c>attachments</c>), kept as read.</summary>
    public JsonObject Extra { get; }

    /// <summary>Creates a cell.</summary>
    public NotebookCell(string cellType, string source, JsonObject? metadata = null, string? id = null, JsonObject? extra = null)
    {
        CellType = cellType;
        Source = source;
        Metadata = metadata ?? new JsonObject();
        Id = id ?? NewId();
        Extra = extra ?? new JsonObject();
    }

    /// <summary>A C# code cell in the Polyglot format (<c>dotnet_interactive</c> and <c>polyglot_notebook</c> metadata).</summary>
    public static NotebookCell Code(string source, params string[] tags)
    {
        var cell = new NotebookCell("code", source, new JsonObject
        {
            ["dotnet_interactive"] = new JsonObject { ["language"] = "csharp" },
            ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" },
        });
        foreach (var tag in tags) cell.AddTag(tag);
        return cell;
    }

    /// <summary>A markdown cell.</summary>
    public static NotebookCell Markdown(string source) => new("markdown", source);

    /// <summary>True for code cells.</summary>
    public bool IsCode => CellType == "code";

    /// <summary>The cell's tags (<c>metadata.tags</c>).</summary>
    public IReadOnlyList<string> Tags =>
        Metadata["tags"] is JsonArray tags ? tags.Select(t => t?.GetValue<string>() ?? "").ToArray() : [];

    /// <summary>True when <c>metadata.tags</c> holds <paramref name="tag"/>.</summary>
    public bool HasTag(string tag) => Tags.Contains(tag);

    /// <summary>Adds a tag to <c>metadata.tags</c> unless present.</summary>
    public void AddTag(string tag)
    {
        if (HasTag(tag)) return;
        if (Metadata["tags"] is not JsonArray tags) Metadata["tags"] = tags = new JsonArray();
        tags.Add(tag);
    }

    /// <summary>The kernel a Polyglot cell is written for: <c>polyglot_notebook.kernelName</c>, else
    /// <c>dotnet_interactive.language</c>, else null (the notebook's default kernel).</summary>
    public string? KernelName =>
        (Metadata["polyglot_notebook"] as JsonObject)?["kernelName"]?.GetValue<string>()
        ?? (Metadata["dotnet_interactive"] as JsonObject)?["language"]?.GetValue<string>();

    /// <summary>A deep copy.</summary>
    public NotebookCell Clone()
    {
        var copy = new NotebookCell(CellType, Source, (JsonObject)Metadata.DeepClone(), Id, (JsonObject)Extra.DeepClone())
        {
            ExecutionCount = ExecutionCount,
        };
        copy.Outputs.AddRange(Outputs);
        return copy;
    }

    /// <summary>A fresh random cell id, as nbformat makes them.</summary>
    public static string NewId() => Guid.NewGuid().ToString("N")[..8];
}
