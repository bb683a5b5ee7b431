using Microsoft.FSharp.Core;
using Plotly.NET;
using Plotly.NET.CSharp;
using Plotly.NET.TraceObjects;
using Chart = Plotly.NET.Chart;

namespace GenSeg.Notebooks;

/// <summary>
/// Plotly.NET pieces the notebooks share that Plotly.NET.CSharp lacks: a chart title, axis titles, and estimates with
/// their confidence intervals as error bars (Plotly.NET's own <c>Title</c> and <c>Error</c> constructors take a dozen
/// F# optional arguments each).
/// </summary>
public static class Charts
{
    /// <summary>The chart with a title above it.</summary>
    public static GenericChart WithTitle(this GenericChart chart, string title) =>
        Chart.withTitle(Title.init(title, null, null, null, null, null, null, null, null, null, null, null)).Invoke(chart);

    /// <summary>The chart with titles on its x and y axes.</summary>
    public static GenericChart WithAxisTitles(this GenericChart chart, string x, string y) =>
        chart.WithXAxisStyle<double, double, double>(TitleText: x).WithYAxisStyle<double, double, double>(TitleText: y);

    /// <summary>
    /// One series of estimates at categories <paramref name="x"/> (e.g. a swept setting's values), joined by a line, with
    /// asymmetric error bars from <paramref name="lower"/> to <paramref name="upper"/> (a confidence interval).
    /// </summary>
    public static GenericChart Interval(string name, IEnumerable<string> x, IEnumerable<double> estimate, IEnumerable<double> lower, IEnumerable<double> upper)
    {
        var xs = x.ToArray();
        var y = estimate.ToArray();
        var lo = lower.ToArray();
        var hi = upper.ToArray();
        if (y.Length != xs.Length || lo.Length != xs.Length || hi.Length != xs.Length)
            throw new ArgumentException($"interval '{name}': {xs.Length} categories, {y.Length} estimates, {lo.Length} lower and {hi.Length} upper bounds");
        var plus = y.Select((v, i) => hi[i] - v).ToArray();
        var minus = y.Select((v, i) => v - lo[i]).ToArray();
        var error = Error.init<double, double>(null, null, FSharpOption<bool>.Some(false), FSharpOption<IEnumerable<double>>.Some(plus),
            FSharpOption<IEnumerable<double>>.Some(minus), null, null, null, null, null, null, null, null, null, null);
        var line = Plotly.NET.CSharp.Chart.Line<string, double, string>(x: xs, y: y, Name: name, ShowMarkers: true);
        return Chart.withYError(error).Invoke(line);
    }
}
