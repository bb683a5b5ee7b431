namespace GenSeg.Imaging;

/// <summary>An RGB colour with 8 bits per channel.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>Euclidean distance in RGB space.</summary>
    public double DistanceTo(Rgb other)
    {
        double dr = R - other.R, dg = G - other.G, db = B - other.B;
        return Math.Sqrt(dr * dr + dg * dg + db * db);
    }

    /// <summary>Mixes toward <paramref name="other"/> by <paramref name="t"/> in [0, 1].</summary>
    public Rgb Mix(Rgb other, double t) =>
        new((byte)Math.Round(R + (other.R - R) * t), (byte)Math.Round(G + (other.G - G) * t), (byte)Math.Round(B + (other.B - B) * t));

    /// <summary>Mean of the three channels.</summary>
    public double Luma => 0.299 * R + 0.587 * G + 0.114 * B;
}
