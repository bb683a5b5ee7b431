namespace GenSeg.Diffusion.Checkpoints;

/// <summary>Where a diffusers/transformers component folder keeps its files.</summary>
public static class ModelFiles
{
    /// <summary>Weight file names tried in order: diffusers, transformers, then the fp16 variants.</summary>
    public static readonly string[] WeightNames =
    {
        "diffusion_pytorch_model.safetensors",
        "model.safetensors",
        "weights.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "model.fp16.safetensors",
    };

    /// <summary>The component's <c>config.json</c>; a clear error when the folder or file is missing.</summary>
    public static string Config(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: model folder not found");
        var path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"{folder}: no config.json in this model folder", path);
        return path;
    }

    /// <summary>
    /// The component's safetensors weights. Pickle checkpoints (<c>.bin</c>, <c>.ckpt</c>) are not read (they can run
    /// code); the error says how to convert them.
    /// </summary>
    public static string Weights(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: model folder not found");
        foreach (var name in WeightNames)
        {
            var p = Path.Combine(folder, name);
            if (File.Exists(p)) return p;
        }
        var pickle = Directory.EnumerateFiles(folder).FirstOrDefault(f => f.EndsWith(".bin", StringComparison.Ordinal) || f.EndsWith(".ckpt", StringComparison.Ordinal));
        if (pickle is not null)
            throw new InvalidDataException($"{folder}: only a pickle checkpoint ({Path.GetFileName(pickle)}) is here; GenSeg reads safetensors. " +
                                           "Convert it once with diffusers (save_pretrained(..., safe_serialization=True)).");
        throw new FileNotFoundException($"{folder}: no weights found (looked for {string.Join(", ", WeightNames)})");
    }
}
