using System.CommandLine;
using GenSeg.Common;

namespace GenSeg.Cli;

/// <summary>
/// One flag per named setting of a table (<c>--timestep</c>, <c>--box-rate</c>, ...; with a prefix for a second table on
/// the same command), applied in the table's order, and <c>--sweep name=v1,v2</c> over the same names.
/// </summary>
public sealed class SettingFlags<T> where T : class
{
    readonly SettingTable<T> _table;
    readonly IReadOnlyList<(Setting<T> Setting, Option<string?> Option)> _flags;

    /// <summary>Flags for <paramref name="table"/>, each described with its value in <paramref name="defaults"/>.</summary>
    public SettingFlags(SettingTable<T> table, T defaults, string prefix = "", string? what = null)
    {
        _table = table;
        _flags = table.All.Select(s => (s, new Option<string?>($"--{prefix}{s.Name}")
        {
            Description = $"{(what is null ? "" : what + ": ")}{s.Description} [default: {s.Format(defaults)}]",
        })).ToList();
    }

    /// <summary>Adds every flag to <paramref name="cmd"/>.</summary>
    public void AddTo(Command cmd)
    {
        foreach (var (_, option) in _flags) cmd.Options.Add(option);
    }

    /// <summary><paramref name="options"/> with every given flag applied; an error names the flag.</summary>
    public T Apply(ParseResult parse, T options)
    {
        foreach (var (setting, option) in _flags)
        {
            if (parse.GetValue(option) is not { } value) continue;
            try { options = _table.Set(options, setting.Name, value); }
            catch (ArgumentException e) { throw new ArgumentException($"{option.Name}: {CliCommon.PlainMessage(e)}"); }
        }
        return options;
    }

    /// <summary>The runs of <c>--sweep</c> (one per value, labelled "name=value"), or the one run <paramref name="label"/>.</summary>
    public IReadOnlyList<(string Label, T Options)> Sweep(ParseResult parse, Option<string?> sweep, T options, string label)
    {
        if (parse.GetValue(sweep) is not { } spec) return new[] { (label, options) };
        try { return _table.Sweep(spec, options); }
        catch (ArgumentException e) { throw new ArgumentException($"--sweep: {CliCommon.PlainMessage(e)}"); }
    }
}
