using System.Text.Json.Nodes;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Imaging;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld;

/// <summary>The dataset layouts ToyWorld can be written in (<c>genseg toyworld --format</c>).</summary>
public enum DatasetLayout
{
    /// <summary>The kit's own layout with a manifest (<see cref="ToyWorldExport"/>).</summary>
    Manifest,

    /// <summary>PASCAL VOC 2012 (<see cref="VocDataset"/>).</summary>
    Voc,

    /// <summary>COCO instances JSON with compressed RLE (<see cref="CocoDataset"/>).</summary>
    Coco,

    /// <summary>Salient objects: every object is the foreground (<see cref="SaliencyDataset"/>).</summary>
    Saliency,

    /// <summary>images/, masks/ and classes.txt (<see cref="FolderDataset"/>).</summary>
    Folder,
}

/// <summary>
/// Writes ToyWorld scenes in the layout of each dataset reader, so the readers and evaluations run end to end on data
/// the kit makes: reading the written folder gives back the scenes' images, truths and class names exactly (images are
/// PNG, also under VOC's <c>JPEGImages</c>; saliency keeps the union of the objects). Every layout also gets
/// <c>coarse/ID/CLASS.png</c>: per class the perturbed coarse map (at the export's severity, the maximum over the
/// class's objects, as <c>genseg eval g4seg</c> makes them), for <c>--coarse-dir DIR/coarse</c>. Files are written
/// atomically, the split list or annotation file last.
/// </summary>
public static class ToyWorldLayouts
{
    /// <summary>Parses <c>voc</c>, <c>coco</c>, <c>saliency</c>, <c>folder</c> or <c>manifest</c>.</summary>
    public static DatasetLayout Parse(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "manifest" or "genseg" => DatasetLayout.Manifest,
        "voc" => DatasetLayout.Voc,
        "coco" => DatasetLayout.Coco,
        "saliency" => DatasetLayout.Saliency,
        "folder" => DatasetLayout.Folder,
        _ => throw new ArgumentException($"format '{name}': expected manifest, voc, coco, saliency or folder", nameof(name)),
    };

    /// <summary>Writes the scenes of <paramref name="options"/> to <paramref name="outDir"/> in <paramref name="layout"/>; returns the ids.</summary>
    public static IReadOnlyList<string> Write(string outDir, DatasetLayout layout, ToyWorldExportOptions options, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(outDir);
        ArgumentNullException.ThrowIfNull(options);
        if (layout == DatasetLayout.Manifest) return ToyWorldExport.Write(outDir, options, progress).Scenes.Select(s => ToyWorldDataset.IdOf(s.Seed)).ToArray();
        options.Scene.Validate();
        var seeds = Splits.Seeds(options.Split, options.FirstSeed, options.Count);
        var split = options.Split.ToString().ToLowerInvariant();
        var ids = seeds.Select(ToyWorldDataset.IdOf).ToArray();
        var annotations = new JsonArray[seeds.Count];
        int done = 0;
        Parallel.For(0, seeds.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var scene = SceneGenerator.Generate(seeds[i], options.Scene);
            annotations[i] = WriteScene(outDir, layout, scene, options.Severity);
            progress?.Invoke(Interlocked.Increment(ref done));
        });
        var names = layout == DatasetLayout.Saliency ? SaliencyDataset.SaliencyClasses : ToyClasses.All;
        switch (layout)
        {
            case DatasetLayout.Voc:
                AtomicFile.WriteAllText(Path.Combine(outDir, "classes.txt"), Lines(names));
                AtomicFile.WriteAllText(Path.Combine(outDir, "ImageSets", "Segmentation", split + ".txt"), Lines(ids));
                break;
            case DatasetLayout.Folder:
                AtomicFile.WriteAllText(Path.Combine(outDir, "classes.txt"), Lines(names));
                AtomicFile.WriteAllText(Path.Combine(outDir, split + ".txt"), Lines(ids));
                break;
            case DatasetLayout.Coco:
                AtomicFile.WriteAllText(Path.Combine(outDir, "annotations", $"instances_{split}.json"), CocoJson(seeds, options.Scene.Size, annotations).ToJsonString());
                break;
        }
        return ids;
    }

    static string Lines(IEnumerable<string> lines) => string.Concat(lines.Select(l => l + "\n"));

    /// <summary>Writes one scene's image, truth and coarse maps; for COCO returns the scene's annotations.</summary>
    static JsonArray WriteScene(string outDir, DatasetLayout layout, Scene scene, Severity severity)
    {
        string id = ToyWorldDataset.IdOf(scene.Seed);
        int size = scene.Size;
        var (imageDir, maskDir) = layout switch
        {
            DatasetLayout.Voc => ("JPEGImages", "SegmentationClass"),
            DatasetLayout.Coco => ("images", null),
            _ => ("images", "masks"),
        };
        ImageIO.SaveRgb(scene.Rgb, size, size, Path.Combine(outDir, imageDir, id + ".png"));
        if (layout == DatasetLayout.Saliency)
            MaskIO.SaveBytes(Array.ConvertAll(scene.Semantic, l => (byte)(l != 0 ? 255 : 0)), size, size, Path.Combine(outDir, maskDir!, id + ".png"), MaskEncoding.Gray);
        else if (maskDir is not null)
            MaskIO.SaveBytes(scene.Semantic, size, size, Path.Combine(outDir, maskDir, id + ".png"));
        WriteCoarse(Path.Combine(outDir, "coarse", id), scene, severity, layout == DatasetLayout.Saliency);
        var annotations = new JsonArray();
        if (layout == DatasetLayout.Coco)
            for (int k = 0; k < scene.Objects.Count; k++)
            {
                var o = scene.Objects[k];
                var counts = CocoMasks.Encode(o.Instance, size, size);
                annotations.Add(new JsonObject
                {
                    ["id"] = (long)scene.Seed * 100 + k + 1,
                    ["image_id"] = scene.Seed,
                    ["category_id"] = o.ClassIndex,
                    ["iscrowd"] = 0,
                    ["area"] = o.VisibleArea,
                    ["bbox"] = new JsonArray(o.Box.X0, o.Box.Y0, o.Box.X1 - o.Box.X0, o.Box.Y1 - o.Box.Y0),
                    ["segmentation"] = new JsonObject { ["size"] = new JsonArray(size, size), ["counts"] = CocoMasks.ToCompressedString(counts) },
                });
            }
        return annotations;
    }

    /// <summary>The scene's coarse maps per class (or one foreground map), as probability PNGs in <paramref name="folder"/>.</summary>
    static void WriteCoarse(string folder, Scene scene, Severity severity, bool foregroundOnly)
    {
        using var scope = NewDisposeScope();
        var maps = new Dictionary<string, Tensor>();
        for (int k = 0; k < scene.Objects.Count; k++)
        {
            using var coarse = CoarseMasks.Make(scene.InstanceTensor(k), severity, CoarseMasks.SeedFor(scene.Seed, k));
            var name = foregroundOnly ? SaliencyDataset.SaliencyClasses[1] : scene.Objects[k].ClassName;
            maps[name] = maps.TryGetValue(name, out var m) ? maximum(m, coarse.Probability) : coarse.Probability.clone();
        }
        foreach (var (name, map) in maps) MaskIO.SaveProbability(map, Path.Combine(folder, name + ".png"));
        if (maps.Count == 0) Directory.CreateDirectory(folder);
    }

    static JsonObject CocoJson(IReadOnlyList<int> seeds, int size, JsonArray[] annotations) => new()
    {
        ["info"] = new JsonObject { ["description"] = "ToyWorld written by genseg toyworld --format coco" },
        ["images"] = new JsonArray(seeds.Select(s => (JsonNode)new JsonObject
        {
            ["id"] = s,
            ["file_name"] = ToyWorldDataset.IdOf(s) + ".png",
            ["width"] = size,
            ["height"] = size,
        }).ToArray()),
        ["annotations"] = new JsonArray(annotations.SelectMany(a => a.Select(n => n!.DeepClone())).ToArray()),
        ["categories"] = new JsonArray(ToyClasses.ObjectClasses.Select(c => (JsonNode)new JsonObject { ["id"] = c, ["name"] = ToyClasses.Name(c) }).ToArray()),
    };
}
