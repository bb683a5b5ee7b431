using System.Text.Json.Nodes;

namespace GenSeg.Evaluation;

/// <summary>
/// <c>genseg eval merge</c>: the summary of the records in several JSONL files (the shards of one run), the same summary
/// one unsharded run writes, since both are computed from the records alone in dataset order.
/// </summary>
public static class ResultsMerge
{
    /// <summary>
    /// Reads every file's complete records and summarises them; the records must be of one run and kind. Complete is
    /// false when some of the run's images have no record (a shard missing or unfinished).
    /// </summary>
    public static (EvaluationResult Result, bool Complete) Merge(IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0) throw new ArgumentException("files: expected at least one results file", nameof(files));
        var records = new List<JsonObject>();
        foreach (var f in files) records.AddRange(ResultsLog.Read(f));
        if (records.Count == 0) throw new InvalidDataException($"results files {string.Join(", ", files)}: no complete record");
        var source = string.Join(", ", files);
        bool complete = records.Select(r => (int)r["index"]!).Distinct().Count() >= (int)records[0]["count"]!;
        return ((string?)records[0]["kind"] switch
        {
            G4SegEvaluation.Kind => G4SegEvaluation.Summarise(records, source),
            PaintSegEvaluation.Kind => PaintSegEvaluation.Summarise(records, source),
            var kind => throw new InvalidDataException($"results files {source}: records of kind '{kind}' cannot be merged (expected {G4SegEvaluation.Kind} or {PaintSegEvaluation.Kind})"),
        }, complete);
    }
}
