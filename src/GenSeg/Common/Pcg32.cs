namespace GenSeg.Common;

/// <summary>
/// A small seeded pseudo-random generator (PCG-XSH-RR 32, O'Neill 2014) whose sequence is fixed by this code, so the
/// same seed gives the same numbers on every runtime (unlike <see cref="System.Random"/>, whose algorithm is unspecified).
/// A mutable value owned by one caller; not thread-safe.
/// </summary>
public sealed class Pcg32
{
    const ulong Multiplier = 6364136223846793005UL;
    ulong _state;
    readonly ulong _increment;

    /// <summary>Creates a generator from a seed and an optional stream id (different streams give independent sequences).</summary>
    public Pcg32(ulong seed, ulong stream = 0x853c49e6748fea9bUL)
    {
        _increment = (stream << 1) | 1UL;
        _state = 0;
        NextUInt();
        _state += Mix(seed);
        NextUInt();
    }

    /// <summary>SplitMix64's finaliser: spreads nearby seeds (0, 1, 2, ...) over the whole state space.</summary>
    public static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>Combines a seed with a sub-stream label, e.g. <c>Pcg32.Derive(seed, 3)</c> for the third object.</summary>
    public static ulong Derive(ulong seed, ulong label) => Mix(seed ^ Mix(label + 0x632BE59BD9B4E019UL));

    /// <summary>The next 32 random bits.</summary>
    public uint NextUInt()
    {
        ulong old = _state;
        _state = old * Multiplier + _increment;
        uint xorShifted = (uint)(((old >> 18) ^ old) >> 27);
        int rot = (int)(old >> 59);
        return (xorShifted >> rot) | (xorShifted << ((-rot) & 31));
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble()
    {
        ulong hi = NextUInt() >> 5, lo = NextUInt() >> 6; // 27 + 26 bits
        return (hi * 67108864.0 + lo) / 9007199254740992.0;
    }

    /// <summary>A uniform double in [lo, hi).</summary>
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>A uniform integer in [0, n) without modulo bias (Lemire's method).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "n: expected a positive bound");
        uint bound = (uint)n;
        ulong m = (ulong)NextUInt() * bound;
        uint low = (uint)m;
        if (low < bound)
        {
            uint threshold = (uint)(-(int)bound) % bound;
            while (low < threshold)
            {
                m = (ulong)NextUInt() * bound;
                low = (uint)m;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>A uniform integer in [lo, hi] (both ends included).</summary>
    public int NextInt(int lo, int hi) => lo + NextInt(hi - lo + 1);

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool Chance(double p) => NextDouble() < p;

    /// <summary>A standard normal value (Box-Muller, one of the pair).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>One element of a list, uniformly.</summary>
    public T Pick<T>(IReadOnlyList<T> items) => items[NextInt(items.Count)];
}
