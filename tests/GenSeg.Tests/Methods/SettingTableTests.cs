using System.Collections;
using System.Reflection;
using GenSeg.Common;
using GenSeg.Evaluation;
using GenSeg.Methods;
using GenSeg.Methods.G4Seg;
using GenSeg.Methods.PaintSeg;
using GenSeg.Methods.DenseCrf;
using GenSeg.Features;
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
    public void AssignmentsJoinedBySemicolonsApplyOnTopOfAPreset()
    {
        var table = G4SegSettings.Table;
        var o = table.Apply(table.Preset("toyworld"), " timestep=300 ; B=0.5;confusion=0.2-0.6@none ");
        Assert.Equal((300L, 0.5), (o.Timestep, o.B));
        Assert.Equal("0.2-0.6@none", table.Values(o)["confusion"]);
        Assert.Equal(CorrespondenceDirection.OriginalToGenerated, o.Direction);          // the rest of the preset kept
        Assert.Equal(table.Values(table.Preset("paper")), table.Values(table.Apply(table.Preset("paper"), "")));
        Assert.Contains("not name=value", Assert.Throws<ArgumentException>(() => table.Apply(new G4SegOptions(), "timestep")).Message);
        Assert.Contains("given twice", Assert.Throws<ArgumentException>(() => table.Apply(new G4SegOptions(), "b=0.1;b=0.2")).Message);
        Assert.Contains("unknown G4Seg setting", Assert.Throws<ArgumentException>(() => table.Apply(new G4SegOptions(), "bee=0.1")).Message);
        Assert.Contains("b=2", Assert.Throws<ArgumentException>(() => table.Apply(new G4SegOptions(), "b=2")).Message); // validated
    }

    [Fact]
    public void G4SegTableCoversG4SegOptions() => Covers(G4SegSettings.Table, new G4SegOptions(), G4SegOptions.ToyWorld);

    [Fact]
    public void CrossAttentionTableCoversCrossAttentionOptions() => Covers(CrossAttentionSettings.Table, new CrossAttentionOptions());

    [Fact]
    public void PaintSegTableCoversPaintSegOptions() => Covers(PaintSegSettings.Table, new PaintSegOptions(), PaintSegOptions.ToyWorld);

    [Fact]
    public void DenseCrfAndFeatureTablesCoverTheirOptions()
    {
        Covers(DenseCrfSettings.Table, new DenseCrfOptions(), DenseCrfOptions.PaintSeg);
        Covers(FeatureExtractors.Table, new FeatureOptions());
    }

    [Fact]
    public void EveryTableSetsValidatesAndFailsInTheSameWords()
    {
        // a value that parses but breaks the record's own validation, in each table: "name=value: why"
        AssertFails(() => G4SegSettings.Table.Set(new G4SegOptions(), "b", "2"), "b=2: ");
        AssertFails(() => PaintSegSettings.Table.Set(new PaintSegOptions(), "k", "1"), "k=1: ");
        AssertFails(() => DenseCrfSettings.Table.Set(new DenseCrfOptions(), "iterations", "-1"), "iterations=-1: ");
        AssertFails(() => CrossAttentionSettings.Table.Set(new CrossAttentionOptions(), "timestep", "5000"), "timestep=5000: ");
        AssertFails(() => FeatureExtractors.Table.Set(new FeatureOptions(), "local-window", "4"), "local-window=4: ");
        AssertFails(() => PaintSegEvaluationSettings.Table.Set(new PaintSegEvaluationOptions(), "crf-iterations", "-1"), "crf-iterations=-1: ");
        AssertFails(() => CrfEvaluationSettings.Table.Set(new CrfEvaluationOptions(), "gaussian-sxy", "0"), "gaussian-sxy=0: ");
        // text that does not parse reads the same way
        AssertFails(() => PaintSegSettings.Table.Set(new PaintSegOptions(), "steps", "x"), "steps=x: expected an integer");
        AssertFails(() => G4SegSettings.Table.Set(new G4SegOptions(), "timestep", "x"), "timestep=x: expected an integer");
        // one preset lookup: the same error for every table
        AssertFails(() => G4SegSettings.Table.Preset("best"), "preset 'best': expected paper or toyworld");
        AssertFails(() => PaintSegSettings.Table.Preset("best"), "preset 'best': expected paper or toyworld");
        AssertFails(() => DenseCrfSettings.Table.Preset("best"), "preset 'best': expected paintseg or pydensecrf");
        Assert.Equal(PaintSegOptions.ToyWorld, PaintSegEvaluationSettings.Table.Preset("toyworld").Options);
        // a sweep checks every value before anything runs
        AssertFails(() => PaintSegSettings.Table.Sweep("k=2,1", new PaintSegOptions()), "k=1: ");
    }

    static void AssertFails(Action act, string message) =>
        Assert.StartsWith(message, Assert.ThrowsAny<ArgumentException>(act).Message, StringComparison.Ordinal);

    [Fact]
    public void PaintSegEvaluationTableRoundTripsAndRecordsThePrompts()
    {
        var defaults = new PaintSegEvaluationOptions();
        RoundTrips(PaintSegEvaluationSettings.Table, defaults);
        var changed = defaults with { PromptNoise = 0.15, PointMode = GenSeg.Methods.Inputs.PointMode.RandomInterior, Severity = GenSeg.ToyWorld.Severity.High };
        var values = PaintSegEvaluationSettings.Table.Values(changed);
        Assert.Equal(("0.15", "random", changed.Severity.ToString()), (values["prompt-noise"], values["point-mode"], values["severity"]));
        var back = PaintSegEvaluationSettings.Table.ApplyAll(defaults, values);
        Assert.Equal((changed.PromptNoise, changed.PointMode, changed.Severity), (back.PromptNoise, back.PointMode, back.Severity));
        // the method's settings, the features', and prompt, painter, prompt-noise, severity, point-mode
        Assert.Equal(PaintSegSettings.Table.All.Count + FeatureExtractors.Table.All.Count + 5, PaintSegEvaluationSettings.Table.All.Count);
    }

    [Fact]
    public void BadTextNamesTheSettingAndTheValue()
    {
        var e = Assert.Throws<ArgumentException>(() => G4SegSettings.Table.Set(new G4SegOptions(), "window", "wide"));
        Assert.Contains("window=wide", e.Message, StringComparison.Ordinal);
        Assert.Contains("unknown", Assert.Throws<ArgumentException>(() => G4SegSettings.Table.ApplyAll(new G4SegOptions(),
            new Dictionary<string, string> { ["no-such"] = "1" })).Message, StringComparison.Ordinal);
    }

    // The entries' own parsing, without the record's validation: a changed leaf need not make a valid record.
    static T ApplyRaw<T>(SettingTable<T> table, T start, IReadOnlyDictionary<string, string> values) where T : class =>
        table.All.Where(s => values.ContainsKey(s.Name)).Aggregate(start, (o, s) => s.Parse(o, values[s.Name]));

    static void Covers<T>(SettingTable<T> table, T defaults, params T[] others) where T : class
    {
        Assert.Equal(table.All.Count, table.All.Select(s => s.Name).Distinct().Count());
        foreach (var o in others.Prepend(defaults)) RoundTrips(table, o);
        var recorded = table.Values(defaults);
        var leaves = Leaves(typeof(T), new List<PropertyInfo>()).ToList();
        Assert.NotEmpty(leaves);
        foreach (var path in leaves)
        {
            var name = string.Join(".", path.Select(p => p.Name));
            var before = Get(defaults, path);
            var changed = Set(defaults, path, Changed(path[^1].PropertyType, before));
            var values = table.Values(changed);
            Assert.True(!values.SequenceEqual(recorded), $"{typeof(T).Name}.{name}: no setting records it");
            var rerun = ApplyRaw(table, defaults, values);
            Assert.True(Same(Get(changed, path), Get(rerun, path)), $"{typeof(T).Name}.{name}: its recorded values do not give it back");
        }
    }

    static void RoundTrips<T>(SettingTable<T> table, T options) where T : class
    {
        foreach (var s in table.All)
        {
            var text = s.Format(options);
            Assert.Equal(text, s.Format(s.Parse(options, text)));
        }
        var values = table.Values(options);
        Assert.Equal(values, table.Values(table.ApplyAll(options, values)));
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
            "ddim" => "euler", // a scheduler's name: another scheduler
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
