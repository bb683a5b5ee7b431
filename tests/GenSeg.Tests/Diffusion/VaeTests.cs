using System.Text.RegularExpressions;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Tests.Support;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
public class VaeTests
{
    /// <summary>A small config unlike the parity one (3 levels, 2 layers, odd latent count) for tests without reference data.</summary>
    static readonly AutoencoderKLConfig Tiny = new()
    {
        DownBlockTypes = new[] { "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D" },
        UpBlockTypes = new[] { "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D" },
        BlockOutChannels = new[] { 8, 16, 16 },
        LayersPerBlock = 2,
        LatentChannels = 3,
        NormNumGroups = 4,
        ScalingFactor = 0.5,
    };

    static bool BitEqual(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    internal static string TempDir() => Directory.CreateTempSubdirectory("genseg-vae").FullName;

    /// <summary>diffusers keys -> the original latent-diffusion VAE keys (written independently of the loader's rules).</summary>
    internal static Dictionary<string, Tensor> ToLdmLayout(IReadOnlyDictionary<string, Tensor> weights, int levels)
    {
        var result = new Dictionary<string, Tensor>();
        var attnNames = new Dictionary<string, string> { ["group_norm"] = "norm", ["to_q"] = "q", ["to_k"] = "k", ["to_v"] = "v", ["to_out.0"] = "proj_out" };
        foreach (var (key, value) in weights)
        {
            var parts = key.Split('.').ToList();
            string name;
            var tensor = value;
            string Rest(int from) => string.Join('.', parts.Skip(from)).Replace("conv_shortcut", "nin_shortcut");
            if (parts[1] == "conv_norm_out") name = $"{parts[0]}.norm_out.{Rest(2)}";
            else if (parts[1] == "down_blocks" && parts[3] == "resnets") name = $"encoder.down.{parts[2]}.block.{parts[4]}.{Rest(5)}";
            else if (parts[1] == "down_blocks") name = $"encoder.down.{parts[2]}.downsample.conv.{Rest(6)}";
            else if (parts[1] == "up_blocks" && parts[3] == "resnets") name = $"decoder.up.{levels - 1 - int.Parse(parts[2])}.block.{parts[4]}.{Rest(5)}";
            else if (parts[1] == "up_blocks") name = $"decoder.up.{levels - 1 - int.Parse(parts[2])}.upsample.conv.{Rest(6)}";
            else if (parts[1] == "mid_block" && parts[2] == "resnets") name = $"{parts[0]}.mid.block_{int.Parse(parts[3]) + 1}.{Rest(4)}";
            else if (parts[1] == "mid_block")
            {
                var module = parts[5] == "0" ? "to_out.0" : parts[4];
                name = $"{parts[0]}.mid.attn_1.{attnNames[module]}.{parts[^1]}";
                if (module != "group_norm" && parts[^1] == "weight") tensor = value.unsqueeze(-1).unsqueeze(-1); // 1x1 convolutions
            }
            else name = key;
            result["first_stage_model." + name] = tensor;
        }
        return result;
    }

    [Fact]
    public void LegacyLayoutsOfAFreshModelLoadToTheSameModel()
    {
        torch.manual_seed(1);
        var vae = AutoencoderKL.FromConfig(Tiny);
        var weights = StateDict.Export(vae);
        var image = torch.rand(1, 3, 16, 16) * 2 - 1;
        using var noGrad = torch.no_grad();
        var expected = vae.call(image);
        foreach (var layout in new[] { ToLdmLayout(weights, Tiny.BlockOutChannels.Length), weights })
        {
            var other = AutoencoderKL.FromConfig(Tiny);
            StateDict.Load(other, AutoencoderKL.ConvertLegacyKeys(layout, Tiny.BlockOutChannels.Length), "test");
            Assert.True(BitEqual(expected, other.call(image)));
        }
    }

    [Fact]
    public void SaveThenFromFolderIsBitIdentical()
    {
        torch.manual_seed(2);
        var vae = AutoencoderKL.FromConfig(Tiny);
        var dir = TempDir();
        vae.Save(dir);
        Assert.True(File.Exists(Path.Combine(dir, "config.json")));
        var loaded = AutoencoderKL.FromFolder(dir);
        Assert.Equal(Tiny.BlockOutChannels, loaded.Config.BlockOutChannels);
        Assert.Equal(Tiny.ScalingFactor, loaded.ScalingFactor);
        var a = vae.state_dict();
        var b = loaded.state_dict();
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        foreach (var (k, v) in a) Assert.True(BitEqual(v, b[k]), k);
        vae.eval();
        using var noGrad = torch.no_grad();
        var image = torch.rand(2, 3, 16, 16) * 2 - 1;
        Assert.True(BitEqual(vae.call(image), loaded.call(image)));
    }

    [Fact]
    public void FreshModelNormsAreOnesAndZeros()
    {
        var vae = AutoencoderKL.FromConfig(Tiny);
        var norms = vae.named_modules().Select(m => m.module).OfType<TorchSharp.Modules.GroupNorm>().ToList();
        // encoder: 3 levels x 2 resnets x 2 norms + mid (2 resnets x 2 + attention) + out; decoder: mid + 3 x 3 resnets x 2 + out
        Assert.Equal(12 + 5 + 1 + 5 + 18 + 1, norms.Count);
        foreach (var g in norms)
        {
            Assert.True(BitEqual(g.weight!, torch.ones_like(g.weight!)), "GroupNorm weight is not all ones");
            Assert.True(BitEqual(g.bias!, torch.zeros_like(g.bias!)), "GroupNorm bias is not all zeros");
        }
    }

    [Fact]
    public void ShapesFollowTheConfig()
    {
        var vae = AutoencoderKL.FromConfig(Tiny);
        Assert.Equal(4, vae.DownsampleFactor);
        using var noGrad = torch.no_grad();
        var posterior = vae.Encode(torch.zeros(2, 3, 20, 12));
        Assert.Equal(new long[] { 2, 3, 5, 3 }, posterior.Mean.shape);
        Assert.Equal(new long[] { 2, 3, 20, 12 }, vae.Decode(posterior.Mode()).shape);
        var e = Assert.Throws<ArgumentException>(() => vae.Decode(torch.zeros(1, 4, 5, 5)));
        Assert.Contains("latent", e.Message);
    }

    [Fact]
    public void OneTrainingStepGivesFiniteGradientsEverywhere()
    {
        torch.manual_seed(3);
        var vae = AutoencoderKL.FromConfig(Tiny);
        vae.train();
        var image = torch.rand(2, 3, 16, 16) * 2 - 1;
        var posterior = vae.Encode(image);
        var recon = vae.Decode(posterior.Sample(new Generator(7)));
        var loss = nn.functional.mse_loss(recon, image) + posterior.Kl().mean() * 1e-6;
        loss.backward();
        Assert.True(double.IsFinite(loss.item<float>()));
        foreach (var (name, p) in vae.named_parameters())
        {
            Assert.True(p.grad is not null, $"{name} has no gradient");
            Assert.True(p.grad!.isfinite().all().item<bool>(), $"{name} has a non-finite gradient");
        }
        Assert.Contains(vae.named_parameters(), kv => kv.parameter.grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void RepeatedCallsLeaveNoTensorsBehind()
    {
        var vae = AutoencoderKL.FromConfig(Tiny);
        vae.eval();
        var image = torch.rand(1, 3, 16, 16);
        using var noGrad = torch.no_grad();
        void Once()
        {
            var p = vae.Encode(image);
            var z = p.Sample(new Generator(5));
            vae.Decode(z).Dispose();
            z.Dispose();
            p.Mean.Dispose();
            p.LogVar.Dispose();
        }
        Memory.AssertNoTensorGrowth(Once, 3);
    }

    [Fact]
    public void InvalidConfigsNameTheKey()
    {
        var e1 = Assert.Throws<InvalidDataException>(() => AutoencoderKL.FromConfig(Tiny with { DownBlockTypes = new[] { "DownEncoderBlock2D", "AttnDownEncoderBlock2D", "DownEncoderBlock2D" } }));
        Assert.Contains("down_block_types[1]", e1.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => AutoencoderKL.FromConfig(Tiny with { ActFn = "tanh" }));
        Assert.Contains("act_fn", e2.Message);
        var e3 = Assert.Throws<InvalidDataException>(() => AutoencoderKL.FromConfig(Tiny with { NormNumGroups = 3 }));
        Assert.Contains("block_out_channels[0]", e3.Message);
        var e4 = Assert.Throws<InvalidDataException>(() => AutoencoderKL.FromConfig(Tiny with { UpBlockTypes = new[] { "UpDecoderBlock2D" } }));
        Assert.Contains("up_block_types", e4.Message);
    }
}

/// <summary>The VAE against the reference vectors and checkpoint in $GENSEG_PARITY_DIR.</summary>
[Trait(Categories.Name, Categories.Parity)]
public class VaeParityTests(ITestOutputHelper output)
{
    /// <summary>Writes the parity config and <paramref name="weights"/> as a diffusers folder.</summary>
    static string FolderWith(string configSource, IReadOnlyDictionary<string, Tensor> weights)
    {
        var dir = VaeTests.TempDir();
        File.Copy(configSource, Path.Combine(dir, "config.json"));
        SafeTensors.Save(Path.Combine(dir, AutoencoderKL.WeightsFileName), weights);
        return dir;
    }

    /// <summary>Checks a loaded model against the reference outputs; returns the largest difference.</summary>
    double AssertMatchesReference(AutoencoderKL vae, string folder, string what)
    {
        var io = Parity.Io(folder);
        using var noGrad = torch.no_grad();
        var posterior = vae.Encode(io["image"]);
        var d1 = Parity.AssertClose(io["latent_mean"], posterior.Mean, 1e-4, $"{what}: latent_mean");
        var d2 = Parity.AssertClose(io["latent_logvar"], posterior.LogVar, 1e-4, $"{what}: latent_logvar");
        var d3 = Parity.AssertClose(io["decoded"], vae.Decode(io["latent"]), 1e-4, $"{what}: decoded");
        output.WriteLine($"{what}: max abs diff mean {d1:E2}, logvar {d2:E2}, decoded {d3:E2}");
        return Math.Max(d1, Math.Max(d2, d3));
    }

    [SkippableFact]
    public void MatchesDiffusersOnTheReferenceVectors()
    {
        var folder = Parity.Folder("vae");
        var vae = AutoencoderKL.FromFolder(folder);
        AssertMatchesReference(vae, folder, "diffusers keys");
        var config = ConfigJson.Read<AutoencoderKLConfig>(Path.Combine(folder, "config.json"));
        Assert.Equal(config.ScalingFactor, vae.ScalingFactor);
    }

    static readonly Dictionary<string, string> Deprecated = new()
    {
        ["to_q"] = "query", ["to_k"] = "key", ["to_v"] = "value", ["to_out.0"] = "proj_attn",
    };

    [SkippableFact]
    public void LoadsTheDeprecatedAttentionNames()
    {
        var folder = Parity.Folder("vae");
        var weights = SafeTensors.Load(ModelFiles.Weights(folder));
        var renamed = weights.ToDictionary(
            kv => Regex.Replace(kv.Key, @"\.attentions\.(\d+)\.(to_q|to_k|to_v|to_out\.0)\.", m => $".attentions.{m.Groups[1].Value}.{Deprecated[m.Groups[2].Value]}."),
            kv => kv.Value);
        Assert.Contains(renamed.Keys, k => k.EndsWith(".attentions.0.proj_attn.weight", StringComparison.Ordinal));
        Assert.DoesNotContain(renamed.Keys, k => k.Contains(".to_q.", StringComparison.Ordinal));
        var vae = AutoencoderKL.FromFolder(FolderWith(ModelFiles.Config(folder), renamed));
        AssertMatchesReference(vae, folder, "query/key/value/proj_attn keys");
    }

    [SkippableFact]
    public void LoadsTheLatentDiffusionLayout()
    {
        var folder = Parity.Folder("vae");
        var config = ConfigJson.Read<AutoencoderKLConfig>(ModelFiles.Config(folder));
        var ldm = VaeTests.ToLdmLayout(SafeTensors.Load(ModelFiles.Weights(folder)), config.BlockOutChannels.Length);
        Assert.Contains("first_stage_model.encoder.mid.attn_1.q.weight", ldm.Keys);
        ldm["model.diffusion_model.out.0.weight"] = torch.zeros(2); // other components of a full checkpoint are ignored
        var vae = AutoencoderKL.FromFolder(FolderWith(ModelFiles.Config(folder), ldm));
        AssertMatchesReference(vae, folder, "latent-diffusion keys");
    }

    [SkippableFact]
    public void StrictLoadingReportsEveryProblemAtOnce()
    {
        var folder = Parity.Folder("vae");
        var weights = SafeTensors.Load(ModelFiles.Weights(folder));
        weights.Remove("decoder.conv_out.bias");
        weights["encoder.extra.weight"] = torch.zeros(3);
        weights["quant_conv.weight"] = torch.zeros(1, 2, 3);
        var dir = FolderWith(ModelFiles.Config(folder), weights);
        var e = Assert.Throws<InvalidDataException>(() => AutoencoderKL.FromFolder(dir));
        output.WriteLine(e.Message);
        Assert.Contains(AutoencoderKL.WeightsFileName, e.Message);
        Assert.Contains("decoder.conv_out.bias", e.Message);
        Assert.Contains("encoder.extra.weight", e.Message);
        Assert.Contains("quant_conv.weight", e.Message);
    }
}
