using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using GenSeg.Diffusion.Checkpoints;

namespace GenSeg.Diffusion.Schedulers;

/// <summary>
/// A <c>scheduler_config.json</c>: the keys every scheduler of the kit shares (the training noise schedule, what the
/// model predicts, how inference timesteps are spread) with diffusers' common defaults, and the helpers every
/// scheduler reads, finds, writes and converts its config with. <see cref="Convert{T}"/> carries the shared keys from
/// one scheduler's config to another's, as diffusers' <c>from_config</c> does.
/// </summary>
public abstract record SchedulerConfig
{
    /// <summary><c>num_train_timesteps</c>: T.</summary>
    public int NumTrainTimesteps { get; init; } = 1000;
    /// <summary><c>beta_start</c>: beta_1.</summary>
    public double BetaStart { get; init; } = 0.0001;
    /// <summary><c>beta_end</c>: beta_T.</summary>
    public double BetaEnd { get; init; } = 0.02;
    /// <summary><c>beta_schedule</c>: linear, scaled_linear (linear in sqrt(beta), SD) or squaredcos_cap_v2 (cosine).</summary>
    public string BetaSchedule { get; init; } = "linear";
    /// <summary><c>trained_betas</c>: explicit betas (length T), overriding the schedule.</summary>
    public double[]? TrainedBetas { get; init; }
    /// <summary><c>prediction_type</c>: epsilon, v_prediction or sample.</summary>
    public string PredictionType { get; init; } = "epsilon";
    /// <summary><c>timestep_spacing</c>: leading, trailing or linspace (DDIM's default: leading; the others': linspace).</summary>
    public string TimestepSpacing { get; init; } = "linspace";
    /// <summary><c>steps_offset</c>: added to leading-spaced inference timesteps (SD: 1).</summary>
    public int StepsOffset { get; init; }
    /// <summary><c>rescale_betas_zero_snr</c>: rescale betas so the last timestep has zero SNR (Lin et al. 2023).</summary>
    public bool RescaleBetasZeroSnr { get; init; }

    /// <summary>
    /// Checks every value; errors name <paramref name="source"/> (default "ClassName config"), the key, the value and
    /// what is accepted.
    /// </summary>
    public void Validate(string? source = null)
    {
        var check = new ConfigCheck(source ?? GetType().Name[..^"Config".Length] + " config");
        check.Require(NumTrainTimesteps >= 1, "num_train_timesteps", NumTrainTimesteps, "a positive count");
        if (TrainedBetas is null) check.OneOf("beta_schedule", BetaSchedule, BetaSchedules);
        else check.Require(TrainedBetas.Length == NumTrainTimesteps, "trained_betas", $"{TrainedBetas.Length} values", $"num_train_timesteps = {NumTrainTimesteps} values");
        if (TrainedBetas is null && BetaSchedule is "linear" or "scaled_linear")
            check.Require(BetaStart > 0 && BetaEnd > 0 && BetaEnd < 1, "beta_start", $"{BetaStart} with beta_end {BetaEnd}", "0 < beta_start and 0 < beta_end < 1");
        check.OneOf("prediction_type", PredictionType, PredictionTypes);
        check.OneOf("timestep_spacing", TimestepSpacing, TimestepSpacings);
        check.Require(StepsOffset >= 0 && StepsOffset < NumTrainTimesteps, "steps_offset", StepsOffset, "a value in [0, num_train_timesteps)");
        CheckOwnKeys(check);
    }

    /// <summary>Checks the keys of the concrete scheduler's config.</summary>
    protected abstract void CheckOwnKeys(ConfigCheck check);

    /// <summary>diffusers' file name for a scheduler config.</summary>
    public const string FileName = "scheduler_config.json";

    /// <summary>Beta schedules diffusers implements.</summary>
    public static readonly IReadOnlyList<string> BetaSchedules = new[] { "linear", "scaled_linear", "squaredcos_cap_v2" };

    /// <summary>What a model may predict.</summary>
    public static readonly IReadOnlyList<string> PredictionTypes = new[] { "epsilon", "v_prediction", "sample" };

    /// <summary>How inference timesteps are spread over the training timesteps.</summary>
    public static readonly IReadOnlyList<string> TimestepSpacings = new[] { "leading", "trailing", "linspace" };

    /// <summary>The final sigma of DPM-Solver and Euler: zero, or sigma_min (the first training timestep's).</summary>
    public static readonly IReadOnlyList<string> FinalSigmasTypes = new[] { "zero", "sigma_min" };

    /// <summary><see cref="ConfigJson.Options"/>, with non-finite numbers read and written as diffusers' names.</summary>
    public static readonly JsonSerializerOptions Options = new(ConfigJson.Options)
    {
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    // A bare NaN / Infinity / -Infinity value (Python's json.dumps writes them), quoted so System.Text.Json reads it.
    static readonly Regex NonFinite = new(@"(?<=[:\[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])", RegexOptions.CultureInvariant);

    // The file's text with non-finite numbers quoted.
    static string ReadText(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: scheduler config not found", path);
        return NonFinite.Replace(File.ReadAllText(path), "\"$1\"");
    }

    /// <summary>Reads a scheduler config file into <typeparamref name="T"/>; errors name the file.</summary>
    public static T Read<T>(string path)
    {
        var text = ReadText(path);
        try
        {
            return JsonSerializer.Deserialize<T>(text, Options) ?? throw new InvalidDataException($"{path}: config is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: cannot read {typeof(T).Name} ({e.Message})", e);
        }
    }

    /// <summary>
    /// The <c>scheduler_config.json</c> of a diffusers scheduler folder, or of its <c>scheduler</c> subfolder when given a
    /// pipeline folder; errors name the folder.
    /// </summary>
    public static string FindFile(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: scheduler folder not found");
        var path = Path.Combine(folder, FileName);
        var nested = Path.Combine(folder, "scheduler", FileName);
        if (!File.Exists(path) && File.Exists(nested)) path = nested;
        if (!File.Exists(path)) throw new FileNotFoundException($"{folder}: no {FileName} in this scheduler folder", path);
        return path;
    }

    /// <summary>The <c>_class_name</c> a scheduler config file names, or null.</summary>
    public static string? ClassName(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(ReadText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return doc.RootElement.TryGetProperty("_class_name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
    }

    // A non-finite number as System.Text.Json writes it (a string), to be written bare as Python's json.dumps does.
    static readonly Regex QuotedNonFinite = new(@"(?<=:\s*)""(-?Infinity|NaN)""", RegexOptions.CultureInvariant);

    /// <summary>
    /// Writes <paramref name="config"/> to <c>scheduler_config.json</c> in <paramref name="folder"/> with its class name;
    /// non-finite numbers are written bare (<c>-Infinity</c>), as diffusers writes and reads them.
    /// </summary>
    public static void Write<T>(string folder, T config, string className)
    {
        Directory.CreateDirectory(folder);
        var node = JsonSerializer.SerializeToNode(config, Options)!.AsObject();
        node.Insert(0, "_class_name", className);
        Common.AtomicFile.WriteAllText(Path.Combine(folder, FileName), QuotedNonFinite.Replace(node.ToJsonString(Options), "$1") + "\n");
    }

    /// <summary>
    /// diffusers' <c>Target.from_config(source.config)</c>: every key of <paramref name="source"/> that
    /// <typeparamref name="T"/> has keeps its value, the target's other keys take its defaults, the rest is dropped
    /// (e.g. DDIM's <c>clip_sample</c> for DPM-Solver; DPM-Solver's <c>solver_order</c> for DDIM).
    /// </summary>
    public static T Convert<T>(SchedulerConfig source) where T : SchedulerConfig
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source is T same) return same;
        var node = JsonSerializer.SerializeToNode(source, source.GetType(), Options);
        return node.Deserialize<T>(Options) ?? throw new InvalidDataException($"{source.GetType().Name}: cannot convert to {typeof(T).Name}");
    }
}

/// <summary>The config of a scheduler with diffusers' dynamic thresholding of the predicted x0 (DDIM, DPM-Solver).</summary>
public abstract record ThresholdedSchedulerConfig : SchedulerConfig
{
    /// <summary><c>thresholding</c>: dynamic thresholding of the predicted x0 (Imagen).</summary>
    public bool Thresholding { get; init; }
    /// <summary><c>dynamic_thresholding_ratio</c>: the quantile of |x0| used as threshold.</summary>
    public double DynamicThresholdingRatio { get; init; } = 0.995;
    /// <summary><c>sample_max_value</c>: upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; init; } = 1.0;

    /// <summary>Checks the thresholding keys, then the concrete scheduler's (<see cref="CheckSchedulerKeys"/>).</summary>
    protected sealed override void CheckOwnKeys(ConfigCheck check)
    {
        check.Require(!Thresholding || (DynamicThresholdingRatio > 0 && DynamicThresholdingRatio <= 1), "dynamic_thresholding_ratio",
            DynamicThresholdingRatio, "a value in (0, 1]");
        CheckSchedulerKeys(check);
    }

    /// <summary>Checks the keys of the concrete scheduler's config.</summary>
    protected abstract void CheckSchedulerKeys(ConfigCheck check);
}

/// <summary>
/// A config's validation: every error names the source (a file or "X config"), the key, the value and what is accepted.
/// </summary>
public sealed class ConfigCheck(string source)
{
    /// <summary>Throws an <see cref="InvalidDataException"/> "source: key message".</summary>
    public void Fail(string key, string message) => throw new InvalidDataException($"{source}: {key} {message}");

    /// <summary>Fails unless <paramref name="ok"/>: "key = value: expected ...".</summary>
    public void Require(bool ok, string key, object? value, string expected)
    {
        if (!ok) Fail(key, $"= {Show(value)}: expected {expected}");
    }

    /// <summary>Fails unless <paramref name="value"/> is one of <paramref name="accepted"/>.</summary>
    public void OneOf(string key, string? value, IReadOnlyList<string> accepted, string? why = null)
    {
        if (value is null || !accepted.Contains(value))
            Fail(key, $"'{value}' is not supported; expected one of {string.Join(", ", accepted)}{(why is null ? "" : $" ({why})")}");
    }

    static string Show(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
