using System.Text.Json;
using GenSeg.Datasets;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Datasets;

/// <summary>
/// COCO's RLE and polygon rasterisation against pycocotools. The expected counts, strings and masks were printed by
/// pycocotools' own <c>common/maskApi.c</c> (rleFrPoly, rleToString, rleDecode) compiled with gcc for these inputs.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class CocoMasksTests
{
    static readonly double[] Triangle = { 1.2, 0.7, 9.6, 3.1, 3.4, 8.8 };
    static readonly long[] TriangleCounts = { 12, 1, 10, 4, 7, 8, 4, 6, 5, 5, 6, 4, 8, 2, 9, 1, 51 };
    const string TriangleString = "<1:3M4MN1O1O2N1OZ1";

    static readonly string[] TriangleMask =
    {
        "0000000000000", "0111000000000", "0011111000000", "0011111110000", "0011111100000", "0001111000000",
        "0001110000000", "0001100000000", "0001000000000", "0000000000000", "0000000000000",
    };

    // a polygon reaching past the image on three sides (clipped as pycocotools clips)
    static readonly double[] Edge = { -1.5, -2.0, 14.3, 4.25, 5.5, 12.9, 0.0, 7.0 };
    const string EdgeString = "0742N1O<0D001O0O1O2N1O1ON";

    static readonly string[] EdgeMask =
    {
        "1111100000000", "1111111000000", "1111111111000", "1111111111111", "1111111111111", "1111111111111",
        "1111111111110", "0111111111100", "0111111111000", "0011111110000", "0001111100000",
    };

    static byte[] Rows(string[] rows) => rows.SelectMany(r => r.Select(c => (byte)(c - '0'))).ToArray();

    [Fact]
    public void PolygonsRasteriseAsPycocotools()
    {
        Assert.Equal(TriangleCounts, CocoMasks.FromPolygon(Triangle, 11, 13));
        Assert.Equal(Rows(TriangleMask), CocoMasks.FromPolygons(new[] { Triangle }, 11, 13));
        Assert.Equal(new long[] { 23, 5, 5, 5, 5, 5, 5, 5, 32 }, CocoMasks.FromPolygon(new double[] { 2, 3, 6, 3, 6, 8, 2, 8 }, 10, 9));
        Assert.Equal(Rows(EdgeMask), CocoMasks.FromPolygons(new[] { Edge }, 11, 13));
    }

    [Fact]
    public void CompressedStringsMatchPycocotoolsBothWays()
    {
        Assert.Equal(TriangleString, CocoMasks.ToCompressedString(TriangleCounts));
        Assert.Equal(TriangleCounts, CocoMasks.FromCompressedString(TriangleString));
        Assert.Equal(EdgeString, CocoMasks.ToCompressedString(CocoMasks.FromPolygon(Edge, 11, 13)));
        Assert.Equal("g05500000k0", CocoMasks.ToCompressedString(new long[] { 23, 5, 5, 5, 5, 5, 5, 5, 32 }));
    }

    [Fact]
    public void EncodeDecodeRoundTripsColumnMajor()
    {
        var rng = new GenSeg.Common.Pcg32(5);
        var mask = Enumerable.Range(0, 23 * 37).Select(_ => (byte)(rng.Chance(0.3) ? 1 : 0)).ToArray();
        var counts = CocoMasks.Encode(mask, 23, 37);
        Assert.Equal(23 * 37, counts.Sum());
        Assert.Equal(mask, CocoMasks.Decode(counts, 23, 37));
        Assert.Equal(mask, CocoMasks.Decode(CocoMasks.FromCompressedString(CocoMasks.ToCompressedString(counts)), 23, 37));
        // column-major: a run of 2 ones after 1 zero covers (x 0, y 1) and (x 0, y 2)
        var column = CocoMasks.Decode(new long[] { 1, 2, 6 }, 3, 3);
        Assert.Equal(new byte[] { 0, 0, 0, 1, 0, 0, 1, 0, 0 }, column);
    }

    [Fact]
    public void BadRunsAreErrors()
    {
        Assert.Contains("more than", Assert.Throws<InvalidDataException>(() => CocoMasks.Decode(new long[] { 5, 6 }, 3, 3)).Message);
        Assert.Contains("has 9", Assert.Throws<InvalidDataException>(() => CocoMasks.Decode(new long[] { 5 }, 3, 3)).Message);
        Assert.Contains("outside", Assert.Throws<InvalidDataException>(() => CocoMasks.FromCompressedString("0~")).Message);
        using var doc = JsonDocument.Parse("{\"size\": [4, 4], \"counts\": [16]}");
        Assert.Contains("differs", Assert.Throws<InvalidDataException>(() => CocoDataset.Rasterise(doc.RootElement, 5, 4)).Message);
    }
}
