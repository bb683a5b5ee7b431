using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GenSeg.ToyWorld.Training;

/// <summary>
/// A small CNN that names the shape in a one-object 64x64 ToyWorld image (softmax over the 8 classes), trained on
/// one-object scenes of ToyWorld's train split. It judges generated samples ("does a sample for 'a photo of a red star'
/// contain a star?"); its own accuracy on val is reported with it so the judgement can be trusted.
/// </summary>
public sealed class ShapeClassifier : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> features;
    readonly nn.Module<Tensor, Tensor> head;

    /// <summary>Builds an untrained classifier.</summary>
    public ShapeClassifier() : base(nameof(ShapeClassifier))
    {
        features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding: 1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding: 1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 96, 3, padding: 1), nn.BatchNorm2d(96), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(96, 128, 3, padding: 1), nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveMaxPool2d(new long[] { 1, 1 }));
        head = nn.Linear(128, ToyClasses.Count - 1);
        RegisterComponents();
    }

    /// <summary>Logits [B, classes] (index i is class i + 1) for images [B, 3, H, W] in [-1, 1].</summary>
    public override Tensor forward(Tensor images) => head.call(features.call(images).flatten(1));

    /// <summary>Class targets [B] (class index - 1) of one-object scenes.</summary>
    public static Tensor Targets(IReadOnlyList<Scene> scenes) =>
        tensor(scenes.Select(s => (long)s.Objects[0].ClassIndex - 1).ToArray());

    static readonly ToyWorldOptions OneObject = new() { MinObjects = 1, MaxObjects = 1 };

    /// <summary>Trains on one-object ToyWorld train scenes; returns the classifier and its accuracy on one-object val scenes.</summary>
    public static (ShapeClassifier Model, double ValAccuracy) Train(int steps = 600, int batch = 32, int seed = 0, IProgress<int>? progress = null)
    {
        torch.manual_seed(seed);
        var model = new ShapeClassifier();
        var opt = optim.AdamW(model.parameters(), lr: 1e-3);
        model.train();
        var gen = new Generator((ulong)seed + 1);
        for (int s = 0; s < steps; s++)
        {
            using var scope = NewDisposeScope();
            var scenes = ToyBatches.Scenes(ToyBatches.TrainSeeds(batch, gen), OneObject);
            opt.zero_grad();
            var loss = F.cross_entropy(model.call(ToyBatches.Images(scenes)), Targets(scenes));
            loss.backward();
            opt.step();
            progress?.Report(s + 1);
        }
        model.eval();
        var val = ToyBatches.Scenes(Splits.Seeds(Split.Val, null, 300), OneObject);
        using var noGrad = no_grad();
        var predicted = model.call(ToyBatches.Images(val)).argmax(1);
        var accuracy = (predicted == Targets(val)).to_type(ScalarType.Float32).mean().item<float>();
        return (model, accuracy);
    }

    /// <summary>Whether each image's most likely shape is class <paramref name="classIndex"/> (1-based): [B] bool.</summary>
    public Tensor Names(Tensor images, int classIndex)
    {
        using var noGrad = no_grad();
        return call(images).argmax(1) == classIndex - 1;
    }
}
