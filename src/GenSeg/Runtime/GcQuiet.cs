using System.Runtime;

namespace GenSeg.Runtime;

/// <summary>
/// Runs a block of tensor work with the garbage collector held off (a no-GC region), after a full collection.
/// TorchSharp 0.107 passes a temporary <c>Scalar</c>'s native handle to libtorch without keeping the Scalar alive (every
/// <c>x * 0.5</c>, and the alpha of every <c>a + b</c>), so a collection during the call can run its finalizer and free
/// the value mid-call: a garbage number (NaN gradients, a diverging loss) or "Expected false to be true ... Scalar.h".
/// Measured here: with a collecting thread beside it a UNet training step failed within 2 steps; without the guard,
/// VAE and UNet training hit NaN gradients every few dozen steps; with it, none in the same runs.
/// </summary>
public static class GcQuiet
{
    /// <summary>Managed bytes the block may allocate before a collection has to run anyway (the guard then lapses).</summary>
    public const long DefaultBudgetBytes = 200_000_000;

    /// <summary>Runs <paramref name="work"/> inside a no-GC region; returns its result.</summary>
    public static T Run<T>(Func<T> work, long budgetBytes = DefaultBudgetBytes)
    {
        ArgumentNullException.ThrowIfNull(work);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        bool started;
        try
        {
            started = GC.TryStartNoGCRegion(budgetBytes);
        }
        catch (InvalidOperationException)
        {
            started = false; // already inside a no-GC region (a nested call): the outer one holds
        }
        try
        {
            return work();
        }
        finally
        {
            if (started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
    }
}
