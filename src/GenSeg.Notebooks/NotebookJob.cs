using GenSeg.Common;

namespace GenSeg.Notebooks;

/// <summary>A notebook file run end to end, with where its executed copy and report went.</summary>
/// <param name="Result">The run.</param>
/// <param name="NotebookPath">The executed <c>.ipynb</c>.</param>
/// <param name="HtmlPath">The HTML report.</param>
public sealed record NotebookJobResult(RunResult Result, string NotebookPath, string HtmlPath);

/// <summary>What <c>genseg notebook run</c> and <c>genseg demo</c> do with one notebook file: run it in its own folder
/// and write <c>&lt;name&gt;.ipynb</c> (executed copy) and <c>&lt;name&gt;.html</c> into the output folder, also when a
/// cell fails.</summary>
public static class NotebookJob
{
    /// <summary>Where outputs go unless told otherwise.</summary>
    public const string DefaultOutputDirectory = "out/notebooks";

    /// <summary>Runs <paramref name="path"/>; <paramref name="options"/>' directories and paths are filled in for the
    /// notebook's folder unless set.</summary>
    public static async Task<NotebookJobResult> RunAsync(string path, string outputDirectory, RunOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var input = Path.GetFullPath(path);
        var notebook = Notebook.Load(input);
        var name = Path.GetFileNameWithoutExtension(input);
        var outDir = Path.GetFullPath(outputDirectory);
        var ipynb = Path.Combine(outDir, name + ".ipynb");
        if (string.Equals(ipynb, input, StringComparison.Ordinal))
            throw new ArgumentException($"--output {outputDirectory}: the executed copy would overwrite the notebook {input}; choose another folder");
        var html = Path.Combine(outDir, name + ".html");
        var folder = Path.GetDirectoryName(input)!;
        options = (options ?? new RunOptions()) with { InputPath = input, OutputPath = ipynb };
        options = options with
        {
            BaseDirectory = options.BaseDirectory ?? folder,
            WorkingDirectory = options.WorkingDirectory ?? folder,
        };

        var result = await NotebookRunner.RunAsync(notebook, options, cancellationToken);
        result.Notebook.Save(ipynb);
        AtomicFile.WriteAllText(html, HtmlReport.Render(result.Notebook, name));
        return new NotebookJobResult(result, ipynb, html);
    }
}
