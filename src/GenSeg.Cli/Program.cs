using System.CommandLine;
using GenSeg.Cli;
using GenSeg.Runtime;

// Native set-up (libstdc++ patch check, OpenMP wait policy, CPU kernels) before anything touches a tensor.
try
{
    TorchRuntime.EnsureNativeLoaded();
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
// Written to a file or pipe (a sweep's log, CI), Spectre.Console lays tables out for 80 columns, which splits intervals
// over lines; lay them out as wide as they need instead (COLUMNS, where set, still decides).
if (Console.IsOutputRedirected && Environment.GetEnvironmentVariable("COLUMNS") is null) Spectre.Console.AnsiConsole.Profile.Width = 200;
var root = new RootCommand("GenSeg: training-free segmentation with a diffusion model's generations (G4Seg, PaintSeg).");
root.Options.Add(CliCommon.Device);
root.Options.Add(CliCommon.DType);
foreach (var command in CliCommands.All()) root.Subcommands.Add(command);
return CliCommon.Run(root, args);
