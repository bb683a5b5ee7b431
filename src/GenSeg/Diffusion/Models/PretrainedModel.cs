using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>How a model is written: its weights file name, the <c>_class_name</c> put into its config.json (diffusers
/// writes one, transformers does not) and the safetensors metadata.</summary>
public sealed record PretrainedLayout(string WeightsFileName, string? ClassName = null, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>
/// A model that loads from and saves to a folder of <c>config.json</c> plus weights, as diffusers'
/// <c>ModelMixin.from_pretrained</c> / <c>save_pretrained</c>: the model is built from its config, its module names are the
/// checkpoint's keys, so loading is a strict copy (<see cref="StateDict.Load"/>). <see cref="PretrainedModel"/> does the
/// loading and saving for every model; a model says only how to read its config, how to build itself and, for other
/// layouts of the same weights, how to rename the checkpoint's keys.
/// </summary>
public interface IPretrainedModel<TSelf, TConfig> where TSelf : nn.Module, IPretrainedModel<TSelf, TConfig>
{
    /// <summary>The config the model was built from.</summary>
    TConfig Config { get; }

    /// <summary>How the model is saved.</summary>
    static abstract PretrainedLayout Layout { get; }

    /// <summary>Reads and validates the config; errors name <paramref name="configPath"/> and the key.</summary>
    static abstract TConfig ReadConfig(string configPath);

    /// <summary>Builds the model (weights about to be overwritten) from its config and the checkpoint's keys (after
    /// <see cref="ToModelKeys"/>; e.g. an optional projection is built when its key is there).</summary>
    static abstract TSelf Create(TConfig config, IReadOnlyCollection<string> keys);

    /// <summary>The checkpoint's tensors under the model's module names: other layouts renamed, keys another part of a
    /// combined checkpoint owns dropped. Default: as stored.</summary>
    static virtual Dictionary<string, Tensor> ToModelKeys(TConfig config, Dictionary<string, Tensor> checkpoint, string configPath, string weightsPath) =>
        checkpoint;

    /// <summary>The config as written by <see cref="PretrainedModel.Save{TSelf, TConfig}"/>. Default: as read.</summary>
    static virtual TConfig ConfigToSave(TConfig config) => config;
}

/// <summary>Loading and saving for every <see cref="IPretrainedModel{TSelf, TConfig}"/>.</summary>
public static class PretrainedModel
{
    /// <summary>
    /// Loads <paramref name="folder"/>: config.json, then the weights in any format <see cref="Checkpoint"/> reads
    /// (safetensors, sharded index, PyTorch pickle), strictly (missing, unexpected and wrong-shape keys reported together,
    /// naming the weights file). The model is put in eval mode with floating-point type <paramref name="dtype"/> (default
    /// float32; the weights are converted as they are read) on <paramref name="device"/> (default CPU).
    /// </summary>
    public static TSelf Load<TSelf, TConfig>(string folder, Device? device = null, ScalarType? dtype = null)
        where TSelf : nn.Module, IPretrainedModel<TSelf, TConfig>
    {
        var configPath = ModelFiles.Config(folder);
        var config = TSelf.ReadConfig(configPath);
        var weightsPath = ModelFiles.Weights(folder);
        var floatType = dtype ?? ScalarType.Float32;
        var checkpoint = Checkpoint.Load(weightsPath, floatType);
        Dictionary<string, Tensor>? weights = null;
        try
        {
            weights = TSelf.ToModelKeys(config, checkpoint, configPath, weightsPath);
            var model = TSelf.Create(config, weights.Keys);
            try
            {
                if (floatType != ScalarType.Float32) model.to(floatType);
                StateDict.Load(model, weights, weightsPath);
                if (device is not null) model.to(device);
                model.eval();
                return model;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var t in checkpoint.Values) t.Dispose();
            if (weights is not null) foreach (var t in weights.Values) t.Dispose();
        }
    }

    /// <summary>Writes config.json (snake_case, with the layout's <c>_class_name</c>) and the state dict as safetensors
    /// into <paramref name="folder"/> (created if needed), both atomically.</summary>
    public static void Save<TSelf, TConfig>(TSelf model, string folder) where TSelf : nn.Module, IPretrainedModel<TSelf, TConfig>
    {
        Directory.CreateDirectory(folder);
        var layout = TSelf.Layout;
        ConfigJson.Write(Path.Combine(folder, "config.json"), TSelf.ConfigToSave(model.Config), layout.ClassName);
        using var scope = torch.NewDisposeScope();
        SafeTensors.Save(Path.Combine(folder, layout.WeightsFileName), StateDict.Export(model), layout.Metadata);
    }
}
