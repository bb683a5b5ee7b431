using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Tests.Support;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
public class DinoTests
{
    [Fact]
    public void PresetsHaveDinosShapes()
    {
        var small = DinoConfig.VitSmall(8);
        Assert.Equal((384, 12, 6, 8, 224, 1e-6), (small.EmbedDim, small.Depth, small.NumHeads, small.PatchSize, small.ImgSize, small.LayerNormEps));
        Assert.True(small.QkvBias);
        var b16 = DinoConfig.VitBase(16);
        Assert.Equal((768, 12, 12, 16), (b16.EmbedDim, b16.Depth, b16.NumHeads, b16.PatchSize));

        using var model = DinoVisionTransformer.FromConfig(small);
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(new long[] { 1, 785, 384 }, shapes["pos_embed"]);
        Assert.Equal(new long[] { 1152, 384 }, shapes["blocks.11.attn.qkv.weight"]);
        Assert.Equal(new long[] { 1536, 384 }, shapes["blocks.11.mlp.fc1.weight"]);
        Assert.Equal(new long[] { 384, 3, 8, 8 }, shapes["patch_embed.proj.weight"]);
        Assert.Equal(12 * 12 + 6, shapes.Count);
        Assert.All(model.named_modules().Where(m => m.module is TorchSharp.Modules.LayerNorm),
            m => Assert.True(((TorchSharp.Modules.LayerNorm)m.module).weight!.eq(1).all().item<bool>(), m.name));
    }

    [Fact]
    public void ConfigReadsDinosListFormOfImgSize()
    {
        var dir = ClipTests.TempDir("genseg-dino-cfg");
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, """{"img_size": [96], "patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 2}""");
        var config = DinoConfig.Read(path);
        Assert.Equal(96, config.ImgSize);
        Assert.Equal(12, config.GridSize);
        File.WriteAllText(path, """{"img_size": 96, "patch_size": 8, "embed_dim": 16, "depth": 1, "num_heads": 3}""");
        Assert.Contains("num_heads", Assert.Throws<InvalidDataException>(() => DinoConfig.Read(path).Validate(path)).Message);
    }

    [Fact]
    public void AttentionRowsAreDistributions()
    {
        torch.manual_seed(3);
        using var model = DinoVisionTransformer.FromConfig(new DinoConfig { ImgSize = 32, PatchSize = 8, EmbedDim = 16, Depth = 2, NumHeads = 2 });
        using var noGrad = torch.no_grad();
        var attn = model.GetLastSelfAttention(torch.randn(2, 3, 40, 24));
        Assert.Equal(new long[] { 2, 2, 16, 16 }, attn.shape);
        Assert.True((attn.sum(-1) - 1).abs().max().item<float>() < 1e-5);
        Assert.Contains("image", Assert.Throws<ArgumentException>(() => model.Forward(torch.zeros(1, 1, 32, 32))).Message);
    }
}

/// <summary>Every model call frees its temporaries: after the outputs are disposed, no tensor is left alive.</summary>
[Trait(Categories.Name, Categories.Unit)]
public class ModelMemoryTests
{
    static void AssertNoLeak(string what, Func<IEnumerable<Tensor>> call)
    {
        foreach (var t in call().ToList()) t.Dispose(); // warm-up (lazy module state)
        var stats = DisposeScopeManager.Statistics;
        long before = stats.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++)
            foreach (var t in call().ToList()) t.Dispose();
        Assert.True(before == stats.ThreadTotalLiveCount, $"{what}: {stats.ThreadTotalLiveCount - before} tensors left alive after 20 calls");
    }

    [Fact]
    public void ModelsLeaveNoTensorsBehind()
    {
        torch.manual_seed(4);
        using var noGrad = torch.no_grad();
        using var text = ClipTextModel.FromConfig(new ClipTextConfig
        {
            VocabSize = 20, HiddenSize = 8, IntermediateSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, MaxPositionEmbeddings = 6, EosTokenId = 19,
        }, withProjection: true);
        using var ids = torch.tensor(new long[] { 1, 2, 19, 0, 3, 19 }).view(2, 3);
        AssertNoLeak("ClipTextModel.Forward", () =>
        {
            var o = text.Forward(ids);
            return o.HiddenStates.Append(o.LastHiddenState).Append(o.PooledOutput).Append(o.TextEmbeds!);
        });

        using var vision = ClipVisionModel.FromConfig(new ClipVisionConfig { HiddenSize = 8, IntermediateSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 16, PatchSize = 8 }, withProjection: true);
        using var pixels = torch.randn(1, 3, 24, 16);
        AssertNoLeak("ClipVisionModel.Forward", () =>
        {
            var o = vision.Forward(pixels, interpolatePositions: true);
            return o.HiddenStates.Append(o.LastHiddenState).Append(o.PooledOutput).Append(o.ImageEmbeds!);
        });
        AssertNoLeak("ClipVisionModel.PatchTokens", () => new[] { vision.PatchTokens(pixels, 1) });

        using var dino = DinoVisionTransformer.FromConfig(new DinoConfig { ImgSize = 16, PatchSize = 8, EmbedDim = 8, Depth = 2, NumHeads = 2 });
        AssertNoLeak("DinoVisionTransformer", () => dino.GetIntermediateLayers(pixels, 2)
            .Append(dino.GetLastSelfAttention(pixels)).Append(dino.Forward(pixels)).Append(dino.PatchFeatures(pixels, 1)));
    }
}

/// <summary>DINO against the reference vectors and checkpoint in $GENSEG_PARITY_DIR.</summary>
[Trait(Categories.Name, Categories.Parity)]
public class DinoParityTests(ITestOutputHelper output)
{
    /// <summary>DINO's outputs for one image: get_intermediate_layers(x, n) for the n the io file holds, attention, CLS.</summary>
    static Dictionary<string, Tensor> Outputs(DinoVisionTransformer model, Tensor image, Dictionary<string, Tensor> io, string prefix)
    {
        int n = io.Keys.Count(k => k.StartsWith(prefix + "last", StringComparison.Ordinal) && !k.StartsWith(prefix + "last_", StringComparison.Ordinal));
        Assert.True(n > 0, $"io.safetensors holds no '{prefix}lastN.i' entries");
        var result = new Dictionary<string, Tensor>();
        var layers = model.GetIntermediateLayers(image, n);
        for (int i = 0; i < n; i++) result[$"last{n}.{i}"] = layers[i];
        result["last_selfattention"] = model.GetLastSelfAttention(image);
        if (io.ContainsKey(prefix + "cls_out")) result["cls_out"] = model.Forward(image);
        return result;
    }

    [SkippableFact]
    public void MatchesTheReferenceAtTheNativeAndAnotherSize()
    {
        var folder = Parity.Folder("dino");
        var io = Parity.Io(folder);
        using var model = DinoVisionTransformer.FromFolder(folder);
        model.eval();
        using var noGrad = torch.no_grad();
        ClipParityTests.CompareAll(io, Outputs(model, io["image"], io, ""), output);
        Assert.True(io.ContainsKey("image_other_size"), "io.safetensors has no image_other_size");
        ClipParityTests.CompareAll(io, Outputs(model, io["image_other_size"], io, "other_size."), output, "other_size.");
    }

    [SkippableFact]
    public void PatchFeaturesAreTheNormalisedTokensOnTheGrid()
    {
        var folder = Parity.Folder("dino");
        var io = Parity.Io(folder);
        using var model = DinoVisionTransformer.FromFolder(folder);
        using var noGrad = torch.no_grad();
        var image = io["image_other_size"];
        long h = image.shape[2] / model.Config.PatchSize, w = image.shape[3] / model.Config.PatchSize;
        var maps = model.PatchFeatures(image);
        Assert.Equal(new[] { image.shape[0], model.Config.EmbedDim, h, w }, maps.shape);
        var last = model.GetIntermediateLayers(image, 1)[0];
        Assert.Equal(0f, (maps.flatten(2).transpose(1, 2) - last[.., 1..]).abs().max().item<float>());
        // An earlier block: the second-to-last of get_intermediate_layers(x, 2).
        var earlier = model.PatchFeatures(image, model.Config.Depth - 1);
        Assert.Equal(0f, (earlier.flatten(2).transpose(1, 2) - model.GetIntermediateLayers(image, 2)[0][.., 1..]).abs().max().item<float>());
        Assert.Throws<ArgumentOutOfRangeException>(() => model.PatchFeatures(image, model.Config.Depth + 1));
    }

    [SkippableFact]
    public void SaveThenFromFolderIsBitIdenticalAndStrictLoadingNamesKeys()
    {
        var folder = Parity.Folder("dino");
        using var model = DinoVisionTransformer.FromFolder(folder);
        var dir = ClipTests.TempDir("genseg-dino");
        model.Save(dir);
        using var again = DinoVisionTransformer.FromFolder(dir);
        Assert.Equal(model.Config, again.Config);
        var a = model.state_dict();
        var b = again.state_dict();
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        foreach (var (key, t) in a) Assert.True(t.shape.SequenceEqual(b[key].shape) && t.eq(b[key]).all().item<bool>(), $"{key} differs after Save -> FromFolder");

        var weights = SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
        weights.Remove("cls_token");
        weights["head.weight"] = torch.zeros(2, 2);
        weights["pos_embed"] = torch.zeros(1, 5, model.Config.EmbedDim);
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), weights);
        var e = Assert.Throws<InvalidDataException>(() => DinoVisionTransformer.FromFolder(dir));
        foreach (var key in new[] { "cls_token", "head.weight", "pos_embed" }) Assert.Contains(key, e.Message);
    }
}
