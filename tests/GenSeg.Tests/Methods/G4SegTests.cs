using GenSeg.Diffusion;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Features;
using GenSeg.Methods.G4Seg;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld.Training;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

[Trait(Categories.Name, Categories.Unit)]
public sealed class G4SegTests : IClassFixture<TinyPipeline>
{
    internal static readonly string[] Names = { "circle", "square", "star" };
    readonly TinyPipeline tiny;

    public G4SegTests(TinyPipeline tiny) => this.tiny = tiny;

    /// <summary>Two 64 px images; class maps: a soft disc of class 0 in image 0, a soft square of class 2 in image 1, the rest empty.</summary>
    internal static (Tensor Images, Tensor Probabilities) Inputs()
    {
        var g = new Generator(3);
        var images = rand(2, 3, 64, 64, generator: g) * 2 - 1;
        var ys = arange(64, dtype: ScalarType.Float32).view(64, 1);
        var xs = arange(64, dtype: ScalarType.Float32).view(1, 64);
        var disc = sigmoid((12 - ((xs - 30).square() + (ys - 34).square()).sqrt()) / 2);
        var square = sigmoid((10 - maximum((xs - 40).abs(), (ys - 24).abs())) / 2);
        var p = zeros(2, 3, 64, 64);
        p[0, 0] = disc;
        p[1, 2] = square;
        return (images, p);
    }

    [Fact]
    public void NoiseAtFollowsTheForwardProcessAndEachItemsNoiseDependsOnlyOnItsSeed()
    {
        var scheduler = new DDIMScheduler(ToyModelConfigs.Scheduler);
        var latents = randn(3, 4, 8, 8, generator: new Generator(1));
        var (noisy, noise) = G4SegStages.NoiseAt(scheduler, latents, 400, new ulong[] { 5, 6, 7 });
        float abar = scheduler.AlphasCumprod[400];
        var expected = latents * MathF.Sqrt(abar) + noise * MathF.Sqrt(1 - abar);
        Assert.True(allclose(noisy, expected, rtol: 1e-5, atol: 1e-5));
        var (alone, _) = G4SegStages.NoiseAt(scheduler, latents[1..2], 400, new ulong[] { 6 });
        Assert.True(allclose(alone, noisy[1..2]));
        Assert.False(allclose(noisy[0], noisy[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => G4SegStages.NoiseAt(scheduler, latents, 1000, new ulong[] { 1, 2, 3 }));
        Assert.Throws<ArgumentException>(() => G4SegStages.NoiseAt(scheduler, latents, 400, new ulong[] { 1 }));
    }

    [Fact]
    public void InjectionChangesTheX0PredictionAndAnEmptyMaskChangesNothing()
    {
        using var pipe = tiny.Load();
        var latents = randn(2, 4, 16, 16, generator: new Generator(2));
        var prompts = new[] { "a photo of a circle", "a photo of a star" };
        var context = pipe.EncodePrompt(prompts).Hidden;
        var tokens = prompts.Select((p, i) => G4SegStages.ClassTokens(pipe.Tokenizer, p, Names[i * 2])).ToArray();
        Assert.Equal(new[] { 5 }, tokens[0]); // <start> a photo of a circle
        var mask = zeros(2, 64, 64);
        mask[.., 16..40, 20..48] = 1;
        var plain = G4SegStages.PredictX0(pipe, latents, 400, context, null);
        foreach (var mode in new[] { InjectionMode.Additive, InjectionMode.DenseDiffusion })
        {
            var options = new InjectionOptions { Mode = mode, Weight = 30, DenseDiffusionTimeFactor = false };
            var control = G4SegStages.BuildInjection(pipe.Unet, mask, tokens, context.shape[1], 16, 16, 400, options);
            Assert.NotNull(control);
            var injected = G4SegStages.PredictX0(pipe, latents, 400, context, control);
            Assert.Equal(plain.shape, injected.shape);
            Assert.True((injected - plain).abs().max().item<float>() > 1e-4, $"{mode} left x0 unchanged");
        }
        var empty = G4SegStages.BuildInjection(pipe.Unet, zeros(2, 64, 64), tokens, context.shape[1], 16, 16, 400, new InjectionOptions { Weight = 30 });
        Assert.True(allclose(G4SegStages.PredictX0(pipe, latents, 400, context, empty), plain, rtol: 1e-4, atol: 1e-5));
        Assert.Null(G4SegStages.BuildInjection(pipe.Unet, mask, tokens, context.shape[1], 16, 16, 400, new InjectionOptions { Mode = InjectionMode.None }));
        // only the chosen kinds and levels are injected
        var crossOnly = new InjectionOptions { Self = false, Levels = new[] { 1 } };
        var site = pipe.Unet.AttentionSites(16, 16);
        Assert.All(site, s => Assert.Equal(s.Kind == GenSeg.Diffusion.Attention.AttentionKind.Cross && s.Level == 1, crossOnly.Applies(s)));
    }

    [Fact]
    public void CombineTakesTheMostProbableClassAboveOneHalfAndIgnoresAbsentClasses()
    {
        var p = zeros(1, 3, 2, 3);
        p[0, 0, 0, 0] = 0.9f; p[0, 1, 0, 0] = 0.6f;  // class 0 wins
        p[0, 1, 0, 1] = 0.7f; p[0, 2, 0, 1] = 0.8f;  // class 2 would win but is absent -> class 1
        p[0, 0, 0, 2] = 0.4f;                          // below one half -> background
        p[0, 2, 1, 0] = 0.55f;                         // absent -> background
        var present = tensor(new[] { true, true, false }).view(1, 3);
        using var c = G4SegStages.Combine(p, present);
        Assert.Equal(new long[] { 1, 2, 0, 0, 0, 0 }, c.Labels.flatten().data<long>().ToArray());
        Assert.True(allclose(c.Probabilities.sum(1), ones(1, 2, 3)));
        Assert.Equal(0f, c.Probabilities[0, 3].sum().item<float>()); // the absent class has no mass
    }

    [Fact]
    public void RefineReturnsEveryIntermediateAndMixesOnlyInsideTheConfusionArea()
    {
        using var pipe = tiny.Load();
        var (images, p) = Inputs();
        foreach (var direction in new[] { CorrespondenceDirection.GeneratedToOriginal, CorrespondenceDirection.OriginalToGenerated })
        {
            var options = new G4SegOptions { Direction = direction, B = 0.5 };
            using var refiner = new G4SegRefiner(pipe, options);
            using var r = refiner.Refine(images, p, Names);
            Assert.Equal(new[] { new G4SegItem(0, 0), new G4SegItem(1, 2) }, r.Items);
            Assert.Equal(new long[] { 2, 4, 16, 16 }, r.Noisy!.shape);
            Assert.Equal(new long[] { 2, 4, 16, 16 }, r.X0!.shape);
            Assert.Equal(new long[] { 2, 3, 64, 64 }, r.Generated!.shape);
            Assert.Equal(new long[] { 2, 4096 }, r.Index!.shape);
            Assert.Equal(new long[] { 2, 4096 }, r.Similarity!.shape);
            Assert.Equal(new long[] { 2, 64, 64 }, r.Confusion!.shape);
            Assert.Equal(5, r.OriginalFeatures!.shape[1]); // colour + position
            Assert.Equal(p.shape, r.Refined.shape);
            Assert.Equal(new long[] { 2, 64, 64 }, r.Labels.shape);
            Assert.Equal(400, r.Timestep);
            Assert.Contains("unet", r.Seconds.Keys);

            for (int n = 0; n < 2; n++)
            {
                var (img, cls) = (r.Items[n].Image, r.Items[n].Class);
                var s = p[img, cls].flatten();
                var area = r.Confusion[n].flatten();
                Assert.True(area.any().item<bool>());
                var expected = where(area, s * 0.5f + s.gather(0, r.Index[n]) * 0.5f, s); // Eq. 9
                Assert.True(allclose(r.Refined[img, cls].flatten(), expected, atol: 1e-6));
                Assert.True(isnan(r.Similarity[n]).logical_xor(area).all().item<bool>()); // similarity only inside the area
            }
            // classes not refined keep their maps exactly
            Assert.True(r.Refined[0, 1].eq(p[0, 1]).all().item<bool>());
            Assert.True(r.Refined[1, 0].eq(p[1, 0]).all().item<bool>());
        }
    }

    [Fact]
    public void BOfOneAndAnEmptyConfusionAreaAreNoOps()
    {
        using var pipe = tiny.Load();
        var (images, p) = Inputs();
        using (var refiner = new G4SegRefiner(pipe, new G4SegOptions { B = 1 }))
        using (var r = refiner.Refine(images, p, Names))
        {
            Assert.True(r.Confusion!.any().item<bool>());
            Assert.True(r.Refined.eq(p).all().item<bool>());
        }
        // a binary map has no probability in [0.2, 0.6] of its maximum: the area is empty
        var binary = (p > 0.5f).to_type(ScalarType.Float32);
        using (var refiner = new G4SegRefiner(pipe, new G4SegOptions { B = 0 }))
        using (var r = refiner.Refine(images, binary, Names))
        {
            Assert.False(r.Confusion!.any().item<bool>());
            Assert.True(r.Refined.eq(binary).all().item<bool>());
        }
    }

    [Fact]
    public void EmptyAndFullMasksAreDefinedNoOps()
    {
        using var pipe = tiny.Load();
        var (images, _) = Inputs();
        using var refiner = new G4SegRefiner(pipe, new G4SegOptions { B = 0 });
        using (var r = refiner.Refine(images, zeros(2, 3, 64, 64), Names))
        {
            Assert.Empty(r.Items);
            Assert.Null(r.Generated);
            Assert.True(r.Labels.eq(0).all().item<bool>());
        }
        using (var r = refiner.Refine(images, ones(2, 3, 64, 64), Names))
        {
            Assert.Equal(6, r.Items.Count);
            Assert.False(r.Confusion!.any().item<bool>());
            Assert.True(r.Refined.eq(1).all().item<bool>());
            Assert.True(r.Labels.eq(1).all().item<bool>()); // all classes tie: the first wins
        }
    }

    [Fact]
    public void BadInputsAreClearErrors()
    {
        using var pipe = tiny.Load();
        var (images, p) = Inputs();
        using var refiner = new G4SegRefiner(pipe);
        var unknown = Assert.Throws<ArgumentException>(() => refiner.Refine(images, p, new[] { "circle", "zebra", "star" }));
        Assert.Contains("zebra", unknown.Message);
        Assert.Contains("vocabulary", unknown.Message);
        var size = Assert.Throws<ArgumentException>(() => refiner.Refine(images, p[.., .., ..32, ..32], Names));
        Assert.Contains("spatial size", size.Message);
        var nan = p.clone();
        nan[0, 0, 3, 3] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => refiner.Refine(images, nan, Names)).Message);
        Assert.Contains("[0, 1]", Assert.Throws<ArgumentException>(() => refiner.Refine(images, p * 2, Names)).Message);
        Assert.Contains("classNames", Assert.Throws<ArgumentException>(() => refiner.Refine(images, p, Names[..2])).Message);
        Assert.Contains("factor", Assert.Throws<ArgumentException>(() => refiner.Refine(images[.., .., ..62, ..62], p[.., .., ..62, ..62], Names)).Message);
        Assert.Throws<ArgumentException>(() => new G4SegRefiner(pipe, new G4SegOptions { PromptTemplate = "a photo" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new G4SegRefiner(pipe, new G4SegOptions { B = 1.5 }));
    }

    [Fact]
    public void ASingleImageAndInversionRunThroughRefine()
    {
        using var pipe = tiny.Load();
        var (images, p) = Inputs();
        using var refiner = new G4SegRefiner(pipe, new G4SegOptions { Inversion = true, InversionSteps = 10 });
        using var r = refiner.Refine(images[0], p[0], Names);
        Assert.Equal(new[] { new G4SegItem(0, 0) }, r.Items);
        Assert.Equal(301, r.Timestep); // the last of 1, 101, ..., 901 not above t_s = 400
        Assert.Equal(new long[] { 1, 3, 64, 64 }, r.Refined.shape);
    }

    [Fact]
    public void DiffusionFeaturesServeTheCorrespondence()
    {
        using var pipe = tiny.Load();
        var (images, p) = Inputs();
        using var refiner = new G4SegRefiner(pipe, new G4SegOptions { Features = new FeatureOptions { Kind = FeatureKind.Diffusion, Samples = 2 } });
        Assert.IsType<DiffusionFeatures>(refiner.Features);
        using var r = refiner.Refine(images, p, Names);
        Assert.Equal(new long[] { 2, 32, 16, 16 }, r.OriginalFeatures!.shape); // up_blocks[1] of the tiny UNet
        Assert.Equal(new long[] { 2, 32, 16, 16 }, r.GeneratedFeatures!.shape);
    }

    [Fact]
    public void RefiningAgainAndAgainKeepsNoTensors()
    {
        using var pipe = tiny.Load();
        var (images, p) = Inputs();
        // one group: every tensor is made on this thread (the per-thread count; RefiningSideBySideKeepsNoTensors checks workers)
        using var refiner = new G4SegRefiner(pipe, G4SegOptions.ToyWorld with { Inversion = true, InversionSteps = 5 }) { Workers = 1 };
        Memory.AssertNoTensorGrowth(() =>
        {
            using var r = refiner.Refine(images, p, Names);
        }, 3);
        using var segment = new G4SegRefiner(pipe, new G4SegOptions { Injection = new InjectionOptions { Mode = InjectionMode.DenseDiffusion } }) { Workers = 1 };
        Memory.AssertNoTensorGrowth(() =>
        {
            using var r = segment.Refine(images, p, Names);
        }, 3);
        var (twoClassImages, twoClass) = TwoClassInputs();
        using var composed = new G4SegRefiner(pipe, G4SegOptions.ToyWorld with { Compose = true }) { Workers = 1 };
        Memory.AssertNoTensorGrowth(() =>
        {
            using var r = composed.Refine(twoClassImages, twoClass, Names);
        }, 3);
    }

    [Fact]
    public void ImagesRefinedSideBySideGiveWhatOneGroupGives()
    {
        using var pipe = tiny.Load();
        var (images, p) = Inputs();
        using var one = new G4SegRefiner(pipe, G4SegOptions.ToyWorld) { Workers = 1 };
        using var two = new G4SegRefiner(pipe, G4SegOptions.ToyWorld) { Workers = 2 };
        using var a = one.Refine(images, p, Names);
        using var b = two.Refine(images, p, Names);
        Assert.Equal(a.Items, b.Items);
        Assert.Equal(a.Seconds.Keys.Order(), b.Seconds.Keys.Order());
        foreach (var (x, y) in new[] { (a.Noisy!, b.Noisy!), (a.X0!, b.X0!), (a.Generated!, b.Generated!), (a.OriginalFeatures!, b.OriginalFeatures!),
                     (a.Refined, b.Refined), (a.Combined.Probabilities, b.Combined.Probabilities) })
        {
            Assert.Equal(x.shape, y.shape);
            Assert.True(allclose(x, y, rtol: 1e-4, atol: 1e-4), $"max difference {(x - y).abs().max().item<float>()}");
        }
        Assert.True(a.Confusion!.eq(b.Confusion!).all().item<bool>());
        Assert.Equal(a.Labels.shape, b.Labels.shape);
        // the second image's items point at image 1 of the whole batch, not of its group
        Assert.Equal(1, b.Items[1].Image);
    }

    [Theory]
    [InlineData(InjectionMode.Additive, false)]
    [InlineData(InjectionMode.DenseDiffusion, false)]
    [InlineData(InjectionMode.Additive, true)]
    public void ComposedEqualsPerClassBitForBitWhenEachImageHasOneClass(InjectionMode mode, bool inversion)
    {
        using var pipe = tiny.Load();
        var (images, p) = Inputs(); // image 0: class 0 only; image 1: class 2 only
        var options = G4SegOptions.ToyWorld with { Injection = new InjectionOptions { Mode = mode }, Inversion = inversion, InversionSteps = 5 };
        using var perClass = new G4SegRefiner(pipe, options) { Workers = 1 };
        using var composed = new G4SegRefiner(pipe, options with { Compose = true }) { Workers = 1 };
        using var a = perClass.Refine(images, p, Names);
        using var b = composed.Refine(images, p, Names);
        Assert.Equal(a.Items, b.Items);
        Assert.Equal(a.Timestep, b.Timestep);
        foreach (var (x, y) in new[] { (a.Noisy!, b.Noisy!), (a.X0!, b.X0!), (a.Generated!, b.Generated!), (a.GeneratedFeatures!, b.GeneratedFeatures!),
                     (a.Index!, b.Index!), (a.Confusion!, b.Confusion!), (a.Refined, b.Refined), (a.Combined.Probabilities, b.Combined.Probabilities), (a.Labels, b.Labels) })
        {
            Assert.Equal(x.shape, y.shape);
            Assert.True(x.eq(y).all().item<bool>(), $"{mode}: composed differs from per-class by {(x.to_type(ScalarType.Float64) - y.to_type(ScalarType.Float64)).abs().max().item<double>()}");
        }
        Assert.True(a.Similarity!.eq(b.Similarity!).logical_or(isnan(a.Similarity!).logical_and(isnan(b.Similarity!))).all().item<bool>());
    }

    /// <summary>Image 0 holds classes 0 and 1 (a disc and a square apart), image 1 class 2.</summary>
    static (Tensor Images, Tensor Probabilities) TwoClassInputs()
    {
        var (images, p) = Inputs();
        var ys = arange(64, dtype: ScalarType.Float32).view(64, 1);
        var xs = arange(64, dtype: ScalarType.Float32).view(1, 64);
        p[0, 0] = sigmoid((10 - ((xs - 18).square() + (ys - 20).square()).sqrt()) / 2);
        p[0, 1] = sigmoid((8 - maximum((xs - 46).abs(), (ys - 44).abs())) / 2);
        return (images, p);
    }

    [Fact]
    public void AComposedImageGoesThroughTheUNetOnceForAllItsClasses()
    {
        using var pipe = tiny.Load();
        var (images, p) = TwoClassInputs();
        // every latent the UNet denoises passes its first convolution once
        var convIn = (TorchSharp.torch.nn.Module<Tensor, Tensor>)pipe.Unet.named_modules().Single(m => m.name == "conv_in").module;
        int calls = 0;
        long rows = 0;
        var hook = convIn.register_forward_hook((_, _, output) =>
        {
            calls++;
            rows += output.shape[0];
            return output;
        });
        var counts = new Dictionary<bool, (int Calls, long Rows)>();
        var results = new Dictionary<bool, G4SegResult>();
        try
        {
            foreach (bool compose in new[] { false, true })
            {
                (calls, rows) = (0, 0);
                using var refiner = new G4SegRefiner(pipe, G4SegOptions.ToyWorld with { Compose = compose }) { Workers = 1, MaxBatch = 1 };
                results[compose] = refiner.Refine(images[..1], p[..1], Names);
                counts[compose] = (calls, rows);
            }
        }
        finally
        {
            hook.remove();
        }
        using var perClass = results[false];
        using var composed = results[true];
        Assert.Equal((2, 2L), counts[false]); // one pass per class
        Assert.Equal((1, 1L), counts[true]);  // one pass for both
        Assert.Equal(new[] { new G4SegItem(0, 0), new G4SegItem(0, 1) }, composed.Items);
        Assert.Equal(perClass.Items, composed.Items);
        // both classes read the one generated image; it differs from either class's own
        Assert.True(composed.Generated![0].eq(composed.Generated[1]).all().item<bool>());
        Assert.False(composed.X0![0].eq(perClass.X0![0]).all().item<bool>());
        // each class mixes inside its own confusion area only (Eq. 9), matched once per image
        for (int n = 0; n < 2; n++)
        {
            var s = p[0, n].flatten();
            var area = composed.Confusion![n].flatten();
            Assert.True(area.any().item<bool>());
            Assert.True(area.eq(perClass.Confusion![n].flatten()).all().item<bool>());
            var expected = where(area, s * 0.3f + s.gather(0, composed.Index![n]) * 0.7f, s); // b = 0.3 (the toyworld preset)
            Assert.True(allclose(composed.Refined[0, n].flatten(), expected, atol: 1e-6));
            Assert.True(isnan(composed.Similarity![n]).logical_xor(area).all().item<bool>());
            Assert.True(composed.Index[n].eq(arange(4096)).logical_or(area).all().item<bool>()); // d_j = j outside the area
        }
        Assert.True(composed.Confusion![0].logical_and(composed.Confusion[1]).any().item<bool>() == false, "the two classes' areas should not overlap here");
        Assert.True(composed.Refined[0, 2].eq(p[0, 2]).all().item<bool>()); // an absent class keeps its map
    }

    [Fact]
    public void ComposedImagesRefinedSideBySideGiveWhatOneGroupGives()
    {
        using var pipe = tiny.Load();
        var (images, p) = TwoClassInputs();
        var options = G4SegOptions.ToyWorld with { Compose = true };
        using var one = new G4SegRefiner(pipe, options) { Workers = 1 };
        using var two = new G4SegRefiner(pipe, options) { Workers = 2 };
        using var a = one.Refine(images, p, Names);
        using var b = two.Refine(images, p, Names);
        Assert.Equal(new[] { new G4SegItem(0, 0), new G4SegItem(0, 1), new G4SegItem(1, 2) }, b.Items);
        Assert.Equal(a.Items, b.Items);
        foreach (var (x, y) in new[] { (a.X0!, b.X0!), (a.Generated!, b.Generated!), (a.Refined, b.Refined) })
            Assert.True(allclose(x, y, rtol: 1e-4, atol: 1e-4), $"max difference {(x - y).abs().max().item<float>()}");
    }

    [Fact]
    public void TheComposedPromptNamesEveryClassAndOneClassGivesTheClassPrompt()
    {
        var o = new G4SegOptions();
        Assert.Equal("a photo of a circle", o.ComposedPromptFor(new[] { "circle" }));
        Assert.Equal(o.PromptFor("star"), o.ComposedPromptFor(new[] { "star" }));
        Assert.Equal("a photo of a circle and a star", o.ComposedPromptFor(new[] { "circle", "star" }));
        Assert.Equal("a photo of a circle, a square and a star", o.ComposedPromptFor(Names));
        Assert.Equal("a photo of circle, square and star", (o with { PromptTemplate = "a photo of {0}" }).ComposedPromptFor(Names));
        Assert.Equal("the circle and the star, in a photo", (o with { PromptTemplate = "the {0}, in a photo" }).ComposedPromptFor(new[] { "circle", "star" }));
        Assert.Throws<ArgumentException>(() => o.ComposedPromptFor(Array.Empty<string>()));
        Assert.False(G4SegOptions.Paper.Compose); // the paper's per-class passes
    }

    [Fact]
    public void ComposedMasksAndAreasGatherEachPassesClasses()
    {
        var m = arange(3 * 2 * 2, dtype: ScalarType.Float32).reshape(3, 2, 2) + 1;
        var composed = G4SegStages.ComposeMasks(m, new[] { 0, 0, 1 }, 2);
        Assert.Equal(new long[] { 2, 2, 2, 2 }, composed.shape);
        Assert.True(composed[0, 0].eq(m[0]).all().item<bool>());
        Assert.True(composed[0, 1].eq(m[1]).all().item<bool>());
        Assert.True(composed[1, 0].eq(m[2]).all().item<bool>());
        Assert.True(composed[1, 1].eq(0).all().item<bool>()); // padding: pass 1 has one class
        var areas = tensor(new[] { true, false, false, false, false, true, false, false, false, false, true, false }).reshape(3, 2, 2);
        var union = G4SegStages.UnionPerPass(areas, new[] { 0, 0, 1 }, 2);
        Assert.Equal(new[] { true, true, false, false, false, false, true, false }, union.flatten().data<bool>().ToArray());
        Assert.Throws<ArgumentException>(() => G4SegStages.ComposeMasks(m, new[] { 0, 0 }, 1));        // one pass per mask
        Assert.Throws<ArgumentException>(() => G4SegStages.ComposeMasks(m, new[] { 0, 0, 2 }, 3));     // pass 1 empty
        Assert.Throws<ArgumentOutOfRangeException>(() => G4SegStages.UnionPerPass(areas, new[] { 0, 1, 2 }, 2));
    }

    [Theory]
    [InlineData(new[] { 2, 0, 1, 1 }, 2, new[] { 0, 1, 4 })]
    [InlineData(new[] { 0, 0, 3 }, 2, new[] { 0, 3 })]
    [InlineData(new[] { 0, 0, 0 }, 2, new[] { 0, 3 })]
    [InlineData(new[] { 1, 1, 1, 1 }, 1, new[] { 0, 4 })]
    [InlineData(new[] { 1, 1, 1, 1 }, 8, new[] { 0, 1, 2, 3, 4 })]
    [InlineData(new[] { 0, 2, 2, 0, 2, 2, 0 }, 2, new[] { 0, 3, 7 })]
    public void ImageGroupsAreContiguousBalancedAndNeverEmpty(int[] counts, int workers, int[] bounds)
    {
        var groups = G4SegRefiner.ImageGroups(Flags(counts, 3), counts.Length, 3, workers);
        Assert.Equal(bounds.Zip(bounds.Skip(1)).Select(z => (z.First, z.Second)), groups);
    }

    [Fact]
    public void ImageGroupsCoverEveryImageWithAboutEqualWork()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 500; trial++)
        {
            var counts = Enumerable.Range(0, random.Next(1, 20)).Select(_ => random.Next(0, 4)).ToArray();
            int workers = random.Next(1, 6), total = counts.Sum();
            var groups = G4SegRefiner.ImageGroups(Flags(counts, 3), counts.Length, 3, workers);
            Assert.Equal(0, groups[0].Start);
            Assert.Equal(counts.Length, groups[^1].End);
            Assert.All(groups.Zip(groups.Skip(1)), z => Assert.Equal(z.First.End, z.Second.Start));
            Assert.True(groups.Count <= Math.Max(1, Math.Min(workers, total)));
            var work = groups.Select(g => counts[g.Start..g.End].Sum()).ToArray();
            if (groups.Count > 1) Assert.All(work, n => Assert.True(n >= 1));
            // no group exceeds its share by more than one image's items
            Assert.All(work, n => Assert.True(n <= Math.Ceiling((double)total / groups.Count) + counts.Max(), $"{string.Join(",", counts)} / {workers}: {string.Join(",", work)}"));
        }
    }

    static bool[] Flags(int[] counts, int classes) =>
        counts.SelectMany(n => Enumerable.Range(0, classes).Select(c => c < n)).ToArray();

    [Fact]
    public void TheBenchmarkReportsThroughputAndStageShares()
    {
        using var pipe = tiny.Load();
        var r = GenSeg.Benchmarks.G4SegBenchmark.Run(pipe, new GenSeg.Benchmarks.G4SegBenchmarkOptions { ScenesPerBatch = 2, Batches = 1, Threads = 1, Workers = 2 });
        Assert.True(r.ImageClasses >= 2);
        Assert.True(r.ImageClassesPerSecond > 0);
        Assert.Equal(1.0, r.StageShares.Values.Sum(), 6);
        Assert.Contains("unet", r.StageShares.Keys);
        Assert.Equal(1, r.Threads);
        Assert.Equal(2, r.Workers);
        var c = GenSeg.Benchmarks.G4SegBenchmark.CompareCompose(pipe, new GenSeg.Benchmarks.G4SegBenchmarkOptions { ScenesPerBatch = 2, Batches = 1, Threads = 1, Workers = 1 });
        Assert.Equal(c.PerClass.ImageClasses, c.Composed.ImageClasses); // the same scenes, every image-class refined by both
        Assert.True(c.Speedup > 0);
        Assert.Equal(1.0, c.Composed.StageShares.Values.Sum(), 6);
    }
}

/// <summary>Counts every live tensor of the process, so it runs alone.</summary>
[Collection(GenSeg.Tests.Runtime.TorchThreadsCollection.Name)]
[Trait(Categories.Name, Categories.Unit)]
public sealed class G4SegWorkerMemoryTests : IClassFixture<TinyPipeline>
{
    readonly TinyPipeline tiny;

    public G4SegWorkerMemoryTests(TinyPipeline tiny) => this.tiny = tiny;

    [Fact]
    public void RefiningSideBySideKeepsNoTensors()
    {
        using var pipe = tiny.Load();
        var (images, p) = G4SegTests.Inputs();
        using var refiner = new G4SegRefiner(pipe, G4SegOptions.ToyWorld) { Workers = 2 };
        using (var r = refiner.Refine(images, p, G4SegTests.Names)) { }
        // every live tensor of the process (a worker's tensors are not in this thread's count); earlier tests' garbage first
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = Tensor.TotalCount;
        for (int i = 0; i < 3; i++)
        {
            using var r = refiner.Refine(images, p, G4SegTests.Names);
        }
        long after = Tensor.TotalCount; // no collection here: it would finalize leaked tensors and hide them
        Assert.True(after <= before, $"live tensors grew from {before} to {after} over 3 calls");
        Assert.Throws<ArgumentOutOfRangeException>(() => new G4SegRefiner(pipe) { Workers = 0 });
    }
}
