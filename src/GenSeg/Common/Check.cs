using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.Common;

/// <summary>
/// Argument checks at a stage's door. Every failure names the input and says what was expected and what came,
/// so bad input never surfaces as a crash deep in native code.
/// </summary>
public static class Check
{
    /// <summary>
    /// Checks a tensor's shape against a pattern. A pattern entry of -1 accepts any size in that dimension.
    /// Example: <c>Check.Shape(mask, "mask", -1, 1, -1, -1)</c> for [B, 1, H, W].
    /// </summary>
    public static void Shape(Tensor t, string name, params long[] expected)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        var actual = t.shape;
        bool ok = actual.Length == expected.Length;
        for (int i = 0; ok && i < expected.Length; i++) ok = expected[i] < 0 || expected[i] == actual[i];
        if (!ok)
            throw new ArgumentException($"{name}: expected shape {Format(expected)}, got {Format(actual)}", name);
    }

    /// <summary>Checks the number of dimensions only.</summary>
    public static void Rank(Tensor t, string name, int rank, string layout)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() != rank)
            throw new ArgumentException($"{name}: expected a {rank}-D tensor {layout}, got shape {Format(t.shape)}", name);
    }

    /// <summary>Checks that two tensors agree in the trailing spatial size [.., H, W].</summary>
    public static void SameSpatial(Tensor a, string nameA, Tensor b, string nameB)
    {
        if (a.shape[^1] != b.shape[^1] || a.shape[^2] != b.shape[^2])
            throw new ArgumentException($"{nameA} {Format(a.shape)} and {nameB} {Format(b.shape)} differ in their spatial size [H, W]");
    }

    /// <summary>Checks that no element is NaN or infinite.</summary>
    public static void Finite(Tensor t, string name)
    {
        using var scope = NewDisposeScope();
        if (!torch.isfinite(t).all().item<bool>())
            throw new ArgumentException($"{name}: contains NaN or infinite values", name);
    }

    /// <summary>Checks <paramref name="value"/> lies in [lo, hi].</summary>
    public static void InRange(double value, string name, double lo, double hi)
    {
        if (double.IsNaN(value) || value < lo || value > hi)
            throw new ArgumentOutOfRangeException(name, value, $"{name}: expected a value in [{lo}, {hi}], got {value}");
    }

    /// <summary>Formats a shape as [a, b, c] with -1 shown as *.</summary>
    public static string Format(IEnumerable<long> shape) =>
        "[" + string.Join(", ", shape.Select(d => d < 0 ? "*" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
}
