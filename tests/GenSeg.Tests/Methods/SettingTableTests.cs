using System.Collections;
using System.Reflection;
using GenSeg.Common;
using GenSeg.Evaluation;
using GenSeg.Methods;
using GenSeg.Methods.G4Seg;
using GenSeg.Methods.PaintSeg;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Methods;

/// <summary>
/// Each method's named-settings table covers its options record: every settable property (nested records included)
/// changes a recorded value when it changes, and the recorded values applied to the defaults give it back, so a
/// result JSON (which records every value) reruns its run. Parse of format gives the same value for every setting.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class SettingTableTests
{
    [Fact]
    public void G4SegTableCoversG4SegOptions() => Covers(G4SegSettings.Table.All, new G4SegOptions(), G4SegOptions.ToyWorld);

    [Fact]
    public void CrossAttentionTableCoversCrossAttentionOptions() => Covers(CrossAttentionSettings.Table.All, new CrossAttentionOptions());

    [Fact]
    public void PaintSegTableCoversPaintSegOptions() => Covers(PaintSegSettings.Table.All, new PaintSegOptions());

    [Fact]
    public void PaintSegEvaluationTableRoundTripsAndRecordsThePrompts()
    {
        var defaults = new PaintSegEvaluationOptions();
        RoundTrips(PaintSegEvaluationSettings.Table.All, defaults);
        var changed = defaults with { PromptNoise = 0.15, PointMode = GenSeg.Methods.Inputs.PointMode.RandomInterior, Severity = GenSeg.ToyWorld.Severity.High };
        var values = PaintSegEvaluationSettings.Table.Values(changed);
        Assert.Equal(("0.15", "random", changed.Severity.ToString()), (values["prompt-noise"], values["point-mode"], values["severity"]));
        var back = SettingTable.ApplyAll(PaintSegEvaluationSettings.Table.All, defaults, values);
        Assert.Equal((changed.PromptNoise, changed.PointMode, changed.Severity), (back.PromptNoise, back.PointMode, back.Severity));
        Assert.Equal(PaintSegSettings.Table.All.Count + 3, PaintSegEvaluationSettings.Table.All.Count);
    }

    [Fact]
    public void BadTextNamesTheSettingAndTheValue()
    {
        var e = Assert.Throws<ArgumentException>(() => G4SegSettings.Table.Set(new G4SegOptions(), "window", "wide"));
        Assert.Contains("window=wide", e.Message, StringComparison.Ordinal);
        Assert.Contains("unknown", Assert.Throws<ArgumentException>(() => SettingTable.ApplyAll(G4SegSettings.Table.All, new G4SegOptions(),
            new Dictionary<string, string> { ["no-such"] = "1" })).Message, StringComparison.Ordinal);
    }

    static void Covers<T>(IReadOnlyList<Setting<T>> table, T defaults, params T[] others) where T : class
    {
        Assert.Equal(table.Count, table.Select(s => s.Name).Distinct().Count());
        foreach (var o in others.Prepend(defaults)) RoundTrips(table, o);
        var recorded = SettingTable.Values(table, defaults);
        var leaves = Leaves(typeof(T), new List<PropertyInfo>()).ToList();
        Assert.NotEmpty(leaves);
        foreach (var path in leaves)
        {
            var name = string.Join(".", path.Select(p => p.Name));
            var before = Get(defaults, path);
            var changed = Set(defaults, path, Changed(path[^1].PropertyType, before));
            var values = SettingTable.Values(table, changed);
            Assert.True(!values.SequenceEqual(recorded), $"{typeof(T).Name}.{name}: no setting records it");
            var rerun = SettingTable.ApplyAll(table, defaults, values);
            Assert.True(Same(Get(changed, path), Get(rerun, path)), $"{typeof(T).Name}.{name}: its recorded values do not give it back");
        }
    }

    static void RoundTrips<T>(IReadOnlyList<Setting<T>> table, T options)
    {
        foreach (var s in table)
        {
            var text = s.Format(options);
            Assert.Equal(text, s.Format(s.Parse(options, text)));
        }
        var values = SettingTable.Values(table, options);
        Assert.Equal(values, SettingTable.Values(table, SettingTable.ApplyAll(table, options, values)));
    }

    // Settable properties, descending into the kit's nested option records.
    static IEnumerable<List<PropertyInfo>> Leaves(Type type, List<PropertyInfo> prefix)
    {
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
        {
            var path = new List<PropertyInfo>(prefix) { p };
            var t = p.PropertyType;
            if (t.IsClass && t != typeof(string) && t.Namespace?.StartsWith("GenSeg", StringComparison.Ordinal) == true && t.GetMethod("<Clone>$") is not null)
                foreach (var leaf in Leaves(t, path)) yield return leaf;
            else yield return path;
        }
    }

    static object? Get(object root, IReadOnlyList<PropertyInfo> path) => path.Aggregate((object?)root, (o, p) => p.GetValue(o));

    static T Set<T>(T root, IReadOnlyList<PropertyInfo> path, object? value) where T : class => (T)SetAt(root, path, 0, value);

    static object SetAt(object record, IReadOnlyList<PropertyInfo> path, int i, object? value)
    {
        var copy = record.GetType().GetMethod("<Clone>$")!.Invoke(record, null)!;
        path[i].SetValue(copy, i == path.Count - 1 ? value : SetAt(path[i].GetValue(record)!, path, i + 1, value));
        return copy;
    }

    // A different value of the same type.
    static object? Changed(Type type, object? value)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (value is null)
        {
            if (t == typeof(string)) return "x";
            if (t.IsEnum) return Enum.GetValues(t).GetValue(0);
            if (t == typeof(IReadOnlyList<int>)) return new[] { 3 };
            return Convert.ChangeType(1, t, System.Globalization.CultureInfo.InvariantCulture);
        }
        return value switch
        {
            bool b => !b,
            int n => n + 1,
            long n => n + 1,
            ulong n => n + 1,
            float f => f + 1,
            double d => d + 0.25,
            string s => s + "x",
            Enum e => NextEnum(e),
            IReadOnlyList<int> => new[] { 3 },
            IReadOnlyList<long> => new long[] { 3 },
            _ => throw new InvalidOperationException($"no changed value for {type}"),
        };
    }

    static object NextEnum(Enum e)
    {
        var all = Enum.GetValues(e.GetType());
        int i = Array.IndexOf(all, e);
        return all.GetValue((i + 1) % all.Length)!;
    }

    static bool Same(object? a, object? b) =>
        a is IEnumerable x && b is IEnumerable y && a is not string ? x.Cast<object>().SequenceEqual(y.Cast<object>()) : Equals(a, b);
}
