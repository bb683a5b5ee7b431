using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace GenSeg.Diffusion.Text;

/// <summary>
/// CLIP's byte-level BPE tokenizer (openai/CLIP <c>SimpleTokenizer</c>, Hugging Face <c>CLIPTokenizer</c>) read from a
/// folder's <c>vocab.json</c> and <c>merges.txt</c>. Text is cleaned (see <see cref="Clean"/>), lower-cased, split by
/// CLIP's pattern (<c>'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+</c>), each piece's UTF-8 bytes are mapped to
/// printable characters and merged by rank, the last symbol of a word carrying <c>&lt;/w&gt;</c>.
/// Any vocabulary in that layout works, also a small word-level one whose merges build whole words.
/// </summary>
public sealed class ClipTokenizer
{
    /// <summary>The start-of-text token's text.</summary>
    public const string StartText = "<|startoftext|>";

    /// <summary>The end-of-text token's text.</summary>
    public const string EndText = "<|endoftext|>";

    /// <summary>Merges read at most (openai/CLIP and Hugging Face both keep the first 49152 - 256 - 2 lines).</summary>
    public const int MaxMerges = 49152 - 256 - 2;

    /// <summary>The context length of Stable Diffusion's text encoders.</summary>
    public const int DefaultMaxLength = 77;

    static readonly string[] Contractions = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };
    static readonly char[] ByteEncoder = BuildByteEncoder();

    /// <summary>The 256 symbols byte-level BPE uses for the bytes 0..255 (openai/CLIP <c>bytes_to_unicode</c>).</summary>
    public static IReadOnlyList<char> ByteSymbols => ByteEncoder;

    readonly Dictionary<string, int> encoder;
    readonly Dictionary<int, string> decoder;
    readonly Dictionary<(string, string), int> ranks;
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);

    /// <summary>Id of the start token (<c>&lt;|startoftext|&gt;</c>, 49406 in CLIP's vocabulary).</summary>
    public int StartToken { get; }

    /// <summary>Id of the end token (<c>&lt;|endoftext|&gt;</c>, 49407 in CLIP's vocabulary).</summary>
    public int EndToken { get; }

    /// <summary>Id that fills a padded sequence after the end token (SD 1.x: the end token; SD 2.x: "!" = 0).</summary>
    public int PadToken { get; }

    /// <summary>Default length of <see cref="EncodePadded"/> (tokenizer_config.json's model_max_length, else 77).</summary>
    public int ModelMaxLength { get; }

    /// <summary>Number of entries in the vocabulary.</summary>
    public int Vocabulary => encoder.Count;

    /// <summary>
    /// Builds a tokenizer from a vocabulary (token text -> id, as vocab.json) and ranked merges (as merges.txt, best first).
    /// </summary>
    /// <param name="vocabulary">Token text to id.</param>
    /// <param name="merges">Merge pairs in rank order.</param>
    /// <param name="padToken">Text of the padding token; null pads with the end token.</param>
    /// <param name="modelMaxLength">Default padded length.</param>
    /// <param name="startText">Text of the start token.</param>
    /// <param name="endText">Text of the end token.</param>
    /// <param name="source">Name used in error messages (e.g. the folder).</param>
    public ClipTokenizer(IReadOnlyDictionary<string, int> vocabulary, IEnumerable<(string First, string Second)> merges,
        string? padToken = null, int modelMaxLength = DefaultMaxLength, string startText = StartText, string endText = EndText,
        string source = "tokenizer")
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(merges);
        encoder = new Dictionary<string, int>(vocabulary, StringComparer.Ordinal);
        decoder = new Dictionary<int, string>();
        foreach (var (text, id) in encoder)
            if (!decoder.TryAdd(id, text))
                throw new InvalidDataException($"{source}: tokens '{decoder[id]}' and '{text}' share id {id}");
        ranks = new Dictionary<(string, string), int>();
        foreach (var pair in merges)
        {
            if (ranks.Count >= MaxMerges) break;
            ranks.TryAdd(pair, ranks.Count);
        }
        StartToken = Lookup(startText, "start token", source);
        EndToken = Lookup(endText, "end token", source);
        PadToken = padToken is null ? EndToken : Lookup(padToken, "pad token", source);
        if (modelMaxLength < 2) throw new ArgumentOutOfRangeException(nameof(modelMaxLength), modelMaxLength, $"{source}: model_max_length must be at least 2");
        ModelMaxLength = modelMaxLength;
    }

    int Lookup(string token, string role, string source) =>
        encoder.TryGetValue(token, out int id) ? id : throw new InvalidDataException($"{source}: the {role} '{token}' is not in the vocabulary");

    /// <summary>
    /// Reads <c>vocab.json</c> and <c>merges.txt</c> from <paramref name="folder"/>, and when present
    /// <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> (the latter wins) for <c>pad_token</c>,
    /// <c>bos_token</c>, <c>eos_token</c> and <c>model_max_length</c>.
    /// </summary>
    public static ClipTokenizer FromFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: tokenizer folder not found");
        var vocabPath = Path.Combine(folder, "vocab.json");
        var mergesPath = Path.Combine(folder, "merges.txt");
        if (!File.Exists(vocabPath)) throw new FileNotFoundException($"{folder}: no vocab.json in this tokenizer folder", vocabPath);
        if (!File.Exists(mergesPath)) throw new FileNotFoundException($"{folder}: no merges.txt in this tokenizer folder", mergesPath);

        Dictionary<string, int> vocab;
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabPath))
                    ?? throw new InvalidDataException($"{vocabPath}: vocabulary is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{vocabPath}: expected a JSON object of token -> id ({e.Message})", e);
        }
        var merges = ReadMerges(mergesPath);

        string? pad = null, bos = null, eos = null;
        int maxLength = DefaultMaxLength;
        foreach (var name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
        {
            var path = Path.Combine(folder, name);
            if (!File.Exists(path)) continue;
            using var doc = Checkpoints.ConfigJson.ReadDocument(path);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object");
            pad = TokenText(doc.RootElement, "pad_token", path) ?? pad;
            bos = TokenText(doc.RootElement, "bos_token", path) ?? bos;
            eos = TokenText(doc.RootElement, "eos_token", path) ?? eos;
            // Transformers writes a huge sentinel (1e30) when no length was set; keep the default then.
            if (doc.RootElement.TryGetProperty("model_max_length", out var m) && m.ValueKind == JsonValueKind.Number
                && m.TryGetDouble(out double len) && len >= 2 && len <= 1_000_000)
                maxLength = (int)len;
        }
        return new ClipTokenizer(vocab, merges, pad, maxLength, bos ?? StartText, eos ?? EndText, folder);
    }

    /// <summary>A special token given as a string or as an AddedToken object with a <c>content</c> string.</summary>
    static string? TokenText(JsonElement root, string key, string path)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) return c.GetString();
        throw new InvalidDataException($"{path}: '{key}' must be a string or an object with a 'content' string, got {v.ValueKind}");
    }

    /// <summary>Reads merges.txt: an optional <c>#version</c> line, then one "first second" pair per line.</summary>
    public static List<(string First, string Second)> ReadMerges(string path)
    {
        var result = new List<(string, string)>();
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (lineNumber == 1 && raw.StartsWith("#version", StringComparison.Ordinal)) continue;
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2) throw new InvalidDataException($"{path}:{lineNumber}: expected two symbols separated by a space, got '{raw}'");
            result.Add((parts[0], parts[1]));
        }
        return result;
    }

    /// <summary>Token ids of <paramref name="text"/> with the start and end tokens, no padding or truncation.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int> { StartToken };
        foreach (var piece in Pieces(Clean(text))) ids.AddRange(PieceIds(piece, text));
        ids.Add(EndToken);
        return ids.ToArray();
    }

    /// <summary>
    /// Token ids padded with <see cref="PadToken"/> to <paramref name="maxLength"/> (default <see cref="ModelMaxLength"/>);
    /// a longer text is truncated and still ends with the end token.
    /// </summary>
    public long[] EncodePadded(string text, int? maxLength = null)
    {
        int length = MaxLength(maxLength);
        var ids = Encode(text);
        var result = new long[length];
        int kept = Math.Min(ids.Length, length);
        for (int i = 0; i < kept; i++) result[i] = ids[i];
        if (ids.Length > length) result[length - 1] = EndToken;
        for (int i = kept; i < length; i++) result[i] = PadToken;
        return result;
    }

    /// <summary>
    /// Positions in the padded sequence (start token at 0) of every token that makes up <paramref name="word"/>, at
    /// every occurrence, in increasing order. A word matches whole pieces of the prompt ("cat" does not match "cats");
    /// it may span several pieces ("traffic light"). Throws naming the word and the prompt when it does not occur, or
    /// occurs only past the truncation point.
    /// </summary>
    public int[] TokenPositions(string text, string word, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(word);
        int length = MaxLength(maxLength);
        var pieces = Pieces(Clean(text));
        var wanted = Pieces(Clean(word));
        if (wanted.Count == 0) throw new ArgumentException($"the word '{word}' has no tokens", nameof(word));

        var starts = new List<int>();
        int position = 1;
        foreach (var piece in pieces)
        {
            starts.Add(position);
            position += PieceIds(piece, text).Length;
        }
        starts.Add(position);

        var result = new SortedSet<int>();
        bool found = false;
        for (int i = 0; i + wanted.Count <= pieces.Count; i++)
        {
            bool match = true;
            for (int j = 0; match && j < wanted.Count; j++) match = pieces[i + j] == wanted[j];
            if (!match) continue;
            found = true;
            for (int p = starts[i]; p < starts[i + wanted.Count]; p++)
                if (p < length - 1) result.Add(p);
        }
        if (!found)
            throw new ArgumentException($"the word '{word}' does not occur in the prompt \"{text}\" (its words: {string.Join(" ", pieces)})", nameof(word));
        if (result.Count == 0)
            throw new ArgumentException($"the word '{word}' occurs in the prompt \"{text}\" only after the truncation at {length} tokens", nameof(word));
        return result.ToArray();
    }

    /// <summary>The text of token ids (special tokens included, <c>&lt;/w&gt;</c> shown as a space).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var chars = new StringBuilder();
        foreach (int id in ids)
        {
            if (!decoder.TryGetValue(id, out var token)) throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id {id} is not in the vocabulary");
            chars.Append(token);
        }
        var bytes = new List<byte>();
        foreach (char c in chars.ToString())
        {
            int b = Array.IndexOf(ByteEncoder, c);
            if (b >= 0) bytes.Add((byte)b);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray()).Replace("</w>", " ", StringComparison.Ordinal).Trim();
    }

    int MaxLength(int? maxLength)
    {
        int length = maxLength ?? ModelMaxLength;
        if (length < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), length, "maxLength must leave room for the start and end tokens (at least 2)");
        return length;
    }

    int[] PieceIds(string piece, string text)
    {
        if (cache.TryGetValue(piece, out var cached)) return cached;
        int[] ids;
        if ((piece == StartText || piece == EndText) && encoder.TryGetValue(piece, out int special))
            ids = new[] { special };
        else
        {
            var symbols = Bpe(ByteEncode(piece));
            ids = new int[symbols.Count];
            for (int i = 0; i < symbols.Count; i++)
                if (!encoder.TryGetValue(symbols[i], out ids[i]))
                    throw new ArgumentException($"the word '{piece}' in \"{text}\" needs the token '{symbols[i]}', which the vocabulary lacks");
        }
        cache.TryAdd(piece, ids);
        return ids;
    }

    /// <summary>Merges a word's symbols by rank until no ranked pair is left (openai/CLIP <c>bpe</c>).</summary>
    List<string> Bpe(string token)
    {
        var word = new List<string>(token.Length);
        for (int i = 0; i < token.Length - 1; i++) word.Add(token[i].ToString());
        word.Add(token[^1] + "</w>");
        while (word.Count > 1)
        {
            int best = int.MaxValue;
            (string, string) bigram = default;
            for (int i = 0; i < word.Count - 1; i++)
                if (ranks.TryGetValue((word[i], word[i + 1]), out int r) && r < best)
                {
                    best = r;
                    bigram = (word[i], word[i + 1]);
                }
            if (best == int.MaxValue) break;
            var merged = new List<string>(word.Count);
            for (int i = 0; i < word.Count;)
            {
                if (i < word.Count - 1 && word[i] == bigram.Item1 && word[i + 1] == bigram.Item2)
                {
                    merged.Add(bigram.Item1 + bigram.Item2);
                    i += 2;
                }
                else merged.Add(word[i++]);
            }
            word = merged;
        }
        return word;
    }

    static string ByteEncode(string piece)
    {
        var bytes = Encoding.UTF8.GetBytes(piece);
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteEncoder[bytes[i]];
        return new string(chars);
    }

    /// <summary>openai/CLIP <c>bytes_to_unicode</c>: printable bytes map to themselves, the rest to 256 + n.</summary>
    static char[] BuildByteEncoder()
    {
        var table = new char[256];
        var printable = new bool[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++) table[b] = printable[b] ? (char)b : (char)(256 + n++);
        return table;
    }

    /// <summary>
    /// Splits cleaned text into pieces as CLIP's pattern does: the special tokens, the contractions, runs of letters,
    /// single digits and runs of other non-space characters, tried in that order at each position; spaces are dropped.
    /// Works on Unicode scalar values, as Python's regex does, so characters outside the BMP are classified correctly.
    /// </summary>
    internal static List<string> Pieces(string text)
    {
        var pieces = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            if (StartsWith(text, i, StartText) || StartsWith(text, i, EndText))
            {
                int len = StartsWith(text, i, StartText) ? StartText.Length : EndText.Length;
                pieces.Add(text.Substring(i, len));
                i += len;
                continue;
            }
            var contraction = Contractions.FirstOrDefault(c => StartsWith(text, i, c));
            if (contraction is not null)
            {
                pieces.Add(contraction);
                i += contraction.Length;
                continue;
            }
            var kind = Kind(text, i, out int width);
            if (kind == CharKind.Space)
            {
                i += width;
                continue;
            }
            int start = i;
            i += width;
            if (kind == CharKind.Letter)
                while (i < text.Length && Kind(text, i, out width) == CharKind.Letter) i += width;
            else if (kind == CharKind.Other)
                while (i < text.Length && Kind(text, i, out width) == CharKind.Other) i += width;
            pieces.Add(text[start..i]);
        }
        return pieces;
    }

    static bool StartsWith(string text, int i, string s) => i + s.Length <= text.Length && string.CompareOrdinal(text, i, s, 0, s.Length) == 0;

    enum CharKind { Letter, Number, Space, Other }

    static CharKind Kind(string text, int i, out int width)
    {
        if (!Rune.TryGetRuneAt(text, i, out var r))
        {
            width = 1;
            return CharKind.Other; // a lone surrogate
        }
        width = r.Utf16SequenceLength;
        if (Rune.IsWhiteSpace(r)) return CharKind.Space;
        if (Rune.IsLetter(r)) return CharKind.Letter;
        if (Rune.IsNumber(r)) return CharKind.Number;
        return CharKind.Other;
    }

    /// <summary>
    /// openai/CLIP's cleaning: <c>whitespace_clean(basic_clean(text)).lower()</c>, where basic_clean is ftfy's
    /// <c>fix_text</c> followed by two rounds of HTML unescaping. ftfy is not available in .NET; the steps of
    /// <c>fix_text</c> that change ordinary prompts are done here in ftfy's order (HTML unescaping when the text has
    /// no '&lt;', C1 controls read as Windows-1252, Latin ligatures split, full-width characters narrowed, curly quotes
    /// straightened, control characters removed, NFC); its mojibake repair is not. Whitespace runs become one space,
    /// the text is trimmed and lower-cased with Python's full mapping where it differs from .NET's (final sigma,
    /// dotted capital I).
    /// </summary>
    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fixedText = FixText(text);
        fixedText = WebUtility.HtmlDecode(WebUtility.HtmlDecode(fixedText)).Trim();
        var collapsed = new StringBuilder(fixedText.Length);
        bool space = false;
        foreach (var r in fixedText.EnumerateRunes())
        {
            if (Rune.IsWhiteSpace(r))
            {
                space = true;
                continue;
            }
            if (space && collapsed.Length > 0) collapsed.Append(' ');
            space = false;
            collapsed.Append(r.ToString());
        }
        return PythonLower(collapsed.ToString());
    }

    /// <summary>Windows-1252 for 0x80..0x9F (undefined bytes keep their code point, as ftfy's sloppy codec does).</summary>
    const string Cp1252High = "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F" +
                              "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";

    /// <summary>ftfy's LIGATURES table.</summary>
    static readonly Dictionary<char, string> Ligatures = new()
    {
        ['\u0132'] = "IJ", ['\u0133'] = "ij", ['\u0149'] = "\u02BCn", ['\u01F1'] = "DZ", ['\u01F2'] = "Dz", ['\u01F3'] = "dz",
        ['\u01C4'] = "D\u017D", ['\u01C5'] = "D\u017E", ['\u01C6'] = "d\u017E", ['\u01C7'] = "LJ", ['\u01C8'] = "Lj", ['\u01C9'] = "lj",
        ['\u01CA'] = "NJ", ['\u01CB'] = "Nj", ['\u01CC'] = "nj", ['\uFB00'] = "ff", ['\uFB01'] = "fi", ['\uFB02'] = "fl",
        ['\uFB03'] = "ffi", ['\uFB04'] = "ffl", ['\uFB05'] = "\u017Ft", ['\uFB06'] = "st",
    };

    static string FixText(string text)
    {
        if (!text.Contains('<')) text = WebUtility.HtmlDecode(text);
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (c is >= '\u0080' and <= '\u009F') sb.Append(Cp1252High[c - 0x80]);
            else if (Ligatures.TryGetValue(c, out var split)) sb.Append(split);
            else if (c == '\u3000') sb.Append(' ');
            else if (c is >= '\uFF01' and <= '\uFFEF') sb.Append(c.ToString().Normalize(NormalizationForm.FormKC));
            else sb.Append(c);
        }
        var widthFixed = sb.ToString();
        sb.Clear();
        foreach (char c in widthFixed)
        {
            switch (c)
            {
                case '\u02BC' or (>= '\u2018' and <= '\u201B'): sb.Append('\''); break;
                case >= '\u201C' and <= '\u201F': sb.Append('"'); break;
                case (>= '\u0000' and <= '\u0008') or '\u000B' or (>= '\u000E' and <= '\u001F') or '\u007F'
                    or (>= '\u206A' and <= '\u206F') or '\uFEFF' or (>= '\uFFF9' and <= '\uFFFC'):
                    break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString().Normalize(NormalizationForm.FormC);
    }

    /// <summary>Python's <c>str.lower()</c>: .NET's invariant mapping plus the two context/length cases it lacks.</summary>
    static string PythonLower(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\u0130') sb.Append("i\u0307");
            else if (c == '\u03A3') sb.Append(IsFinalSigma(text, i) ? '\u03C2' : '\u03C3');
            else if (char.IsHighSurrogate(c) && Rune.TryGetRuneAt(text, i, out var r))
            {
                sb.Append(Rune.ToLowerInvariant(r).ToString());
                i++;
            }
            else sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>Unicode's Final_Sigma condition: a cased letter before (skipping case-ignorables) and none after.</summary>
    static bool IsFinalSigma(string text, int i)
    {
        int j = i - 1;
        while (j >= 0 && IsCaseIgnorable(text[j])) j--;
        if (j < 0 || !IsCased(text[j])) return false;
        int k = i + 1;
        while (k < text.Length && IsCaseIgnorable(text[k])) k++;
        return k >= text.Length || !IsCased(text[k]);
    }

    static bool IsCased(char c) => char.IsUpper(c) || char.IsLower(c) || char.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;

    static bool IsCaseIgnorable(char c) => c is '\'' or '.' or ':' or '\u00B7' or '\u2019' ||
        char.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
}
