using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models.Layers;

/// <summary>
/// Floating-point work of the layers a model runs, a multiply-add counted as 2 FLOPs: the formulas (pure functions of
/// the shapes) and <see cref="Counter"/>, which adds them up for the calls a piece of code actually makes. Normalisations,
/// activations, softmax and additions are not counted (a few per cent of a diffusion model's work).
/// </summary>
public static class FlopCount
{
    /// <summary>A convolution: 2 x Cin/groups x Cout x kh x kw per output position, over batch x Hout x Wout positions.</summary>
    public static double Conv2d(long batch, long inChannels, long outChannels, long kernelHeight, long kernelWidth, long outHeight, long outWidth, long groups = 1) =>
        2.0 * (inChannels / groups) * outChannels * kernelHeight * kernelWidth * outHeight * outWidth * batch;

    /// <summary>A linear layer applied to <paramref name="rows"/> vectors: 2 x in x out per row.</summary>
    public static double Linear(long rows, long inFeatures, long outFeatures) => 2.0 * rows * inFeatures * outFeatures;

    /// <summary>Attention's two matrix products, Q K^T and (softmax) V: 2 x 2 x batch x heads x queries x keys x head width.</summary>
    public static double Attention(long batch, long heads, long queries, long keys, long headDim) => 2.0 * 2 * batch * heads * queries * keys * headDim;

    [ThreadStatic] static Counter? current;

    /// <summary>Adds <paramref name="flops"/> to the counter running on this thread, if any (the kit's own layers call this
    /// for the work forward hooks cannot see: <see cref="GemmConv2d"/>, including its upsampling phase form, and attention's
    /// matrix products).</summary>
    public static void Add(double flops)
    {
        if (current is { } c) c.Flops += flops;
    }

    /// <summary>
    /// Counts the FLOPs of everything run on this thread while it is alive: the kit's own layers report theirs
    /// (<see cref="Add"/>); TorchSharp's <c>Linear</c>, <c>Conv2d</c> and <c>ConvTranspose2d</c> inside the given modules are
    /// counted from their weights and output shapes by forward hooks, removed on <see cref="Dispose"/>.
    /// </summary>
    public sealed class Counter : IDisposable
    {
        readonly Counter? outer;
        readonly List<Action> removers = new();

        /// <summary>The FLOPs counted so far.</summary>
        public double Flops { get; internal set; }

        /// <summary>Starts counting on this thread, hooking the TorchSharp layers of <paramref name="models"/>.</summary>
        public Counter(params nn.Module[] models)
        {
            foreach (var model in models)
                foreach (var m in model.modules().Prepend(model)) // modules() leaves the model itself out
                {
                    Func<Tensor, double>? perCall = m switch
                    {
                        Linear linear => output => Linear(output.numel() / output.shape[^1], linear.weight!.shape[1], linear.weight!.shape[0]),
                        Conv2d conv => output => Conv2d(output.shape[0], conv.weight!.shape[1] * conv.groups, conv.weight!.shape[0],
                            conv.weight!.shape[2], conv.weight!.shape[3], output.shape[2], output.shape[3], conv.groups),
                        // a transposed convolution does Cin x Cout/groups x kh x kw multiply-adds per input position
                        ConvTranspose2d conv => output => 2.0 * conv.weight!.numel() * output.shape[0]
                            * (output.shape[2] / Math.Max(1, conv.stride[0])) * (output.shape[3] / Math.Max(1, conv.stride[1])),
                        _ => null,
                    };
                    if (perCall is null || m is not nn.Module<Tensor, Tensor> layer) continue;
                    var hook = layer.register_forward_hook((_, _, output) =>
                    {
                        Flops += perCall(output);
                        return output;
                    });
                    removers.Add(hook.remove);
                }
            outer = current;
            current = this;
        }

        /// <summary>Stops counting (the counter that ran before this one, if any, counts again) and removes the hooks.</summary>
        public void Dispose()
        {
            foreach (var remove in removers) remove();
            removers.Clear();
            if (ReferenceEquals(current, this)) current = outer;
        }
    }
}
