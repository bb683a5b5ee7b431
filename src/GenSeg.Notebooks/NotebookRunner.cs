using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Scripting;

namespace GenSeg.Notebooks;

/// <summary>How a notebook runs.</summary>
public sealed record RunOptions
{
    /// <summary>Parameter values by name, as text (<c>-p name=value</c>); typed after the parameters cell's defaults.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Longest a single cell may run; null for no limit. A cell past it fails the run with a
    /// <see cref="TimeoutException"/>.</summary>
    public TimeSpan? CellTimeout { get; init; }

    /// <summary>The folder relative <c>#r</c> / <c>#load</c> paths resolve against: the notebook's folder. Null: the
    /// current directory.</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>The process's current directory while the notebook runs (a kernel runs in the notebook's folder);
    /// null leaves it unchanged. It is restored afterwards.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Told when each cell starts and ends (called on the running thread, in order).</summary>
    public IProgress<CellProgress>? Progress { get; init; }

    /// <summary>Recorded as <c>metadata.papermill.input_path</c>.</summary>
    public string? InputPath { get; init; }

    /// <summary>Recorded as <c>metadata.papermill.output_path</c>.</summary>
    public string? OutputPath { get; init; }
}

/// <summary>Cell states, as papermill records them in <c>metadata.papermill.status</c> (plus <c>skipped</c> for
/// cells tagged <c>skip-execution</c>).</summary>
public enum CellStatus
{
    Pending,
    Running,
    Completed,
    Failed,
    Skipped,
}

/// <summary>A cell's progress.</summary>
/// <param name="CellIndex">Index in the executed notebook.</param>
/// <param name="CodeCell">1-based number among the code cells.</param>
/// <param name="CodeCells">Number of code cells.</param>
/// <param name="Status">New status.</param>
/// <param name="Duration">Run time, once finished.</param>
public sealed record CellProgress(int CellIndex, int CodeCell, int CodeCells, CellStatus Status, TimeSpan? Duration);

/// <summary>The outcome of a run.</summary>
/// <param name="Notebook">The executed copy, outputs and papermill metadata included (also on failure).</param>
/// <param name="Succeeded">True when no cell failed.</param>
/// <param name="FailedCellIndex">Index of the failing cell in <paramref name="Notebook"/>.</param>
/// <param name="FailedExecutionCount">Its prompt number (In [N]).</param>
/// <param name="Exception">What failed it.</param>
/// <param name="Warnings">Runner warnings (unknown parameters...).</param>
public sealed record RunResult(Notebook Notebook, bool Succeeded, int? FailedCellIndex, int? FailedExecutionCount,
    Exception? Exception, IReadOnlyList<string> Warnings)
{
    /// <summary>papermill's message: "Exception encountered at In [N]" with the cell index and the error, or null.</summary>
    public string? FailureMessage => Succeeded ? null :
        $"Exception encountered at In [{FailedExecutionCount}] (cell index {FailedCellIndex}): {Exception?.GetType().Name}: {Exception?.Message}";
}

/// <summary>A compile error in a cell (ename <c>CompilationError</c>); the message lists the diagnostics with the
/// cell's line and column.</summary>
public sealed class CellCompilationException(string message, IReadOnlyList<string> diagnostics) : Exception(message)
{
    /// <summary>Every error diagnostic, "(line,col): error CSxxxx: ...".</summary>
    public IReadOnlyList<string> Diagnostics { get; } = diagnostics;
}

/// <summary>Runs a Polyglot (.NET Interactive) notebook's C# cells in order with Roslyn scripting, state carried from
/// cell to cell as in the .NET Interactive C# kernel, and records the outputs papermill-style.</summary>
public static class NotebookRunner
{
    /// <summary>Tag of cells not to run (nbmake).</summary>
    public const string SkipTag = "skip-execution";

    /// <summary>Tag of cells whose exception is expected (nbmake): recorded, and the run goes on.</summary>
    public const string RaisesTag = "raises-exception";

    /// <summary>Runs a copy of <paramref name="notebook"/>; the input is not changed.</summary>
    public static async Task<RunResult> RunAsync(Notebook notebook, RunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new RunOptions();
        var nb = notebook.Clone();
        var warnings = NotebookParameters.Inject(nb, options.Parameters).ToList();
        OutputFormatter.EnsureRegistered();

        var started = DateTime.UtcNow;
        var papermill = nb.Metadata["papermill"] as JsonObject ?? new JsonObject();
        nb.Metadata["papermill"] = papermill;
        papermill["input_path"] = options.InputPath;
        papermill["output_path"] = options.OutputPath;
        if (papermill["parameters"] is null) papermill["parameters"] = new JsonObject();
        papermill["start_time"] = Iso(started);
        foreach (var cell in nb.Cells)
        {
            cell.Metadata["papermill"] = CellRecord(CellStatus.Pending, null, null, null);
            if (!cell.IsCode) continue;
            cell.Outputs.Clear();
            cell.ExecutionCount = null;
        }

        var previousDirectory = Environment.CurrentDirectory;
        var (stdout, stderr) = (Console.Out, Console.Error);
        if (options.WorkingDirectory is { } wd) Environment.CurrentDirectory = wd;
        var session = new Session(options.BaseDirectory ?? Environment.CurrentDirectory);
        int? failedIndex = null, failedCount = null;
        Exception? failure = null;
        try
        {
            var codeCells = nb.Cells.Count(c => c.IsCode);
            var codeNumber = 0;
            var executionCount = 0;
            for (var i = 0; i < nb.Cells.Count && failure is null; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var cell = nb.Cells[i];
                var t0 = DateTime.UtcNow;
                if (!cell.IsCode)
                {
                    cell.Metadata["papermill"] = CellRecord(CellStatus.Completed, t0, t0, null);
                    continue;
                }
                codeNumber++;
                var kernel = cell.KernelName ?? nb.DefaultKernelName;
                if (cell.HasTag(SkipTag) || kernel == "markdown")
                {
                    cell.Metadata["papermill"] = CellRecord(cell.HasTag(SkipTag) ? CellStatus.Skipped : CellStatus.Completed, t0, t0, null);
                    options.Progress?.Report(new CellProgress(i, codeNumber, codeCells, CellStatus.Skipped, TimeSpan.Zero));
                    continue;
                }

                cell.ExecutionCount = ++executionCount;
                cell.Metadata["papermill"] = CellRecord(CellStatus.Running, t0, null, null);
                options.Progress?.Report(new CellProgress(i, codeNumber, codeCells, CellStatus.Running, null));
                var sink = new CellOutputSink();
                Exception? error;
                Console.SetOut(sink.Writer("stdout"));
                Console.SetError(sink.Writer("stderr"));
                try
                {
                    error = await session.RunCellAsync(cell, kernel, executionCount, sink, options.CellTimeout, cancellationToken);
                }
                finally
                {
                    Console.SetOut(stdout);
                    Console.SetError(stderr);
                }
                if (error is not null) sink.Add(ErrorOutputFor(error));
                cell.Outputs.AddRange(sink.Snapshot());

                var t1 = DateTime.UtcNow;
                var failed = error is not null && !cell.HasTag(RaisesTag);
                cell.Metadata["papermill"] = CellRecord(failed ? CellStatus.Failed : CellStatus.Completed, t0, t1, error is not null);
                options.Progress?.Report(new CellProgress(i, codeNumber, codeCells, failed ? CellStatus.Failed : CellStatus.Completed, t1 - t0));
                if (failed) (failure, failedIndex, failedCount) = (error, i, executionCount);
            }
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            if (options.WorkingDirectory is not null) Environment.CurrentDirectory = previousDirectory;
        }

        var ended = DateTime.UtcNow;
        papermill["end_time"] = Iso(ended);
        papermill["duration"] = (ended - started).TotalSeconds;
        papermill["exception"] = failure is not null;
        return new RunResult(nb, failure is null, failedIndex, failedCount, failure, warnings);
    }

    /// <summary>The nbformat error output for an exception: ename, evalue and the trace as lines.</summary>
    public static ErrorOutput ErrorOutputFor(Exception e) => e switch
    {
        CellCompilationException c => new ErrorOutput("CompilationError", c.Message, c.Diagnostics),
        _ => new ErrorOutput(e.GetType().Name, e.Message, [$"{e.GetType().FullName}: {e.Message}", .. TraceLines(e)]),
    };

    static IEnumerable<string> TraceLines(Exception e)
    {
        var lines = (e.StackTrace ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r'));
        foreach (var line in lines) yield return line;
        if (e.InnerException is { } inner)
        {
            yield return $" ---> {inner.GetType().FullName}: {inner.Message}";
            foreach (var line in TraceLines(inner)) yield return line;
        }
    }

    static JsonObject CellRecord(CellStatus status, DateTime? start, DateTime? end, bool? exception) => new()
    {
        ["duration"] = start is { } s && end is { } e ? (e - s).TotalSeconds : null,
        ["end_time"] = end is { } en ? Iso(en) : null,
        ["exception"] = exception,
        ["start_time"] = start is { } st ? Iso(st) : null,
        ["status"] = status.ToString().ToLowerInvariant(),
    };

    static string Iso(DateTime t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>One notebook's Roslyn script chain, references and globals.</summary>
    sealed class Session(string baseDirectory)
    {
        readonly ScriptReferences _references = new(baseDirectory);
        readonly NotebookGlobals _globals = new();
        ScriptState<object>? _state;

        /// <summary>Runs one cell; returns the exception that stopped it, or null.</summary>
        public async Task<Exception?> RunCellAsync(NotebookCell cell, string kernel, int executionCount, CellOutputSink sink,
            TimeSpan? timeout, CancellationToken cancellationToken)
        {
            try
            {
                if (!CellDirectives.IsCSharp(kernel))
                    throw new NotSupportedException($"the cell is a '{kernel}' cell; the GenSeg notebook runner executes C# cells only");
                var directives = CellDirectives.Parse(cell.Source, kernel);
                if (directives.Unsupported.Count > 0)
                {
                    var u = directives.Unsupported[0];
                    throw new NotSupportedException($"magic command {u.Name} (line {u.Line}) is not supported by the GenSeg notebook runner, " +
                                                    "which runs C# cells (#!csharp) and passes markdown (#!markdown) through");
                }
                foreach (var note in directives.Ignored) sink.Write("stderr", $"note: {note} is not used by the headless runner\n");
                if (directives.Packages.Count > 0) throw ScriptReferences.RefusePackage(directives.Packages[0]);
                foreach (var assembly in directives.Assemblies)
                    foreach (var warning in _references.AddAssembly(assembly)) sink.Write("stderr", warning + "\n");
                if (!directives.HasCode) return null;

                var clock = Stopwatch.StartNew();
                var (value, hasValue) = await RunCodeAsync(directives.Code, sink, timeout, cancellationToken);
                if (directives.Time) sink.Write("stdout", $"Wall time: {clock.Elapsed.TotalMilliseconds:F4}ms\n");
                if (hasValue) sink.Add(new ExecuteResultOutput(OutputFormatter.Format(value), executionCount));
                return null;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return e;
            }
        }

        async Task<(object? Value, bool HasValue)> RunCodeAsync(string code, CellOutputSink sink, TimeSpan? timeout, CancellationToken ct)
        {
            var options = _references.Options;
            Script<object> script = _state is null
                ? CSharpScript.Create(code, options, typeof(NotebookGlobals))
                : _state.Script.ContinueWith(code, options);
            var errors = script.Compile(ct).Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            if (errors.Count > 0)
            {
                var lines = errors.Select(Describe).ToList();
                throw new CellCompilationException(string.Join("\n", lines), lines);
            }

            _globals.Sink = sink;
            var run = _state is null
                ? Task.Run(() => script.RunAsync(_globals, _ => true, ct), ct)
                : Task.Run(() => script.RunFromAsync(_state, _ => true, ct), ct);
            if (timeout is { } limit && await Task.WhenAny(run, Task.Delay(limit, ct)) != run)
            {
                ct.ThrowIfCancellationRequested();
                throw new TimeoutException($"the cell did not finish within the cell timeout of {limit.TotalSeconds:0.###} s");
            }
            var state = await run;
            if (state.Exception is { } thrown)
            {
                _state = state; // what ran before the exception is kept, as in the kernel
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(thrown).Throw();
            }
            _state = state;
            return (state.ReturnValue, HasTrailingExpression(code));
        }

        static string Describe(Diagnostic d)
        {
            var span = d.Location.GetLineSpan();
            return $"({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1}): error {d.Id}: {d.GetMessage(CultureInfo.InvariantCulture)}";
        }

        /// <summary>True when the code ends in an expression without a semicolon: the cell's result.</summary>
        static bool HasTrailingExpression(string code)
        {
            var root = (CompilationUnitSyntax)CSharpSyntaxTree.ParseText(code, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script)).GetRoot();
            return root.Members.LastOrDefault() is GlobalStatementSyntax { Statement: ExpressionStatementSyntax e } && e.SemicolonToken.IsMissing;
        }
    }
}
