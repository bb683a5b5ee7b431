using System.Globalization;
using GenSeg.Common;
using SkiaSharp;

namespace GenSeg.ToyWorld.Training;

/// <summary>Renders training loss curves (losses.csv: step,loss,lr) as a PNG, one panel per run, log-scaled loss.</summary>
public static class LossPlot
{
    /// <summary>Reads a run's losses.csv as (step, loss) pairs.</summary>
    public static List<(double Step, double Loss)> Read(string csv) =>
        File.ReadAllLines(csv).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(','))
            .Select(p => (double.Parse(p[0], CultureInfo.InvariantCulture), double.Parse(p[1], CultureInfo.InvariantCulture))).ToList();

    /// <summary>Writes a PNG with one panel per named series (raw loss light, 50-step moving average dark).</summary>
    public static void Write(string path, IReadOnlyList<(string Name, List<(double Step, double Loss)> Points)> runs)
    {
        const int panelW = 420, panelH = 280, pad = 40;
        using var surface = SKSurface.Create(new SKImageInfo(panelW * Math.Max(1, runs.Count), panelH));
        var c = surface.Canvas;
        c.Clear(SKColors.White);
        using var axis = new SKPaint { Color = SKColors.Gray, StrokeWidth = 1, IsAntialias = true };
        using var raw = new SKPaint { Color = new SKColor(150, 180, 230), StrokeWidth = 1, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var avg = new SKPaint { Color = new SKColor(20, 60, 160), StrokeWidth = 2, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var text = new SKPaint { Color = SKColors.Black, TextSize = 13, IsAntialias = true };
        for (int r = 0; r < runs.Count; r++)
        {
            var (name, pts) = runs[r];
            float ox = r * panelW;
            if (pts.Count < 2) continue;
            double maxStep = pts.Max(p => p.Step);
            double lo = Math.Log10(pts.Min(p => Math.Max(p.Loss, 1e-6))), hi = Math.Log10(pts.Max(p => Math.Max(p.Loss, 1e-6)));
            if (hi - lo < 1e-3) hi = lo + 1;
            SKPoint Map(double step, double loss) => new(ox + pad + (float)(step / maxStep * (panelW - 2 * pad)),
                panelH - pad - (float)((Math.Log10(Math.Max(loss, 1e-6)) - lo) / (hi - lo) * (panelH - 2 * pad)));
            c.DrawLine(ox + pad, panelH - pad, ox + panelW - pad, panelH - pad, axis);
            c.DrawLine(ox + pad, pad, ox + pad, panelH - pad, axis);
            using (var path1 = new SKPath())
            {
                path1.MoveTo(Map(pts[0].Step, pts[0].Loss));
                foreach (var p in pts.Skip(1)) path1.LineTo(Map(p.Step, p.Loss));
                c.DrawPath(path1, raw);
            }
            using (var path2 = new SKPath())
            {
                for (int i = 0; i < pts.Count; i++)
                {
                    double m = pts.Skip(Math.Max(0, i - 49)).Take(Math.Min(50, i + 1)).Average(p => p.Loss);
                    var pt = Map(pts[i].Step, m);
                    if (i == 0) path2.MoveTo(pt); else path2.LineTo(pt);
                }
                c.DrawPath(path2, avg);
            }
            c.DrawText($"{name}: loss (log scale) vs step", ox + pad, pad - 14, text);
            c.DrawText(string.Create(CultureInfo.InvariantCulture, $"{Math.Pow(10, hi):G3}"), ox + 2, pad + 4, text);
            c.DrawText(string.Create(CultureInfo.InvariantCulture, $"{Math.Pow(10, lo):G3}"), ox + 2, panelH - pad, text);
            c.DrawText(string.Create(CultureInfo.InvariantCulture, $"{maxStep:0}"), ox + panelW - pad - 20, panelH - pad + 16, text);
        }
        using var img = surface.Snapshot();
        using var data = img.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, data.ToArray());
    }
}
