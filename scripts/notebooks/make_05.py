# Writes notebooks/05-your-own-model-and-images.ipynb (unexecuted). Kept so the notebook's cells can be reviewed as code.
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nbcells import md, code, kit_cell, write

RUNTIME = "Measured on this machine (2 CPU cores, nothing else running): this copy's execution in the kernel (100 scenes, nothing cached) took 17 s, kernel start included; the last cell prints the notebook's own time."
cells = []
cells.append(md(r"""
# Your own model and images

The quickstart's G4Seg pipeline on **your** Stable Diffusion folder and image files. Any diffusers-layout SD folder
works (SD 1.5, SD 2.1, an inpainting folder, or the kit's `data/models/toyworld-sd`): `model_index.json` with `unet/`,
`vae/`, `text_encoder/`, `tokenizer/` and `scheduler/`.

Give the files in the parameters cell, or on the command line:

```bash
./genseg notebook run notebooks/05-your-own-model-and-images.ipynb \
    -p modelFolder=/models/stable-diffusion-2-1-base -p imageFiles=photos/dog.jpg,photos/cat.jpg -p classNames=dog,cat \
    -p maskFiles=masks/dog.png,masks/cat.png -p imageSide=512
```

Without `maskFiles`, the coarse masks come from the model's own cross-attention for the class names (the text-only
segmenter G4Seg is meant to refine). Without `imageFiles`, ToyWorld val scenes stand in for your images (`scale=ci`: 2,
`full`: 100), each with the class of its first object, and since their truth is known the notebook also scores the
coarse and refined masks (mean IoU with 95% intervals and n).

**Reproduce** this copy (the embedded model, ToyWorld scenes): `./genseg notebook run
notebooks/05-your-own-model-and-images.ipynb -p scale=full`, or in the real .NET Interactive kernel
`scripts/notebooks/execute-full.sh notebooks/05-your-own-model-and-images.ipynb`. """ + RUNTIME + r"""
The parameters cell keeps CI's defaults (`scale=ci`).
"""))
cells.append(code(r"""
// Parameters (papermill convention)
var scale = "ci";            // without imageFiles: ci: 2 ToyWorld val scenes (what CI runs); full: 100 scenes
var preset = "paper";        // G4Seg settings: paper (the paper's) or toyworld (tuned on ToyWorld val)
var settings = "";           // settings on top of the preset, as the CLI names them, joined by ';' (e.g. "timestep=300;b=0.5;a=10")
var modelFolder = "data/models/toyworld-sd"; // a diffusers SD folder; relative paths are taken from the repository root
var device = "cpu";          // cpu, cuda, cuda:N or auto (CUDA where available); CUDA needs the cuda build (README)
string[] imageFiles = [];    // image files (PNG, JPEG, ...); empty: ToyWorld val scenes
string[] classNames = [];    // the object's class name per image, or one name for every image (a word the text encoder knows)
string[] maskFiles = [];     // optional coarse masks, one per image: grey PNG = probability (0..255), or 0/1 labels, or a palette label PNG (255 = ignore)
var imageSide = 0;           // images are resized to imageSide x imageSide; 0: the model's native size (its VAE sample_size)
var outputFolder = "";       // optional: refined masks are written here as grey PNGs (relative: from the repository root)
""", ["parameters"]))
cells.append(kit_cell(r"""
// The kit and everything it needs, from the build (`dotnet build Research.sln -c Release` writes
// src/GenSeg.Notebooks/bin/Release/kernel: TorchSharp with its native libraries, Plotly.NET, SkiaSharp, Microsoft.Data.Analysis).
// Start() runs the kit's native set-up before the first tensor, as the CLI does, and registers its output formatters.
"""))
cells.append(md(r"""
## The model and the images

Images are resized (bilinearly, aspect ratio not kept) to a square the model works at.
"""))
cells.append(code(r"""
using System.Diagnostics;
using System.IO;
using GenSeg.Common;
using GenSeg.Datasets;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Imaging;
using GenSeg.Methods;
using GenSeg.Methods.G4Seg;
using GenSeg.Notebooks;
using GenSeg.ToyWorld;
using Microsoft.Data.Analysis;
using TorchSharp;
using static TorchSharp.torch;

var totalWatch = Stopwatch.StartNew();
if (scale != "ci" && scale != "full") throw new ArgumentException($"scale \"{scale}\": expected \"ci\" or \"full\"");
var options = G4SegSettings.Table.Apply(G4SegSettings.Table.Preset(preset), settings);
bool toy = imageFiles.Length == 0;
if (!toy && classNames.Length == 0)
    throw new ArgumentException("classNames: give the class of the object to segment in each image (or one name for all), e.g. -p classNames=dog");
if (!toy && classNames.Length != 1 && classNames.Length != imageFiles.Length)
    throw new ArgumentException($"classNames: {classNames.Length} names for {imageFiles.Length} images; give one per image or one for all");
if (maskFiles.Length != 0 && maskFiles.Length != (toy ? 0 : imageFiles.Length))
    throw new ArgumentException(toy ? "maskFiles: give imageFiles with them" : $"maskFiles: {maskFiles.Length} masks for {imageFiles.Length} images; give one per image or none");
torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / 2));
var model = NotebookPaths.ModelFolder(modelFolder);
var pipe = StableDiffusionPipeline.Load(model, GenSeg.Runtime.TorchRuntime.Device(device));
var side = imageSide > 0 ? imageSide : pipe.Vae.Config.SampleSize;
if (side % pipe.Vae.DownsampleFactor != 0)
    throw new ArgumentException($"imageSide {side}: must be a multiple of the VAE's factor {pipe.Vae.DownsampleFactor}");
// the images [B, 3, side, side] in [-1, 1], their names and classes, and (ToyWorld only) the truth of each image's class
var seeds = toy ? Splits.Seeds(Split.Val, null, scale == "full" ? 100 : 2).ToArray() : Array.Empty<int>();
var toyScenes = seeds.Select(s => SceneGenerator.Generate(s)).ToArray();
var names = toy ? seeds.Select(s => $"val scene {s}").ToArray() : imageFiles.Select(f => Path.GetFileName(f)).ToArray();
var paths = toy ? Array.Empty<string>() : imageFiles.Select(NotebookPaths.Resolve).ToArray();
foreach (var p in paths) if (!System.IO.File.Exists(p)) throw new FileNotFoundException($"image file not found: {Path.GetFileName(p)}", p);
var images = toy ? stack(toyScenes.Select(sc => Resize.Bilinear(sc.ImageTensor(), side, side)).ToArray())
                 : stack(paths.Select(p => Resize.Bilinear(ImageIO.Load(p), side, side)).ToArray());
var perImage = toy ? toyScenes.Select(sc => sc.Objects[0].ClassName).ToArray()
                   : imageFiles.Select((_, i) => classNames.Length == 1 ? classNames[0] : classNames[i]).ToArray();
var truths = toy ? toyScenes.Select(sc => Resize.Nearest((sc.SemanticTensor() == sc.Objects[0].ClassIndex).to_type(ScalarType.Float32), side, side)).ToArray() : null;
var classes = perImage.Distinct().ToArray();               // the K class maps
var present = zeros(images.shape[0], classes.Length, dtype: ScalarType.Bool);
for (int i = 0; i < perImage.Length; i++) present[i, Array.IndexOf(classes, perImage[i])] = true;
int shown = Math.Min(perImage.Length, 4);                  // images drawn (all are refined and scored)
Console.WriteLine($"model {KitPaths.Portable(model)}: images at {side} px (latents {pipe.LatentSide(side)}), UNet levels {pipe.Unet.Levels}");
Console.WriteLine($"{perImage.Length} image(s)" + (toy ? " (ToyWorld val scenes: no imageFiles given)" : "") + $"; the first {shown}: " +
                  string.Join(", ", Enumerable.Range(0, shown).Select(i => $"{names[i]}: {perImage[i]}")));
display(Panels.Row(Enumerable.Range(0, shown).Select(i => Panels.Image(images[i])), scale: Math.Max(1, 256 / side),
    headers: Enumerable.Range(0, shown).Select(i => $"{names[i]}: {perImage[i]}").ToArray()));
"""))
cells.append(md(r"""
## Coarse masks

From `maskFiles` when given (a grey PNG is a probability, a palette PNG a label map: 0 background, 255 ignore = unknown,
any other label the object); otherwise from the model's cross-attention for the class names (one UNet pass per image).
"""))
cells.append(code(r"""
var watch = Stopwatch.StartNew();
Tensor LoadMask(string path)
{
    // a grey PNG is a probability; a palette PNG a label map whose 255 (ignore) is unknown (0.5), never the object
    var probability = CoarseMaskFiles.LoadObjectMap(NotebookPaths.Resolve(path));
    return Resize.Bilinear(probability, side, side).clamp(0, 1);
}
var probabilities = zeros(images.shape[0], classes.Length, side, side);
if (maskFiles.Length > 0)
{
    for (int i = 0; i < maskFiles.Length; i++) probabilities[i, Array.IndexOf(classes, perImage[i])] = LoadMask(maskFiles[i]);
    Console.WriteLine("coarse masks from maskFiles");
}
else
{
    using var attention = CrossAttentionSegmenter.Segment(pipe, images, classes, present);
    probabilities = attention.Probabilities.clone();
    Console.WriteLine($"coarse masks from cross-attention; prompts: {string.Join(" | ", attention.Prompts.Distinct().Take(4))}");
}
var coarse = stack(Enumerable.Range(0, perImage.Length).Select(i => probabilities[i, Array.IndexOf(classes, perImage[i])]).ToArray());
display(Panels.Row(Enumerable.Range(0, shown).Select(i => Panels.Overlay(images[i], coarse[i], new Rgb(255, 200, 0), 0.6)),
    scale: Math.Max(1, 256 / side), headers: Enumerable.Range(0, shown).Select(i => $"coarse {perImage[i]}").ToArray()));
Console.WriteLine($"cell: {watch.Elapsed.TotalSeconds:F1} s");
"""))
cells.append(md(r"""
## G4Seg refinement

Noise to t_s, one UNet step with the coarse mask injected (Eq. 3-5), decode x~, match pixels of x~ and x in the
confusion area (Eq. 8) and mix (Eq. 9). Rows: one per image (the first few).
"""))
cells.append(code(r"""
var refiner = new G4SegRefiner(pipe, options);
watch.Restart();
var result = refiner.Refine(images, probabilities, classes, present, toy ? seeds.Select(s => (ulong)s).ToArray() : null); // ToyWorld: the scene's seed as noise, as the evaluations
Console.WriteLine($"{preset} preset: refined {result.Items.Count} image-class pair(s) in {watch.Elapsed.TotalSeconds:F1} s; stages: " +
                  string.Join(", ", result.Seconds.Select(kv => $"{kv.Key} {kv.Value:F2} s")));
var refinedMasks = new List<Tensor>();
var rows = new List<Tensor>();
for (int n = 0; n < result.Items.Count; n++)
{
    var i = result.Items[n].Image; var c = result.Items[n].Class;
    var refined = result.Refined[i, c];
    refinedMasks.Add(refined);
    if (i < shown)
        rows.AddRange(new[] { Panels.Image(images[i]), Panels.Grey(probabilities[i, c]), Panels.Image(result.Generated![n]),
            Panels.Grey(result.Confusion![n]), Panels.Grey(refined), Panels.Overlay(images[i], refined >= 0.5, new Rgb(0, 200, 255), 0.6) });
}
display(Panels.Grid(rows, 6, scale: Math.Max(1, 192 / side), headers: new[] { "x", "S", "x~", "confusion area", "S*", "S* >= 0.5 over x" }));
"""))
cells.append(code(r"""
if (!string.IsNullOrWhiteSpace(outputFolder))
{
    var folder = NotebookPaths.Resolve(outputFolder);
    Directory.CreateDirectory(folder);
    for (int n = 0; n < result.Items.Count; n++)
    {
        var file = Path.Combine(folder, Path.GetFileNameWithoutExtension(toy ? names[result.Items[n].Image].Replace(' ', '-') : paths[result.Items[n].Image]) +
                                        $"-{classes[result.Items[n].Class]}-g4seg.png");
        MaskIO.SaveProbability(refinedMasks[n], file);
        Console.WriteLine($"wrote {Path.Combine(outputFolder, Path.GetFileName(file))}");
    }
}
var table = new DataFrame(
    new StringDataFrameColumn("image", result.Items.Select(it => names[it.Image])),
    new StringDataFrameColumn("class", result.Items.Select(it => classes[it.Class])),
    new PrimitiveDataFrameColumn<long>("coarse pixels", result.Items.Select(it => (probabilities[it.Image, it.Class] >= 0.5).sum().item<long>())),
    new PrimitiveDataFrameColumn<long>("refined pixels", refinedMasks.Select(m => (m >= 0.5).sum().item<long>())),
    new PrimitiveDataFrameColumn<long>("confusion area", result.Items.Select((_, n) => result.Confusion![n].sum().item<long>())),
    new PrimitiveDataFrameColumn<double>("IoU(coarse, refined)", result.Items.Select((it, n) => Metrics.Iou(probabilities[it.Image, it.Class] >= 0.5, refinedMasks[n] >= 0.5))));
if (toy)
{
    // ToyWorld knows the truth: each mask against the truth of its image's class
    var before = result.Items.Select(it => Metrics.Iou(probabilities[it.Image, it.Class] >= 0.5, truths[it.Image]) * 100).ToList();
    var after = result.Items.Select((it, n) => Metrics.Iou(refinedMasks[n] >= 0.5, truths[it.Image]) * 100).ToList();
    table.Columns.Add(new PrimitiveDataFrameColumn<double>("coarse IoU, %", before));
    table.Columns.Add(new PrimitiveDataFrameColumn<double>("refined IoU, %", after));
    var resamples = scale == "full" ? 2000 : 300;
    var ci = Bootstrap.PairedDifferenceCi(after, before, resamples: resamples);
    var gain = new Estimate(ci.Estimate, ci.Lower, ci.Upper); // already in points
    Console.WriteLine($"n = {before.Count} image-classes: mean IoU {Bootstrap.MeanCi(before, resamples: resamples).Format()} -> {Bootstrap.MeanCi(after, resamples: resamples).Format()}, " +
                      $"gain {PaperComparison.GainVerdict(gain)} (95% intervals, bootstrap over image-classes)");
    // the paper's headline: G4Seg on open-vocabulary segmenters' masks, VOC, Context and COCO Object (Tables 2-3)
    Console.WriteLine($"{preset} preset against the paper's gain over open-vocabulary segmenters (Tables 2-3, +0.4 to +0.9 mIoU): " +
                      PaperComparison.RangeVerdict(gain, 0.4, 0.9));
}
Console.WriteLine($"notebook total: {totalWatch.Elapsed.TotalSeconds:F0} s (kernel start not included)");
display(table);
"""))

out = sys.argv[1] if len(sys.argv) > 1 else "notebooks/05-your-own-model-and-images.ipynb"
write(cells, out)
