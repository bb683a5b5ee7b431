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
        yield return Eval();
    }

    /// <summary><c>genseg eval</c>: one subcommand per method, then merge and migrate; the help lists them from their own descriptions.</summary>
    static Command Eval()
    {
        var cmd = new Command("eval");
        foreach (var c in new[]
                 {
                     Commands.EvalG4SegCommand.Create(), Commands.EvalAttentionCommand.Create(), Commands.EvalPaintSegCommand.Create(),
                     Commands.EvalCrfCommand.Create(), Commands.EvalMergeCommand.Merge(), Commands.EvalMergeCommand.Migrate(),
                 })
            cmd.Subcommands.Add(c);
        cmd.Description = "Evaluate the methods on ToyWorld (or a dataset with --dataset): " +
                          string.Join("; ", cmd.Subcommands.Select(c => $"{c.Name} ({char.ToLowerInvariant(c.Description![0])}{c.Description[1..]})"));
        return cmd;
    }
}
