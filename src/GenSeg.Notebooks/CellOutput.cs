using System.Text.Json.Nodes;

namespace GenSeg.Notebooks;

/// <summary>One output of a code cell, as nbformat 4 stores it (<c>output_type</c>).</summary>
public abstract record CellOutput;

/// <summary><c>stream</c>: text written to stdout or stderr while the cell ran.</summary>
/// <param name="Name"><c>stdout</c> or <c>stderr</c>.</param>
/// <param name="Text">The text, newlines included.</param>
public sealed record StreamOutput(string Name, string Text) : CellOutput;

/// <summary><c>display_data</c>: a value shown by <c>display(x)</c>, as a mime bundle.</summary>
/// <param name="Data">Mime type to content (text; base64 for images; JSON text for JSON mime types).</param>
public sealed record DisplayDataOutput(IReadOnlyDictionary<string, string> Data) : CellOutput;

/// <summary><c>execute_result</c>: the value of a cell's trailing expression.</summary>
/// <param name="Data">Mime type to content.</param>
/// <param name="ExecutionCount">The cell's prompt number.</param>
public sealed record ExecuteResultOutput(IReadOnlyDictionary<string, string> Data, int? ExecutionCount) : CellOutput;

/// <summary><c>error</c>: the exception that stopped the cell.</summary>
/// <param name="Name">Exception type (<c>ename</c>).</param>
/// <param name="Value">Message (<c>evalue</c>).</param>
/// <param name="Traceback">Stack trace lines.</param>
public sealed record ErrorOutput(string Name, string Value, IReadOnlyList<string> Traceback) : CellOutput;

/// <summary>An output of a type this model does not know, kept as it was read.</summary>
/// <param name="Json">The output object.</param>
public sealed record UnknownOutput(JsonObject Json) : CellOutput;
