using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>Loading and saving a model as a folder of config.json plus safetensors weights.</summary>
internal static class ModelFolder
{
    /// <summary>
    /// Reads the folder's weights, builds the model with <paramref name="build"/> (which may look at the keys, e.g. to
    /// decide on an optional projection) and copies them in strictly. <paramref name="ignored"/> keys are dropped; when
    /// <paramref name="combined"/> (a full CLIP model's file) only keys under <paramref name="prefixes"/> are kept,
    /// otherwise every key stays so that strict loading reports strays.
    /// </summary>
    public static TModel Load<TModel>(string folder, Device? device, bool combined, string[] prefixes, string[] ignored,
        Func<IReadOnlyDictionary<string, Tensor>, TModel> build) where TModel : nn.Module
    {
        var weightsPath = ModelFiles.Weights(folder);
        var weights = SafeTensors.Load(weightsPath);
        try
        {
            var selected = weights
                .Where(kv => !ignored.Contains(kv.Key) && (!combined || prefixes.Any(p => kv.Key.StartsWith(p, StringComparison.Ordinal))))
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            var model = build(selected);
            StateDict.Load(model, selected, weightsPath);
            if (device is not null) model.to(device);
            return model;
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    /// <summary>Writes config.json (the config record, snake_case) and model.safetensors (the state dict).</summary>
    public static void Save<TConfig>(string folder, nn.Module module, TConfig config)
    {
        Directory.CreateDirectory(folder);
        ConfigJson.Write(Path.Combine(folder, "config.json"), config);
        var state = StateDict.Export(module);
        try
        {
            SafeTensors.Save(Path.Combine(folder, "model.safetensors"), state);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }
}
