using System.CommandLine;

namespace GenSeg.Cli;

/// <summary>The list of subcommands; each lives in its own file under Commands/.</summary>
public static class CliCommands
{
    /// <summary>Every subcommand, in the order <c>genseg --help</c> shows them.</summary>
    public static IEnumerable<Command> All()
    {
        yield return Commands.InfoCommand.Create();
        yield return Commands.CheckKernelsCommand.Create();
        yield return Commands.NotebookCommand.Create();
        yield return Commands.DemoCommand.Create();
        yield return Commands.TrainToyCommand.Create();
        yield return Commands.BenchCommand.Create();
        yield return Commands.ModelCardCommand.Create();
        yield return Commands.ToyWorldCommand.Create();
        yield return Commands.EvalCommand.Create();
    }
}
