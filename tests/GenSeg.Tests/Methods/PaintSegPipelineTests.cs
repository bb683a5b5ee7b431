using System.Text.Json.Nodes;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.Tests.Diffusion;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

/// <summary>PaintSeg end to end on a tiny random pipeline (behaviour, not quality). Its CLI test shows a progress display,
/// which Spectre.Console allows only one of per process at a time, so the class runs with the other CLI tests.</summary>
[Collection(GenSeg.Tests.Cli.CliCollection.Name)]
[Trait(Categories.Name, Categories.Integration)]
public class PaintSegPipelineTests(TinyPipelineFixture tiny) : IClassFixture<TinyPipelineFixture>
{
    static readonly PaintSegOptions Fast = new() { Steps = 3, Paints = 2, PaintIterations = 2 };

    [Fact]
    public void SegmentKeepsEveryStepAndHonoursTheStepRules()
    {
        using var pipeline = StableDiffusionPipeline.Load(tiny.Model);
        var scene = SceneGenerator.Generate(100_004);
        var image = scene.ImageTensor();
        var seg = new PaintSegSegmenter(new Painter(pipeline, Fast), new ColourPositionFeatures(1, 0), Fast);
        var prompt = ScenePrompts.Box(scene.Objects[0], 64);
        using var r = seg.Segment(image, prompt, seed: 7);
        Assert.Equal(new[] { StepKind.Inpaint, StepKind.Outpaint, StepKind.Inpaint }, r.Steps.Select(s => s.Kind));
        Assert.True(r.InitialMask.SameAs(Boxes.ToMask(prompt.Box!.Value, 64, 64)));
        foreach (var s in r.Steps)
        {
            Assert.Equal(new long[] { 2, 3, 64, 64 }, s.Paints.Paints.shape);
            Assert.Equal(new long[] { 2, 64, 64 }, s.Potential.Total.shape);
            // paints keep the unpainted pixels exactly; the painted region covers the side the step paints
            var keep = (1 - s.Paints.Region).unsqueeze(0).unsqueeze(0);
            Assert.True(((s.Paints.Paints - image.unsqueeze(0)) * keep).abs().max().item<float>() < 1e-6);
            var side = s.Kind == StepKind.Inpaint ? s.MaskBefore : 1 - s.MaskBefore;
            Assert.Equal(0, Masks.Area(side * (1 - s.Paints.Region)));
            Assert.True(s.MaskAfter.eq(0).logical_or(s.MaskAfter.eq(1)).all().item<bool>());
            if (s.Kind == StepKind.Inpaint) Assert.Equal(0, Masks.Area(s.MaskAfter * (1 - s.MaskBefore)));
            else Assert.Equal(0, Masks.Area(s.MaskBefore * (1 - s.MaskAfter)));
        }
        Assert.True(r.Mask.SameAs(r.Steps[^1].MaskAfter));
        using var again = seg.Segment(image, prompt, seed: 7);
        Assert.True(again.Mask.SameAs(r.Mask), "same seed, same result");
        Assert.True(again.Steps[0].Paints.Paints.SameAs(r.Steps[0].Paints.Paints));
    }

    [Fact]
    public void PaintsSideBySideAreTheOneBatchPaints()
    {
        using var pipeline = StableDiffusionPipeline.Load(tiny.Model);
        var image = SceneGenerator.Generate(100_004).ImageTensor();
        var region = zeros(64, 64);
        region[TensorIndex.Slice(16, 40), TensorIndex.Slice(8, 48)] = 1;
        using var one = new Painter(pipeline, Fast) { Workers = 1 }.Paint(image, region, StepKind.Inpaint, 5, seed: 11);
        using var two = new Painter(pipeline, Fast) { Workers = 2 }.Paint(image, region, StepKind.Inpaint, 5, seed: 11);
        Assert.Equal(new long[] { 5, 3, 64, 64 }, two.Paints.shape);
        Assert.True(allclose(one.Paints, two.Paints, rtol: 1e-4, atol: 1e-4), $"max difference {(one.Paints - two.Paints).abs().max().item<float>()}");
        Assert.True(one.Region.SameAs(two.Region));
        // the paints differ from each other (each has its own noise) and from another seed's
        Assert.False(allclose(two.Paints[0], two.Paints[4], atol: 1e-3));
        using var other = new Painter(pipeline, Fast) { Workers = 2 }.Paint(image, region, StepKind.Inpaint, 5, seed: 12);
        Assert.False(allclose(other.Paints, two.Paints, atol: 1e-3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Painter(pipeline, Fast) { Workers = 0 });
    }

    [Fact]
    public void PaintingSeveralRequestsInOneBatchGivesEachItsOwnPaints()
    {
        using var pipeline = StableDiffusionPipeline.Load(tiny.Model);
        var painter = new Painter(pipeline, Fast) { Workers = 2 };
        var a = SceneGenerator.Generate(100_004).ImageTensor();
        var b = SceneGenerator.Generate(100_005).ImageTensor();
        var ra = zeros(64, 64);
        ra[TensorIndex.Slice(16, 40), TensorIndex.Slice(8, 48)] = 1;
        var rb = 1 - ra;
        var requests = new[]
        {
            new PaintRequest(a, ra, StepKind.Inpaint, 3, 11),
            new PaintRequest(b, rb, StepKind.Outpaint, 2, 12),
            new PaintRequest(a, ra, StepKind.Inpaint, 1, 13),
        };
        var all = painter.PaintAll(requests);
        Assert.Equal(3, all.Count);
        for (int i = 0; i < requests.Length; i++)
        {
            var q = requests[i];
            using var alone = painter.Paint(q.Image, q.Region, q.Kind, q.Count, q.Seed);
            Assert.Equal(alone.Paints.shape, all[i].Paints.shape);
            Assert.True(allclose(alone.Paints, all[i].Paints, rtol: 1e-4, atol: 1e-4), $"request {i}: max difference {(alone.Paints - all[i].Paints).abs().max().item<float>()}");
            Assert.True(alone.Region.SameAs(all[i].Region));
        }
        // a request's paints come from its own seed, not from its place in the batch
        Assert.False(allclose(all[0].Paints[0], all[2].Paints[0], atol: 1e-3));
        foreach (var p in all) p.Dispose();
        var bad = new PaintRequest(a, zeros(32, 32), StepKind.Inpaint, 1, 0);
        Assert.Contains("requests[1].region", Assert.Throws<ArgumentException>(() => painter.PaintAll(new[] { requests[0], bad })).Message);
    }

    [Fact]
    public void ObjectsSegmentedInLockstepAreSegmentedAsAlone()
    {
        using var pipeline = StableDiffusionPipeline.Load(tiny.Model);
        var seg = new PaintSegSegmenter(new Painter(pipeline, Fast), new ColourPositionFeatures(1, 0), Fast);
        var inputs = new[] { 100_004, 100_006, 100_007 }.Select((seed, i) =>
        {
            var scene = SceneGenerator.Generate(seed);
            return new PaintSegInput(scene.ImageTensor(), ScenePrompts.Box(scene.Objects[0], 64), (ulong)(7 + i));
        }).ToArray();
        var together = seg.SegmentAll(inputs);
        for (int i = 0; i < inputs.Length; i++)
        {
            using var alone = seg.Segment(inputs[i].Image, inputs[i].Prompt, inputs[i].Seed);
            Assert.True(alone.Mask.SameAs(together[i].Mask), $"object {i}: the lockstep mask differs");
            for (int t = 0; t < alone.Steps.Count; t++)
                Assert.True(allclose(alone.Steps[t].Paints.Paints, together[i].Steps[t].Paints.Paints, rtol: 1e-4, atol: 1e-4), $"object {i} step {t}: paints differ");
        }
        foreach (var r in together) r.Dispose();
    }

    [Fact]
    public void AnEvaluationInObjectBatchesRecordsWhatOneAtATimeRecords()
    {
        using var pipeline = StableDiffusionPipeline.Load(tiny.Model);
        var settings = new PaintSegEvaluationOptions { Split = Split.Val, Count = 5, Prompt = PromptKind.Box, Options = Fast, Resamples = 50 };
        var one = PaintSegEvaluation.Run(settings, pipeline, objectBatch: 1);
        var batched = PaintSegEvaluation.Run(settings, pipeline, objectBatch: 3);
        Assert.Equal(one.Objects.Select(o => o.Id), batched.Objects.Select(o => o.Id));
        for (int i = 0; i < one.Objects.Count; i++)
        {
            Assert.Equal(one.Objects[i].After, batched.Objects[i].After, 6);
            Assert.Equal(one.Objects[i].PerStep, batched.Objects[i].PerStep);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => PaintSegEvaluation.Run(settings, pipeline, objectBatch: 0));
        // without a batch: 4 objects at ToyWorld's 64 px, one at a time at 512 px
        Assert.Equal(4, PaintSegEvaluation.AutoObjectBatch(zeros(3, 64, 64)));
        Assert.Equal(1, PaintSegEvaluation.AutoObjectBatch(zeros(3, 512, 512)));
    }

    [Fact]
    public void InpaintStartsFromGivenLatentsAsFromTheGeneratorsDraw()
    {
        using var pipeline = StableDiffusionPipeline.Load(tiny.Model);
        var images = SceneGenerator.Generate(100_004).ImageTensor().unsqueeze(0).expand(2, 3, 64, 64);
        var masks = zeros(2, 1, 64, 64);
        masks[.., .., TensorIndex.Slice(0, 32)] = 1;
        var prompts = new[] { "", "" };
        var drawn = pipeline.Inpaint(images, masks, prompts, steps: 3, guidance: 1, generator: new Generator(5));
        var noise = randn(pipeline.InpaintNoiseShape(2, 64, 64), generator: new Generator(5));
        var given = pipeline.Inpaint(images, masks, prompts, steps: 3, guidance: 1, latents: noise);
        Assert.True(drawn.SameAs(given));
        var error = Assert.Throws<ArgumentException>(() => pipeline.Inpaint(images, masks, prompts, steps: 3, guidance: 1, latents: randn(2, 3, 5, 5)));
        Assert.Contains("latents", error.Message);
    }

    [Fact]
    public void APipelineWithoutAnInpaintingUNetIsAClearError()
    {
        var folder = Path.Combine(tiny.Folder, "no-inpaint");
        using (var p = StableDiffusionPipeline.Load(tiny.Model))
            StableDiffusionPipeline.Save(folder, p.Unet, p.Vae, p.TextEncoder, Path.Combine(tiny.Model, "tokenizer"), p.Scheduler, null);
        using var plain = StableDiffusionPipeline.Load(folder);
        Assert.Contains("no inpainting UNet", Assert.Throws<ArgumentException>(() => new Painter(plain)).Message);
    }

    [Fact]
    public void EvaluationJsonHasTheDocumentedKeys()
    {
        using var pipeline = StableDiffusionPipeline.Load(tiny.Model);
        var settings = new PaintSegEvaluationOptions { Split = Split.Val, Count = 2, Prompt = PromptKind.Mask, Options = Fast, Resamples = 100 };
        var r = PaintSegEvaluation.Run(settings, pipeline);
        var json = r.ToJson();
        foreach (var key in new[] { "schema", "method", "unit", "before", "after", "gain", "gain_ci95", "per_step", "per_class", "before_ci95", "after_ci95",
                     "strata", "objects", "settings", "command", "input" })
            Assert.True(json.ContainsKey(key), $"missing {key}");
        Assert.Equal(2, json["gain_ci95"]!.AsArray().Count);
        Assert.Equal(3, json["per_step"]!.AsArray().Count);
        Assert.Equal(2, json["objects"]!.AsArray().Count);
        Assert.Equal(r.Main.After.Value - r.Main.Before.Value, json["gain"]!.GetValue<double>(), 3);
        Assert.Equal("mask", json["settings"]!["prompt"]!.GetValue<string>());
        // the JSON reads back into the same result
        Assert.Equal(json.ToJsonString(), EvaluationResult.FromJson(json).ToJson().ToJsonString());
    }

    static int Run(params string[] args) => GenSeg.Tests.Support.CliRun.Run(args);

    [Fact]
    public void EvalCommandsWriteJsonAndRejectBadArguments()
    {
        var dir = Directory.CreateTempSubdirectory("genseg-eval-ps").FullName;
        try
        {
            var json = Path.Combine(dir, "ps.json");
            Assert.Equal(0, Run("eval", "paintseg", "--model", tiny.Model, "--split", "val", "--count", "2", "--prompt", "point",
                "--steps", "2", "--paints", "2", "--iterations", "2", "--json", json));
            var doc = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
            foreach (var key in new[] { "before", "after", "gain", "gain_ci95", "per_step" }) Assert.True(doc.ContainsKey(key), key);
            Assert.Equal("2", doc["settings"]!["paints"]!.GetValue<string>());

            var sweep = Path.Combine(dir, "sweep.json");
            Assert.Equal(0, Run("eval", "paintseg", "--painter", "oracle", "--split", "val", "--count", "2", "--steps", "1", "--sweep", "box-rate=1.0,1.2", "--json", sweep));
            var s = JsonNode.Parse(File.ReadAllText(sweep))!.AsObject();
            Assert.Equal(new[] { "box-rate=1.0", "box-rate=1.2" }, s["sweep"]!.AsArray().Select(x => x!["label"]!.GetValue<string>()));
            Assert.Equal(new[] { "1", "1.2" }, s["sweep"]!.AsArray().Select(x => x!["settings"]!["box-rate"]!.GetValue<string>()));
            Assert.True(s.ContainsKey("gain_ci95"));

            var crf = Path.Combine(dir, "crf.json");
            Assert.Equal(0, Run("eval", "crf", "--split", "val", "--count", "3", "--json", crf));
            var c = JsonNode.Parse(File.ReadAllText(crf))!.AsObject();
            Assert.Equal(3, c["count"]!.GetValue<int>());
            Assert.True(c.ContainsKey("gain_ci95"));

            Assert.Equal(2, Run("eval", "paintseg", "--painter", "oracle", "--prompt", "lasso"));
            Assert.Equal(2, Run("eval", "paintseg", "--painter", "oracle", "--sweep", "nope=1,2"));
            Assert.Equal(2, Run("eval", "paintseg", "--painter", "oracle", "--k", "1"));
            Assert.Equal(2, Run("eval", "paintseg", "--model", dir, "--count", "1"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

[Trait(Categories.Name, Categories.Unit)]
public class PaintSegSettingsTests
{
    [Fact]
    public void EverySettingReadsBackWhatItSets()
    {
        var defaults = new PaintSegEvaluationOptions();
        foreach (var s in PaintSegEvaluationSettings.Table.All)
        {
            var value = s.Format(defaults);
            Assert.Equal(value, s.Format(PaintSegEvaluationSettings.Table.Set(defaults, s.Name, value)));
        }
        var o = PaintSegEvaluationSettings.Table.Set(defaults, "modules", "o").Options;
        Assert.Equal((StepSchedule.OutpaintOnly, false), (o.Schedule, o.AdversarialConstraint));
        Assert.Equal(3, PaintSegEvaluationSettings.Table.Set(defaults, "k", "3").Options.Clusters);
        Assert.Equal(0.3, PaintSegEvaluationSettings.Table.Set(defaults, "prompt-noise", "0.3").PromptNoise);
        var (key, values) = PaintSegEvaluationSettings.Table.ParseSweep("K=2, 3,4");
        Assert.Equal("k", key);
        Assert.Equal(new[] { "2", "3", "4" }, values);
        Assert.Contains("unknown", Assert.Throws<ArgumentException>(() => PaintSegEvaluationSettings.Table.ParseSweep("q=1")).Message);
        Assert.Contains("steps=x", Assert.Throws<ArgumentException>(() => PaintSegEvaluationSettings.Table.Set(defaults, "steps", "x")).Message);
        Assert.StartsWith("box-rate=0.1: ", Assert.Throws<ArgumentException>(() => PaintSegEvaluationSettings.Table.Set(defaults, "box-rate", "0.1")).Message);
    }
}
