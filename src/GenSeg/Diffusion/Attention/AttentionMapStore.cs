using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Diffusion.Attention;

/// <summary>
/// A recorder for <see cref="AttentionControl.RecordProbabilities"/> that keeps, per site, the probabilities
/// averaged over heads, [B, Nq, Nk], detached from autograd and from every dispose scope (this store owns them and
/// disposes them with itself). Sites seen again (several calls) are appended in call order.
/// </summary>
public sealed class AttentionMapStore : IDisposable
{
    readonly List<(AttentionSite Site, Tensor Map)> maps = new();

    /// <summary>The recorded maps, in the order the layers ran.</summary>
    public IReadOnlyList<(AttentionSite Site, Tensor Map)> Maps => maps;

    /// <summary>The recorder to put into <see cref="AttentionControl.RecordProbabilities"/>.</summary>
    public void Record(AttentionSite site, Tensor probabilities)
    {
        using var noGrad = torch.no_grad();
        var map = probabilities.detach().mean(new long[] { 1 }).to_type(ScalarType.Float32).DetachFromDisposeScope();
        maps.Add((site, map));
    }

    /// <summary>An <see cref="AttentionControl"/> recording the sites <paramref name="sites"/> selects (all when null).</summary>
    public AttentionControl Control(Func<AttentionSite, bool>? sites = null) =>
        new() { Sites = sites, RecordProbabilities = Record };

    /// <summary>Disposes every stored map.</summary>
    public void Clear()
    {
        foreach (var (_, map) in maps) map.Dispose();
        maps.Clear();
    }

    /// <inheritdoc />
    public void Dispose() => Clear();
}
