using GenSeg.Evaluation;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using TorchSharp;

namespace GenSeg.Tests.ToyWorld;

[Trait(Categories.Name, Categories.Unit)]
public class MemoryTests
{
    [Fact]
    public void RepeatedCallsLeaveNoLiveTensors()
    {
        var scene = SceneGenerator.Generate(100_001);
        using var truth = scene.InstanceTensor(0);
        void Round(ulong i)
        {
            using (var c = CoarseMasks.Make(truth, Severity.High, i))
            {
                Metrics.Iou(c.Binary, truth);
                Metrics.BoundaryFScore(c.Binary, truth);
            }
            using (Bands.InnerBand(truth, 2)) { }
            using (Morphology.Close(truth, Kernel.Cross(3), 2)) { }
            using (Distance.ToEdge(truth)) { }
            Boxes.BoundingBox(truth);
            var (labels, _) = Components.Label(truth);
            labels.Dispose();
            using (Components.Largest(truth)) { }
            using (Resize.Bilinear(truth, 32, 32)) { }
            Prompts.Scribble(truth, 0.1, i);
        }
        Round(0);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (ulong i = 1; i <= 30; i++) Round(i);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
