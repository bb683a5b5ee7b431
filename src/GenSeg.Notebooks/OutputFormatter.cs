using System.Net;
using System.Text;
using Microsoft.AspNetCore.Html;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.FSharp.Core;
using Plotly.NET;
using SkiaSharp;
using TorchSharp;

namespace GenSeg.Notebooks;

/// <summary>Turns a value into a mime bundle the way the .NET Interactive kernel does once the notebook's
/// <c>#r "nuget: Plotly.NET.Interactive"</c> and <c>Microsoft.Data.Analysis.Interactive</c> extensions are loaded:
/// Plotly.NET charts to text/html with the require.js plotly.js loader, DataFrames to an HTML table, SkiaSharp images and
/// <see cref="PngImage"/> to image/png, everything else to text/plain. It registers its formatters with
/// Microsoft.DotNet.Interactive.Formatting, the kernel's own formatting layer, so formatters a notebook registers itself
/// (<c>Formatter.Register&lt;T&gt;(...)</c>) take part too.</summary>
public static class OutputFormatter
{
    /// <summary>Rows a DataFrame table shows.</summary>
    public const int DataFrameRows = 25;

    const string Html = "text/html", Plain = "text/plain", Png = "image/png";

    static readonly Lazy<bool> Registered = new(Register, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the formatters (once per process, as a kernel extension does when loaded).</summary>
    public static void EnsureRegistered() => _ = Registered.Value;

    /// <summary>The mime bundle for <paramref name="value"/>: the given mime types, else the value's rich mime types,
    /// else text/plain.</summary>
    public static IReadOnlyDictionary<string, string> Format(object? value, IReadOnlyList<string>? mimeTypes = null)
    {
        EnsureRegistered();
        if (value is null) return new Dictionary<string, string> { [Plain] = "<null>" };
        var mimes = mimeTypes is { Count: > 0 } ? mimeTypes : RichMimeTypes(value.GetType());
        if (mimes.Count == 0) mimes = [Plain];
        return mimes.Distinct().ToDictionary(m => m, m => value.ToDisplayString(m));
    }

    /// <summary>The mime types a value of this type displays as, when a formatter for something richer than plain text
    /// is registered for it (by the runner, by a notebook, or through a type's <c>TypeFormatterSource</c>).</summary>
    static IReadOnlyList<string> RichMimeTypes(Type type)
    {
        if (typeof(IHtmlContent).IsAssignableFrom(type)) return [Html];
        var matching = Formatter.RegisteredFormatters(false).Where(f => f.Type.IsAssignableFrom(type)).ToList();
        var registered = matching.Where(f => f.MimeType != Plain).Select(f => f.MimeType).ToList();
        if (matching.Count > 0 && registered.Count == 0) return [Plain]; // a plain-text formatter was chosen on purpose
        if (registered.Count > 0)
        {
            var preferred = Formatter.GetPreferredMimeTypesFor(type).Where(registered.Contains).ToList();
            return preferred.Count > 0 ? preferred : registered.Take(1).ToList();
        }
        var sourced = type.GetCustomAttributes(inherit: true).Any(a => a.GetType().Name == "TypeFormatterSourceAttribute");
        return sourced ? Formatter.GetPreferredMimeTypesFor(type).ToList() : [];
    }

    static bool Register()
    {
        Formatter.Register<GenericChart>((chart, w) => w.Write(ChartHtml(chart)), Html);
        Formatter.SetPreferredMimeTypesFor(typeof(GenericChart), Html);
        Formatter.Register<DataFrame>((df, w) => w.Write(DataFrameHtml(df)), Html);
        Formatter.SetPreferredMimeTypesFor(typeof(DataFrame), Html);
        Formatter.Register<SKBitmap>((bitmap, w) => w.Write(Base64Png(SKImage.FromBitmap(bitmap))), Png);
        Formatter.SetPreferredMimeTypesFor(typeof(SKBitmap), Png);
        Formatter.Register<SKImage>((image, w) => w.Write(Base64Png(image, dispose: false)), Png);
        Formatter.SetPreferredMimeTypesFor(typeof(SKImage), Png);
        // A tensor shows its shape, dtype and device, and its values when small; as an image only via PngImage.FromTensor.
        Formatter.Register<torch.Tensor>((t, w) => w.Write(TensorText(t)), Plain);
        return true;
    }

    /// <summary>The chart as Plotly.NET.Interactive writes it: <c>GenericChart.toChartHTML</c> with plotly.js loaded
    /// through require.js from the CDN.</summary>
    public static string ChartHtml(GenericChart chart)
    {
        var reference = PlotlyJSReference.NewRequire($"https://cdn.plot.ly/plotly-{Globals.PLOTLYJS_VERSION}.min");
        var styled = Chart.withDisplayOptionsStyle(null, null, null, null, null, null, FSharpOption<PlotlyJSReference>.Some(reference)).Invoke(chart);
        return GenericChart.toChartHTML(styled);
    }

    /// <summary>A DataFrame as an HTML table: an index column, the column names, the first
    /// <see cref="DataFrameRows"/> rows, and a caption with the row count when there are more.</summary>
    public static string DataFrameHtml(DataFrame df)
    {
        var sb = new StringBuilder("<table>");
        if (df.Rows.Count > DataFrameRows)
            sb.Append($"<caption>DataFrame - {df.Rows.Count} rows (showing the first {DataFrameRows})</caption>");
        sb.Append("<thead><tr><th><i>index</i></th>");
        foreach (var column in df.Columns) sb.Append("<th>").Append(WebUtility.HtmlEncode(column.Name)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        for (long r = 0; r < Math.Min(df.Rows.Count, DataFrameRows); r++)
        {
            sb.Append("<tr><td><i>").Append(r).Append("</i></td>");
            foreach (var cell in df.Rows[r]) sb.Append("<td>").Append(WebUtility.HtmlEncode(cell?.ToString() ?? "")).Append("</td>");
            sb.Append("</tr>");
        }
        return sb.Append("</tbody></table>").ToString();
    }

    static string Base64Png(SKImage image, bool dispose = true)
    {
        try
        {
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            return Convert.ToBase64String(data.AsSpan());
        }
        finally
        {
            if (dispose) image.Dispose();
        }
    }

    static string TensorText(torch.Tensor t)
    {
        var head = $"Tensor {GenSeg.Common.Check.Format(t.shape)}, {t.dtype}, {t.device}";
        return t.numel() <= 64 ? head + "\n" + t.ToString(TensorStringStyle.Numpy) : head;
    }
}
