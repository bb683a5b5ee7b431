using System.Text;
using Microsoft.AspNetCore.Html;

namespace GenSeg.Notebooks;

/// <summary>What a cell sees as global members, matching what the .NET Interactive C# kernel's
/// <c>using static Microsoft.DotNet.Interactive.Kernel</c> gives: <c>display(x)</c> and <c>HTML(...)</c>.</summary>
public sealed class NotebookGlobals
{
    internal CellOutputSink? Sink { get; set; }

    internal NotebookGlobals()
    {
    }

    /// <summary>Shows <paramref name="value"/> as a <c>display_data</c> output, formatted with the given mime types or
    /// its own (see <see cref="OutputFormatter"/>). The handle updates the output in place.</summary>
#pragma warning disable IDE1006 // lower-case like the kernel's Kernel.display
    public DisplayedValue display(object? value, params string[] mimeTypes)
    {
        var sink = Sink ?? throw new InvalidOperationException("display() was called outside a running cell");
        var bundle = OutputFormatter.Format(value, mimeTypes);
        return new DisplayedValue(sink, sink.Display(bundle), mimeTypes);
    }
#pragma warning restore IDE1006

    /// <summary>Raw HTML to display, like the kernel's <c>HTML(...)</c>.</summary>
    public IHtmlContent HTML(string content) => new HtmlString(content);
}

/// <summary>The handle <c>display(x)</c> returns; <see cref="Update"/> replaces the shown value.</summary>
public sealed class DisplayedValue
{
    readonly CellOutputSink _sink;
    readonly int _index;
    readonly string[] _mimeTypes;

    internal DisplayedValue(CellOutputSink sink, int index, string[] mimeTypes) => (_sink, _index, _mimeTypes) = (sink, index, mimeTypes);

    /// <summary>Replaces the displayed value.</summary>
    public void Update(object? value) => _sink.Replace(_index, OutputFormatter.Format(value, _mimeTypes));
}

/// <summary>Collects one cell's outputs in order; console writes merge into the preceding stream output of the same
/// name, as Jupyter shows them. Thread-safe: cells may write from parallel loops.</summary>
internal sealed class CellOutputSink
{
    readonly List<CellOutput> _outputs = new();
    readonly Lock _lock = new();

    public void Write(string stream, string text)
    {
        if (text.Length == 0) return;
        lock (_lock)
        {
            if (_outputs.Count > 0 && _outputs[^1] is StreamOutput last && last.Name == stream)
                _outputs[^1] = last with { Text = last.Text + text };
            else _outputs.Add(new StreamOutput(stream, text));
        }
    }

    public int Display(IReadOnlyDictionary<string, string> bundle)
    {
        lock (_lock)
        {
            _outputs.Add(new DisplayDataOutput(bundle));
            return _outputs.Count - 1;
        }
    }

    public void Replace(int index, IReadOnlyDictionary<string, string> bundle)
    {
        lock (_lock) _outputs[index] = new DisplayDataOutput(bundle);
    }

    public void Add(CellOutput output)
    {
        lock (_lock) _outputs.Add(output);
    }

    public IReadOnlyList<CellOutput> Snapshot()
    {
        lock (_lock) return _outputs.ToArray();
    }

    /// <summary>A writer into stream <paramref name="stream"/> (stdout or stderr), for <c>Console.SetOut</c>.</summary>
    public TextWriter Writer(string stream) => new SinkWriter(this, stream);

    sealed class SinkWriter(CellOutputSink sink, string stream) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value) => sink.Write(stream, value.ToString());
        public override void Write(string? value) => sink.Write(stream, value ?? "");
        public override void Write(char[] buffer, int index, int count) => sink.Write(stream, new string(buffer, index, count));
        public override void WriteLine(string? value) => sink.Write(stream, (value ?? "") + "\n");
        public override void WriteLine() => sink.Write(stream, "\n");
    }
}
