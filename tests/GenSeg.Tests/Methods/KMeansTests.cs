using GenSeg.Methods.PaintSeg;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

[Trait(Categories.Name, Categories.Unit)]
public class KMeansTests
{
    [Fact]
    public void SeparatesWellSeparatedGroupsAndSortsCentres()
    {
        torch.manual_seed(5);
        var pts = cat(new[] { randn(50) * 0.1 + 5, randn(40) * 0.1 - 3, randn(30) * 0.1 + 1 }, 0);
        var r = KMeans.Fit(pts, 3, new KMeansOptions(Seed: 7));
        var c = r.Centres[.., 0].data<float>().ToArray();
        Assert.Equal(-3, c[0], 0.2);
        Assert.Equal(1, c[1], 0.2);
        Assert.Equal(5, c[2], 0.2);
        var counts = bincount(r.Labels, minlength: 3).data<long>().ToArray();
        Assert.Equal(new long[] { 40, 30, 50 }, counts);
    }

    [Fact]
    public void IsDeterministicForASeed()
    {
        var pts = torch.rand(200, 2, generator: new Generator(3));
        var a = KMeans.Fit(pts, 4, new KMeansOptions(Seed: 11));
        var b = KMeans.Fit(pts, 4, new KMeansOptions(Seed: 11));
        Assert.Equal(a.Labels.data<long>().ToArray(), b.Labels.data<long>().ToArray());
    }

    [Fact]
    public void NeverReturnsAnEmptyCluster()
    {
        // heavy duplicates and an outlier: naive Lloyd iterations empty a cluster here
        var pts = cat(new[] { zeros(100), ones(1) * 100, ones(3) * 0.001 }, 0);
        foreach (var pp in new[] { true, false })
        {
            var r = KMeans.Fit(pts, 3, new KMeansOptions(Seed: 1, PlusPlus: pp));
            Assert.All(bincount(r.Labels, minlength: 3).data<long>().ToArray(), c => Assert.True(c > 0));
        }
    }

    [Fact]
    public void TooFewDistinctPointsIsAClearError()
    {
        var e = Assert.Throws<ArgumentException>(() => KMeans.Fit(zeros(10), 2));
        Assert.Contains("1 distinct", e.Message);
        Assert.Throws<ArgumentException>(() => KMeans.Fit(tensor(new[] { 1f, float.NaN }), 2));
    }
}
