namespace GenSeg.Diffusion.Schedulers;

/// <summary>
/// The schedulers by name: <c>ddim</c>, <c>dpm++2m</c> and <c>euler</c>. <see cref="Create"/> builds one from another
/// scheduler's config as diffusers' <c>Scheduler.from_config(pipe.scheduler.config)</c> does (shared keys carried over,
/// the rest at the kind's defaults); <see cref="FromFolder"/> reads a folder's file for a kind.
/// </summary>
public static class Schedulers
{
    /// <summary>diffusers' <c>DDIMScheduler</c> (eta 0).</summary>
    public const string Ddim = "ddim";

    /// <summary>diffusers' <c>DPMSolverMultistepScheduler</c> at its defaults: DPM-Solver++ 2M.</summary>
    public const string DpmSolver2M = "dpm++2m";

    /// <summary>diffusers' <c>EulerDiscreteScheduler</c>.</summary>
    public const string Euler = "euler";

    /// <summary>Every kind's name.</summary>
    public static readonly IReadOnlyList<string> Kinds = new[] { Ddim, DpmSolver2M, Euler };

    /// <summary>Whether <paramref name="kind"/> names a kind (trimmed, any case).</summary>
    public static bool IsKind(string? kind) => kind is not null && Kinds.Contains(kind.Trim().ToLowerInvariant());

    /// <summary>The canonical name of <paramref name="kind"/> (trimmed, any case); an error names the value and lists the kinds.</summary>
    public static string Parse(string kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        return IsKind(kind) ? kind.Trim().ToLowerInvariant() : throw new ArgumentException($"scheduler '{kind}': expected one of {string.Join(", ", Kinds)}", nameof(kind));
    }

    /// <summary>diffusers' class name of a kind.</summary>
    public static string ClassNameOf(string kind) => Parse(kind) switch
    {
        Ddim => DDIMScheduler.ClassName,
        DpmSolver2M => DPMSolverMultistepScheduler.ClassName,
        _ => EulerDiscreteScheduler.ClassName,
    };

    /// <summary>
    /// A scheduler of <paramref name="kind"/> from <paramref name="config"/> (any scheduler's config record): the keys the
    /// kind's config has keep their values, the others take the kind's defaults (diffusers' <c>from_config</c>).
    /// <paramref name="source"/> names the config in errors.
    /// </summary>
    public static IScheduler Create(string kind, SchedulerConfig config, string source = "scheduler config")
    {
        ArgumentNullException.ThrowIfNull(config);
        return Parse(kind) switch
        {
            Ddim => new DDIMScheduler(SchedulerConfig.Convert<DDIMSchedulerConfig>(config), source),
            DpmSolver2M => new DPMSolverMultistepScheduler(SchedulerConfig.Convert<DPMSolverMultistepSchedulerConfig>(config), source),
            _ => new EulerDiscreteScheduler(SchedulerConfig.Convert<EulerDiscreteSchedulerConfig>(config), source),
        };
    }

    /// <summary>
    /// A scheduler of <paramref name="kind"/> from a folder's <c>scheduler_config.json</c>. When the file names the kind's
    /// class it is read as that class (diffusers' <c>from_pretrained</c>); otherwise it is read as the class it names
    /// (DDIM for DDIM, PNDM and any other class) and converted (<c>from_config</c> of that scheduler's config).
    /// </summary>
    public static IScheduler FromFolder(string kind, string folder)
    {
        var k = Parse(kind);
        var path = SchedulerConfig.FindFile(folder);
        var named = SchedulerConfig.ClassName(path);
        if (named == ClassNameOf(k)) return k switch
        {
            Ddim => DDIMScheduler.FromFile(path),
            DpmSolver2M => DPMSolverMultistepScheduler.FromFile(path),
            _ => EulerDiscreteScheduler.FromFile(path),
        };
        IScheduler own = named switch
        {
            DPMSolverMultistepScheduler.ClassName => DPMSolverMultistepScheduler.FromFile(path),
            EulerDiscreteScheduler.ClassName => EulerDiscreteScheduler.FromFile(path),
            _ => DDIMScheduler.FromFile(path),
        };
        return Create(k, own.Config, $"{path} as {ClassNameOf(k)}");
    }
}
