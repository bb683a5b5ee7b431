using System.CommandLine;
using System.Text.Json;
using GenSeg.Cli;
using GenSeg.Methods.G4Seg;
using GenSeg.Methods;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Cli;

[Collection(CliCollection.Name)]
[Trait(Categories.Name, Categories.Integration)]
public sealed class EvalCommandTests : IClassFixture<TinyPipeline>, IDisposable
{
    readonly TinyPipeline tiny;
    readonly string dir = Directory.CreateTempSubdirectory("genseg-eval-").FullName;

    public EvalCommandTests(TinyPipeline tiny) => this.tiny = tiny;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static int Run(params string[] args)
    {
        var root = new RootCommand("test");
        root.Options.Add(CliCommon.Device);
        foreach (var c in CliCommands.All()) root.Subcommands.Add(c);
        return CliCommon.Run(root, args);
    }

    [Fact]
    public void G4SegWritesTheGainItsIntervalAndStrataAsJson()
    {
        var json = Path.Combine(dir, "g4seg.json");
        Assert.Equal(0, Run("eval", "g4seg", "--model", tiny.Folder, "--split", "val", "--count", "2", "--json", json,
            "--sweep", "b=0.5,1", "--compare", "crf"));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        foreach (var key in new[] { "before", "after", "gain" }) Assert.Equal(JsonValueKind.Number, root.GetProperty(key).ValueKind);
        Assert.Equal("miou", root.GetProperty("metric").GetString());
        var ci = root.GetProperty("gain_ci95");
        Assert.Equal(2, ci.GetArrayLength());
        Assert.True(ci[0].GetDouble() <= root.GetProperty("gain").GetDouble() + 1e-9 && root.GetProperty("gain").GetDouble() <= ci[1].GetDouble() + 1e-9);
        Assert.Equal(new[] { "<40", "40-80", "80-100" }, root.GetProperty("strata").EnumerateArray().Select(s => s.GetProperty("stratum").GetString()));
        Assert.Equal(9, root.GetProperty("per_class").EnumerateObject().Count());
        var sweep = root.GetProperty("sweep").EnumerateArray().ToArray();
        Assert.Equal(new[] { "b=0.5", "b=1" }, sweep.Select(s => s.GetProperty("label").GetString()));
        Assert.Equal(new[] { "0.5", "1" }, sweep.Select(s => s.GetProperty("settings").GetProperty("b").GetString()));
        Assert.Equal(0.0, sweep[1].GetProperty("gain").GetDouble()); // b = 1 changes nothing
        Assert.Equal(4, root.GetProperty("comparison").GetArrayLength());
        Assert.Equal(2, root.GetProperty("images").GetInt32());
    }

    [Fact]
    public void AttentionWritesItsMiouAndTheCoarseSourceFeedsG4Seg()
    {
        var json = Path.Combine(dir, "attention.json");
        Assert.Equal(0, Run("eval", "attention", "--model", tiny.Folder, "--count", "2", "--json", json, "--background", "constant"));
        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            var miou = doc.RootElement.GetProperty("miou").GetDouble();
            Assert.InRange(miou, 0, 100);
            Assert.Equal(2, doc.RootElement.GetProperty("miou_ci95").GetArrayLength());
        }
        var g4 = Path.Combine(dir, "g4seg-attention.json");
        Assert.Equal(0, Run("eval", "g4seg", "--model", tiny.Folder, "--count", "2", "--coarse", "attention", "--attention-background", "constant",
            "--preset", "toyworld", "--json", g4));
        using var g = JsonDocument.Parse(File.ReadAllText(g4));
        Assert.Equal("attention", g.RootElement.GetProperty("input").GetProperty("source").GetString());
        Assert.Equal("soft", g.RootElement.GetProperty("input").GetProperty("kind").GetString());
        var recorded = g.RootElement.GetProperty("settings");
        Assert.Equal("original", recorded.GetProperty("direction").GetString());
        // every setting is recorded, and the recorded command reruns the result
        Assert.Equal(G4SegSettings.Table.All.Select(s => s.Name).Order(), recorded.EnumerateObject().Select(p => p.Name).Order());
        var rerun = ShellWords(g.RootElement.GetProperty("command").GetString()!);
        // the coarse source's settings are flags of the command
        foreach (var s in CrossAttentionSettings.Table.All) Assert.Contains("--attention-" + s.Name, rerun);
        Assert.Equal("constant", rerun[rerun.IndexOf("--attention-background") + 1]);
        Assert.Equal(new[] { "genseg", "eval", "g4seg" }, rerun.Take(3));
        var again = Path.Combine(dir, "g4seg-attention-rerun.json");
        Assert.Equal(0, Run(rerun.Skip(1).Concat(new[] { "--json", again }).ToArray()));
        using var h = JsonDocument.Parse(File.ReadAllText(again));
        Assert.Equal(g.RootElement.GetProperty("after").GetDouble(), h.RootElement.GetProperty("after").GetDouble());
        Assert.Equal(recorded.ToString(), h.RootElement.GetProperty("settings").ToString());
    }

    // Splits a POSIX command line quoted as RerunCommand.Line quotes (single quotes, '\'' for a quote).
    static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        bool inWord = false, quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted) { if (c == '\'') quoted = false; else word.Append(c); continue; }
            if (c == '\'') { quoted = true; inWord = true; continue; }
            if (c == '\\' && i + 1 < line.Length) { word.Append(line[++i]); inWord = true; continue; }
            if (c == ' ') { if (inWord) words.Add(word.ToString()); word.Clear(); inWord = false; continue; }
            word.Append(c);
            inWord = true;
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }

    [Fact]
    public void BadArgumentsAreOneLineErrors()
    {
        Assert.Equal(2, Run("eval", "g4seg", "--model", Path.Combine(dir, "missing"), "--count", "2"));
        Assert.Equal(2, Run("eval", "g4seg", "--model", tiny.Folder, "--count", "2", "--b", "2"));
        Assert.Equal(2, Run("eval", "g4seg", "--model", tiny.Folder, "--count", "2", "--sweep", "nonsense=1"));
        Assert.Equal(2, Run("eval", "g4seg", "--model", tiny.Folder, "--count", "2", "--coarse", "magic"));
        Assert.Equal(2, Run("eval", "g4seg", "--model", tiny.Folder, "--count", "2", "--preset", "best"));
        Assert.Equal(2, Run("eval", "attention", "--model", tiny.Folder, "--split", "train", "--first-seed", "5", "--count", "2"));
    }
}

/// <summary>CLI tests write to (and one captures) the process-wide console streams, so they do not run in parallel.</summary>
[CollectionDefinition(Name)]
public sealed class CliCollection
{
    public const string Name = "cli";
}
