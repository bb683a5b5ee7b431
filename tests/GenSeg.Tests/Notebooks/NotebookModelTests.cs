using System.Text.Json.Nodes;
using GenSeg.Notebooks;
using GenSeg.Tests.Support;
using static GenSeg.Tests.Notebooks.NotebookTestSupport;

namespace GenSeg.Tests.Notebooks;

[Trait(Categories.Name, Categories.Unit)]
public sealed class NotebookModelTests
{
    const string Nb44 = """
    {
     "cells": [
      {"cell_type": "markdown", "metadata": {"custom": {"keep": [1, 2]}}, "source": "# Title\nline two",
       "attachments": {"a.png": {"image/png": "iVBORw0KGgo="}}},
      {"cell_type": "code", "execution_count": 3, "metadata": {"polyglot_notebook": {"kernelName": "csharp"}, "tags": ["parameters"]},
       "outputs": [
        {"output_type": "stream", "name": "stdout", "text": ["a\n", "b"]},
        {"output_type": "display_data", "data": {"application/json": {"x": 1}, "text/plain": ["1\n", "2"]}, "metadata": {}}
       ],
       "source": ["var x = 1;\n", "var y = 2;"]}
     ],
     "metadata": {"kernelspec": {"display_name": ".NET (C#)", "language": "C#", "name": ".net-csharp"}, "unknown_tool": {"v": true}},
     "nbformat": 4, "nbformat_minor": 4
    }
    """;

    [Fact]
    public void ReadsJupyterFormsAndWritesValidNbformat45KeepingUnknownParts()
    {
        var nb = Notebook.Parse(Nb44);
        Assert.Equal("# Title\nline two", nb.Cells[0].Source);
        Assert.Equal("var x = 1;\nvar y = 2;", nb.Cells[1].Source);
        Assert.Equal("csharp", nb.Cells[1].KernelName);
        Assert.True(nb.Cells[1].HasTag("parameters"));
        Assert.Equal(new StreamOutput("stdout", "a\nb"), nb.Cells[1].Outputs[0]);
        Assert.Equal("1\n2", Data(nb.Cells[1].Outputs[1])["text/plain"]);

        var json = nb.ToJson();
        Assert.Empty(SchemaErrors(json));
        var root = JsonNode.Parse(json)!.AsObject();
        Assert.Equal(5, root["nbformat_minor"]!.GetValue<int>());
        var cells = root["cells"]!.AsArray();
        Assert.All(cells, c => Assert.Matches("^[a-zA-Z0-9-_]{1,64}$", c!["id"]!.GetValue<string>()));
        Assert.Equal(["# Title\n", "line two"], cells[0]!["source"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal("iVBORw0KGgo=", cells[0]!["attachments"]!["a.png"]!["image/png"]!.GetValue<string>());
        Assert.Equal(2, cells[0]!["metadata"]!["custom"]!["keep"]!.AsArray().Count);
        Assert.True(root["metadata"]!["unknown_tool"]!["v"]!.GetValue<bool>());
        Assert.Equal(1, cells[1]!["outputs"]![1]!["data"]!["application/json"]!["x"]!.GetValue<int>()); // JSON stays JSON
        Assert.Equal(json, Notebook.Parse(json).ToJson());
    }

    [Fact]
    public void OutputsOfUnknownTypeAreKeptAsRead()
    {
        var nb = Notebook.Parse("""
            {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "id": "c1",
             "metadata": {}, "execution_count": null, "source": [], "outputs": [{"output_type": "some_future_output", "payload": 5}]}]}
            """);
        var unknown = Assert.IsType<UnknownOutput>(Assert.Single(nb.Cells[0].Outputs));
        Assert.Equal(5, unknown.Json["payload"]!.GetValue<int>());
        Assert.Contains("\"payload\": 5", nb.ToJson());
    }

    [Fact]
    public void RejectsWhatIsNotAnNbformat4Notebook()
    {
        var e = Assert.Throws<InvalidDataException>(() => Notebook.Parse("""{"nbformat": 3, "cells": []}""", "old.ipynb"));
        Assert.Contains("old.ipynb", e.Message);
        Assert.Contains("nbformat 3", e.Message);
        Assert.Throws<InvalidDataException>(() => Notebook.Parse("not json", "x.ipynb"));
    }

    [Fact]
    public void DirectivesAreStrippedKeepingLineNumbers()
    {
        var d = CellDirectives.Parse(
            "#r \"nuget: Plotly.NET, 6.0.0\"\n#r \"nuget: SkiaSharp\"\n#r \"../lib/GenSeg.dll\"\n#!time\nvar a = 1;\n#!markdown\n# not code\n#!csharp\na + 1",
            "csharp");
        Assert.Equal([new NuGetReference("Plotly.NET", "6.0.0", 1), new NuGetReference("SkiaSharp", null, 2)], d.Packages);
        Assert.Equal([new AssemblyReference("../lib/GenSeg.dll", 3)], d.Assemblies);
        Assert.True(d.Time);
        Assert.Empty(d.Unsupported);
        var lines = d.Code.Split('\n');
        Assert.Equal(9, lines.Length);
        Assert.Equal("var a = 1;", lines[4]);
        Assert.Equal("", lines[6]); // markdown part blanked
        Assert.Equal("a + 1", lines[8]);

        var f = CellDirectives.Parse("#!fsharp\nlet x = 1", "csharp");
        Assert.Equal([new UnsupportedMagic("#!fsharp", 1)], f.Unsupported);
        Assert.False(CellDirectives.Parse("# just markdown", "markdown").HasCode);
    }
}

[Trait(Categories.Name, Categories.Unit)]
public sealed class NotebookParametersTests
{
    static readonly ParameterDefault[] Defaults = [..NotebookParameters.ReadDefaults(
        "var steps = 10;\nvar name = \"a\";\nfloat lr = 0.1f;\nvar seeds = new[] { 1, 2 };\nstring[] tags = [\"x\"];\nbool fast = true;\nvar when = DateTime.Now;\nlong big = 1L;")];

    static ParameterDefault D(string name) => Defaults.Single(d => d.Name == name);

    [Fact]
    public void DefaultsGiveTheTypes()
    {
        Assert.Equal(new ParameterDefault("steps", "var", ParameterKind.Int, false), D("steps"));
        Assert.Equal(ParameterKind.Float, D("lr").Kind);
        Assert.Equal(new ParameterDefault("seeds", "var", ParameterKind.Int, true), D("seeds"));
        Assert.Equal(new ParameterDefault("tags", "string[]", ParameterKind.String, true), D("tags"));
        Assert.Equal(ParameterKind.Unknown, D("when").Kind);
        Assert.Equal(ParameterKind.Long, D("big").Kind);
    }

    [Theory]
    [InlineData("steps", "25", "25")]
    [InlineData("name", "he said \"hi\"", "\"he said \\\"hi\\\"\"")]
    [InlineData("name", "\"quoted\"", "\"quoted\"")]
    [InlineData("lr", "2", "2.0f")]
    [InlineData("lr", "0.25", "0.25f")]
    [InlineData("seeds", "3, 4,5", "new int[] { 3, 4, 5 }")]
    [InlineData("seeds", "[7]", "new int[] { 7 }")]
    [InlineData("tags", "a,b", "new string[] { \"a\", \"b\" }")]
    [InlineData("fast", "False", "false")]
    [InlineData("big", "5", "5L")]
    public void ValuesAreTranslatedToTheDefaultsType(string name, string text, string literal) =>
        Assert.Equal(literal, NotebookParameters.Translate(name, text, D(name)).Literal);

    [Theory]
    [InlineData("true", "true")]
    [InlineData("12", "12")]
    [InlineData("1.5", "1.5")]
    [InlineData("[1, 2]", "new int[] { 1, 2 }")]
    [InlineData("some text", "\"some text\"")]
    public void UnknownTypesAreInferredFromTheValueLikePapermill(string text, string literal) =>
        Assert.Equal(literal, NotebookParameters.Translate("p", text, null).Literal);

    [Fact]
    public void AValueThatDoesNotFitNamesTheParameter()
    {
        var e = Assert.Throws<ArgumentException>(() => NotebookParameters.Translate("steps", "many", D("steps")));
        Assert.Contains("parameter steps", e.Message);
        Assert.Contains("'many'", e.Message);
    }

    [Fact]
    public void InjectionReplacesAnEarlierInjectedCell()
    {
        var nb = Notebook.NewPolyglot();
        nb.Cells.Add(NotebookCell.Code("var steps = 10;", NotebookParameters.ParametersTag));
        nb.Cells.Add(NotebookCell.Code("Console.WriteLine(steps);"));
        NotebookParameters.Inject(nb, new Dictionary<string, string> { ["steps"] = "1" });
        var warnings = NotebookParameters.Inject(nb, new Dictionary<string, string> { ["steps"] = "2" });
        Assert.Empty(warnings);
        Assert.Equal(3, nb.Cells.Count);
        Assert.Equal("// Parameters\nvar steps = 2;", nb.Cells[1].Source);
        Assert.True(nb.Cells[1].HasTag(NotebookParameters.InjectedTag));
    }
}
