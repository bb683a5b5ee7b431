using System.Text;
using System.Text.Json.Nodes;
using GenSeg.Datasets;

namespace GenSeg.Evaluation;

/// <summary>
/// The bookkeeping every per-image evaluation over a dataset shares: a run's header (the fields every record repeats:
/// kind, dataset, split, settings, ...), which images are left (the shard's, minus those a resumed file holds), and the
/// records in dataset order for a summary, checked to be of one run with no image twice.
/// </summary>
public static class DatasetRun
{
    /// <summary>The images still to evaluate, and the records already done (from <paramref name="log"/>, checked against <paramref name="header"/>).</summary>
    public static (List<JsonObject> Done, IReadOnlyList<string> Ids, int[] Todo) Plan(ISegmentationDataset dataset, JsonObject header, ResultsLog? log,
        Shard shard, int? limit)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(shard);
        var done = new List<JsonObject>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in log?.Existing ?? Array.Empty<JsonObject>())
        {
            CheckSameRun(r, header, log!.Path);
            done.Add(r);
            ids.Add((string)r["id"]!);
        }
        var all = dataset.Ids.Take(limit ?? int.MaxValue).ToArray();
        var todo = Enumerable.Range(0, all.Length).Where(i => shard.Includes(i) && !ids.Contains(all[i])).ToArray();
        return (done, all, todo);
    }

    /// <summary>A new record of image <paramref name="index"/>: its position, id, the split's size and the header's fields.</summary>
    public static JsonObject NewRecord(JsonObject header, int index, string id, int count)
    {
        var record = new JsonObject { ["index"] = index, ["id"] = id, ["count"] = count };
        foreach (var (key, value) in header) record[key] = value?.DeepClone();
        return record;
    }

    /// <summary>Checks a record belongs to the run of <paramref name="header"/>; an error names the source and the field.</summary>
    public static void CheckSameRun(JsonObject record, JsonObject header, string source)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(header);
        foreach (var (key, value) in header)
            if (!JsonNode.DeepEquals(record[key], value))
                throw new InvalidDataException($"results file '{source}': record '{record["id"]}' has {key} {record[key]?.ToJsonString() ?? "null"}, this run has {value?.ToJsonString() ?? "null"}; resume with the same settings or use another file");
    }

    /// <summary>
    /// The header of the first record (its <paramref name="headerKeys"/>) and every record in dataset order (or by
    /// <paramref name="order"/>: image, then target), checked to share it, with no id twice (overlapping shards).
    /// </summary>
    public static (JsonObject Header, JsonObject[] Ordered) Ordered(IReadOnlyList<JsonObject> records, IReadOnlyList<string> headerKeys, string kind, string? source,
        Func<JsonObject, (int, int)>? order = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) throw new ArgumentException("records: no image evaluated", nameof(records));
        var header = new JsonObject();
        foreach (var key in headerKeys) header[key] = records[0][key]?.DeepClone();
        if ((string?)header["kind"] != kind) throw new InvalidDataException($"{source ?? "records"}: kind '{header["kind"]}', expected '{kind}'");
        foreach (var r in records) CheckSameRun(r, header, source ?? "records");
        order ??= r => ((int)r["index"]!, 0);
        var ordered = records.OrderBy(order).ToArray();
        var duplicate = ordered.GroupBy(r => (string)r["id"]!).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidDataException($"{source ?? "records"}: image '{duplicate.Key}' occurs {duplicate.Count()} times (overlapping shards?)");
        return (header, ordered);
    }

    /// <summary>A 64-bit FNV-1a hash of an id's UTF-8 bytes (an image's noise seed depends on neither its shard nor its position).</summary>
    public static ulong StableHash(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        ulong h = 0xcbf29ce484222325UL;
        foreach (var b in Encoding.UTF8.GetBytes(id)) h = (h ^ b) * 0x100000001b3UL;
        return h;
    }
}
