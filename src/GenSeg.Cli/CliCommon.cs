using System.CommandLine;

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

    /// <summary><c>--dtype float32|float16|bfloat16</c>: the inference type of every command that loads a model.</summary>
    public static readonly Option<string> DType = new("--dtype")
    {
        Description = "Inference type of the model's weights and activations: float32, float16 or bfloat16 (CPU bfloat16 needs AVX512-BF16/AMX to be fast)",
        DefaultValueFactory = _ => "float32",
        Recursive = true,
    };

    /// <summary>The parsed <see cref="DType"/>; an error names the flag and the choices.</summary>
    public static TorchSharp.torch.ScalarType DTypeOf(ParseResult parse)
    {
        var name = parse.GetValue(DType) ?? "float32";
        TorchSharp.torch.ScalarType type;
        try { type = GenSeg.Diffusion.StableDiffusionPipeline.ParseDType(name); }
        catch (ArgumentException e) { throw new ArgumentException($"--dtype: {PlainMessage(e)}"); }
        // a reduced type without fast CPU kernels is slow: say so once, with what to set
        bool onCpu = (parse.GetValue(Device) ?? "cpu").Trim().ToLowerInvariant() is "cpu" or "auto" && !TorchSharp.torch.cuda.is_available();
        if (GenSeg.Runtime.TorchRuntime.ReducedPrecisionWarning(name, onCpu, GenSeg.Runtime.TorchRuntime.CpuKernels, GenSeg.Runtime.TorchRuntime.CpuFlags()) is { } warning
            && Interlocked.Exchange(ref warned, 1) == 0)
            Console.Error.WriteLine($"warning: {warning}");
        return type;
    }

    static int warned;

    /// <summary>Parses and runs; parse errors and user errors print one line each ("error: ...") on stderr and exit 2.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"error: {error.Message.ReplaceLineEndings(" ")}");
            return 2;
        }
        try
        {
            // System.CommandLine's own handler would print a stack trace; user errors are handled below instead.
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {PlainMessage(e)}");
            return 2;
        }
    }

    /// <summary>An exception's message on one line, without .NET's " (Parameter 'x')" suffix.</summary>
    public static string PlainMessage(Exception e)
    {
        var m = e.Message;
        if (e is ArgumentException { ParamName: { } p })
        {
            var suffix = $" (Parameter '{p}')";
            int at = m.IndexOf(suffix, StringComparison.Ordinal);
            if (at >= 0) m = m.Remove(at, suffix.Length);
        }
        // ArgumentOutOfRangeException appends "Actual value was X." on a line of its own; our messages already say it.
        var lines = m.ReplaceLineEndings("\n").Split('\n').Where(l => !l.StartsWith("Actual value was ", StringComparison.Ordinal));
        return string.Join(" ", lines).Trim();
    }

    /// <summary>Runs <paramref name="parse"/>; an argument error is re-thrown as one line naming <paramref name="flag"/>.</summary>
    public static T Flag<T>(string flag, Func<T> parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        try { return parse(); }
        catch (Exception e) when (e is ArgumentException or FormatException) { throw new ArgumentException($"{flag}: {PlainMessage(e)}", e); }
    }

    /// <summary><c>--severity</c> text as a <see cref="GenSeg.ToyWorld.Severity"/>.</summary>
    public static GenSeg.ToyWorld.Severity Severity(string text) => Flag("--severity", () => GenSeg.ToyWorld.Severity.Parse(text));

    static bool IsUserError(Exception e) =>
        e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or FormatException;
}
