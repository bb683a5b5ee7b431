using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// Normalisation-layer initialisation for freshly built models. TorchSharp's <c>nn.GroupNorm</c> leaves its affine
/// parameters uninitialised (see torchsharp-pitfalls.md); PyTorch starts every GroupNorm and LayerNorm at weight 1,
/// bias 0, which is what <see cref="Reset"/> restores.
/// </summary>
public static class GroupNormInit
{
    /// <summary>Sets the weight of every GroupNorm and LayerNorm inside <paramref name="module"/> to 1 and its bias to 0.</summary>
    public static void Reset(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var noGrad = torch.no_grad();
        foreach (var m in module.modules())
        {
            switch (m)
            {
                case GroupNorm g:
                    if (g.weight is not null) g.weight.fill_(1.0);
                    if (g.bias is not null) g.bias.fill_(0.0);
                    break;
                case LayerNorm l:
                    if (l.weight is not null) l.weight.fill_(1.0);
                    if (l.bias is not null) l.bias.fill_(0.0);
                    break;
            }
        }
    }
}
