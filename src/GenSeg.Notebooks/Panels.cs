using GenSeg.Common;
using GenSeg.Imaging;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Notebooks;

/// <summary>
/// Small images for notebooks: each builder turns a tensor into an RGB panel [3, H, W] in [0, 1] (on the CPU), and
/// <c>Row</c> / <see cref="Grid"/> lay panels out as one <see cref="PngImage"/>, enlarged with nearest-neighbour
/// sampling so 64-pixel ToyWorld scenes stay readable. A leading batch dimension of 1 is accepted everywhere.
/// </summary>
public static class Panels
{
    /// <summary>Over-segmentation (prediction on, truth off) in <see cref="Errors"/>: red.</summary>
    public static readonly Rgb OverColour = new(220, 40, 40);

    /// <summary>Under-segmentation (truth on, prediction off) in <see cref="Errors"/>: blue.</summary>
    public static readonly Rgb UnderColour = new(40, 90, 230);

    /// <summary>Viridis at 0, 0.25, 0.5, 0.75 and 1, interpolated linearly by <see cref="Heat"/>.</summary>
    static readonly float[,] Viridis =
    {
        { 0.267f, 0.005f, 0.329f }, { 0.229f, 0.322f, 0.546f }, { 0.128f, 0.567f, 0.551f }, { 0.369f, 0.789f, 0.383f }, { 0.993f, 0.906f, 0.144f },
    };

    /// <summary>An RGB image [3, H, W] with values in [<paramref name="min"/>, <paramref name="max"/>] (the kit's images:
    /// [-1, 1]); a single channel is shown grey.</summary>
    public static Tensor Image(Tensor image, double min = -1, double max = 1)
    {
        using var scope = NewDisposeScope();
        var x = Chw(image, nameof(image));
        if (!(max > min)) throw new ArgumentException($"min {min} must be below max {max}", nameof(max));
        return ((x - min) / (max - min)).clamp(0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>A map [H, W] (probabilities, a bool mask...) in grey: <paramref name="min"/> black, <paramref name="max"/> white.</summary>
    public static Tensor Grey(Tensor map, double min = 0, double max = 1)
    {
        using var scope = NewDisposeScope();
        var m = Plane(map, nameof(map));
        if (!(max > min)) throw new ArgumentException($"min {min} must be below max {max}", nameof(max));
        return ((m - min) / (max - min)).clamp(0, 1).unsqueeze(0).expand(3, -1, -1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>A map [H, W] in the viridis colour map, scaled from <paramref name="min"/> to <paramref name="max"/>
    /// (default: the map's own finite range). NaN shows black.</summary>
    public static Tensor Heat(Tensor map, double? min = null, double? max = null)
    {
        using var scope = NewDisposeScope();
        var m = Plane(map, nameof(map));
        var finite = m.isfinite();
        var values = m.masked_select(finite);
        double lo = min ?? (values.numel() > 0 ? values.min().item<float>() : 0);
        double hi = max ?? (values.numel() > 0 ? values.max().item<float>() : 1);
        if (!(hi > lo)) hi = lo + 1;
        var u = ((m - lo) / (hi - lo)).clamp(0, 1).nan_to_num(0) * (Viridis.GetLength(0) - 1);
        var below = u.floor().clamp(0, Viridis.GetLength(0) - 2);
        var frac = (u - below).unsqueeze(0);
        var stops = tensor(Viridis);                               // [5, 3]
        var index = below.to_type(ScalarType.Int64);
        var a = stops.index_select(0, index.flatten()).t().reshape(3, m.shape[0], m.shape[1]);
        var b = stops.index_select(0, (index + 1).flatten()).t().reshape(3, m.shape[0], m.shape[1]);
        var rgb = a + (b - a) * frac;
        return where(finite.unsqueeze(0), rgb, zeros_like(rgb)).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>A signed map [H, W] (a difference) from blue (-<paramref name="limit"/> or below) through white (0) to
    /// red (+<paramref name="limit"/> or above); <paramref name="limit"/> defaults to the largest magnitude.</summary>
    public static Tensor Signed(Tensor map, double? limit = null)
    {
        using var scope = NewDisposeScope();
        var m = Plane(map, nameof(map)).nan_to_num(0);
        double l = limit ?? Math.Max(1e-12, m.abs().max().item<float>());
        if (!(l > 0)) throw new ArgumentOutOfRangeException(nameof(limit), limit, "limit: expected > 0");
        var u = (m / l).clamp(-1, 1).unsqueeze(0);
        var positive = u.clamp_min(0);
        var negative = (-u).clamp_min(0);
        var white = ones(3, m.shape[0], m.shape[1]);
        var result = white - positive * (1 - Colour(OverColour)) - negative * (1 - Colour(UnderColour));
        return result.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>An image [3, H, W] in [-1, 1] with <paramref name="mask"/> [H, W] (weights in [0, 1]) tinted in
    /// <paramref name="colour"/> at opacity <paramref name="alpha"/>.</summary>
    public static Tensor Overlay(Tensor image, Tensor mask, Rgb colour, double alpha = 0.5)
    {
        using var scope = NewDisposeScope();
        var x = Image(image);
        var w = Plane(mask, nameof(mask)).clamp(0, 1).unsqueeze(0) * alpha;
        Check.SameSpatial(x, nameof(image), w, nameof(mask));
        var c = Colour(colour);
        return (x * (1 - w) + c * w).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A prediction against the truth (both [H, W], on where &gt; 0.5): agreement on in white, over-segmentation
    /// (<see cref="OverColour"/>) and under-segmentation (<see cref="UnderColour"/>), background black; with
    /// <paramref name="image"/> [3, H, W] in [-1, 1] the background shows the image dimmed instead.
    /// </summary>
    public static Tensor Errors(Tensor prediction, Tensor truth, Tensor? image = null)
    {
        using var scope = NewDisposeScope();
        var p = Plane(prediction, nameof(prediction)) > 0.5;
        var t = Plane(truth, nameof(truth)) > 0.5;
        Check.SameSpatial(p, nameof(prediction), t, nameof(truth));
        var background = image is null ? zeros(3, p.shape[0], p.shape[1]) : Image(image) * 0.45;
        var result = where(logical_and(p, t).unsqueeze(0), ones_like(background), background);
        result = where(logical_and(p, t.logical_not()).unsqueeze(0), Colour(OverColour).expand_as(result), result);
        result = where(logical_and(p.logical_not(), t).unsqueeze(0), Colour(UnderColour).expand_as(result), result);
        return result.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Panels side by side as one PNG, each enlarged <paramref name="scale"/> times, <paramref name="gap"/>
    /// pixels apart on white; panels of different sizes are top-aligned. Headers (one per panel) and colour bars as in
    /// <see cref="Grid"/>.</summary>
    public static PngImage Row(IEnumerable<Tensor> panels, int scale = 4, int gap = 4, IReadOnlyList<string>? headers = null, IReadOnlyList<ColourBar>? colourBars = null) =>
        Grid(panels.ToList(), int.MaxValue, scale, gap, headers, colourBars);

    /// <summary>Panels side by side as one PNG (see <see cref="Row(IEnumerable{Tensor}, int, int, IReadOnlyList{string}, IReadOnlyList{ColourBar})"/>).</summary>
    public static PngImage Row(params Tensor[] panels) => Row(panels, 4, 4);

    /// <summary>Panels in rows of <paramref name="columns"/>, as one PNG: each panel enlarged <paramref name="scale"/>
    /// times, <paramref name="gap"/> pixels apart on white. Panels are [3, H, W] in [0, 1] (see the builders) or
    /// [H, W] maps shown grey. <paramref name="headers"/> (one per column, drawn above the first row of panels, centred
    /// on its column) name what each column shows; <paramref name="colourBars"/> are drawn right of the panels, one
    /// beside the other, each the height of the panels with its range's ends and middle marked and its label beside it
    /// (a <see cref="Heat"/> or <see cref="Signed"/> panel needs the same range given to its builder).</summary>
    public static PngImage Grid(IReadOnlyList<Tensor> panels, int columns, int scale = 4, int gap = 4,
        IReadOnlyList<string>? headers = null, IReadOnlyList<ColourBar>? colourBars = null)
    {
        ArgumentNullException.ThrowIfNull(panels);
        if (panels.Count == 0) throw new ArgumentException("panels: nothing to show", nameof(panels));
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "columns: expected at least 1");
        if (scale < 1 || scale > 64) throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale: expected 1..64");
        if (gap < 0) throw new ArgumentOutOfRangeException(nameof(gap), gap, "gap: expected >= 0");
        int used = Math.Min(columns, panels.Count);
        if (headers is not null && headers.Count != used)
            throw new ArgumentException($"headers: {headers.Count} for {used} column(s)", nameof(headers));
        using var scope = NewDisposeScope();
        var rgb = panels.Select((p, i) => Enlarge(ToRgb(p, $"panels[{i}]"), scale)).ToList();
        var rows = rgb.Chunk(used).ToList();
        long width = rows.Max(r => r.Sum(p => p.shape[2]) + gap * (r.Length - 1));
        long height = rows.Sum(r => r.Max(p => p.shape[1])) + gap * (rows.Count - 1);
        var canvas = ones(3, height, width);
        long y = 0;
        foreach (var row in rows)
        {
            long x = 0;
            foreach (var p in row)
            {
                canvas.narrow(1, y, p.shape[1]).narrow(2, x, p.shape[2]).copy_(p);
                x += p.shape[2] + gap;
            }
            y += row.Max(p => p.shape[1]) + gap;
        }
        var grid = PngImage.FromTensor(canvas);
        if (headers is null && (colourBars is null || colourBars.Count == 0)) return grid;
        // the column centres, from the first row's panels
        var centres = new List<float>();
        long left = 0;
        foreach (var p in rows[0])
        {
            centres.Add(left + p.shape[2] / 2f);
            left += p.shape[2] + gap;
        }
        return Annotate(grid, headers, centres, colourBars ?? Array.Empty<ColourBar>());
    }

    /// <summary>Height of the header strip above a grid with headers, in pixels (the panels start this far down).</summary>
    public const int HeaderHeight = 20;

    /// <summary>Width of one colour bar beside a grid (margin, bar, tick labels and the rotated label), in pixels.</summary>
    internal const int ColourBarWidth = 92;

    /// <summary>Width of the coloured strip of a colour bar, in pixels (it starts 12 pixels right of the grid).</summary>
    internal const int ColourBarStrip = 14;

    static PngImage Annotate(PngImage grid, IReadOnlyList<string>? headers, IReadOnlyList<float> centres, IReadOnlyList<ColourBar> bars)
    {
        int top = headers is null ? 0 : HeaderHeight;
        int barHeight = Math.Max(grid.Height, 60);
        int width = grid.Width + bars.Count * ColourBarWidth, height = top + Math.Max(grid.Height, bars.Count > 0 ? barHeight : 0);
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var c = surface.Canvas;
        c.Clear(SKColors.White);
        using (var image = SKImage.FromEncodedData(grid.Bytes)) c.DrawImage(image, 0, top);
        // text centred or left-aligned at (x, y), shrunk (not below 8 px) to fit within room pixels
        void Text(string text, float x, float y, SKTextAlign align, float room)
        {
            using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true, TextSize = 12, TextAlign = align };
            while (paint.TextSize > 8 && paint.MeasureText(text) > room) paint.TextSize -= 1;
            c.DrawText(text, x, y, paint);
        }
        if (headers is not null)
            for (int i = 0; i < headers.Count; i++)
            {
                float room = i + 1 < centres.Count ? centres[i + 1] - centres[i] : 2 * (grid.Width - centres[i]);
                Text(headers[i], centres[i], top - 6, SKTextAlign.Center, room - 2);
            }
        using var frame = new SKPaint { Color = SKColors.Gray, Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        for (int b = 0; b < bars.Count; b++)
        {
            var bar = bars[b];
            float x0 = grid.Width + b * ColourBarWidth + 12;
            using (var image = SKImage.FromEncodedData(BarStrip(bar, barHeight).Bytes))
                c.DrawImage(image, x0, top);
            c.DrawRect(x0, top, ColourBarStrip, barHeight - 1, frame);
            var ticks = new[] { (bar.Max, 0f), ((bar.Min + bar.Max) / 2, 0.5f), (bar.Min, 1f) };
            foreach (var (value, at) in ticks)
            {
                float ty = top + at * (barHeight - 1);
                c.DrawLine(x0 + ColourBarStrip, ty, x0 + ColourBarStrip + 3, ty, frame);
                float baseline = Math.Clamp(ty + 4, top + 10, top + barHeight - 2);
                Text(value.ToString("G3", System.Globalization.CultureInfo.InvariantCulture), x0 + ColourBarStrip + 5, baseline, SKTextAlign.Left, 44);
            }
            c.Save();
            c.Translate(grid.Width + (b + 1) * ColourBarWidth - 6, top + barHeight / 2f);
            c.RotateDegrees(-90);
            Text(bar.Label, 0, 0, SKTextAlign.Center, barHeight);
            c.Restore();
        }
        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return PngImage.FromBytes(data.ToArray());
    }

    /// <summary>The colour bar's strip [3, height, width]: its maximum at the top, its minimum at the bottom.</summary>
    static PngImage BarStrip(ColourBar bar, int height)
    {
        using var scope = NewDisposeScope();
        var values = linspace(bar.Max, bar.Min, height).view(height, 1).expand(height, ColourBarStrip).contiguous();
        var strip = bar.Signed ? Signed(values, Math.Max(Math.Abs(bar.Min), Math.Abs(bar.Max))) : Heat(values, bar.Min, bar.Max);
        return PngImage.FromTensor(strip);
    }

    static Tensor ToRgb(Tensor panel, string name) =>
        panel.dim() == 3 && panel.shape[0] == 3 ? panel.to_type(ScalarType.Float32).cpu()
        : panel.dim() == 4 && panel.shape[0] == 1 && panel.shape[1] == 3 ? panel[0].to_type(ScalarType.Float32).cpu()
        : Grey(Plane(panel, name));

    static Tensor Enlarge(Tensor chw, int scale) =>
        scale == 1 ? chw : chw.repeat_interleave(scale, 1).repeat_interleave(scale, 2);

    static Tensor Colour(Rgb c) => tensor(new[] { c.R / 255f, c.G / 255f, c.B / 255f }).view(3, 1, 1);

    /// <summary>[3, H, W] or [1, 3, H, W] (RGB) or [1, H, W] / [H, W] (grey) as float [3, H, W] on the CPU.</summary>
    static Tensor Chw(Tensor image, string name)
    {
        var x = image.dim() == 4 && image.shape[0] == 1 ? image[0] : image;
        if (x.dim() == 2) x = x.unsqueeze(0);
        if (x.dim() != 3 || (x.shape[0] != 3 && x.shape[0] != 1))
            throw new ArgumentException($"{name}: expected [3, H, W], [1, 3, H, W], [1, H, W] or [H, W], got {Check.Format(image.shape)}", name);
        if (x.shape[0] == 1) x = x.expand(3, -1, -1);
        return x.to_type(ScalarType.Float32).cpu();
    }

    /// <summary>[H, W], [1, H, W] or [1, 1, H, W] (any dtype) as float [H, W] on the CPU.</summary>
    static Tensor Plane(Tensor map, string name)
    {
        var m = map;
        while (m.dim() > 2 && m.shape[0] == 1) m = m[0];
        if (m.dim() != 2)
            throw new ArgumentException($"{name}: expected a map [H, W] (or with leading dimensions of 1), got {Check.Format(map.shape)}", name);
        return m.to_type(ScalarType.Float32).cpu();
    }
}

/// <summary>
/// A colour bar drawn beside a <see cref="Panels.Grid"/>: the scale of its <see cref="Panels.Heat"/> panels (viridis from
/// <paramref name="Min"/> to <paramref name="Max"/>) or, with <paramref name="Signed"/>, of its <see cref="Panels.Signed"/>
/// panels (blue at -limit, white at 0, red at +limit, limit the larger magnitude of the two ends), named by <paramref name="Label"/>.
/// </summary>
public sealed record ColourBar(string Label, double Min, double Max, bool Signed = false)
{
    /// <summary>The label.</summary>
    public string Label { get; } = Label ?? throw new ArgumentNullException(nameof(Label));

    /// <summary>The bottom end.</summary>
    public double Min { get; } = double.IsFinite(Min) ? Min : throw new ArgumentOutOfRangeException(nameof(Min), Min, "Min: expected a finite value");

    /// <summary>The top end.</summary>
    public double Max { get; } = double.IsFinite(Max) && Max > Min ? Max : throw new ArgumentOutOfRangeException(nameof(Max), Max, $"Max: expected a finite value above Min ({Min})");
}
