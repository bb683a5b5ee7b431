using static TorchSharp.torch;

namespace GenSeg.Cli;

/// <summary>
/// Sets libtorch's intra-op thread count for a block and restores it afterwards. Work made of many tiny tensors (64x64
/// masks) runs best on one torch thread per worker: measured here, 2 intra-op threads on a busy 2-core machine made
/// coarse-mask generation about 10x slower (1.1 ms vs 11 ms per mask) than 1 thread.
/// </summary>
public sealed class TorchThreads : IDisposable
{
    readonly int _saved;

    TorchThreads(int threads)
    {
        _saved = get_num_threads();
        set_num_threads(threads);
    }

    /// <summary>Uses <paramref name="threads"/> intra-op threads until disposed.</summary>
    public static TorchThreads Use(int threads) => new(Math.Max(1, threads));

    /// <summary>Restores the previous thread count.</summary>
    public void Dispose() => set_num_threads(_saved);
}
