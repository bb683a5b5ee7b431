using System.Text.Json.Nodes;

namespace GenSeg.Evaluation;

/// <summary>
/// <c>genseg eval merge</c>: the summary of the records in several JSONL files (the shards of one run), the same summary
/// one unsharded run writes, since both are computed from the records alone in dataset order.
/// </summary>
public static class ResultsMerge
{
    /// <summary>Reads every file's complete records and summarises them; the records must be of one run and kind.</summary>
    public static JsonObject Merge(IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0) throw new ArgumentException("files: expected at least one results file", nameof(files));
        var records = new List<JsonObject>();
        foreach (var f in files) records.AddRange(ResultsLog.Read(f));
        if (records.Count == 0) throw new InvalidDataException($"results files {string.Join(", ", files)}: no complete record");
        var source = string.Join(", ", files);
        return (string?)records[0]["kind"] switch
        {
            G4SegDatasetEvaluation.Kind => G4SegDatasetEvaluation.Summarise(records, source),
            PaintSegDatasetEvaluation.Kind => PaintSegDatasetEvaluation.Summarise(records, source),
            var kind => throw new InvalidDataException($"results files {source}: records of kind '{kind}' cannot be merged (expected {G4SegDatasetEvaluation.Kind} or {PaintSegDatasetEvaluation.Kind})"),
        };
    }
}
