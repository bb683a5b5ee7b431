using System.Text;
using System.Text.Json;
using GenSeg.Common;
using GenSeg.Diffusion.Text;

namespace GenSeg.ToyWorld.Training;

/// <summary>
/// The embedded model's tokenizer: CLIP's byte-level BPE format (vocab.json + merges.txt) with a small vocabulary: the
/// 512 byte symbols (with and without the end-of-word mark), one whole-word token for each word ToyWorld's captions
/// and G4Seg's prompts use, and the start and end tokens. Other words still tokenise, as byte pieces.
/// </summary>
public static class ToyVocabulary
{
    /// <summary>Words given a single token each: caption words, class names, colour names, and prompt words.</summary>
    public static IReadOnlyList<string> Words()
    {
        var words = new List<string> { "a", "an", "the", "photo", "of", "and", "picture", "image", "scene", "shape", "object", "background", "with" };
        words.AddRange(ToyClasses.ObjectClasses.SelectMany(ToyClasses.Words));
        words.AddRange(Palettes.ObjectColours.Select(c => c.Name));
        return words.Select(w => w.ToLowerInvariant()).Distinct().ToList();
    }

    /// <summary>Builds the vocabulary and merges (in rank order).</summary>
    public static (Dictionary<string, int> Vocabulary, List<(string First, string Second)> Merges) Build()
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var c in ClipTokenizer.ByteSymbols) vocab[c.ToString()] = vocab.Count;
        foreach (var c in ClipTokenizer.ByteSymbols) vocab[c + "</w>"] = vocab.Count;
        var merges = new List<(string, string)>();
        foreach (var word in Words())
        {
            // Pieces the merges so far produce for this word; new merges rank after all earlier ones, so earlier words
            // keep their tokenisation.
            var pieces = Pieces(word, vocab, merges);
            while (pieces.Count > 1)
            {
                var pair = (pieces[0], pieces[1]);
                merges.Add(pair);
                var joined = pieces[0] + pieces[1];
                vocab.TryAdd(joined, vocab.Count);
                pieces = new List<string> { joined }.Concat(pieces.Skip(2)).ToList();
            }
        }
        vocab[ClipTokenizer.StartText] = vocab.Count;
        vocab[ClipTokenizer.EndText] = vocab.Count;
        return (vocab, merges);
    }

    static List<string> Pieces(string word, Dictionary<string, int> vocab, List<(string, string)> merges)
    {
        var v = new Dictionary<string, int>(vocab) { [ClipTokenizer.StartText] = -1, [ClipTokenizer.EndText] = -2 };
        var tok = new ClipTokenizer(v, merges);
        var inverse = v.ToDictionary(kv => kv.Value, kv => kv.Key);
        var ids = tok.Encode(word);
        return ids.Skip(1).Take(ids.Length - 2).Select(i => inverse[i]).ToList();
    }

    /// <summary>Writes vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json (the Hugging Face CLIPTokenizer layout).</summary>
    public static void Write(string folder)
    {
        var (vocab, merges) = Build();
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(Path.Combine(folder, "vocab.json"), JsonSerializer.Serialize(vocab.OrderBy(kv => kv.Value).ToDictionary(kv => kv.Key, kv => kv.Value)));
        var sb = new StringBuilder("#version: 0.2\n");
        foreach (var (a, b) in merges) sb.Append(a).Append(' ').Append(b).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(folder, "merges.txt"), sb.ToString());
        var special = new Dictionary<string, object>
        {
            ["bos_token"] = ClipTokenizer.StartText,
            ["eos_token"] = ClipTokenizer.EndText,
            ["pad_token"] = ClipTokenizer.EndText,
            ["unk_token"] = ClipTokenizer.EndText,
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "special_tokens_map.json"), JsonSerializer.Serialize(special, new JsonSerializerOptions { WriteIndented = true }));
        var config = new Dictionary<string, object>(special)
        {
            ["model_max_length"] = ClipTokenizer.DefaultMaxLength,
            ["tokenizer_class"] = "CLIPTokenizer",
            ["do_lower_case"] = true,
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }));
    }
}
