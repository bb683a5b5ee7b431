using GenSeg.Common;

namespace GenSeg.Notebooks;

/// <summary>
/// Paths a notebook's parameters name (the kit's defaults are <see cref="KitPaths"/>'s). A relative path is taken from the repository root (the nearest folder above the
/// current directory that holds <c>Research.sln</c>), so <c>-p modelFolder=out/my-model</c> means the same folder
/// whether the notebook runs in a kernel (current directory: <c>notebooks/</c>), through <c>genseg notebook run</c>
/// or from the tests; outside a clone it is taken from the current directory.
/// </summary>
public static class NotebookPaths
{
    /// <summary>The file that marks the repository root (<see cref="KitPaths.RootMarker"/>).</summary>
    public const string RootMarker = KitPaths.RootMarker;

    /// <summary>The kit's embedded model, relative to the repository root (<see cref="KitPaths.EmbeddedModel"/>).</summary>
    public const string EmbeddedModel = KitPaths.EmbeddedModel;

    /// <summary>The repository root above <paramref name="start"/> (default: the current directory), or null.</summary>
    public static string? RepositoryRoot(string? start = null) => KitPaths.RepositoryRoot(start);

    /// <summary>The full path of <paramref name="path"/>; see <see cref="KitPaths.Resolve"/>.</summary>
    public static string Resolve(string path) => KitPaths.Resolve(path);

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
