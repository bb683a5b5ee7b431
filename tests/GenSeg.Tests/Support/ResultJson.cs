using System.Text.Json.Nodes;
using GenSeg.Evaluation;

namespace GenSeg.Tests.Support;

/// <summary>A result's JSON without what differs between equal runs: times (and, when asked, where the model was loaded from).</summary>
public static class ResultJson
{
    /// <summary><paramref name="json"/> without <c>timing</c> (top level and every row) and the targets' seconds; without <c>model</c> and <c>command</c> when <paramref name="withoutModel"/>.</summary>
    public static string Comparable(JsonObject json, bool withoutModel = false)
    {
        var copy = json.DeepClone().AsObject();
        foreach (var key in new[] { "sweep", "comparison" })
            foreach (var row in copy[key]?.AsArray() ?? new JsonArray()) row!.AsObject().Remove("timing");
        copy.Remove("timing");
        foreach (var o in copy["objects"]?.AsArray() ?? new JsonArray()) o!.AsObject().Remove("seconds");
        if (withoutModel)
        {
            copy.Remove("model");
            copy.Remove("command");
        }
        return copy.ToJsonString();
    }

    /// <summary>The result's JSON, comparable.</summary>
    public static string Comparable(EvaluationResult result) => Comparable(result.ToJson());

    /// <summary>A result file's JSON, comparable.</summary>
    public static string Comparable(string path, bool withoutModel = false) => Comparable(JsonNode.Parse(File.ReadAllText(path))!.AsObject(), withoutModel);
}
