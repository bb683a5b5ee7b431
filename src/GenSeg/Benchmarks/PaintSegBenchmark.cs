using System.Diagnostics;
using GenSeg.Diffusion;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.Features;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;
using GenSeg.ToyWorld.Training;
using static TorchSharp.torch;

namespace GenSeg.Benchmarks;

/// <summary>One timed PaintSeg configuration.</summary>
/// <param name="Label">What was timed, e.g. "ddim 20 it, one at a time".</param>
/// <param name="Options">The settings timed.</param>
/// <param name="ObjectBatch">Objects segmented in lockstep, their paints in one batch.</param>
/// <param name="SecondsPerObject">Mean wall-clock seconds per object (after a warm-up).</param>
/// <param name="Objects">Objects timed.</param>
public sealed record PaintSegTiming(string Label, PaintSegOptions Options, int ObjectBatch, double SecondsPerObject, int Objects);

/// <summary>The PaintSeg speed figures of one run, side by side.</summary>
/// <param name="Timings">Every configuration timed, the baseline first.</param>
/// <param name="Model">The model folder, or a description of the random stand-in.</param>
public sealed record PaintSegBenchmarkResult(IReadOnlyList<PaintSegTiming> Timings, string Model)
{
    /// <summary>The baseline: <see cref="PaintSegBenchmark.DefaultOptions"/> one object at a time.</summary>
    public PaintSegTiming Baseline => Timings[0];

    /// <summary>The last configuration: the preset at its object batch.</summary>
    public PaintSegTiming Preset => Timings[^1];
}

/// <summary>
/// Seconds per object of PaintSeg (for <c>genseg bench</c>): T = 5, N = 5, box prompts on ToyWorld val objects; DDIM with
/// 20 iterations one object at a time (the baseline), the same in object batches, and the toyworld preset (its sampler
/// and iterations) at the evaluation's default object batch, all in one run.
/// </summary>
public static class PaintSegBenchmark
{
    /// <summary>The baseline settings: the paper's, with T = 5, N = 5 and 20 DDIM iterations per paint.</summary>
    public static PaintSegOptions DefaultOptions => new() { Steps = 5, Paints = 5, PaintIterations = 20 };

    /// <summary>
    /// Times <paramref name="objects"/> box-prompted segmentations of ToyWorld val objects per configuration with
    /// <paramref name="pipeline"/>'s inpainting UNet and colour features, each after a warm-up: the baseline one at a time
    /// and in each of <paramref name="batches"/>, then <paramref name="preset"/> (default: the toyworld preset with T = 5
    /// and N = 5) in batches of <paramref name="presetBatch"/> (default: the evaluation's for 64 px images).
    /// </summary>
    public static PaintSegBenchmarkResult Run(StableDiffusionPipeline pipeline, int objects = 8, IReadOnlyList<int>? batches = null,
        PaintSegOptions? preset = null, int presetBatch = Evaluation.PaintSegEvaluation.SmallImageObjectBatch, IFeatureExtractor? features = null,
        Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        if (objects < 1) throw new ArgumentOutOfRangeException(nameof(objects), objects, "objects: expected >= 1");
        batches ??= new[] { 4, 8 };
        preset ??= PaintSegSettings.Table.Preset("toyworld") with { Steps = 5, Paints = 5 };
        features ??= new ColourPositionFeatures(1, 0);
        var inputs = Inputs(objects + 1);
        var timings = new List<PaintSegTiming>();
        void Time(string label, PaintSegOptions options, int batch)
        {
            progress?.Invoke(label);
            var segmenter = new PaintSegSegmenter(new Painter(pipeline, options), features, options);
            using (var scope = NewDisposeScope()) foreach (var r in segmenter.SegmentAll(inputs.Take(1).ToArray())) r.Dispose(); // warm-up
            var watch = Stopwatch.StartNew();
            foreach (var chunk in inputs.Skip(1).Chunk(batch))
            {
                using var scope = NewDisposeScope();
                foreach (var r in segmenter.SegmentAll(chunk)) r.Dispose();
            }
            timings.Add(new PaintSegTiming(label, options, batch, watch.Elapsed.TotalSeconds / objects, objects));
        }
        var baseline = DefaultOptions;
        Time(Describe(baseline, 1), baseline, 1);
        foreach (var b in batches.Where(b => b > 1)) Time(Describe(baseline, b), baseline, b);
        Time("toyworld preset: " + Describe(preset, presetBatch), preset, presetBatch);
        return new PaintSegBenchmarkResult(timings, pipeline.Folder);
    }

    static string Describe(PaintSegOptions o, int batch) =>
        $"{o.Scheduler} {o.PaintIterations} it, " + (batch == 1 ? "one at a time" : $"object batch {batch}");

    /// <summary>The first object of each of the first <paramref name="count"/> ToyWorld val scenes with its box prompt.</summary>
    static PaintSegInput[] Inputs(int count)
    {
        var (first, _) = Splits.Range(Split.Val);
        return Enumerable.Range(0, count).Select(i =>
        {
            var scene = SceneGenerator.Generate(first + i);
            return new PaintSegInput(scene.ImageTensor(), ScenePrompts.Box(scene.Objects[0], scene.Size), (ulong)i);
        }).ToArray();
    }

    /// <summary>
    /// Writes the embedded model's architecture (<see cref="ToyModelConfigs"/>, with an inpainting UNet) with random
    /// weights to <paramref name="folder"/>: painting speed does not depend on the weights, so this stands in when the
    /// trained model is missing.
    /// </summary>
    public static string WriteRandomEmbedded(string folder, int seed = 0)
    {
        manual_seed(seed);
        var tokDir = Path.Combine(folder, "tokenizer-src");
        ToyVocabulary.Write(tokDir);
        var tok = ClipTokenizer.FromFolder(tokDir);
        using var vae = AutoencoderKL.FromConfig(ToyModelConfigs.Vae);
        using var text = ClipTextModel.FromConfig(ToyModelConfigs.TextEncoder(tok.Vocabulary, tok.EndToken));
        using var unet = UNet2DConditionModel.FromConfig(ToyModelConfigs.Unet());
        using var inpaint = UNet2DConditionModel.FromConfig(ToyModelConfigs.Unet(9));
        var model = Path.Combine(folder, "model");
        StableDiffusionPipeline.Save(model, unet, vae, text, tokDir, new DDIMScheduler(ToyModelConfigs.Scheduler), inpaint);
        return model;
    }
}
