using GenSeg.Diffusion;
using GenSeg.Diffusion.Models;
using GenSeg.Diffusion.Schedulers;
using GenSeg.Diffusion.Text;
using GenSeg.ToyWorld.Training;
using static TorchSharp.torch;

namespace GenSeg.Tests.Support;

/// <summary>
/// A tiny random Stable Diffusion folder in the embedded model's layout (VAE factor 4 for 64 px ToyWorld images, a
/// 3-level UNet with cross-attention at 16x16 and 8x8, a 1-layer text encoder over the toy vocabulary), written once
/// per fixture into a temporary folder. Its outputs are meaningless; tests use it for shapes, plumbing and invariants.
/// </summary>
public sealed class TinyPipeline : IDisposable
{
    public TinyPipeline()
    {
        Folder = Directory.CreateTempSubdirectory("genseg-tiny-sd-").FullName;
        Write(Folder);
    }

    public string Folder { get; }

    public StableDiffusionPipeline Load() => StableDiffusionPipeline.Load(Folder);

    public static void Write(string folder)
    {
        manual_seed(7);
        var tokFolder = Path.Combine(folder, "tokenizer-src");
        ToyVocabulary.Write(tokFolder);
        var tokenizer = ClipTokenizer.FromFolder(tokFolder);
        using var text = ClipTextModel.FromConfig(new ClipTextConfig
        {
            VocabSize = tokenizer.Vocabulary,
            HiddenSize = 32,
            IntermediateSize = 64,
            ProjectionDim = 32,
            NumHiddenLayers = 1,
            NumAttentionHeads = 2,
            MaxPositionEmbeddings = 77,
            EosTokenId = tokenizer.EndToken,
        });
        using var unet = UNet2DConditionModel.FromConfig(new UNet2DConditionConfig
        {
            SampleSize = 16,
            InChannels = 4,
            OutChannels = 4,
            LayersPerBlock = 1,
            BlockOutChannels = new[] { 16, 32, 32 },
            DownBlockTypes = new[] { "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" },
            UpBlockTypes = new[] { "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" },
            CrossAttentionDim = 32,
            NormNumGroups = 8,
            AttentionHeadDim = new[] { 2, 4, 4 },
            UseLinearProjection = true,
        });
        using var vae = AutoencoderKL.FromConfig(ToyModelConfigs.Vae with { BlockOutChannels = new[] { 8, 16, 16 }, NormNumGroups = 4 });
        StableDiffusionPipeline.Save(folder, unet, vae, text, tokFolder, new DDIMScheduler(ToyModelConfigs.Scheduler), null);
        Directory.Delete(tokFolder, recursive: true);
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
    }
}
