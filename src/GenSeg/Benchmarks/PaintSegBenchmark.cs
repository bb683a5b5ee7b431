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

/// <summary>The PaintSeg speed figure.</summary>
/// <param name="SecondsPerObject">Mean wall-clock seconds of one segmentation (after a warm-up).</param>
/// <param name="Objects">Objects timed.</param>
/// <param name="Options">The settings timed.</param>
/// <param name="Model">The model folder, or a description of the random stand-in.</param>
public sealed record PaintSegBenchmarkResult(double SecondsPerObject, int Objects, PaintSegOptions Options, string Model);

/// <summary>Seconds per object of PaintSeg (for <c>genseg bench</c>): T = 5, N = 5, 20 painting iterations by default.</summary>
public static class PaintSegBenchmark
{
    /// <summary>The timed settings: the paper's, with T = 5, N = 5 and 20 DDIM iterations per paint.</summary>
    public static PaintSegOptions DefaultOptions => new() { Steps = 5, Paints = 5, PaintIterations = 20 };

    /// <summary>
    /// Times <paramref name="objects"/> box-prompted segmentations of ToyWorld val objects with <paramref name="pipeline"/>'s
    /// inpainting UNet and colour features, after one warm-up segmentation.
    /// </summary>
    public static PaintSegBenchmarkResult Run(StableDiffusionPipeline pipeline, int objects = 3, PaintSegOptions? options = null, IFeatureExtractor? features = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        if (objects < 1) throw new ArgumentOutOfRangeException(nameof(objects), objects, "objects: expected >= 1");
        options ??= DefaultOptions;
        var segmenter = new PaintSegSegmenter(new Painter(pipeline, options), features ?? new ColourPositionFeatures(1, 0), options);
        var (first, _) = Splits.Range(Split.Val);
        double total = 0;
        for (int i = 0; i <= objects; i++)
        {
            using var scope = NewDisposeScope();
            var scene = SceneGenerator.Generate(first + i);
            var prompt = ScenePrompts.Box(scene.Objects[0], scene.Size);
            var image = scene.ImageTensor().to(pipeline.Device);
            var watch = Stopwatch.StartNew();
            using var result = segmenter.Segment(image, prompt, (ulong)i);
            if (i > 0) total += watch.Elapsed.TotalSeconds; // the first run warms up
        }
        return new PaintSegBenchmarkResult(total / objects, objects, options, pipeline.Folder);
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
