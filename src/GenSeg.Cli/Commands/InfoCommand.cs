using System.CommandLine;
using GenSeg.Runtime;

namespace GenSeg.Cli.Commands;

/// <summary><c>genseg info</c>: versions and the device in use.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var cmd = new Command("info", "Print TorchSharp and device information");
        cmd.SetAction(parse =>
        {
            var device = TorchRuntime.Device(parse.GetValue(CliCommon.Device)!);
            Console.WriteLine($"{TorchRuntime.Describe()}; device {device}");
            return 0;
        });
        return cmd;
    }
}
