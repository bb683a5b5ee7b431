using System.Globalization;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Evaluation;

/// <summary>
/// One thing PaintSeg segments: an image at the model's size, the prompt drawn for the target, the seed of its paints,
/// and how its masks are scored (at the image's own size, ignore pixels excluded). Tensors belong to the caller's
/// dispose scope.
/// </summary>
/// <param name="Id">The target's id: the image id, a slash, the object index (ToyWorld) or the class label (datasets).</param>
/// <param name="ClassName">The target's class.</param>
/// <param name="Image">The image [3, H, W] in [-1, 1] at the model's size.</param>
/// <param name="Prompt">The prompt.</param>
/// <param name="Seed">The seed of the segmentation.</param>
/// <param name="Iou">The IoU (fraction) of a mask [H, W] at the model's size with the target's truth.</param>
/// <param name="Scene">ToyWorld: the scene (for the ideal painter); null for datasets.</param>
/// <param name="ObjectIndex">ToyWorld: the object's index in the scene.</param>
public sealed record PaintSegTarget(string Id, string ClassName, Tensor Image, Prompt Prompt, ulong Seed, Func<Tensor, double> Iou, Scene? Scene, int ObjectIndex);

/// <summary>
/// What a PaintSeg evaluation runs over: images in order (<see cref="ImageIds"/>, the unit of <c>--shard</c>), and each
/// image's targets. ToyWorld's targets are its objects (instances: <see cref="ToyWorldTargets"/>); a dataset's are the
/// classes present in each image's truth (<see cref="DatasetTargets"/>).
/// </summary>
public abstract class PaintSegTargets
{
    /// <summary>The dataset: toyworld or its spec.</summary>
    public abstract string Dataset { get; }

    /// <summary>The split.</summary>
    public abstract string Split { get; }

    /// <summary>ToyWorld's first scene seed; null for datasets.</summary>
    public virtual int? FirstSeed => null;

    /// <summary>The images, in order.</summary>
    public abstract IReadOnlyList<string> ImageIds { get; }

    /// <summary>What <c>--count</c> asked for: ToyWorld's objects, a dataset's first images (null: all).</summary>
    public abstract int? Requested { get; }

    /// <summary>The targets of image <paramref name="index"/> with prompts drawn under <paramref name="settings"/>.</summary>
    public abstract IReadOnlyList<PaintSegTarget> Load(int index, PaintSegEvaluationOptions settings);

    /// <summary>The prompt of a target drawn from its truth (bytes and tensor [H, W]) at the model's size.</summary>
    protected static Prompt PromptFromTruth(PaintSegEvaluationOptions s, byte[] truth, Tensor truthTensor, int width, int height, ulong seed) => s.Prompt switch
    {
        PromptKind.Box => Prompts.Box(truth, width, height, s.PromptNoise, seed),
        PromptKind.Point => Prompts.Point(truth, width, height, s.PointMode, s.PromptNoise, seed),
        PromptKind.Scribble => Prompts.Scribble(truth, width, height, s.PromptNoise, seed),
        _ => ScenePrompts.FromCoarse(CoarseMasks.Make(truthTensor.to_type(ScalarType.Float32), s.Severity, seed)),
    };
}

/// <summary>
/// ToyWorld's objects as targets: the first <c>count</c> objects of consecutive scenes of a split, each prompted as
/// <c>genseg toyworld</c> prompts it, segmented and scored at the scene's size. Target id: the scene id (seven digits),
/// a slash, the object index.
/// </summary>
public sealed class ToyWorldTargets : PaintSegTargets
{
    readonly Split split;
    readonly int firstSeed;
    readonly ToyWorldOptions? scene;
    readonly int[] seeds;
    readonly Dictionary<int, int> objectsOf = new();

    /// <summary>The first <paramref name="count"/> objects of <paramref name="split"/> from <paramref name="firstSeed"/> (the split's first when null).</summary>
    public ToyWorldTargets(Split split, int? firstSeed, int count, ToyWorldOptions? scene = null)
    {
        this.split = split;
        this.scene = scene;
        this.firstSeed = firstSeed ?? Splits.Range(split).First;
        foreach (var (s, k) in Objects(split, firstSeed, count, scene)) objectsOf[s.Seed] = k + 1;
        seeds = objectsOf.Keys.Order().ToArray();
        ImageIds = seeds.Select(ToyWorldDataset.IdOf).ToArray();
        Count = count;
    }

    /// <summary>Number of objects.</summary>
    public int Count { get; }

    /// <inheritdoc />
    public override int? Requested => Count;

    /// <inheritdoc />
    public override string Dataset => DatasetSpec.ToyWorld;

    /// <inheritdoc />
    public override string Split => split.ToString().ToLowerInvariant();

    /// <inheritdoc />
    public override int? FirstSeed => firstSeed;

    /// <inheritdoc />
    public override IReadOnlyList<string> ImageIds { get; }

    /// <summary>The seed ToyWorld's export uses for object <paramref name="objectIndex"/>'s prompts.</summary>
    public static ulong PromptSeed(int sceneSeed, int objectIndex) => Pcg32.Derive(CoarseMasks.SeedFor(sceneSeed, objectIndex), 0x9807);

    /// <summary>The first <paramref name="count"/> objects (scene, object index) of the split from <paramref name="firstSeed"/>.</summary>
    public static IEnumerable<(Scene Scene, int ObjectIndex)> Objects(Split split, int? firstSeed, int count, ToyWorldOptions? scene = null)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count: expected at least one object");
        var (start, size) = Splits.Range(split);
        int seed = firstSeed ?? start;
        Splits.Seeds(split, seed, 1); // checks the first seed lies in the split
        int produced = 0;
        while (produced < count)
        {
            if (seed - (long)start >= size)
                throw new ArgumentOutOfRangeException(nameof(count), count, $"count: the {split} split has too few scenes after seed {firstSeed ?? start}");
            var s = SceneGenerator.Generate(seed, scene);
            for (int k = 0; k < s.Objects.Count && produced < count; k++, produced++) yield return (s, k);
            seed++;
        }
    }

    /// <summary>The prompt of object <paramref name="objectIndex"/> of <paramref name="s"/> under <paramref name="settings"/>.</summary>
    public static Prompt PromptFor(Scene s, int objectIndex, PaintSegEvaluationOptions settings)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(settings);
        var o = s.Objects[objectIndex];
        ulong seed = PromptSeed(s.Seed, objectIndex);
        return settings.Prompt switch
        {
            PromptKind.Box => ScenePrompts.Box(o, s.Size, settings.PromptNoise, seed),
            PromptKind.Point => ScenePrompts.Point(o, s.Size, settings.PointMode, settings.PromptNoise, seed),
            PromptKind.Scribble => ScenePrompts.Scribble(o, s.Size, settings.PromptNoise, seed),
            // the caller's dispose scope owns the coarse mask's tensors
            _ => ScenePrompts.FromCoarse(CoarseMasks.Make(s.InstanceTensor(objectIndex), settings.Severity, CoarseMasks.SeedFor(s.Seed, objectIndex))),
        };
    }

    /// <inheritdoc />
    public override IReadOnlyList<PaintSegTarget> Load(int index, PaintSegEvaluationOptions settings)
    {
        var s = SceneGenerator.Generate(seeds[index], scene);
        var image = s.ImageTensor();
        return Enumerable.Range(0, objectsOf[s.Seed]).Select(k =>
        {
            var truth = s.InstanceTensor(k);
            return new PaintSegTarget($"{ImageIds[index]}/{k}", s.Objects[k].ClassName, image, PromptFor(s, k, settings),
                Pcg32.Derive(unchecked((ulong)s.Seed), (ulong)k), mask => Metrics.Iou(mask, truth), s, k);
        }).ToArray();
    }
}

/// <summary>
/// A dataset's targets: each class present in an image's truth (with <c>saliency:</c>, the object). The image is
/// resized to the model's size (<see cref="ModelSize"/>), the prompt drawn from the truth there as the paper does
/// (box, centroid or random point, scribble, or a perturbed coarse mask; seeded by the image id and class), and each
/// mask resized back to the image's own size and scored there, ignore pixels excluded. Target id: the image id, a
/// slash, the class label.
/// </summary>
public sealed class DatasetTargets : PaintSegTargets
{
    readonly ISegmentationDataset dataset;
    readonly int resolution;

    /// <summary>The first <paramref name="limit"/> images (all when null) of <paramref name="dataset"/>, processed at <paramref name="resolution"/> (the short side).</summary>
    public DatasetTargets(ISegmentationDataset dataset, int resolution, int? limit = null)
    {
        this.dataset = dataset ?? throw new ArgumentNullException(nameof(dataset));
        if (resolution < 8) throw new ArgumentOutOfRangeException(nameof(resolution), resolution, "resolution: expected the model's image side (>= 8)");
        this.resolution = resolution;
        ImageIds = dataset.Ids.Take(limit ?? int.MaxValue).ToArray();
        Requested = limit;
    }

    /// <inheritdoc />
    public override int? Requested { get; }

    /// <inheritdoc />
    public override string Dataset => dataset.Spec;

    /// <inheritdoc />
    public override string Split => dataset.Split;

    /// <inheritdoc />
    public override IReadOnlyList<string> ImageIds { get; }

    /// <inheritdoc />
    public override IReadOnlyList<PaintSegTarget> Load(int index, PaintSegEvaluationOptions settings)
    {
        var id = ImageIds[index];
        var sample = dataset.Load(id);
        int width = sample.Width, height = sample.Height;
        var (w, h) = ModelSize.Fit(width, height, resolution);
        var image = Resize.Bilinear(sample.ImageTensor(), h, w);
        var labels = sample.LabelTensor();
        var scored = labels.ne(MaskIO.Ignore);
        return Enumerable.Range(1, dataset.ClassNames.Count - 1).Where(c => sample.Labels.Contains((byte)c)).Select(c =>
        {
            var truth = labels.eq(c);
            var truthAtModel = Resize.Nearest(truth, h, w);
            ulong seed = Pcg32.Derive(DatasetRun.StableHash(id), (ulong)c);
            var prompt = PromptFromTruth(settings, Masks.ToBytes(truthAtModel), truthAtModel, w, h, seed);
            return new PaintSegTarget($"{id}/{c.ToString(CultureInfo.InvariantCulture)}", dataset.ClassNames[c], image, prompt, seed,
                mask => IouIgnoring(Resize.Bilinear(mask, height, width).gt(0.5), truth, scored), null, -1);
        }).ToArray();
    }

    /// <summary>IoU of two bool masks [H, W] over the pixels <paramref name="scored"/> (the truth's non-ignore pixels); 1 when both are empty.</summary>
    public static double IouIgnoring(Tensor predicted, Tensor truth, Tensor scored)
    {
        using var scope = NewDisposeScope();
        var p = predicted.logical_and(scored);
        var t = truth.logical_and(scored);
        long inter = p.logical_and(t).sum().item<long>(), union = p.logical_or(t).sum().item<long>();
        return union == 0 ? 1.0 : (double)inter / union;
    }
}
