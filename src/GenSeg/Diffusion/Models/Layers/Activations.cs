using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>The activation names diffusers' <c>get_activation</c> accepts (<c>act_fn</c>, <c>non_linearity</c>).</summary>
public static class Activations
{
    /// <summary>Supported names.</summary>
    public static readonly IReadOnlyList<string> Names = new[] { "silu", "swish", "mish", "gelu", "relu" };

    /// <summary>
    /// The activation function called <paramref name="name"/>; an unknown name fails with a message naming
    /// <paramref name="what"/> (the config key or argument it came from).
    /// </summary>
    public static Func<Tensor, Tensor> Resolve(string name, string what) => name switch
    {
        "silu" or "swish" => x => nn.functional.silu(x),
        "mish" => x => nn.functional.mish(x),
        "gelu" => x => nn.functional.gelu(x),
        "relu" => x => nn.functional.relu(x),
        _ => throw new NotSupportedException($"{what}: unsupported activation '{name}' (supported: {string.Join(", ", Names)})"),
    };
}
