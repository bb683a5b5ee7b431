using System.Text.Json.Nodes;
using GenSeg.Notebooks;
using GenSeg.Tests.Support;
using static GenSeg.Tests.Notebooks.NotebookTestSupport;

namespace GenSeg.Tests.Notebooks;

/// <summary>One parameterised run of a notebook that holds every kind of cell, shared by the assertions below.</summary>
public sealed class RichNotebookRun : IAsyncLifetime
{
    public const string MarkdownSource = "# Heading\n\nSome *text*.";
    public RunResult Result { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var nb = Build(
            NotebookCell.Markdown(MarkdownSource),
            NotebookCell.Code("var n = 3;\nvar label = \"default\";\ndouble scale = 1.5;", NotebookParameters.ParametersTag),
            NotebookCell.Code("var total = n * 10;\nConsole.WriteLine($\"label={label}\");\nConsole.Error.WriteLine(\"to stderr\");"),
            NotebookCell.Code("total + scale"),
            NotebookCell.Code($"#r \"{LibraryBuild}\"\nusing Plotly.NET.CSharp;\n" +
                              "display(Chart.Point<int, int, string>(x: new[] { 1, 2 }, y: new[] { 3, 4 }));"),
            NotebookCell.Code("using Microsoft.Data.Analysis;\n" +
                              "new DataFrame(new PrimitiveDataFrameColumn<int>(\"a\", new[] { 1, 2, 3 }))"),
            NotebookCell.Code("throw new Exception(\"must not run\");", NotebookRunner.SkipTag),
            NotebookCell.Code("total = -1;\nthrow new InvalidOperationException(\"expected failure\");", NotebookRunner.RaisesTag),
            NotebookCell.Code("var handle = display(\"first\");\nhandle.Update(HTML(\"<i>second</i>\"));\ntotal * 2"),
            NotebookCell.Code($"#r \"{LibraryBuild}\"\n" +
                              "var copies = AppDomain.CurrentDomain.GetAssemblies().Count(a => a.GetName().Name == \"GenSeg\");\n" +
                              "$\"{copies} {typeof(GenSeg.Common.Check).Assembly.Location}\""));
        Result = await Run(nb, new Dictionary<string, string> { ["n"] = "7", ["label"] = "from-cli", ["extra"] = "1", ["scale"] = "2" });
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>GenSeg.dll as built in src/GenSeg (a different file from the one beside the tests), in this configuration.</summary>
    public static string LibraryBuild
    {
        get
        {
            var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            return Path.Combine(RepoRoot(), "src", "GenSeg", "bin", tfm.Parent!.Name, tfm.Name, "GenSeg.dll");
        }
    }
}

[Collection(NotebookRunnerCollection.Name)]
[Trait(Categories.Name, Categories.Notebook)]
public sealed class NotebookRunnerTests(RichNotebookRun run) : IClassFixture<RichNotebookRun>
{
    readonly RunResult _r = run.Result;
    NotebookCell Cell(int i) => _r.Notebook.Cells[i];

    [Fact]
    public void RunSucceedsAndWarnsOfAnUnknownParameter()
    {
        Assert.True(_r.Succeeded, _r.FailureMessage);
        Assert.Null(_r.FailedCellIndex);
        Assert.Contains(_r.Warnings, w => w.Contains("unknown parameter: extra"));
    }

    [Fact]
    public void InjectedParametersFollowTheParametersCellAndAreRecorded()
    {
        var injected = Cell(2);
        Assert.True(injected.HasTag(NotebookParameters.InjectedTag));
        Assert.Contains("var n = 7;", injected.Source);
        Assert.Contains("var label = \"from-cli\";", injected.Source);
        Assert.Contains("double scale = 2.0;", injected.Source); // typed like its default
        var recorded = (JsonObject)((JsonObject)_r.Notebook.Metadata["papermill"]!)["parameters"]!;
        Assert.Equal(7, recorded["n"]!.GetValue<int>());
        Assert.Equal("from-cli", recorded["label"]!.GetValue<string>());
        Assert.Equal(2.0, recorded["scale"]!.GetValue<double>());
    }

    [Fact]
    public void StateCarriesAcrossCellsAndTheTrailingExpressionIsTheResult()
    {
        // total = n * 10 with the injected n = 7, plus the injected scale 2.0
        var result = Assert.IsType<ExecuteResultOutput>(Assert.Single(Cell(4).Outputs));
        Assert.Equal("72", result.Data["text/plain"]);
        Assert.Equal(Cell(4).ExecutionCount, result.ExecutionCount);
    }

    [Fact]
    public void ConsoleOutputBecomesStreams()
    {
        var streams = Cell(3).Outputs.Cast<StreamOutput>().ToList();
        Assert.Equal([new StreamOutput("stdout", "label=from-cli\n"), new StreamOutput("stderr", "to stderr\n")], streams);
    }

    [Fact]
    public void DisplayedChartIsHtmlWithThePlotlyLoader()
    {
        var outputs = Cell(5).Outputs;
        Assert.Empty(outputs.OfType<StreamOutput>()); // the kit's own build: no warning
        var html = Data(Assert.Single(outputs.OfType<DisplayDataOutput>()))["text/html"];
        Assert.Contains("renderPlotly", html);
        Assert.Contains("requirejs", html);
        Assert.Contains("https://cdn.plot.ly/plotly-", html);
        Assert.Contains("Plotly.newPlot", html);
    }

    [Fact]
    public void DataFrameResultIsAnHtmlTable()
    {
        var data = Data(Assert.IsType<ExecuteResultOutput>(Assert.Single(Cell(6).Outputs)));
        var html = Assert.Single(data).Value;
        Assert.StartsWith("<table>", html);
        Assert.Contains("<th>a</th>", html);
        Assert.Equal(3, html.Split("<tr><td><i>").Length - 1);
    }

    [Fact]
    public void SkipExecutionCellDoesNotRun()
    {
        Assert.Empty(Cell(7).Outputs);
        Assert.Null(Cell(7).ExecutionCount);
        Assert.Equal("skipped", Status(Cell(7)));
    }

    [Fact]
    public void RaisesExceptionCellRecordsTheErrorAndTheRunGoesOn()
    {
        var error = Assert.IsType<ErrorOutput>(Assert.Single(Cell(8).Outputs));
        Assert.Equal("InvalidOperationException", error.Name);
        Assert.Equal("expected failure", error.Value);
        Assert.Equal("completed", Status(Cell(8)));
        // the next cell sees what ran before the throw (total = -1), and display's handle replaced its output
        var outputs = Cell(9).Outputs;
        Assert.Equal("<i>second</i>", Assert.IsType<DisplayDataOutput>(outputs[0]).Data["text/html"]);
        Assert.Equal("-2", Assert.IsType<ExecuteResultOutput>(outputs[1]).Data["text/plain"]);
    }

    [Fact]
    public void ReferencingTheLibraryFileUsesTheRunnersLoadedCopy()
    {
        Assert.True(File.Exists(RichNotebookRun.LibraryBuild), RichNotebookRun.LibraryBuild);
        var text = Assert.IsType<ExecuteResultOutput>(Assert.Single(Cell(10).Outputs)).Data["text/plain"];
        Assert.Equal($"1 {typeof(GenSeg.Common.Check).Assembly.Location}", text);
    }

    [Fact]
    public void MarkdownPassesThroughAndCountsAreSequential()
    {
        Assert.Equal(RichNotebookRun.MarkdownSource, Cell(0).Source);
        Assert.Equal("markdown", Cell(0).CellType);
        var counts = _r.Notebook.Cells.Where(c => c.IsCode && c.ExecutionCount is not null).Select(c => c.ExecutionCount!.Value);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9], counts);
        Assert.All(_r.Notebook.Cells.Where(c => c.IsCode && !c.HasTag(NotebookRunner.SkipTag)),
            c => Assert.Equal("completed", Status(c)));
    }

    [Fact]
    public void ExecutedNotebookIsValidNbformat45AndReadsBack()
    {
        var json = _r.Notebook.ToJson();
        Assert.Empty(SchemaErrors(json));
        var again = Notebook.Parse(json);
        Assert.Equal(_r.Notebook.Cells.Select(c => c.Source), again.Cells.Select(c => c.Source));
        Assert.Equal(_r.Notebook.Cells.Select(c => c.Outputs.Count), again.Cells.Select(c => c.Outputs.Count));
        Assert.Equal(json, again.ToJson());
    }
}

[Collection(NotebookRunnerCollection.Name)]
[Trait(Categories.Name, Categories.Notebook)]
public sealed class NotebookFailureTests
{
    [Fact]
    public async Task FailingCellWritesTheNotebookWithTheErrorAndNamesTheCell()
    {
        var dir = Directory.CreateTempSubdirectory("genseg-nb-");
        try
        {
            var path = Path.Combine(dir.FullName, "failing.ipynb");
            Build(
                NotebookCell.Code("var a = 1;"),
                NotebookCell.Markdown("text"),
                NotebookCell.Code("Console.WriteLine(\"before\");\nthrow new ArgumentException(\"bad thing\");"),
                NotebookCell.Code("var never = 2;")).Save(path);

            var job = await NotebookJob.RunAsync(path, Path.Combine(dir.FullName, "out"),
                new RunOptions { WorkingDirectory = Environment.CurrentDirectory });

            var r = job.Result;
            Assert.False(r.Succeeded);
            Assert.Equal(2, r.FailedCellIndex);
            Assert.Equal(2, r.FailedExecutionCount);
            Assert.IsType<ArgumentException>(r.Exception);
            Assert.StartsWith("Exception encountered at In [2] (cell index 2): ArgumentException: bad thing", r.FailureMessage);

            var written = Notebook.Load(job.NotebookPath);
            Assert.Empty(SchemaErrors(File.ReadAllText(job.NotebookPath)));
            var failing = written.Cells[2];
            Assert.Equal(new StreamOutput("stdout", "before\n"), failing.Outputs[0]);
            var error = Assert.IsType<ErrorOutput>(failing.Outputs[1]);
            Assert.Equal(("ArgumentException", "bad thing"), (error.Name, error.Value));
            Assert.NotEmpty(error.Traceback);
            Assert.Equal("failed", Status(failing));
            Assert.Equal("pending", Status(written.Cells[3]));
            Assert.Null(written.Cells[3].ExecutionCount);
            Assert.True(((JsonObject)written.Metadata["papermill"]!)["exception"]!.GetValue<bool>());
            Assert.Contains("bad thing", File.ReadAllText(job.HtmlPath));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task UnknownPackageCompileErrorAndTimeoutFailWithClearErrors()
    {
        var unknown = await Run(Build(NotebookCell.Code("#r \"nuget: Not.A.Real.Package, 1.0.0\"")));
        Assert.Equal(0, unknown.FailedCellIndex);
        var e = Assert.IsType<ErrorOutput>(Assert.Single(unknown.Notebook.Cells[0].Outputs));
        Assert.Contains("Not.A.Real.Package", e.Value);
        Assert.Contains("Plotly.NET.CSharp", e.Value); // names the kit's packages
        Assert.Contains("NotebookKit.Start()", e.Value); // and says how the notebooks reference the kit

        // a package the kit brings is refused too: in the kernel it would load a second copy from the NuGet cache
        var torch = await Run(Build(NotebookCell.Code("#r \"nuget: TorchSharp-cpu, 0.107.0\"\nvar never = 1;")));
        Assert.Equal(0, torch.FailedCellIndex);
        var t = Assert.IsType<ErrorOutput>(Assert.Single(torch.Notebook.Cells[0].Outputs));
        Assert.Contains("already brings TorchSharp-cpu 0.107.0", t.Value);
        Assert.Contains("NuGet cache", t.Value);

        var compile = await Run(Build(NotebookCell.Code("var ok = 1;"), NotebookCell.Code("var x = 1;\nvar y = undefinedName;")));
        Assert.Equal(1, compile.FailedCellIndex);
        var c = Assert.IsType<ErrorOutput>(Assert.Single(compile.Notebook.Cells[1].Outputs));
        Assert.Equal("CompilationError", c.Name);
        Assert.Contains("(2,9): error CS0103", c.Value);

        var slow = await Run(Build(NotebookCell.Code("System.Threading.Thread.Sleep(3000);")), timeout: TimeSpan.FromMilliseconds(300));
        Assert.IsType<TimeoutException>(slow.Exception);
        Assert.Equal("TimeoutException", Assert.IsType<ErrorOutput>(Assert.Single(slow.Notebook.Cells[0].Outputs)).Name);
    }
}
