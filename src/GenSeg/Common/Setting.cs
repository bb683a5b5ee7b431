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
    /// <summary>This setting on a record <typeparamref name="TOuter"/> that holds a <typeparamref name="T"/>, its name prefixed with <paramref name="prefix"/>.</summary>
    public Setting<TOuter> Lift<TOuter>(Func<TOuter, T> get, Func<TOuter, T, TOuter> with, string prefix = "") =>
        new(prefix + Name, Description, (o, v) => with(o, Parse(get(o), v)), o => Format(get(o)));
}

/// <summary>
/// An options record's named settings: its entries (<see cref="Setting{T}"/>), its validation and its presets, with the
/// operations the CLI, sweeps, notebooks and result JSON share. Every method's table and DenseCRF's are one of these,
/// so setting a value reads and fails the same way everywhere: <see cref="Set"/> parses, validates the whole record, and
/// an error reads "name=value: what was expected".
/// </summary>
/// <typeparam name="T">The options record.</typeparam>
public sealed class SettingTable<T> where T : class
{
    readonly Action<T> validate;
    readonly IReadOnlyList<(string Name, Func<T> Make)> presets;

    /// <summary>A table of <paramref name="entries"/> for <paramref name="what"/>, checked by <paramref name="validate"/>, with named presets (the first is the default).</summary>
    public SettingTable(string what, IReadOnlyList<Setting<T>> entries, Action<T> validate, params (string Name, Func<T> Make)[] presets)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(validate);
        if (presets.Length == 0) throw new ArgumentException($"{what}: expected at least one preset (the defaults)", nameof(presets));
        var duplicate = entries.GroupBy(e => e.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"{what}: setting '{duplicate.Key}' is listed twice", nameof(entries));
        What = what;
        All = entries;
        this.validate = validate;
        this.presets = presets;
    }

    /// <summary>What the table sets, e.g. "G4Seg" (named in errors).</summary>
    public string What { get; }

    /// <summary>The entries, in the order the CLI lists them and <see cref="ApplyAll"/> applies them.</summary>
    public IReadOnlyList<Setting<T>> All { get; }

    /// <summary>The presets' names, the default first.</summary>
    public IReadOnlyList<string> PresetNames => presets.Select(p => p.Name).ToArray();

    /// <summary>The default options (the first preset: the paper's values).</summary>
    public T Defaults => presets[0].Make();

    /// <summary>The preset named <paramref name="name"/> (case-insensitive); an error lists the presets.</summary>
    public T Preset(string name) =>
        presets.FirstOrDefault(p => string.Equals(p.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase)).Make?.Invoke()
        ?? throw new ArgumentException($"preset '{name}': expected {string.Join(" or ", PresetNames)}", nameof(name));

    /// <summary>The entry named <paramref name="name"/> (case-insensitive); an error lists the known names.</summary>
    public Setting<T> Find(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"setting '{name}': unknown {What} setting; expected one of {string.Join(", ", All.Select(s => s.Name))}", nameof(name));

    /// <summary>Checks every value of <paramref name="options"/>; an error names the value and what is accepted.</summary>
    public void Validate(T options) => validate(options);

    /// <summary>A copy of <paramref name="options"/> with <paramref name="name"/> set from text and the result validated; errors read "name=value: ...".</summary>
    public T Set(T options, string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var setting = Find(name);
        try
        {
            var next = setting.Parse(options, value.Trim());
            validate(next);
            return next;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new ArgumentException($"{setting.Name}={value}: {Plain(e)}", nameof(value), e);
        }
    }

    /// <summary>Every entry's value as text, by name, in the table's order (what a result JSON records under <c>settings</c>).</summary>
    public IReadOnlyDictionary<string, string> Values(T options)
    {
        var values = new Dictionary<string, string>();
        foreach (var s in All) values[s.Name] = s.Format(options);
        return values;
    }

    /// <summary>
    /// <paramref name="start"/> with every recorded value applied in the table's order (so a shortcut listed first,
    /// such as "modules", is refined by the settings after it): the options a result JSON's values describe.
    /// </summary>
    public T ApplyAll(T start, IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        foreach (var key in values.Keys) Find(key);
        var options = start;
        foreach (var s in All)
            if (values.TryGetValue(s.Name, out var v)) options = Set(options, s.Name, v);
        return options;
    }

    /// <summary>
    /// <paramref name="start"/> with the assignments <paramref name="assignments"/> applied as <see cref="ApplyAll"/>
    /// does: "name=value" pairs joined by ';' (values may hold commas and '+', as the CLI writes them), e.g.
    /// "timestep=300;confusion=0.1-0.7"; empty text gives <paramref name="start"/>. A name given twice is an error.
    /// </summary>
    public T Apply(T start, string assignments)
    {
        ArgumentNullException.ThrowIfNull(assignments);
        var values = new Dictionary<string, string>();
        foreach (var pair in assignments.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ArgumentException($"settings '{assignments}': '{pair}' is not name=value (pairs are joined by ';')", nameof(assignments));
            var name = Find(pair[..eq]).Name;
            if (!values.TryAdd(name, pair[(eq + 1)..])) throw new ArgumentException($"settings '{assignments}': {name} given twice", nameof(assignments));
        }
        return ApplyAll(start, values);
    }

    /// <summary>Parses a sweep "name=v1,v2,..." into the entry's name and its values (not yet applied).</summary>
    public (string Name, IReadOnlyList<string> Values) ParseSweep(string spec)
    {
        int eq = spec?.IndexOf('=', StringComparison.Ordinal) ?? -1;
        if (eq <= 0 || eq == spec!.Length - 1) throw new ArgumentException($"sweep '{spec}': expected name=v1,v2,... (e.g. k=2,3,4)", nameof(spec));
        var name = Find(spec[..eq]).Name;
        var values = spec[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (values.Length == 0) throw new ArgumentException($"sweep '{spec}': no values", nameof(spec));
        return (name, values);
    }

    /// <summary>A sweep "name=v1,v2,..." applied to <paramref name="start"/>, every value validated before any run: (label "name=v", options) per value.</summary>
    public IReadOnlyList<(string Label, T Options)> Sweep(string spec, T start)
    {
        var (name, values) = ParseSweep(spec);
        return values.Select(v => ($"{name}={v}", Set(start, name, v))).ToArray();
    }

    /// <summary>
    /// This table's entries on a record <typeparamref name="TOuter"/> that holds a <typeparamref name="T"/> (names
    /// prefixed with <paramref name="prefix"/>), to build the outer record's table from.
    /// </summary>
    public IEnumerable<Setting<TOuter>> Lift<TOuter>(Func<TOuter, T> get, Func<TOuter, T, TOuter> with, string prefix = "") =>
        All.Select(s => s.Lift(get, with, prefix));

    static string Plain(Exception e)
    {
        var m = e.Message;
        if (e is ArgumentException { ParamName: { } p }) m = m.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal);
        return string.Join(" ", m.ReplaceLineEndings("\n").Split('\n').Where(l => !l.StartsWith("Actual value was ", StringComparison.Ordinal))).Trim();
    }
}

/// <summary>The text forms of setting values (invariant culture; lists never contain commas, which separate a sweep's values).</summary>
public static class SettingText
{
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
