// Test classes run one at a time. TorchSharp 0.107 passes a temporary Scalar's handle to native code without keeping
// it alive (every tensor `a + b` is `add(b, 1)`), so a collection started by one thread's allocation can finalize the
// Scalar under another thread's native call ("Expected false to be true ... toFloat", Scalar.h). Two test classes doing
// torch work at once hit it (seen twice on 2026-12-07 under load: UNetTests.LiveTensorCountStaysFlatOverManyPasses and a
// PaintSeg evaluation). The kit's own side-by-side work runs in a no-GC region (GenSeg.Runtime.NoCollection).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
