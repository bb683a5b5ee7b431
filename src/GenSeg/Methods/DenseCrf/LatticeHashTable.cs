namespace GenSeg.Methods.DenseCrf;

/// <summary>
/// Open-addressing hash table (linear probing, power-of-two capacity) from lattice keys to dense vertex indices.
/// A key is up to 8 signed 16-bit coordinates packed into two 64-bit words, so keys are stored compactly (16 bytes a
/// vertex) and compared with two integer comparisons. Indices are handed out in insertion order.
/// <see cref="Find"/> is safe to call from several threads once insertion is over.
/// </summary>
internal sealed class LatticeHashTable
{
    /// <summary>Most coordinates a key can hold.</summary>
    public const int MaxCoordinates = 8;

    ulong[] _keys;   // 2 words per vertex, in index order
    int[] _slots;    // vertex index or -1
    int _mask;
    int _count;

    public LatticeHashTable(int expectedCount)
    {
        int capacity = 64;
        while (capacity < 2L * expectedCount && capacity < (1 << 30)) capacity <<= 1;
        _slots = new int[capacity];
        Array.Fill(_slots, -1);
        _mask = capacity - 1;
        _keys = new ulong[2 * Math.Max(16, capacity / 2)];
    }

    /// <summary>Number of distinct keys inserted.</summary>
    public int Count => _count;

    /// <summary>Packs coordinates (each in [-32768, 32767]) into two words.</summary>
    public static (ulong A, ulong B) Pack(ReadOnlySpan<int> key)
    {
        ulong a = 0, b = 0;
        for (int i = 0; i < key.Length; i++)
        {
            ulong c = (ushort)(short)key[i];
            if (i < 4) a |= c << (16 * i);
            else b |= c << (16 * (i - 4));
        }
        return (a, b);
    }

    /// <summary>The packed key of vertex <paramref name="index"/>.</summary>
    public (ulong A, ulong B) KeyAt(int index) => (_keys[2 * index], _keys[2 * index + 1]);

    /// <summary>Unpacks the key of vertex <paramref name="index"/> into <paramref name="key"/>.</summary>
    public void Unpack(int index, Span<int> key)
    {
        ulong a = _keys[2 * index], b = _keys[2 * index + 1];
        for (int i = 0; i < key.Length; i++)
            key[i] = i < 4 ? (short)(ushort)(a >> (16 * i)) : (short)(ushort)(b >> (16 * (i - 4)));
    }

    static int Hash(ulong a, ulong b)
    {
        ulong h = (a * 0x9E3779B97F4A7C15UL) ^ (b * 0xC2B2AE3D27D4EB4FUL);
        h ^= h >> 32;
        h *= 0xD6E8FEB86659FD93UL;
        h ^= h >> 29;
        return (int)h & int.MaxValue;
    }

    /// <summary>Index of the key, inserting it when absent.</summary>
    public int FindOrAdd(ulong a, ulong b)
    {
        if (2 * (_count + 1) > _slots.Length) Grow();
        int s = Hash(a, b) & _mask;
        while (true)
        {
            int e = _slots[s];
            if (e < 0)
            {
                if (2 * _count + 1 >= _keys.Length) Array.Resize(ref _keys, _keys.Length * 2);
                _keys[2 * _count] = a;
                _keys[2 * _count + 1] = b;
                _slots[s] = _count;
                return _count++;
            }
            if (_keys[2 * e] == a && _keys[2 * e + 1] == b) return e;
            s = (s + 1) & _mask;
        }
    }

    /// <summary>Index of the key, or -1 when absent.</summary>
    public int Find(ulong a, ulong b)
    {
        int s = Hash(a, b) & _mask;
        while (true)
        {
            int e = _slots[s];
            if (e < 0) return -1;
            if (_keys[2 * e] == a && _keys[2 * e + 1] == b) return e;
            s = (s + 1) & _mask;
        }
    }

    void Grow()
    {
        if (_slots.Length >= (1 << 30))
            throw new InvalidOperationException("permutohedral lattice: more than 2^29 vertices; the features are too spread out");
        var slots = new int[_slots.Length * 2];
        Array.Fill(slots, -1);
        int mask = slots.Length - 1;
        for (int e = 0; e < _count; e++)
        {
            int s = Hash(_keys[2 * e], _keys[2 * e + 1]) & mask;
            while (slots[s] >= 0) s = (s + 1) & mask;
            slots[s] = e;
        }
        _slots = slots;
        _mask = mask;
    }
}
