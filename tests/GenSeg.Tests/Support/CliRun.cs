using System.CommandLine;
using GenSeg.Cli;

namespace GenSeg.Tests.Support;

/// <summary>Runs the CLI in-process, as <c>genseg ARGS</c> would, and returns its exit code.</summary>
public static class CliRun
{
    public static int Run(params string[] args)
    {
        var root = new RootCommand("test");
        root.Options.Add(CliCommon.Device);
        root.Options.Add(CliCommon.DType);
        foreach (var c in CliCommands.All()) root.Subcommands.Add(c);
        return CliCommon.Run(root, args);
    }
}
