using System.CommandLine;
using Spectre.Console;

namespace GenSeg.Cli;

/// <summary>Options every command shares, and the error policy: bad input is one line naming the input.</summary>
public static class CliCommon
{
    /// <summary><c>--device cpu|cuda|cuda:N|auto</c>, on every command.</summary>
    public static readonly Option<string> Device = new("--device")
    {
        Description = "Torch device: cpu, cuda, cuda:N or auto",
        DefaultValueFactory = _ => "cpu",
        Recursive = true,
    };

    /// <summary>Parses and runs; user errors print one red line and exit 2.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        try
        {
            // System.CommandLine's own handler would print a stack trace; user errors are handled below instead.
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserError(e))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 2;
        }
    }

    static bool IsUserError(Exception e) =>
        e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or FormatException;
}
