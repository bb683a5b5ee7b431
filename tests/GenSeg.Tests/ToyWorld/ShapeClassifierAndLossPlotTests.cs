using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using GenSeg.ToyWorld.Training;
using static TorchSharp.torch;

namespace GenSeg.Tests.ToyWorld;

[Trait(Categories.Name, Categories.Unit)]
public class ShapeClassifierAndLossPlotTests
{
    [Fact]
    public void LossPlotWritesAPngFromLossLogs()
    {
        var dir = Directory.CreateTempSubdirectory("genseg-plot").FullName;
        var csv = Path.Combine(dir, "losses.csv");
        File.WriteAllText(csv, "step,loss,lr\n" + string.Join("\n", Enumerable.Range(1, 100).Select(i => $"{i},{1.0 / i},0.001")) + "\n");
        var points = LossPlot.Read(csv);
        Assert.Equal(100, points.Count);
        Assert.Equal(0.5, points[1].Loss, 9);
        var png = Path.Combine(dir, "plot.png");
        LossPlot.Write(png, new[] { ("run", points) });
        var bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes.Take(4).ToArray());
    }

    [Fact]
    public void ShapeClassifierTargetsNameTheSingleObject()
    {
        var scenes = Enumerable.Range(0, 8).Select(s => SceneGenerator.Generate(s, new ToyWorldOptions { MinObjects = 1, MaxObjects = 1 })).ToArray();
        var t = ShapeClassifier.Targets(scenes).data<long>().ToArray();
        for (int i = 0; i < scenes.Length; i++) Assert.Equal(scenes[i].Objects[0].ClassIndex - 1, t[i]);
        using var model = new ShapeClassifier();
        Assert.Equal(new long[] { 2, ToyClasses.Count - 1 }, model.call(zeros(2, 3, 64, 64)).shape);
    }
}
