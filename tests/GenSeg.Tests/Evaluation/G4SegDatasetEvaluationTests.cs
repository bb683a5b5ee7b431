using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Evaluation;
using GenSeg.Imaging;
using GenSeg.Methods.G4Seg;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;

namespace GenSeg.Tests.Evaluation;

[Trait(Categories.Name, Categories.Integration)]
public sealed class G4SegDatasetEvaluationTests : IClassFixture<TinyPipeline>, IDisposable
{
    readonly TinyPipeline tiny;
    readonly string dir = Directory.CreateTempSubdirectory("genseg-g4-dataset-").FullName;

    public G4SegDatasetEvaluationTests(TinyPipeline tiny) => this.tiny = tiny;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>ToyWorld written as a folder dataset, plus one hand-made 37x23 image with an ignore border and a label coarse mask.</summary>
    ISegmentationDataset Data()
    {
        var ids = ToyWorldLayouts.Write(dir, DatasetLayout.Folder, new ToyWorldExportOptions { Split = Split.Val, Count = 4, Scene = new ToyWorldOptions { Size = 48 } });
        const int w = 37, h = 23;
        var rng = new Pcg32(3);
        ImageIO.SaveRgb(Enumerable.Range(0, w * h * 3).Select(_ => (byte)rng.NextInt(256)).ToArray(), w, h, Path.Combine(dir, "images", "odd.png"));
        var truth = new byte[w * h];
        var coarse = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                bool inside = x > 8 && x < 25 && y > 5 && y < 18;
                truth[y * w + x] = (byte)(x == 0 || y == 0 ? MaskIO.Ignore : inside ? ToyClasses.Star : 0);
                coarse[y * w + x] = (byte)(x > 10 && x < 28 && y > 4 && y < 16 ? ToyClasses.Star : x > 30 ? MaskIO.Ignore : 0);
            }
        MaskIO.SaveBytes(truth, w, h, Path.Combine(dir, "masks", "odd.png"));
        MaskIO.SaveBytes(coarse, w, h, Path.Combine(dir, "coarse", "odd.png"));
        File.WriteAllLines(Path.Combine(dir, "val.txt"), ids.Append("odd"));
        return DatasetSpec.Parse($"folder:{dir}").Open("val");
    }

    // one image per UNet batch: shards then run exactly the same batches as the whole run (larger batches agree up to
    // the float rounding of batch composition)
    G4SegEvaluationOptions Options(ISegmentationDataset data, Shard shard) => new()
    {
        Dataset = data,
        Source = CoarseSource.Files,
        CoarseFolder = Path.Combine(dir, "coarse"),
        Settings = new[] { ("g4seg", new G4SegOptions { Timestep = 300 }), ("baseline", new G4SegOptions { Correspondence = false }) },
        Shard = shard,
        ImagesPerBatch = 1,
        Resamples = 200,
    };

    [Fact]
    public void ShardedAndMergedEqualsUnshardedToTheLastDigit()
    {
        var data = Data();
        using var pipeline = tiny.Load();
        var whole = Path.Combine(dir, "whole.jsonl");
        EvaluationResult single;
        using (var log = ResultsLog.Open(whole, resume: false)) single = G4SegEvaluation.Run(pipeline, Options(data, Shard.All), log);
        Assert.Equal(5, single.Images);
        // four probability maps and one label PNG: the result records the kinds and says what hard masks mean
        Assert.Equal(InputDescription.Mixed, single.Input.Kind);
        Assert.Equal($"1 of 5 images have {G4SegEvaluation.HardMaskNote}", single.Input.Note);
        Assert.Equal(5, ResultsLog.Read(whole).Count);
        var oddRecord = ResultsLog.Read(whole).Single(r => (string)r["id"]! == "odd");
        Assert.Equal((37, 23), ((int)oddRecord["width"]!, (int)oddRecord["height"]!));
        Assert.Equal((104, 64), ((int)oddRecord["model_width"]!, (int)oddRecord["model_height"]!)); // short side to 64, multiples of 8
        // scored at the original size without the ignore border: 36 x 22 pixels counted
        Assert.Equal(36 * 22, oddRecord["before"]!["confusion"]!.AsArray().Sum(v => (long)v!));
        Assert.Equal("300", (string)oddRecord["rows"]![0]!["settings"]!["timestep"]!); // every line carries the run's settings

        var shards = Enumerable.Range(0, 3).Select(i => Path.Combine(dir, $"shard{i}.jsonl")).ToArray();
        for (int i = 0; i < 3; i++)
        {
            using var log = ResultsLog.Open(shards[i], resume: false);
            G4SegEvaluation.Run(pipeline, Options(data, new Shard(i, 3)), log);
        }
        Assert.Equal(new[] { 2, 2, 1 }, shards.Select(s => ResultsLog.Read(s).Count));
        var (merged, complete) = ResultsMerge.Merge(shards);
        Assert.True(complete);
        Assert.Equal(ResultJson.Comparable(single), ResultJson.Comparable(merged));
        Assert.Equal(ResultJson.Comparable(single), ResultJson.Comparable(ResultsMerge.Merge(new[] { whole }).Result));
        // the same image twice (overlapping shards) is an error, not a double count
        Assert.Contains("occurs 2 times", Assert.Throws<InvalidDataException>(() => ResultsMerge.Merge(new[] { whole, shards[0] })).Message);
    }

    [Fact]
    public void AResumedRunSkipsDoneImagesRedoesTheTornOneAndRefusesOtherSettings()
    {
        var data = Data();
        using var pipeline = tiny.Load();
        var path = Path.Combine(dir, "r.jsonl");
        EvaluationResult full;
        using (var log = ResultsLog.Open(path, resume: false)) full = G4SegEvaluation.Run(pipeline, Options(data, Shard.All), log);
        var lines = File.ReadAllLines(path);
        File.WriteAllText(path, string.Join("\n", lines.Take(3)) + "\n" + lines[3][..40]); // a crash while writing the 4th line
        int evaluated = 0;
        EvaluationResult resumed;
        using (var log = ResultsLog.Open(path, resume: true))
            resumed = G4SegEvaluation.Run(pipeline, Options(data, Shard.All), log, (done, total) => evaluated = total - 3);
        Assert.Equal(2, evaluated);
        Assert.Equal(5, ResultsLog.Read(path).Count);
        Assert.Equal(ResultJson.Comparable(full), ResultJson.Comparable(resumed));
        using var other = ResultsLog.Open(path, resume: true);
        var e = Assert.Throws<InvalidDataException>(() => G4SegEvaluation.Run(pipeline, Options(data, Shard.All) with
        {
            Settings = new[] { ("g4seg", new G4SegOptions { Timestep = 400 }) },
        }, other));
        Assert.Contains("r.jsonl", e.Message);
        Assert.Contains("settings", e.Message);
    }

    [Fact]
    public void AMissingCoarseMaskNamesTheFileAndKeepsTheRecordsBeforeIt()
    {
        var data = Data();
        File.Delete(Path.Combine(dir, "coarse", "odd.png"));
        using var pipeline = tiny.Load();
        var path = Path.Combine(dir, "r.jsonl");
        using (var log = ResultsLog.Open(path, resume: false))
        {
            var e = Assert.Throws<FileNotFoundException>(() => G4SegEvaluation.Run(pipeline, Options(data, Shard.All), log));
            Assert.Contains("odd.png", e.Message);
        }
        Assert.Equal(4, ResultsLog.Read(path).Count);
    }
}
