using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Tests.Support;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
public class ClipTests(ITestOutputHelper output)
{
    internal static string TempDir(string name) => Directory.CreateTempSubdirectory(name).FullName;

    [Fact]
    public void ConfigsReadFlatNestedAndLegacySectionsWithTransformersDefaults()
    {
        var dir = TempDir("genseg-clip-cfg");
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, """{"hidden_size": 16, "hidden_act": "gelu", "architectures": ["CLIPTextModel"], "torch_dtype": "float16"}""");
        var flat = ClipTextConfig.Read(path);
        Assert.Equal((16, "gelu", 12, 77, 49408), (flat.HiddenSize, flat.HiddenAct, flat.NumHiddenLayers, flat.MaxPositionEmbeddings, flat.VocabSize));
        File.WriteAllText(path, """{"text_config": {"num_hidden_layers": 3}, "vision_config_dict": {"patch_size": 14, "image_size": 336}}""");
        Assert.Equal(3, ClipTextConfig.Read(path).NumHiddenLayers);
        var vision = ClipVisionConfig.Read(path);
        Assert.Equal((14, 336, 24, 768), (vision.PatchSize, vision.ImageSize, vision.GridSize, vision.HiddenSize));
        File.WriteAllText(path, """{"hidden_size": "wide"}""");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => ClipTextConfig.Read(path)).Message);
    }

    [Fact]
    public void TextModelTrainsFromScratch()
    {
        torch.manual_seed(1);
        var config = new ClipTextConfig
        {
            VocabSize = 40, HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2,
            MaxPositionEmbeddings = 8, HiddenAct = "gelu", EosTokenId = 39, ProjectionDim = 4,
        };
        using var model = ClipTextModel.FromConfig(config, withProjection: true);
        model.train();
        var ids = torch.tensor(new long[] { 1, 5, 7, 39, 0, 0, 0, 0, 1, 9, 3, 4, 39, 0, 0, 0 }).view(2, 8);
        var target = torch.tensor(new[] { 1f, -1f, 0.5f, 0f, -0.5f, 0.25f, 1f, -1f }).view(2, 4);
        using var optimizer = torch.optim.Adam(model.parameters(), 1e-2);
        float first = 0, last = 0;
        for (int step = 0; step < 40; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.Forward(ids).TextEmbeds!, target);
            loss.backward();
            if (step == 0)
                foreach (var (name, p) in model.named_parameters())
                    Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} received no gradient");
            optimizer.step();
            last = loss.item<float>();
            if (step == 0) first = last;
        }
        output.WriteLine($"loss {first:F4} -> {last:F4}");
        Assert.True(last < 0.1 * first, $"loss fell only from {first} to {last}");
    }

    [Fact]
    public void CausalMaskHidesLaterTokens()
    {
        torch.manual_seed(2);
        var config = new ClipTextConfig { VocabSize = 20, HiddenSize = 8, IntermediateSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, MaxPositionEmbeddings = 6 };
        using var model = ClipTextModel.FromConfig(config);
        using var noGrad = torch.no_grad();
        var a = model.Forward(torch.tensor(new long[] { 1, 2, 3, 4, 5, 6 }).view(1, 6)).LastHiddenState;
        var b = model.Forward(torch.tensor(new long[] { 1, 2, 3, 9, 9, 9 }).view(1, 6)).LastHiddenState;
        Assert.Equal(0f, (a[.., ..3] - b[.., ..3]).abs().max().item<float>());
        Assert.True((a[.., 3..] - b[.., 3..]).abs().max().item<float>() > 1e-4);
    }

    [Fact]
    public void BadInputsAndConfigsAreReportedByName()
    {
        var config = new ClipTextConfig { VocabSize = 20, HiddenSize = 8, IntermediateSize = 16, NumHiddenLayers = 1, NumAttentionHeads = 2, MaxPositionEmbeddings = 6 };
        using var model = ClipTextModel.FromConfig(config);
        Assert.Contains("max_position_embeddings", Assert.Throws<ArgumentException>(() => model.Forward(torch.zeros(1, 7, dtype: ScalarType.Int64))).Message);
        Assert.Contains("vocab_size", Assert.Throws<ArgumentException>(() => model.Forward(torch.full(1, 3, 20, dtype: ScalarType.Int64))).Message);
        Assert.Contains("input_ids", Assert.Throws<ArgumentException>(() => model.Forward(torch.zeros(1, 3))).Message);
        Assert.Contains("hidden_act", Assert.Throws<InvalidDataException>(() => ClipTextModel.FromConfig(config with { HiddenAct = "relu" })).Message);
        Assert.Contains("num_attention_heads", Assert.Throws<InvalidDataException>(() => ClipTextModel.FromConfig(config with { NumAttentionHeads = 3 })).Message);

        using var vision = ClipVisionModel.FromConfig(new ClipVisionConfig { HiddenSize = 8, IntermediateSize = 16, NumHiddenLayers = 1, NumAttentionHeads = 2, ImageSize = 16, PatchSize = 8 });
        Assert.Contains("pixel_values", Assert.Throws<ArgumentException>(() => vision.Forward(torch.zeros(1, 1, 16, 16))).Message);
    }
}

/// <summary>The CLIP models against the reference vectors and checkpoints in $GENSEG_PARITY_DIR.</summary>
[Trait(Categories.Name, Categories.Parity)]
public class ClipParityTests(ITestOutputHelper output)
{
    const double Atol = 1e-4;

    /// <summary>Compares every io entry named in <paramref name="actual"/>; each must exist in the reference.</summary>
    internal static void CompareAll(Dictionary<string, Tensor> io, Dictionary<string, Tensor> actual, ITestOutputHelper output, string prefix = "")
    {
        foreach (var (name, tensor) in actual)
        {
            Assert.True(io.ContainsKey(prefix + name), $"io.safetensors has no '{prefix + name}'");
            double diff = Parity.AssertClose(io[prefix + name], tensor, Atol, prefix + name);
            output.WriteLine($"{prefix + name}: max abs diff {diff:E2}");
        }
    }

    /// <summary>The number of hidden_states.i entries in an io file.</summary>
    internal static int HiddenStateCount(Dictionary<string, Tensor> io) => io.Keys.Count(k => k.StartsWith("hidden_states.", StringComparison.Ordinal));

    [SkippableTheory]
    [InlineData("clip_text_quickgelu")]
    [InlineData("clip_text_gelu")]
    public void TextModelMatchesTheReference(string name)
    {
        var folder = Parity.Folder(name);
        var io = Parity.Io(folder);
        using var model = ClipTextModel.FromFolder(folder);
        model.eval();
        Assert.True(model.HasProjection);
        using var noGrad = torch.no_grad();
        var result = model.Forward(io["input_ids"]);
        int states = HiddenStateCount(io);
        Assert.Equal(model.Config.NumHiddenLayers + 1, states);
        Assert.Equal(states, result.HiddenStates.Count);
        var actual = new Dictionary<string, Tensor>
        {
            ["last_hidden_state"] = result.LastHiddenState,
            ["pooled_output"] = result.PooledOutput,
            ["text_embeds"] = result.TextEmbeds!,
        };
        for (int i = 0; i < states; i++) actual[$"hidden_states.{i}"] = result.HiddenStates[i];
        CompareAll(io, actual, output);
    }

    [SkippableFact]
    public void FewerLayersEqualTheFullRunsIntermediateStateThroughTheFinalNorm()
    {
        var folder = Parity.Folder("clip_text_gelu");
        var io = Parity.Io(folder);
        using var model = ClipTextModel.FromFolder(folder);
        using var noGrad = torch.no_grad();
        var full = model.Forward(io["input_ids"]);
        int layers = model.Config.NumHiddenLayers - 1;
        var skip = model.Forward(io["input_ids"], layers);
        Assert.Equal(layers + 1, skip.HiddenStates.Count);
        var expected = model.TextModel.FinalLayerNorm.call(full.HiddenStates[layers]);
        Assert.Equal(0.0, (expected - skip.LastHiddenState).abs().max().item<float>());

        // SD 2.x ships the penultimate model as a folder with one layer fewer: same numbers.
        var dir = ClipTests.TempDir("genseg-clip-pen");
        model.Save(dir);
        var cfg = ClipTextConfig.Read(Path.Combine(dir, "config.json")) with { NumHiddenLayers = layers };
        ConfigJson.Write(Path.Combine(dir, "config.json"), cfg);
        var weights = SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
        var prefix = $"text_model.encoder.layers.{layers}.";
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), weights.Where(kv => !kv.Key.StartsWith(prefix, StringComparison.Ordinal)));
        using var penultimate = ClipTextModel.FromFolder(dir);
        Assert.Equal(0.0, (penultimate.Forward(io["input_ids"]).LastHiddenState - skip.LastHiddenState).abs().max().item<float>());
    }

    [SkippableFact]
    public void VisionModelMatchesTheReference()
    {
        var folder = Parity.Folder("clip_vision");
        var io = Parity.Io(folder);
        using var model = ClipVisionModel.FromFolder(folder);
        model.eval();
        Assert.True(model.HasProjection);
        using var noGrad = torch.no_grad();
        int states = HiddenStateCount(io);
        foreach (bool interpolate in new[] { false, true })
        {
            var result = model.Forward(io["pixel_values"], interpolate);
            Assert.Equal(states, result.HiddenStates.Count);
            var actual = new Dictionary<string, Tensor>
            {
                ["last_hidden_state"] = result.LastHiddenState,
                ["pooled_output"] = result.PooledOutput,
                ["image_embeds"] = result.ImageEmbeds!,
            };
            for (int i = 0; i < states; i++) actual[$"hidden_states.{i}"] = result.HiddenStates[i];
            output.WriteLine($"interpolatePositions: {interpolate}");
            CompareAll(io, actual, output);
        }
    }

    [SkippableFact]
    public void VisionModelInterpolatesPositionsForOtherSizes()
    {
        var folder = Parity.Folder("clip_vision");
        var io = Parity.Io(folder);
        using var model = ClipVisionModel.FromFolder(folder);
        using var noGrad = torch.no_grad();
        var pixels = io["pixel_values"];
        int p = model.Config.PatchSize, native = model.Config.ImageSize;
        // A non-square input of other grid size: runs, and its grid follows the input.
        var other = nn.functional.interpolate(pixels, size: new long[] { native + 2 * p, native + p }, mode: InterpolationMode.Bilinear, align_corners: false);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(other));
        Assert.Contains("interpolatePositions", e.Message);
        var result = model.Forward(other, interpolatePositions: true);
        long h = native / p + 2, w = native / p + 1;
        Assert.Equal(new[] { pixels.shape[0], 1 + h * w, model.Config.HiddenSize }, result.LastHiddenState.shape);
        Assert.True(torch.isfinite(result.LastHiddenState).all().item<bool>());
        var maps = result.PatchTokens(model.Config.NumHiddenLayers);
        Assert.Equal(new[] { pixels.shape[0], model.Config.HiddenSize, h, w }, maps.shape);
        // Token (row 1, col 2) of the grid is sequence position 1 + 1*w + 2.
        Assert.Equal(0f, (maps[.., .., 1, 2] - result.LastHiddenState[.., 1 + w + 2]).abs().max().item<float>());
        // The model-level helper runs only the layers needed and agrees.
        Assert.Equal(0f, (model.PatchTokens(other, model.Config.NumHiddenLayers) - maps).abs().max().item<float>());
        // At the native size the interpolated positions are the stored ones, so the patch maps equal the reference.
        var nativeMaps = model.PatchTokens(pixels, 1);
        var expected = io["hidden_states.1"][.., 1..].transpose(1, 2).reshape(nativeMaps.shape);
        Parity.AssertClose(expected, nativeMaps, Atol, "PatchTokens(1)");
    }

    [SkippableFact]
    public void StrictLoadingNamesMissingUnexpectedAndMisshapenKeys()
    {
        var folder = Parity.Folder("clip_text_quickgelu");
        var dir = ClipTests.TempDir("genseg-clip-bad");
        File.Copy(Path.Combine(folder, "config.json"), Path.Combine(dir, "config.json"));
        var weights = SafeTensors.Load(ModelFiles.Weights(folder));
        weights.Remove("text_model.final_layer_norm.bias");
        weights["text_model.extra.weight"] = torch.zeros(3);
        weights["text_model.encoder.layers.0.mlp.fc1.bias"] = torch.zeros(7);
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), weights);
        var e = Assert.Throws<InvalidDataException>(() => ClipTextModel.FromFolder(dir));
        Assert.Contains("text_model.final_layer_norm.bias", e.Message);
        Assert.Contains("text_model.extra.weight", e.Message);
        Assert.Contains("text_model.encoder.layers.0.mlp.fc1.bias", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [SkippableFact]
    public void LegacyPositionIdsAreIgnoredAndCombinedFoldersGiveTheirOwnPart()
    {
        var text = Parity.Folder("clip_text_gelu");
        var vision = Parity.Folder("clip_vision");
        var dir = ClipTests.TempDir("genseg-clip-full");
        // A full CLIP model: nested configs, both towers' keys, a logit scale and the old position_ids buffers.
        var textCfg = File.ReadAllText(Path.Combine(text, "config.json"));
        var visionCfg = File.ReadAllText(Path.Combine(vision, "config.json"));
        File.WriteAllText(Path.Combine(dir, "config.json"), $$"""{"text_config": {{textCfg}}, "vision_config": {{visionCfg}}, "projection_dim": 24}""");
        var weights = SafeTensors.Load(ModelFiles.Weights(text)).Concat(SafeTensors.Load(ModelFiles.Weights(vision)))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        weights["logit_scale"] = torch.tensor(2.6592f);
        weights["text_model.embeddings.position_ids"] = torch.arange(16, dtype: ScalarType.Int64).unsqueeze(0);
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), weights);

        using var noGrad = torch.no_grad();
        using var textModel = ClipTextModel.FromFolder(dir);
        var textIo = Parity.Io(text);
        Parity.AssertClose(textIo["text_embeds"], textModel.Forward(textIo["input_ids"]).TextEmbeds!, Atol, "text_embeds (combined folder)");
        using var visionModel = ClipVisionModel.FromFolder(dir);
        var visionIo = Parity.Io(vision);
        Parity.AssertClose(visionIo["image_embeds"], visionModel.Forward(visionIo["pixel_values"]).ImageEmbeds!, Atol, "image_embeds (combined folder)");
    }

    [SkippableFact]
    public void SaveThenFromFolderIsBitIdentical()
    {
        foreach (var name in new[] { "clip_text_quickgelu", "clip_vision" })
        {
            var folder = Parity.Folder(name);
            var dir = ClipTests.TempDir("genseg-clip-save");
            nn.Module loaded, reloaded;
            if (name == "clip_vision")
            {
                var m = ClipVisionModel.FromFolder(folder);
                m.Save(dir);
                (loaded, reloaded) = (m, ClipVisionModel.FromFolder(dir));
            }
            else
            {
                var m = ClipTextModel.FromFolder(folder);
                m.Save(dir);
                var again = ClipTextModel.FromFolder(dir);
                Assert.Equal(m.Config, again.Config);
                (loaded, reloaded) = (m, again);
            }
            var a = loaded.state_dict();
            var b = reloaded.state_dict();
            Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
            foreach (var (key, t) in a) Assert.True(t.shape.SequenceEqual(b[key].shape) && t.eq(b[key]).all().item<bool>(), $"{name}: {key} differs after Save -> FromFolder");
            loaded.Dispose();
            reloaded.Dispose();
        }
    }
}
