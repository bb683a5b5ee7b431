using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>diffusers' <c>get_activation</c>: the activation named in a config (<c>act_fn</c>, <c>resnet_act_fn</c>).</summary>
public static class Activations
{
    /// <summary>The names diffusers 0.21 accepts.</summary>
    public static readonly IReadOnlyList<string> Names = new[] { "swish", "silu", "mish", "gelu", "relu" };

    /// <summary>A parameterless activation module; an unknown name is an error naming <paramref name="key"/>.</summary>
    public static nn.Module<Tensor, Tensor> Create(string name, string key = "act_fn") => name switch
    {
        "swish" or "silu" => nn.SiLU(),
        "mish" => nn.Mish(),
        "gelu" => nn.GELU(),
        "relu" => nn.ReLU(),
        _ => throw new ArgumentException($"{key}: unsupported activation '{name}'; expected one of {string.Join(", ", Names)}", key),
    };

    /// <summary>Throws the same error as <see cref="Create"/> for an unknown name, without building a module.</summary>
    public static void Validate(string name, string key = "act_fn")
    {
        if (!Names.Contains(name))
            throw new ArgumentException($"{key}: unsupported activation '{name}'; expected one of {string.Join(", ", Names)}", key);
    }
}
