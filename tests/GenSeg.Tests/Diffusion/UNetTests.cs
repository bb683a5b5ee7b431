using System.Text.Json;
using GenSeg.Diffusion.Attention;
using GenSeg.Diffusion.Checkpoints;
using GenSeg.Diffusion.Models;
using GenSeg.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
public class UNetTests(ITestOutputHelper output)
{
    internal static string TempDir() => Directory.CreateTempSubdirectory("genseg-unet").FullName;

    /// <summary>A tiny SD 2.x-style config (the same as the parity folders use), for tests that need no reference data.</summary>
    static UNet2DConditionConfig Tiny(bool linear = true, int inChannels = 4) => new()
    {
        SampleSize = 8,
        InChannels = inChannels,
        LayersPerBlock = 1,
        BlockOutChannels = new[] { 32, 64, 64 },
        DownBlockTypes = new[] { "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" },
        UpBlockTypes = new[] { "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" },
        CrossAttentionDim = 32,
        NormNumGroups = 8,
        AttentionHeadDim = linear ? new[] { 2, 4, 4 } : 8,
        UseLinearProjection = linear,
    };

    /// <summary>Four levels, two resnets per block, per-level transformer depth and heads, a narrower text width.</summary>
    static UNet2DConditionConfig FourLevels() => new()
    {
        LayersPerBlock = 2,
        BlockOutChannels = new[] { 16, 32, 48, 48 },
        DownBlockTypes = new[] { "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" },
        UpBlockTypes = new[] { "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" },
        CrossAttentionDim = 24,
        NormNumGroups = 8,
        AttentionHeadDim = new[] { 2, 4, 3, 6 },
        TransformerLayersPerBlock = new[] { 1, 2, 1, 1 },
        UseLinearProjection = false,
    };

    static (Tensor Sample, Tensor Timestep, Tensor Context) Inputs(UNet2DConditionConfig c, long b = 2, long h = 16, long w = 16, long tokens = 7, int seed = 1)
    {
        var g = new Generator((ulong)seed);
        int cross = c.CrossAttentionDim.Values[0];
        return (torch.randn(new[] { b, c.InChannels, h, w }, generator: g),
                torch.tensor(Enumerable.Range(0, (int)b).Select(i => 100L + 337 * i).ToArray()),
                torch.randn(new[] { b, tokens, (long)cross }, generator: g));
    }

    static string Json(UNet2DConditionConfig c) => JsonSerializer.Serialize(c with { Extra = null }, ConfigJson.Options);

    static double MaxAbs(Tensor a, Tensor b)
    {
        using var scope = torch.NewDisposeScope();
        return (a - b).abs().max().item<float>();
    }

    // ---------------------------------------------------------------- loading, config, saving

    [Theory]
    [InlineData("\"class_embed_type\": \"timestep\"", "class_embed_type")]
    [InlineData("\"num_class_embeds\": 10", "num_class_embeds")]
    [InlineData("\"addition_embed_type\": \"text_time\"", "addition_embed_type")]
    [InlineData("\"dual_cross_attention\": true", "dual_cross_attention")]
    [InlineData("\"only_cross_attention\": [false, true, false]", "only_cross_attention")]
    [InlineData("\"resnet_time_scale_shift\": \"ada_group\"", "resnet_time_scale_shift")]
    [InlineData("\"num_attention_heads\": 8", "num_attention_heads")]
    [InlineData("\"time_embedding_type\": \"fourier\"", "time_embedding_type")]
    [InlineData("\"encoder_hid_dim\": 512", "encoder_hid_dim")]
    [InlineData("\"mid_block_type\": \"UNetMidBlock2DSimpleCrossAttn\"", "mid_block_type")]
    [InlineData("\"attention_head_dim\": [2, 4]", "attention_head_dim")]
    [InlineData("\"act_fn\": \"tanh\"", "act_fn")]
    [InlineData("\"some_future_option\": 3", "some_future_option")]
    public void UnsupportedConfigFailsNamingTheKey(string entry, string key)
    {
        var dir = TempDir();
        var json = """
            { "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.21.4", "block_out_channels": [32, 64, 64],
              "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
              "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
              "norm_num_groups": 8, "cross_attention_dim": 32, "layers_per_block": 1, "class_embed_type": null,
            """ + entry + " }";
        File.WriteAllText(Path.Combine(dir, "config.json"), json);
        File.WriteAllBytes(Path.Combine(dir, "diffusion_pytorch_model.safetensors"), Array.Empty<byte>());
        var e = Assert.Throws<NotSupportedException>(() => UNet2DConditionModel.FromFolder(dir));
        Assert.Contains(key, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void ConfigReadsIntOrListAndDiffusersDefaults()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, """{ "attention_head_dim": [5, 10, 20, 20], "cross_attention_dim": 1024, "_class_name": "UNet2DConditionModel" }""");
        var c = ConfigJson.Read<UNet2DConditionConfig>(path);
        c.Validate();
        Assert.Equal(new[] { 5, 10, 20, 20 }, c.AttentionHeadDim.PerBlock(4, "attention_head_dim"));
        Assert.Equal(new[] { 1024, 1024, 1024, 1024 }, c.CrossAttentionDim.PerBlock(4, "cross_attention_dim"));
        Assert.True(c.FlipSinToCos);
        Assert.Equal(0, c.FreqShift);
        Assert.Equal(1, c.DownsamplePadding);
        Assert.Equal(1e-5, c.NormEps);
        Assert.Equal("silu", c.ActFn);
        Assert.Equal(new[] { 320, 640, 1280, 1280 }, c.BlockOutChannels);
        Assert.Equal(Json(c with { SampleSize = 96, UpcastAttention = true, UseLinearProjection = true }), Json(UNet2DConditionConfig.StableDiffusion2()));

        // written back in the form read: lists stay lists, ints stay ints
        ConfigJson.Write(path, c with { Extra = null }, UNet2DConditionModel.ClassName);
        using var doc = ConfigJson.ReadDocument(path);
        Assert.Equal(JsonValueKind.Array, doc.RootElement.GetProperty("attention_head_dim").ValueKind);
        Assert.Equal(JsonValueKind.Number, doc.RootElement.GetProperty("cross_attention_dim").ValueKind);
        Assert.Equal("UNet2DConditionModel", doc.RootElement.GetProperty("_class_name").GetString());
    }

    [Fact]
    public void StableDiffusion21ConfigAsPublishedIsAccepted()
    {
        // stabilityai/stable-diffusion-2-1 unet/config.json as published (diffusers 0.10 era, extra keys of later versions added as null)
        var dir = TempDir();
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, """
            { "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0.dev0", "act_fn": "silu",
              "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false,
              "cross_attention_dim": 1024, "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
              "downsample_padding": 1, "dual_cross_attention": false, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4,
              "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "num_class_embeds": null,
              "only_cross_attention": false, "out_channels": 4, "sample_size": 96,
              "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
              "upcast_attention": true, "use_linear_projection": true, "class_embed_type": null, "resnet_time_scale_shift": "default",
              "addition_embed_type_num_heads": 64, "encoder_hid_dim": null, "time_embedding_dim": null, "some_later_key": null }
            """);
        var c = ConfigJson.Read<UNet2DConditionConfig>(path);
        c.Validate();
        Assert.Equal(Json(UNet2DConditionConfig.StableDiffusion2()), Json(c with { OnlyCrossAttention = null }));
    }

    [Fact]
    public void SaveThenFromFolderIsBitIdentical()
    {
        using var model = UNet2DConditionModel.FromConfig(Tiny(linear: false));
        var dir = TempDir();
        model.Save(dir);
        using var loaded = UNet2DConditionModel.FromFolder(dir);
        Assert.Equal(Json(model.Config), Json(loaded.Config));
        var a = model.state_dict();
        var b = loaded.state_dict();
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        foreach (var (k, t) in a)
            Assert.True(t.shape.SequenceEqual(b[k].shape) && t.bytes.SequenceEqual(b[k].bytes), $"{k} differs after the round trip");

        model.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (x, t0, ctx) = Inputs(model.Config);
        Assert.True(model.Forward(x, t0, ctx).bytes.SequenceEqual(loaded.Forward(x, t0, ctx).bytes));
    }

    [Fact]
    public void FreshModelHasUnitNormsAndZeroBiases()
    {
        using var model = UNet2DConditionModel.FromConfig(Tiny());
        int groupNorms = 0, layerNorms = 0;
        foreach (var m in model.modules())
        {
            (Tensor? w, Tensor? bias) = m switch
            {
                GroupNorm g => (g.weight, g.bias),
                LayerNorm l => (l.weight, l.bias),
                _ => (null, null),
            };
            if (w is null) continue;
            if (m is GroupNorm) groupNorms++; else layerNorms++;
            Assert.True(w.eq(1).all().item<bool>(), "a norm weight is not 1");
            Assert.True(bias!.eq(0).all().item<bool>(), "a norm bias is not 0");
        }
        // 3 resnets down + 2 mid + 6 up with two GroupNorms each, 7 transformers, conv_norm_out
        Assert.Equal(11 * 2 + 7 + 1, groupNorms);
        Assert.Equal(7 * 3, layerNorms);
    }

    // ---------------------------------------------------------------- generality (no reference vectors needed)

    /// <summary>
    /// The checkpoint keys and shapes diffusers 0.21.4 creates for a config, written down independently of the model
    /// code from unet_2d_condition.py / unet_2d_blocks.py / resnet.py / transformer_2d.py / attention.py.
    /// </summary>
    internal static SortedDictionary<string, long[]> DiffusersKeys(UNet2DConditionConfig c)
    {
        var keys = new SortedDictionary<string, long[]>(StringComparer.Ordinal);
        void P(string name, params long[] shape) => keys[name] = shape;
        int n = c.BlockOutChannels.Length;
        long[] ch = c.BlockOutChannels.Select(v => (long)v).ToArray();
        var layers = c.LayersPerBlock.PerBlock(n, "");
        var tl = c.TransformerLayersPerBlock.PerBlock(n, "");
        var heads = c.AttentionHeadDim.PerBlock(n, "");
        var cross = c.CrossAttentionDim.PerBlock(n, "");
        long temb = ch[0] * 4, k0 = c.ConvInKernel, k1 = c.ConvOutKernel;
        bool linear = c.UseLinearProjection;

        void Resnet(string p, long cin, long cout)
        {
            P($"{p}.norm1.weight", cin); P($"{p}.norm1.bias", cin);
            P($"{p}.conv1.weight", cout, cin, 3, 3); P($"{p}.conv1.bias", cout);
            P($"{p}.time_emb_proj.weight", cout, temb); P($"{p}.time_emb_proj.bias", cout);
            P($"{p}.norm2.weight", cout); P($"{p}.norm2.bias", cout);
            P($"{p}.conv2.weight", cout, cout, 3, 3); P($"{p}.conv2.bias", cout);
            if (cin != cout) { P($"{p}.conv_shortcut.weight", cout, cin, 1, 1); P($"{p}.conv_shortcut.bias", cout); }
        }
        void Transformer(string p, long cc, long h, int depth, long xdim)
        {
            long inner = h * (cc / h);
            P($"{p}.norm.weight", cc); P($"{p}.norm.bias", cc);
            if (linear) P($"{p}.proj_in.weight", inner, cc); else P($"{p}.proj_in.weight", inner, cc, 1, 1);
            P($"{p}.proj_in.bias", inner);
            for (int k = 0; k < depth; k++)
            {
                var b = $"{p}.transformer_blocks.{k}";
                foreach (var nm in new[] { "norm1", "norm2", "norm3" }) { P($"{b}.{nm}.weight", inner); P($"{b}.{nm}.bias", inner); }
                foreach (var (a, kv) in new[] { ("attn1", inner), ("attn2", xdim) })
                {
                    P($"{b}.{a}.to_q.weight", inner, inner); P($"{b}.{a}.to_k.weight", inner, kv); P($"{b}.{a}.to_v.weight", inner, kv);
                    P($"{b}.{a}.to_out.0.weight", inner, inner); P($"{b}.{a}.to_out.0.bias", inner);
                }
                P($"{b}.ff.net.0.proj.weight", inner * 8, inner); P($"{b}.ff.net.0.proj.bias", inner * 8);
                P($"{b}.ff.net.2.weight", inner, inner * 4); P($"{b}.ff.net.2.bias", inner);
            }
            if (linear) P($"{p}.proj_out.weight", cc, inner); else P($"{p}.proj_out.weight", cc, inner, 1, 1);
            P($"{p}.proj_out.bias", cc);
        }

        P("conv_in.weight", ch[0], c.InChannels, k0, k0); P("conv_in.bias", ch[0]);
        P("time_embedding.linear_1.weight", temb, ch[0]); P("time_embedding.linear_1.bias", temb);
        P("time_embedding.linear_2.weight", temb, temb); P("time_embedding.linear_2.bias", temb);
        long output = ch[0];
        for (int i = 0; i < n; i++)
        {
            long input = output; output = ch[i];
            for (int j = 0; j < layers[i]; j++)
            {
                Resnet($"down_blocks.{i}.resnets.{j}", j == 0 ? input : output, output);
                if (c.DownBlockTypes[i] == "CrossAttnDownBlock2D") Transformer($"down_blocks.{i}.attentions.{j}", output, heads[i], tl[i], cross[i]);
            }
            if (i < n - 1) { P($"down_blocks.{i}.downsamplers.0.conv.weight", output, output, 3, 3); P($"down_blocks.{i}.downsamplers.0.conv.bias", output); }
        }
        Resnet("mid_block.resnets.0", ch[^1], ch[^1]);
        Transformer("mid_block.attentions.0", ch[^1], heads[^1], tl[^1], cross[^1]);
        Resnet("mid_block.resnets.1", ch[^1], ch[^1]);
        var rch = ch.Reverse().ToArray();
        output = rch[0];
        for (int i = 0; i < n; i++)
        {
            long prev = output; output = rch[i];
            long input = rch[Math.Min(i + 1, n - 1)];
            int num = layers[n - 1 - i] + 1;
            for (int j = 0; j < num; j++)
            {
                long skip = j == num - 1 ? input : output;
                Resnet($"up_blocks.{i}.resnets.{j}", (j == 0 ? prev : output) + skip, output);
                if (c.UpBlockTypes[i] == "CrossAttnUpBlock2D")
                    Transformer($"up_blocks.{i}.attentions.{j}", output, heads[n - 1 - i], tl[n - 1 - i], cross[n - 1 - i]);
            }
            if (i < n - 1) { P($"up_blocks.{i}.upsamplers.0.conv.weight", output, output, 3, 3); P($"up_blocks.{i}.upsamplers.0.conv.bias", output); }
        }
        P("conv_norm_out.weight", ch[0]); P("conv_norm_out.bias", ch[0]);
        P("conv_out.weight", c.OutChannels, ch[0], k1, k1); P("conv_out.bias", c.OutChannels);
        return keys;
    }

    internal static void AssertSameKeys(IReadOnlyDictionary<string, long[]> expected, IEnumerable<(string Key, long[] Shape)> actual, string what)
    {
        var act = actual.ToDictionary(kv => kv.Key, kv => kv.Shape);
        var missing = expected.Keys.Except(act.Keys).ToList();
        var extra = act.Keys.Except(expected.Keys).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0, $"{what}: missing {string.Join(", ", missing.Take(5))}; unexpected {string.Join(", ", extra.Take(5))}");
        foreach (var (k, s) in expected)
            Assert.True(s.SequenceEqual(act[k]), $"{what}: {k} is {Common.Check.Format(act[k])}, expected {Common.Check.Format(s)}");
    }

    [Fact]
    public void FourLevelTwoLayerModelHasDiffusersKeysAndRunsOnOddSizes()
    {
        var config = FourLevels();
        using var model = UNet2DConditionModel.FromConfig(config);
        AssertSameKeys(DiffusersKeys(config), model.state_dict().Select(kv => (kv.Key, kv.Value.shape)), "four-level model");

        model.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        // 20x12 is not divisible by 2^3: the up path upsamples to the skip sizes (forward_upsample_size).
        var (x, t, ctx) = Inputs(config, b: 1, h: 20, w: 12, tokens: 5);
        using var store = new AttentionMapStore();
        var taps = new UNetFeatureTaps(0, 1, 3);
        var y = model.Forward(x, t, ctx, store.Control(), taps);
        Assert.Equal(new long[] { 1, 4, 20, 12 }, y.shape);
        Assert.True(torch.isfinite(y).all().item<bool>());
        Assert.Equal(new long[] { 1, 48, 5, 3 }, taps[0].shape);   // up_blocks.0 upsampled level 3 (3x2) to level 2 (5x3)
        Assert.Equal(new long[] { 1, 48, 10, 6 }, taps[1].shape);  // up_blocks.1: level 2 -> level 1
        Assert.Equal(new long[] { 1, 16, 20, 12 }, taps[3].shape); // last block does not upsample

        var sites = model.AttentionSites(20, 12);
        // down: 2 layers x depth (1, 2, 1) x 2 layers; mid: 1 x 2; up: 3 layers x depth (1, 2, 1) x 2
        Assert.Equal(2 * (1 + 2 + 1) * 2 + 2 + 3 * (1 + 2 + 1) * 2, sites.Count);
        Assert.Equal(sites, store.Maps.Select(m => m.Site).ToArray());
        Assert.Contains(sites, s => s.Name == "down_blocks.1.attentions.1.transformer_blocks.1.attn2" && s is { Kind: AttentionKind.Cross, Height: 10, Width: 6, Heads: 4, HeadDim: 8, Level: 1 });
        Assert.Contains(sites, s => s.Name == "mid_block.attentions.0.transformer_blocks.0.attn1" && s is { Kind: AttentionKind.Self, Height: 3, Width: 2, Heads: 6, HeadDim: 8, Level: 3 });
        Assert.Contains(sites, s => s.Name == "up_blocks.1.attentions.2.transformer_blocks.0.attn2" && s is { Height: 5, Width: 3, Heads: 3, HeadDim: 16, Level: 2 });
        foreach (var (site, map) in store.Maps)
            Assert.Equal(new long[] { 1, site.QueryLength, site.Kind == AttentionKind.Cross ? 5 : site.QueryLength }, map.shape);
    }

    // ---------------------------------------------------------------- attention hooks

    [Fact]
    public void AttentionHooksBiasRecordAndFilter()
    {
        using var model = UNet2DConditionModel.FromConfig(Tiny());
        model.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (x, t, ctx) = Inputs(model.Config);
        var plain = model.Forward(x, t, ctx);

        // an all-zero bias (fused path with a mask) and an identity logit hook (explicit path) change nothing
        var zeroBias = new AttentionControl
        {
            SelfBias = s => torch.zeros(s.QueryLength, s.QueryLength),
            CrossBias = s => torch.zeros(1, 1, s.QueryLength, 7),
        };
        double dZero = MaxAbs(plain, model.Forward(x, t, ctx, zeroBias));
        double dExplicit = MaxAbs(plain, model.Forward(x, t, ctx, new AttentionControl { ModifyLogits = (_, l, _) => l }));
        double dBoth = MaxAbs(plain, model.Forward(x, t, ctx, zeroBias with { ModifyLogits = (_, l, _) => l }));
        output.WriteLine($"zero bias {dZero:E2}, explicit path {dExplicit:E2}, both {dBoth:E2}");
        Assert.True(dZero <= 1e-6, $"zero bias changed the output by {dZero:E2}");
        Assert.True(dExplicit <= 1e-5, $"explicit attention differs from the fused one by {dExplicit:E2}");
        Assert.True(dBoth <= 1e-5, $"zero bias on the explicit path changed the output by {dBoth:E2}");

        // a bias on one token's column of one layer changes the output, and the same bias on both paths agrees
        var site0 = "up_blocks.2.attentions.1.transformer_blocks.0.attn2";
        AttentionBias? TokenBias(AttentionSite s) => s.Name == site0 ? torch.tensor(new float[] { 0, 0, 4, 0, 0, 0, 0 }) : null;
        var biased = model.Forward(x, t, ctx, new AttentionControl { CrossBias = TokenBias });
        var biasedExplicit = model.Forward(x, t, ctx, new AttentionControl { CrossBias = TokenBias, ModifyLogits = (_, l, _) => l });
        Assert.True(MaxAbs(plain, biased) > 1e-3, "a bias of +4 on one token did not change the output");
        Assert.True(MaxAbs(biased, biasedExplicit) <= 1e-5);

        // recorded probabilities: one map per site, each row sums to 1, and the bias raised that token's share
        var seen = new List<AttentionSite>();
        var sums = new List<double>();
        float tokenShareBiased = 0, tokenSharePlain = 0;
        void Recorder(AttentionSite s, Tensor p, bool isBiased)
        {
            seen.Add(s);
            Assert.Equal(new long[] { 2, s.Heads, s.QueryLength, s.Kind == AttentionKind.Self ? s.QueryLength : 7 }, p.shape);
            sums.Add((p.sum(-1) - 1).abs().max().item<float>());
            if (s.Name == site0)
            {
                var share = p[.., .., .., 2].mean().item<float>();
                if (isBiased) tokenShareBiased = share; else tokenSharePlain = share;
            }
        }
        model.Forward(x, t, ctx, new AttentionControl { RecordProbabilities = (s, p) => Recorder(s, p, false) });
        Assert.Equal(model.AttentionSites(16, 16), seen);
        Assert.True(sums.Max() < 1e-5, $"probabilities do not sum to 1 (max error {sums.Max():E2})");
        model.Forward(x, t, ctx, new AttentionControl { CrossBias = TokenBias, RecordProbabilities = (s, p) => Recorder(s, p, true) });
        Assert.True(tokenShareBiased > tokenSharePlain + 0.2, $"token share {tokenSharePlain} -> {tokenShareBiased}");

        // the site filter limits every hook
        seen.Clear();
        model.Forward(x, t, ctx, new AttentionControl
        {
            Sites = s => s.Kind == AttentionKind.Cross && s.Height == 8,
            RecordProbabilities = (s, _) => seen.Add(s),
        });
        Assert.Equal(new[] { "down_blocks.1.attentions.0.transformer_blocks.0.attn2", "up_blocks.1.attentions.0.transformer_blocks.0.attn2", "up_blocks.1.attentions.1.transformer_blocks.0.attn2" },
                     seen.Select(s => s.Name));
    }

    [Fact]
    public void AttentionSitesListNamesAndResolutions()
    {
        using var model = UNet2DConditionModel.FromConfig(Tiny());
        var sites = model.AttentionSites(16, 16);
        var lines = sites.Select(s => $"{s.Name} {s.Kind} {s.Height}x{s.Width} heads {s.Heads}x{s.HeadDim}").ToArray();
        output.WriteLine(string.Join("\n", lines));
        Assert.Equal(2 * (1 + 1 + 1 + 2 + 2), sites.Count);
        Assert.Equal("down_blocks.0.attentions.0.transformer_blocks.0.attn1 Self 16x16 heads 2x16", lines[0]);
        Assert.Equal("down_blocks.1.attentions.0.transformer_blocks.0.attn2 Cross 8x8 heads 4x16", lines[3]);
        Assert.Equal("mid_block.attentions.0.transformer_blocks.0.attn1 Self 4x4 heads 4x16", lines[4]);
        Assert.Equal("up_blocks.2.attentions.1.transformer_blocks.0.attn2 Cross 16x16 heads 2x16", lines[^1]);
    }

    // ---------------------------------------------------------------- inputs, memory, training

    [Fact]
    public void TimestepMayBeScalarOrBatchIntegerOrFloat()
    {
        using var model = UNet2DConditionModel.FromConfig(Tiny());
        model.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var (x, _, ctx) = Inputs(model.Config);
        var a = model.Forward(x, torch.tensor(261L), ctx);
        var b = model.Forward(x, torch.tensor(new[] { 261L, 261L }), ctx);
        var c = model.Forward(x, torch.tensor(261.0f), ctx);
        Assert.True(a.bytes.SequenceEqual(b.bytes));
        Assert.True(MaxAbs(a, c) == 0);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(x, torch.tensor(new[] { 1L, 2L, 3L }), ctx));
        Assert.Contains("timestep", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => model.Forward(x, torch.tensor(1L), torch.zeros(2, 7, 16)));
        Assert.Contains("encoderHiddenStates", e2.Message);
    }

    [Fact]
    public void LiveTensorCountStaysFlatOverManyPasses()
    {
        using var model = UNet2DConditionModel.FromConfig(Tiny());
        model.eval();
        var (x, t, ctx) = Inputs(model.Config, b: 1, h: 8, w: 8);
        var hooks = new AttentionControl
        {
            SelfBias = s => torch.zeros(s.QueryLength, s.QueryLength),
            ModifyLogits = (_, l, _) => l.clone(),
            RecordProbabilities = (_, p) => p.sum(),
        };
        var taps = new UNetFeatureTaps(1);
        long at20 = 0, at200 = 0;
        using var noGrad = torch.no_grad();
        for (int pass = 1; pass <= 200; pass++)
        {
            using (var scope = torch.NewDisposeScope())
            {
                var y = model.Forward(x, t, ctx, pass % 2 == 0 ? hooks : null, pass % 3 == 0 ? taps : null);
                y.sum().item<float>();
            }
            if (pass == 20) at20 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            if (pass == 200) at200 = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        output.WriteLine($"live tensors after pass 20: {at20}, after pass 200: {at200}");
        Assert.Equal(at20, at200);
    }

    [Fact]
    public void TrainingGivesFiniteGradientsForEveryParameter()
    {
        using var model = UNet2DConditionModel.FromConfig(Tiny());
        model.train();
        using var scope = torch.NewDisposeScope();
        var (x, t, ctx) = Inputs(model.Config, b: 2, h: 8, w: 8);
        var loss = (model.Forward(x, t, ctx) - torch.randn(2, 4, 8, 8)).pow(2).mean();
        loss.backward();
        int count = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            var g = p.grad;
            Assert.True(g is not null, $"{name} has no gradient");
            Assert.True(torch.isfinite(g!).all().item<bool>(), $"{name} has a non-finite gradient");
            count++;
        }
        Assert.Equal(model.state_dict().Count, count);
    }
}

/// <summary>The UNet against the reference vectors and checkpoints in $GENSEG_PARITY_DIR.</summary>
[Trait(Categories.Name, Categories.Parity)]
public class UNetParityTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData("unet_sd21")]
    [InlineData("unet_sd15")]
    [InlineData("unet_inpaint")]
    public void MatchesDiffusers(string name)
    {
        var folder = Parity.Folder(name);
        var io = Parity.Io(folder);
        using var model = UNet2DConditionModel.FromFolder(folder);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var outTensor = model.Forward(io["sample"], io["timestep"], io["encoder_hidden_states"]);
        double diff = Parity.AssertClose(io["out"], outTensor, 1e-4, $"{name} out");
        output.WriteLine($"{name}: max abs diff {diff:E3} over {Common.Check.Format(outTensor.shape)}");
    }

    [SkippableFact]
    public void ExplicitAttentionPathMatchesDiffusersToo()
    {
        // The hooked path (explicit logits, softmax) must agree with diffusers as well, not only with the fused path.
        var folder = Parity.Folder("unet_sd21");
        var io = Parity.Io(folder);
        using var model = UNet2DConditionModel.FromFolder(folder);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var control = new AttentionControl { ModifyLogits = (_, logits, _) => logits };
        var outTensor = model.Forward(io["sample"], io["timestep"], io["encoder_hidden_states"], control);
        double diff = Parity.AssertClose(io["out"], outTensor, 1e-4, "unet_sd21 explicit path");
        output.WriteLine($"explicit path: max abs diff {diff:E3}");
    }

    [SkippableFact]
    public void StrictLoadingReportsMissingUnexpectedAndWrongShapeKeysTogether()
    {
        var folder = Parity.Folder("unet_sd21");
        var dir = UNetTests.TempDir();
        File.Copy(Path.Combine(folder, "config.json"), Path.Combine(dir, "config.json"));
        using (var scope = torch.NewDisposeScope())
        {
            var weights = SafeTensors.Load(ModelFiles.Weights(folder));
            weights.Remove("mid_block.resnets.1.conv2.weight");
            weights["down_blocks.0.attentions.0.proj_in.weight"] = torch.zeros(32, 32, 1, 1);
            weights["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias"] = torch.zeros(32);
            SafeTensors.Save(Path.Combine(dir, "diffusion_pytorch_model.safetensors"), weights);
        }
        var e = Assert.Throws<InvalidDataException>(() => UNet2DConditionModel.FromFolder(dir));
        Assert.Contains("missing keys (1): mid_block.resnets.1.conv2.weight", e.Message);
        Assert.Contains("unexpected keys (1): down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias", e.Message);
        Assert.Contains("wrong shapes (1): down_blocks.0.attentions.0.proj_in.weight: model [32, 32], checkpoint [32, 32, 1, 1]", e.Message);
    }

    [SkippableTheory]
    [InlineData("unet_sd21")]
    [InlineData("unet_sd15")]
    [InlineData("unet_inpaint")]
    public void KeyDerivationAgreesWithTheReferenceCheckpoints(string name)
    {
        // Validates the independent key derivation above against checkpoints diffusers itself wrote.
        var folder = Parity.Folder(name);
        var config = ConfigJson.Read<UNet2DConditionConfig>(ModelFiles.Config(folder));
        using var f = SafeTensorsFile.Open(ModelFiles.Weights(folder));
        UNetTests.AssertSameKeys(UNetTests.DiffusersKeys(config), f.Entries.Values.Select(e => (e.Name, e.Shape)), name);
    }
}
