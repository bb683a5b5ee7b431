using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GenSeg.Common;
using GenSeg.Diffusion;
using GenSeg.Benchmarks;
using GenSeg.Evaluation;
using GenSeg.Methods.PaintSeg;
using GenSeg.Methods.DenseCrf;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;
using TorchSharp;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg bench</c>: the kit's speed figures on this machine, each next to its target. Speed targets live here,
/// not in timed tests; they are registered in <see cref="BenchmarkSuite"/>; <c>--only</c> picks some.
/// </summary>
public static class BenchCommand
{
    static readonly Option<string[]> Only = new("--only") { Description = "Run only these benchmarks (toyworld, unet, densecrf, g4seg, paintseg)", AllowMultipleArgumentsPerToken = true };
    static readonly Option<int> Threads = new("--threads") { Description = "Torch threads (0 = default)", DefaultValueFactory = _ => 0 };
    static readonly Option<int> Workers = new("--workers") { Description = "G4Seg: groups of images refined side by side, one torch thread each (0 = the refiner's default, the core count)", DefaultValueFactory = _ => 0 };
    static readonly Option<string?> Json = new("--json") { Description = "Also write the figures as JSON" };
    static readonly Option<bool> Sd21 = new("--sd21") { Description = "Run the SD 2.1-scale benchmark (random weights in SD 2.1's configuration, 512 px; slow on a CPU): the same as --only sd21" };
    static readonly Option<string?> Scheduler = new("--scheduler") { Description = "sd21: PaintSeg's painting sampler for the per-object cost (ddim, dpm++2m, euler; default the toyworld preset's)" };
    static readonly Option<int?> Iterations = new("--iterations") { Description = "sd21: PaintSeg's painting iterations for the per-object cost (default the toyworld preset's)" };
    static readonly Option<string?> Model = new("--model") { Description = $"Model folder for the method benchmarks (default {KitPaths.EmbeddedModel})" };

    public static Command Create()
    {
        var cmd = new Command("bench", "Measure the kit's speed figures on this machine against their targets");
        cmd.Options.Add(Only);
        cmd.Options.Add(Threads);
        cmd.Options.Add(Workers);
        cmd.Options.Add(Json);
        cmd.Options.Add(Model);
        cmd.Options.Add(Sd21);
        cmd.Options.Add(Scheduler);
        cmd.Options.Add(Iterations);
        cmd.SetAction(parse =>
        {
            var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            if (parse.GetValue(Threads) is > 0 and var t) torch.set_num_threads(t);
            var only = (parse.GetValue(Only) ?? Array.Empty<string>()).Concat(parse.GetValue(Sd21) ? new[] { "sd21" } : Array.Empty<string>()).ToArray();
            var unknown = only.Where(o => BenchmarkSuite.All.All(b => b.Name != o)).ToList();
            if (unknown.Count > 0)
                throw new ArgumentException($"--only {string.Join(",", unknown)}: unknown; benchmarks are {string.Join(", ", BenchmarkSuite.All.Select(b => b.Name))}");
            int workers = parse.GetValue(Workers);
            if (workers < 0) throw new ArgumentException($"--workers {workers}: expected 0 (default) or more");
            var ctx = new BenchContext(device, parse.GetValue(Model) ?? KitPaths.EmbeddedModel, workers > 0 ? workers : null, CliCommon.DTypeOf(parse))
            {
                Scheduler = parse.GetValue(Scheduler) is { } kind ? GenSeg.Diffusion.Schedulers.Schedulers.Parse(kind) : null,
                Iterations = parse.GetValue(Iterations),
            };
            var table = new Table().AddColumns("benchmark", "figure", "value", "target", "met");
            var results = new Dictionary<string, object>();
            foreach (var b in BenchmarkSuite.All.Where(b => only.Length == 0 ? b.ByDefault : only.Contains(b.Name)))
            {
                IReadOnlyList<BenchFigure> figures = Array.Empty<BenchFigure>();
                AnsiConsole.Status().Start($"{b.Name}: {b.What}", status => figures = b.Run(ctx with { Progress = stage => status.Status($"{b.Name}: {Markup.Escape(stage)}") }));
                foreach (var f in figures)
                    table.AddRow(b.Name, f.Name, string.Create(CultureInfo.InvariantCulture, $"{f.Value:G4} {f.Unit}"), f.Target ?? "-",
                        f.Met is null ? "-" : f.Met.Value ? "[green]yes[/]" : "[red]no[/]");
                results[b.Name] = figures;
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"[grey]{TorchRuntime.Describe()}; {Environment.ProcessorCount} cores[/]");
            if (parse.GetValue(Json) is { } path)
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return cmd;
    }
}
