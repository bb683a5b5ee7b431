using System.CommandLine;
using GenSeg.Notebooks;
using Spectre.Console;

namespace GenSeg.Cli.Commands;

/// <summary><c>genseg notebook run PATH... [-p name=value ...] [--output DIR] [--cell-timeout S]</c>: runs notebooks
/// headlessly (papermill-style) and writes each executed copy and an HTML report. <c>genseg notebook figures PATH...</c>:
/// puts a static image after each chart of executed notebooks.</summary>
public static class NotebookCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "Notebooks (.ipynb) to run", Arity = ArgumentArity.OneOrMore };
        var parameters = new Option<string[]>("--parameter", "-p")
        {
            Description = "A parameter as name=value, injected after the 'parameters' cell (repeatable)",
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder for <name>.ipynb (executed copy) and <name>.html",
            DefaultValueFactory = _ => NotebookJob.DefaultOutputDirectory,
        };
        var timeout = new Option<double?>("--cell-timeout") { Description = "Seconds a single cell may run (default: no limit)" };

        var run = new Command("run", "Run notebooks cell by cell (C# via Roslyn), write executed copies; non-zero exit on a cell error");
        run.Arguments.Add(paths);
        run.Options.Add(parameters);
        run.Options.Add(output);
        run.Options.Add(timeout);
        run.SetAction(async (parse, ct) =>
        {
            var options = new RunOptions
            {
                Parameters = ParseParameters(parse.GetValue(parameters) ?? []),
                CellTimeout = parse.GetValue(timeout) is { } s ? TimeSpan.FromSeconds(s) : null,
            };
            var failed = 0;
            foreach (var path in parse.GetValue(paths)!)
            {
                var job = await CliProgress.RunNotebookAsync(path, parse.GetValue(output)!, options, ct);
                if (!job.Result.Succeeded) failed++;
            }
            return failed == 0 ? 0 : 1;
        });

        var executed = new Argument<string[]>("paths") { Description = "Executed notebooks (.ipynb), changed in place", Arity = ArgumentArity.OneOrMore };
        var figures = new Command("figures", "Put a static PNG (drawn by headless Chromium) after every Plotly.NET chart output, " +
                                             "so the charts show without JavaScript (e.g. on a code host); running it again replaces them");
        figures.Arguments.Add(executed);
        figures.SetAction(parse =>
        {
            var renderer = new ChromiumChartRenderer();
            foreach (var path in parse.GetValue(executed)!)
            {
                var nb = Notebook.Load(path);
                var drawn = StaticCharts.AddTo(nb, renderer);
                nb.Save(path);
                AnsiConsole.MarkupLineInterpolated($"{path}: {drawn} chart(s) drawn");
            }
            return 0;
        });

        var cmd = new Command("notebook", "Notebooks: run (headlessly, like papermill) and figures (static images of their charts)");
        cmd.Subcommands.Add(run);
        cmd.Subcommands.Add(figures);
        return cmd;
    }

    /// <summary>Parses <c>name=value</c> pairs; the last value of a repeated name wins.</summary>
    public static IReadOnlyDictionary<string, string> ParseParameters(IEnumerable<string> pairs)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"-p {pair}: expected name=value");
            result[pair[..eq].Trim()] = pair[(eq + 1)..];
        }
        return result;
    }
}
