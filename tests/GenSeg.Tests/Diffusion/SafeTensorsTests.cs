using System.Text;
using CsCheck;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
public class SafeTensorsTests
{
    static string Temp(string name) => Path.Combine(Directory.CreateTempSubdirectory("genseg-st").FullName, name);

    static byte[] FileWithHeader(string json, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(json);
        var b = new byte[8 + h.Length + dataBytes];
        BitConverter.GetBytes((ulong)h.Length).CopyTo(b, 0);
        h.CopyTo(b, 8);
        return b;
    }

    [Fact]
    public void RoundTripKeepsValuesTypesAndMetadata()
    {
        var path = Temp("a.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["w"] = torch.randn(3, 4),
            ["ids"] = torch.arange(5, dtype: ScalarType.Int64),
            ["flag"] = torch.tensor(new[] { true, false }),
            ["empty"] = torch.zeros(0, 3),
            ["half"] = torch.randn(2, 2).to_type(ScalarType.Float16),
        };
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal("F16", f.Entries["half"].DType);
        Assert.Equal(tensors["w"].data<float>().ToArray(), f.Read("w").data<float>().ToArray());
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, f.Read("ids").data<long>().ToArray());
        Assert.Equal(new[] { true, false }, f.Read("flag").data<bool>().ToArray());
        Assert.Equal(new long[] { 0, 3 }, f.Read("empty").shape);
        var half = f.Read("half", ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, half.dtype);
        Assert.Equal(tensors["half"].to_type(ScalarType.Float32).data<float>().ToArray(), half.data<float>().ToArray());
    }

    [Fact]
    public void BFloat16IsConvertedOnRequest()
    {
        var path = Temp("bf.safetensors");
        var x = torch.tensor(new[] { 1.5f, -2.25f, 1024f });
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = x }, storeAs: ScalarType.BFloat16);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal("BF16", f.Entries["x"].DType);
        Assert.Equal(new[] { 1.5f, -2.25f, 1024f }, f.Read("x", ScalarType.Float32).data<float>().ToArray());
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside the data section")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype 'Q7'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps")]
    [InlineData("{\"a\":", 0, "not valid JSON")]
    [InlineData("[1,2]", 0, "must be a JSON object")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "invalid dimension")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999,99999999999],\"data_offsets\":[0,0]}}", 0, "too large")]
    public void MalformedHeadersNameTheFileAndKey(string json, int dataBytes, string expected)
    {
        var path = Temp("bad.safetensors");
        File.WriteAllBytes(path, FileWithHeader(json, dataBytes));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void HeaderLengthPastTheEndIsRejectedWithoutAllocating()
    {
        var path = Temp("huge.safetensors");
        var b = new byte[16];
        BitConverter.GetBytes(ulong.MaxValue / 2).CopyTo(b, 0);
        File.WriteAllBytes(path, b);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains("runs past the end", e.Message);
        File.WriteAllBytes(path, new byte[3]);
        Assert.Contains("too short", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path).Dispose()).Message);
    }

    [Fact]
    public void MissingFileAndKeyAreClearErrors()
    {
        Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open("/nonexistent/x.safetensors"));
        var path = Temp("k.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = torch.ones(1) });
        using var f = SafeTensorsFile.Open(path);
        Assert.Contains("'b'", Assert.Throws<KeyNotFoundException>(() => f.Read("b")).Message);
    }

    [Fact]
    public void MutatedFilesEitherLoadOrFailCleanly()
    {
        var path = Temp("seed.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>
        {
            ["a.weight"] = torch.randn(4, 3),
            ["b"] = torch.arange(6, dtype: ScalarType.Int32),
        }, new Dictionary<string, string> { ["k"] = "v" });
        var original = File.ReadAllBytes(path);
        var dir = Path.GetDirectoryName(path)!;
        int n = 0;
        Gen.Select(Gen.Int[0, original.Length - 1], Gen.Byte, Gen.Int[0, 3], Gen.Int[0, original.Length])
            .Sample((pos, value, mode, cut) =>
            {
                var bytes = mode switch
                {
                    0 => Mutate(original, pos, value),
                    1 => original.Take(cut).ToArray(),
                    2 => Mutate(Mutate(original, pos, value), (pos * 7) % original.Length, (byte)(value ^ 0x5a)),
                    _ => original.Concat(new byte[] { value }).ToArray(),
                };
                var p = Path.Combine(dir, $"m{Interlocked.Increment(ref n)}.safetensors");
                File.WriteAllBytes(p, bytes);
                try
                {
                    using var f = SafeTensorsFile.Open(p);
                    using var scope = torch.NewDisposeScope();
                    foreach (var k in f.Entries.Keys) f.Read(k, ScalarType.Float32);
                }
                catch (InvalidDataException e)
                {
                    Assert.Contains(p, e.Message);
                }
            }, iter: 400, threads: 1);
    }

    static byte[] Mutate(byte[] b, int pos, byte value)
    {
        var c = (byte[])b.Clone();
        c[pos] = value;
        return c;
    }
}

/// <summary>The reader on the reference files in $GENSEG_PARITY_DIR.</summary>
[Trait(Categories.Name, Categories.Parity)]
public class SafeTensorsParityTests
{
    [SkippableFact]
    public void ReadsTheReferenceFiles()
    {
        var dir = Parity.Folder("unet_sd21");
        using var f = SafeTensorsFile.Open(Path.Combine(dir, "weights.safetensors"));
        Assert.Equal(324, f.Entries.Count);
        Assert.Equal(ScalarType.Float32, f.Read("conv_in.weight").dtype);
        var io = Parity.Io(dir);
        Assert.Equal(ScalarType.Int64, io["timestep"].dtype);
    }
}
