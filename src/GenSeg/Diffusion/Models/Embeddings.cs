using GenSeg.Diffusion.Models.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Models;

/// <summary>Timestep embeddings as in diffusers' embeddings.py (0.21.4).</summary>
public static class TimestepEmbeddings
{
    /// <summary>
    /// diffusers' <c>get_timestep_embedding</c>: sinusoids of <paramref name="timesteps"/> [N] at frequencies
    /// <c>exp(-ln(max_period) i / (half - shift))</c>, i &lt; half = dim / 2, laid out [sin, cos] (or [cos, sin] with
    /// <paramref name="flipSinToCos"/>), zero-padded to an odd <paramref name="dim"/>; float32 result [N, dim].
    /// </summary>
    public static Tensor Sinusoidal(Tensor timesteps, long dim, bool flipSinToCos, double downscaleFreqShift, double scale = 1.0, double maxPeriod = 10000)
    {
        if (timesteps.dim() != 1) throw new ArgumentException($"timesteps: expected a 1-D tensor [N], got {timesteps.dim()}-D", nameof(timesteps));
        long half = dim / 2;
        using var scope = torch.NewDisposeScope();
        using var negLogPeriod = (-Math.Log(maxPeriod)).ToScalar();
        using var denominator = (half - downscaleFreqShift).ToScalar();
        var exponent = torch.arange(0, half, dtype: ScalarType.Float32, device: timesteps.device).mul_(negLogPeriod).div_(denominator);
        var freqs = exponent.exp();
        var args = timesteps.unsqueeze(1).to_type(ScalarType.Float32) * freqs.unsqueeze(0);
        if (scale != 1.0)
        {
            using var s = scale.ToScalar();
            args = args.mul_(s);
        }
        var emb = flipSinToCos ? torch.cat(new[] { args.cos(), args.sin() }, -1) : torch.cat(new[] { args.sin(), args.cos() }, -1);
        if (dim % 2 == 1) emb = nn.functional.pad(emb, new long[] { 0, 1, 0, 0 });
        return emb.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>TimestepEmbedding</c>: <c>linear_1</c>, activation, <c>linear_2</c> (no conditioning projection, no post activation).</summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // checkpoint key names
    readonly Linear linear_1;
    readonly nn.Module<Tensor, Tensor> act;
    readonly Linear linear_2;
#pragma warning restore IDE1006

    /// <summary>Builds the embedding (in_channels, time_embed_dim, act_fn, out_dim).</summary>
    public TimestepEmbedding(long inChannels, long timeEmbedDim, string actFn = "silu", long? outDim = null) : base(nameof(TimestepEmbedding))
    {
        linear_1 = nn.Linear(inChannels, timeEmbedDim);
        act = Activations.Create(actFn, "act_fn");
        linear_2 = nn.Linear(timeEmbedDim, outDim ?? timeEmbedDim);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return linear_2.call(act.call(linear_1.call(x))).MoveToOuterDisposeScope();
    }
}
