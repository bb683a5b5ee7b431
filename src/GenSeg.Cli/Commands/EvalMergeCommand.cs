using System.CommandLine;
using GenSeg.Evaluation;
using Spectre.Console;

namespace GenSeg.Cli.Commands;

/// <summary>
/// <c>genseg eval merge FILE.jsonl...</c>: the result of a sharded run's results files, the same one unsharded run gives;
/// <c>genseg eval migrate FILE.json...</c>: result JSONs of the first schema rewritten into the current one.
/// </summary>
public static class EvalMergeCommand
{
    /// <summary>The merge command.</summary>
    public static Command Merge()
    {
        var files = new Argument<string[]>("files") { Description = "Results files (.jsonl) of one run's shards", Arity = ArgumentArity.OneOrMore };
        var json = new Option<string?>("--json") { Description = "Write the result as JSON to this file (atomically)" };
        var cmd = new Command("merge", "Merge the results files of a sharded run into the result one unsharded run gives");
        cmd.Arguments.Add(files);
        cmd.Options.Add(json);
        cmd.SetAction(parse =>
        {
            var (result, complete) = ResultsMerge.Merge(parse.GetValue(files)!);
            if (!complete) AnsiConsole.MarkupLineInterpolated($"[yellow]warning[/]: these files hold {result.Images} images, fewer than the run's (a shard missing or unfinished?)");
            ResultOutput.Print(result);
            ResultOutput.Write(result, parse.GetValue(json));
            return 0;
        });
        return cmd;
    }

    /// <summary>The migrate command.</summary>
    public static Command Migrate()
    {
        var files = new Argument<string[]>("files") { Description = "Result JSONs to rewrite in place", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("migrate", $"Rewrite result JSONs of the first schema into {EvaluationResult.Schema} in place (nothing is rerun; every number kept)");
        cmd.Arguments.Add(files);
        cmd.SetAction(parse =>
        {
            foreach (var f in parse.GetValue(files)!)
            {
                if (ResultMigration.MigrateFile(f)) AnsiConsole.MarkupLineInterpolated($"migrated [green]{f}[/]");
                else AnsiConsole.MarkupLineInterpolated($"{f}: already {EvaluationResult.Schema}");
            }
            return 0;
        });
        return cmd;
    }
}
