using System.Text.Json;
using GenSeg.Diffusion.Text;
using GenSeg.Tests.Support;
using Xunit.Abstractions;

namespace GenSeg.Tests.Diffusion;

[Trait(Categories.Name, Categories.Unit)]
public class TokenizerTests
{
    /// <summary>A hand-made word-level vocabulary: every byte symbol of a-z, whole words built by listed merges.</summary>
    static string TinyFolder(string? tokenizerConfig = null, string? specialTokensMap = null)
    {
        var dir = Directory.CreateTempSubdirectory("genseg-tok").FullName;
        var vocab = new Dictionary<string, int>();
        foreach (char c in "abcdefghijklmnopqrstuvwxyz") vocab[c.ToString()] = vocab.Count;
        foreach (char c in "abcdefghijklmnopqrstuvwxyz") vocab[c + "</w>"] = vocab.Count;
        vocab["!"] = vocab.Count;
        var merges = new List<string>();
        void Word(string w)
        {
            // Merge left to right: "s t", "st a", "sta r</w>" builds "star</w>".
            string acc = w[0].ToString();
            for (int i = 1; i < w.Length; i++)
            {
                string next = i == w.Length - 1 ? w[i] + "</w>" : w[i].ToString();
                if (!merges.Contains($"{acc} {next}")) merges.Add($"{acc} {next}");
                acc += next;
                vocab.TryAdd(acc, vocab.Count);
            }
        }
        foreach (var w in new[] { "star", "circle", "red", "blue", "a", "on", "the", "square" }) Word(w);
        vocab[ClipTokenizer.StartText] = vocab.Count;
        vocab[ClipTokenizer.EndText] = vocab.Count;
        File.WriteAllText(Path.Combine(dir, "vocab.json"), JsonSerializer.Serialize(vocab));
        File.WriteAllLines(Path.Combine(dir, "merges.txt"), new[] { "#version: 0.2" }.Concat(merges));
        if (tokenizerConfig is not null) File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), tokenizerConfig);
        if (specialTokensMap is not null) File.WriteAllText(Path.Combine(dir, "special_tokens_map.json"), specialTokensMap);
        return dir;
    }

    [Fact]
    public void TinyWordLevelVocabularyBuildsWholeWordsFromItsMerges()
    {
        var tok = ClipTokenizer.FromFolder(TinyFolder());
        var ids = tok.Encode("A red star on the blue square");
        Assert.Equal(9, ids.Length); // start, 7 words, end: every word one token
        Assert.Equal("red star on the blue square", tok.Decode(ids[2..^1]));
        Assert.Equal("a red star on the blue square", tok.Decode(ids[1..^1]));
        Assert.Equal(new[] { 3 }, tok.TokenPositions("A red star on the blue square", "star"));
        // A word outside the merges falls back to its letters.
        var letters = tok.Encode("tsar");
        Assert.Equal(6, letters.Length);
        Assert.Equal(tok.EndToken, tok.EncodePadded("star")[3]);
    }

    [Fact]
    public void MissingSymbolsAreReportedWithTheWordAndPrompt()
    {
        var tok = ClipTokenizer.FromFolder(TinyFolder());
        var e = Assert.Throws<ArgumentException>(() => tok.Encode("a star 7"));
        Assert.Contains("'7'", e.Message);
        Assert.Contains("a star 7", e.Message);
    }

    [Fact]
    public void PadTokenAndLengthComeFromTheTokenizerConfig()
    {
        // SD 2.x style: pad "!" (an AddedToken object in special_tokens_map.json wins over tokenizer_config.json).
        var tok = ClipTokenizer.FromFolder(TinyFolder(
            tokenizerConfig: """{"model_max_length": 12, "pad_token": "<|endoftext|>"}""",
            specialTokensMap: """{"pad_token": {"content": "!", "lstrip": false}, "bos_token": "<|startoftext|>"}"""));
        Assert.Equal(12, tok.ModelMaxLength);
        var padded = tok.EncodePadded("red star");
        Assert.Equal(12, padded.Length);
        Assert.Equal(tok.EndToken, padded[3]);
        Assert.All(padded[4..], id => Assert.Equal(52, id)); // "!" is entry 52 of the tiny vocabulary

        // transformers' "no limit" sentinel keeps 77.
        var unbounded = ClipTokenizer.FromFolder(TinyFolder(tokenizerConfig: """{"model_max_length": 1e30}"""));
        Assert.Equal(77, unbounded.ModelMaxLength);
        Assert.Equal(unbounded.EndToken, unbounded.PadToken);
    }

    [Fact]
    public void BadFilesAreReportedByName()
    {
        var dir = TinyFolder();
        File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\ns t\nbroken line here\n");
        var e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(dir));
        Assert.Contains("merges.txt:3", e.Message);

        var empty = Directory.CreateTempSubdirectory("genseg-tok").FullName;
        Assert.Contains("vocab.json", Assert.Throws<FileNotFoundException>(() => ClipTokenizer.FromFolder(empty)).Message);

        var noPad = TinyFolder(tokenizerConfig: """{"pad_token": "<pad>"}""");
        Assert.Contains("'<pad>'", Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromFolder(noPad)).Message);
    }

    [Fact]
    public void CleaningFollowsClipsRules()
    {
        Assert.Equal("it's a \"cat\" & dog", ClipTokenizer.Clean("  It\u2019s\ta \u201Ccat\u201D &amp;amp;  dog \n"));
        Assert.Equal("fine abc \u017Ft ij", ClipTokenizer.Clean("\uFB01ne \uFF21\uFF22\uFF23 \uFB05 \u0132")); // ftfy's ligatures and widths
        Assert.Equal("\u30AC", ClipTokenizer.Clean("\uFF76\uFF9E")); // half-width kana narrowed, then composed (NFC)
        Assert.Equal("a\u2026b 'n", ClipTokenizer.Clean("a\u0085b \u0149")); // C1 control read as Windows-1252; quote uncurled after the split
        Assert.Equal("οδός", ClipTokenizer.Clean("ΟΔΌΣ")); // Python's final sigma
        Assert.Equal("cafe\u0301".Normalize(System.Text.NormalizationForm.FormC), ClipTokenizer.Clean("cafe\u0301"));
    }

    [Fact]
    public void PiecesFollowClipsPattern()
    {
        Assert.Equal(new[] { "it", "'s", "3", ".", "1", "hello", "!!", "<|endoftext|>" },
            ClipTokenizer.Pieces("it's 3.1 hello!! <|endoftext|>"));
        // Letters outside the BMP are letters (Python's regex works on code points).
        Assert.Equal(new[] { "a\U0001D41Bc" }, ClipTokenizer.Pieces("a\U0001D41Bc"));
    }
}

/// <summary>The tokenizer against CLIP's reference vocabulary and cases in $GENSEG_PARITY_DIR.</summary>
[Trait(Categories.Name, Categories.Parity)]
public class TokenizerParityTests(ITestOutputHelper output)
{
    static ClipTokenizer Reference() => ClipTokenizer.FromFolder(Parity.Folder("clip_tokenizer"));

    [SkippableFact]
    public void EveryReferenceCaseGivesExactlyTheReferenceIds()
    {
        var folder = Parity.Folder("clip_tokenizer");
        var tok = ClipTokenizer.FromFolder(folder);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "cases.json")));
        var failures = new List<string>();
        int count = 0;
        foreach (var c in doc.RootElement.EnumerateArray())
        {
            count++;
            var text = c.GetProperty("text").GetString()!;
            var expected = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var actual = tok.Encode(text);
            if (!expected.SequenceEqual(actual))
                failures.Add($"\"{text}\": expected [{string.Join(", ", expected)}], got [{string.Join(", ", actual)}]");
        }
        output.WriteLine($"{count} cases, {failures.Count} failures");
        Assert.True(count > 0, "cases.json holds no cases");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [SkippableFact]
    public void ReferenceVocabularyHasClipsSpecialTokens()
    {
        var tok = Reference();
        Assert.Equal(49408, tok.Vocabulary);
        Assert.Equal(49406, tok.StartToken);
        Assert.Equal(49407, tok.EndToken);
        Assert.Equal(49407, tok.PadToken); // no tokenizer_config.json: SD 1.x behaviour
        Assert.Equal("a photo of a tvmonitor", tok.Decode(tok.Encode("A photo of a tvmonitor")[1..^1]));
    }

    [SkippableFact]
    public void PaddingFillsWithThePadTokenAndTruncationKeepsTheEndToken()
    {
        var tok = Reference();
        var padded = tok.EncodePadded("a photo of a cat");
        Assert.Equal(77, padded.Length);
        Assert.Equal(new long[] { 49406, 320, 1125, 539, 320, 2368, 49407 }, padded[..7]);
        Assert.All(padded[7..], id => Assert.Equal(49407, id));

        var longText = string.Join(" ", Enumerable.Repeat("cat", 100));
        var truncated = tok.EncodePadded(longText);
        Assert.Equal(77, truncated.Length);
        Assert.Equal(49406, truncated[0]);
        Assert.Equal(49407, truncated[76]);
        Assert.All(truncated[1..76], id => Assert.Equal(2368, id));

        var shortPad = tok.EncodePadded("a photo of a cat", 5);
        Assert.Equal(new long[] { 49406, 320, 1125, 539, 49407 }, shortPad);
    }

    [SkippableFact]
    public void TokenPositionsCoverEveryTokenOfEveryOccurrence()
    {
        var tok = Reference();
        // "tvmonitor" is two tokens: tv + monitor</w> at positions 5 and 6.
        Assert.Equal(new[] { 5, 6 }, tok.TokenPositions("a photo of a tvmonitor", "tvmonitor"));
        // Three tokens, case-insensitive.
        Assert.Equal(new[] { 4, 5, 6 }, tok.TokenPositions("A photo of pottedplant", "PottedPlant"));
        // A word of several pieces.
        Assert.Equal(new[] { 1, 2 }, tok.TokenPositions("traffic light, fire hydrant & stop sign!", "traffic light"));
        Assert.Equal(new[] { 5, 6 }, tok.TokenPositions("traffic light, fire hydrant & stop sign!", "hydrant")); // hydr + ant</w>
        // All occurrences.
        Assert.Equal(new[] { 2, 5 }, tok.TokenPositions("a cat and a cat", "cat"));
        // Whole pieces only: "cat" is not in "cats".
        var e = Assert.Throws<ArgumentException>(() => tok.TokenPositions("two cats", "cat"));
        Assert.Contains("'cat'", e.Message);
        Assert.Contains("\"two cats\"", e.Message);
    }

    [SkippableFact]
    public void TokenPositionsStopAtTheTruncation()
    {
        var tok = Reference();
        var text = string.Join(" ", Enumerable.Repeat("dog", 80)) + " cat";
        var e = Assert.Throws<ArgumentException>(() => tok.TokenPositions(text, "cat"));
        Assert.Contains("truncation", e.Message);
        var dogs = tok.TokenPositions(text, "dog");
        Assert.Equal(Enumerable.Range(1, 75), dogs);
    }
}
