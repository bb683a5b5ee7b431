using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Plotly.NET;

namespace GenSeg.Notebooks;

/// <summary>Renders a Plotly.NET chart's HTML output to a PNG image.</summary>
public interface IChartRenderer
{
    /// <summary>The chart drawn by the HTML output <paramref name="chartHtml"/>, <paramref name="width"/> x
    /// <paramref name="height"/> CSS pixels, as PNG bytes.</summary>
    byte[] RenderPng(string chartHtml, int width, int height);
}

/// <summary>
/// Makes an executed notebook's charts visible without JavaScript (on a code host, say): after every Plotly.NET chart
/// output it puts a <c>display_data</c> output with a static PNG of the same chart (made by a real browser, see
/// <see cref="ChromiumChartRenderer"/>) and a text/plain line saying so. Running it again replaces those images.
/// </summary>
public static partial class StaticCharts
{
    /// <summary>The text/plain of a static chart image, which marks it as one.</summary>
    public const string Caption = "[static image of the interactive chart above]";

    /// <summary>Adds or refreshes the static image after each chart; returns how many charts it drew.</summary>
    public static int AddTo(Notebook notebook, IChartRenderer renderer)
    {
        ArgumentNullException.ThrowIfNull(notebook);
        ArgumentNullException.ThrowIfNull(renderer);
        var drawn = 0;
        foreach (var cell in notebook.Cells)
        {
            var outputs = cell.Outputs.Where(o => !IsStaticImage(o)).ToList();
            if (outputs.Count == cell.Outputs.Count && !outputs.Any(o => ChartHtml(o) is not null)) continue;
            cell.Outputs.Clear();
            foreach (var output in outputs)
            {
                cell.Outputs.Add(output);
                if (ChartHtml(output) is not { } html) continue;
                var (width, height) = Size(html);
                var png = renderer.RenderPng(html, width, height);
                cell.Outputs.Add(new DisplayDataOutput(new Dictionary<string, string>
                {
                    ["image/png"] = Convert.ToBase64String(png),
                    ["text/plain"] = Caption,
                }));
                drawn++;
            }
        }
        return drawn;
    }

    /// <summary>The chart HTML a Plotly.NET chart output holds (as the kernel and the kit's runner write it), or null.</summary>
    public static string? ChartHtml(CellOutput output)
    {
        var data = output switch
        {
            DisplayDataOutput d => d.Data,
            ExecuteResultOutput r => r.Data,
            _ => null,
        };
        return data is not null && data.TryGetValue("text/html", out var html) && html.Contains("Plotly.newPlot", StringComparison.Ordinal)
            ? html : null;
    }

    static bool IsStaticImage(CellOutput output) =>
        output is DisplayDataOutput d && d.Data.TryGetValue("text/plain", out var text) && text == Caption;

    /// <summary>The layout's width and height (Plotly's defaults, 700 x 450, where the chart sets none).</summary>
    public static (int Width, int Height) Size(string chartHtml)
    {
        var layout = LayoutPattern().Match(chartHtml);
        var text = layout.Success ? layout.Groups[1].Value : "";
        static int? Read(Regex pattern, string s) =>
            pattern.Match(s) is { Success: true } m ? (int)Math.Round(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)) : null;
        return (Read(WidthPattern(), text) ?? 700, Read(HeightPattern(), text) ?? 450);
    }

    [GeneratedRegex(@"var layout = (\{.*?\});", RegexOptions.Singleline)]
    private static partial Regex LayoutPattern();

    // the top-level "width"/"height" keys come first in Plotly.NET's layout JSON, before "template" and axes
    [GeneratedRegex(@"^\{(?:""(?!width"")[^""]*"":[^,{]*,)*""width"":([0-9.]+)")]
    private static partial Regex WidthPattern();

    [GeneratedRegex(@"^\{(?:""(?!height"")[^""]*"":[^,{]*,)*""height"":([0-9.]+)")]
    private static partial Regex HeightPattern();
}

/// <summary>
/// Draws charts in headless Chromium (Debian's <c>chromium</c>; another binary through <c>GENSEG_CHROMIUM</c>) with the
/// plotly.js that Plotly.NET embeds, so no network is needed: a page with plotly.js inline and a require.js stand-in
/// that hands it to the chart's own loader, then Chromium's screenshot of it.
/// </summary>
public sealed class ChromiumChartRenderer : IChartRenderer
{
    /// <summary>The variable that names the Chromium binary.</summary>
    public const string ChromiumVariable = "GENSEG_CHROMIUM";

    static readonly Lazy<string> PlotlyJs = new(ReadPlotlyJs);

    readonly string _chromium;

    /// <summary>Uses <paramref name="chromium"/>, else GENSEG_CHROMIUM, else the first of chromium and chromium-browser on
    /// PATH; none found is an error that says how to install it.</summary>
    public ChromiumChartRenderer(string? chromium = null)
    {
        _chromium = chromium ?? Environment.GetEnvironmentVariable(ChromiumVariable) ?? Find()
            ?? throw new FileNotFoundException($"no Chromium found for static chart images: install Debian's chromium " +
                                               $"(sudo apt-get install chromium) or set {ChromiumVariable} to a Chromium binary");
    }

    /// <summary>Whether a Chromium binary can be found.</summary>
    public static bool Available => Environment.GetEnvironmentVariable(ChromiumVariable) is { } c ? File.Exists(c) : Find() is not null;

    /// <inheritdoc />
    public byte[] RenderPng(string chartHtml, int width, int height)
    {
        var dir = Directory.CreateTempSubdirectory("genseg-chart-");
        try
        {
            var page = Path.Combine(dir.FullName, "chart.html");
            var png = Path.Combine(dir.FullName, "chart.png");
            File.WriteAllText(page,
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>body{margin:0;background:#fff}.modebar-container{display:none}</style>" +
                $"<script>{PlotlyJs.Value}</script>" +
                // the chart's loader calls requirejs.config(...)(['plotly'], draw): hand it the inline plotly.js
                "<script>window.requirejs=function(){};window.requirejs.config=function(){return function(d,f){f(window.Plotly);};};</script>" +
                $"</head><body>{chartHtml}</body></html>");
            var start = new ProcessStartInfo(_chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            // the flags Chromium needs headless as root on a closed network (docs/notebooks.md)
            foreach (var a in new[]
                     {
                         "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                         $"--user-data-dir={Path.Combine(dir.FullName, "profile")}", $"--window-size={width},{height}",
                         "--virtual-time-budget=10000", $"--screenshot={png}", new Uri(page).AbsoluteUri,
                     })
                start.ArgumentList.Add(a);
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {_chromium}");
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{_chromium} took over 2 minutes to draw a chart");
            }
            if (!File.Exists(png))
                throw new InvalidOperationException($"{_chromium} wrote no screenshot (exit code {process.ExitCode}): {stderr.Result.Trim()}");
            return File.ReadAllBytes(png);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    static string? Find() =>
        new[] { "chromium", "chromium-browser" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)))
            .FirstOrDefault(File.Exists);

    static string ReadPlotlyJs()
    {
        var assembly = typeof(GenericChart).Assembly;
        var name = assembly.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith(".min.js", StringComparison.Ordinal) && n.Contains("plotly", StringComparison.OrdinalIgnoreCase))
                   ?? throw new InvalidOperationException($"Plotly.NET {assembly.GetName().Version} embeds no plotly.js (resources: {string.Join(", ", assembly.GetManifestResourceNames())})");
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
