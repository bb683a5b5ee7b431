using System.Globalization;
using GenSeg.Evaluation;
using Spectre.Console;

namespace GenSeg.Cli;

/// <summary>How every evaluation command prints its <see cref="EvaluationResult"/> and writes its JSON: one table of rows, the headline's classes and steps.</summary>
public static class ResultOutput
{
    /// <summary>Prints the rows (before, after, gain with intervals, the gain by stratum, speed), the comparison, per class and per step of the headline row.</summary>
    public static void Print(EvaluationResult r, double? wallSeconds = null)
    {
        ArgumentNullException.ThrowIfNull(r);
        string metric = r.Metric == EvaluationResult.MetricMiou ? "mIoU" : "mean IoU";
        AnsiConsole.MarkupLineInterpolated(
            $"{r.Method} on {r.Dataset} {r.Split}: {r.Images} images, {r.Targets} {r.TargetUnit}; input {r.Input.Source} ({r.Input.Kind}); {metric} in points with 95% intervals");
        if (r.Input.Note is { } note) AnsiConsole.MarkupLineInterpolated($"[yellow]note[/]: {note}");
        AnsiConsole.Write(RowTable(r.Rows, r.TargetUnit, r.Targets));
        if (r.Comparison.Count > 0) AnsiConsole.Write(RowTable(r.Comparison, r.TargetUnit, r.Targets).Title("comparison (G4Seg Table 6)"));
        var main = r.Main;
        var classes = new Table().Title($"per class ({Markup.Escape(main.Label)})").AddColumns("class", "count", "before", "after", "gain");
        foreach (var c in main.PerClass)
            classes.AddRow(Markup.Escape(c.Name), c.Count?.ToString(CultureInfo.InvariantCulture) ?? "-", F(c.Before), F(c.After), F(c.After - c.Before));
        AnsiConsole.Write(classes);
        if (main.PerStep.Count > 0)
            AnsiConsole.MarkupLineInterpolated($"IoU after each step ({main.Label}): {string.Join("  ", main.PerStep.Select((v, i) => $"{i + 1}: {F(v)}"))}");
        if (main.StageSeconds.Count > 0)
        {
            double total = main.StageSeconds.Values.Sum();
            AnsiConsole.MarkupLineInterpolated($"time per stage ({main.Label}): {string.Join(", ", main.StageSeconds.Select(kv => $"{kv.Key} {100 * kv.Value / total:F0}%"))}");
        }
        if (wallSeconds is { } w) AnsiConsole.MarkupLineInterpolated($"{w:F1} s in this run");
    }

    /// <summary>Writes the result's JSON atomically to <paramref name="path"/> when given, and says so.</summary>
    public static void Write(EvaluationResult r, string? path)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (path is null) return;
        r.Write(path);
        AnsiConsole.MarkupLineInterpolated($"wrote [green]{path}[/]");
    }

    static Table RowTable(IReadOnlyList<EvaluationRow> rows, string unit, int targets)
    {
        var table = new Table().AddColumns("setting", "before", "after", "gain", "gain 95% CI", "<40", "40-80", "80-100", $"{unit}/s");
        foreach (var r in rows)
        {
            string Stratum(int i) => r.Strata.Count > i && r.Strata[i].Count > 0 ? $"{F(r.Strata[i].Gain.Value, 2)} ({r.Strata[i].Count})" : "-";
            table.AddRow(Markup.Escape(r.Label), F(r.Before.Value), F(r.After.Value), F(r.Gain.Value, 2),
                Markup.Escape(double.IsNaN(r.Gain.Lower) ? "-" : $"[{F(r.Gain.Lower, 2)}, {F(r.Gain.Upper, 2)}]"),
                Stratum(0), Stratum(1), Stratum(2), r.Seconds > 0 ? F(targets / r.Seconds, 2) : "-");
        }
        return table;
    }

    static string F(double v, int decimals = 1) => double.IsNaN(v) ? "-" : v.ToString("F" + decimals, CultureInfo.InvariantCulture);
}
