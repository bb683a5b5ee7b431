using GenSeg.Common;
using GenSeg.Diffusion;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Methods.G4Seg;

/// <summary>A window of latent cells: rows [Top, Top + Height), columns [Left, Left + Width). Height or width 0: nothing.</summary>
public readonly record struct LatentWindow(long Top, long Left, long Height, long Width)
{
    /// <summary>Whether the window holds no cell.</summary>
    public bool IsEmpty => Height <= 0 || Width <= 0;
}

/// <summary>
/// G4Seg's decode window (<see cref="G4SegOptions.DecodeWindow"/>): the correspondence (Eq. 8) reads the generated image
/// x~ only near its query pixels, so only the latent cells over them need decoding. <see cref="Of"/> chooses a window,
/// <see cref="Decode"/> decodes the windows of a batch and pastes them into place.
/// </summary>
public static class DecodeWindow
{
    /// <summary>Window sides are rounded up to a multiple of this many latent cells (then clamped to the latent), so the
    /// windows of a batch fall into few sizes and are decoded a size at a time.</summary>
    public const int SideQuantum = 4;

    /// <summary>
    /// The window of latent cells covering the pixels within <paramref name="reach"/> pixels of
    /// <paramref name="pixels"/> [H, W] (bool or 0/1) plus <paramref name="margin"/> cells on each side (for the VAE
    /// decoder's receptive field), each side rounded up to a multiple of <see cref="SideQuantum"/> cells and shifted to
    /// stay inside the <paramref name="latentHeight"/> x <paramref name="latentWidth"/> latent; empty when no pixel is set.
    /// A latent cell is <paramref name="factor"/> x <paramref name="factor"/> pixels.
    /// </summary>
    public static LatentWindow Of(Tensor pixels, int reach, int margin, int factor, long latentHeight, long latentWidth)
    {
        Check.Rank(pixels, nameof(pixels), 2, "[H, W]");
        if (pixels.shape[0] != latentHeight * factor || pixels.shape[1] != latentWidth * factor)
            throw new ArgumentException($"pixels {Check.Format(pixels.shape)}: expected the latent {latentHeight}x{latentWidth} times the factor {factor}", nameof(pixels));
        if (reach < 0) throw new ArgumentOutOfRangeException(nameof(reach), reach, "reach: expected >= 0 pixels");
        if (margin < 0) throw new ArgumentOutOfRangeException(nameof(margin), margin, "margin: expected >= 0 latent cells");
        using var scope = NewDisposeScope();
        var at = pixels.to_type(ScalarType.Bool).cpu().nonzero(); // [K, 2]
        if (at.shape[0] == 0) return new LatentWindow(0, 0, 0, 0);
        var lo = at.amin(0).data<long>().ToArray();
        var hi = at.amax(0).data<long>().ToArray();
        var (top, height) = Span(lo[0], hi[0], reach, margin, factor, latentHeight);
        var (left, width) = Span(lo[1], hi[1], reach, margin, factor, latentWidth);
        return new LatentWindow(top, left, height, width);
    }

    /// <summary>One axis of <see cref="Of"/>: pixels [first, last] widened by the reach, in cells widened by the margin,
    /// the length rounded up to the quantum and the start moved so the span stays inside [0, cells).</summary>
    static (long Start, long Length) Span(long first, long last, int reach, int margin, int factor, long cells)
    {
        long start = Math.Max(0, Math.Max(0, first - reach) / factor - margin);
        long end = Math.Min(cells, (last + reach) / factor + 1 + margin);
        long length = Math.Min(cells, (end - start + SideQuantum - 1) / SideQuantum * SideQuantum);
        start = Math.Max(0, Math.Min(start, cells - length));
        return (start, length);
    }

    /// <summary>
    /// Decodes each latent of <paramref name="latents"/> [P, C, h, w] only inside its window (one per latent; windows of
    /// one size are decoded as one batch) and pastes the images into place: [P, 3, h f, w f], 0 outside the windows (not
    /// decoded). With every window the whole latent this is <see cref="StableDiffusionPipeline.Decode"/> itself.
    /// </summary>
    public static Tensor Decode(StableDiffusionPipeline pipeline, Tensor latents, IReadOnlyList<LatentWindow> windows)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        Check.Rank(latents, nameof(latents), 4, "[P, C, h, w]");
        long p = latents.shape[0], h = latents.shape[2], w = latents.shape[3];
        if (windows.Count != p) throw new ArgumentException($"windows: {windows.Count} windows for {p} latents", nameof(windows));
        foreach (var win in windows)
            if (!win.IsEmpty && (win.Top < 0 || win.Left < 0 || win.Top + win.Height > h || win.Left + win.Width > w))
                throw new ArgumentOutOfRangeException(nameof(windows), win, $"window outside the {h}x{w} latent");
        if (windows.All(win => win.Top == 0 && win.Left == 0 && win.Height == h && win.Width == w)) return pipeline.Decode(latents);
        using var scope = NewDisposeScope();
        long f = pipeline.Vae.DownsampleFactor;
        var images = zeros(new[] { p, 3L, h * f, w * f }, pipeline.DType, pipeline.Device);
        var sizes = windows.Select((win, i) => (win, i)).Where(x => !x.win.IsEmpty).GroupBy(x => (x.win.Height, x.win.Width));
        foreach (var size in sizes)
        {
            using var inner = NewDisposeScope();
            var items = size.ToArray();
            var crops = stack(items.Select(x => latents[x.i, .., TensorIndex.Slice(x.win.Top, x.win.Top + x.win.Height),
                TensorIndex.Slice(x.win.Left, x.win.Left + x.win.Width)]).ToArray());
            var decoded = pipeline.Decode(crops);
            for (int k = 0; k < items.Length; k++)
            {
                var win = items[k].win;
                images[items[k].i, .., TensorIndex.Slice(win.Top * f, (win.Top + win.Height) * f), TensorIndex.Slice(win.Left * f, (win.Left + win.Width) * f)]
                    = decoded[k];
            }
        }
        return images.MoveToOuterDisposeScope();
    }
}
