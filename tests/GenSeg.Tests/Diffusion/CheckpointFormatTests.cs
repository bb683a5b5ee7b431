using System.Text.Json;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

/// <summary>
/// Every checkpoint format the loading base reads, on small checkpoints written here: safetensors, sharded safetensors
/// and sharded pickles with an index, a PyTorch zip pickle written by TorchSharp.PyBridge, DINO in transformers' ViTModel
/// layout; each loads to the same outputs as the model that wrote it, and each malformed case names the file and key.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public class CheckpointFormatTests
{
    static string TempDir(string name) => Directory.CreateTempSubdirectory(name).FullName;

    static DinoVisionTransformer TinyDino()
    {
        manual_seed(3);
        return DinoVisionTransformer.FromConfig(new DinoConfig { ImgSize = 32, PatchSize = 8, EmbedDim = 24, Depth = 2, NumHeads = 3 });
    }

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && (a == b).all().item<bool>();

    static Tensor Image()
    {
        manual_seed(11);
        return randn(2, 3, 32, 32);
    }

    /// <summary>The folder's config.json with the state dict written by <paramref name="write"/> in place of the safetensors.</summary>
    static string Rewrite(string saved, Action<string, Dictionary<string, Tensor>> write, string name)
    {
        var dir = TempDir(name);
        File.Copy(Path.Combine(saved, "config.json"), Path.Combine(dir, "config.json"));
        write(dir, SafeTensors.Load(ModelFiles.Weights(saved)));
        return dir;
    }

    /// <summary>Two shards split by key order, with an index naming each key's shard.</summary>
    static void WriteSharded(string dir, Dictionary<string, Tensor> weights, string indexName, Action<string, Dictionary<string, Tensor>> writeShard, string ext)
    {
        var keys = weights.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var map = new Dictionary<string, string>();
        for (int s = 0; s < 2; s++)
        {
            var file = $"model-0000{s + 1}-of-00002.{ext}";
            var part = keys.Where((_, i) => i % 2 == s).ToDictionary(k => k, k => weights[k]);
            writeShard(Path.Combine(dir, file), part);
            foreach (var k in part.Keys) map[k] = file;
        }
        File.WriteAllText(Path.Combine(dir, indexName), JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
    }

    [Fact]
    public void PickleShardedAndSafetensorsFoldersLoadTheSameModel()
    {
        using var noGrad = no_grad();
        using var model = TinyDino();
        model.eval();
        var saved = TempDir("genseg-ckpt-st");
        model.Save(saved);
        var expected = model.PatchFeatures(Image());
        var folders = new Dictionary<string, string>
        {
            ["pytorch_model.bin (PyBridge pickle)"] = Rewrite(saved, (d, w) => Checkpoint.SavePickle(Path.Combine(d, "pytorch_model.bin"), w), "genseg-ckpt-bin"),
            ["sharded safetensors"] = Rewrite(saved, (d, w) => WriteSharded(d, w, "model.safetensors.index.json", (p, t) => SafeTensors.Save(p, t), "safetensors"), "genseg-ckpt-sst"),
            ["sharded pickles"] = Rewrite(saved, (d, w) => WriteSharded(d, w, "pytorch_model.bin.index.json", Checkpoint.SavePickle, "bin"), "genseg-ckpt-sbin"),
        };
        foreach (var (what, folder) in folders)
        {
            using var loaded = DinoVisionTransformer.FromFolder(folder);
            Assert.True(Same(expected, loaded.PatchFeatures(Image())), $"{what}: features differ from the saved model's");
        }
    }

    [Fact]
    public void APickleWrittenByPyBridgeRoundTripsEveryDtype()
    {
        var dir = TempDir("genseg-ckpt-dtypes");
        var path = Path.Combine(dir, "weights.pt");
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = arange(6, dtype: ScalarType.Float32).reshape(2, 3),
            ["f16"] = tensor(new[] { 0.5f, -2f }).to_type(ScalarType.Float16),
            ["bf16"] = tensor(new[] { 1.5f, 3f }).to_type(ScalarType.BFloat16),
            ["i64"] = tensor(new long[] { 1, 2, 3 }),
        };
        Checkpoint.SavePickle(path, tensors);
        var asStored = Checkpoint.Load(path, floatType: null);
        foreach (var (k, t) in tensors)
        {
            Assert.Equal(t.dtype, asStored[k].dtype);
            Assert.True(Same(t, asStored[k]), k);
        }
        var asFloat = Checkpoint.Load(path);
        Assert.Equal(ScalarType.Float32, asFloat["f16"].dtype);
        Assert.Equal(ScalarType.Int64, asFloat["i64"].dtype);
        Assert.Equal(new[] { 0.5f, -2f }, asFloat["f16"].data<float>().ToArray());
    }

    [Fact]
    public void DinoInTransformersViTLayoutLoadsToTheSameFeatures()
    {
        using var noGrad = no_grad();
        using var model = TinyDino();
        model.eval();
        var state = StateDict.Export(model);
        // transformers' ViTModel keys (as its convert_dino_to_pytorch script writes them), a pooler, a "vit." prefix.
        var hf = new Dictionary<string, Tensor>
        {
            ["vit.embeddings.cls_token"] = state["cls_token"],
            ["vit.embeddings.position_embeddings"] = state["pos_embed"],
            ["vit.embeddings.patch_embeddings.projection.weight"] = state["patch_embed.proj.weight"],
            ["vit.embeddings.patch_embeddings.projection.bias"] = state["patch_embed.proj.bias"],
            ["vit.layernorm.weight"] = state["norm.weight"],
            ["vit.layernorm.bias"] = state["norm.bias"],
            ["vit.pooler.dense.weight"] = zeros(24, 24),
            ["vit.pooler.dense.bias"] = zeros(24),
        };
        for (int i = 0; i < 2; i++)
        {
            string b = $"blocks.{i}.", l = $"vit.encoder.layer.{i}.";
            foreach (var p in new[] { "weight", "bias" })
            {
                var qkv = state[b + "attn.qkv." + p].chunk(3, 0);
                hf[l + "attention.attention.query." + p] = qkv[0];
                hf[l + "attention.attention.key." + p] = qkv[1];
                hf[l + "attention.attention.value." + p] = qkv[2];
                hf[l + "attention.output.dense." + p] = state[b + "attn.proj." + p];
                hf[l + "intermediate.dense." + p] = state[b + "mlp.fc1." + p];
                hf[l + "output.dense." + p] = state[b + "mlp.fc2." + p];
                hf[l + "layernorm_before." + p] = state[b + "norm1." + p];
                hf[l + "layernorm_after." + p] = state[b + "norm2." + p];
            }
        }
        var dir = TempDir("genseg-dino-hf");
        File.WriteAllText(Path.Combine(dir, "config.json"), """
            {"architectures": ["ViTModel"], "model_type": "vit", "hidden_size": 24, "num_hidden_layers": 2, "num_attention_heads": 3,
             "intermediate_size": 96, "hidden_act": "gelu", "image_size": 32, "patch_size": 8, "num_channels": 3, "qkv_bias": true,
             "layer_norm_eps": 1e-6}
            """);
        Checkpoint.SavePickle(Path.Combine(dir, "pytorch_model.bin"), hf);
        using var loaded = DinoVisionTransformer.FromFolder(dir);
        Assert.Equal((24, 2, 3, 4.0, 32, 8), (loaded.Config.EmbedDim, loaded.Config.Depth, loaded.Config.NumHeads, loaded.Config.MlpRatio, loaded.Config.ImgSize, loaded.Config.PatchSize));
        Assert.True(Same(model.PatchFeatures(Image()), loaded.PatchFeatures(Image())), "transformers-layout DINO gives other features");

        hf["vit.encoder.layer.1.attention.extra.weight"] = zeros(2);
        Checkpoint.SavePickle(Path.Combine(dir, "pytorch_model.bin"), hf);
        var e = Assert.Throws<InvalidDataException>(() => DinoVisionTransformer.FromFolder(dir));
        Assert.Contains("pytorch_model.bin", e.Message);
        Assert.Contains("vit.encoder.layer.1.attention.extra.weight", e.Message);
        hf.Remove("vit.encoder.layer.1.attention.extra.weight");
        hf.Remove("vit.encoder.layer.0.attention.attention.key.bias");
        Checkpoint.SavePickle(Path.Combine(dir, "pytorch_model.bin"), hf);
        e = Assert.Throws<InvalidDataException>(() => DinoVisionTransformer.FromFolder(dir));
        Assert.Contains("encoder.layer.0.attention.attention.key.bias", e.Message);
    }

    [Fact]
    public void BrokenShardsAndUnknownFilesAreNamedWithTheirKey()
    {
        using var model = TinyDino();
        var saved = TempDir("genseg-ckpt-bad");
        model.Save(saved);
        var dir = Rewrite(saved, (d, w) => WriteSharded(d, w, "model.safetensors.index.json", (p, t) => SafeTensors.Save(p, t), "safetensors"), "genseg-ckpt-bad-sharded");
        var index = Path.Combine(dir, "model.safetensors.index.json");
        var map = Checkpoint.ReadWeightMap(index);

        // A key the index places in a shard that lacks it.
        var first = map.Keys.First(k => map[k] == "model-00001-of-00002.safetensors");
        var moved = new Dictionary<string, string>(map) { ["extra.weight"] = "model-00001-of-00002.safetensors" };
        File.WriteAllText(index, JsonSerializer.Serialize(new { weight_map = moved }));
        var e = Assert.Throws<InvalidDataException>(() => DinoVisionTransformer.FromFolder(dir));
        Assert.Contains("model-00001-of-00002.safetensors", e.Message);
        Assert.Contains("extra.weight", e.Message);

        // A shard key the index places elsewhere.
        moved = new Dictionary<string, string>(map) { [first] = "model-00002-of-00002.safetensors" };
        File.WriteAllText(index, JsonSerializer.Serialize(new { weight_map = moved }));
        e = Assert.Throws<InvalidDataException>(() => DinoVisionTransformer.FromFolder(dir));
        Assert.Contains(first, e.Message);

        // A missing shard.
        File.WriteAllText(index, JsonSerializer.Serialize(new { weight_map = new Dictionary<string, string>(map) { [first] = "model-00003-of-00003.safetensors" } }));
        var missing = Assert.Throws<FileNotFoundException>(() => DinoVisionTransformer.FromFolder(dir));
        Assert.Contains("model-00003-of-00003.safetensors", missing.Message);

        // Not a pickle at all, and weights under a name nobody looks for.
        var junk = TempDir("genseg-ckpt-junk");
        File.Copy(Path.Combine(saved, "config.json"), Path.Combine(junk, "config.json"));
        File.WriteAllText(Path.Combine(junk, "pytorch_model.bin"), "not a zip");
        e = Assert.Throws<InvalidDataException>(() => DinoVisionTransformer.FromFolder(junk));
        Assert.Contains("pytorch_model.bin", e.Message);
        File.Delete(Path.Combine(junk, "pytorch_model.bin"));
        File.Copy(Path.Combine(saved, "model.safetensors"), Path.Combine(junk, "dino_vitbase8.safetensors"));
        e = Assert.Throws<InvalidDataException>(() => DinoVisionTransformer.FromFolder(junk));
        Assert.Contains("dino_vitbase8.safetensors", e.Message);
    }

    [Fact]
    public void ModelsLoadInTheRequestedDtypeOnTheRequestedDevice()
    {
        using var model = TinyDino();
        var saved = TempDir("genseg-ckpt-dtype");
        model.Save(saved);
        foreach (var dtype in new[] { ScalarType.Float16, ScalarType.BFloat16 })
        {
            using var loaded = DinoVisionTransformer.FromFolder(saved, CPU, dtype);
            Assert.All(loaded.parameters(), p => Assert.Equal(dtype, p.dtype));
            using var noGrad = no_grad();
            Assert.Equal(dtype, loaded.PatchFeatures(Image()).dtype);
        }
    }
}
