using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GenSeg.ToyWorld.Training;

/// <summary>One stage of the embedded model's training: a run of <c>genseg train-toy</c>.</summary>
/// <param name="Run">The run's name: its loss log is <c>&lt;run&gt;.csv</c> beside the record (and <c>runs/&lt;run&gt;/losses.csv</c> while it exists).</param>
/// <param name="Component">The component it trained (vae, unet, unet-inpaint).</param>
/// <param name="Summary">What was trained and how, for the model card.</param>
/// <param name="Command">The command that ran it.</param>
public sealed record TrainingStage(
    [property: JsonPropertyName("run")] string Run,
    [property: JsonPropertyName("component")] string Component,
    [property: JsonPropertyName("summary")] string Summary,
    [property: JsonPropertyName("command")] string Command);

/// <summary>
/// The embedded model's training record (<c>docs/training/record.json</c>): its stages in order with their commands, and
/// their loss logs beside it. The model card's training section and loss-curve plot are rendered from it, so the card
/// describes every run that shaped the shipped weights, including runs whose folders are gone.
/// </summary>
public sealed class TrainingRecord
{
    sealed record Json([property: JsonPropertyName("note")] string? Note, [property: JsonPropertyName("stages")] List<TrainingStage>? Stages);

    /// <summary>The folder holding the record and the loss logs.</summary>
    public string Folder { get; }

    /// <summary>The stages in training order.</summary>
    public IReadOnlyList<TrainingStage> Stages { get; }

    TrainingRecord(string folder, IReadOnlyList<TrainingStage> stages)
    {
        Folder = folder;
        Stages = stages;
    }

    /// <summary>Reads a record file; errors name the file and what is missing.</summary>
    public static TrainingRecord Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--record {path}: no training record there (expected docs/training/record.json)", path);
        Json? json;
        try
        {
            json = JsonSerializer.Deserialize<Json>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a training record ({e.Message})", e);
        }
        if (json?.Stages is not { Count: > 0 } stages) throw new InvalidDataException($"{path}: expected a non-empty \"stages\" array");
        for (int i = 0; i < stages.Count; i++)
            if (string.IsNullOrWhiteSpace(stages[i].Run) || string.IsNullOrWhiteSpace(stages[i].Component) || string.IsNullOrWhiteSpace(stages[i].Command))
                throw new InvalidDataException($"{path}: stages[{i}] needs \"run\", \"component\" and \"command\"");
        return new TrainingRecord(Path.GetDirectoryName(Path.GetFullPath(path))!, stages);
    }

    /// <summary>The loss log of a stage beside the record.</summary>
    public string LossLog(TrainingStage stage) => Path.Combine(Folder, stage.Run + ".csv");

    /// <summary>Copies each stage's <c>runsFolder/&lt;run&gt;/losses.csv</c>, when present, over its log beside the record.</summary>
    public void RefreshFrom(string runsFolder)
    {
        foreach (var stage in Stages)
        {
            var live = Path.Combine(runsFolder, stage.Run, "losses.csv");
            if (File.Exists(live)) Common.AtomicFile.WriteAllText(LossLog(stage), File.ReadAllText(live));
        }
    }

    /// <summary>"N steps, final loss (mean of last 50 steps) L" for a stage, or "no loss log" when its log is missing.</summary>
    public string Describe(TrainingStage stage)
    {
        var log = LossLog(stage);
        if (!File.Exists(log)) return "no loss log";
        var points = LossPlot.Read(log);
        if (points.Count == 0) return "no loss log";
        double last = points.TakeLast(50).Average(p => p.Loss);
        return string.Create(CultureInfo.InvariantCulture, $"{points[^1].Step:0} steps, final loss (mean of last 50 steps) {last:F4}");
    }

    /// <summary>Loss curves per component, its stages one after another (steps offset by the stages before).</summary>
    public IReadOnlyList<(string Name, List<(double Step, double Loss)> Points)> Curves()
    {
        var curves = new List<(string, List<(double, double)>)>();
        foreach (var group in Stages.GroupBy(s => s.Component))
        {
            var points = new List<(double, double)>();
            double offset = 0;
            foreach (var stage in group)
            {
                var log = LossLog(stage);
                if (!File.Exists(log)) continue;
                var stagePoints = LossPlot.Read(log);
                points.AddRange(stagePoints.Select(p => (p.Step + offset, p.Loss)));
                if (stagePoints.Count > 0) offset += stagePoints[^1].Step;
            }
            curves.Add((group.Key + " (" + string.Join(" + ", group.Select(s => s.Run)) + ")", points));
        }
        return curves;
    }
}
