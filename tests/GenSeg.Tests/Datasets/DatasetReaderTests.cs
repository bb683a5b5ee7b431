using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Imaging;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Tests.Datasets;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DatasetReaderTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("genseg-datasets-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    const int W = 37, H = 23;

    static byte[] RandomRgb(ulong seed)
    {
        var rng = new Pcg32(seed);
        return Enumerable.Range(0, W * H * 3).Select(_ => (byte)rng.NextInt(256)).ToArray();
    }

    /// <summary>A label map with a class-3 rectangle, a class-15 disc and a 2-pixel ignore border (as VOC's).</summary>
    static byte[] Labels()
    {
        var l = new byte[W * H];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                byte v = 0;
                if (x >= 3 && x < 12 && y >= 4 && y < 15) v = 3;
                if ((x - 25) * (x - 25) + (y - 11) * (y - 11) < 36) v = 15;
                if (x < 2 || y < 2 || x >= W - 2 || y >= H - 2) v = MaskIO.Ignore;
                l[y * W + x] = v;
            }
        return l;
    }

    string Sub(params string[] parts) => Path.Combine(new[] { dir }.Concat(parts).ToArray());

    void WriteVoc(bool classes = false)
    {
        ImageIO.SaveRgb(RandomRgb(1), W, H, Sub("JPEGImages", "2007_000033.png"));
        MaskIO.SaveBytes(Labels(), W, H, Sub("SegmentationClass", "2007_000033.png"));
        ImageIO.SaveRgb(RandomRgb(2), W, H, Sub("JPEGImages", "2007_000042.jpg"));
        MaskIO.SaveBytes(new byte[W * H], W, H, Sub("SegmentationClass", "2007_000042.png"));
        AtomicFile.WriteAllText(Sub("ImageSets", "Segmentation", "val.txt"), "2007_000033\n2007_000042\n");
        if (classes) AtomicFile.WriteAllText(Sub("classes.txt"), string.Join("\n", Enumerable.Range(0, 16).Select(i => $"c{i}")) + "\n");
    }

    [Fact]
    public void VocReadsPalettePngsWithTheIgnoreBorderAtOddSizes()
    {
        WriteVoc();
        var voc = DatasetSpec.Parse($"voc:{dir}").Open("val");
        Assert.Equal(21, voc.ClassNames.Count);
        Assert.Equal("aeroplane", voc.ClassNames[1]);
        Assert.Equal(new[] { "2007_000033", "2007_000042" }, voc.Ids);
        var s = voc.Load("2007_000033");
        Assert.Equal((W, H), (s.Width, s.Height));
        Assert.Equal(Labels(), s.Labels);
        Assert.Equal(RandomRgb(1), s.Rgb);
        Assert.Equal(2 * W + 2 * (H - 2) + 2 * (W - 2) + 2 * (H - 4), s.Labels.Count(l => l == MaskIO.Ignore)); // the 2-pixel frame
        var jpeg = voc.Load("2007_000042");
        Assert.Equal((W, H), (jpeg.Width, jpeg.Height));
        using var truth = s.LabelTensor();
        Assert.Equal(new long[] { H, W }, truth.shape);
        Assert.Equal(15L, truth[11, 25].item<long>());
    }

    [Fact]
    public void VocTakesClassNamesFromClassesTxtAndNamesTheFileAtFault()
    {
        WriteVoc(classes: true);
        var voc = new VocDataset(dir, "val");
        Assert.Equal(16, voc.ClassNames.Count);
        Assert.Equal("c15", voc.ClassNames[15]);
        var missing = Assert.Throws<FileNotFoundException>(() => new VocDataset(dir, "train"));
        Assert.Contains(Path.Combine("ImageSets", "Segmentation", "train.txt"), missing.Message);
        // a mask whose size differs from its image
        MaskIO.SaveBytes(new byte[(W - 1) * H], W - 1, H, Sub("SegmentationClass", "2007_000042.png"));
        var size = Assert.Throws<InvalidDataException>(() => voc.Load("2007_000042"));
        Assert.Contains("2007_000042.png", size.Message);
        Assert.Contains($"{W - 1}x{H}", size.Message);
        // a label the class list lacks
        var bad = Labels();
        bad[W * 10 + 10] = 20;
        MaskIO.SaveBytes(bad, W, H, Sub("SegmentationClass", "2007_000033.png"));
        var label = Assert.Throws<InvalidDataException>(() => voc.Load("2007_000033"));
        Assert.Contains("label 20", label.Message);
        Assert.Contains("2007_000033.png", label.Message);
    }

    [Fact]
    public void UnknownKindsAndMissingFoldersAreClearErrors()
    {
        Assert.Contains("unknown kind 'cityscapes'", Assert.Throws<ArgumentException>(() => DatasetSpec.Parse("cityscapes:/x")).Message);
        Assert.Contains("voc:DIR", Assert.Throws<ArgumentException>(() => DatasetSpec.Parse("voc")).Message);
        Assert.Equal(DatasetSpec.ToyWorld, DatasetSpec.Parse("ToyWorld").Kind);
        Assert.Contains("nope", Assert.Throws<DirectoryNotFoundException>(() => DatasetSpec.Parse($"folder:{dir}/nope").Open("val")).Message);
        Assert.Contains("classes.txt", Assert.Throws<FileNotFoundException>(() => DatasetSpec.Parse($"folder:{dir}").Open("val")).Message);
    }

    [Fact]
    public void SaliencyMasksAreThresholdedToObjectAndBackground()
    {
        var grey = new byte[W * H];
        for (int i = 0; i < grey.Length; i++) grey[i] = (byte)(i % 7 == 0 ? 255 : i % 7 == 1 ? 130 : i % 7 == 2 ? 100 : 0);
        ImageIO.SaveRgb(RandomRgb(3), W, H, Sub("Imgs", "0001.png"));
        MaskIO.SaveBytes(grey, W, H, Sub("GT", "0001.png"), MaskEncoding.Gray);
        var sal = DatasetSpec.Parse($"saliency:{dir}").Open("test");
        Assert.Equal(new[] { "background", "foreground" }, sal.ClassNames);
        Assert.Equal(new[] { "0001" }, sal.Ids);
        var s = sal.Load("0001");
        Assert.Equal(grey.Select(g => (byte)(g >= 128 ? 1 : 0)).ToArray(), s.Labels);
    }

    [Fact]
    public void CocoRasterisesPolygonsBothRleFormsAndCrowdsAsIgnore()
    {
        ImageIO.SaveRgb(RandomRgb(4), W, H, Sub("val2017", "000000000139.png"));
        var rect = new byte[W * H];
        for (int y = 5; y < 9; y++) for (int x = 20; x < 30; x++) rect[y * W + x] = 1;
        var disc = new byte[W * H];
        for (int y = 0; y < H; y++) for (int x = 0; x < W; x++) if ((x - 8) * (x - 8) + (y - 16) * (y - 16) < 16) disc[y * W + x] = 1;
        var crowd = new byte[W * H];
        for (int y = 0; y < 3; y++) for (int x = 0; x < W; x++) crowd[y * W + x] = 1;
        var json = new JsonObject
        {
            ["images"] = new JsonArray(new JsonObject { ["id"] = 139, ["file_name"] = "000000000139.png", ["width"] = W, ["height"] = H }),
            ["categories"] = new JsonArray(new JsonObject { ["id"] = 1, ["name"] = "person" }, new JsonObject { ["id"] = 18, ["name"] = "dog" },
                new JsonObject { ["id"] = 90, ["name"] = "toothbrush" }),
            ["annotations"] = new JsonArray(
                new JsonObject { ["image_id"] = 139, ["category_id"] = 18, ["iscrowd"] = 0, ["segmentation"] = new JsonArray(new JsonArray(1.2, 0.7, 9.6, 3.1, 3.4, 8.8)) },
                new JsonObject { ["image_id"] = 139, ["category_id"] = 90, ["iscrowd"] = 0,
                    ["segmentation"] = new JsonObject { ["size"] = new JsonArray(H, W), ["counts"] = new JsonArray(CocoMasks.Encode(rect, H, W).Select(c => (JsonNode)c).ToArray()) } },
                new JsonObject { ["image_id"] = 139, ["category_id"] = 1, ["iscrowd"] = 0,
                    ["segmentation"] = new JsonObject { ["size"] = new JsonArray(H, W), ["counts"] = CocoMasks.ToCompressedString(CocoMasks.Encode(disc, H, W)) } },
                new JsonObject { ["image_id"] = 139, ["category_id"] = 1, ["iscrowd"] = 1,
                    ["segmentation"] = new JsonObject { ["size"] = new JsonArray(H, W), ["counts"] = CocoMasks.ToCompressedString(CocoMasks.Encode(crowd, H, W)) } }),
        };
        AtomicFile.WriteAllText(Sub("annotations", "instances_val2017.json"), json.ToJsonString());
        var coco = DatasetSpec.Parse($"coco:{dir}").Open("val");
        Assert.Equal(new[] { "background", "person", "dog", "toothbrush" }, coco.ClassNames);
        var s = coco.Load("000000000139");
        var triangle = CocoMasks.FromPolygons(new[] { new[] { 1.2, 0.7, 9.6, 3.1, 3.4, 8.8 } }, H, W);
        for (int i = 0; i < s.Labels.Length; i++)
        {
            int expected = disc[i] == 1 ? 1 : rect[i] == 1 ? 3 : triangle[i] == 1 ? 2 : crowd[i] == 1 ? MaskIO.Ignore : 0;
            Assert.Equal(expected, (int)s.Labels[i]);
        }
        Assert.Contains(s.Labels, l => l == 2);
        Assert.Contains(s.Labels, l => l == MaskIO.Ignore);
        Assert.Contains("instances_train2017.json", Assert.Throws<FileNotFoundException>(() => new CocoDataset(dir, "train")).Message);
    }

    [Theory]
    [InlineData("voc")]
    [InlineData("coco")]
    [InlineData("saliency")]
    [InlineData("folder")]
    public void ToyWorldWrittenInEachLayoutReadsBackExactly(string format)
    {
        var options = new ToyWorldExportOptions { Split = Split.Val, Count = 4, Scene = new ToyWorldOptions { Size = 48 } };
        var ids = ToyWorldLayouts.Write(dir, ToyWorldLayouts.Parse(format), options);
        var toy = new ToyWorldDataset(Split.Val, null, 4, options.Scene);
        var read = DatasetSpec.Parse($"{format}:{dir}").Open("val");
        Assert.Equal(toy.Ids, ids);
        Assert.Equal(toy.Ids, read.Ids);
        Assert.Equal(format == "saliency" ? SaliencyDataset.SaliencyClasses : ToyClasses.All, read.ClassNames);
        foreach (var id in toy.Ids)
        {
            var expected = toy.Load(id);
            var got = read.Load(id);
            Assert.Equal(expected.Rgb, got.Rgb);
            Assert.Equal(format == "saliency" ? expected.Labels.Select(l => (byte)(l != 0 ? 1 : 0)).ToArray() : expected.Labels, got.Labels);
            // the coarse maps written beside the data load for the reader's classes at the image's size
            using var coarse = CoarseMaskFiles.Load(Path.Combine(dir, "coarse"), id, read.ClassNames, got.Width, got.Height);
            Assert.Equal(new long[] { read.ClassNames.Count - 1, got.Height, got.Width }, coarse.shape);
            Assert.True(coarse.amax(new long[] { 1, 2 }).gt(0).sum().item<long>() > 0);
        }
    }

    [Fact]
    public void CoarseLabelMapsKeepIgnoreAsUnknownAndNameBadFiles()
    {
        var names = new[] { "background", "cat", "dog", "bird" };
        var labels = new byte[W * H];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)(i % 5 == 0 ? 2 : i % 5 == 1 ? MaskIO.Ignore : 0);
        MaskIO.SaveBytes(labels, W, H, Sub("coarse", "a.png"));
        using var s = CoarseMaskFiles.Load(Sub("coarse"), "a", names, W, H);
        Assert.Equal(new long[] { 3, H, W }, s.shape);
        var dog = s[1].flatten().data<float>().ToArray();
        Assert.Equal(labels.Select(l => l == 2 ? 1f : l == MaskIO.Ignore ? 0.5f : 0f).ToArray(), dog);
        Assert.Equal(0f, s[0].max().item<float>()); // ignore never turns into a class the map does not hold
        Assert.Equal(0f, s[2].max().item<float>());

        MaskIO.SaveProbability(full(H, W, 0.6f), Sub("coarse", "b", "bird.png"));
        using var maps = CoarseMaskFiles.Load(Sub("coarse"), "b", names, W, H);
        Assert.Equal(153f / 255f, maps[2, 3, 4].item<float>(), 5);
        Assert.Equal(0f, maps[0].max().item<float>());

        Assert.Contains("c.png", Assert.Throws<FileNotFoundException>(() => CoarseMaskFiles.Load(Sub("coarse"), "c", names, W, H)).Message);
        MaskIO.SaveProbability(full(H, W, 0.6f), Sub("coarse", "b", "zebra.png"));
        var unknown = Assert.Throws<InvalidDataException>(() => CoarseMaskFiles.Load(Sub("coarse"), "b", names, W, H));
        Assert.Contains("zebra.png", unknown.Message);
        Assert.Contains("no class 'zebra'", unknown.Message);
        Assert.Contains("a.png", Assert.Throws<InvalidDataException>(() => CoarseMaskFiles.Load(Sub("coarse"), "a", names, W + 1, H)).Message);
    }

    [Fact]
    public void OneObjectMapsReadPaletteLabelsWithIgnoreAsUnknownAndGreyAsProbability()
    {
        var labels = new byte[] { 0, 3, 255, 1, 0, 7 };
        MaskIO.SaveBytes(labels, 3, 2, Sub("palette.png"));
        using var fromLabels = CoarseMaskFiles.LoadObjectMap(Sub("palette.png"));
        Assert.Equal(new[] { 0f, 1f, 0.5f, 1f, 0f, 1f }, fromLabels.flatten().data<float>().ToArray()); // 255 never the object
        MaskIO.SaveBytes(new byte[] { 0, 255, 51, 102, 0, 255 }, 3, 2, Sub("grey.png"), MaskEncoding.Gray);
        using var grey = CoarseMaskFiles.LoadObjectMap(Sub("grey.png"));
        Assert.Equal(new[] { 0f, 1f, 0.2f, 0.4f, 0f, 1f }, grey.flatten().data<float>().ToArray());
        MaskIO.SaveBytes(new byte[] { 0, 1, 1, 0, 0, 1 }, 3, 2, Sub("binary.png"), MaskEncoding.Gray);
        using var binary = CoarseMaskFiles.LoadObjectMap(Sub("binary.png"));
        Assert.Equal(new[] { 0f, 1f, 1f, 0f, 0f, 1f }, binary.flatten().data<float>().ToArray());
    }

    [Theory]
    [InlineData(500, 375, 512, 680, 512)]
    [InlineData(375, 500, 512, 512, 680)]
    [InlineData(64, 64, 64, 64, 64)]
    [InlineData(37, 23, 64, 104, 64)]
    [InlineData(1000, 10, 768, 76800, 768)]
    public void ModelSizeTakesTheShortSideToTheResolutionInMultiplesOfEight(int w, int h, int resolution, int ew, int eh)
    {
        Assert.Equal((ew, eh), ModelSize.Fit(w, h, resolution));
    }
}
