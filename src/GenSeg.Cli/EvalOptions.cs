using System.CommandLine;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;

namespace GenSeg.Cli;

/// <summary>
/// The options every <c>genseg eval</c> method command shares, parsed in one place: which images (<c>--dataset</c>,
/// <c>--split</c>, <c>--count</c>, <c>--first-seed</c>), the model, the starting settings (<c>--preset</c>) and a
/// <c>--sweep</c> over one setting, the outputs (<c>--json</c>, <c>--results</c> with <c>--resume</c>), <c>--shard</c>
/// and <c>--threads</c>. Every error names the flag.
/// </summary>
public sealed class EvalOptions
{
    /// <summary>The options, with a method's defaults: its split, count (and what it counts), threads and preset names.</summary>
    public EvalOptions(string split, int count, string countOf, int threads, IReadOnlyList<string> presets)
    {
        Split = new("--split") { Description = "val (tuning) or test (reporting); with --dataset KIND:DIR the dataset's split", DefaultValueFactory = _ => split };
        Count = new("--count") { Description = $"Number of {countOf} (with --dataset KIND:DIR: the split's first N images; default all)", DefaultValueFactory = _ => count };
        FirstSeed = new("--first-seed") { Description = "First scene seed (absolute; default: the split's first)" };
        Model = new("--model") { Description = "Diffusers model folder", DefaultValueFactory = _ => KitPaths.EmbeddedModel };
        Json = new("--json") { Description = "Write the result as JSON to this file (atomically)" };
        Threads = new("--threads") { Description = "Torch intra-op threads (0 = the default)", DefaultValueFactory = _ => threads };
        Sweep = new("--sweep") { Description = "Evaluate several values of one setting on the same images: name=v1,v2,..." };
        Preset = new("--preset") { Description = $"Starting settings: {string.Join(" or ", presets)}; flags override", DefaultValueFactory = _ => presets[0] };
        Dataset = new("--dataset") { Description = "toyworld (default), or voc:DIR, coco:DIR, saliency:DIR, folder:DIR", DefaultValueFactory = _ => DatasetSpec.ToyWorld };
        Results = new("--results") { Description = "Stream one JSON line per image (G4Seg) or target (PaintSeg) to this .jsonl file: enough to recompute the result" };
        Resume = new("--resume") { Description = "Continue --results: skip what it already holds (the same settings only)" };
        Shard = new("--shard") { Description = "I/N: take every N-th image from position I (0-based), for N runs in parallel; merge with `genseg eval merge`" };
    }

    /// <summary><c>--split</c>.</summary>
    public Option<string> Split { get; }
    /// <summary><c>--count</c>.</summary>
    public Option<int> Count { get; }
    /// <summary><c>--first-seed</c>.</summary>
    public Option<int?> FirstSeed { get; }
    /// <summary><c>--model</c>.</summary>
    public Option<string> Model { get; }
    /// <summary><c>--json</c>.</summary>
    public Option<string?> Json { get; }
    /// <summary><c>--threads</c>.</summary>
    public Option<int> Threads { get; }
    /// <summary><c>--sweep</c>.</summary>
    public Option<string?> Sweep { get; }
    /// <summary><c>--preset</c>.</summary>
    public Option<string> Preset { get; }
    /// <summary><c>--dataset</c>.</summary>
    public Option<string> Dataset { get; }
    /// <summary><c>--results</c>.</summary>
    public Option<string?> Results { get; }
    /// <summary><c>--resume</c>.</summary>
    public Option<bool> Resume { get; }
    /// <summary><c>--shard</c>.</summary>
    public Option<string?> Shard { get; }

    /// <summary>Adds every option to <paramref name="cmd"/>.</summary>
    public void AddTo(Command cmd)
    {
        ArgumentNullException.ThrowIfNull(cmd);
        foreach (var o in new Option[] { Split, Count, FirstSeed, Model, Json, Threads, Sweep, Preset, Dataset, Results, Resume, Shard }) cmd.Options.Add(o);
    }

    /// <summary>The parsed <c>--dataset</c>.</summary>
    public DatasetSpec DatasetOf(ParseResult parse) => CliCommon.Flag("--dataset", () => DatasetSpec.Parse(parse.GetValue(Dataset)!));

    /// <summary>Whether the run is on ToyWorld (the default dataset).</summary>
    public bool OnToyWorld(ParseResult parse) => DatasetOf(parse).Kind == DatasetSpec.ToyWorld;

    /// <summary>ToyWorld's split; an error names the flag.</summary>
    public Split ToyWorldSplit(ParseResult parse) => CliCommon.Flag("--split", () => Splits.Parse(parse.GetValue(Split)!));

    /// <summary><c>--count</c>, at least 1.</summary>
    public int CountOf(ParseResult parse)
    {
        int n = parse.GetValue(Count);
        return n >= 1 ? n : throw new ArgumentException($"--count {n}: expected at least 1");
    }

    /// <summary><c>--count</c> when given on the command line (datasets take all images otherwise).</summary>
    public int? ExplicitCount(ParseResult parse) => parse.GetResult(Count) is { Implicit: false } ? CountOf(parse) : null;

    /// <summary>
    /// The images: ToyWorld's <paramref name="scenes"/> scenes of the split from <c>--first-seed</c>, or the dataset's
    /// split (its first <c>--count</c> images when given).
    /// </summary>
    public ISegmentationDataset Images(ParseResult parse, int scenes)
    {
        var spec = DatasetOf(parse);
        if (spec.Kind != DatasetSpec.ToyWorld)
        {
            var dataset = CliCommon.Flag("--dataset", () => spec.Open(parse.GetValue(Split)!));
            return ExplicitCount(parse) is { } n ? new FirstImages(dataset, n) : dataset;
        }
        var split = ToyWorldSplit(parse);
        return CliCommon.Flag("--first-seed", () => new ToyWorldDataset(split, parse.GetValue(FirstSeed), scenes));
    }

    /// <summary>Loads <c>--model</c> on <c>--device</c> in <c>--dtype</c>; a missing folder names the flag.</summary>
    public StableDiffusionPipeline LoadModel(ParseResult parse)
    {
        var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
        var folder = parse.GetValue(Model)!;
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"--model {folder}: model folder not found" + (folder == KitPaths.EmbeddedModel
                ? " (the embedded model is not assembled yet: pass a folder from `genseg train-toy assemble --out DIR`)" : ""));
        return StableDiffusionPipeline.Load(folder, device, CliCommon.DTypeOf(parse));
    }

    /// <summary>The starting settings: <c>--preset</c> of <paramref name="table"/> with every flag of <paramref name="flags"/> applied.</summary>
    public T Settings<T>(ParseResult parse, SettingTable<T> table, SettingFlags<T> flags) where T : class
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(flags);
        var start = CliCommon.Flag("--preset", () => table.Preset(parse.GetValue(Preset)!));
        return flags.Apply(parse, start);
    }

    /// <summary>The rows to run: one per <c>--sweep</c> value (labelled "name=value"), or <paramref name="settings"/> alone as <paramref name="label"/>.</summary>
    public IReadOnlyList<(string Label, T Options)> Rows<T>(ParseResult parse, SettingTable<T> table, T settings, string label) where T : class
    {
        ArgumentNullException.ThrowIfNull(table);
        if (parse.GetValue(Sweep) is not { } spec) return new[] { (label, settings) };
        return CliCommon.Flag("--sweep", () => table.Sweep(spec, settings));
    }

    /// <summary><c>--shard</c>.</summary>
    public Evaluation.Shard ShardOf(ParseResult parse) =>
        parse.GetValue(Shard) is { } s ? CliCommon.Flag("--shard", () => Evaluation.Shard.Parse(s)) : Evaluation.Shard.All;

    /// <summary>The <c>--results</c> log, opened (resumed with <c>--resume</c>), or null.</summary>
    public ResultsLog? OpenLog(ParseResult parse)
    {
        if (parse.GetValue(Results) is not { } path)
        {
            if (parse.GetValue(Resume)) throw new ArgumentException("--resume: continues a --results file; pass --results FILE.jsonl");
            return null;
        }
        var log = CliCommon.Flag("--results", () => ResultsLog.Open(path, parse.GetValue(Resume)));
        if (log.Existing.Count > 0) AnsiConsole.MarkupLineInterpolated($"resuming [green]{log.Path}[/]: {log.Existing.Count} records already there");
        return log;
    }

    /// <summary>Uses <c>--threads</c> until disposed (null for 0: the default).</summary>
    public IDisposable? UseThreads(ParseResult parse) => parse.GetValue(Threads) is > 0 and var t ? TorchThreads.Use(t) : null;

    /// <summary>A dataset's first images.</summary>
    sealed class FirstImages(ISegmentationDataset inner, int count) : ISegmentationDataset
    {
        public string Spec => inner.Spec;
        public string Split => inner.Split;
        public IReadOnlyList<string> ClassNames => inner.ClassNames;
        public IReadOnlyList<string> Ids { get; } = inner.Ids.Take(count).ToArray();
        public Sample Load(string id) => inner.Load(id);
    }
}
