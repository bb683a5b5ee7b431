using System.CommandLine;
using GenSeg.Runtime;
using GenSeg.ToyWorld;
using Spectre.Console;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg demo</c>: the kit's showcase. Each stage adds a step; for now it renders a ToyWorld contact sheet with coarse
/// masks and prints the coarse masks' IoU statistics.
/// </summary>
public static class DemoCommand
{
    static readonly Option<string> Out = new("--out") { Description = "Output folder", DefaultValueFactory = _ => "out/demo" };
    static readonly Option<int> Scenes = new("--scenes") { Description = "Scenes on the contact sheet", DefaultValueFactory = _ => 16 };

    public static Command Create()
    {
        var cmd = new Command("demo", "Run the kit's demonstration (ToyWorld contact sheet and coarse-mask statistics for now)");
        cmd.Options.Add(Out);
        cmd.Options.Add(Scenes);
        cmd.SetAction(parse =>
        {
            TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            var outDir = parse.GetValue(Out)!;
            int count = parse.GetValue(Scenes);
            if (count < 1 || count > 256) throw new ArgumentException($"--scenes {count}: expected 1..256");
            RenderContactSheet(outDir, count);
            return 0;
        });
        return cmd;
    }

    /// <summary>Writes toyworld-sheet.png: the first <paramref name="count"/> val scenes.</summary>
    static void RenderContactSheet(string outDir, int count)
    {
        var scenes = Splits.Seeds(Split.Val, null, count).Select(s => SceneGenerator.Generate(s)).ToList();
        var path = Path.Combine(outDir, "toyworld-sheet.png");
        Preview.ContactSheet(scenes).Save(path);
        AnsiConsole.MarkupLineInterpolated($"contact sheet: [green]{path}[/]");
        foreach (var s in scenes) AnsiConsole.WriteLine($"{s.Seed}: {s.Caption} ({s.Background}, {s.BackgroundPalette})");
    }
}
