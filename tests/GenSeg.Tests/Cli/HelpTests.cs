using System.CommandLine;
using GenSeg.Cli;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Cli;

/// <summary>Every command's help is current: described, naming each of its subcommands, every option described.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class HelpTests
{
    static IEnumerable<(string Path, Command Command)> Commands(Command c, string path)
    {
        yield return (path, c);
        foreach (var sub in c.Subcommands)
            foreach (var x in Commands(sub, $"{path} {sub.Name}")) yield return x;
    }

    [Fact]
    public void EveryCommandAndOptionIsDescribedAndAParentNamesItsSubcommands()
    {
        var all = CliCommands.All().SelectMany(c => Commands(c, "genseg " + c.Name)).ToList();
        Assert.Contains(all, c => c.Path == "genseg eval paintseg");
        foreach (var (path, cmd) in all)
        {
            Assert.False(string.IsNullOrWhiteSpace(cmd.Description), $"{path}: no description");
            Assert.DoesNotContain("for now", cmd.Description, StringComparison.OrdinalIgnoreCase);
            foreach (var sub in cmd.Subcommands)
                Assert.True(cmd.Description!.Contains(sub.Name, StringComparison.Ordinal), $"{path}: its help does not name the subcommand {sub.Name}");
            foreach (var option in cmd.Options)
                Assert.False(string.IsNullOrWhiteSpace(option.Description), $"{path} {option.Name}: no description");
        }
    }
}
