using System.Net;
using System.Text;
using Markdig;

namespace GenSeg.Notebooks;

/// <summary>A single-file HTML page of an executed notebook: markdown rendered, code, and outputs (HTML outputs such
/// as charts inline, PNGs as data URIs, text as preformatted blocks). Charts load plotly.js from its CDN, as they do in
/// Jupyter.</summary>
public static class HtmlReport
{
    static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    /// <summary>Renders the notebook as HTML.</summary>
    public static string Render(Notebook notebook, string title)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").Append(Encode(title)).Append("</title>\n<style>\n")
            .Append("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\n")
            .Append(".cell{margin:1em 0}.code{background:#f6f8fa;border-left:3px solid #4a90d9;padding:.5em;overflow-x:auto}\n")
            .Append(".prompt{color:#888;font:12px monospace}.out{margin:.3em 0 .3em 1em;overflow-x:auto}\n")
            .Append(".stderr{background:#fff4e5}.error{background:#fdecea;color:#900}pre{margin:0;white-space:pre-wrap}\n")
            .Append("table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px}\n")
            .Append("</style></head><body>\n");
        foreach (var cell in notebook.Cells)
        {
            sb.Append("<div class=\"cell\">");
            if (cell.CellType == "markdown") sb.Append(Markdig.Markdown.ToHtml(cell.Source, Markdown));
            else if (cell.IsCode) AppendCode(sb, cell);
            else sb.Append("<pre>").Append(Encode(cell.Source)).Append("</pre>");
            sb.Append("</div>\n");
        }
        return sb.Append("</body></html>\n").ToString();
    }

    static void AppendCode(StringBuilder sb, NotebookCell cell)
    {
        var prompt = cell.ExecutionCount is { } n ? $"In [{n}]" : "In [ ]";
        sb.Append("<div class=\"prompt\">").Append(prompt).Append("</div><div class=\"code\"><pre><code>")
            .Append(Encode(cell.Source)).Append("</code></pre></div>");
        foreach (var output in cell.Outputs)
        {
            switch (output)
            {
                case StreamOutput s:
                    sb.Append("<div class=\"out ").Append(s.Name == "stderr" ? "stderr" : "stdout").Append("\"><pre>").Append(Encode(s.Text)).Append("</pre></div>");
                    break;
                case ErrorOutput e:
                    sb.Append("<div class=\"out error\"><pre>").Append(Encode($"{e.Name}: {e.Value}\n{string.Join("\n", e.Traceback)}")).Append("</pre></div>");
                    break;
                case DisplayDataOutput d:
                    AppendBundle(sb, d.Data);
                    break;
                case ExecuteResultOutput r:
                    AppendBundle(sb, r.Data);
                    break;
            }
        }
    }

    static void AppendBundle(StringBuilder sb, IReadOnlyDictionary<string, string> data)
    {
        sb.Append("<div class=\"out\">");
        if (data.TryGetValue("text/html", out var html)) sb.Append(html);
        else if (data.TryGetValue("image/png", out var png)) sb.Append("<img src=\"data:image/png;base64,").Append(png.Trim()).Append("\">");
        else if (data.TryGetValue("image/svg+xml", out var svg)) sb.Append(svg);
        else if (data.TryGetValue("text/markdown", out var md)) sb.Append(Markdig.Markdown.ToHtml(md, Markdown));
        else if (data.TryGetValue("text/plain", out var text)) sb.Append("<pre>").Append(Encode(text)).Append("</pre>");
        else if (data.Count > 0) sb.Append("<pre>").Append(Encode(data.First().Value)).Append("</pre>");
        sb.Append("</div>");
    }

    static string Encode(string s) => WebUtility.HtmlEncode(s);
}
