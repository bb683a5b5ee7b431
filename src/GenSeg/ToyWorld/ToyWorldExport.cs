using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using GenSeg.Common;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld;

/// <summary>A coarse mask in the manifest: its file, seed, IoU with the truth and how it was made.</summary>
public sealed record CoarseEntry(string Probability, ulong Seed, double Iou, IReadOnlyList<CoarseOpEntry> Record);

/// <summary>One coarse-mask operation in the manifest.</summary>
public sealed record CoarseOpEntry(string Name, IReadOnlyDictionary<string, double> Parameters);

/// <summary>The prompts of one object in the manifest: boxes as [x0, y0, x1, y1) and points as [x, y].</summary>
public sealed record PromptsEntry(double Noise, int[] Box, int[] Point, int[] RandomPoint, int[][] Scribble);

/// <summary>One object in the manifest.</summary>
public sealed record ObjectEntry(int Index, int Class, string ClassName, string Colour, string Texture, int[] Box, int VisibleArea,
    double[] Center, double Radius, double Rotation, string Instance, CoarseEntry Coarse, PromptsEntry Prompts);

/// <summary>One scene in the manifest; file paths are relative to the manifest's folder.</summary>
public sealed record SceneEntry(int Seed, string Image, string Semantic, string Caption, string CaptionClassOnly, string Background,
    string Palette, IReadOnlyList<ObjectEntry> Objects);

/// <summary>The manifest of an exported ToyWorld set (<c>manifest.json</c>).</summary>
public sealed record ToyWorldManifest(string Format, string Split, int FirstSeed, int Count, int Size, string Severity, double SeverityLevel,
    double PromptNoise, IReadOnlyList<string> Classes, IReadOnlyList<SceneEntry> Scenes)
{
    /// <summary>The format tag written into every manifest.</summary>
    public const string FormatTag = "genseg-toyworld/1";

    /// <summary>JSON settings of the manifest: camelCase, indented.</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new InlineArrayConverter<int>(), new InlineArrayConverter<double>() },
    };

    /// <summary>Reads a manifest; errors name the file.</summary>
    public static ToyWorldManifest Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"manifest '{path}': not found", path);
        try
        {
            var m = JsonSerializer.Deserialize<ToyWorldManifest>(File.ReadAllText(path), Json)
                    ?? throw new InvalidDataException($"manifest '{path}': empty");
            if (m.Format != FormatTag) throw new InvalidDataException($"manifest '{path}': format '{m.Format}', expected '{FormatTag}'");
            return m;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"manifest '{path}': not valid JSON ({e.Message})", e);
        }
    }
}

/// <summary>Writes number arrays (boxes, points) on one line inside an indented document.</summary>
internal sealed class InlineArrayConverter<T> : JsonConverter<T[]>
{
    public override T[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"expected an array of {typeof(T).Name}");
        var items = new List<T>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            items.Add(typeof(T) == typeof(int) ? (T)(object)reader.GetInt32() : (T)(object)reader.GetDouble());
        return items.ToArray();
    }

    public override void Write(Utf8JsonWriter writer, T[] value, JsonSerializerOptions options) =>
        writer.WriteRawValue("[" + string.Join(",", value.Select(v => Convert.ToString(v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : v, CultureInfo.InvariantCulture))) + "]");
}

/// <summary>What to export: a seed range of a split and how to make coarse masks and prompts.</summary>
public sealed record ToyWorldExportOptions
{
    /// <summary>Split the seeds come from.</summary>
    public Split Split { get; init; } = Split.Test;

    /// <summary>First seed (absolute; the split's first seed when null).</summary>
    public int? FirstSeed { get; init; }

    /// <summary>Number of scenes.</summary>
    public int Count { get; init; } = 200;

    /// <summary>Scene options (image size and the rest).</summary>
    public ToyWorldOptions Scene { get; init; } = new();

    /// <summary>Coarse-mask severity.</summary>
    public Severity Severity { get; init; } = Severity.Medium;

    /// <summary>Prompt noise as a fraction of half the box diagonal.</summary>
    public double PromptNoise { get; init; }
}

/// <summary>
/// Writes ToyWorld scenes to a folder: images/SEED.png, semantic/SEED.png (VOC palette), instances/SEED_K.png (palette,
/// 0/1), coarse/SEED_K.png (probability as 8-bit grey) and manifest.json (captions, classes, boxes, colours, coarse-mask
/// records and IoUs, prompts). Every file is written atomically; the manifest last.
/// </summary>
public static class ToyWorldExport
{
    /// <summary>Exports the scenes; <paramref name="progress"/> gets the number of scenes written so far.</summary>
    public static ToyWorldManifest Write(string outDir, ToyWorldExportOptions options, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(outDir);
        ArgumentNullException.ThrowIfNull(options);
        options.Scene.Validate();
        Check.InRange(options.PromptNoise, "prompt noise", 0, 10);
        var seeds = Splits.Seeds(options.Split, options.FirstSeed, options.Count);
        var entries = new SceneEntry[seeds.Count];
        int done = 0;
        // Scenes are independent: write them on all cores; the manifest keeps seed order.
        Parallel.For(0, seeds.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            entries[i] = WriteScene(outDir, SceneGenerator.Generate(seeds[i], options.Scene), options);
            progress?.Invoke(Interlocked.Increment(ref done));
        });
        var manifest = new ToyWorldManifest(ToyWorldManifest.FormatTag, options.Split.ToString().ToLowerInvariant(),
            seeds.Count > 0 ? seeds[0] : options.FirstSeed ?? Splits.Range(options.Split).First, seeds.Count, options.Scene.Size,
            options.Severity.ToString(), options.Severity.Level, options.PromptNoise, ToyClasses.All, entries);
        AtomicFile.WriteAllText(Path.Combine(outDir, "manifest.json"), JsonSerializer.Serialize(manifest, ToyWorldManifest.Json));
        return manifest;
    }

    /// <summary>Writes one scene's files and returns its manifest entry.</summary>
    public static SceneEntry WriteScene(string outDir, Scene scene, ToyWorldExportOptions options)
    {
        string name = scene.Seed.ToString("D7", CultureInfo.InvariantCulture);
        string image = $"images/{name}.png", semantic = $"semantic/{name}.png";
        ImageIO.SaveRgb(scene.Rgb, scene.Size, scene.Size, Path.Combine(outDir, image));
        MaskIO.SaveBytes(scene.Semantic, scene.Size, scene.Size, Path.Combine(outDir, semantic));
        var objects = new List<ObjectEntry>();
        for (int k = 0; k < scene.Objects.Count; k++)
        {
            var o = scene.Objects[k];
            string instance = $"instances/{name}_{k}.png", coarsePath = $"coarse/{name}_{k}.png";
            MaskIO.SaveBytes(o.Instance, scene.Size, scene.Size, Path.Combine(outDir, instance));
            CoarseEntry coarseEntry;
            using (var scope = NewDisposeScope())
            {
                var truth = scene.InstanceTensor(k);
                ulong seed = CoarseMasks.SeedFor(scene.Seed, k);
                using var coarse = CoarseMasks.Make(truth, options.Severity, seed);
                MaskIO.SaveProbability(coarse.Probability, Path.Combine(outDir, coarsePath));
                double iou = BinaryIou(Masks.ToBytes(coarse.Binary), o.Instance);
                coarseEntry = new CoarseEntry(coarsePath, seed, iou, coarse.Record.Select(r => new CoarseOpEntry(r.Name, r.Parameters)).ToList());
            }
            ulong promptSeed = Pcg32.Derive(CoarseMasks.SeedFor(scene.Seed, k), 0x9807);
            double noise = options.PromptNoise;
            var box = ScenePrompts.Box(o, scene.Size, noise, promptSeed).Box!.Value;
            var point = ScenePrompts.Point(o, scene.Size, PointMode.Centroid, noise, promptSeed).Points[0];
            var random = ScenePrompts.Point(o, scene.Size, PointMode.RandomInterior, noise, promptSeed).Points[0];
            var scribble = ScenePrompts.Scribble(o, scene.Size, noise, promptSeed).Points;
            var prompts = new PromptsEntry(noise, BoxArray(box), new[] { point.X, point.Y }, new[] { random.X, random.Y },
                scribble.Select(p => new[] { p.X, p.Y }).ToArray());
            objects.Add(new ObjectEntry(k, o.ClassIndex, o.ClassName, o.ColourName, o.Texture.ToString(), BoxArray(o.Box), o.VisibleArea,
                new[] { o.Center.X, o.Center.Y }, o.Radius, o.Rotation, instance, coarseEntry, prompts));
        }
        return new SceneEntry(scene.Seed, image, semantic, scene.Caption, scene.CaptionFor(CaptionStyle.ClassOnly),
            scene.Background.ToString(), scene.BackgroundPalette, objects);
    }

    static int[] BoxArray(Box b) => new[] { b.X0, b.Y0, b.X1, b.Y1 };

    static double BinaryIou(byte[] a, byte[] b)
    {
        long inter = 0, union = 0;
        for (int i = 0; i < a.Length; i++)
        {
            bool x = a[i] != 0, y = b[i] != 0;
            if (x && y) inter++;
            if (x || y) union++;
        }
        return union == 0 ? 1 : (double)inter / union;
    }
}
