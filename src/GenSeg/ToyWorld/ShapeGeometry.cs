namespace GenSeg.ToyWorld;

/// <summary>
/// The shapes in their own unit frame: a shape of radius r centred at the origin, tested at local coordinates
/// (u, v) = (offset rotated into the shape's frame) / r. All shapes fit within <see cref="Extent"/> of the origin.
/// </summary>
internal static class ShapeGeometry
{
    /// <summary>Largest distance from the centre to any point of any shape, in units of the radius.</summary>
    public const double Extent = 1.1;

    static readonly (double X, double Y)[] TrianglePoly = Regular(3, 1.1, -Math.PI / 2);
    static readonly (double X, double Y)[] HexagonPoly = Regular(6, 1.0, 0);
    static readonly (double X, double Y)[] StarPoly = Star(5, 1.1, 0.47, -Math.PI / 2);

    /// <summary>True when local point (u, v) lies inside the shape of class <paramref name="cls"/>.</summary>
    public static bool Contains(int cls, double u, double v)
    {
        double rr = u * u + v * v;
        switch (cls)
        {
            case ToyClasses.Circle: return rr <= 1.0;
            case ToyClasses.Square: return Math.Abs(u) <= 0.78 && Math.Abs(v) <= 0.78;
            case ToyClasses.Triangle: return InPolygon(TrianglePoly, u, v);
            case ToyClasses.Star: return rr <= 1.21 && InPolygon(StarPoly, u, v);
            case ToyClasses.Ring: return rr <= 1.0 && rr >= 0.52 * 0.52;
            case ToyClasses.Cross:
                {
                    double au = Math.Abs(u), av = Math.Abs(v);
                    return (au <= 0.34 && av <= 1.0) || (av <= 0.34 && au <= 1.0);
                }
            case ToyClasses.Crescent:
                {
                    double du = u - 0.5;
                    return rr <= 1.0 && du * du + v * v > 0.78 * 0.78;
                }
            case ToyClasses.Hexagon: return InPolygon(HexagonPoly, u, v);
            default: throw new ArgumentOutOfRangeException(nameof(cls), cls, "shape class: expected 1..8");
        }
    }

    static (double X, double Y)[] Regular(int n, double radius, double phase) =>
        Enumerable.Range(0, n).Select(i => (radius * Math.Cos(phase + 2 * Math.PI * i / n), radius * Math.Sin(phase + 2 * Math.PI * i / n))).ToArray();

    static (double X, double Y)[] Star(int points, double outer, double inner, double phase) =>
        Enumerable.Range(0, 2 * points).Select(i =>
        {
            double r = i % 2 == 0 ? outer : inner, a = phase + Math.PI * i / points;
            return (r * Math.Cos(a), r * Math.Sin(a));
        }).ToArray();

    // Even-odd crossing test.
    static bool InPolygon((double X, double Y)[] poly, double x, double y)
    {
        bool inside = false;
        for (int i = 0, j = poly.Length - 1; i < poly.Length; j = i++)
        {
            var (xi, yi) = poly[i];
            var (xj, yj) = poly[j];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
        }
        return inside;
    }
}
