using GenSeg.Common;
using GenSeg.Imaging;
using GenSeg.Methods.PaintSeg;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld.Training;

/// <summary>One inpainting training example: the input image, its mask (1 = paint), the target image and caption.</summary>
/// <param name="Image">[3, H, W] in [-1, 1].</param>
/// <param name="Mask">[H, W] 0/1.</param>
/// <param name="Target">[3, H, W]: equal to <paramref name="Image"/> outside the mask.</param>
/// <param name="Caption">The caption the UNet is conditioned on.</param>
public sealed record InpaintExample(Tensor Image, Tensor Mask, Tensor Target, string Caption);

/// <summary>
/// Inpainting examples shaped as PaintSeg paints (<see cref="InpaintMasks.PaintSeg"/>), with the targets of the ideal
/// painter of <see cref="ToyWorldOraclePainter"/>: an I-step paints an estimate of one object and the target has that object
/// removed (ToyWorld renders the exact background); an O-step paints the background around an estimate of one object
/// (its complement, or a ring) and the target keeps that object whole and has the other objects removed.
/// </summary>
public static class PaintSegExamples
{
    /// <summary>Share of I-step examples.</summary>
    public const double InpaintShare = 0.5;

    /// <summary>Share of O-step examples (after the I-steps); the rest are blobs (reconstructed) and full masks.</summary>
    public const double OutpaintShare = 0.35;

    /// <summary>Share of examples with a caption (the scene as painted, class names only); PaintSeg's prompt is empty.</summary>
    public const double CaptionShare = 0.2;

    /// <summary>
    /// An example for <paramref name="scene"/> from three uniform draws and a seed for the rest; masks are rounded up to
    /// whole <paramref name="cell"/> x <paramref name="cell"/> latent cells, as PaintSeg's painter does (<see cref="Painter.AlignUp"/>).
    /// </summary>
    public static InpaintExample Make(Scene scene, double u1, double u2, double u3, ulong seed, int cell = 4)
    {
        ArgumentNullException.ThrowIfNull(scene);
        using var scope = NewDisposeScope();
        var rng = new Pcg32(seed, stream: 0x1A5E6);
        int size = scene.Size;
        var image = scene.ImageTensor();
        bool captioned = u3 < CaptionShare;
        InpaintExample result;
        if (u1 < InpaintShare + OutpaintShare && scene.Objects.Count > 0)
        {
            int k = (int)(u2 * scene.Objects.Count) % scene.Objects.Count;
            var estimate = ObjectEstimate(scene, k, rng);
            if (u1 < InpaintShare)
            {
                // I-step: the estimate painted; ideal fill = the scene without object k
                var region = Painter.AlignUp(estimate, cell);
                var without = SceneGenerator.Generate(scene.Seed, null, new[] { k });
                result = Composite(image, region, without.ImageTensor(), captioned ? without.CaptionFor(CaptionStyle.ClassOnly) : "");
            }
            else
            {
                // O-step: the background around the estimate painted (its complement, or a ring as in the authors' code);
                // ideal fill = object k whole, the other objects removed
                var outside = MaskMath.Not(estimate);
                var region = rng.Chance(0.7)
                    ? outside
                    : outside.mul(Morphology.Dilate(estimate, Kernel.Square(3), rng.NextInt(2, 8)));
                region = Painter.AlignUp(region, cell);
                var others = Enumerable.Range(0, scene.Objects.Count).Where(i => i != k).ToArray();
                var only = others.Length == 0 ? scene : SceneGenerator.Generate(scene.Seed, null, others);
                result = Composite(image, region, only.ImageTensor(), captioned ? only.CaptionFor(CaptionStyle.ClassOnly) : "");
            }
        }
        else if (u1 < 0.95)
        {
            // blobs of thresholded smooth noise, reconstructed (keeps the model a general inpainter)
            var g = new TorchSharp.torch.Generator(seed);
            var noise = TorchSharp.torch.nn.functional.interpolate(rand(1, 1, 6, 6, generator: g), new long[] { size, size },
                mode: InterpolationMode.Bilinear, align_corners: false)[0, 0];
            var region = Painter.AlignUp((noise > 0.45 + 0.3 * u2).to_type(ScalarType.Float32), cell);
            result = Composite(image, region, image, captioned ? scene.CaptionFor(CaptionStyle.ClassOnly) : "");
        }
        else
        {
            result = Composite(image, ones(size, size), image, captioned ? scene.CaptionFor(CaptionStyle.ClassOnly) : "");
        }
        foreach (var t in new[] { result.Image, result.Mask, result.Target }) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// An estimate of object <paramref name="k"/>'s mask of the kinds PaintSeg's steps hold: the object dilated (0-4 px) or
    /// eroded (1 px), its box scaled 1.0-1.3x with prompt noise up to 0.3, or the object cut by a half-plane box.
    /// </summary>
    public static Tensor ObjectEstimate(Scene scene, int k, Pcg32 rng)
    {
        ArgumentNullException.ThrowIfNull(scene);
        ArgumentNullException.ThrowIfNull(rng);
        int size = scene.Size;
        var truth = scene.InstanceTensor(k);
        double kind = rng.NextDouble();
        if (kind < 0.4)
        {
            int r = rng.NextInt(-1, 4);
            return r > 0 ? Morphology.Dilate(truth, Kernel.Square(3), r)
                : r < 0 && Masks.Area(Morphology.Erode(truth, Kernel.Square(3))) > 0 ? Morphology.Erode(truth, Kernel.Square(3)) : truth;
        }
        if (kind < 0.8)
        {
            var prompt = ScenePrompts.Box(scene.Objects[k], size, rng.Chance(0.5) ? 0 : rng.Uniform(0, 0.3), rng.NextUInt());
            var box = Boxes.Scale(prompt.Box!.Value, rng.Uniform(1.0, 1.3), (size, size));
            return box.IsEmpty ? truth : Boxes.ToMask(box, size, size);
        }
        // the object with a strip of its box cut off (an over-eager I-step) or with a band of background added
        var b = Boxes.BoundingBox(truth) ?? new Box(0, 0, size, size);
        var cut = ones(size, size);
        int side = rng.NextInt(4);
        if (side == 0) cut[TensorIndex.Slice(0, b.Y0 + b.Height / 3)] = 0f;
        else if (side == 1) cut[TensorIndex.Slice(b.Y1 - b.Height / 3, size)] = 0f;
        else if (side == 2) cut[TensorIndex.Colon, TensorIndex.Slice(0, b.X0 + b.Width / 3)] = 0f;
        else cut[TensorIndex.Colon, TensorIndex.Slice(b.X1 - b.Width / 3, size)] = 0f;
        var partial = Morphology.Dilate(truth, Kernel.Square(3), rng.NextInt(0, 3)).mul(cut);
        return Masks.Area(partial) > 0 ? partial : truth;
    }

    /// <summary>The example: target = fill inside the region, the image outside (so only the region differs).</summary>
    static InpaintExample Composite(Tensor image, Tensor region, Tensor fill, string caption)
    {
        var r = region.unsqueeze(0);
        var target = image * (1 - r) + fill * r;
        return new InpaintExample(image, region, target, caption);
    }
}
