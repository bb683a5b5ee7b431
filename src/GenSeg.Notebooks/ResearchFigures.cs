using System.Globalization;
using GenSeg.Evaluation;
using Microsoft.Data.Analysis;
using Microsoft.FSharp.Core;
using Plotly.NET;
using Plotly.NET.TraceObjects;
using Chart = Plotly.NET.Chart;

namespace GenSeg.Notebooks;

/// <summary>
/// What a notebook shows beside a paper's ablation: charts whose x axis is numeric for numeric settings and categorical
/// (markers, no lines) for categories, with every point's 95% interval and a zero line on gain charts; the table of the
/// paper's figure beside the kit's with its interval and n; and the verdict computed from them
/// (<see cref="PaperComparison"/>). Results are computed through <see cref="Cached"/>, a results file per setting.
/// </summary>
public static class ResearchFigures
{
    /// <summary>
    /// Runs <paramref name="run"/> with the results file <paramref name="folder"/>/<paramref name="name"/>.jsonl opened
    /// for resume (a finished file is read back, a killed run continues), or without a file when
    /// <paramref name="folder"/> is null (the CI scale).
    /// </summary>
    public static EvaluationResult Cached(string? folder, string name, Func<ResultsLog?, EvaluationResult> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (folder is null) return run(null);
        using var log = ResultsLog.Open(Path.Combine(NotebookPaths.Resolve(folder), name + ".jsonl"), resume: true);
        return run(log);
    }

    /// <summary>A series at numeric settings <paramref name="x"/>, joined by a line, with error bars (95% intervals).</summary>
    public static GenericChart Numeric(string name, IReadOnlyList<double> x, IReadOnlyList<Estimate> y) =>
        WithErrors(Plotly.NET.CSharp.Chart.Line<double, double, string>(x: x, y: y.Select(f => f.Value), Name: name, ShowMarkers: true), y);

    /// <summary>A series at categories <paramref name="x"/> as markers only (categories are not a continuum), with error bars.</summary>
    public static GenericChart Categories(string name, IReadOnlyList<string> x, IReadOnlyList<Estimate> y) =>
        WithErrors(Plotly.NET.CSharp.Chart.Point<string, double, string>(x: x, y: y.Select(f => f.Value), Name: name), y);

    /// <summary>A dashed horizontal line at 0 across <paramref name="from"/>..<paramref name="to"/> (numeric) for gain charts.</summary>
    public static GenericChart ZeroLine(double from, double to) => Styled(Plotly.NET.CSharp.Chart.Line<double, double, string>(x: new[] { from, to }, y: new[] { 0.0, 0.0 }, Name: "0"));

    /// <summary>A dashed horizontal line at 0 across categories for gain charts.</summary>
    public static GenericChart ZeroLine(IReadOnlyList<string> categories) =>
        Styled(Plotly.NET.CSharp.Chart.Line<string, double, string>(x: new[] { categories[0], categories[^1] }, y: new[] { 0.0, 0.0 }, Name: "0"));

    /// <summary>The table of an ablation: each setting, the paper's figure, the kit's with its 95% interval, and n.</summary>
    public static DataFrame Table(IReadOnlyList<AblationPoint> points, string paperColumn = "paper", string kitColumn = "kit [95% CI]")
    {
        ArgumentNullException.ThrowIfNull(points);
        return new DataFrame(
            new StringDataFrameColumn("setting", points.Select(p => p.Setting)),
            new StringDataFrameColumn(paperColumn, points.Select(p => p.Paper is { } v ? v.ToString("0.0##", CultureInfo.InvariantCulture) : "-")),
            new StringDataFrameColumn(kitColumn, points.Select(p => p.Kit.ToString())),
            new PrimitiveDataFrameColumn<int>("n", points.Select(p => p.N)));
    }

    static GenericChart WithErrors(GenericChart chart, IReadOnlyList<Estimate> y)
    {
        var plus = y.Select(f => double.IsNaN(f.Upper) ? 0 : f.Upper - f.Value).ToArray();
        var minus = y.Select(f => double.IsNaN(f.Lower) ? 0 : f.Value - f.Lower).ToArray();
        var error = Error.init<double, double>(null, null, FSharpOption<bool>.Some(false), FSharpOption<IEnumerable<double>>.Some(plus),
            FSharpOption<IEnumerable<double>>.Some(minus), null, null, null, null, null, null, null, null, null, null);
        return Chart.withYError(error).Invoke(chart);
    }

    static GenericChart Styled(GenericChart line) =>
        Chart.withLineStyle(null, null, null, null, null, null, Color.fromString("grey"), null, null, null, null, null,
            FSharpOption<StyleParam.DrawingStyle>.Some(StyleParam.DrawingStyle.Dash), null, null, null, FSharpOption<double>.Some(1.0), null, null, null)
            .Invoke(line);
}
