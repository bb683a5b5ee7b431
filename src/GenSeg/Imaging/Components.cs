using GenSeg.Common;
using static TorchSharp.torch;

namespace GenSeg.Imaging;

/// <summary>Which neighbours join pixels into one component.</summary>
public enum Connectivity
{
    /// <summary>Up, down, left, right.</summary>
    Four = 4,

    /// <summary>The 8 surrounding pixels.</summary>
    Eight = 8,
}

/// <summary>Connected components of binary masks [H, W] (two-pass labelling with union-find).</summary>
public static class Components
{
    /// <summary>
    /// Labels the components of a mask [H, W]: an int64 tensor [H, W] with 0 off the mask and 1..Count on it, numbered
    /// in raster order of each component's first pixel.
    /// </summary>
    public static (Tensor Labels, int Count) Label(Tensor mask, Connectivity connectivity = Connectivity.Eight)
    {
        Check.Rank(mask, nameof(mask), 2, "[H, W]");
        int h = (int)mask.shape[0], w = (int)mask.shape[1];
        bool[] on;
        using (NewDisposeScope()) on = Masks.ToBool(mask).cpu().contiguous().data<bool>().ToArray();
        var (labels, count) = Label(on, h, w, connectivity);
        using var scope = NewDisposeScope();
        return (tensor(labels, new long[] { h, w }).to(mask.device).MoveToOuterDisposeScope(), count);
    }

    /// <summary>Labels a row-major [h, w] bool grid; returns labels (0 = off) and the number of components.</summary>
    public static (long[] Labels, int Count) Label(bool[] on, int h, int w, Connectivity connectivity = Connectivity.Eight)
    {
        if (on.Length != h * w) throw new ArgumentException($"mask: expected {h}x{w} = {h * w} values, got {on.Length}", nameof(on));
        var parent = new List<int> { 0 };
        var provisional = new int[h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                if (!on[i]) continue;
                int best = 0;
                void Join(int nx, int ny)
                {
                    if (nx < 0 || ny < 0 || nx >= w) return;
                    int l = provisional[ny * w + nx];
                    if (l == 0) return;
                    if (best == 0) best = l;
                    else Union(parent, best, l);
                }
                Join(x - 1, y);
                Join(x, y - 1);
                if (connectivity == Connectivity.Eight)
                {
                    Join(x - 1, y - 1);
                    Join(x + 1, y - 1);
                }
                if (best == 0)
                {
                    best = parent.Count;
                    parent.Add(best);
                }
                provisional[i] = best;
            }
        var final = new int[parent.Count];
        int count = 0;
        var labels = new long[h * w];
        for (int i = 0; i < labels.Length; i++)
        {
            if (provisional[i] == 0) continue;
            int root = Find(parent, provisional[i]);
            if (final[root] == 0) final[root] = ++count;
            labels[i] = final[root];
        }
        return (labels, count);
    }

    /// <summary>The largest component of a mask (float32 0/1 [H, W]); ties go to the first in raster order. Empty stays empty.</summary>
    public static Tensor Largest(Tensor mask, Connectivity connectivity = Connectivity.Eight)
    {
        using var scope = NewDisposeScope();
        var (labels, count) = Label(mask, connectivity);
        if (count == 0) return zeros_like(labels, ScalarType.Float32).MoveToOuterDisposeScope();
        var sizes = bincount(labels.flatten(), minlength: count + 1);
        sizes[0] = 0;
        long keep = sizes.argmax().item<long>();
        return labels.eq(keep).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The components of a mask (float32 0/1 [H, W]) that hold at least one of <paramref name="points"/> (x, y); a point
    /// off the mask or outside the image holds none, so the result is empty when no point is on the mask.
    /// </summary>
    public static Tensor Holding(Tensor mask, IEnumerable<(int X, int Y)> points, Connectivity connectivity = Connectivity.Eight)
    {
        ArgumentNullException.ThrowIfNull(points);
        using var scope = NewDisposeScope();
        var (labels, count) = Label(mask, connectivity);
        int h = (int)labels.shape[0], w = (int)labels.shape[1];
        var keep = zeros(count + 1, dtype: ScalarType.Bool, device: labels.device);
        foreach (var (x, y) in points)
            if (x >= 0 && y >= 0 && x < w && y < h)
            {
                long l = labels[y, x].item<long>();
                if (l > 0) keep[l] = true;
            }
        return keep[labels].to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Removes components with fewer than <paramref name="minArea"/> pixels (float32 0/1 [H, W]).</summary>
    public static Tensor RemoveSmall(Tensor mask, int minArea, Connectivity connectivity = Connectivity.Eight)
    {
        using var scope = NewDisposeScope();
        var (labels, count) = Label(mask, connectivity);
        if (count == 0) return zeros_like(labels, ScalarType.Float32).MoveToOuterDisposeScope();
        var sizes = bincount(labels.flatten(), minlength: count + 1);
        var keep = sizes.ge(minArea);
        keep[0] = false;
        return keep[labels].to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    static int Find(List<int> parent, int a)
    {
        while (parent[a] != a)
        {
            parent[a] = parent[parent[a]];
            a = parent[a];
        }
        return a;
    }

    static void Union(List<int> parent, int a, int b)
    {
        int ra = Find(parent, a), rb = Find(parent, b);
        if (ra == rb) return;
        if (ra < rb) parent[rb] = ra;
        else parent[ra] = rb;
    }
}
