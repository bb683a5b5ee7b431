using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Checkpoints;

/// <summary>Strict state-dict loading: a model's module names equal the checkpoint's keys, so loading is a copy.</summary>
public static class StateDict
{
    /// <summary>
    /// Copies <paramref name="weights"/> into <paramref name="module"/>'s parameters and buffers. Missing, unexpected and
    /// wrong-shape keys are all reported at once, by name, in one <see cref="InvalidDataException"/> that names
    /// <paramref name="source"/>. Values are converted to each parameter's dtype and device.
    /// </summary>
    public static void Load(nn.Module module, IReadOnlyDictionary<string, Tensor> weights, string source, bool strict = true)
    {
        var own = module.state_dict();
        var missing = own.Keys.Where(k => !weights.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unexpected = weights.Keys.Where(k => !own.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var wrongShape = own.Where(kv => weights.TryGetValue(kv.Key, out var w) && !kv.Value.shape.SequenceEqual(w.shape))
            .Select(kv => $"{kv.Key}: model {Common.Check.Format(kv.Value.shape)}, checkpoint {Common.Check.Format(weights[kv.Key].shape)}")
            .ToList();
        if (wrongShape.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"missing keys ({missing.Count}): {Preview(missing)}");
            if (unexpected.Count > 0) parts.Add($"unexpected keys ({unexpected.Count}): {Preview(unexpected)}");
            if (wrongShape.Count > 0) parts.Add($"wrong shapes ({wrongShape.Count}): {Preview(wrongShape)}");
            throw new InvalidDataException($"{source}: checkpoint does not match the model built from its config; {string.Join("; ", parts)}");
        }
        using var noGrad = torch.no_grad();
        foreach (var (key, target) in own)
        {
            if (!weights.TryGetValue(key, out var w)) continue;
            target.copy_(w.to(target.dtype, target.device));
        }
    }

    static string Preview(List<string> items) =>
        string.Join(", ", items.Take(20)) + (items.Count > 20 ? $", ... ({items.Count - 20} more)" : "");

    /// <summary>The module's state as a name -> tensor map (detached, on the CPU), ready for <see cref="SafeTensors.Save"/>.</summary>
    public static Dictionary<string, Tensor> Export(nn.Module module) =>
        module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu(), StringComparer.Ordinal);
}
