# Writes notebooks/04-paintseg.ipynb (unexecuted) from the previous copy's figure cells and the ablation cells below.
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nbcells import md, code, kit_cell, write
old = json.load(open(sys.argv[1]))
src = lambda i: ''.join(old["cells"][i]["source"])

cells = []
cells.append(md(r"""# PaintSeg step by step, and its ablations

PaintSeg (*Training-free Segmentation via Painting*) segments the object a prompt points at by *adversarial masked
contrastive painting* (AMCP): from the prompt's initial mask it alternates

- **I-steps**: inpaint the object region N times; where the paint changed the image most (the potential's largest
  k-means cluster) is object, and the mask may only shrink inside a band at its edge;
- **O-steps**: outpaint the background N times; what stayed is object, and the mask may only grow inside a band.

The potential (Eq. 2) has three terms: lambda_paint ||E(I) - E(I_paint)||^2, lambda_color times a DenseCRF probability
of the painted side, and +/- lambda_prompt times a Gaussian prior around the prompt's points.

This notebook shows one object's steps (the paper's Figure 4), the potential's terms, then the paper's ablations
beside the paper's own figures: Table 4 (modules), Table 5 (prompt x noise), Table 6 (K, T, painting iterations, box
rate), Table A (paints N) and Table B (the feature extractors the kit has), each with a verdict computed from the data.

**What differs from the paper**: its ablations run on ECSSD with TokenCut coarse masks as prompts, SD inpainting and
DINO features; here ToyWorld val objects (64 px) with perturbed coarse masks as prompts (severity medium: the
counterpart of the paper's coarse-mask prompt, under which both presets are the same), the kit's embedded inpainting
UNet and pixel colour as E. Read orderings and trends, not absolute IoU.

**Scales.** `scale=ci` (CI, in the real kernel): one object per setting, 4 painting iterations, no cache — a check that
every cell runs, not a figure. `scale=full`: 100 val objects per setting at the paper's T = 5, N = 5 and 20 DDIM
iterations (50 where iterations are swept), each setting's per-object results in `notebooks/cache/paintseg-val/`;
`scripts/ablations/paintseg-val.sh` fills the same files from the command line. With `compute=false` a full-scale run
shows only the settings whose cache is complete and lists the others as pending, so the committed copy never shows a
partial figure.

**Reproduce**: fill the caches with `THREADS=1 scripts/ablations/paintseg-val.sh`, started twice (two single-threaded
processes share the settings, one lock each; kill and rerun at will), or `./genseg notebook run
notebooks/04-paintseg.ipynb -p scale=full -p compute=true`; then execute this copy in the real .NET Interactive kernel
with `scripts/notebooks/execute-full.sh notebooks/04-paintseg.ipynb`. Measured on this machine (2 CPU cores, two sweep
processes side by side, contended by builds): per setting of 100 objects 14-16 min at 5 painting iterations, 11-37 min
at 20, 25-60 min at 50 (the last cell sums the compute the results record: 16.8 h for the 49 cached runs); this copy's
execution from the caches took 55 s in the kernel, kernel start included (the last cell prints the notebook's own time). The parameters cell keeps CI's defaults (`scale=ci`)."""))
cells.append(code(r"""
// Parameters (papermill convention)
var scale = "ci";            // ci: 1 object per setting, 4 painting iterations, no cache (CI); full: 100 objects, T = 5, N = 5, 20 iterations, cached
var compute = true;          // full scale: false shows only settings whose cache is complete (the rest listed as pending)
var preset = "toyworld";     // the step-by-step figure's preset: paper or toyworld (Table 5 shows both)
var modelFolder = "data/models/toyworld-sd"; // a diffusers SD folder with an inpainting UNet (unet-inpaint/ or a 9-channel unet)
var device = "cpu";          // cpu, cuda, cuda:N or auto
var sceneSeed = 100097;      // the scene of the step-by-step figure
var objectIndex = 0;         // its object
var figurePrompt = "box";    // the figure's prompt: box, point, scribble or mask
""", ["parameters"]))
cells.append(code(src(2)))
cells.append(code(r"""
using System.Diagnostics;
using GenSeg.Diffusion;
using GenSeg.Evaluation;
using GenSeg.Features;
using GenSeg.Imaging;
using GenSeg.Methods.Inputs;
using GenSeg.Methods.PaintSeg;
using GenSeg.Notebooks;
using GenSeg.ToyWorld;
using Microsoft.Data.Analysis;
using Plotly.NET;
using Plotly.NET.CSharp;
using TorchSharp;
using static TorchSharp.torch;
using Chart = Plotly.NET.CSharp.Chart;

if (scale != "ci" && scale != "full") throw new ArgumentException($"scale \"{scale}\": expected \"ci\" or \"full\"");
bool full = scale == "full";
int objects = full ? 100 : 1;
string cache = full ? "notebooks/cache/paintseg-val" : null;
torch.set_num_threads(1);
var pipe = StableDiffusionPipeline.Load(NotebookPaths.ModelFolder(modelFolder), GenSeg.Runtime.TorchRuntime.Device(device));
var totalWatch = Stopwatch.StartNew();

// The settings of a run: the preset, then "name=value" flags, as `genseg eval paintseg --preset P --name value ...` builds them.
PaintSegEvaluationOptions Settings(string onPreset, params string[] flags)
{
    var s = PaintSegEvaluationSettings.Table.Preset(onPreset) with { Split = Split.Val, Count = objects };
    // 20 DDIM iterations (4 at ci scale) unless a setting sweeps them, as scripts/ablations/paintseg-val.sh pins them
    s = PaintSegEvaluationSettings.Table.Set(PaintSegEvaluationSettings.Table.Set(s, "iterations", full ? "20" : "4"), "scheduler", "ddim");
    if (!full) s = PaintSegEvaluationSettings.Table.Set(s, "paints", "2");
    foreach (var f in flags) s = PaintSegEvaluationSettings.Table.Set(s, f[..f.IndexOf('=')], f[(f.IndexOf('=') + 1)..]);
    return s;
}

// One setting on the val objects, through its results file at full scale (named as scripts/ablations/paintseg-val.sh names it).
var pending = new List<string>();
var computed = new Dictionary<string, (double Seconds, int Objects)>(); // per setting drawn: the compute its results record
EvaluationResult Run(string name, PaintSegEvaluationOptions s)
{
    var targets = new ToyWorldTargets(Split.Val, null, objects);
    if (full && !compute)
    {
        var file = System.IO.Path.Combine(NotebookPaths.Resolve(cache), name + ".jsonl");
        int done = System.IO.File.Exists(file) ? ResultsLog.Read(file).Count : 0;
        if (done < objects) { pending.Add($"{name} ({done} of {objects} objects)"); return null; }
    }
    var r = ResearchFigures.Cached(cache, name, log => PaintSegEvaluation.Run(targets, new[] { ("paintseg", s) }, pipe, log));
    computed[name] = (r.Main.Seconds, r.Objects.Count);
    return r;
}

// The mean IoU after step t (0-based) over a run's objects, with its bootstrap interval: T = t + 1 of the same run.
Estimate AfterStep(EvaluationResult r, int t) =>
    Estimate.Points(Bootstrap.MeanCi(r.Objects.Select(o => o.PerStep[t] / 100).ToArray(), 2, 2000));

// A table and verdict beside the paper's figures (absolute IoU on ECSSD; the kit's: mean IoU of the result, val).
void Compare(string what, IReadOnlyList<AblationPoint> points)
{
    display(ResearchFigures.Table(points, "paper IoU (ECSSD)", "kit IoU [95% CI]"));
    Console.WriteLine($"{what}: {(points.Count >= 2 ? PaperComparison.Verdict(points) : "too few settings computed for a verdict")}");
}
void Pending() { if (pending.Count > 0) Console.WriteLine($"pending (cache incomplete; run with compute=true or scripts/ablations/paintseg-val.sh): {string.Join(", ", pending)}"); pending.Clear(); }
Console.WriteLine($"scale {scale}: {objects} val objects per setting" + (cache is null ? "" : $", cache {cache}, compute {compute}"));
"""))
cells.append(md(src(4)))
cells.append(code(r"""
var figureSettings = PaintSegEvaluationSettings.Table.Set(Settings(preset), "prompt", figurePrompt);
var scene = SceneGenerator.Generate(sceneSeed);
var obj = scene.Objects[objectIndex];
var image = scene.ImageTensor();
var truth = scene.InstanceTensor(objectIndex);
var objectPrompt = ToyWorldTargets.PromptFor(scene, objectIndex, figureSettings);
var segmenter = new PaintSegSegmenter(PainterChoice.Create(figureSettings, pipe).For(new ToyWorldTargets(Split.Val, sceneSeed, 1).Load(0, figureSettings)[0]),
    FeatureExtractors.Create(figureSettings.Features, pipe), figureSettings.Options);
var watch = Stopwatch.StartNew();
var result = segmenter.Segment(image, objectPrompt, seed: (ulong)sceneSeed);
Console.WriteLine($"{obj.ColourName} {obj.ClassName}, {objectPrompt.Kind} prompt, {preset} preset: {watch.Elapsed.TotalSeconds:F1} s; " +
                  $"IoU {Metrics.Iou(result.InitialMask, truth):P1} (initial) -> {Metrics.Iou(result.Mask, truth):P1}");
// one colour range for every step's potential, so the colour bar reads the same on every row
double potentialMin = result.Steps.Min(s => s.Potential.Total[0].min().item<float>());
double potentialMax = result.Steps.Max(s => s.Potential.Total[0].max().item<float>());
var rows = new List<Tensor>();
foreach (var step in result.Steps)
{
    var p = step.Paints.Paints;
    rows.AddRange(new[]
    {
        Panels.Overlay(image, step.MaskBefore, new Rgb(0, 200, 255), 0.5), Panels.Grey(step.Paints.Region),
        Panels.Image(p[0]), Panels.Image(p[Math.Min(1, (int)p.shape[0] - 1)]),
        Panels.Heat(step.Potential.Total[0], potentialMin, potentialMax), Panels.Grey(step.Clustering.Object[0]), Panels.Grey(step.Vote),
        Panels.Errors(step.MaskAfter, truth, image),
    });
    Console.WriteLine($"step {step.Index} ({step.Kind}): K = {step.Clustering.Clusters}, box {step.Potential.Box}, " +
                      $"IoU {Metrics.Iou(step.MaskAfter, truth):P1}{(step.Note is null ? "" : $" ({step.Note})")}");
}
display(Panels.Grid(rows, 8, scale: 3,
    headers: new[] { "mask before", "painted region", "paint 1", "paint 2", "potential (paint 1)", "k-means object", "vote of N", "after: red over, blue under" },
    colourBars: new[] { new ColourBar("potential", potentialMin, potentialMax) }));
"""))
cells.append(md(src(6)))
cells.append(code(src(7)))

cells.append(md(r"""
## Steps T (Table 6b) and the base run

The base run: coarse-mask prompts (severity medium), T = 6 steps. The steps run in order and do not depend on T, so
the mask after step t is the result of T = t. The paper (ECSSD): T = 3: 78.4, 4: 79.1, 5: 80.6, 6: 80.5.
"""))
cells.append(code(r"""
var paperT = new Dictionary<int, double?> { [1] = null, [2] = null, [3] = 78.4, [4] = 79.1, [5] = 80.6, [6] = 80.5 };
var baseT6 = Run("mask-t6", Settings("paper", "prompt=mask", "steps=6"));
if (baseT6 is not null)
{
    var byT = Enumerable.Range(0, 6).Select(t => new AblationPoint($"{t + 1}", paperT[t + 1], AfterStep(baseT6, t), baseT6.Targets)).ToList();
    display(Chart.Combine(new[]
        {
            ResearchFigures.Numeric("PaintSeg result", byT.Select((_, t) => (double)(t + 1)).ToArray(), byT.Select(p => p.Kit).ToArray()),
            ResearchFigures.Numeric("prompt (coarse mask)", new[] { 1.0, 6.0 }, new[] { baseT6.Main.Before, baseT6.Main.Before }),
        })
        .WithTitle($"IoU after T steps (n = {baseT6.Targets} val objects; 95% intervals; odd T end on an I-step)").WithAxisTitles("T", "mean IoU, points").WithSize(760, 420));
    Compare("T", byT);
}
Pending();
"""))

section = 0
def ablation(title, text, name_values, paper, numeric=None, xtitle="setting"):
    # name_values: list of (label, cache name or None for the base T=5, flags list)
    global section
    section += 1
    body = ("""var paper_ = new Dictionary<string, double?> { %s };
var runs_ = new (string Label, string Name, string[] Flags)[] { %s };
var points_ = new List<AblationPoint>();
foreach (var (label, name, flags) in runs_)
{
    var r = name is null ? baseT6 : Run(name, Settings("paper", flags));
    if (r is null) continue;
    points_.Add(new AblationPoint(label, paper_[label], name is null ? AfterStep(r, 4) : r.Main.After, r.Targets));
}
if (points_.Count > 0)
{
    display(%s
        .WithTitle($"%s (n = {points_[0].N} val objects per setting; 95%% intervals)").WithAxisTitles("%s", "mean IoU, points").WithSize(760, 420));
    Compare("%s", points_);
}
Pending();
""" % (", ".join(f'["{k}"] = {v}' for k, v in paper.items()),
       ", ".join(f'("{l}", {("null" if n is None else chr(34)+n+chr(34))}, new string[] {{ {", ".join(chr(34)+f+chr(34) for f in fl)} }})' for l, n, fl in name_values),
       (f'ResearchFigures.Numeric("kit", points_.Select(p => double.Parse(p.Setting, System.Globalization.CultureInfo.InvariantCulture)).ToArray(), points_.Select(p => p.Kit).ToArray())' if numeric
        else 'ResearchFigures.Categories("kit", points_.Select(p => p.Setting).ToArray(), points_.Select(p => p.Kit).ToArray())'),
       title.split(" (")[0], xtitle, title.split(" (")[0]))
    body = body.replace("paper_", f"paper{section}").replace("runs_", f"runs{section}").replace("points_", f"points{section}")
    return [md(f"## {title}\n\n{text}"), code(body)]

cells += ablation("Modules (Table 4)", "i: I-steps only; o: O-steps only; io: both, alternating; io+adv: both with the adversarial band constraint (Eq. 4; the base run at T = 5). The paper: 78.4, 77.9, 79.5, 80.6.",
    [("i", "mask-modules-i", ["prompt=mask", "modules=i"]), ("o", "mask-modules-o", ["prompt=mask", "modules=o"]), ("io", "mask-modules-io", ["prompt=mask", "modules=io"]), ("io+adv", None, [])],
    {"i": 78.4, "o": 77.9, "io": 79.5, "io+adv": 80.6}, xtitle="modules")
cells += ablation("K of the k-means (Table 6a)", "K clusters in every step (coarse-mask prompts use K in every step under both presets). The paper: K = 2: 80.6, 3: 72.3, 4: 61.5.",
    [("2", None, []), ("3", "mask-k3", ["prompt=mask", "k=3"]), ("4", "mask-k4", ["prompt=mask", "k=4"])],
    {"2": 80.6, "3": 72.3, "4": 61.5}, numeric=True, xtitle="K")
cells += ablation("Painting iterations (Table 6c)", "DDIM iterations of each paint (20 is the base). The paper: 10: 77.3, 30: 78.7, 50: 80.6.",
    [("10", "mask-it10", ["prompt=mask", "iterations=10"]), ("20", None, []), ("30", "mask-it30", ["prompt=mask", "iterations=30"]), ("50", "mask-it50", ["prompt=mask", "iterations=50"])],
    {"10": 77.3, "20": "null", "30": 78.7, "50": 80.6}, numeric=True, xtitle="DDIM iterations per paint")
cells.append(md(r"""
## Samplers: IoU against passes (issue #27)

Not in the paper, which paints with 50 DDIM iterations: the IoU of PaintSeg (box prompts, toyworld preset, T = 5,
N = 5) with DDIM, DPM-Solver++ (2M) and Euler at 5, 10, 20 and 50 iterations (one UNet pass each), on the same val
objects and seeds. Each setting is compared object by object with 50-step DDIM (paired bootstrap); it *matches* when its
mean loss is at most 1 point and its interval reaches 0 (against 20-step DDIM while the 50-step cache is incomplete).
The verdict names the matching setting with the fewest passes; the toyworld preset takes it (docs/performance.md).
"""))
cells.append(code(r"""
int[] samplerIterations = full ? new[] { 5, 10, 20, 50 } : new[] { 2, 4 };
string[] samplers = { "ddim", "dpm++2m", "euler" };
var samplerRuns = new List<CostPoint>();
var samplerSeries = new List<GenericChart>();
foreach (var sampler in samplers)
{
    var its = new List<double>();
    var ious = new List<Estimate>();
    foreach (var it in samplerIterations)
    {
        // DDIM 20 is Table 5's box run at 0% noise (the same settings), cached once
        string name = sampler == "ddim" && it == 20 ? "box-noise0-toyworld" : $"box-toyworld-{sampler}-it{it}";
        var r = Run(name, Settings("toyworld", "prompt=box", $"scheduler={sampler}", $"iterations={it}"));
        if (r is null) continue;
        samplerRuns.Add(new CostPoint($"{sampler} {it}", it, r));
        its.Add(it);
        ious.Add(r.Main.After);
    }
    if (its.Count > 0) samplerSeries.Add(ResearchFigures.Numeric(sampler, its, ious));
}
// the reference: 50-step DDIM (the paper's); while its cache is incomplete, 20-step DDIM (every earlier result's), said so
var samplerReference = samplerRuns.FirstOrDefault(p => p.Setting == $"ddim {samplerIterations[^1]}")
    ?? samplerRuns.FirstOrDefault(p => p.Setting == $"ddim {samplerIterations[^2]}");
if (samplerReference is not null && samplerReference.Setting != $"ddim {samplerIterations[^1]}")
    Console.WriteLine($"reference: {samplerReference.Setting} (ddim {samplerIterations[^1]} is still computing)");
if (samplerSeries.Count > 0)
    display(Chart.Combine(samplerSeries)
        .WithTitle($"IoU against sampler iterations (n = {samplerRuns[0].Result.Targets} val objects per setting; box prompts, toyworld preset; 95% intervals)")
        .WithAxisTitles("iterations per paint (UNet passes)", "mean IoU, points").WithSize(820, 440));
if (samplerReference is not null)
{
    var verdict = CostQuality.FewestPassesMatching(samplerReference, samplerRuns.Where(p => p != samplerReference).ToArray());
    display(new DataFrame(
        new StringDataFrameColumn("setting", verdict.Differences.Select(d => d.Point.Setting)),
        new PrimitiveDataFrameColumn<int>("passes per paint", verdict.Differences.Select(d => d.Point.Passes)),
        new StringDataFrameColumn("IoU [95% CI]", verdict.Differences.Select(d => d.Point.Result.Main.After.ToString())),
        new StringDataFrameColumn($"minus {samplerReference.Setting} [95% CI]", verdict.Differences.Select(d => d.Difference.ToString())),
        new BooleanDataFrameColumn("matches", verdict.Differences.Select(d => d.Matches))));
    Console.WriteLine($"{samplerReference.Setting}: {samplerReference.Result.Main.After} (n = {samplerReference.Result.Targets}); verdict: {verdict.Text}");
}
Pending();
"""))
cells += ablation("Box rate (Table 6d)", "The potential is clustered inside the current mask's box scaled by this rate. The paper: 0.9: 69.2, 1.0: 72.4, 1.1: 80.6, 1.2: 80.0.",
    [("0.9", "mask-boxrate0.9", ["prompt=mask", "box-rate=0.9"]), ("1.0", "mask-boxrate1.0", ["prompt=mask", "box-rate=1.0"]), ("1.1", None, []), ("1.2", "mask-boxrate1.2", ["prompt=mask", "box-rate=1.2"])],
    {"0.9": 69.2, "1.0": 72.4, "1.1": 80.6, "1.2": 80.0}, numeric=True, xtitle="box rate")
cells += ablation("Paints per step N (Table A)", "N paints per step, averaged by the vote. The paper: 1: 78.8, 2: 79.2, 3: 79.6, 4: 80.1, 5: 80.6, 6: 80.8.",
    [("1", "mask-n1", ["prompt=mask", "paints=1"]), ("2", "mask-n2", ["prompt=mask", "paints=2"]), ("3", "mask-n3", ["prompt=mask", "paints=3"]), ("4", "mask-n4", ["prompt=mask", "paints=4"]), ("5", None, []), ("6", "mask-n6", ["prompt=mask", "paints=6"])],
    {"1": 78.8, "2": 79.2, "3": 79.6, "4": 80.1, "5": 80.6, "6": 80.8}, numeric=True, xtitle="N")
cells += ablation("Feature extractor E (Table B)", "The paper compares DINO ViT-S/8 (80.6) and DINOv2 ViT-S/14 (80.0); no DINO weights ship with the kit (a DINO folder runs with `features=dino`), so the kit's row compares the extractors it has: pixel colour (the base), the model's VAE encoder, its UNet features (DIFT) and mean colour over 5x5 pixels.",
    [("colour", None, []), ("vae", "mask-vae", ["prompt=mask", "features=vae"]), ("dift", "mask-dift", ["prompt=mask", "features=dift"]), ("local-colour:5", "mask-localcolour5", ["prompt=mask", "features=local-colour:5"])],
    {"colour": "null", "vae": "null", "dift": "null", "local-colour:5": "null"}, xtitle="E")

cells.append(md(r"""
## Prompt x noise (Table 5), both presets

Boxes move each side, points and scribbles move as a whole, by up to this fraction of half the box diagonal. The
presets differ for box, point and scribble prompts (the toyworld preset: K = 2 from the first step, and prompt
components with a 128 px band for points and scribbles), so both are shown, both painting with 20 DDIM iterations as
every setting here (the toyworld preset's own 5 Euler iterations are the samplers section's subject). The paper (ECSSD): point 60.8 / 60.4 /
58.9, scribble 64.3 / 63.7 / 62.7, box 71.0 / 70.7 / 70.1, coarse mask 80.6 / 80.0 / 79.3 at 0 / 15 / 30%. The kit's
coarse-mask prompt takes no shift, so its row has the 0% figure only (the base run). The noise verdicts are paired:
the same 100 objects at 0% and 30%, their IoU differences bootstrapped.
"""))
cells.append(code(r"""
var paperTable5 = new Dictionary<string, double[]>
{
    ["point"] = new[] { 60.8, 60.4, 58.9 }, ["scribble"] = new[] { 64.3, 63.7, 62.7 }, ["box"] = new[] { 71.0, 70.7, 70.1 }, ["mask"] = new[] { 80.6, 80.0, 79.3 },
};
string[] noises = { "0", "0.15", "0.3" };
var table5 = new List<(string Preset, string Prompt, string Noise, AblationPoint Point)>();
var runs5 = new Dictionary<string, EvaluationResult>(); // "preset/prompt/noise": the run, for paired differences over its objects
foreach (var p in new[] { "toyworld", "paper" })
    foreach (var prompt in new[] { "point", "scribble", "box" })
        for (int i = 0; i < noises.Length; i++)
        {
            var r = Run($"{prompt}-noise{noises[i]}-{p}", Settings(p, $"prompt={prompt}", $"prompt-noise={noises[i]}"));
            if (r is null) continue;
            table5.Add((p, prompt, noises[i], new AblationPoint($"{prompt} {noises[i]}", paperTable5[prompt][i], r.Main.After, r.Targets)));
            runs5[$"{p}/{prompt}/{noises[i]}"] = r;
        }
if (baseT6 is not null) table5.Add(("both", "mask", "0", new AblationPoint("mask 0", 80.6, AfterStep(baseT6, 4), baseT6.Targets)));
if (table5.Count > 0)
{
    var series = table5.GroupBy(x => (x.Preset, x.Prompt)).ToList();
    display(Chart.Combine(series.Select(g => ResearchFigures.Numeric($"{g.Key.Prompt}, {g.Key.Preset}", g.Select(x => double.Parse(x.Noise, System.Globalization.CultureInfo.InvariantCulture)).ToArray(), g.Select(x => x.Point.Kit).ToArray())))
        .WithTitle($"IoU by prompt and noise (n = {table5[0].Point.N} val objects per setting; 95% intervals)").WithAxisTitles("noise (fraction of half the box diagonal)", "mean IoU, points").WithSize(820, 460));
    display(new DataFrame(
        new StringDataFrameColumn("preset", table5.Select(x => x.Preset)),
        new StringDataFrameColumn("prompt", table5.Select(x => x.Prompt)),
        new StringDataFrameColumn("noise", table5.Select(x => x.Noise)),
        new PrimitiveDataFrameColumn<double>("paper IoU (ECSSD)", table5.Select(x => x.Point.Paper ?? double.NaN)),
        new StringDataFrameColumn("kit IoU [95% CI]", table5.Select(x => x.Point.Kit.ToString())),
        new PrimitiveDataFrameColumn<int>("n", table5.Select(x => x.Point.N))));
    foreach (var p in new[] { "toyworld", "paper" })
    {
        var atZero = table5.Where(x => (x.Preset == p || x.Preset == "both") && x.Noise == "0").Select(x => x.Point with { Setting = x.Prompt }).ToList();
        if (atZero.Count >= 2) Console.WriteLine($"{p} preset, prompts at 0% noise: {PaperComparison.Verdict(atZero)}");
        foreach (var g in table5.Where(x => x.Preset == p).GroupBy(x => x.Prompt).Where(g => g.Count() == 3))
        {
            // the same objects at 0% and 30% noise: the paired difference of their IoUs (bootstrap over objects)
            var clean = runs5[$"{p}/{g.Key}/0"].Objects.ToDictionary(o => o.Id, o => o.After);
            var noisy = runs5[$"{p}/{g.Key}/0.3"].Objects.Where(o => clean.ContainsKey(o.Id)).ToList();
            var d = Bootstrap.PairedDifferenceCi(noisy.Select(o => o.After).ToList(), noisy.Select(o => clean[o.Id]).ToList(), resamples: 2000);
            Console.WriteLine($"{p} preset, {g.Key}, 0% -> 30% noise: {PaperComparison.GainVerdict(new Estimate(d.Estimate, d.Lower, d.Upper))} " +
                              $"(IoU points, paired over {noisy.Count} objects; paper {paperTable5[g.Key][2] - paperTable5[g.Key][0]:+0.0;-0.0})");
        }
    }
}
Pending();
Console.WriteLine($"all sections: {totalWatch.Elapsed.TotalSeconds:F0} s at scale {scale}" + (full && !compute ? " (cached settings read back, nothing computed)" : ""));
double computeMinutes = computed.Values.Sum(c => c.Seconds) / 60;
Console.WriteLine($"the {computed.Count} settings drawn hold {computed.Values.Sum(c => c.Objects)} object runs, which took " +
    (computeMinutes >= 60 ? $"{computeMinutes / 60:F1} h" : $"{computeMinutes:F1} min") + " as their results record it (each object's seconds, summed; single-threaded)");
"""))

write(cells, sys.argv[2], old["metadata"])
