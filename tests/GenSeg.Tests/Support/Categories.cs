namespace GenSeg.Tests.Support;

/// <summary>
/// The test categories. Every test class carries exactly one, as <c>[Trait(Categories.Name, Categories.Unit)]</c> on the
/// class (checked by <see cref="Architecture.TestCategoryTests"/>), so <c>dotnet test --filter Category=Unit</c> runs the
/// fast tests alone (docs/testing.md).
/// </summary>
public static class Categories
{
    /// <summary>The trait's name, as <c>--filter Category=...</c> names it.</summary>
    public const string Name = "Category";

    /// <summary>Pure and fast: no model from data/models, no CLI, no notebook, no training run, no evaluation run.</summary>
    public const string Unit = "Unit";

    /// <summary>Loads the embedded model, runs the CLI or an evaluation, or trains.</summary>
    public const string Integration = "Integration";

    /// <summary>Runs notebooks (through the kit's runner or the .NET Interactive kernel).</summary>
    public const string Notebook = "Notebook";

    /// <summary>Compares against the reference vectors in $GENSEG_PARITY_DIR (skipped when they are absent).</summary>
    public const string Parity = "Parity";

    /// <summary>The four categories.</summary>
    public static readonly IReadOnlyList<string> All = new[] { Unit, Integration, Notebook, Parity };
}
