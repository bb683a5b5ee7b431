namespace GenSeg.Datasets;

/// <summary>
/// COCO's mask encodings, following pycocotools' <c>maskApi.c</c>: run-length counts over the image in column-major
/// (Fortran) order starting with a run of zeros, their compressed string form (LEB128-like, 6 bits per character, each
/// count after the second stored as the difference to the count two before), and polygons rasterised as
/// <c>rleFrPoly</c> does (boundary upsampled x5, y-crossings taken at pixel centres). Masks here are row-major bytes
/// [H, W] of 0/1.
/// </summary>
public static class CocoMasks
{
    /// <summary>Decodes run-length counts into a row-major 0/1 mask [H, W]; counts must cover the image exactly.</summary>
    public static byte[] Decode(IReadOnlyList<long> counts, int height, int width)
    {
        var mask = new byte[height * width];
        long p = 0, total = (long)height * width;
        byte v = 0;
        foreach (var c in counts)
        {
            if (c < 0 || p + c > total) throw new InvalidDataException($"RLE counts cover {p + c} pixels, more than the {height}x{width} image");
            if (v == 1)
                for (long j = p; j < p + c; j++) mask[(int)(j % height) * width + (int)(j / height)] = 1;
            p += c;
            v ^= 1;
        }
        if (p != total) throw new InvalidDataException($"RLE counts cover {p} pixels, the {height}x{width} image has {total}");
        return mask;
    }

    /// <summary>Encodes a row-major 0/1 mask [H, W] as column-major run-length counts (rleEncode).</summary>
    public static long[] Encode(byte[] mask, int height, int width)
    {
        var counts = new List<long>();
        byte prev = 0;
        long run = 0;
        for (int x = 0; x < width; x++)
            for (int y = 0; y < height; y++)
            {
                byte v = mask[y * width + x] != 0 ? (byte)1 : (byte)0;
                if (v != prev) { counts.Add(run); run = 0; prev = v; }
                run++;
            }
        counts.Add(run);
        return counts.ToArray();
    }

    /// <summary>The compressed string of run-length counts (rleToString).</summary>
    public static string ToCompressedString(IReadOnlyList<long> counts)
    {
        var s = new System.Text.StringBuilder();
        for (int i = 0; i < counts.Count; i++)
        {
            long x = counts[i];
            if (i > 2) x -= counts[i - 2];
            bool more = true;
            while (more)
            {
                long c = x & 0x1f;
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more) c |= 0x20;
                s.Append((char)(c + 48));
            }
        }
        return s.ToString();
    }

    /// <summary>Run-length counts from their compressed string (rleFrString); a bad character is an error.</summary>
    public static long[] FromCompressedString(string s)
    {
        var counts = new List<long>();
        int p = 0;
        while (p < s.Length)
        {
            long x = 0;
            int k = 0;
            bool more = true;
            while (more)
            {
                if (p >= s.Length) throw new InvalidDataException("compressed RLE string ends inside a count");
                long c = s[p] - 48;
                if (c < 0 || c > 63) throw new InvalidDataException($"compressed RLE string: character '{s[p]}' at {p} is outside '0'..'o'");
                x |= (c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0;
                p++;
                k++;
                if (!more && (c & 0x10) != 0) x |= -1L << (5 * k);
            }
            if (counts.Count > 2) x += counts[^2];
            counts.Add(x);
        }
        return counts.ToArray();
    }

    /// <summary>Rasterises one polygon [x0, y0, x1, y1, ...] as run-length counts (rleFrPoly).</summary>
    public static long[] FromPolygon(IReadOnlyList<double> xy, int height, int width)
    {
        if (xy.Count < 6 || xy.Count % 2 != 0) throw new InvalidDataException($"polygon: expected at least 3 points as x, y pairs, got {xy.Count} numbers");
        const double scale = 5;
        int k = xy.Count / 2;
        var x = new int[k + 1];
        var y = new int[k + 1];
        for (int j = 0; j < k; j++) x[j] = (int)(scale * xy[2 * j] + .5);
        for (int j = 0; j < k; j++) y[j] = (int)(scale * xy[2 * j + 1] + .5);
        x[k] = x[0];
        y[k] = y[0];
        // upsample and get discrete points densely along the entire boundary
        var u = new List<int>();
        var v = new List<int>();
        for (int j = 0; j < k; j++)
        {
            int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
            int dx = Math.Abs(xe - xs), dy = Math.Abs(ys - ye);
            bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
            if (flip) { (xs, xe) = (xe, xs); (ys, ye) = (ye, ys); }
            double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
            if (dx >= dy)
                for (int d = 0; d <= dx; d++)
                {
                    int t = flip ? dx - d : d;
                    u.Add(t + xs);
                    v.Add((int)(ys + s * t + .5));
                }
            else
                for (int d = 0; d <= dy; d++)
                {
                    int t = flip ? dy - d : d;
                    v.Add(t + ys);
                    u.Add((int)(xs + s * t + .5));
                }
        }
        // get points along the y-boundary and downsample
        var a = new List<long>();
        for (int j = 1; j < u.Count; j++)
        {
            if (u[j] == u[j - 1]) continue;
            double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
            xd = (xd + .5) / scale - .5;
            if (Math.Floor(xd) != xd || xd < 0 || xd > width - 1) continue;
            double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
            yd = (yd + .5) / scale - .5;
            if (yd < 0) yd = 0;
            else if (yd > height) yd = height;
            yd = Math.Ceiling(yd);
            a.Add((long)xd * height + (long)yd);
        }
        // the run-length counts from the y-boundary points
        a.Add((long)height * width);
        a.Sort();
        long prev = 0;
        for (int j = 0; j < a.Count; j++) { long t = a[j]; a[j] -= prev; prev = t; }
        var b = new List<long> { a[0] };
        for (int j = 1; j < a.Count;)
        {
            if (a[j] > 0) b.Add(a[j++]);
            else { j++; if (j < a.Count) b[^1] += a[j++]; }
        }
        return b.ToArray();
    }

    /// <summary>The union of several polygons as a row-major 0/1 mask [H, W] (frPyObjects then merge, as pycocotools' annToMask).</summary>
    public static byte[] FromPolygons(IEnumerable<IReadOnlyList<double>> polygons, int height, int width)
    {
        var mask = new byte[height * width];
        foreach (var poly in polygons)
        {
            var m = Decode(FromPolygon(poly, height, width), height, width);
            for (int i = 0; i < mask.Length; i++) mask[i] |= m[i];
        }
        return mask;
    }
}
