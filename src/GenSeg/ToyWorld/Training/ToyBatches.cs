using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld.Training;

/// <summary>Training batches drawn from ToyWorld's train split, deterministically from a generator.</summary>
public static class ToyBatches
{
    /// <summary><paramref name="count"/> train-split seeds drawn at random with <paramref name="generator"/>.</summary>
    public static int[] TrainSeeds(int count, Generator generator)
    {
        var (first, total) = Splits.Range(Split.Train);
        var r = randint(0, total, new long[] { count }, generator: generator, dtype: ScalarType.Int64);
        var values = r.data<long>().ToArray();
        r.Dispose();
        return values.Select(v => first + (int)v).ToArray();
    }

    /// <summary>Renders scenes (in parallel; the result does not depend on the thread count).</summary>
    public static Scene[] Scenes(IReadOnlyList<int> seeds, ToyWorldOptions? options = null)
    {
        var scenes = new Scene[seeds.Count];
        Parallel.For(0, seeds.Count, i => scenes[i] = SceneGenerator.Generate(seeds[i], options));
        return scenes;
    }

    /// <summary>Stacks the scenes' images: [B, 3, H, W] in [-1, 1].</summary>
    public static Tensor Images(IReadOnlyList<Scene> scenes)
    {
        using var scope = NewDisposeScope();
        return stack(scenes.Select(s => s.ImageTensor()).ToArray()).MoveToOuterDisposeScope();
    }
}
