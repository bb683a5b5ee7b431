namespace GenSeg.Common;

/// <summary>
/// The kit's default locations, in one place: the repository root (the nearest folder above a start folder that holds
/// <c>Research.sln</c>) and the embedded model. A relative path is taken from the repository root, so the same path
/// means the same folder from the CLI, a notebook kernel (current directory <c>notebooks/</c>) or the tests; outside a
/// clone it is taken from the current directory.
/// </summary>
public static class KitPaths
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

    /// <summary>
    /// <paramref name="path"/> as results record it: relative to the repository root (with '/') when it lies inside the
    /// clone, so results and their commands read the same on every machine; as given otherwise.
    /// </summary>
    public static string Portable(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var root = RepositoryRoot();
        if (root is null) return path;
        var full = Path.GetFullPath(path, Path.IsPathRooted(path) ? "/" : Environment.CurrentDirectory);
        var relative = Path.GetRelativePath(root, full);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? path : relative.Replace(Path.DirectorySeparatorChar, '/');
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
}
