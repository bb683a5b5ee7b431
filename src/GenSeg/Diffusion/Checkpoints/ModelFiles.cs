namespace GenSeg.Diffusion.Checkpoints;

/// <summary>Where a diffusers/transformers component folder keeps its files.</summary>
public static class ModelFiles
{
    /// <summary>
    /// Weight file names tried in order, as diffusers' and transformers' <c>from_pretrained</c> look for them: safetensors
    /// (diffusers, transformers, the kit's older name, the fp16 variants), sharded safetensors indexes, then PyTorch
    /// pickles and their sharded indexes.
    /// </summary>
    public static readonly string[] WeightNames =
    {
        "diffusion_pytorch_model.safetensors",
        "model.safetensors",
        "weights.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "model.fp16.safetensors",
        "diffusion_pytorch_model.safetensors.index.json",
        "model.safetensors.index.json",
        "diffusion_pytorch_model.fp16.safetensors.index.json",
        "diffusion_pytorch_model.bin",
        "pytorch_model.bin",
        "diffusion_pytorch_model.fp16.bin",
        "pytorch_model.fp16.bin",
        "model.pt",
        "diffusion_pytorch_model.bin.index.json",
        "pytorch_model.bin.index.json",
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
    /// The component's weights: a safetensors file, a sharded index (<c>*.index.json</c>) or a PyTorch pickle
    /// (<c>.bin</c>, <c>.pt</c>), the first of <see cref="WeightNames"/> present; <see cref="Checkpoint.Load"/> reads any
    /// of them. A folder holding only other formats gets an error naming the file found and the names looked for.
    /// </summary>
    public static string Weights(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: model folder not found");
        foreach (var name in WeightNames)
        {
            var p = Path.Combine(folder, name);
            if (File.Exists(p)) return p;
        }
        var other = Directory.EnumerateFiles(folder).Select(Path.GetFileName)
            .FirstOrDefault(f => f is not null && Checkpoint.KnownExtensions.Any(e => f.EndsWith(e, StringComparison.Ordinal)));
        if (other is not null)
            throw new InvalidDataException($"{folder}: weights '{other}' are not under a name GenSeg looks for; rename the file to one of " +
                                           $"{string.Join(", ", WeightNames)}, or load it with Checkpoint.Load");
        throw new FileNotFoundException($"{folder}: no weights found (looked for {string.Join(", ", WeightNames)})");
    }
}
