using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace GenSeg.Notebooks;

/// <summary>The C# type of a parameter, inferred from its default in the <c>parameters</c> cell.</summary>
public enum ParameterKind
{
    /// <summary>Not inferable (an expression default, or no default): the value's text decides, as papermill does.</summary>
    Unknown,
    String,
    Int,
    Long,
    Double,
    Float,
    Bool,
}

/// <summary>A parameter declared in the <c>parameters</c> cell.</summary>
/// <param name="Name">Variable name.</param>
/// <param name="DeclaredType">The type as written (<c>var</c>, <c>int</c>, <c>string[]</c>...).</param>
/// <param name="Kind">Element kind (for arrays, the kind of the elements).</param>
/// <param name="IsArray">True for arrays.</param>
public sealed record ParameterDefault(string Name, string DeclaredType, ParameterKind Kind, bool IsArray);

/// <summary>papermill's parameters for C#: the first cell tagged <c>parameters</c> holds the defaults; values given to
/// the runner become <c>var name = value;</c> lines in a new cell tagged <c>injected-parameters</c> right after it
/// (replacing an earlier injected cell), typed like the defaults, and are recorded in <c>metadata.papermill.parameters</c>.</summary>
public static class NotebookParameters
{
    /// <summary>The tag of the defaults cell.</summary>
    public const string ParametersTag = "parameters";

    /// <summary>The tag of the cell the runner inserts.</summary>
    public const string InjectedTag = "injected-parameters";

    /// <summary>Reads the declarations of a parameters cell.</summary>
    public static IReadOnlyList<ParameterDefault> ReadDefaults(string code)
    {
        var root = CSharpSyntaxTree.ParseText(code, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script)).GetRoot();
        var declarations = root.DescendantNodes().OfType<VariableDeclarationSyntax>()
            .Where(d => d.Parent is FieldDeclarationSyntax or LocalDeclarationStatementSyntax);
        var result = new List<ParameterDefault>();
        foreach (var declaration in declarations)
        {
            var type = declaration.Type.ToString();
            foreach (var v in declaration.Variables)
            {
                var (kind, isArray) = type == "var" ? Infer(v.Initializer?.Value) : FromTypeName(type);
                result.Add(new ParameterDefault(v.Identifier.Text, type, kind, isArray));
            }
        }
        return result;
    }

    /// <summary>Injects <paramref name="values"/> (name to text, as given on the command line) into a copy's
    /// parameters; returns warnings (a name the parameters cell does not declare). A value that does not fit the
    /// default's type is an <see cref="ArgumentException"/> naming the parameter.</summary>
    public static IReadOnlyList<string> Inject(Notebook notebook, IReadOnlyDictionary<string, string> values)
    {
        if (values.Count == 0) return [];
        notebook.Cells.RemoveAll(c => c.HasTag(InjectedTag));
        var parametersIndex = notebook.Cells.FindIndex(c => c.IsCode && c.HasTag(ParametersTag));
        var defaults = parametersIndex >= 0 ? ReadDefaults(notebook.Cells[parametersIndex].Source) : [];
        var warnings = new List<string>();
        if (parametersIndex < 0) warnings.Add("warning: the notebook has no cell tagged 'parameters'; the injected cell goes first");

        var code = new StringBuilder("// Parameters\n");
        var recorded = new JsonObject();
        foreach (var (name, text) in values)
        {
            var declared = defaults.LastOrDefault(d => d.Name == name);
            if (declared is null && parametersIndex >= 0) warnings.Add($"warning: passed unknown parameter: {name}");
            var (literal, json) = Translate(name, text, declared);
            var type = declared is null || declared.Kind == ParameterKind.Unknown ? "var" : declared.DeclaredType;
            code.Append(type).Append(' ').Append(name).Append(" = ").Append(literal).Append(";\n");
            recorded[name] = json;
        }

        var cell = NotebookCell.Code(code.ToString().TrimEnd('\n'), InjectedTag);
        notebook.Cells.Insert(parametersIndex + 1, cell);
        var papermill = notebook.Metadata["papermill"] as JsonObject ?? new JsonObject();
        papermill["parameters"] = recorded;
        notebook.Metadata["papermill"] = papermill;
        return warnings;
    }

    /// <summary>The C# literal and the JSON value for one parameter.</summary>
    internal static (string Literal, JsonNode? Json) Translate(string name, string text, ParameterDefault? declared)
    {
        var kind = declared?.Kind ?? ParameterKind.Unknown;
        var isArray = declared?.IsArray ?? false;
        if (kind == ParameterKind.Unknown)
        {
            // papermill: the value's own form decides (here: a comma list is an array, then bool, int, double, string)
            isArray = text.StartsWith('[') && text.EndsWith(']');
            kind = InferFromText(isArray ? SplitArray(text).FirstOrDefault() ?? "" : text);
        }
        if (!isArray) return Scalar(name, text, kind, declared);
        var items = SplitArray(text).Select(t => Scalar(name, t, kind, declared)).ToList();
        return ($"new {TypeName(kind)}[] {{ {string.Join(", ", items.Select(i => i.Literal))} }}",
            new JsonArray(items.Select(i => i.Json).ToArray()));
    }

    static (string Literal, JsonNode? Json) Scalar(string name, string text, ParameterKind kind, ParameterDefault? declared)
    {
        var inv = CultureInfo.InvariantCulture;
        string Bad() => $"parameter {name}: '{text}' is not a valid {TypeName(kind)}" +
                        (declared is null ? "" : ", the type of its default in the parameters cell");
        switch (kind)
        {
            case ParameterKind.String:
                var s = text.Length >= 2 && text[0] == '"' && text[^1] == '"' ? text[1..^1] : text;
                return (SymbolDisplay.FormatLiteral(s, quote: true), JsonValue.Create(s));
            case ParameterKind.Bool:
                if (!bool.TryParse(text, out var b)) throw new ArgumentException(Bad());
                return (b ? "true" : "false", JsonValue.Create(b));
            case ParameterKind.Int:
                if (!int.TryParse(text, NumberStyles.Integer, inv, out var i)) throw new ArgumentException(Bad());
                return (i.ToString(inv), JsonValue.Create(i));
            case ParameterKind.Long:
                if (!long.TryParse(text, NumberStyles.Integer, inv, out var l)) throw new ArgumentException(Bad());
                return (l.ToString(inv) + "L", JsonValue.Create(l));
            case ParameterKind.Double or ParameterKind.Float:
                if (!double.TryParse(text.TrimEnd('f', 'F', 'd', 'D'), NumberStyles.Float, inv, out var d) || !double.IsFinite(d))
                    throw new ArgumentException(Bad());
                var literal = kind == ParameterKind.Float ? ((float)d).ToString("R", inv) : d.ToString("R", inv);
                if (!literal.Contains('.') && !literal.Contains('E')) literal += ".0";
                return (kind == ParameterKind.Float ? literal + "f" : literal, JsonValue.Create(d));
            default:
                throw new ArgumentException(Bad());
        }
    }

    static IEnumerable<string> SplitArray(string text)
    {
        var inner = text.Trim();
        if (inner.StartsWith('[') && inner.EndsWith(']')) inner = inner[1..^1];
        return inner.Length == 0 ? [] : inner.Split(',', StringSplitOptions.TrimEntries);
    }

    static ParameterKind InferFromText(string text) =>
        bool.TryParse(text, out _) ? ParameterKind.Bool
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? ParameterKind.Int
        : long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? ParameterKind.Long
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? ParameterKind.Double
        : ParameterKind.String;

    static (ParameterKind, bool) Infer(ExpressionSyntax? value) => value switch
    {
        LiteralExpressionSyntax lit => (LiteralKind(lit), false),
        PrefixUnaryExpressionSyntax { Operand: LiteralExpressionSyntax lit } => (LiteralKind(lit), false),
        ImplicitArrayCreationExpressionSyntax arr => (arr.Initializer.Expressions.Select(e => Infer(e).Item1).FirstOrDefault(), true),
        ArrayCreationExpressionSyntax arr => FromTypeName(arr.Type.ToString()),
        CollectionExpressionSyntax => (ParameterKind.Unknown, true),
        _ => (ParameterKind.Unknown, false),
    };

    static ParameterKind LiteralKind(LiteralExpressionSyntax lit) => lit.Token.Value switch
    {
        string => ParameterKind.String,
        bool => ParameterKind.Bool,
        int => ParameterKind.Int,
        long => ParameterKind.Long,
        double => ParameterKind.Double,
        float => ParameterKind.Float,
        _ => ParameterKind.Unknown,
    };

    static (ParameterKind, bool) FromTypeName(string type)
    {
        var isArray = type.EndsWith("[]", StringComparison.Ordinal);
        var element = isArray ? type[..^2].Trim() : type;
        var kind = element switch
        {
            "string" or "String" or "System.String" => ParameterKind.String,
            "int" or "Int32" => ParameterKind.Int,
            "long" or "Int64" => ParameterKind.Long,
            "double" or "Double" => ParameterKind.Double,
            "float" or "Single" => ParameterKind.Float,
            "bool" or "Boolean" => ParameterKind.Bool,
            _ => ParameterKind.Unknown,
        };
        return (kind, isArray);
    }

    static string TypeName(ParameterKind kind) => kind switch
    {
        ParameterKind.String => "string",
        ParameterKind.Int => "int",
        ParameterKind.Long => "long",
        ParameterKind.Double => "double",
        ParameterKind.Float => "float",
        ParameterKind.Bool => "bool",
        _ => "value",
    };
}
