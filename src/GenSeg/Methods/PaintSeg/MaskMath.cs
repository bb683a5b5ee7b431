using static TorchSharp.torch;

namespace GenSeg.Methods.PaintSeg;

/// <summary>Set operations on float32 0/1 masks without Scalar temporaries (see torchsharp-pitfalls).</summary>
internal static class MaskMath
{
    /// <summary>1 - m.</summary>
    public static Tensor Not(Tensor m) => ones_like(m).sub_(m);

    /// <summary>a AND b.</summary>
    public static Tensor And(Tensor a, Tensor b) => a.mul(b);

    /// <summary>a OR b.</summary>
    public static Tensor Or(Tensor a, Tensor b) => maximum(a, b);
}
