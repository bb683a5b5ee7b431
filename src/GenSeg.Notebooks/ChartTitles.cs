using Plotly.NET;
using Plotly.NET.CSharp;
using Chart = Plotly.NET.Chart;

namespace GenSeg.Notebooks;

/// <summary>
/// Titles for Plotly.NET charts from C#: Plotly.NET's own <c>Chart.withTitle</c> takes a <c>Title</c> whose
/// constructor has a dozen F# optional arguments, and Plotly.NET.CSharp offers no chart title, so notebooks use these.
/// </summary>
public static class ChartTitles
{
    /// <summary>The chart with a title above it.</summary>
    public static GenericChart WithTitle(this GenericChart chart, string title) =>
        Chart.withTitle(Text(title)).Invoke(chart);

    /// <summary>The chart with titles on its x and y axes.</summary>
    public static GenericChart WithAxisTitles(this GenericChart chart, string x, string y)
    {
        return chart.WithXAxisStyle<double, double, double>(TitleText: x).WithYAxisStyle<double, double, double>(TitleText: y);
    }

    static Title Text(string text) => Title.init(text, null, null, null, null, null, null, null, null, null, null, null);
}
