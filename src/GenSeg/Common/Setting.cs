using System.Globalization;

namespace GenSeg.Common;

/// <summary>
/// One named setting of an options record <typeparamref name="T"/>: its name (a CLI flag <c>--name</c>, a sweep key, a
/// notebook parameter and a key of the result JSON), what it sets (with the paper's value), how text sets it and how
/// it is written back as text. <c>Parse(o, Format(o))</c> gives <c>o</c> back for every setting.
/// </summary>
/// <param name="Name">The name, e.g. "timestep" or "box-rate".</param>
/// <param name="Description">What it sets, with the paper's value.</param>
/// <param name="Parse">A copy of the options with the value parsed from text (errors name the setting and the value).</param>
/// <param name="Format">The current value as text.</param>
public sealed record Setting<T>(string Name, string Description, Func<T, string, T> Parse, Func<T, string> Format)
{
    /// <summary>This setting on a record <typeparamref name="TOuter"/> that holds a <typeparamref name="T"/>.</summary>
    public Setting<TOuter> Lift<TOuter>(Func<TOuter, T> get, Func<TOuter, T, TOuter> with) =>
        new(Name, Description, (o, v) => with(o, Parse(get(o), v)), o => Format(get(o)));
}

/// <summary>
/// The operations on a table of <see cref="Setting{T}"/> that the CLI, sweeps, notebooks and result JSON share, and
/// the text forms of values (invariant culture; lists never contain commas, which separate a sweep's values).
/// </summary>
public static class SettingTable
{
    /// <summary>The setting named <paramref name="name"/> (case-insensitive); an error lists the known names.</summary>
    public static Setting<T> Find<T>(IReadOnlyList<Setting<T>> table, string name) =>
        table.FirstOrDefault(s => string.Equals(s.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"setting '{name}': unknown; expected one of {string.Join(", ", table.Select(s => s.Name))}", nameof(name));

    /// <summary>A copy of <paramref name="options"/> with <paramref name="name"/> set from <paramref name="value"/>; errors name both.</summary>
    public static T Apply<T>(IReadOnlyList<Setting<T>> table, T options, string name, string value)
    {
        var setting = Find(table, name);
        try
        {
            return setting.Parse(options, value.Trim());
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ArgumentException($"{setting.Name}={value}: {e.Message}", nameof(value));
        }
    }

    /// <summary>Every setting's value as text, by name, in the table's order (what a result JSON records).</summary>
    public static IReadOnlyDictionary<string, string> Values<T>(IReadOnlyList<Setting<T>> table, T options)
    {
        var values = new Dictionary<string, string>();
        foreach (var s in table) values[s.Name] = s.Format(options);
        return values;
    }

    /// <summary>
    /// <paramref name="start"/> with every recorded value applied in the table's order (so a shortcut listed first,
    /// such as "modules", is refined by the settings after it): the options a result JSON's values describe.
    /// </summary>
    public static T ApplyAll<T>(IReadOnlyList<Setting<T>> table, T start, IReadOnlyDictionary<string, string> values)
    {
        foreach (var key in values.Keys) Find(table, key);
        var options = start;
        foreach (var s in table)
            if (values.TryGetValue(s.Name, out var v)) options = Apply(table, options, s.Name, v);
        return options;
    }

    /// <summary>Parses a sweep "name=v1,v2,..." into the setting's name and its values.</summary>
    public static (string Name, IReadOnlyList<string> Values) ParseSweep<T>(IReadOnlyList<Setting<T>> table, string spec)
    {
        int eq = spec?.IndexOf('=', StringComparison.Ordinal) ?? -1;
        if (eq <= 0 || eq == spec!.Length - 1) throw new ArgumentException($"sweep '{spec}': expected name=v1,v2,... (e.g. k=2,3,4)", nameof(spec));
        var name = Find(table, spec[..eq]).Name;
        var values = spec[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (values.Length == 0) throw new ArgumentException($"sweep '{spec}': no values", nameof(spec));
        return (name, values);
    }

    /// <summary>A sweep "name=v1,v2,..." applied to <paramref name="start"/>: (label "name=v", options) per value.</summary>
    public static IReadOnlyList<(string Label, T Options)> Sweep<T>(IReadOnlyList<Setting<T>> table, string spec, T start)
    {
        var (name, values) = ParseSweep(table, spec);
        return values.Select(v => ($"{name}={v}", Apply(table, start, name, v))).ToArray();
    }

    /// <summary>A number as text: up to 6 significant decimals, invariant culture.</summary>
    public static string Text(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);

    /// <summary>An integer as text.</summary>
    public static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A switch as text: "true" or "false".</summary>
    public static string Text(bool value) => value ? "true" : "false";

    /// <summary>An integer from text.</summary>
    public static int Int(string v) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) ? x : throw new FormatException("expected an integer");

    /// <summary>A 64-bit integer from text.</summary>
    public static long Long(string v) =>
        long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) ? x : throw new FormatException("expected an integer");

    /// <summary>An unsigned 64-bit integer (a seed) from text.</summary>
    public static ulong ULong(string v) =>
        ulong.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) ? x : throw new FormatException("expected a non-negative integer");

    /// <summary>A finite number from text.</summary>
    public static double Double(string v) =>
        double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) ? x : throw new FormatException("expected a number");

    /// <summary>A switch from text: true/on/yes/1 or false/off/no/0.</summary>
    public static bool Bool(string v) => v.Trim().ToLowerInvariant() switch
    {
        "true" or "on" or "yes" or "1" => true,
        "false" or "off" or "no" or "0" => false,
        _ => throw new FormatException("expected true or false"),
    };

    /// <summary>One of the names in <paramref name="names"/> (case-insensitive) mapped to its value.</summary>
    public static TValue OneOf<TValue>(string v, params (string Name, TValue Value)[] names)
    {
        var key = v.Trim().ToLowerInvariant();
        foreach (var (name, value) in names)
            if (name == key) return value;
        throw new FormatException($"expected {string.Join(", ", names.Select(n => n.Name).Distinct())}");
    }

    /// <summary>The first name in <paramref name="names"/> whose value equals <paramref name="value"/>.</summary>
    public static string NameOf<TValue>(TValue value, params (string Name, TValue Value)[] names) =>
        names.First(n => EqualityComparer<TValue>.Default.Equals(n.Value, value)).Name;
}
