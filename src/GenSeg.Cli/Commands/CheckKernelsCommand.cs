using System.CommandLine;
using System.Globalization;
using GenSeg.Benchmarks;
using GenSeg.Common;
using GenSeg.Runtime;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg check-kernels</c>: repeats one UNet and VAE training step on fixed data on one torch thread and reports how
/// many repetitions differ from the first, to tell whether the CPU kernels in force (<c>GENSEG_CPU_KERNELS</c>, or
/// <c>ONEDNN_MAX_CPU_ISA</c> / <c>MKL_ENABLE_INSTRUCTIONS</c> / <c>ATEN_CPU_CAPABILITY</c> set by hand) can be trusted.
/// Then compares the models' convolutions (forward and gradients) with float64 over a grid of shapes
/// (<see cref="CpuKernelCheck.ScanConvolutions"/>). Exit code 1 when any repetition differs or any convolution is wrong.
/// </summary>
public static class CheckKernelsCommand
{
    public static Command Create()
    {
        var repeats = new Option<int>("--repeats") { Description = "Repetitions compared with the first", DefaultValueFactory = _ => 40 };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => 8 };
        var model = new Option<string>("--model") { Description = "Model folder whose unet/ and vae/ are run", DefaultValueFactory = _ => KitPaths.EmbeddedModel };
        var cmd = new Command("check-kernels", "Check that the CPU kernels in force give the same numbers every time and the right convolutions (exit 1 if not)") { repeats, batch, model };
        cmd.SetAction(parse =>
        {
            var folder = parse.GetValue(model)!;
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--model {folder}: no such model folder");
            Console.WriteLine(TorchRuntime.Describe());
            foreach (var name in TorchRuntime.SafeCpuKernelVariables.Keys)
                Console.WriteLine($"  {name}={Environment.GetEnvironmentVariable(name) ?? "(unset: libtorch's choice)"}");
            var r = CpuKernelCheck.Run(new CpuKernelCheckOptions
            {
                ModelFolder = folder,
                Repeats = parse.GetValue(repeats),
                Batch = parse.GetValue(batch),
                Progress = (done, total, bad) =>
                {
                    if (done % 5 == 0 || done == total) Console.WriteLine($"check-kernels {done}/{total}: {bad} differed");
                },
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Repeats} repetitions: {r.Mismatches} differed from the first (largest gradient difference {r.MaxAbsDifference:G3}), {r.NonFinite} non-finite; {r.SecondsPerRepeat:F2} s each on {r.Threads} thread"));
            Console.WriteLine(r.Passed ? "kernels consistent" : "kernels INCONSISTENT: do not train with this setting");
            var scan = CpuKernelCheck.ScanConvolutions();
            var rawScan = CpuKernelCheck.ScanConvolutions(raw: true);
            Console.WriteLine($"convolutions against float64: {scan.Wrong.Count} of {scan.Shapes} shapes wrong (libtorch's conv2d without GenSeg's channel padding: {rawScan.Wrong.Count} wrong)");
            foreach (var line in scan.Wrong.Take(10)) Console.WriteLine($"  {line}");
            Console.WriteLine(scan.Passed ? "convolutions correct" : "convolutions WRONG: do not use this setting");
            return r.Passed && scan.Passed ? 0 : 1;
        });
        return cmd;
    }
}
