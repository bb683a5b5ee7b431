using GenSeg.Diffusion;
using GenSeg.Features;
using GenSeg.Imaging;
using GenSeg.ToyWorld;
using GenSeg.ToyWorld.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>Generation check: share of samples that contain the named shape, per class.</summary>
/// <param name="Rate">Share over all samples.</param>
/// <param name="PerClass">Share per class name.</param>
/// <param name="ClassifierValAccuracy">The judging classifier's exact-set accuracy on real val scenes.</param>
/// <param name="Samples">The generated images [N, 3, H, W] (for display).</param>
/// <param name="Prompts">The prompt of each sample.</param>
public sealed record GenerationQuality(double Rate, IReadOnlyDictionary<string, double> PerClass, double ClassifierValAccuracy, Tensor Samples, IReadOnlyList<string> Prompts);

/// <summary>Inpainting check: feature distance of painted object regions vs painted background regions.</summary>
/// <param name="ObjectDistance">Mean feature distance to the original inside painted (dilated) object regions.</param>
/// <param name="BackgroundDistance">The same for equally sized background regions painted the same way.</param>
/// <param name="Pairs">Number of (object, background) pairs measured.</param>
public sealed record InpaintingQuality(double ObjectDistance, double BackgroundDistance, int Pairs)
{
    /// <summary>Object / background distance: what PaintSeg's I-step relies on (target 3 or more).</summary>
    public double Ratio => ObjectDistance / Math.Max(1e-12, BackgroundDistance);
}

/// <summary>The embedded model's quality figures that are not segmentation: generation and inpainting.</summary>
public static class ModelQuality
{
    /// <summary>
    /// Samples <paramref name="perClass"/> images per class for "a photo of a {colour} {class}" (25 DDIM steps by default)
    /// and judges them with a <see cref="ShapeClassifier"/> trained here (its val accuracy is returned too).
    /// </summary>
    public static GenerationQuality Generation(StableDiffusionPipeline pipeline, int perClass = 5, int steps = 25, double guidance = 5.0,
        int seed = 0, ShapeClassifier? classifier = null, double classifierAccuracy = double.NaN, IProgress<string>? progress = null)
    {
        if (classifier is null) (classifier, classifierAccuracy) = ShapeClassifier.Train(progress: new Progress<int>(_ => { }));
        var colours = Palettes.ObjectColours.Select(c => c.Name).ToArray();
        var prompts = new List<string>();
        var classes = new List<int>();
        foreach (var c in ToyClasses.ObjectClasses)
            for (int i = 0; i < perClass; i++)
            {
                prompts.Add($"a photo of a {colours[(c * 7 + i * 3) % colours.Length]} {ToyClasses.Name(c)}");
                classes.Add(c);
            }
        var gen = new Generator((ulong)seed);
        var samples = new List<Tensor>();
        for (int start = 0; start < prompts.Count; start += 8)
        {
            progress?.Report($"generating {start}/{prompts.Count}");
            samples.Add(pipeline.Generate(prompts.Skip(start).Take(8).ToArray(), steps, guidance, generator: gen).cpu());
        }
        var all = cat(samples.ToArray(), 0);
        var hits = new double[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
            hits[i] = classifier.Names(all[i].unsqueeze(0), classes[i]).item<bool>() ? 1 : 0;
        var perClassRate = ToyClasses.ObjectClasses.ToDictionary(ToyClasses.Name, c => Enumerable.Range(0, prompts.Count).Where(i => classes[i] == c).Average(i => hits[i]));
        return new GenerationQuality(hits.Average(), perClassRate, classifierAccuracy, all, prompts);
    }

    /// <summary>
    /// For val scenes: paints each object's dilated mask with a caption that omits the object, and the same mask moved
    /// onto background (where it overlaps no object) with the full caption; compares the mean per-pixel feature distance
    /// between painted and original images inside the two regions.
    /// </summary>
    public static InpaintingQuality Inpainting(StableDiffusionPipeline pipeline, IFeatureExtractor features, int scenes = 24, int steps = 25,
        double guidance = 5.0, int seed = 0, IProgress<string>? progress = null)
    {
        var gen = new Generator((ulong)seed);
        double objectSum = 0, backgroundSum = 0;
        int pairs = 0;
        foreach (var sceneSeed in Splits.Seeds(Split.Val, null, scenes * 3))
        {
            if (pairs >= scenes) break;
            var scene = SceneGenerator.Generate(sceneSeed);
            var objMask = Morphology.Dilate(scene.InstanceTensor(0), Kernel.Square(3), 2);
            var anyObject = Morphology.Dilate((scene.SemanticTensor() > 0).to_type(ScalarType.Float32), Kernel.Square(3), 2);
            var moved = MoveOntoBackground(objMask, anyObject);
            if (moved is null) continue;
            progress?.Report($"inpainting {pairs}/{scenes}");
            using var scope = NewDisposeScope();
            var image = scene.ImageTensor().unsqueeze(0);
            var without = SceneGenerator.Generate(scene.Seed, null, new[] { 0 });
            var images = cat(new[] { image, image }, 0);
            var masks = stack(new[] { objMask, moved }).unsqueeze(1);
            var prompts = new[] { without.CaptionFor(CaptionStyle.ClassOnly), scene.CaptionFor(CaptionStyle.ClassOnly) };
            var painted = pipeline.Inpaint(images, masks, prompts, steps, guidance, gen).cpu();
            var fo = FeatureMaps.ToPixels(features.Extract(images), 64, 64, normalise: false);
            var fp = FeatureMaps.ToPixels(features.Extract(painted), 64, 64, normalise: false);
            var dist = (fo - fp).pow(2).sum(1).sqrt(); // [2, H, W]
            objectSum += (dist[0] * objMask).sum().item<float>() / objMask.sum().item<float>();
            backgroundSum += (dist[1] * moved).sum().item<float>() / moved.sum().item<float>();
            pairs++;
        }
        if (pairs == 0) throw new InvalidOperationException("no val scene had room to move an object's mask onto background");
        return new InpaintingQuality(objectSum / pairs, backgroundSum / pairs, pairs);
    }

    /// <summary>The mask translated to the first offset (scanning a grid) where it overlaps no object; null if none.</summary>
    static Tensor? MoveOntoBackground(Tensor mask, Tensor objects)
    {
        var box = Boxes.BoundingBox(mask);
        if (box is null) return null;
        var b = box.Value;
        int size = (int)mask.shape[1];
        for (int y = 0; y + b.Height <= size; y += 4)
            for (int x = 0; x + b.Width <= size; x += 4)
            {
                var moved = roll(mask, new long[] { y - b.Y0, x - b.X0 }, new long[] { 0, 1 });
                if ((moved * objects).sum().item<float>() == 0 && moved.sum().item<float>() == mask.sum().item<float>()) return moved;
            }
        return null;
    }
}

/// <summary>Reconstruction quality of a pipeline's VAE on ToyWorld.</summary>
public static class VaeQuality
{
    /// <summary>Mean PSNR (dB, images in [-1, 1]) of encode-decode on <paramref name="count"/> val scenes.</summary>
    public static double Psnr(StableDiffusionPipeline pipeline, int count = 200)
    {
        double sum = 0;
        int n = 0;
        var seeds = Splits.Seeds(Split.Val, null, count);
        for (int start = 0; start < seeds.Count; start += 32)
        {
            using var scope = NewDisposeScope();
            var images = ToyWorld.Training.ToyBatches.Images(ToyWorld.Training.ToyBatches.Scenes(seeds.Skip(start).Take(32).ToArray()));
            var recon = pipeline.Decode(pipeline.EncodeImage(images)).cpu();
            var mse = (recon - images).pow(2).mean(new long[] { 1, 2, 3 });
            var psnr = 10 * torch.log10(4.0 / mse.clamp_min(1e-12));
            sum += psnr.sum().item<float>();
            n += (int)images.shape[0];
        }
        return sum / n;
    }
}
