using GenSeg.Methods;
using GenSeg.Tests.Support;
using GenSeg.ToyWorld;
using static TorchSharp.torch;

namespace GenSeg.Tests.Methods;

[Trait(Categories.Name, Categories.Unit)]
public sealed class CrossAttentionSegmenterTests : IClassFixture<TinyPipeline>
{
    static readonly string[] Names = { "circle", "square", "star", "hexagon" };
    readonly TinyPipeline tiny;

    public CrossAttentionSegmenterTests(TinyPipeline tiny) => this.tiny = tiny;

    static Tensor Images() => rand(2, 3, 64, 64, generator: new Generator(6)) * 2 - 1;

    static Tensor Present() => tensor(new[] { true, false, true, false, false, true, false, true }).view(2, 4);

    [Fact]
    public void PromptsNameTheClassesAsToyWorldCaptionsDo()
    {
        Assert.Equal("a photo of a circle", CrossAttentionSegmenter.PromptFor(new[] { "circle" }));
        Assert.Equal("a photo of a star and a ring", CrossAttentionSegmenter.PromptFor(new[] { "star", "ring" }));
        var scene = SceneGenerator.Generate(100_003);
        Assert.Equal(scene.CaptionFor(CaptionStyle.ClassOnly), CrossAttentionSegmenter.PromptFor(scene.Objects.Select(o => o.ClassName).ToArray()));
    }

    [Theory]
    [InlineData(AttentionBackground.TokenShare, NonObjectTokens.PromptWords, 0)]
    [InlineData(AttentionBackground.TokenShare, NonObjectTokens.AllOther, 1)]
    [InlineData(AttentionBackground.Constant, NonObjectTokens.PromptWords, 0)]
    public void LabelsAreTheArgmaxOfPresentClassesAgainstTheBackground(AttentionBackground background, NonObjectTokens nonObject, int propagate)
    {
        using var pipe = tiny.Load();
        var options = new CrossAttentionOptions { Background = background, NonObject = nonObject, SelfAttentionPropagation = propagate, NoiseSamples = 2, Threshold = 0.3 };
        using var r = CrossAttentionSegmenter.Segment(pipe, Images(), Names, Present(), options);
        Assert.Equal(new long[] { 2, 4, 64, 64 }, r.Probabilities.shape);
        Assert.Equal(new long[] { 2, 4, 64, 64 }, r.Scores.shape);
        Assert.Equal(new long[] { 2, 64, 64 }, r.Background.shape);
        Assert.Equal("a photo of a circle and a star", r.Prompts[0]);
        Assert.Equal("a photo of a square and a hexagon", r.Prompts[1]);
        // absent classes have no probability and are never labelled
        Assert.Equal(0f, r.Probabilities[0, 1].abs().sum().item<float>());
        Assert.Equal(0f, r.Probabilities[1, 0].abs().sum().item<float>());
        var allowed = new[] { new long[] { 0, 1, 3 }, new long[] { 0, 2, 4 } };
        for (int i = 0; i < 2; i++)
            Assert.All(r.Labels[i].unique().output.data<long>().ToArray(), l => Assert.Contains(l, allowed[i]));
        // a pixel is labelled k + 1 exactly where class k's score is the largest and beats the background
        var scores = cat(new[] { r.Background.unsqueeze(1), r.Scores }, 1);
        var best = scores.argmax(1);
        var margin = scores.sort(1, descending: true).Values;
        var clear = (margin[.., 0] - margin[.., 1]).abs() > 1e-5; // skip exact ties
        Assert.True(best.eq(r.Labels).logical_or(clear.logical_not()).all().item<bool>());
        Assert.True(r.Probabilities.ge(0).all().item<bool>() && r.Probabilities.le(1).all().item<bool>());
    }

    [Fact]
    public void TheConstantBackgroundDecidesBetweenAllAndNothing()
    {
        using var pipe = tiny.Load();
        using var none = CrossAttentionSegmenter.Segment(pipe, Images(), Names, Present(), new CrossAttentionOptions { Background = AttentionBackground.Constant, Threshold = 2 });
        Assert.True(none.Labels.eq(0).all().item<bool>());
        using var all = CrossAttentionSegmenter.Segment(pipe, Images(), Names, Present(), new CrossAttentionOptions { Background = AttentionBackground.Constant, Threshold = 0 });
        Assert.True(all.Labels.ne(0).to_type(ScalarType.Float32).mean().item<float>() > 0.99f);
    }

    [Fact]
    public void BadInputsAreClearErrors()
    {
        using var pipe = tiny.Load();
        Assert.Contains("zebra", Assert.Throws<ArgumentException>(() => CrossAttentionSegmenter.Segment(pipe, Images(), new[] { "circle", "zebra" })).Message);
        Assert.Contains("16, 8", Assert.Throws<ArgumentException>(() =>
            CrossAttentionSegmenter.Segment(pipe, Images(), Names, Present(), new CrossAttentionOptions { Resolutions = new long[] { 32 } })).Message);
        var nan = Images();
        nan[0, 0, 0, 0] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => CrossAttentionSegmenter.Segment(pipe, nan, Names, Present())).Message);
        Assert.Throws<ArgumentException>(() => CrossAttentionSegmenter.Segment(pipe, Images(), Names, Present()[.., ..2]));
    }
}
