using GenSeg.Common;
using GenSeg.Imaging;
using GenSeg.Methods.PaintSeg;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld;

/// <summary>
/// A perfect painter for one ToyWorld object, from the scene's exact renders: an I-step fills the painted region with the
/// scene rendered without the object (the ideal background fill); an O-step keeps the object's true pixels and fills the
/// rest of the region with the background of another scene (an ideal new background, different per paint). It knows the
/// truth, so it measures what the AMCP logic achieves with an ideal inpainting model, apart from the model's quality.
/// </summary>
public sealed class ToyWorldOraclePainter : IPainter
{
    readonly Tensor _without;
    readonly Tensor _truth;
    readonly ToyWorldOptions? _options;

    /// <summary>The oracle for object <paramref name="objectIndex"/> of <paramref name="scene"/> (drawn with <paramref name="options"/>).</summary>
    public ToyWorldOraclePainter(Scene scene, int objectIndex, ToyWorldOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(scene);
        _truth = scene.InstanceTensor(objectIndex);
        _without = SceneGenerator.Generate(scene.Seed, options, new[] { objectIndex }).ImageTensor();
        _options = options;
    }

    /// <inheritdoc />
    public string Name => "oracle";

    /// <inheritdoc />
    public PaintBatch Paint(Tensor image, Tensor region, StepKind kind, int count, ulong seed)
    {
        Check.Shape(image, nameof(image), 3, _truth.shape[0], _truth.shape[1]);
        Check.Shape(region, nameof(region), _truth.shape[0], _truth.shape[1]);
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count: expected at least one paint");
        using var scope = NewDisposeScope();
        var r = Masks.Binarize(region).cpu();
        var keep = ones_like(r).sub_(r);
        var img = image.cpu();
        var paints = new Tensor[count];
        for (int n = 0; n < count; n++)
        {
            Tensor fill;
            if (kind == StepKind.Inpaint) fill = _without;
            else
            {
                // another scene's background (all its objects left out), the true object on top
                int other = unchecked((int)(Pcg32.Derive(seed, (ulong)n) % 1_000_000)) + 1_000_000;
                int objects = SceneGenerator.Generate(other, _options).Objects.Count;
                var background = SceneGenerator.Generate(other, _options, Enumerable.Range(0, objects).ToArray()).ImageTensor();
                fill = background * ones_like(_truth).sub_(_truth) + img * _truth;
            }
            paints[n] = img * keep + fill * r;
        }
        return new PaintBatch(r.to(image.device).MoveToOuterDisposeScope(), stack(paints).to(image.device).MoveToOuterDisposeScope());
    }
}
