using GenSeg.Tests.Support;
using GenSeg.ToyWorld;

namespace GenSeg.Tests.ToyWorld;

[Trait(Categories.Name, Categories.Unit)]
public class ObjectRemovalTests
{
    [Fact]
    public void LeavingAnObjectOutChangesOnlyItsPixels()
    {
        int checkedScenes = 0;
        foreach (int seed in Enumerable.Range(100, 40))
        {
            var full = SceneGenerator.Generate(seed);
            if (full.Objects.Count < 2) continue;
            for (int k = 0; k < full.Objects.Count; k++)
            {
                var without = SceneGenerator.Generate(seed, null, new[] { k });
                Assert.Equal(full.Objects.Count - 1, without.Objects.Count);
                var mask = full.Objects[k].Instance;
                int n = full.Size * full.Size;
                for (int i = 0; i < n; i++)
                {
                    if (mask[i] == 0)
                    {
                        Assert.Equal(full.Semantic[i], without.Semantic[i]);
                        for (int c = 0; c < 3; c++) Assert.Equal(full.Rgb[3 * i + c], without.Rgb[3 * i + c]);
                    }
                    else
                    {
                        Assert.NotEqual(full.Objects[k].ClassIndex, without.Semantic[i]);
                    }
                }
                // the caption no longer names the removed class
                Assert.DoesNotContain(full.Objects[k].ClassName, without.CaptionFor(CaptionStyle.ClassOnly));
            }
            checkedScenes++;
        }
        Assert.True(checkedScenes >= 5, $"only {checkedScenes} multi-object scenes among the seeds");
    }

    [Fact]
    public void BadObjectIndexNamesTheScene()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SceneGenerator.Generate(7, null, new[] { 9 }));
        Assert.Contains("seed 7", e.Message);
    }
}
