using System.Text.Json.Nodes;
using GenSeg.Notebooks;
using NJsonSchema;

namespace GenSeg.Tests.Notebooks;

/// <summary>Runner tests redirect Console and run Roslyn; they run one at a time, apart from other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NotebookRunnerCollection
{
    public const string Name = "Notebook runner";
}

static class NotebookTestSupport
{
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Research.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException($"no Research.sln above {AppContext.BaseDirectory}");
    }

    static readonly Lazy<JsonSchema> Schema = new(LoadSchema);

    /// <summary>The official schema keeps shared pieces under <c>definitions/misc/...</c>, a nesting NJsonSchema cannot
    /// resolve references into; the same pieces are moved up to <c>definitions/misc_...</c> (references rewritten),
    /// which changes nothing the schema accepts.</summary>
    static JsonSchema LoadSchema()
    {
        var text = File.ReadAllText(Path.Combine(RepoRoot(), "tests", "GenSeg.Tests", "Assets", "nbformat.v4.5.schema.json"));
        var root = JsonNode.Parse(text.Replace("#/definitions/misc/", "#/definitions/misc_"))!.AsObject();
        var definitions = root["definitions"]!.AsObject();
        var misc = definitions["misc"]!.AsObject();
        definitions.Remove("misc");
        foreach (var (name, schema) in misc.ToList())
        {
            misc.Remove(name);
            definitions["misc_" + name] = schema;
        }
        return JsonSchema.FromJsonAsync(root.ToJsonString()).GetAwaiter().GetResult();
    }

    /// <summary>Validates notebook JSON against the official nbformat 4.5 schema; returns the errors.</summary>
    public static IReadOnlyList<string> SchemaErrors(string json) =>
        Schema.Value.Validate(json).Select(e => $"{e.Path}: {e.Kind}").ToList();

    public static Notebook Build(params NotebookCell[] cells)
    {
        var nb = Notebook.NewPolyglot();
        nb.Cells.AddRange(cells);
        return nb;
    }

    public static string? Status(NotebookCell cell) => (cell.Metadata["papermill"] as JsonObject)?["status"]?.GetValue<string>();

    public static IReadOnlyDictionary<string, string> Data(CellOutput output) => output switch
    {
        DisplayDataOutput d => d.Data,
        ExecuteResultOutput r => r.Data,
        _ => throw new InvalidOperationException($"{output.GetType().Name} has no mime bundle"),
    };

    /// <summary>Runs with the current directory left as it is (other tests may rely on it).</summary>
    public static Task<RunResult> Run(Notebook nb, IReadOnlyDictionary<string, string>? parameters = null, TimeSpan? timeout = null) =>
        NotebookRunner.RunAsync(nb, new RunOptions
        {
            Parameters = parameters ?? new Dictionary<string, string>(),
            CellTimeout = timeout,
            BaseDirectory = Environment.CurrentDirectory,
        });
}
