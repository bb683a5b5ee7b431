namespace GenSeg.Notebooks;

/// <summary>
/// Paths a notebook's parameters name. A relative path is taken from the repository root (the nearest folder above the
/// current directory that holds <c>Research.sln</c>), so <c>-p modelFolder=out/my-model</c> means the same folder
/// whether the notebook runs in a kernel (current directory: <c>notebooks/</c>), through <c>genseg notebook run</c>
/// or from the tests; outside a clone it is taken from the current directory.
/// </summary>
public static class NotebookPaths
{
    /// <summary>The file that marks the repository root.</summary>
    public const string RootMarker = "Research.sln";

    /// <summary>The kit's embedded model, relative to the repository root.</summary>
    public const string EmbeddedModel = "data/models/toyworld-sd";

    /// <summary>The repository root above <paramref name="start"/> (default: the current directory), or null.</summary>
    public static string? RepositoryRoot(string? start = null)
    {
        var dir = new DirectoryInfo(start ?? Environment.CurrentDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, RootMarker))) dir = dir.Parent;
        return dir?.FullName;
    }

    /// <summary>The full path of <paramref name="path"/>: itself when absolute (a leading <c>~/</c> is the home
    /// folder), else under the repository root (or the current directory outside a clone).</summary>
    public static string Resolve(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "");
        if (Path.IsPathRooted(path)) return Path.GetFullPath(path);
        return Path.GetFullPath(Path.Combine(RepositoryRoot() ?? Environment.CurrentDirectory, path));
    }

    /// <summary>
    /// The full path of a diffusers model folder named by a notebook parameter, checked: a missing folder or one without
    /// <c>model_index.json</c> is a <see cref="DirectoryNotFoundException"/> that says what was looked for and how to
    /// pass another folder (<paramref name="parameterName"/> is the notebook's parameter).
    /// </summary>
    public static string ModelFolder(string path, string parameterName = "modelFolder")
    {
        var full = Resolve(path);
        var how = $"Pass a diffusers Stable Diffusion folder as the parameter {parameterName} (in the parameters cell, or " +
                  $"`genseg notebook run NOTEBOOK -p {parameterName}=PATH`; relative paths are taken from the repository root). " +
                  $"The kit's embedded ToyWorld model lives in {EmbeddedModel}.";
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"model folder not found: {path} (looked for {full}). {how}");
        if (!File.Exists(Path.Combine(full, "model_index.json")))
            throw new DirectoryNotFoundException($"{full} is not a diffusers model folder (no model_index.json). {how}");
        return full;
    }
}
