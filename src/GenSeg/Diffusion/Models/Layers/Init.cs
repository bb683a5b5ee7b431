using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>Initialisation fixes that make a freshly built TorchSharp model start like its PyTorch original.</summary>
public static class Init
{
    /// <summary>
    /// Sets every GroupNorm's weight to 1 and bias to 0. TorchSharp 0.107 leaves GroupNorm's affine parameters
    /// uninitialised (NaN or huge values), unlike PyTorch; call this on every model built from scratch. LayerNorm is
    /// reset too, for symmetry (TorchSharp already initialises it).
    /// </summary>
    public static void ResetNorms(nn.Module module)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, m) in module.named_modules())
        {
            if (m is TorchSharp.Modules.GroupNorm g)
            {
                g.weight?.fill_(1.0);
                g.bias?.zero_();
            }
            else if (m is TorchSharp.Modules.LayerNorm l)
            {
                l.weight?.fill_(1.0);
                l.bias?.zero_();
            }
        }
    }
}
