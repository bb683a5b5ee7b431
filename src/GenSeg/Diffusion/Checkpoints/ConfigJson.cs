using System.Text.Json;
using System.Text.Json.Serialization;
using GenSeg.Common;

namespace GenSeg.Diffusion.Checkpoints;

/// <summary>
/// Reads and writes the <c>config.json</c> of a diffusers/transformers folder into config records whose properties
/// are PascalCase versions of the snake_case keys (<c>block_out_channels</c> -> <c>BlockOutChannels</c>).
/// Keys the record does not have are ignored (diffusers writes bookkeeping keys such as <c>_class_name</c>);
/// each model validates the values it depends on and rejects what it does not support.
/// </summary>
public static class ConfigJson
{
    /// <summary>The serializer options used for every config file.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        PropertyNameCaseInsensitive = false,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Reads <paramref name="path"/> into <typeparamref name="T"/>; errors name the file.</summary>
    public static T Read<T>(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found", path);
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options)
                   ?? throw new InvalidDataException($"{path}: config is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: cannot read {typeof(T).Name} ({e.Message})", e);
        }
    }

    /// <summary>Reads the raw JSON of a config file (for keys whose type varies, e.g. an int or a list).</summary>
    public static JsonDocument ReadDocument(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found", path);
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>Writes <paramref name="config"/> as snake_case JSON, atomically, with an optional <c>_class_name</c>.</summary>
    public static void Write<T>(string path, T config, string? className = null)
    {
        var node = JsonSerializer.SerializeToNode(config, Options)!.AsObject();
        if (className is not null) node.Insert(0, "_class_name", className);
        AtomicFile.WriteAllText(path, node.ToJsonString(Options) + "\n");
    }
}
