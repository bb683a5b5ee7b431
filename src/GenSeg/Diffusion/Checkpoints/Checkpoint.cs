using System.Collections;
using System.Text.Json;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Checkpoints;

/// <summary>
/// Reads a checkpoint's tensors, whatever its format, as diffusers' <c>load_state_dict</c> does: safetensors,
/// a sharded index (<c>*.safetensors.index.json</c>, <c>pytorch_model.bin.index.json</c>: a <c>weight_map</c> from
/// key to shard file) or a PyTorch pickle written by <c>torch.save(state_dict)</c> (<c>.bin</c>, <c>.pt</c>, <c>.pth</c>,
/// or a <c>.ckpt</c> whose tensors sit under <c>state_dict</c>), the pickle read by TorchSharp.PyBridge. Tensors are
/// returned on the CPU; floating-point ones converted to <c>floatType</c> when given. Every error names the file and,
/// where it applies, the key.
/// </summary>
public static class Checkpoint
{
    /// <summary>The extensions of files this reader knows.</summary>
    public static readonly string[] KnownExtensions = { ".safetensors", ".index.json", ".bin", ".pt", ".pth", ".ckpt" };

    /// <summary>Loads every tensor of the checkpoint at <paramref name="path"/> (any of <see cref="KnownExtensions"/>).</summary>
    public static Dictionary<string, Tensor> Load(string path, ScalarType? floatType = ScalarType.Float32)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: checkpoint file not found", path);
        if (path.EndsWith(".index.json", StringComparison.Ordinal)) return LoadSharded(path, floatType);
        if (path.EndsWith(".safetensors", StringComparison.Ordinal)) return SafeTensors.Load(path, floatType);
        if (new[] { ".bin", ".pt", ".pth", ".ckpt" }.Any(e => path.EndsWith(e, StringComparison.Ordinal))) return LoadPickle(path, floatType);
        throw new InvalidDataException($"{path}: unknown checkpoint format (expected one of {string.Join(", ", KnownExtensions)})");
    }

    /// <summary>
    /// A sharded checkpoint: the index's <c>weight_map</c> names each key's shard (a file beside the index). Every shard
    /// is read once; a key the index lists but its shard lacks, or a shard key the index does not list, is an error.
    /// </summary>
    static Dictionary<string, Tensor> LoadSharded(string indexPath, ScalarType? floatType)
    {
        var map = ReadWeightMap(indexPath);
        var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var shards = map.Values.Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal).ToList();
        foreach (var shard in shards)
            if (shard.EndsWith(".index.json", StringComparison.Ordinal) || !File.Exists(Path.Combine(dir, shard)))
                throw new FileNotFoundException($"{indexPath}: shard '{shard}' (holding '{map.First(kv => kv.Value == shard).Key}') not found beside the index",
                    Path.Combine(dir, shard));
        try
        {
            foreach (var shard in shards)
            {
                var shardPath = Path.Combine(dir, shard);
                var tensors = Load(shardPath, floatType);
                foreach (var (key, t) in tensors)
                {
                    if (!map.TryGetValue(key, out var listed) || listed != shard)
                    {
                        foreach (var u in tensors.Values) u.Dispose();
                        throw new InvalidDataException($"{shardPath}: holds '{key}', which {indexPath} " +
                                                       (listed is null ? "does not list" : $"places in '{listed}'"));
                    }
                    result[key] = t;
                }
                foreach (var (key, s) in map)
                    if (s == shard && !tensors.ContainsKey(key))
                        throw new InvalidDataException($"{shardPath}: has no tensor '{key}', which {indexPath} places in it");
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>The <c>weight_map</c> (key -> shard file name) of an index file.</summary>
    public static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        using var doc = ConfigJson.ReadDocument(indexPath);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{indexPath}: no 'weight_map' object (expected a sharded checkpoint index)");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in wm.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(p.Value.GetString()))
                throw new InvalidDataException($"{indexPath}: weight_map entry '{p.Name}' is not a file name");
            var file = p.Value.GetString()!;
            if (Path.GetFileName(file) != file)
                throw new InvalidDataException($"{indexPath}: weight_map entry '{p.Name}' names '{file}', not a file beside the index");
            map[p.Name] = file;
        }
        if (map.Count == 0) throw new InvalidDataException($"{indexPath}: weight_map is empty");
        return map;
    }

    /// <summary>
    /// A PyTorch zip pickle of a state dict, read by TorchSharp.PyBridge (which rebuilds tensors and ordered dicts only:
    /// a pickle naming any other class is refused rather than run). A <c>state_dict</c> entry (Lightning's
    /// <c>.ckpt</c>) is descended into.
    /// </summary>
    static Dictionary<string, Tensor> LoadPickle(string path, ScalarType? floatType)
    {
        Hashtable table;
        try
        {
            using var stream = File.OpenRead(path);
            table = PyTorchUnpickler.UnpickleStateDict(stream);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: cannot read this PyTorch pickle ({e.GetType().Name}: {e.Message}); " +
                                           "GenSeg reads state dicts saved by torch.save(model.state_dict()) in the zip format (PyTorch >= 1.6)", e);
        }
        if (table["state_dict"] is Hashtable nested) table = nested;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Value is not Tensor t) continue;
            var key = entry.Key as string ?? throw new InvalidDataException($"{path}: a state-dict key is not a string ({entry.Key})");
            if (floatType is { } ft && t.is_floating_point() && t.dtype != ft)
            {
                result[key] = t.to_type(ft);
                t.Dispose();
            }
            else result[key] = t;
        }
        if (result.Count == 0) throw new InvalidDataException($"{path}: the pickle holds no tensors (expected a state dict)");
        return result;
    }

    /// <summary>Writes <paramref name="tensors"/> as a PyTorch zip pickle that <c>torch.load</c> reads (through PyBridge).</summary>
    public static void SavePickle(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var scope = torch.NewDisposeScope();
        var table = new Hashtable();
        foreach (var (k, v) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal)) table[k] = v.detach().cpu().contiguous().clone(); // its own storage: PyBridge writes a view's whole storage with the view's offset
        Common.AtomicFile.Write(path, s => PyTorchPickler.PickleStateDict(s, table, leaveOpen: true));
    }
}
