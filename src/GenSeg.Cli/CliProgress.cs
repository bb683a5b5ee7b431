using GenSeg.Notebooks;
using Spectre.Console;

namespace GenSeg.Cli;

/// <summary>
/// The one progress display of every long command: a bar with the remaining time on a terminal, and a line per tenth
/// (and the last report) when the output is redirected (logs of background and Slurm runs).
/// </summary>
public static class CliProgress
{
    /// <summary>Runs <paramref name="run"/>, which reports (done, total), under a progress display titled <paramref name="title"/>.</summary>
    public static T Run<T>(string title, Func<Action<int, int>, T> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return Run<T>(title, (Action<int, int, string?> report) => run((done, total) => report(done, total, null)));
    }

    /// <summary>
    /// Runs <paramref name="run"/>, which reports (done, total, what is happening: e.g. a training step's loss, or null),
    /// under a progress display titled <paramref name="title"/>; redirected output gets a line per tenth.
    /// </summary>
    public static T Run<T>(string title, Func<Action<int, int, string?>, T> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (Console.IsOutputRedirected)
        {
            int lastTenth = -1;
            return run((done, total, what) =>
            {
                int tenth = total > 0 ? 10 * done / total : 10;
                if (tenth == lastTenth && done != total) return;
                lastTenth = tenth;
                Console.WriteLine(what ?? $"{title}: {done}/{total}");
            });
        }
        T result = default!;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: 1);
                result = run((done, total, what) =>
                {
                    task.MaxValue = Math.Max(total, 1);
                    task.Value = done;
                    if (what is not null) task.Description = Markup.Escape(what);
                });
            });
        return result;
    }

    /// <summary>Runs <paramref name="run"/> under a progress display, without a result.</summary>
    public static void Run(string title, Action<Action<int, int>> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        Run<bool>(title, report =>
        {
            run(report);
            return true;
        });
    }

    /// <summary>Runs one notebook with a progress line per cell, then prints where its outputs went.</summary>
    public static async Task<NotebookJobResult> RunNotebookAsync(string path, string outputDirectory, RunOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = Path.GetFileName(path);
        AnsiConsole.MarkupLineInterpolated($"[bold]{name}[/]");
        NotebookJobResult? job = null;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(name, maxValue: 1);
                job = await NotebookJob.RunAsync(path, outputDirectory, options with { Progress = new CellReporter(task) }, ct);
                task.Value = task.MaxValue;
            });
        var result = job!.Result;
        foreach (var warning in result.Warnings) AnsiConsole.MarkupLineInterpolated($"[yellow]{warning}[/]");
        if (result.Succeeded) AnsiConsole.MarkupLineInterpolated($"[green]ok[/] {name} -> {job.NotebookPath}, {job.HtmlPath}");
        else
        {
            AnsiConsole.MarkupLineInterpolated($"[red]failed:[/] {name}: {result.FailureMessage}");
            AnsiConsole.MarkupLineInterpolated($"executed copy with the error output: {job.NotebookPath}");
        }
        return job;
    }

    /// <summary>Shows the running cell in the progress line and prints one line per finished cell.</summary>
    sealed class CellReporter(ProgressTask task) : IProgress<CellProgress>
    {
        public void Report(CellProgress p)
        {
            task.MaxValue = Math.Max(1, p.CodeCells);
            var label = $"cell {p.CellIndex} ({p.CodeCell}/{p.CodeCells})";
            if (p.Status == CellStatus.Running)
            {
                task.Description = $"{Markup.Escape(label)} running";
                return;
            }
            task.Value = p.CodeCell;
            var (colour, word) = p.Status switch
            {
                CellStatus.Completed => ("green", "completed"),
                CellStatus.Failed => ("red", "failed"),
                _ => ("grey", "skipped"),
            };
            AnsiConsole.MarkupLineInterpolated($"  [{colour}]{word,-9}[/] {label} {p.Duration?.TotalSeconds ?? 0:0.00} s");
        }
    }
}
