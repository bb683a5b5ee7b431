using System.Text;
using System.Text.Json.Nodes;
using GenSeg.Evaluation;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Evaluation;

[Trait(Categories.Name, Categories.Unit)]
public sealed class ResultsLogTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("genseg-results-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static JsonObject Line(int i) => new() { ["index"] = i, ["id"] = $"img{i}" };

    [Fact]
    public void ATornLastLineIsDroppedAndCutOffOnResume()
    {
        var path = Path.Combine(dir, "r.jsonl");
        using (var log = ResultsLog.Open(path, resume: false))
        {
            log.Append(Line(0));
            log.Append(Line(1));
        }
        File.AppendAllText(path, "{\"index\": 2, \"id\": \"im"); // a crash in the middle of a write
        Assert.Equal(new[] { "img0", "img1" }, ResultsLog.Read(path).Select(r => (string)r["id"]!));
        using (var log = ResultsLog.Open(path, resume: true))
        {
            Assert.Equal(2, log.Existing.Count);
            log.Append(Line(2));
        }
        var lines = File.ReadAllLines(path);
        Assert.Equal(3, lines.Length);
        Assert.Equal("img2", (string)JsonNode.Parse(lines[2])!["id"]!);
        // a line ending in a newline but cut inside the JSON is torn too when it is the last
        File.AppendAllText(path, "{\"index\": 3,\n");
        Assert.Equal(3, ResultsLog.Read(path).Count);
    }

    [Fact]
    public void AnExistingFileIsNeverOverwrittenAndDamageBeforeTheEndIsAnError()
    {
        var path = Path.Combine(dir, "r.jsonl");
        using (var log = ResultsLog.Open(path, resume: false)) log.Append(Line(0));
        var e = Assert.Throws<ArgumentException>(() => ResultsLog.Open(path, resume: false));
        Assert.Contains("--resume", e.Message);
        Assert.Contains("r.jsonl", e.Message);
        Assert.Single(ResultsLog.Read(path));
        File.WriteAllText(path, "{\"index\": 0}\nnot json\n{\"index\": 2}\n", Encoding.UTF8);
        var damaged = Assert.Throws<InvalidDataException>(() => ResultsLog.Read(path));
        Assert.Contains("line 2", damaged.Message);
        Assert.Contains("r.jsonl", damaged.Message);
    }

    [Fact]
    public void ShardsPartitionTheImages()
    {
        var shards = Enumerable.Range(0, 3).Select(i => Shard.Parse($"{i}/3")).ToArray();
        for (int p = 0; p < 20; p++) Assert.Single(shards, s => s.Includes(p));
        Assert.True(Shard.Parse("1/3").Includes(4));
        foreach (var bad in new[] { "3/3", "-1/2", "1", "a/b", "0/0" })
            Assert.Contains("I/N", Assert.Throws<ArgumentException>(() => Shard.Parse(bad)).Message);
    }
}
