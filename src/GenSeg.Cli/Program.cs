using System.CommandLine;
using GenSeg.Cli;
using GenSeg.Runtime;

// Native set-up (libstdc++ patch check, OpenMP wait policy) before anything touches a tensor.
TorchRuntime.EnsureNativeLoaded();
var root = new RootCommand("GenSeg: training-free segmentation with a diffusion model's generations (G4Seg, PaintSeg).");
root.Options.Add(CliCommon.Device);
foreach (var command in CliCommands.All()) root.Subcommands.Add(command);
return CliCommon.Run(root, args);
