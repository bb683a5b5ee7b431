using System.Text.Json;
using System.Text.Json.Nodes;
using GenSeg.Datasets;

namespace GenSeg.Evaluation;

/// <summary>The command line that reruns an evaluation, written into every result as <c>command</c>.</summary>
public static class RerunCommand
{
    /// <summary>
    /// <c>genseg eval METHOD</c> with the run's own flags (<paramref name="flags"/>: dataset, split, first seed, count,
    /// inputs, model; the dataset left out when it is ToyWorld, the default) and every setting of <paramref name="settings"/>.
    /// </summary>
    public static string For(string method, JsonObject flags, IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(flags);
        ArgumentNullException.ThrowIfNull(settings);
        var list = new List<(string, string)>();
        foreach (var (key, v) in flags)
        {
            if (v is null) continue;
            var text = v.GetValueKind() == JsonValueKind.String ? (string)v! : v.ToJsonString();
            if (key == "dataset" && text == DatasetSpec.ToyWorld) continue;
            list.Add((key, text));
        }
        list.AddRange(settings.Select(kv => (kv.Key, kv.Value)));
        return Line($"genseg eval {method}", list);
    }

    /// <summary>
    /// A shell command line: <paramref name="command"/> followed by <c>--name value</c> per flag, values quoted for a
    /// POSIX shell when they hold anything but letters, digits and <c>._+@/:-</c>.
    /// </summary>
    public static string Line(string command, IEnumerable<(string Name, string Value)> flags) =>
        command + string.Concat(flags.Select(f => $" --{f.Name} {ShellQuote(f.Value)}"));

    static string ShellQuote(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || "._+@/:-".Contains(c, StringComparison.Ordinal))
            ? value
            : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
