namespace GenSeg.Methods.DenseCrf;

/// <summary>
/// Parameters of a fully connected CRF with a Gaussian and a bilateral kernel (Krähenbühl and Koltun 2011), named as
/// pydensecrf names them (<c>addPairwiseGaussian(sxy, compat)</c>, <c>addPairwiseBilateral(sxy, srgb, rgbim, compat)</c>,
/// <c>inference(iterations)</c>). The defaults are those of pydensecrf's README; <see cref="PaintSeg"/> holds the values
/// the PaintSeg authors use. Kernels are diagonal and normalised symmetrically, as pydensecrf does by default.
/// </summary>
public sealed record DenseCrfOptions
{
    /// <summary>theta_gamma in Eq. 3: spatial standard deviation of the Gaussian (smoothness) kernel, in pixels.</summary>
    public float GaussianSxy { get; init; } = 3f;

    /// <summary>w^(2) in Eq. 3: weight of the Gaussian kernel (pydensecrf's Potts <c>compat</c>); 0 disables it.</summary>
    public float GaussianCompat { get; init; } = 3f;

    /// <summary>theta_alpha in Eq. 3: spatial standard deviation of the bilateral (appearance) kernel, in pixels.</summary>
    public float BilateralSxy { get; init; } = 80f;

    /// <summary>theta_beta in Eq. 3: colour standard deviation of the bilateral kernel, in 0..255 RGB units.</summary>
    public float BilateralSrgb { get; init; } = 13f;

    /// <summary>w^(1) in Eq. 3: weight of the bilateral kernel (pydensecrf's Potts <c>compat</c>); 0 disables it.</summary>
    public float BilateralCompat { get; init; } = 10f;

    /// <summary>Number of mean-field updates (Algorithm 1); 0 returns the normalised input probabilities.</summary>
    public int Iterations { get; init; } = 5;

    /// <summary>
    /// The PaintSeg authors' term: Gaussian weight 7, sxy 3; bilateral weight 10, sxy 50, srgb 5; 10 iterations.
    /// </summary>
    public static DenseCrfOptions PaintSeg { get; } = new()
    {
        GaussianSxy = 3f,
        GaussianCompat = 7f,
        BilateralSxy = 50f,
        BilateralSrgb = 5f,
        BilateralCompat = 10f,
        Iterations = 10,
    };

    /// <summary>Throws when a parameter is out of its domain, naming it.</summary>
    public void Validate()
    {
        Positive(GaussianSxy, nameof(GaussianSxy));
        Positive(BilateralSxy, nameof(BilateralSxy));
        Positive(BilateralSrgb, nameof(BilateralSrgb));
        if (!float.IsFinite(GaussianCompat))
            throw new ArgumentOutOfRangeException(nameof(GaussianCompat), GaussianCompat, "DenseCrfOptions.GaussianCompat must be finite");
        if (!float.IsFinite(BilateralCompat))
            throw new ArgumentOutOfRangeException(nameof(BilateralCompat), BilateralCompat, "DenseCrfOptions.BilateralCompat must be finite");
        if (Iterations < 0)
            throw new ArgumentOutOfRangeException(nameof(Iterations), Iterations, "DenseCrfOptions.Iterations must be >= 0");
    }

    static void Positive(float value, string name)
    {
        if (!(value > 0f) || !float.IsFinite(value))
            throw new ArgumentOutOfRangeException(name, value, $"DenseCrfOptions.{name} must be a positive finite number of pixels or colour units");
    }
}
