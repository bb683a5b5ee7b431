using System.Text.Json.Nodes;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Cli;

/// <summary>
/// <c>genseg eval</c> over a dataset written to disk: shards merge to the unsharded result, a finished results file
/// resumes to the same result, and bad dataset input is one line naming the input.
/// </summary>
[Collection(CliCollection.Name)]
[Trait(Categories.Name, Categories.Integration)]
public sealed class EvalDatasetCommandTests : IClassFixture<TinyPipeline>, IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("genseg-eval-data-").FullName;
    readonly TinyPipeline tiny;

    public EvalDatasetCommandTests(TinyPipeline tiny) => this.tiny = tiny;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static JsonObject Summary(string path) => JsonNode.Parse(ResultJson.Comparable(path))!.AsObject();

    [Fact]
    public void ToyWorldWrittenAsVocEvaluatesInShardsThatMergeToTheUnshardedSummary()
    {
        var voc = Path.Combine(dir, "voc");
        Assert.Equal(0, CliRun.Run("toyworld", "--format", "voc", "--split", "val", "--count", "3", "--size", "40", "--out", voc));
        Assert.True(File.Exists(Path.Combine(voc, "ImageSets", "Segmentation", "val.txt")));
        string[] Eval(params string[] extra) => new[] { "eval", "g4seg", "--model", tiny.Folder, "--dataset", $"voc:{voc}", "--split", "val",
            "--coarse-dir", Path.Combine(voc, "coarse"), "--timestep", "300" }.Concat(extra).ToArray();
        var whole = Path.Combine(dir, "whole.json");
        Assert.Equal(0, CliRun.Run(Eval("--results", Path.Combine(dir, "whole.jsonl"), "--json", whole)));
        for (int i = 0; i < 2; i++) Assert.Equal(0, CliRun.Run(Eval("--results", Path.Combine(dir, $"s{i}.jsonl"), "--shard", $"{i}/2")));
        var merged = Path.Combine(dir, "merged.json");
        Assert.Equal(0, CliRun.Run("eval", "merge", Path.Combine(dir, "s0.jsonl"), Path.Combine(dir, "s1.jsonl"), "--json", merged));
        var a = Summary(whole);
        var b = Summary(merged);
        Assert.Equal(a.ToJsonString(), b.ToJsonString());
        Assert.Equal(3, (int)a["images"]!);
        Assert.Equal("300", (string)a["settings"]!["timestep"]!);
        Assert.Equal("soft", (string)a["input"]!["kind"]!); // ToyWorld's export writes probability maps
        Assert.Null(a["input"]!["note"]);
        // resuming a finished file evaluates nothing and gives the same summary; without --resume the file is kept
        Assert.Equal(0, CliRun.Run(Eval("--results", Path.Combine(dir, "whole.jsonl"), "--resume", "--json", Path.Combine(dir, "again.json"))));
        Assert.Equal(a.ToJsonString(), Summary(Path.Combine(dir, "again.json")).ToJsonString());
        Assert.Equal(2, CliRun.Run(Eval("--results", Path.Combine(dir, "whole.jsonl"))));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(dir, "whole.jsonl")).Length);
    }

    [Fact]
    public void BadDatasetInputIsOneLineNamingTheInput()
    {
        var err = new StringWriter();
        var old = Console.Error;
        Console.SetError(err);
        try
        {
            Assert.Equal(2, CliRun.Run("eval", "g4seg", "--model", tiny.Folder, "--dataset", "pascal:/nowhere", "--coarse-dir", dir));
            Assert.Equal(2, CliRun.Run("eval", "g4seg", "--model", tiny.Folder, "--dataset", $"voc:{dir}", "--coarse-dir", dir));
            Assert.Equal(2, CliRun.Run("eval", "g4seg", "--model", tiny.Folder, "--resume"));
            Assert.Equal(2, CliRun.Run("toyworld", "--format", "kitti", "--out", dir));
        }
        finally { Console.SetError(old); }
        var lines = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("unknown kind 'pascal'", lines[0]);
        Assert.Contains(Path.Combine("ImageSets", "Segmentation", "val.txt"), lines[1]);
        Assert.Contains("--resume", lines[2]);
        Assert.Contains("--format", lines[3]);
    }
}
