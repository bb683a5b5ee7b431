using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Tests.Evaluation;

/// <summary>A crude deterministic painter: the region takes the mean colour of the rest, plus seeded noise.</summary>
sealed class MeanColourPainter : IPainter
{
    public string Name => "mean-colour";

    public PaintBatch Paint(Tensor image, Tensor region, StepKind kind, int count, ulong seed)
    {
        using var scope = NewDisposeScope();
        var r = Masks.Binarize(region);
        var outside = (1 - r).sum().clamp_min(1);
        var mean = (image * (1 - r)).sum(new long[] { 1, 2 }, keepdim: true) / outside;
        var g = new Generator(seed & 0x7FFFFFFF);
        var paints = stack(Enumerable.Range(0, count).Select(_ => image * (1 - r) + (mean + 0.05f * randn(image.shape, generator: g)) * r).ToArray());
        return new PaintBatch(r.MoveToOuterDisposeScope(), paints.MoveToOuterDisposeScope());
    }
}

[Trait(Categories.Name, Categories.Integration)]
public sealed class PaintSegDatasetEvaluationTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("genseg-paintseg-dataset-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    ISegmentationDataset Data()
    {
        var ids = ToyWorldLayouts.Write(dir, DatasetLayout.Folder, new ToyWorldExportOptions { Split = Split.Val, Count = 3, Scene = new ToyWorldOptions { Size = 48 } });
        const int w = 37, h = 23;
        var rgb = new byte[w * h * 3];
        var truth = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                bool inside = (x - 20) * (x - 20) + (y - 11) * (y - 11) < 49;
                truth[y * w + x] = (byte)(y == 0 ? MaskIO.Ignore : inside ? ToyClasses.Ring : 0);
                rgb[3 * (y * w + x)] = (byte)(inside ? 220 : 30);
                rgb[3 * (y * w + x) + 1] = 90;
            }
        ImageIO.SaveRgb(rgb, w, h, Path.Combine(dir, "images", "odd.png"));
        MaskIO.SaveBytes(truth, w, h, Path.Combine(dir, "masks", "odd.png"));
        File.WriteAllLines(Path.Combine(dir, "val.txt"), ids.Append("odd"));
        return DatasetSpec.Parse($"folder:{dir}").Open("val");
    }

    static readonly (string, PaintSegEvaluationOptions)[] Rows =
        { ("paintseg", new PaintSegEvaluationOptions { Prompt = PromptKind.Box, Resamples = 300, Options = new PaintSegOptions { Steps = 2, Paints = 2 } }) };

    static EvaluationResult Run(ISegmentationDataset data, Shard shard, ResultsLog log) =>
        PaintSegEvaluation.Run(new DatasetTargets(data, 64), Rows, null, log, shard, painters: _ => PainterChoice.Of(new MeanColourPainter()));

    [Fact]
    public void ShardedAndMergedEqualsUnshardedAndOddSizesAreScoredAtTheirOwnSize()
    {
        var data = Data();
        var whole = Path.Combine(dir, "whole.jsonl");
        EvaluationResult single;
        using (var log = ResultsLog.Open(whole, resume: false)) single = Run(data, Shard.All, log);
        // one line per target: the odd image holds one, the ring (label 5)
        var ring = Assert.Single(ResultsLog.Read(whole), r => ((string)r["id"]!).StartsWith("odd/", StringComparison.Ordinal));
        Assert.Equal("odd/5", (string)ring["id"]!);
        Assert.Equal("ring", (string)ring["class"]!);
        var result = ring["results"]![0]!;
        // the box prompt's mask covers the disc and its box corners: IoU = disc / box area, measured at 37x23 (points)
        Assert.InRange((double)result["before"]!, 60, 90);
        Assert.Equal(2, result["per_step"]!.AsArray().Count);
        Assert.Equal("box", single.Main.Settings["prompt"]);
        Assert.Equal("2", (string)ring["rows"]![0]!["settings"]!["steps"]!); // the run's settings, as every line carries them
        Assert.Equal(ResultsLog.Read(whole).Count, single.Targets);
        Assert.Equal(single.Targets, single.Objects.Count);

        var shards = new[] { Path.Combine(dir, "s0.jsonl"), Path.Combine(dir, "s1.jsonl") };
        for (int i = 0; i < 2; i++)
        {
            using var log = ResultsLog.Open(shards[i], resume: false);
            Run(data, new Shard(i, 2), log);
        }
        var (merged, complete) = ResultsMerge.Merge(shards);
        Assert.True(complete);
        Assert.Equal(ResultJson.Comparable(single), ResultJson.Comparable(merged));
    }

    [Fact]
    public void IouIgnoresTheIgnorePixels()
    {
        var truth = tensor(new[] { true, true, false, false }).reshape(2, 2);
        var pred = tensor(new[] { true, false, true, false }).reshape(2, 2);
        var scored = tensor(new[] { true, true, false, true }).reshape(2, 2); // the false positive lies on an ignore pixel
        Assert.Equal(0.5, DatasetTargets.IouIgnoring(pred, truth, scored), 12);
        Assert.Equal(1.0 / 3, DatasetTargets.IouIgnoring(pred, truth, ones_like(scored)), 12);
    }
}
